"""Ownership of contracts through the services (services.ownership, services.contracts,
services.imports, services.teams) on SQLite and PostgreSQL: owners are users, procurement
users change their own and their team's contracts, a lead anyone's, suppliers per the
supplier rule, teams managed by a lead or an admin; every refusal stores nothing."""

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy import func, select, text

from migrations.runner import upgrade
from models.contract import ContractAmendment, SupplierCreate
from models.errors import Conflict, InvalidInput, NotAllowed, NotFound
from models.imports import ImportKind
from models.tables import AuditLogRow, ContractRow, DeliveryRow, SupplierRow
from models.users import CurrentUser
from services import contracts as contract_service
from services import ownership, teams
from services.imports import export_csv, import_records
from store import users
from store.db import SessionFactory, make_engine, make_session_factory, transaction
from tests.factories import make_contract, register

POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")

HEADER = "id,title,supplier_id,owner,start_date,end_date,currency,annual_value,unit_price,team\n"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db(request: pytest.FixtureRequest, tmp_path: object) -> Iterator[SessionFactory]:
    """A fresh migrated database per test (operator mode needs one without accounts)."""
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path}/o.db")
        upgrade(engine)
        yield make_session_factory(engine)
        engine.dispose()
        return
    schema = f"o_{uuid.uuid4().hex[:10]}"
    admin = make_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = make_engine(f"{POSTGRES_URL}?options=-csearch_path%3D{schema}")
    upgrade(engine)
    yield make_session_factory(engine)
    engine.dispose()
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@dataclass
class People:
    a: CurrentUser  # procurement
    b: CurrentUser  # procurement
    lead: CurrentUser
    legal: CurrentUser
    admin: CurrentUser


@pytest.fixture
def people(db: SessionFactory) -> People:
    with transaction(db) as s:

        def make(name: str, roles: str) -> CurrentUser:
            return users.create_user(s, username=name, display_name=name, roles=roles)

        found = People(
            make("a@example.com", "procurement"),
            make("b@example.com", "procurement"),
            make("lead@example.com", "procurement_lead"),
            make("legal@example.com", "legal"),
            make("admin@example.com", "admin"),
        )
        register(s, id="C-A", owner="a@example.com", supplier_id="S-A")
        register(s, id="C-B", owner="B@Example.com", supplier_id="S-B")  # casefolded: b
    return found


def _contracts(*rows: str) -> bytes:
    return (HEADER + "".join(f"{r}\n" for r in rows)).encode()


def _row(cid: str, owner: str, supplier: str = "S-A", team: str = "") -> str:
    return f"{cid},Paper,{supplier},{owner},2026-01-01,2027-01-01,JPY,1000,10,{team}"


def _count(db: SessionFactory, table: type, *where: object) -> int:
    with transaction(db) as s:
        return s.scalar(select(func.count()).select_from(table).where(*where)) or 0  # type: ignore[arg-type]


def _import(db: SessionFactory, kind: ImportKind, body: bytes, user: CurrentUser | None, **kw):
    with transaction(db) as s:
        return import_records(s, kind=kind, source=body, file="f.csv", user=user, **kw)


# ---------------------------------------------------------------------------- operator mode


def test_without_accounts_anyone_and_any_owner_as_before(db: SessionFactory) -> None:
    with transaction(db) as s:
        register(s, id="C-0", owner="someone@example.com")
    operator = CurrentUser(0, "ops", "ops", frozenset())
    report = _import(
        db, ImportKind.CONTRACTS, _contracts(_row("C-1", "x@y.example", "S-1")), operator
    )
    assert report.inserted == 1
    with transaction(db) as s:
        amended = contract_service.amend_contract(
            s,
            user=operator,
            contract_id="C-0",
            amendment=ContractAmendment(notice_period_days=5, amended_by="ops"),
        )
    assert amended.notice_period_days == 5


# ---------------------------------------------------------------------------- owners are users


def test_an_owner_without_an_account_is_refused_naming_row_and_field(
    db: SessionFactory, people: People
) -> None:
    body = _contracts(_row("C-1", "a@example.com"), _row("C-2", "nobody@example.com"))
    with pytest.raises(InvalidInput) as refused:
        _import(db, ImportKind.CONTRACTS, body, people.lead)
    [error] = refused.value.errors
    assert (error.row, error.field) == (3, "owner")
    assert "'nobody@example.com' is not an active user" in error.reason
    assert _count(db, ContractRow) == 2  # the two of the fixture; the file stored nothing
    with pytest.raises(InvalidInput, match="cannot be a user's name"):
        _import(db, ImportKind.CONTRACTS, _contracts(_row("C-3", "+buyer@example.com")), None)


def test_a_deactivated_owner_is_no_owner_and_case_does_not_matter(
    db: SessionFactory, people: People
) -> None:
    with transaction(db) as s:
        users.deactivate_user(s, username="b@example.com")
    with pytest.raises(InvalidInput, match="not an active user"):
        _import(db, ImportKind.CONTRACTS, _contracts(_row("C-1", "b@example.com")), None)
    report = _import(db, ImportKind.CONTRACTS, _contracts(_row("C-2", "A@EXAMPLE.com")), None)
    assert report.inserted == 1


def test_registering_one_at_a_time_checks_the_owner_too(db: SessionFactory, people: People) -> None:
    with transaction(db) as s, pytest.raises(InvalidInput) as refused:
        contract_service.register_contracts(
            s, contracts=[make_contract(id="C-9", owner="ghost@example.com", supplier_id="S-A")]
        )
    assert [(e.row, e.field) for e in refused.value.errors] == [(1, "owner")]
    with transaction(db) as s, pytest.raises(NotAllowed, match=r"would belong to b@example\.com"):
        contract_service.register_contracts(
            s,
            contracts=[make_contract(id="C-9", owner="b@example.com", supplier_id="S-A")],
            user=people.a,
        )
    assert _count(db, ContractRow, ContractRow.id == "C-9") == 0


# ---------------------------------------------------------------------------- contract imports


def test_a_procurement_user_imports_only_their_own_or_their_teams_contracts(
    db: SessionFactory, people: People
) -> None:
    body = _contracts(_row("C-1", "a@example.com"), _row("C-2", "b@example.com"))
    with pytest.raises(NotAllowed) as refused:
        _import(db, ImportKind.CONTRACTS, body, people.a)
    [error] = list(refused.value.errors)
    assert (error.row, error.field, error.file) == (3, "owner", "f.csv")
    assert "'C-2' would belong to b@example.com" in error.reason
    assert "a procurement lead may act on anyone's" in error.reason
    assert _count(db, ContractRow) == 2

    with transaction(db) as s:
        teams.create_team(s, user=people.lead, name="packaging")
        teams.add_member(s, user=people.lead, team="packaging", username="a@example.com")
    ok = _import(
        db,
        ImportKind.CONTRACTS,
        _contracts(_row("C-3", "b@example.com", team="packaging")),
        people.a,
    )
    assert ok.inserted == 1
    assert _import(db, ImportKind.CONTRACTS, body, people.lead).inserted == 2


def test_import_over_someone_elses_contract_is_forbidden_not_only_a_duplicate(
    db: SessionFactory, people: People
) -> None:
    with pytest.raises(NotAllowed) as refused:
        _import(db, ImportKind.CONTRACTS, _contracts(_row("C-B", "a@example.com")), people.a)
    fields = [(e.row, e.field) for e in refused.value.errors]
    assert (2, "id") in fields  # "belongs to b@example.com" and "already exists"
    assert "'C-B' belongs to B@Example.com" in str(refused.value)


def test_an_unknown_team_is_a_row_error(db: SessionFactory, people: People) -> None:
    with pytest.raises(InvalidInput) as refused:
        _import(
            db,
            ImportKind.CONTRACTS,
            _contracts(_row("C-1", "a@example.com", team="nope")),
            people.a,
        )
    assert [(e.row, e.field) for e in refused.value.errors] == [(2, "team")]


def test_with_skip_invalid_refused_rows_are_skipped_and_reported(
    db: SessionFactory, people: People
) -> None:
    body = _contracts(_row("C-1", "a@example.com"), _row("C-2", "b@example.com"))
    report = _import(db, ImportKind.CONTRACTS, body, people.a, skip_invalid=True)
    assert report.inserted == 1 and report.skipped_rows == (3,)
    assert _count(db, ContractRow, ContractRow.id == "C-2") == 0


def test_the_team_is_exported_and_imports_back(db: SessionFactory, people: People) -> None:
    with transaction(db) as s:
        teams.create_team(s, user=people.admin, name="packaging")
        contract_service.set_team(s, user=people.lead, contract_id="C-A", team="packaging")
        exported = "".join(export_csv(s, kind=ImportKind.CONTRACTS))
    header, *rows = exported.splitlines()
    assert "team" in header.split(",")
    assert any(r.startswith("C-A,") and "packaging" in r for r in rows)


# ---------------------------------------------------------------------------- suppliers


def test_supplier_changes_need_the_lead_or_a_contract_with_the_supplier(
    db: SessionFactory, people: People
) -> None:
    rename_b = b"id,name\nS-B,Renamed\n"
    with pytest.raises(NotAllowed) as refused:
        _import(db, ImportKind.SUPPLIERS, rename_b, people.a)
    assert [(e.row, e.field) for e in refused.value.errors] == [(2, "id")]
    assert "only a procurement lead may change it" in str(refused.value)
    assert (
        _import(db, ImportKind.SUPPLIERS, b"id,name\nS-A,Mine\nS-NEW,New\n", people.a).updated == 1
    )
    assert _import(db, ImportKind.SUPPLIERS, rename_b, people.lead).updated == 1
    with transaction(db) as s:
        with pytest.raises(NotAllowed):
            contract_service.upsert_supplier(
                s, supplier=SupplierCreate(id="S-B", name="Again"), user=people.a
            )
        contract_service.upsert_supplier(
            s, supplier=SupplierCreate(id="S-B", name="Bs"), user=people.b
        )
    with transaction(db) as s:
        assert s.get(SupplierRow, "S-B").name == "Bs"  # type: ignore[union-attr]


def test_records_of_someone_elses_contract_are_refused(db: SessionFactory, people: People) -> None:
    body = (
        b"supplier_id,contract_id,order_date,promised_date,delivered_date,quantity_ordered,"
        b"quantity_accepted\n"
        b"S-A,C-A,2026-02-01,2026-02-10,2026-02-10,10,10\n"
        b"S-B,C-B,2026-02-01,2026-02-10,2026-02-10,10,10\n"
    )
    with pytest.raises(NotAllowed) as refused:
        _import(db, ImportKind.DELIVERIES, body, people.a)
    assert [(e.row, e.field) for e in refused.value.errors] == [(3, "contract_id")]
    assert _count(db, DeliveryRow) == 0
    assert _import(db, ImportKind.DELIVERIES, body, people.lead).inserted == 2


# ---------------------------------------------------------------------------- one contract


def _amend(db: SessionFactory, who: CurrentUser, cid: str) -> int:
    with transaction(db) as s:
        done = contract_service.amend_contract(
            s,
            user=who,
            contract_id=cid,
            amendment=ContractAmendment(notice_period_days=7, amended_by=who.username),
        )
    return done.notice_period_days


def test_amending_a_stored_contract_is_for_its_owner_team_and_the_lead(
    db: SessionFactory, people: People
) -> None:
    with pytest.raises(NotAllowed) as refused:
        _amend(db, people.a, "C-B")
    assert [e.field for e in refused.value.errors] == ["owner"]
    assert "belongs to B@Example.com" in str(refused.value)
    assert _amend(db, people.b, "C-B") == 7
    assert _amend(db, people.lead, "C-A") == 7
    with transaction(db) as s:
        teams.create_team(s, user=people.lead, name="t")
        teams.add_member(s, user=people.lead, team="t", username="a@example.com")
        contract_service.set_team(s, user=people.b, contract_id="C-B", team=None)
        contract_service.set_team(s, user=people.lead, contract_id="C-B", team="t")
    assert _amend(db, people.a, "C-B") == 7


def test_the_renewal_services_check_is_the_same_rule(db: SessionFactory, people: People) -> None:
    ownership.check_contract_change(sessions=db, user=people.b, contract_id="C-B")
    with pytest.raises(NotAllowed, match=r"belongs to B@Example\.com"):
        ownership.check_contract_change(sessions=db, user=people.a, contract_id="C-B")
    with pytest.raises(NotFound):
        ownership.check_contract_change(sessions=db, user=people.a, contract_id="C-NONE")


# ---------------------------------------------------------------------------- teams


def test_teams_are_managed_by_a_lead_or_an_admin_and_audited(
    db: SessionFactory, people: People
) -> None:
    for who in (people.a, people.legal):
        with transaction(db) as s, pytest.raises(NotAllowed, match="may not manage teams"):
            teams.create_team(s, user=who, name="t")
    with transaction(db) as s:
        teams.create_team(s, user=people.admin, name="t")
        teams.add_member(s, user=people.lead, team="t", username=" A@example.com ")
        again = teams.add_member(s, user=people.lead, team="t", username="a@example.com")
        teams.add_member(s, user=people.admin, team="t", username="b@example.com")
    assert again.members == ("a@example.com",)
    with transaction(db) as s:
        assert teams.get_team(s, name="t").members == ("a@example.com", "b@example.com")
        with pytest.raises(NotAllowed):
            teams.remove_member(s, user=people.b, team="t", username="a@example.com")
    with transaction(db) as s:
        assert teams.remove_member(
            s, user=people.lead, team="t", username="a@example.com"
        ).members == ("b@example.com",)
    actions = [
        a
        for (a,) in _rows(db, select(AuditLogRow.action).order_by(AuditLogRow.id))
        if a.startswith("team")
    ]
    assert actions == [
        "team_created",
        "team_member_added",
        "team_member_added",
        "team_member_removed",
    ]


def test_team_refusals_name_the_problem(db: SessionFactory, people: People) -> None:
    with transaction(db) as s, pytest.raises(InvalidInput) as bad:
        teams.create_team(s, user=people.lead, name="not a name")
    assert bad.value.errors[0].field == "name"
    with transaction(db) as s:
        teams.create_team(s, user=people.lead, name="t")
    with transaction(db) as s, pytest.raises(Conflict, match="already exists"):
        teams.create_team(s, user=people.lead, name="t")
    with transaction(db) as s, pytest.raises(NotFound):
        teams.add_member(s, user=people.lead, team="t", username="ghost@example.com")
    with transaction(db) as s, pytest.raises(NotFound):
        teams.add_member(s, user=people.lead, team="nope", username="a@example.com")
    with transaction(db) as s:
        users.deactivate_user(s, username="b@example.com")
    with transaction(db) as s, pytest.raises(InvalidInput, match="deactivated"):
        teams.add_member(s, user=people.lead, team="t", username="b@example.com")


def test_a_contracts_team_is_given_by_who_may_change_it(db: SessionFactory, people: People) -> None:
    with transaction(db) as s:
        teams.create_team(s, user=people.lead, name="mine")
        teams.create_team(s, user=people.lead, name="other")
        teams.add_member(s, user=people.lead, team="mine", username="a@example.com")
    with transaction(db) as s:
        assert (
            contract_service.set_team(s, user=people.a, contract_id="C-A", team="mine").team
            == "mine"
        )
    with transaction(db) as s, pytest.raises(NotAllowed) as refused:
        contract_service.set_team(s, user=people.a, contract_id="C-A", team="other")
    assert [e.field for e in refused.value.errors] == ["team"]
    with transaction(db) as s, pytest.raises(NotAllowed):
        contract_service.set_team(s, user=people.a, contract_id="C-B", team="mine")
    with transaction(db) as s:
        contract_service.set_team(s, user=people.lead, contract_id="C-B", team="other")
    detail = _rows(db, select(AuditLogRow.detail).where(AuditLogRow.action == "contract_team_set"))
    assert [d for (d,) in detail] == [
        {"team": "mine", "before": None},
        {"team": "other", "before": None},
    ]


def _rows(db: SessionFactory, query):
    with transaction(db) as s:
        return list(s.execute(query).all())


def test_every_role_reads_teams_and_contracts(db: SessionFactory, people: People) -> None:
    with transaction(db) as s:
        teams.create_team(s, user=people.lead, name="t")
        assert [t.name for t in teams.list_teams(s)] == ["t"]
        assert contract_service.get_contract(s, contract_id="C-B").owner == "B@Example.com"
