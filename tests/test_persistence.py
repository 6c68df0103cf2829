"""Contracts through activities.contract_store, on SQLite and on PostgreSQL.

SQLite gets a fresh migrated file per test. PostgreSQL uses the session's migrated private schema
and the "join the session into an external transaction" pattern: every test runs on one
connection inside an outer transaction that is rolled back at the end, and each unit of work the
code under test commits is only a SAVEPOINT (``join_transaction_mode="create_savepoint"``).
"""

import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import (
    Column,
    Connection,
    Engine,
    Integer,
    MetaData,
    Table,
    delete,
    func,
    select,
    text,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from migrations.runner import downgrade, upgrade
from models.contract import ContractAmendment, ContractCreate, SupplierCreate
from models.errors import DuplicateContract, InvalidInput, NotFound
from models.tables import Base, ContractRow, ExactDecimal, SupplierRow
from store import contracts as contract_store
from store.db import (
    SessionFactory,
    Violation,
    make_engine,
    make_session_factory,
    transaction,
    violation,
)
from tests.conftest import POSTGRES_URL
from tests.factories import contract_data, make_contract
from tests.pg_locks import wait_until_blocked

# --- backends -------------------------------------------------------------------------------


@dataclass
class Backend:
    name: str
    factory: SessionFactory
    connection: Connection | None = None  # PostgreSQL: the connection holding the outer txn

    def session(self) -> AbstractContextManager[Session]:
        # A unit of work: commits (only a savepoint on PostgreSQL) or rolls back.
        return transaction(self.factory)


@pytest.fixture(scope="module")
def pg_engine() -> Iterator[Engine]:
    # A schema of this module's own: other suites commit rows into the shared session schema
    # (fault and API tests), and these tests assert exact row counts.
    schema = f"p_{uuid.uuid4().hex[:10]}"
    admin = make_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = make_engine(f"{POSTGRES_URL}?options=-csearch_path%3D{schema}")
    upgrade(engine)
    yield engine
    engine.dispose()
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture
def pg_backend(pg_engine: Engine) -> Iterator[Backend]:
    connection = pg_engine.connect()
    outer = connection.begin()
    factory = sessionmaker(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    try:
        yield Backend("postgres", factory, connection)
    finally:
        outer.rollback()
        connection.close()
    # Nothing the test did may survive it.
    with pg_engine.connect() as check:
        assert check.scalar(select(func.count()).select_from(ContractRow)) == 0
        assert check.scalar(select(func.count()).select_from(SupplierRow)) == 0


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db(request: pytest.FixtureRequest) -> Backend:
    if request.param == "sqlite":
        return Backend("sqlite", request.getfixturevalue("sessions"))
    backend: Backend = request.getfixturevalue("pg_backend")
    return backend


def add_supplier(
    backend: Backend, supplier_id: str = "S-1", name: str = "Tokyo Packaging K.K."
) -> None:
    with backend.session() as s:
        contract_store.upsert_supplier(s, supplier=SupplierCreate(id=supplier_id, name=name))


def count_contracts(backend: Backend) -> int:
    with backend.session() as s:
        return s.scalar(select(func.count()).select_from(ContractRow)) or 0


def canonical(value: Decimal) -> str:
    """A decimal without trailing zeros or exponent: 1250.5000 -> 1250.5, 1E+3 -> 1000."""
    return format(value.normalize(), "f")


def row_kwargs(contract: ContractCreate, **overrides: Any) -> dict[str, Any]:
    """Every column of a ContractRow, for inserts that bypass contract_store."""
    kwargs: dict[str, Any] = {
        "id": contract.id,
        "title": contract.title,
        "supplier_id": contract.supplier_id,
        "owner": contract.owner,
        "start_date": contract.start_date,
        "end_date": contract.end_date,
        "auto_renewal": contract.auto_renewal,
        "notice_period_days": contract.notice_period_days,
        "renewal_term_months": contract.renewal_term_months,
        "currency": contract.currency,
        "annual_value": contract.annual_value,
        "unit_price": contract.terms.unit_price,
        "annual_volume": contract.terms.annual_volume,
        "exclusivity": contract.terms.exclusivity,
        "payment_terms": contract.terms.payment_terms,
        "price_adjustment": contract.terms.price_adjustment,
        "service_levels": contract.terms.service_levels,
        "language": contract.language,
        "current_term": 1,
        "status": "active",
    }
    kwargs.update(overrides)
    return kwargs


# --- amounts --------------------------------------------------------------------------------

AMOUNTS = [
    "12345678901234.5678",  # 18 significant digits, the most Amount allows
    "99999999999999.9999",
    "99999999999999",  # 14 integer digits: 18 total less 4 reserved for places
    "0.0001",
    "0",
    "1250.50",  # a unit price with 2 places
    "0.0125",  # a unit price with 4 places
    "12000000",
    "1E+3",  # exponent notation in, plain digits out
]


@pytest.mark.parametrize("amount", AMOUNTS)
def test_amounts_round_trip_exactly(db: Backend, amount: str):
    value = Decimal(amount)
    add_supplier(db)
    contract = make_contract(
        annual_value=value,
        terms={"unit_price": value, "annual_volume": value, "payment_terms": "Net 30"},
    )
    with db.session() as s:
        contract_store.create_contract(s, contract=contract)

    # A new session: the values come from the database, not from the identity map.
    with db.session() as s:
        read = contract_store.get_contract(s, contract_id=contract.id)
    for got in (read.annual_value, read.terms.unit_price, read.terms.annual_volume):
        assert type(got) is Decimal
        assert got == value
        assert canonical(got) == canonical(value)


@pytest.mark.parametrize("zero", ["-0", "-0.00", "-0E+2"])
def test_a_negative_zero_is_stored_and_read_as_zero(db: Backend, zero: str):
    """Decimal keeps the sign of zero; PostgreSQL's numeric drops it and SQLite keeps the text.
    Taken as 0 where it comes in, both databases read back the same unsigned zero."""
    add_supplier(db)
    contract = make_contract(annual_value=zero, terms={"unit_price": "10", "annual_volume": zero})
    assert not contract.annual_value.is_signed() and contract.annual_value == 0
    assert not contract.terms.annual_volume.is_signed()
    with db.session() as s:
        contract_store.create_contract(s, contract=contract)
    with db.session() as s:
        read = contract_store.get_contract(s, contract_id=contract.id)
    for got in (read.annual_value, read.terms.annual_volume):
        assert got == 0 and not got.is_signed(), got
        assert not format(got, "f").startswith("-")


def test_unit_prices_keep_their_places(db: Backend):
    add_supplier(db)
    prices = {"P-2": Decimal("1250.50"), "P-4": Decimal("0.0125"), "P-4b": Decimal("19.9999")}
    with db.session() as s:
        for cid, price in prices.items():
            contract_store.create_contract(
                s, contract=make_contract(id=cid, terms={"unit_price": price})
            )
    with db.session() as s:
        stored = {c.id: c.terms.unit_price for c in contract_store.list_contracts(s)}
    assert stored == prices
    assert {k: canonical(v) for k, v in stored.items()} == {
        "P-2": "1250.5",
        "P-4": "0.0125",
        "P-4b": "19.9999",
    }


def test_sqlite_stores_amounts_as_exact_text(sessions: SessionFactory):
    # SQLite has no decimal type: a NUMERIC column would hold a float and lose digits.
    backend = Backend("sqlite", sessions)
    add_supplier(backend)
    with backend.session() as s:
        contract_store.create_contract(
            s, contract=make_contract(annual_value=Decimal("12345678901234.5678"))
        )
    with backend.session() as s:
        raw = s.execute(
            text("SELECT annual_value, typeof(annual_value) FROM contracts WHERE id = 'C-1001'")
        ).one()
    assert tuple(raw) == ("12345678901234.5678", "text")


@pytest.mark.postgres
def test_postgres_stores_amounts_as_numeric(pg_backend: Backend):
    add_supplier(pg_backend)
    with pg_backend.session() as s:
        contract_store.create_contract(
            s, contract=make_contract(annual_value=Decimal("12345678901234.5678"))
        )
    with pg_backend.session() as s:
        raw = s.execute(
            text(
                "SELECT annual_value::text, pg_typeof(annual_value)::text FROM contracts "
                "WHERE id = 'C-1001'"
            )
        ).one()
    assert tuple(raw) == ("12345678901234.5678", "numeric")


# --- duplicates -----------------------------------------------------------------------------


def test_duplicate_id_in_one_batch_is_refused_with_its_row(db: Backend):
    add_supplier(db)
    batch = [
        make_contract(id="C-1"),
        make_contract(id="C-2"),
        make_contract(id="C-1", title="Same id again"),
    ]
    with pytest.raises(DuplicateContract) as caught, db.session() as s:
        contract_store.register_contracts(s, contracts=batch)
    err = caught.value
    assert err.contract_id == "C-1"
    assert (err.error.field, err.error.row) == ("id", 3)
    assert str(err) == "row 3, id: contract 'C-1' already exists"
    assert count_contracts(db) == 0


def test_duplicate_of_a_stored_contract_is_refused(db: Backend):
    add_supplier(db)
    with db.session() as s:
        contract_store.create_contract(s, contract=make_contract(id="C-1"))

    with pytest.raises(DuplicateContract) as caught, db.session() as s:
        contract_store.create_contract(s, contract=make_contract(id="C-1", title="Other"))
    assert caught.value.contract_id == "C-1"
    assert caught.value.error.row is None
    assert str(caught.value) == "id: contract 'C-1' already exists"

    with pytest.raises(DuplicateContract) as caught, db.session() as s:
        contract_store.register_contracts(
            s, contracts=[make_contract(id="C-2"), make_contract(id="C-1")]
        )
    assert str(caught.value) == "row 2, id: contract 'C-1' already exists"
    with db.session() as s:
        assert [c.id for c in contract_store.list_contracts(s)] == ["C-1"]
        assert contract_store.get_contract(s, contract_id="C-1").title == "Packaging materials"


def test_database_enforces_unique_contract_ids(db: Backend):
    add_supplier(db)
    contract = make_contract(id="C-1")
    with db.session() as s:
        contract_store.create_contract(s, contract=contract)
    # Straight to the table, past contract_store's own check.
    with pytest.raises(IntegrityError), db.session() as s:
        s.add(ContractRow(**row_kwargs(contract, title="Raw duplicate")))
        s.flush()
    assert count_contracts(db) == 1


def test_concurrent_registration_loses_on_the_primary_key(
    db: Backend, monkeypatch: pytest.MonkeyPatch
):
    """Two registrations of one id that both passed the existence check: the second one's
    flush fails on the primary key and still comes out as DuplicateContract."""
    add_supplier(db)
    with db.session() as s:
        contract_store.create_contract(s, contract=make_contract(id="C-1"))

    with pytest.raises(DuplicateContract) as caught, db.session() as s:
        real_get = s.get

        def stale_get(entity: Any, ident: Any, **kw: Any) -> Any:
            return None if entity is ContractRow else real_get(entity, ident, **kw)

        monkeypatch.setattr(s, "get", stale_get)
        contract_store.create_contract(s, contract=make_contract(id="C-1"), row=4)
    assert str(caught.value) == "row 4, id: contract 'C-1' already exists"
    assert count_contracts(db) == 1


def test_a_supplier_gone_between_check_and_flush_is_named_not_taken_for_a_duplicate(
    db: Backend, monkeypatch: pytest.MonkeyPatch
):
    """The supplier check passed (stale) but the row is not there at flush: the foreign key
    fails, and the error names supplier_id, not the contract id."""
    with pytest.raises(InvalidInput) as caught, db.session() as s:
        real_get = s.get

        def stale_get(entity: Any, ident: Any, **kw: Any) -> Any:
            if entity is SupplierRow:
                return SupplierRow(id=ident, name="gone")
            return real_get(entity, ident, **kw)

        monkeypatch.setattr(s, "get", stale_get)
        contract_store.create_contract(s, contract=make_contract(supplier_id="S-9"), row=5)
    [err] = caught.value.errors
    assert (err.field, err.row) == ("supplier_id", 5)
    assert "'S-9' was removed" in err.reason
    assert count_contracts(db) == 0


@pytest.mark.postgres
def test_a_supplier_deleted_by_another_transaction_fails_the_registration_cleanly(
    pg_engine: Engine,
):
    """A real race on PostgreSQL: one transaction deletes the supplier and has not committed;
    the registration sees the supplier, inserts, and waits on the row lock; the delete commits
    and the foreign key fails. Committed data: no contract, no supplier."""
    sessions = make_session_factory(pg_engine)
    with transaction(sessions) as s:
        contract_store.upsert_supplier(s, supplier=SupplierCreate(id="S-R", name="Racing"))
    deleter = sessions()
    deleter.begin()
    deleter.execute(delete(SupplierRow).where(SupplierRow.id == "S-R"))
    try:
        with ThreadPoolExecutor(1) as pool:

            def register() -> None:
                with transaction(sessions) as s:
                    contract_store.create_contract(
                        s, contract=make_contract(id="C-R", supplier_id="S-R"), row=2
                    )

            pending = pool.submit(register)
            wait_until_blocked(pg_engine, pending, what="the registration")
            deleter.commit()
            with pytest.raises(InvalidInput) as caught:
                pending.result(timeout=30)
    finally:
        deleter.close()
    [err] = caught.value.errors
    assert (err.field, err.row) == ("supplier_id", 2)
    with transaction(sessions) as s:
        assert s.get(ContractRow, "C-R") is None
        assert s.get(SupplierRow, "S-R") is None


def test_other_integrity_errors_are_not_mapped_to_a_user_error(db: Backend):
    with pytest.raises(IntegrityError) as caught, db.session() as s:
        s.add(ContractRow(**row_kwargs(make_contract(), title=None)))
        s.flush()
    assert violation(caught.value) is Violation.OTHER
    with pytest.raises(IntegrityError) as caught, db.session() as s:
        s.add(ContractRow(**row_kwargs(make_contract(supplier_id="S-404"))))
        s.flush()
    assert violation(caught.value) is Violation.FOREIGN_KEY


# --- suppliers and whole batches ------------------------------------------------------------


def test_unknown_supplier_is_refused(db: Backend):
    add_supplier(db, "S-1")
    with pytest.raises(InvalidInput) as caught, db.session() as s:
        contract_store.create_contract(s, contract=make_contract(supplier_id="S-404"))
    [err] = caught.value.errors
    assert err.field == "supplier_id"
    assert err.reason == "unknown supplier 'S-404'"
    assert err.row is None
    assert count_contracts(db) == 0


def test_database_enforces_the_supplier_foreign_key(db: Backend):
    with pytest.raises(IntegrityError), db.session() as s:
        s.add(ContractRow(**row_kwargs(make_contract(supplier_id="S-404"))))
        s.flush()
    assert count_contracts(db) == 0


def test_batch_with_one_bad_contract_stores_nothing(db: Backend):
    add_supplier(db, "S-1")
    batch = [
        make_contract(id="C-1"),
        make_contract(id="C-2"),
        make_contract(id="C-3", supplier_id="S-404"),
        make_contract(id="C-4"),
    ]
    with pytest.raises(InvalidInput) as caught, db.session() as s:
        contract_store.register_contracts(s, contracts=batch)
    assert str(caught.value) == "row 3, supplier_id: unknown supplier 'S-404'"
    assert count_contracts(db) == 0

    # The same batch without the bad one goes in whole.
    with db.session() as s:
        stored = contract_store.register_contracts(s, contracts=[batch[0], batch[1], batch[3]])
    assert [c.id for c in stored] == ["C-1", "C-2", "C-4"]
    assert count_contracts(db) == 3


def test_registered_contract_reads_back_as_created(db: Backend):
    add_supplier(db)
    contract = make_contract(auto_renewal=True, notice_period_days=90, renewal_term_months=24)
    with db.session() as s:
        created = contract_store.create_contract(s, contract=contract)
    with db.session() as s:
        read = contract_store.get_contract(s, contract_id=contract.id)
    assert read == created
    # What the store adds: the term, the status, and no agreed cap or additional clauses yet.
    added = {"current_term", "status", "price_adjustment_cap_pct", "additional_clauses"}
    assert read.model_dump(exclude=added) == contract.model_dump()
    assert (read.current_term, read.status.value) == (1, "active")
    assert (read.price_adjustment_cap_pct, read.additional_clauses) == (None, ())


def test_missing_contract_is_not_found(db: Backend):
    with pytest.raises(NotFound, match="contract 'C-404' does not exist"), db.session() as s:
        contract_store.get_contract(s, contract_id="C-404")


# --- amendments -----------------------------------------------------------------------------


def test_amend_changes_end_date_and_notice_period(db: Backend):
    add_supplier(db)
    with db.session() as s:
        contract_store.create_contract(s, contract=make_contract(id="C-1"))

    with db.session() as s:
        amended = contract_store.amend_contract(
            s,
            contract_id="C-1",
            amendment=ContractAmendment(end_date=date(2028, 6, 30), amended_by="legal"),
        )
    assert (amended.end_date, amended.notice_period_days) == (date(2028, 6, 30), 30)

    with db.session() as s:
        contract_store.amend_contract(
            s,
            contract_id="C-1",
            amendment=ContractAmendment(notice_period_days=90, amended_by="legal"),
        )
    with db.session() as s:
        read = contract_store.get_contract(s, contract_id="C-1")
    assert (read.end_date, read.notice_period_days) == (date(2028, 6, 30), 90)

    with db.session() as s:
        contract_store.amend_contract(
            s,
            contract_id="C-1",
            amendment=ContractAmendment(
                end_date=date(2027, 3, 31), notice_period_days=0, amended_by="legal"
            ),
        )
    with db.session() as s:
        read = contract_store.get_contract(s, contract_id="C-1")
    assert (read.end_date, read.notice_period_days) == (date(2027, 3, 31), 0)


@pytest.mark.parametrize("end_date", [date(2025, 12, 31), date(2026, 1, 1)])
def test_amend_refuses_an_end_date_not_after_the_start(db: Backend, end_date: date):
    add_supplier(db)
    with db.session() as s:
        contract_store.create_contract(s, contract=make_contract(id="C-1"))  # starts 2026-01-01
    with pytest.raises(InvalidInput) as caught, db.session() as s:
        contract_store.amend_contract(
            s,
            contract_id="C-1",
            amendment=ContractAmendment(end_date=end_date, notice_period_days=5, amended_by="x"),
        )
    [err] = caught.value.errors
    assert err.field == "end_date"
    assert err.reason.startswith("must be after start_date 2026-01-01")
    with db.session() as s:
        read = contract_store.get_contract(s, contract_id="C-1")
    assert (read.end_date, read.notice_period_days) == (date(2027, 12, 31), 30)


def test_amend_unknown_contract_is_not_found(db: Backend):
    with pytest.raises(NotFound), db.session() as s:
        contract_store.amend_contract(
            s,
            contract_id="C-404",
            amendment=ContractAmendment(notice_period_days=10, amended_by="x"),
        )


# --- Japanese text --------------------------------------------------------------------------


def test_japanese_text_round_trips(db: Backend):
    add_supplier(db, "S-JP", "東京梱包株式会社")
    contract = make_contract(
        id="JP-2026-001",
        supplier_id="S-JP",
        title="梱包資材の年間供給契約（段ボール・緩衝材）",
        owner="yamada.taro@example.co.jp",  # an owner is one e-mail address
        language="ja",
        terms={
            "unit_price": Decimal("1250"),
            "payment_terms": "月末締め翌月末払い",
            "price_adjustment": "原材料価格が5％以上変動した場合、\n双方協議の上で単価を見直す。",
            "service_levels": "納期遵守率 98％以上、不良率 0.5％未満",
        },
    )
    with db.session() as s:
        contract_store.create_contract(s, contract=contract)
    with db.session() as s:
        read = contract_store.get_contract(s, contract_id="JP-2026-001")
        supplier = s.get(SupplierRow, "S-JP")
        assert supplier is not None
        assert supplier.name == "東京梱包株式会社"
    assert read.title == contract.title
    assert read.owner == "yamada.taro@example.co.jp"
    assert read.terms == contract.terms
    assert read.language == "ja"


def test_longest_japanese_title_fits_the_column(db: Backend):
    # 200 characters is 600 bytes of UTF-8: the limit is in characters on both databases.
    add_supplier(db)
    title = "契約" * 100
    with db.session() as s:
        contract_store.create_contract(s, contract=make_contract(title=title))
    with db.session() as s:
        assert contract_store.get_contract(s, contract_id="C-1001").title == title


def test_text_is_stored_nfc_normalised(db: Backend):
    add_supplier(db)
    decomposed = "\u30ab\u3099ス供給契約"  # カ + combining voiced sound mark
    assert len(decomposed) == 7
    with db.session() as s:
        contract_store.create_contract(s, contract=make_contract(title=decomposed))
    with db.session() as s:
        title = contract_store.get_contract(s, contract_id="C-1001").title
    assert title == "\u30acス供給契約"  # precomposed ガ
    assert len(title) == 6


# --- schema: the migration matches the models -----------------------------------------------


def schema_differences(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


def describe(diffs: list[Any]) -> list[str]:
    """One line per difference, e.g. ``add_table price_history`` or
    ``modify_type contracts.annual_value: NUMERIC(22, 4) -> ExactDecimal(...)``."""
    lines = []
    for diff in diffs:
        for d in diff if isinstance(diff, list) else [diff]:  # column changes come in lists
            op = d[0]
            if op.startswith("modify_"):
                lines.append(f"{op} {d[2]}.{d[3]}: {d[5]!r} -> {d[6]!r}")
            elif op in ("add_column", "remove_column"):
                lines.append(f"{op} {d[2]}.{d[3].name}")
            elif op in ("add_table", "remove_table", "add_index", "remove_index"):
                lines.append(f"{op} {d[1].name}")
            else:  # constraints and anything newer
                lines.append(f"{op} {getattr(d[1], 'name', d[1])}")
    return lines


def test_migration_matches_models_on_sqlite(sqlite_engine: Engine):
    with sqlite_engine.connect() as conn:
        assert describe(schema_differences(conn)) == [], "models/tables.py has no migration"


@pytest.mark.postgres
def test_migration_matches_models_on_postgres(pg_engine: Engine):
    with pg_engine.connect() as conn:
        assert describe(schema_differences(conn)) == [], "models/tables.py has no migration"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def scratch_connection(request: pytest.FixtureRequest) -> Iterator[Connection]:
    """A connection to a migrated database whose DDL is thrown away afterwards."""
    if request.param == "sqlite":
        engine: Engine = request.getfixturevalue("sqlite_engine")  # a file per test
        with engine.connect() as conn:
            yield conn
        return
    engine = request.getfixturevalue("pg_engine")
    with engine.connect() as conn:
        outer = conn.begin()  # PostgreSQL DDL is transactional
        try:
            yield conn
        finally:
            outer.rollback()


PG = pytest.mark.postgres


@pytest.mark.parametrize(
    ("scratch_connection", "column_type", "matches"),
    [
        ("sqlite", "VARCHAR(40)", True),
        ("sqlite", "NUMERIC(22, 4)", False),
        ("sqlite", "REAL", False),
        pytest.param("postgres", "NUMERIC(22, 4)", True, marks=PG),
        pytest.param("postgres", "NUMERIC(18, 2)", False, marks=PG),
        pytest.param("postgres", "DOUBLE PRECISION", False, marks=PG),
    ],
    indirect=["scratch_connection"],
)
def test_schema_comparison_sees_the_exact_decimal_storage_type(
    scratch_connection: Connection, column_type: str, matches: bool
):
    """The empty diffs above mean something: the comparison checks ExactDecimal against its
    per-database storage type (text on SQLite, NUMERIC(22, 4) on PostgreSQL)."""
    table = f"probe_{uuid.uuid4().hex[:8]}"
    scratch_connection.execute(
        text(
            f"CREATE TABLE {table} (id INTEGER PRIMARY KEY NOT NULL, amount {column_type} NOT NULL)"
        )
    )
    metadata = MetaData()
    Table(
        table,
        metadata,
        Column("id", Integer, primary_key=True),
        Column("amount", ExactDecimal(), nullable=False),
    )
    context = MigrationContext.configure(
        scratch_connection,
        opts={
            "compare_type": True,
            "include_name": lambda name, type_, _parent: type_ != "table" or name == table,
        },
    )
    diffs = compare_metadata(context, metadata)
    if matches:
        assert diffs == []
    else:
        [[change]] = diffs
        assert change[0] == "modify_type"
        assert (change[2], change[3]) == (table, "amount")


def index_additions(diffs: list[Any]) -> set[str]:
    return {d[1].name for d in diffs if isinstance(d, tuple) and d[0] == "add_index"}


def test_schema_comparison_sees_a_missing_index(scratch_connection: Connection):
    before = index_additions(schema_differences(scratch_connection))
    scratch_connection.execute(text("DROP INDEX ix_contracts_owner"))
    after = index_additions(schema_differences(scratch_connection))
    assert after - before == {"ix_contracts_owner"}


def sqlite_tables(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        return set(conn.scalars(text("SELECT name FROM sqlite_master WHERE type = 'table'")))


def test_migration_downgrades_and_upgrades_again(sqlite_engine: Engine):
    migrated = sqlite_tables(sqlite_engine)
    assert {"suppliers", "contracts", "renewals"} <= migrated
    downgrade(sqlite_engine, "base")
    assert sqlite_tables(sqlite_engine) <= {"alembic_version"}
    upgrade(sqlite_engine)
    assert sqlite_tables(sqlite_engine) == migrated
    backend = Backend("sqlite", make_session_factory(sqlite_engine))
    add_supplier(backend)
    with backend.session() as s:
        contract_store.create_contract(s, contract=make_contract())
    assert count_contracts(backend) == 1


def test_contract_data_factory_is_valid():
    # Guards the builders the tests above lean on.
    assert ContractCreate.model_validate(contract_data()).id == "C-1001"
