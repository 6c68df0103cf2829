"""The sweep activity: one page of candidate contracts, and a renewal started for each that is due.

A page is a bounded unit of work (``limit`` candidates by id order), so a sweep over 100,000
contracts is many small activities, never one giant one; and only contracts near their expiry
whose current term has no renewal are candidates, so a sweep with nothing to do reads one page.
Starting is idempotent: a term whose workflow exists is left alone, running or finished.
"""

import asyncio
from dataclasses import dataclass
from datetime import date, timedelta

from dateutil.relativedelta import relativedelta
from sqlalchemy import and_, func, select
from temporalio import activity
from temporalio.client import Client

from activities.failures import activity_failures
from clients.renewals import start_renewal
from domain.milestones import plan_milestones
from models.activity_names import ActivityName
from models.milestones import RenewalPolicy
from models.sweep import SweepBatch, SweepPage, SweepTotals
from models.tables import ContractRow, RenewalRow
from store.db import SessionFactory

START_CONCURRENCY = 32


@dataclass(frozen=True, slots=True)
class _Candidate:
    contract_id: str
    term: int
    end_date: date
    notice_period_days: int


def is_due(*, end_date: date, notice_period_days: int, as_of: date, policy: RenewalPolicy) -> bool:
    """Due once the first milestone has come (it may have been moved earlier by the notice
    deadline, which the plan accounts for)."""
    plan = plan_milestones(
        end_date=end_date, notice_period_days=notice_period_days, today=as_of, policy=policy
    )
    return plan.milestones[0].due <= as_of


@dataclass(frozen=True, slots=True)
class _Page:
    candidates: list[_Candidate]
    next_after_id: str | None
    max_notice_days: int


def _page(sessions: SessionFactory, batch: SweepBatch) -> _Page:
    active = ContractRow.status == "active"
    with sessions() as session:
        max_notice = batch.max_notice_days
        if max_notice is None:
            max_notice = (
                session.scalar(select(func.max(ContractRow.notice_period_days)).where(active)) or 0
            )
        # Nothing can be due whose end is further away than the first offset plus the longest
        # notice period: the end_date index narrows the sweep to those, so the rest of the
        # table is never read. The exact rule runs per candidate in the activity.
        horizon = (
            batch.as_of
            + relativedelta(months=batch.policy.offsets_months[0])
            + timedelta(days=max_notice)
        )
        query = (
            select(
                ContractRow.id,
                ContractRow.current_term,
                ContractRow.end_date,
                ContractRow.notice_period_days,
            )
            .outerjoin(
                RenewalRow,
                and_(
                    RenewalRow.contract_id == ContractRow.id,
                    RenewalRow.term == ContractRow.current_term,
                ),
            )
            .where(
                active,
                ContractRow.end_date <= horizon,
                RenewalRow.id.is_(None),  # no workflow has opened this term yet
            )
            .order_by(ContractRow.id)
            # One row more than the page: tells whether another page follows without
            # costing an empty one when the count is a multiple of the page size.
            .limit(batch.limit + 1)
        )
        if batch.after_id is not None:
            query = query.where(ContractRow.id > batch.after_id)
        rows = session.execute(query).all()
    more = len(rows) > batch.limit
    candidates = [_Candidate(r[0], r[1], r[2], r[3]) for r in rows[: batch.limit]]
    return _Page(
        candidates=candidates,
        next_after_id=candidates[-1].contract_id if more else None,
        max_notice_days=max_notice,
    )


class SweepActivities:
    def __init__(
        self,
        session_factory: SessionFactory,
        client: Client,
        *,
        task_queue: str,
        search_attributes: bool,
    ) -> None:
        self._sessions = session_factory
        self._client = client
        self._task_queue = task_queue
        self._search_attributes = search_attributes

    @activity.defn(name=ActivityName.START_DUE_RENEWALS)
    async def start_due_renewals(self, batch: SweepBatch) -> SweepPage:
        with activity_failures():
            page = await asyncio.to_thread(_page, self._sessions, batch)
        due = [
            c
            for c in page.candidates
            if is_due(
                end_date=c.end_date,
                notice_period_days=c.notice_period_days,
                as_of=batch.as_of,
                policy=batch.policy,
            )
        ]
        gate = asyncio.Semaphore(START_CONCURRENCY)
        started = already = 0

        async def start(candidate: _Candidate) -> None:
            nonlocal started, already
            async with gate:
                result = await start_renewal(
                    self._client,
                    contract_id=candidate.contract_id,
                    term=candidate.term,
                    requested_by=batch.requested_by,
                    task_queue=self._task_queue,
                    policy=batch.policy,
                    search_attributes=self._search_attributes,
                )
            if result.created:
                started += 1
            else:
                already += 1
            activity.heartbeat(started + already)

        await asyncio.gather(*(start(c) for c in due))
        return SweepPage(
            next_after_id=page.next_after_id,
            totals=SweepTotals(
                examined=len(page.candidates),
                due=len(due),
                started=started,
                already=already,
                batches=1,
            ),
            max_notice_days=page.max_notice_days,
        )
