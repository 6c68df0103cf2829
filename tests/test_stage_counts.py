"""The contracts-by-stage counts that the database's triggers keep (migration 0019) against the
same counts taken from the tables, on SQLite and PostgreSQL: after every kind of write (one row
and many, through the store and in plain SQL, COPY on PostgreSQL), after concurrent writes that
move the same contract, after a TRUNCATE, and after migrating a database that already held
contracts."""

import random
import threading
import uuid
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session

from migrations.runner import upgrade
from models.tables import ContractRow, ContractStageCountRow, RenewalRow
from store import contracts as contract_store
from store.db import SessionFactory, make_engine, make_session_factory, transaction
from store.reads._stages import current_renewal, stage_expr
from tests.conftest import POSTGRES_URL
from tests.factories import make_contract, register

TODAY = date(2026, 12, 4)
STAGES = ["waiting", "facts_gathered", "legal_review", "negotiating", "completed"]


def _recounted(s: Session) -> dict[str, int]:
    stage = stage_expr().label("stage")
    rows = s.execute(
        select(stage, func.count())
        .select_from(ContractRow)
        .outerjoin(RenewalRow, current_renewal())
        .group_by(stage)
    ).all()
    return {str(name): int(n) for name, n in rows}


def _kept(s: Session) -> dict[str, int]:
    n = func.sum(ContractStageCountRow.contracts)
    rows = s.execute(
        select(ContractStageCountRow.stage, n).group_by(ContractStageCountRow.stage)
    ).all()
    # A shard counts the contracts of its hash in the stage: never below zero.
    assert all(k >= 0 for k in s.scalars(select(ContractStageCountRow.contracts)))
    return {str(name): int(k) for name, k in rows if k != 0}


def _assert_exact(factory: SessionFactory) -> None:
    with factory() as s:
        assert _kept(s) == _recounted(s)


@pytest.fixture
def migrated(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A database of its own, migrated, whose transactions commit (the triggers run on commit
    paths the shared test schema's savepoints would hide)."""
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'counts.db'}")
        upgrade(engine)
        yield engine
        engine.dispose()
        return
    schema = f"c_{uuid.uuid4().hex[:10]}"
    admin = make_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in POSTGRES_URL else "?"
    engine = make_engine(f"{POSTGRES_URL}{sep}options=-csearch_path%3D{schema}")
    try:
        upgrade(engine)
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


BOTH = pytest.mark.parametrize(
    "migrated", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)


def _renewal(s: Session, contract_id: str, term: int, stage: str) -> None:
    s.add(
        RenewalRow(
            contract_id=contract_id,
            term=term,
            workflow_id=f"renewal/{contract_id}/term-{term}",
            requested_by="buyer@example.com",
            term_end_date=TODAY + timedelta(days=30 * term),
            stage=stage,
        )
    )


@BOTH
def test_counts_stay_exact_through_every_kind_of_write(migrated: Engine) -> None:
    factory = make_session_factory(migrated)
    rng = random.Random(20261204)
    ids = [f"C-CNT-{n:03d}" for n in range(30)]
    with transaction(factory) as s:
        for cid in ids[:10]:
            register(s, id=cid, end_date=TODAY + timedelta(days=90))
    _assert_exact(factory)
    # Many at once, as an import writes them (COPY on PostgreSQL).
    with transaction(factory) as s:
        rows = [
            contract_store.contract_tuple(
                make_contract(id=cid, end_date=TODAY + timedelta(days=120)), today=TODAY
            )
            for cid in ids[10:]
        ]
        contract_store.insert_contracts(s, rows)
    _assert_exact(factory)
    terms = dict.fromkeys(ids, 1)
    for _ in range(60):
        cid = rng.choice(ids)
        with transaction(factory) as s:
            contract = s.get(ContractRow, cid)
            assert contract is not None
            current = s.scalar(
                select(RenewalRow).where(
                    RenewalRow.contract_id == cid, RenewalRow.term == contract.current_term
                )
            )
            action = rng.choice(["open", "stage", "roll", "terminate", "revive", "drop", "sql"])
            if action == "open" and current is None:
                _renewal(s, cid, contract.current_term, rng.choice(STAGES))
            elif action == "stage" and current is not None:
                current.stage = rng.choice(STAGES)
            elif action == "roll":
                terms[cid] += 1
                contract.current_term = terms[cid]
            elif action == "terminate":
                contract.status = "terminated"
            elif action == "revive":
                contract.status = "active"
            elif action == "drop" and current is not None:
                s.delete(current)
            elif action == "sql":
                # A statement that moves many contracts at once, as an operator might.
                s.execute(
                    text(
                        "UPDATE renewals SET stage = :stage WHERE contract_id IN "
                        "(SELECT id FROM contracts WHERE status = 'active')"
                    ),
                    {"stage": rng.choice(STAGES)},
                )
        _assert_exact(factory)
    # Deleting a contract with its renewals, as the tests' clean-ups do.
    with transaction(factory) as s:
        s.execute(text("DELETE FROM renewals WHERE contract_id = :c"), {"c": ids[0]})
        s.execute(text("DELETE FROM contracts WHERE id = :c"), {"c": ids[0]})
    _assert_exact(factory)


@BOTH
def test_a_rolled_back_write_leaves_the_counts_as_they_were(migrated: Engine) -> None:
    factory = make_session_factory(migrated)
    with transaction(factory) as s:
        register(s, id="C-CNT-RB", end_date=TODAY + timedelta(days=90))
    with factory() as s, s.begin():
        _renewal(s, "C-CNT-RB", 1, "legal_review")
        s.flush()
        assert _kept(s) == {"legal_review": 1}
        s.rollback()
    with factory() as s:
        assert _kept(s) == {"not_started": 1}


@BOTH
def test_migrating_a_database_that_held_contracts_counts_them(
    request: pytest.FixtureRequest, migrated: Engine
) -> None:
    # Start again below 0019 with data, then migrate.
    from migrations.runner import downgrade

    downgrade(migrated, "0018")
    factory = make_session_factory(migrated)
    with transaction(factory) as s:
        for n in range(5):
            register(s, id=f"C-CNT-M{n}", end_date=TODAY + timedelta(days=90))
        _renewal(s, "C-CNT-M0", 1, "legal_review")
        _renewal(s, "C-CNT-M1", 1, "waiting")
        contract = s.get(ContractRow, "C-CNT-M2")
        assert contract is not None
        contract.status = "terminated"
    upgrade(migrated)
    with factory() as s:
        assert _kept(s) == {
            "legal_review": 1,
            "waiting": 1,
            "contract_terminated": 1,
            "not_started": 2,
        }
    _assert_exact(factory)


@pytest.mark.postgres
@pytest.mark.parametrize("migrated", ["postgres"], indirect=True)
@pytest.mark.parametrize("first", ["stage", "terminate"])
def test_concurrent_moves_of_one_contract_are_counted_once(migrated: Engine, first: str) -> None:
    """A renewal's stage change and its contract's termination in two transactions at once:
    whichever commits first, the contract is counted once, as terminated."""
    factory = make_session_factory(migrated)
    with transaction(factory) as s:
        register(s, id="C-CNT-RACE", end_date=TODAY + timedelta(days=90))
        _renewal(s, "C-CNT-RACE", 1, "waiting")
    started = threading.Event()
    errors: list[BaseException] = []

    def stage_change(hold: bool) -> None:
        try:
            with transaction(factory) as s:
                s.execute(
                    text("UPDATE renewals SET stage = 'legal_review' WHERE contract_id = :c"),
                    {"c": "C-CNT-RACE"},
                )
                if hold:
                    started.set()
                    threading.Event().wait(0.5)  # the other transaction writes meanwhile
        except BaseException as exc:  # reported by the test below
            errors.append(exc)

    def terminate(hold: bool) -> None:
        try:
            with transaction(factory) as s:
                s.execute(
                    text("UPDATE contracts SET status = 'terminated' WHERE id = :c"),
                    {"c": "C-CNT-RACE"},
                )
                if hold:
                    started.set()
                    threading.Event().wait(0.5)
        except BaseException as exc:
            errors.append(exc)

    one, other = (stage_change, terminate) if first == "stage" else (terminate, stage_change)
    a = threading.Thread(target=one, args=(True,))
    a.start()
    assert started.wait(10)
    b = threading.Thread(target=other, args=(False,))
    b.start()
    a.join(20)
    b.join(20)
    assert not errors
    with factory() as s:
        assert _kept(s) == {"contract_terminated": 1}
    _assert_exact(factory)


@pytest.mark.postgres
@pytest.mark.parametrize("migrated", ["postgres"], indirect=True)
def test_truncate_recounts(migrated: Engine) -> None:
    factory = make_session_factory(migrated)
    with transaction(factory) as s:
        register(s, id="C-CNT-T1", end_date=TODAY + timedelta(days=90))
        register(s, id="C-CNT-T2", end_date=TODAY + timedelta(days=90))
        _renewal(s, "C-CNT-T1", 1, "waiting")
    with transaction(factory) as s:
        s.execute(text("TRUNCATE renewals CASCADE"))
    with factory() as s:
        assert _kept(s) == {"not_started": 2}
    _assert_exact(factory)
