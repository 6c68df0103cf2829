"""The exposure read model against the same figures found in Python from every stored row, on
SQLite and PostgreSQL: the roll-overs by the stored plan's send-by date, or where none is stored
by the plan function's own (renewal-semantics.md §1), the lapsed contracts and their count.

The PostgreSQL schema is shared with other modules and may hold their rows: the reference is
computed from whatever the database holds, so the comparison holds whatever is there."""

import random
import uuid
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from domain.term_plan import CalendarSettings
from models.contract import TermModel
from models.milestones import RenewalPolicy
from models.tables import ContractRow, RenewalRow, SupplierRow, TermPlanRow
from store.contracts import to_read
from store.db import SessionFactory, transaction
from store.reads import exposure as exposure_reads
from store.reads._stages import current_term_plan
from tests.factories import register
from tests.performance_data import pg_sessions_fixture  # noqa: F401

TODAY = date(2026, 12, 3)
CFG = CalendarSettings(closure_days=frozenset({date(2026, 12, 28)}))
AUTO = TermModel.AUTO_RENEWING.value
ACTED = {"agreed", "termination_pending", "completed", "contract_terminated"}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db(request: pytest.FixtureRequest) -> Iterator[SessionFactory]:
    name = "sessions" if request.param == "sqlite" else "pg_sessions"
    factory: SessionFactory = request.getfixturevalue(name)
    yield factory


def _reference(s: Session, today: date) -> tuple[list[tuple[date, str, bool]], list[str]]:
    """(send-by, contract, preview) of every roll-over in send-by order, and the lapsed
    contracts in end-date order, from every row: the stored plan where there is one, else the
    plan the workflow would make."""
    last = today + timedelta(days=exposure_reads.ROLL_OVER_DAYS)
    plans = {(p.contract_id, p.term): p for p in s.scalars(select(TermPlanRow))}
    renewals = {(r.contract_id, r.term): r for r in s.scalars(select(RenewalRow))}
    categories = {x.id: x.category for x in s.scalars(select(SupplierRow))}
    due: list[tuple[date, str, bool]] = []
    lapsed: list[tuple[date, str]] = []
    for c in s.scalars(select(ContractRow)):
        renewal = renewals.get((c.id, c.current_term))
        if c.status != "terminated" and renewal is not None and renewal.stage == "lapsed":
            lapsed.append((c.end_date, c.id))
        if c.status != "active" or c.end_date < today:
            continue
        if renewal is not None and renewal.stage in ACTED:
            continue
        stored = plans.get((c.id, c.current_term))
        if stored is not None:
            if stored.term_model == AUTO and stored.send_by and today <= stored.send_by <= last:
                due.append((stored.send_by, c.id, False))
            continue
        plan = current_term_plan(
            to_read(c),
            category=categories.get(c.supplier_id),
            today=today,
            policy=RenewalPolicy(),
            cfg=CFG,
        )
        send_by = plan.plan.send_by
        if plan.term_model.value == AUTO and send_by is not None and today <= send_by <= last:
            due.append((send_by, c.id, True))
    return sorted(due), [cid for _, cid in sorted(lapsed)]


def _stage(s: Session, contract_id: str, term: int, stage: str) -> None:
    s.add(
        RenewalRow(
            contract_id=contract_id,
            term=term,
            workflow_id=f"renewal/{contract_id}/term-{term}",
            requested_by="buyer@example.com",
            term_end_date=TODAY,
            stage=stage,
        )
    )


def _plan(s: Session, contract: ContractRow, term: int, send_by: date, term_model: str) -> None:
    s.add(
        TermPlanRow(
            contract_id=contract.id,
            term=term,
            workflow_id=f"renewal/{contract.id}/term-{term}",
            end_date=contract.end_date,
            notice_deadline=send_by + timedelta(days=3),
            notice_provenance=[],
            send_by=send_by,
            send_by_provenance=[],
            time_zone="Asia/Tokyo",
            term_model=term_model,
            planned_on=TODAY,
        )
    )


def _seed(s: Session, tag: str, count: int) -> None:
    """Contracts ending around the window, in every state the page tells apart."""
    rng = random.Random(tag)
    for n in range(count):
        cid = f"XR-{tag}-{n:03d}"
        end = TODAY + timedelta(days=rng.randint(-20, 200))
        register(
            s,
            id=cid,
            supplier_id=f"S-{tag}",
            owner="buyer@example.com",
            start_date=end - timedelta(days=365),
            end_date=end,
            currency=rng.choice(["JPY", "USD"]),
            annual_value=Decimal(rng.randint(1, 10_000)) / 100,
            term_model=rng.choice([AUTO, AUTO, "fixed"]),
            notice_period_days=rng.choice([0, 14, 30, 60, 90]),
            transit_buffer_days=rng.choice([0, 1, 3, 10]),
            jurisdiction=rng.choice(["JP", "US", "DE"]),
            max_renewals=rng.choice([None, None, 2]),
        )
        s.flush()
        row = s.get(ContractRow, cid)
        assert row is not None
        if row.max_renewals is not None and rng.random() < 0.5:
            row.renewals_used = row.max_renewals  # no renewals left: planned as fixed
        if rng.random() < 0.1:
            row.status = "terminated"
        if rng.random() < 0.15:
            row.current_term = 2  # the plan and renewal of term 1 are no longer current
            _plan(s, row, 1, TODAY + timedelta(days=5), AUTO)
            _stage(s, cid, 1, "lapsed")
        term = row.current_term
        roll = rng.random()
        if roll < 0.25:
            _stage(s, cid, term, rng.choice(["lapsed", "agreed", "legal_review", "completed"]))
        if rng.random() < 0.35:
            # A stored plan, its send-by date up to two weeks before the nominal one (the
            # workflow's business days), whatever the preview would say.
            nominal = row.end_date - timedelta(
                days=row.notice_period_days + row.transit_buffer_days
            )
            send_by = nominal - timedelta(days=rng.randint(0, 14))
            _plan(s, row, term, send_by, rng.choice([AUTO, AUTO, "fixed"]))


@pytest.mark.parametrize("offset", [0, 17])
def test_roll_overs_and_lapsed_are_the_reference(db: SessionFactory, offset: int) -> None:
    tag = uuid.uuid4().hex[:8]
    with transaction(db) as s:
        _seed(s, tag, 160)
    today = TODAY + timedelta(days=offset)
    with db() as s:
        found = exposure_reads.exposure(s, today=today, policy=RenewalPolicy(), cfg=CFG)
        due, lapsed = _reference(s, today)
    assert any(not preview for *_, preview in due) and any(p for *_, p in due)
    assert found.rolling_over_total == len(due)
    listed = due[: exposure_reads.LIST_LIMIT]
    assert [(c.due, c.contract_id, c.plan_preview) for c in found.rolling_over] == listed
    assert all(c.days_left == (c.due - today).days for c in found.rolling_over if c.due)
    assert found.lapsed_total == len(lapsed)
    assert [c.contract_id for c in found.lapsed] == lapsed[: exposure_reads.LIST_LIMIT]
    with db() as s:
        for shown in [*found.rolling_over, *found.lapsed]:
            row = s.get(ContractRow, shown.contract_id)
            assert row is not None
            supplier = s.get(SupplierRow, row.supplier_id)
            assert supplier is not None
            assert (shown.title, shown.owner, shown.end_date, shown.currency) == (
                row.title,
                row.owner,
                row.end_date,
                row.currency,
            )
            assert shown.annual_value == row.annual_value
            assert shown.supplier_name == supplier.name


def test_nothing_to_roll_over_or_lapsed(db: SessionFactory) -> None:
    """A day no contract of any test reaches: empty sections, counts of zero."""
    with db() as s:
        found = exposure_reads.exposure(
            s, today=date(2099, 1, 1), policy=RenewalPolicy(), cfg=CalendarSettings()
        )
        _, lapsed = _reference(s, date(2099, 1, 1))
    assert found.rolling_over == [] and found.rolling_over_total == 0
    assert found.lapsed_total == len(lapsed)


def test_a_stored_plan_is_read_whatever_the_contract_says(db: SessionFactory) -> None:
    """The stored plan's send-by date decides, even where the contract's own columns (say a
    notice period amended since the term was planned) would put it months later: the
    roll-overs with a stored plan are found through the plan's send-by index, not through the
    contracts' end dates."""
    tag = uuid.uuid4().hex[:8]
    today = date(2031, 6, 2)  # beyond every other test's contracts
    with transaction(db) as s:
        register(
            s,
            id=f"XS-{tag}",
            supplier_id=f"S-{tag}",
            owner="buyer@example.com",
            start_date=today - timedelta(days=100),
            end_date=today + timedelta(days=400),
            term_model=AUTO,
            notice_period_days=30,
        )
        s.flush()
        row = s.get(ContractRow, f"XS-{tag}")
        assert row is not None
        _plan(s, row, 1, today + timedelta(days=9), AUTO)
    with db() as s:
        found = exposure_reads.exposure(s, today=today, policy=RenewalPolicy(), cfg=CFG)
    assert [(c.contract_id, c.due, c.plan_preview) for c in found.rolling_over] == [
        (f"XS-{tag}", today + timedelta(days=9), False)
    ]
