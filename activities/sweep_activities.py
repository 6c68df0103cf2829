"""The sweep activity: one page of candidate contracts, and a renewal started for each that is due.

The page is read through :mod:`store.sweep` (bounded, by id order, only contracts near enough to
their end whose current term has neither a renewal nor a stored plan); each candidate is tested
with :func:`domain.sweep.is_due` on the plan the workflow makes, with the calendar settings this
activity is configured with, so a term a workflow has planned is never judged by another plan.
Starting is idempotent: a term whose workflow exists is left alone, running or finished.
"""

import asyncio

from temporalio import activity
from temporalio.client import Client

from activities.failures import activity_failures
from clients.renewals import start_renewal
from domain.sweep import is_due
from domain.term_plan import CalendarSettings
from models.activity_names import ActivityName
from models.sweep import SweepBatch, SweepPage, SweepTotals
from store import sweep as sweep_store
from store.db import SessionFactory

START_CONCURRENCY = 32


class SweepActivities:
    def __init__(
        self,
        session_factory: SessionFactory,
        client: Client,
        *,
        task_queue: str,
        search_attributes: bool,
        calendars: CalendarSettings | None = None,
    ) -> None:
        self._sessions = session_factory
        self._client = client
        self._task_queue = task_queue
        self._search_attributes = search_attributes
        self._calendars = calendars or CalendarSettings()

    def _read_page(self, batch: SweepBatch) -> sweep_store.CandidatePage:
        with self._sessions() as session:
            return sweep_store.candidate_page(
                session,
                as_of=batch.as_of,
                policy=batch.policy,
                cfg=self._calendars,
                after_id=batch.after_id,
                limit=batch.limit,
                reach_days=batch.max_notice_days,
            )

    @activity.defn(name=ActivityName.START_DUE_RENEWALS)
    async def start_due_renewals(self, batch: SweepBatch) -> SweepPage:
        with activity_failures():
            page = await asyncio.to_thread(self._read_page, batch)
        due = [
            c
            for c in page.candidates
            if is_due(
                c.contract,
                category=c.category,
                as_of=batch.as_of,
                policy=batch.policy,
                cfg=self._calendars,
            )
        ]
        gate = asyncio.Semaphore(START_CONCURRENCY)
        started = already = 0

        async def start(candidate: sweep_store.Candidate) -> None:
            nonlocal started, already
            async with gate:
                result = await start_renewal(
                    self._client,
                    contract_id=candidate.contract.id,
                    term=candidate.contract.current_term,
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
            max_notice_days=page.max_reach_days,
        )
