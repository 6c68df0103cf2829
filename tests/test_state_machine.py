"""A Hypothesis state machine over the whole renewal engine: register, start, amend, score,
draft, review and expire, in random order, against the real system.

Contracts live in a migrated SQLite database (activities.contract_store); renewals run on
Temporal's time-skipping test server with the real worker (worker.build_worker). The state
machine API is synchronous, so one event loop runs on a background thread and holds the
environment and the worker for the whole run; every example uses fresh contract ids and
terminates the workflows it started when it ends.

After every step, from the database and the workflows' ``status`` queries:

* at most one open renewal per contract term: ``renewals`` is unique on (contract_id, term),
  each term id only ever has the one run it started with, a contract has at most one running
  workflow and at most one renewal without an outcome;
* no approval was made by the person who requested that draft version (or the renewal);
* the audit trail only grows: the row count never falls and earlier rows never change;
* every approved outcome is bound to a stored draft version whose content hash matches, and
  whose stored text still hashes to it;
* what a running workflow reports (drafts, decisions) is what the database holds.

Each step also checks what it did against a small model: a second start is a no-op, a review is
accepted exactly when the rules say so (segregation of duties, stale versions, wrong hashes,
missing comments, closed reviews), an expiry renews on the approved version or extends.

The time-skipping test server leaks a time-skipping lock whenever a renewal that was itself
started as a child (term 2 on) completes: its parent closed long ago, and the lock is the one
a parent releases when it records the child's completion. Left alone, the server clock then
crawls at wall-clock pace for the rest of the run. :meth:`Runtime.advance` gives such locks
back, only while the clock is visibly stalled with nothing in flight (see its docstring); the
summary printed at the end counts how often. This is the test server's behaviour, not the
product's: on a real Temporal server there is no such lock.
"""

import asyncio
import threading
import uuid
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import pytest
from dateutil.relativedelta import relativedelta
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import func, select
from temporalio.api.testservice.v1 import UnlockTimeSkippingRequest
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowUpdateFailedError
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from clients import renewals
from config.binaries import temporal_test_server
from domain.content_hash import content_hash
from migrations.runner import upgrade
from models.contract import ContractAmendment
from models.milestones import MilestoneKind, MilestoneState
from models.renewal import (
    DraftKind,
    OutcomeKind,
    RedraftRequest,
    RenewalStage,
    RenewalStatus,
    ReviewDecisionKind,
    ReviewSubmission,
)
from models.tables import (
    AuditLogRow,
    ContractRow,
    DraftRow,
    RenewalEventRow,
    RenewalRow,
    ReviewDecisionRow,
    ScorecardRow,
)
from store.db import SessionFactory, make_engine, make_session_factory, transaction
from tests.factories import register
from tests.identity_helpers import SIGNED, TEST_IDENTITY_KEYS
from worker import build_worker
from workflows.contract_renewal import ContractRenewalWorkflow
from workflows.ids import renewal_workflow_id

T = TypeVar("T")

REQUESTER = "buyer@example.com"
# Reviewers: two lawyers (one also in another spelling), the requester in two spellings.
REVIEWERS = (
    "legal-a@example.com",
    "LEGAL-A@example.com",
    "legal-b@example.com",
    REQUESTER,
    "Buyer@Example.com",
)
REDRAFTERS = (REQUESTER, "buyer-2@example.com", "legal-b@example.com")
_DONE = (MilestoneState.DONE, MilestoneState.DONE_LATE)
STEP_TIMEOUT = 120.0  # seconds for one call into the loop: a hang fails the test, not CI


# ---------------------------------------------------------------------------- the runtime


class Runtime:
    """An event loop on its own thread that holds one time-skipping environment and one worker
    for the whole state machine run; synchronous rules call into it with :meth:`run`."""

    def __init__(self, database_url: str, sessions: SessionFactory) -> None:
        self.database_url = database_url
        self.sessions = sessions
        self.task_queue = f"sm-{uuid.uuid4().hex[:8]}"
        self.executor = ThreadPoolExecutor(max_workers=8, thread_name_prefix="sm-activity")
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(
            target=self.loop.run_forever, name="state-machine-loop", daemon=True
        )
        self.thread.start()
        self.env: WorkflowEnvironment = self.run(
            WorkflowEnvironment.start_time_skipping(
                data_converter=pydantic_data_converter,
                test_server_existing_path=temporal_test_server(),
            )
        )
        self.worker: Worker = self.run(self._start_worker())
        # The audit trail as last seen: id -> every column. Shared by all examples.
        self.audit_seen: dict[int, tuple[Any, ...]] = {}
        self.compensated: set[str] = set()  # workflows whose leaked lock was given back
        self.no_leak: set[str] = set()  # closed without leaking (terminated)
        self.seen: set[str] = set()  # every renewal workflow id of the run so far
        self.notes: dict[str, int] = {}  # what the steps did, for the summary

    # ------------------------------------------------------------------ the clock

    async def _known_leaks(self, workflow_ids: list[str]) -> list[str]:
        """Renewals that leaked a time-skipping lock in the test server and were not given it
        back yet: every term started as a child (term 2 on) that completed.

        The test server takes a lock when a child workflow closes, for its parent to release
        when it records the child's completion; a renewal's parent has closed long before
        (ABANDON), so nothing ever releases it and the server clock freezes for good: an
        ``env.sleep`` then runs at wall-clock pace (compare temporalio/sdk-java#2392). A
        terminated term, and term 1 (started by the test), leak nothing."""
        leaks = []
        for workflow_id in sorted(workflow_ids):
            if workflow_id in self.compensated | self.no_leak or workflow_id.endswith("/term-1"):
                continue
            described = await _describe_status(self.client, workflow_id)
            if described is None or described[1] is WorkflowExecutionStatus.RUNNING:
                continue
            if described[1] is WorkflowExecutionStatus.COMPLETED:
                leaks.append(workflow_id)
            else:
                self.no_leak.add(workflow_id)
        return leaks

    async def _unlock(self, why: str) -> None:
        try:
            await self.client.test_service.unlock_time_skipping(UnlockTimeSkippingRequest())
        except RPCError:  # nothing was locked after all ("unbalanced lock and unlock calls")
            why += " (nothing to give back)"
        self.notes[why] = self.notes.get(why, 0) + 1

    async def _idle(self, workflow_ids: list[str]) -> bool:
        for workflow_id in workflow_ids:
            try:
                desc = await self.client.get_workflow_handle(workflow_id).describe()
            except RPCError as err:
                if err.status == RPCStatusCode.NOT_FOUND:
                    continue
                raise
            if desc.raw_description.pending_activities:
                return False
        return True

    async def advance(
        self, clock_call: Coroutine[Any, Any, T], workflow_ids: Callable[[], list[str]]
    ) -> T:
        """Run a call that lets the server clock move (``env.sleep``, a result awaited with
        time skipping unlocked), giving back the locks the test server leaks while it runs.

        A leak shows as the clock crawling at wall-clock pace while the call waits with no
        activity in flight. Only then is one lock given back: an unlock while the clock moves
        freely, or while a task legitimately holds a lock, would let the clock jump past
        running tasks' timeouts (or fail as unbalanced). A stall with a known leak
        (:meth:`_known_leaks`) is released at once; any other stall after a few seconds: the
        server also leaks the lock of an activity still running when its workflow closes
        (temporalio/sdk-java#1138), as when a renewal expires just after a new draft started
        its review reminder. The summary counts both."""
        task = asyncio.ensure_future(clock_call)
        last = await self.env.get_current_time()
        stalled = 0
        while True:
            done, _ = await asyncio.wait({task}, timeout=0.1)
            if done:
                return task.result()
            now = await self.env.get_current_time()
            crawling, last = now - last < timedelta(seconds=10), now
            ids = workflow_ids()
            self.seen.update(ids)
            if not crawling or not await self._idle(ids):
                stalled = 0
                continue
            stalled += 1
            # Earlier examples' renewals too: a leak may date from their last step.
            known = await self._known_leaks(list(self.seen))
            if known and stalled >= 3:
                self.compensated.add(known[0])
                await self._unlock("clock: lock leaked by a child-started term, given back")
                stalled = 0
            elif stalled >= 30:
                await self._unlock("clock: stalled for 3 s with nothing in flight, unlocked")
                stalled = 0

    async def settle(self, workflow_ids: list[str], timeout: float = 60.0) -> None:
        """Wait until no workflow has an activity in flight and their histories stop growing:
        the point where every timer that fired has been acted on. A status query on each
        running workflow is the barrier for an outstanding workflow task."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        previous: list[tuple[str, Any, int]] | None = None
        while True:
            snapshot: list[tuple[str, Any, int]] = []
            busy = False
            for workflow_id in workflow_ids:
                try:
                    handle = self.client.get_workflow_handle(workflow_id)
                    desc = await handle.describe()
                except RPCError as err:
                    if err.status == RPCStatusCode.NOT_FOUND:
                        continue
                    raise
                if desc.status is WorkflowExecutionStatus.RUNNING:
                    if desc.raw_description.pending_activities:
                        busy = True
                    else:
                        await handle.query(ContractRenewalWorkflow.status)
                snapshot.append((workflow_id, desc.status, desc.history_length))
            if not busy and snapshot == previous:
                return
            previous = None if busy else snapshot
            if loop.time() > deadline:
                raise AssertionError(f"the workflows did not settle in {timeout} s: {snapshot}")
            await asyncio.sleep(0.02)

    # ------------------------------------------------------------------ plumbing

    async def _start_worker(self) -> Worker:
        worker = build_worker(
            self.env.client,
            identity_keys=TEST_IDENTITY_KEYS,
            task_queue=self.task_queue,
            database_url=self.database_url,
            executor=self.executor,
            max_concurrent_activities=8,
        )
        self._worker_task = asyncio.get_running_loop().create_task(worker.run())
        await asyncio.sleep(0)
        return worker

    async def _stop_worker(self) -> None:
        await self.worker.shutdown()
        await self._worker_task

    @property
    def client(self) -> Client:
        return self.env.client

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = STEP_TIMEOUT) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        try:
            self.run(self._stop_worker())
        finally:
            self.run(self.env.shutdown())
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(timeout=30)
            self.loop.close()
            self.executor.shutdown(wait=True)


@pytest.fixture(scope="module")
def runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runtime]:
    path: Path = tmp_path_factory.mktemp("state-machine") / "renewals.db"
    url = f"sqlite:///{path}"
    engine = make_engine(url)
    upgrade(engine)
    rt = Runtime(url, make_session_factory(engine))
    try:
        yield rt
    finally:
        rt.close()
        engine.dispose()


# ---------------------------------------------------------------------------- the model


@dataclass
class Tracked:
    """What the test knows about one contract it registered."""

    cid: str
    start_date: date
    runs: dict[int, str] = field(default_factory=dict)  # term -> the run id of its workflow
    approved: dict[int, tuple[int, str]] = field(default_factory=dict)  # term -> version, hash
    approved_kind: dict[int, DraftKind] = field(default_factory=dict)  # term -> its kind
    outcomes_checked: set[int] = field(default_factory=set)
    term: int = 1  # current term, from the database
    status: RenewalStatus | None = None  # the current term's status, when its workflow runs
    running: bool = False


def _refused_reason(status: RenewalStatus, sub: ReviewSubmission, requester: str) -> str | None:
    """Why the workflow must refuse this review, or None when it must accept it."""
    if status.outcome is not None:
        return "reviews are closed"
    if not status.drafts:
        return "no draft is awaiting review yet"
    current = status.drafts[-1]
    decided = [d for d in status.decisions if d.draft_version == current.version]
    if any(d.decision is ReviewDecisionKind.APPROVE for d in status.decisions):
        return "already approved"
    if any(d.decision is ReviewDecisionKind.REJECT for d in decided):
        return "was rejected"
    if sub.draft_version != current.version:
        return "is not the draft under review"
    if sub.content_hash is not None and sub.content_hash != current.content_hash:
        return "content_hash"
    if sub.decision is ReviewDecisionKind.APPROVE and sub.reviewer.casefold() in {
        current.requested_by.casefold(),
        requester.casefold(),
    }:
        return "segregation of duties"
    if sub.decision is not ReviewDecisionKind.APPROVE and not sub.comment.strip():
        return "comment: required"
    return None


async def _describe_status(client: Client, workflow_id: str) -> tuple[str, Any, int] | None:
    try:
        desc = await client.get_workflow_handle(workflow_id).describe()
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            return None
        raise
    return desc.run_id, desc.status, desc.history_length


def _milestone_at(status: RenewalStatus, kind: MilestoneKind) -> tuple[MilestoneState, date] | None:
    for m in status.milestones:
        if m.kind is kind:
            return m.state, m.due
    return None


# ---------------------------------------------------------------------------- the machine

# Rules pick among the renewals that are open *now* with a drawn index rather than with
# preconditions or data.draw over live state: what Hypothesis draws then never depends on the
# system's state, so a failing example replays and shrinks (an inapplicable step is a no-op).
PICK = st.integers(0, 7)


def _choose(candidates: list[str], pick: int) -> str | None:
    return candidates[pick % len(candidates)] if candidates else None


class RenewalMachine(RuleBasedStateMachine):
    """Bound to a :class:`Runtime` by :func:`_bound` before it runs."""

    rt: ClassVar[Runtime]
    contracts = Bundle("contracts")

    def __init__(self) -> None:
        super().__init__()
        self.tracked: dict[str, Tracked] = {}

    # ------------------------------------------------------------------ helpers

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self.rt.run(coro)

    def _now(self) -> datetime:
        return self._run(self.rt.env.get_current_time())

    def _workflow_ids(self) -> list[str]:
        """Every term's workflow id of every tracked contract, up to the term after the one
        the database says is current (renewals move on while the clock runs)."""
        with transaction(self.rt.sessions) as s:
            terms = dict(
                s.execute(
                    select(ContractRow.id, ContractRow.current_term).where(
                        ContractRow.id.in_(list(self.tracked))
                    )
                ).all()
            )
        return [
            renewal_workflow_id(c.cid, term)
            for c in self.tracked.values()
            for term in range(1, max(c.term, terms.get(c.cid, 1)) + 2)
        ]

    def _sleep_until(self, day: date) -> None:
        """Let the server clock run to the day after ``day`` (a milestone fires at 09:00 local
        time on its day, the day after is past it in every zone)."""
        target = datetime.combine(day + timedelta(days=1), time(12), tzinfo=UTC)
        delta = target - self._now()
        if delta > timedelta(0):
            self._clock_sleep(delta)

    def _clock_sleep(self, delta: timedelta) -> None:
        self._run(self.rt.advance(self.rt.env.sleep(delta), self._workflow_ids))

    def _refresh(self) -> None:
        """Settle, then read every tracked contract back: its term from the database, each
        term's run (which must never change), the current term's status, finished terms'
        outcomes against the model."""
        self._run(self.rt.settle(self._workflow_ids()))
        with transaction(self.rt.sessions) as s:
            terms = {
                cid: term
                for cid, term in s.execute(
                    select(ContractRow.id, ContractRow.current_term).where(
                        ContractRow.id.in_(list(self.tracked))
                    )
                )
            }
        for c in self.tracked.values():
            c.term = terms[c.cid]
            c.running, c.status = False, None
            for term in range(1, c.term + 1):
                described = self._run(
                    _describe_status(self.rt.client, renewal_workflow_id(c.cid, term))
                )
                if described is None:
                    continue
                run_id, status, _ = described
                known = c.runs.setdefault(term, run_id)
                assert known == run_id, f"term {term} of {c.cid} has a second run"
                assert status in (
                    WorkflowExecutionStatus.RUNNING,
                    WorkflowExecutionStatus.COMPLETED,
                ), f"renewal {c.cid} term {term} ended as {status}"
                if status is WorkflowExecutionStatus.COMPLETED:
                    self._check_outcome(c, term)
                elif term == c.term:
                    c.running = True
                    c.status = self._run(
                        renewals.get_status(self.rt.client, contract_id=c.cid, term=term)
                    )

    def _check_outcome(self, c: Tracked, term: int) -> None:
        if term in c.outcomes_checked:
            return
        with transaction(self.rt.sessions) as s:
            renewal = s.scalar(
                select(RenewalRow).where(RenewalRow.contract_id == c.cid, RenewalRow.term == term)
            )
            assert renewal is not None
            events = s.scalars(
                select(RenewalEventRow).where(
                    RenewalEventRow.renewal_id == renewal.id, RenewalEventRow.kind == "outcome"
                )
            ).all()
            assert len(events) == 1, f"{c.cid} term {term}: {len(events)} outcome events"
            detail = events[0].detail
        # A fixed term ends only on an approved version: the renegotiation (renewed) or, after
        # it lapsed, the interim extension (renewal-semantics.md §4); nothing is invented.
        approved = c.approved.get(term)
        assert approved is not None, f"{c.cid} term {term} ended with nothing approved: {detail}"
        expected = (
            OutcomeKind.INTERIM_EXTENSION
            if c.approved_kind.get(term) is DraftKind.INTERIM_EXTENSION
            else OutcomeKind.RENEWED
        )
        assert detail["kind"] == expected.value, detail
        assert (detail["approved_version"], detail["approved_content_hash"]) == approved
        assert c.term > term, f"{c.cid}: term {term} finished but the contract stayed in it"
        c.outcomes_checked.add(term)

    def _note(self, what: str) -> None:
        """Counted in ``--hypothesis-show-statistics`` and in the run's summary."""
        event(what)
        self.rt.notes[what] = self.rt.notes.get(what, 0) + 1

    def _open(self) -> list[str]:
        return sorted(
            c.cid
            for c in self.tracked.values()
            if c.running and c.status is not None and c.status.outcome is None
        )

    def _in_review(self) -> list[str]:
        return [cid for cid in self._open() if (s := self.tracked[cid].status) and s.drafts]

    # ------------------------------------------------------------------ rules

    @initialize(
        target=contracts,
        months=st.integers(1, 3),
        month_end=st.booleans(),
        notice=st.integers(0, 90),
    )
    def first_contract(self, months: int, month_end: bool, notice: int) -> str:
        """Every example starts with one renewal running inside the 3-month window (its first
        draft is made at once), so that the review rules have work from the first step."""
        cid = self._register(months, month_end, notice)
        self.start(cid, together=False)
        return cid

    @rule(
        target=contracts,
        months=st.integers(1, 14),
        month_end=st.booleans(),
        notice=st.integers(0, 90),
    )
    def register_contract(self, months: int, month_end: bool, notice: int) -> str:
        return self._register(months, month_end, notice)

    def _register(self, months: int, month_end: bool, notice: int) -> str:
        cid = f"SM-{uuid.uuid4().hex[:12]}"
        today = self._now().date()
        start = today - relativedelta(months=12)
        end = today + relativedelta(months=months, day=31 if month_end else today.day)
        with transaction(self.rt.sessions) as s:
            register(s, id=cid, start_date=start, end_date=end, notice_period_days=notice)
        self.tracked[cid] = Tracked(cid, start)
        return cid

    @rule(cid=contracts, together=st.booleans())
    def start(self, cid: str, together: bool) -> None:
        c = self.tracked[cid]
        known = c.runs.get(c.term)

        async def start_once() -> renewals.StartResult:
            return await renewals.start_renewal(
                self.rt.client,
                contract_id=cid,
                term=c.term,
                requested_by=REQUESTER,
                task_queue=self.rt.task_queue,
            )

        async def start_all() -> list[renewals.StartResult]:
            return list(await asyncio.gather(*(start_once() for _ in range(2 if together else 1))))

        results = self._run(start_all())
        created = [r for r in results if r.created]
        assert all(r.workflow_id == renewal_workflow_id(cid, c.term) for r in results)
        self._note("start: again (no-op)" if known is not None else "start: new")
        if known is not None:
            assert not created, f"a second start of {cid} term {c.term} made a new workflow"
            assert all(r.run_id in (None, known) for r in results), (results, known)
        else:
            assert len(created) == 1, f"{len(created)} of {len(results)} starts created one"
        self._refresh()
        with transaction(self.rt.sessions) as s:
            rows = s.scalar(
                select(func.count())
                .select_from(RenewalRow)
                .where(RenewalRow.contract_id == cid, RenewalRow.term <= c.term)
            )
        assert rows == len(c.runs), (rows, c.runs)

    @rule(
        pick=PICK,
        days=st.integers(-20, 420),
        notice=st.one_of(st.none(), st.integers(0, 90)),
        change_end=st.booleans(),
    )
    def amend(self, pick: int, days: int, notice: int | None, change_end: bool) -> None:
        cid = _choose(self._open(), pick)
        if cid is None:
            self._note("amend: nothing open")
            return
        c = self.tracked[cid]
        assert c.status is not None and c.status.end_date is not None
        term = c.term
        if c.status.lapsed_on is not None:
            # A lapsed term is settled by an approved interim extension or by recording what
            # happened, not by moving its end date after the fact.
            self._note("amend: refused, the term lapsed")
            with pytest.raises(WorkflowUpdateFailedError) as refused:
                self._run(
                    renewals.amend_renewal(
                        self.rt.client,
                        signer=SIGNED,
                        contract_id=cid,
                        term=term,
                        amendment=ContractAmendment(
                            end_date=self._now().date() + timedelta(days=30),
                            amended_by=REQUESTER,
                            reason="state machine",
                        ),
                    )
                )
            assert "reached expiry" in str(refused.value.cause)
            return
        self._note("amend: into the past" if days < 0 else "amend: applied")
        change_end = change_end or notice is None
        new_end = self._now().date() + timedelta(days=days) if change_end else None
        amendment = ContractAmendment(
            end_date=new_end,
            notice_period_days=notice,
            amended_by=REQUESTER,
            reason="state machine",
        )
        status = self._run(
            renewals.amend_renewal(
                self.rt.client, signer=SIGNED, contract_id=cid, term=term, amendment=amendment
            )
        )
        expected_end = new_end or c.status.end_date
        assert status.end_date == expected_end
        self._refresh()
        if c.term == term:  # still the same term: the stored contract says what was amended
            with transaction(self.rt.sessions) as s:
                row = s.get(ContractRow, cid)
                renewal = s.scalar(
                    select(RenewalRow).where(RenewalRow.contract_id == cid, RenewalRow.term == term)
                )
                assert row is not None and renewal is not None
                assert row.end_date == expected_end
                assert renewal.term_end_date == expected_end
                if notice is not None:
                    assert row.notice_period_days == notice

    @rule(pick=PICK)
    def score(self, pick: int) -> None:
        cid = _choose(self._open(), pick)
        if cid is None:
            self._note("score: nothing open")
            return
        c = self.tracked[cid]
        term = c.term
        assert c.status is not None
        self._note("score: checked")
        gather = _milestone_at(c.status, MilestoneKind.GATHER_FACTS)
        assert gather is not None
        if gather[0] is MilestoneState.SKIPPED:
            return
        if gather[0] is MilestoneState.PENDING:
            self._sleep_until(gather[1])
            self._refresh()
        with transaction(self.rt.sessions) as s:
            renewal = s.scalar(
                select(RenewalRow).where(RenewalRow.contract_id == cid, RenewalRow.term == term)
            )
            assert renewal is not None
            stored = s.scalar(select(ScorecardRow).where(ScorecardRow.renewal_id == renewal.id))
        assert stored is not None, f"{cid} term {term}: no scorecard after gather_facts"
        if c.term == term and c.status is not None:
            assert c.status.scorecard is not None

    @rule(pick=PICK, who=st.sampled_from(REDRAFTERS))
    def draft(self, pick: int, who: str) -> None:
        cid = _choose(self._open(), pick)
        if cid is None:
            self._note("draft: nothing open")
            return
        c = self.tracked[cid]
        term = c.term
        status = c.status
        assert status is not None
        request = RedraftRequest(requested_by=who, reason="state machine: try again")
        if status.drafts:
            current = status.drafts[-1]
            rejected = any(
                d.draft_version == current.version and d.decision is ReviewDecisionKind.REJECT
                for d in status.decisions
            )
            call = renewals.request_redraft(
                self.rt.client, signer=SIGNED, contract_id=cid, term=term, request=request
            )
            self._note(f"draft: redraft {'after' if rejected else 'refused without'} a rejection")
            if rejected:
                ref = self._run(call)
                assert ref.version == current.version + 1
                assert ref.requested_by == who
            else:
                with pytest.raises(WorkflowUpdateFailedError):
                    self._run(call)
            self._refresh()
            return
        discussion = _milestone_at(status, MilestoneKind.FIRST_DISCUSSION)
        assert discussion is not None
        if discussion[0] is not MilestoneState.PENDING:
            return
        self._note("draft: first draft at first_discussion")
        self._sleep_until(discussion[1])
        self._refresh()
        with transaction(self.rt.sessions) as s:
            renewal = s.scalar(
                select(RenewalRow).where(RenewalRow.contract_id == cid, RenewalRow.term == term)
            )
            assert renewal is not None
            first = s.scalar(
                select(DraftRow).where(
                    DraftRow.renewal_id == renewal.id,
                    DraftRow.kind == DraftKind.RENEGOTIATION.value,
                    DraftRow.version == 1,
                )
            )
        assert first is not None, f"{cid} term {term}: no draft after first_discussion"
        assert first.requested_by == REQUESTER

    @rule(
        pick=PICK,
        decision=st.sampled_from(list(ReviewDecisionKind)),
        reviewer=st.sampled_from(REVIEWERS),
        version_offset=st.sampled_from([0, 0, 0, -1, 1]),
        hash_choice=st.sampled_from(["none", "right", "right", "wrong"]),
        comment=st.sampled_from(["", "Cap the price adjustment at 2 %."]),
        resend=st.booleans(),
    )
    def review(
        self,
        pick: int,
        decision: ReviewDecisionKind,
        reviewer: str,
        version_offset: int,
        hash_choice: str,
        comment: str,
        resend: bool,
    ) -> None:
        cid = _choose(self._in_review(), pick)
        if cid is None:
            self._note("review: nothing in review")
            return
        c = self.tracked[cid]
        term = c.term
        status = c.status
        assert status is not None
        current = status.drafts[-1]
        submission = ReviewSubmission(
            decision=decision,
            reviewer=reviewer,
            draft_version=max(1, current.version + version_offset),
            content_hash={
                "none": None,
                "right": current.content_hash,
                "wrong": "0" * 64,
            }[hash_choice],
            comment=comment,
        )
        expected_refusal = _refused_reason(status, submission, REQUESTER)
        self._note(
            f"review: {decision.value} "
            + (f"refused ({expected_refusal})" if expected_refusal else "accepted")
        )
        request_id = f"sm-{uuid.uuid4().hex}"
        call = renewals.submit_review(
            self.rt.client,
            signer=SIGNED,
            contract_id=cid,
            term=term,
            submission=submission,
            request_id=request_id,
        )
        if expected_refusal is not None:
            with pytest.raises(WorkflowUpdateFailedError) as refused:
                self._run(call)
            message = str(refused.value.cause)
            assert expected_refusal in message, (expected_refusal, message)
            self._refresh()
            return
        result = self._run(call)
        assert result.record.decision is decision
        assert result.record.draft_version == current.version
        assert result.record.content_hash == current.content_hash
        if decision is ReviewDecisionKind.APPROVE:
            c.approved[term] = (current.version, current.content_hash)
            c.approved_kind[term] = current.kind
        elif decision is ReviewDecisionKind.REQUEST_CHANGES:
            assert result.new_draft is not None
            assert result.new_draft.version == current.version + 1
            assert result.new_draft.requested_by == reviewer
        if resend:  # the same form posted twice counts once
            again = self._run(
                renewals.submit_review(
                    self.rt.client,
                    signer=SIGNED,
                    contract_id=cid,
                    term=term,
                    submission=submission,
                    request_id=request_id,
                )
            )
            assert again == result
        self._refresh()
        with transaction(self.rt.sessions) as s:
            stored = s.scalar(
                select(func.count())
                .select_from(ReviewDecisionRow)
                .where(ReviewDecisionRow.update_id == request_id)
            )
        assert stored == 1

    @rule(days=st.integers(1, 60))
    def advance(self, days: int) -> None:
        self._clock_sleep(timedelta(days=days))
        self._refresh()

    @rule(pick=PICK)
    def expire(self, pick: int) -> None:
        cid = _choose(self._open(), pick)
        if cid is None:
            self._note("expire: nothing open")
            return
        c = self.tracked[cid]
        term = c.term
        handle = renewals.renewal_handle(self.rt.client, contract_id=cid, term=term)
        env = self.rt.env

        async def finish() -> Any:
            async with env.time_skipping_unlocked():  # type: ignore[attr-defined]
                return await handle.result()

        if c.approved.get(term) is None:
            self._approve_interim_after_lapse(c, term)
        outcome = self._run(self.rt.advance(finish(), self._workflow_ids))
        approved = c.approved.get(term)
        self._note(f"expire: {outcome.kind.value} (term {min(term, 3)}{'+' if term >= 3 else ''})")
        assert approved is not None
        if c.approved_kind.get(term) is DraftKind.INTERIM_EXTENSION:
            assert outcome.kind is OutcomeKind.INTERIM_EXTENSION
        else:
            assert outcome.kind is OutcomeKind.RENEWED
        assert (outcome.approved_version, outcome.approved_content_hash) == approved
        assert outcome.next_workflow_id == renewal_workflow_id(cid, term + 1)
        self._refresh()
        assert c.term == term + 1
        assert term in c.outcomes_checked

    def _approve_interim_after_lapse(self, c: Tracked, term: int) -> None:
        """Nothing approved: the fixed term lapses at its end date and stays open with an
        interim extension in legal review, until a lawyer who did not make it approves it."""
        handle = renewals.renewal_handle(self.rt.client, contract_id=c.cid, term=term)

        async def lapsed() -> RenewalStatus:
            async with self.rt.env.time_skipping_unlocked():  # type: ignore[attr-defined]
                for _ in range(2400):
                    status = await handle.query(ContractRenewalWorkflow.status)
                    current = status.drafts[-1] if status.drafts else None
                    if (
                        status.lapsed_on is not None
                        and current is not None
                        and current.kind is DraftKind.INTERIM_EXTENSION
                        and status.stage is RenewalStage.LAPSED
                    ):
                        return status
                    await asyncio.sleep(0.05)
            raise AssertionError(f"{c.cid} term {term} never lapsed")

        status = self._run(self.rt.advance(lapsed(), self._workflow_ids))
        assert status.outcome is None
        current = status.drafts[-1]
        if any(
            d.draft_version == current.version and d.decision is ReviewDecisionKind.REJECT
            for d in status.decisions
        ):
            current = self._run(
                renewals.request_redraft(
                    self.rt.client,
                    signer=SIGNED,
                    contract_id=c.cid,
                    term=term,
                    request=RedraftRequest(requested_by=REQUESTER, reason="Extend while we talk"),
                )
            )
            assert current.kind is DraftKind.INTERIM_EXTENSION
        reviewer = next(
            r
            for r in REVIEWERS
            if r.casefold() not in {current.requested_by.casefold(), REQUESTER.casefold()}
        )
        result = self._run(
            renewals.submit_review(
                self.rt.client,
                signer=SIGNED,
                contract_id=c.cid,
                term=term,
                submission=ReviewSubmission(
                    decision=ReviewDecisionKind.APPROVE,
                    reviewer=reviewer,
                    draft_version=current.version,
                    content_hash=current.content_hash,
                ),
            )
        )
        c.approved[term] = (result.record.draft_version, result.record.content_hash)
        c.approved_kind[term] = DraftKind.INTERIM_EXTENSION
        self._note("expire: lapsed, interim extension approved")

    # ------------------------------------------------------------------ invariants

    @invariant()
    def one_open_renewal_per_term(self) -> None:
        with transaction(self.rt.sessions) as s:
            twice = s.execute(
                select(RenewalRow.contract_id, RenewalRow.term, func.count())
                .group_by(RenewalRow.contract_id, RenewalRow.term)
                .having(func.count() > 1)
            ).all()
            assert not twice, f"terms with more than one renewal: {twice}"
            open_terms = s.execute(
                select(RenewalRow.contract_id, func.count())
                .where(RenewalRow.outcome.is_(None))
                .group_by(RenewalRow.contract_id)
                .having(func.count() > 1)
            ).all()
            assert not open_terms, f"contracts with two open renewals: {open_terms}"
            for contract_id, term, workflow_id in s.execute(
                select(RenewalRow.contract_id, RenewalRow.term, RenewalRow.workflow_id)
            ):
                assert workflow_id == renewal_workflow_id(contract_id, term)
        for c in self.tracked.values():
            running = []
            for term, run_id in c.runs.items():
                described = self._run(
                    _describe_status(self.rt.client, renewal_workflow_id(c.cid, term))
                )
                assert described is not None and described[0] == run_id
                if described[1] is WorkflowExecutionStatus.RUNNING:
                    running.append(term)
            assert len(running) <= 1, f"{c.cid}: terms {running} all running"

    @invariant()
    def no_self_approval(self) -> None:
        with transaction(self.rt.sessions) as s:
            rows = s.execute(
                select(
                    ReviewDecisionRow.decision,
                    ReviewDecisionRow.reviewer,
                    ReviewDecisionRow.draft_version,
                    ReviewDecisionRow.content_hash,
                    RenewalRow.requested_by,
                    DraftRow.requested_by,
                    DraftRow.content_hash,
                )
                .join(RenewalRow, RenewalRow.id == ReviewDecisionRow.renewal_id)
                .outerjoin(
                    DraftRow,
                    (DraftRow.renewal_id == ReviewDecisionRow.renewal_id)
                    & (DraftRow.version == ReviewDecisionRow.draft_version),
                )
            ).all()
        for decision, reviewer, version, hashed, renewal_by, draft_by, draft_hash in rows:
            assert draft_by is not None, f"a decision on draft version {version}, never stored"
            assert hashed == draft_hash, f"decision on version {version} under another hash"
            if decision == ReviewDecisionKind.APPROVE.value:
                assert reviewer.casefold() != draft_by.casefold(), (reviewer, draft_by)
                assert reviewer.casefold() != renewal_by.casefold(), (reviewer, renewal_by)

    @invariant()
    def audit_trail_only_grows(self) -> None:
        with transaction(self.rt.sessions) as s:
            rows = {row[0]: tuple(row) for row in s.execute(select(AuditLogRow.__table__))}
        seen = self.rt.audit_seen
        assert len(rows) >= len(seen), f"audit rows went from {len(seen)} to {len(rows)}"
        for row_id, before in seen.items():
            assert rows.get(row_id) == before, f"audit row {row_id} changed or vanished"
        seen.update(rows)

    @invariant()
    def approved_outcomes_are_bound_to_their_draft(self) -> None:
        with transaction(self.rt.sessions) as s:
            for event in s.scalars(
                select(RenewalEventRow).where(RenewalEventRow.kind == "outcome")
            ):
                version = event.detail.get("approved_version")
                hashed = event.detail.get("approved_content_hash")
                if version is None:
                    assert hashed is None
                    assert event.detail["kind"] != OutcomeKind.RENEWED.value or (
                        "approved" not in event.detail.get("reason", "")
                    )
                    continue
                draft = s.scalar(
                    select(DraftRow).where(
                        DraftRow.renewal_id == event.renewal_id, DraftRow.version == version
                    )
                )
                assert draft is not None, f"outcome approves version {version}, never stored"
                assert draft.content_hash == hashed
                assert content_hash(draft.body, draft.proposed_terms, draft.body_html) == hashed
                approval = s.scalar(
                    select(func.count())
                    .select_from(ReviewDecisionRow)
                    .where(
                        ReviewDecisionRow.renewal_id == event.renewal_id,
                        ReviewDecisionRow.decision == ReviewDecisionKind.APPROVE.value,
                        ReviewDecisionRow.draft_version == version,
                        ReviewDecisionRow.content_hash == hashed,
                    )
                )
                assert approval == 1, f"outcome on version {version}: {approval} approvals"

    @invariant()
    def workflow_and_database_agree(self) -> None:
        for c in self.tracked.values():
            if not c.running:
                continue
            status = self._run(renewals.get_status(self.rt.client, contract_id=c.cid, term=c.term))
            with transaction(self.rt.sessions) as s:
                renewal = s.scalar(
                    select(RenewalRow).where(
                        RenewalRow.contract_id == c.cid, RenewalRow.term == c.term
                    )
                )
                if renewal is None:  # still starting: nothing stored, nothing reported
                    assert not status.drafts and not status.decisions
                    continue
                drafts = s.execute(
                    select(DraftRow.version, DraftRow.content_hash, DraftRow.requested_by)
                    .where(DraftRow.renewal_id == renewal.id)
                    .order_by(DraftRow.version)
                ).all()
                decisions = s.scalars(
                    select(ReviewDecisionRow.update_id)
                    .where(ReviewDecisionRow.renewal_id == renewal.id)
                    .order_by(ReviewDecisionRow.id)
                ).all()
            assert [(d.version, d.content_hash, d.requested_by) for d in status.drafts] == [
                tuple(d) for d in drafts
            ]
            assert [d.update_id for d in status.decisions] == list(decisions)

    def teardown(self) -> None:
        async def stop_all(ids: list[str]) -> None:
            # Settled first: terminating a run with an activity in flight can leak the test
            # server's time-skipping lock (temporalio/sdk-java#1138).
            await self.rt.settle(ids)
            for workflow_id in ids:
                described = await _describe_status(self.rt.client, workflow_id)
                if described is not None and described[1] is WorkflowExecutionStatus.RUNNING:
                    await self.rt.client.get_workflow_handle(workflow_id).terminate("example over")

        self._run(stop_all(self._workflow_ids()))


def _bound(runtime: Runtime) -> type[RenewalMachine]:
    class Bound(RenewalMachine):
        rt = runtime

    return Bound


def _summary(runtime: Runtime) -> None:
    for what, count in sorted(runtime.notes.items()):
        print(f"{count:5}  {what}")


def test_renewal_state_machine(runtime: Runtime) -> None:
    run_state_machine_as_test(
        _bound(runtime),
        settings=settings(
            max_examples=8,
            stateful_step_count=12,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
    _summary(runtime)


@pytest.mark.soak
def test_renewal_state_machine_soak(runtime: Runtime) -> None:
    run_state_machine_as_test(
        _bound(runtime),
        settings=settings(
            max_examples=40,
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
    _summary(runtime)
