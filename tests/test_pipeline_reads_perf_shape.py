"""What the pipeline's cheaper reads must keep, on SQLite and PostgreSQL: "needs me" counts its
first page in the same read as its rows (a window in a subquery) and finds the owner's
spellings by walking the owner index; the rows, their order, the total and the keyset pages
are those of the filter read plainly (every matching id sorted, counted by ``len``). The
previews, made once per distinct set of planning fields, are each contract's own."""

import uuid
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from domain.term_plan import CalendarSettings, as_preview
from models.contract import ContractRead, DefaultAction, TermModel
from models.milestones import RenewalPolicy
from models.tables import ContractRow, RenewalRow
from store import plans as plan_store
from store.contracts import to_read
from store.db import SessionFactory, transaction
from store.reads import owners
from store.reads import pipeline as reads
from store.reads import pipeline_pages as pages
from store.reads._stages import current_term_plan
from store.reads.previews import _planned_from as _planned
from store.reads.previews import previews_for
from tests.factories import contract_data, register
from tests.performance_data import pg_sessions_fixture  # noqa: F401

TODAY = date(2026, 3, 2)
POLICY = RenewalPolicy()
CFG = CalendarSettings()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db(request: pytest.FixtureRequest) -> Iterator[SessionFactory]:
    name = "sessions" if request.param == "sqlite" else "pg_sessions"
    factory: SessionFactory = request.getfixturevalue(name)
    yield factory


def _seed(sessions: SessionFactory, count: int = 90) -> tuple[str, str]:
    """``count`` contracts of a new supplier, a third each owned by ``Owner-<tag>`` spelled
    two ways, by someone else, and by nobody of these; some in stages that wait on procurement,
    some with stored plans (pending milestones soon or not), values with ties."""
    tag = uuid.uuid4().hex[:8]
    supplier, me = f"S-{tag}", f"owner-{tag}@example.com"
    spelled = (me, me.upper(), f"other-{tag}@example.com")
    with transaction(sessions) as s:
        for n in range(count):
            end = TODAY + timedelta(days=3 + (n * 53) % 500)
            register(
                s,
                id=f"C-{tag}-{n:03d}",
                supplier_id=supplier,
                owner=me,
                start_date=end - timedelta(days=365),
                end_date=end,
                notice_period_days=(30, 60, 90, 0)[n % 4],
                annual_value=Decimal(1_000 + (n * 37) % 11 * 500),  # ties: 11 values
                title=f"Item {n}",
            )
        s.flush()
        for n in range(count):
            cid = f"C-{tag}-{n:03d}"
            row = s.get_one(ContractRow, cid)
            row.owner = spelled[n % 3]
            if n % 17 == 0:
                row.status = "terminated"
            if n % 5 in (1, 2):
                stage = ("offer_presented", "legal_review", "completed", "escalated")[n % 4]
                s.add(
                    RenewalRow(
                        contract_id=cid,
                        term=1,
                        workflow_id=f"renewal/{cid}/term-1",
                        requested_by=me,
                        term_end_date=row.end_date,
                        stage=stage,
                    )
                )
                s.flush()
                plan = current_term_plan(
                    to_read(row), category="general", today=TODAY, policy=POLICY, cfg=CFG
                )
                plan_store.save_plan(
                    s, contract_id=cid, term=1, workflow_id=f"renewal/{cid}/term-1", plan=plan
                )
    return supplier, me


def _plain(s: Session, flt: reads.PipelineFilter, sort: str, descending: bool) -> list[str]:
    """Every matching id in the page's order, read the plain way."""
    key = pages._sort_key(sort, descending)
    spellings = {flt.needs: owners.owner_spellings(s, flt.needs)} if flt.needs else None
    query = reads.lean_query([ContractRow.id], flt, today=TODAY, policy=POLICY, spellings=spellings)
    order = (key.desc(), ContractRow.id.desc()) if descending else (key.asc(), ContractRow.id)
    return list(s.scalars(query.order_by(*order)))


def _walk(s: Session, flt: reads.PipelineFilter, sort: str, descending: bool) -> list[str]:
    kw: dict[str, Any] = {"today": TODAY, "policy": POLICY, "cfg": CFG, "flt": flt, "sort": sort}
    kw |= {"descending": descending, "limit": 7}
    first = pages.pipeline_page(s, **kw)
    walked = [r.item.contract_id for r in first.rows]
    page = first
    while page.next_cursor is not None:
        page = pages.pipeline_page(s, after=page.next_cursor, **kw)
        assert page.total == first.total
        walked += [r.item.contract_id for r in page.rows]
    assert first.total == len(walked)
    last = pages.pipeline_page(s, last=True, **kw)
    assert [r.item.contract_id for r in last.rows] == walked[-(len(walked) % 7 or 7) :]
    return walked


@pytest.mark.parametrize(
    ("sort", "descending"),
    [("end_date", False), ("annual_value", True), ("annual_value", False), ("contract_id", True)],
)
def test_needs_me_pages_are_the_plain_reads(
    db: SessionFactory, sort: str, descending: bool
) -> None:
    supplier, me = _seed(db)
    with db() as s:
        for who in (me, me.upper(), f"  {me.title()} "):
            flt = reads.PipelineFilter(needs=who, supplier_id=supplier)
            expected = _plain(s, flt, sort, descending)
            assert len(expected) > 7  # more than one page, fewer than all of them
            everyone = select(func.count()).where(ContractRow.supplier_id == supplier)
            assert len(expected) < (s.scalar(everyone) or 0)
            assert _walk(s, flt, sort, descending) == expected
        nobody = reads.PipelineFilter(needs="nobody-" + me, supplier_id=supplier)
        empty = pages.pipeline_page(
            s, today=TODAY, policy=POLICY, cfg=CFG, flt=nobody, sort=sort, descending=descending
        )
        assert empty.rows == [] and empty.total == 0 and empty.next_cursor is None


def test_owner_spellings_walked_or_read_are_the_same(
    db: SessionFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, me = _seed(db, count=9)
    with db() as s:

        def distinct(owner: str) -> list[str]:
            wanted = func.lower(ContractRow.owner) == owner.strip().lower()
            return sorted(s.scalars(select(ContractRow.owner).where(wanted).distinct()))

        for who in (me, me.upper(), f" {me} ", "other-" + me.partition("-")[2], "nobody"):
            walked = owners.owner_spellings(s, who)
            assert walked == distinct(who)
            monkeypatch.setattr(owners, "WALK_LIMIT", 1)  # more owners than that: read as before
            assert owners.owner_spellings(s, who) == walked
            monkeypatch.undo()
        assert sorted(owners.owner_spellings(s, me)) == sorted({me, me.upper()})


def test_previews_made_once_per_planning_fields_are_each_contracts_own() -> None:
    """The pipeline's previews (one plan per distinct set of planning fields and category) are,
    contract by contract, the preview its own plan makes, though titles, owners, values and
    ids differ and every planning field varies."""
    cfg = CalendarSettings(
        closure_days=frozenset({date(2026, 8, 14)}),
        default_action_by_category=(("logistics", DefaultAction.RENEW_AS_IS),),
    )
    contracts: list[tuple[ContractRead, str | None]] = []
    for i in range(480):
        n = i % 240  # each set of planning fields twice, on contracts of their own
        end = date(2026, 9, 30) + timedelta(days=(n % 4) * 31)
        model = (TermModel.FIXED, TermModel.AUTO_RENEWING, TermModel.EVERGREEN)[n % 3]
        data = contract_data(
            id=f"C-PV-{i:03d}",
            title=f"Item {i}",
            owner=f"buyer{i % 7}@example.com",
            supplier_id=f"S-{i % 5}",
            annual_value=Decimal(1_000 + i),
            start_date=end - timedelta(days=365),
            end_date=end,
            term_model=model,
            notice_period_days=(30, 60)[n // 4 % 2],
            transit_buffer_days=(3, 0)[n // 8 % 2],
            max_renewals=None if n % 16 < 8 else 2,
            renewals_used=0 if n % 32 < 16 else 2,
            jurisdiction=("JP", "GB")[n // 32 % 2],
            time_zone=None if n % 64 < 32 else "UTC",
            default_action=None if n % 128 < 64 else DefaultAction.NON_RENEWAL,
        )
        contract = ContractRead.model_validate(
            {**data, "current_term": 1 + i // 240, "status": "active"}
        )
        contracts.append((contract, (None, "general", "logistics")[n // 3 % 3]))
    previews = previews_for(contracts, today=TODAY, policy=POLICY, cfg=cfg)
    assert list(previews) == [c.id for c, _ in contracts]
    assert len({_planned(c, cat) for c, cat in contracts}) <= 240  # planned once, used twice
    for contract, category in contracts:
        own = current_term_plan(contract, category=category, today=TODAY, policy=POLICY, cfg=cfg)
        assert previews[contract.id] == as_preview(contract.id, contract.current_term, own)
