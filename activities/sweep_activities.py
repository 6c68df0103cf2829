"""The sweep activity: one page of contracts, and a renewal started for each that is due.

A page is a bounded unit of work (``limit`` contracts by id order), so a sweep over 100,000
contracts is many small activities, never one giant one. Starting is idempotent: a term whose
workflow exists is left alone, whether it is running or finished.
"""

import asyncio
from dataclasses import dataclass
from datetime import date, timedelta

from dateutil.relativedelta import relativedelta
from sqlalchemy import and_, func, select
from temporalio import activity
from temporalio.client import Client

from activities.db import SessionFactory
from clients.renewals import start_renewal
from models.activity_names import ActivityName
from models.milestones import RenewalPolicy
from models.sweep import SweepBatch, SweepPage, SweepTotals
from models.tables import ContractRow, RenewalRow
from planning.milestones import plan_milestones

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


def _page(sessions: SessionFactory, batch: SweepBatch) -> tuple[list[_Candidate], int, str | None]:
    with sessions() as session:
        ids = select(ContractRow.id).where(ContractRow.status == "active").order_by(ContractRow.id)
        if batch.after_id is not None:
            ids = ids.where(ContractRow.id > batch.after_id)
        page_ids = list(session.scalars(ids.limit(batch.limit)))
        if not page_ids:
            return [], 0, None
        max_notice = session.scalar(select(func.max(ContractRow.notice_period_days))) or 0
        # Coarse filter in SQL (nothing can be due whose end is further away than the first
        # offset plus the longest notice period); the exact rule runs per candidate below.
        horizon = (
            batch.as_of
            + relativedelta(months=batch.policy.offsets_months[0])
            + timedelta(days=max_notice)
        )
        rows = session.execute(
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
                ContractRow.id.in_(page_ids),
                ContractRow.end_date <= horizon,
                RenewalRow.id.is_(None),  # no workflow has opened this term yet
            )
            .order_by(ContractRow.id)
        ).all()
    candidates = [_Candidate(r[0], r[1], r[2], r[3]) for r in rows]
    next_after = page_ids[-1] if len(page_ids) == batch.limit else None
    return candidates, len(page_ids), next_after


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
        candidates, examined, next_after = await asyncio.to_thread(_page, self._sessions, batch)
        due = [
            c
            for c in candidates
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
            next_after_id=next_after,
            totals=SweepTotals(
                examined=examined, due=len(due), started=started, already=already, batches=1
            ),
        )
