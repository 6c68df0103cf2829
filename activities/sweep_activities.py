"""The sweep activity: one page of candidate contracts, and a renewal started for each that is due.

The page is read through :mod:`store.sweep` (bounded, by id order, only contracts near enough to
their end whose current term has neither a renewal nor a stored plan); each candidate is tested
with :func:`domain.sweep.is_due` on the plan the workflow makes, with the calendar settings this
activity is configured with, so a term a workflow has planned is never judged by another plan.
Starting is idempotent: a term whose workflow exists is left alone, running or finished.

The due renewals of a page are started at most ``start_concurrency`` at a time (a semaphore over
``client.start_workflow`` calls), so a page of 500 takes a few round trips' time, not 500, and
the server never sees more than that many starts from one page at once. A page that fails part
way (a start refused by an overloaded server, say) lets the starts already in flight finish,
starts no more, records the workflow ids it did start in its heartbeat details and raises; its
retry re-reads the page and counts a term it finds already started as started when the details
say an earlier attempt of this page started it, so a retried page starts nothing twice and
counts each renewal once. (Were an attempt to die without sending its last heartbeat, a renewal
it started would be counted as ``already``: never twice, never started again.)

A sweep lets at most ``open_rate`` of the renewals it starts begin their work each second: the
n-th renewal it starts (across its pages) is started with a ``start_delay`` of n / open_rate
seconds. The workflow exists at once (visible, and a duplicate is refused), but its first task,
and the gather-facts work an overdue term does at once, wait their turn. A daily sweep starts a
handful of renewals and they open within a second or two; a catch-up sweep after a large import
(10,000 terms due at once) no longer hands the workers and the database 10,000 terms' work in
the same minute, so the decisions people send to running renewals wait less behind it, and its
own starts compete less with it (bench/README.md, 2026-12-06).
"""

import asyncio
from datetime import timedelta

from temporalio import activity
from temporalio.client import Client

from activities.failures import activity_failures
from clients.renewals import start_renewal
from config.settings import Settings
from domain.sweep import is_due
from domain.term_plan import CalendarSettings
from models.activity_names import ActivityName
from models.sweep import SweepBatch, SweepPage, SweepTotals
from store import sweep as sweep_store
from store.db import SessionFactory

START_CONCURRENCY = 32  # renewals one page starts at once
# Renewals per second a sweep lets begin: the deployment setting's default, stated once there.
OPEN_RATE = float(Settings.model_fields["sweep_open_rate"].default)
HEARTBEAT_EVERY = 16  # starts between heartbeats (each carries the ids started so far)


def _started_by_earlier_attempts() -> frozenset[str]:
    """The workflow ids earlier attempts of this page started (their last heartbeat's details)."""
    details = activity.info().heartbeat_details
    if not details:
        return frozenset()
    ids = details[0]
    return frozenset(str(i) for i in ids) if isinstance(ids, list) else frozenset()


class SweepActivities:
    def __init__(
        self,
        session_factory: SessionFactory,
        client: Client,
        *,
        task_queue: str,
        search_attributes: bool,
        calendars: CalendarSettings | None = None,
        start_concurrency: int = START_CONCURRENCY,
        open_rate: float = OPEN_RATE,
    ) -> None:
        if start_concurrency < 1:
            raise ValueError("start_concurrency must be at least 1")
        if open_rate <= 0:
            raise ValueError("open_rate must be above 0")
        self._sessions = session_factory
        self._client = client
        self._task_queue = task_queue
        self._search_attributes = search_attributes
        self._calendars = calendars or CalendarSettings()
        self._start_concurrency = start_concurrency
        self._open_rate = open_rate

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
        earlier = _started_by_earlier_attempts()
        gate = asyncio.Semaphore(self._start_concurrency)
        created: list[str] = []  # workflow ids this attempt started
        started = already = 0
        failure: BaseException | None = None

        async def start(position: int, candidate: sweep_store.Candidate) -> None:
            nonlocal started, already, failure
            # Earlier pages' starts, then this page's order: a retried page gives each due
            # term the same place, so its delay does not grow with retries.
            delay = (batch.started_before + position) / self._open_rate
            async with gate:
                if failure is not None:
                    return  # a start failed: start no more, let the retry carry on
                try:
                    result = await start_renewal(
                        self._client,
                        contract_id=candidate.contract.id,
                        term=candidate.contract.current_term,
                        requested_by=batch.requested_by,
                        task_queue=self._task_queue,
                        policy=batch.policy,
                        search_attributes=self._search_attributes,
                        start_delay=timedelta(seconds=delay) if delay >= 0.001 else None,
                        describe=False,  # counted as started or already, never shown
                    )
                except Exception as exc:
                    failure = failure or exc
                    return
            if result.created:
                started += 1
                created.append(result.workflow_id)
            elif result.workflow_id in earlier:
                started += 1  # an earlier attempt of this page started it
            else:
                already += 1
            if (started + already) % HEARTBEAT_EVERY == 0:
                activity.heartbeat(sorted(earlier.union(created)))

        await asyncio.gather(*(start(i, c) for i, c in enumerate(due)))
        # The ids started so far, for a retry of this page (and the heartbeat timeout).
        activity.heartbeat(sorted(earlier.union(created)))
        if failure is not None:
            raise failure
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
