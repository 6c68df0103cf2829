"""A Hypothesis state machine over the whole renewal engine: register, start, amend, score,
draft, review, edit, present, answer (accept / counter / decline) and expire, in random order,
against the real system.

Contracts live in a migrated SQLite database (activities.contract_store); renewals run on
Temporal's time-skipping test server with the real worker (worker.build_worker). The state
machine API is synchronous, so one event loop runs on a background thread and holds the
environment and the worker for the whole run; every example uses fresh contract ids and
terminates the workflows it started when it ends.

Every renewal runs under the ``negotiation`` patch (renewal-semantics.md §3, §6): request changes
waits for procurement's edited version, a new version supersedes the previous one, only the
current approved version is presented, the supplier accepts, counters (the next version, made by
whoever recorded it) or declines, an amendment withdraws the approval it contradicts, and a
term is renewed only on a version approved and accepted.

After every step, from the database and the workflows' ``status`` and ``negotiation`` queries:

* at most one open renewal per contract term: ``renewals`` is unique on (contract_id, term),
  each term id only ever has the one run it started with, a contract has at most one running
  workflow and at most one renewal without an outcome;
* no approval (stored, or in the workflow's version events) was given by the version's maker,
  the renewal's requester or the contract's owner;
* the audit trail only grows: the row count never falls and earlier rows never change;
* every outcome on a version is bound to a stored version whose content hash matches, whose
  stored text still hashes to it, that legal approved under that hash and that the supplier
  accepted under that hash;
* what a running workflow reports (drafts, decisions) is what the database holds;
* where each version stands (approved, withdrawn, presented, answered, superseded), the version
  awaiting procurement's revision, the approvals withdrawn and the agreement are the model's.

Each step also checks what it did against a small model: a second start is a no-op; a review,
an edit, an offer, an answer and an amendment are accepted exactly when the model says so and
otherwise refused with the error type, field and reason it expects (segregation of duties,
stale versions, wrong hashes, missing comments or evidence, dates in the future, a version with
the supplier, an offer already presented for its approval, an approval of a version whose end
date no longer follows from the contract's, an agreed renewal, an amendment that contradicts the
agreed version); an edited or countered version has the terms edited, its end date counted from
the contract's end date, and its editor as maker; an amendment that contradicts the standing
approval withdraws it (the offer goes with it); an expiry renews on the version agreed (the
contract row then carries its terms) or lapses and ends on an agreed interim extension, for the
months it states and on its commercial terms.

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
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import pytest
from dateutil.relativedelta import relativedelta
from hypothesis import HealthCheck, currently_in_test_context, event, settings
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
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from clients import renewals
from config.binaries import temporal_test_server
from domain.content_hash import content_hash
from domain.milestones import next_term_end
from domain.versions import term_end
from migrations.runner import upgrade
from models.contract import ContractAmendment
from models.drafts import ProposedTerms, TermsEdit
from models.milestones import MilestoneKind, MilestoneState, RenewalPolicy
from models.negotiation import (
    AnswerRecord,
    NegotiationView,
    OfferRecord,
    SupplierAnswerKind,
    VersionApproved,
    VersionEdit,
    VersionStatus,
)
from models.renewal import (
    DraftKind,
    DraftRef,
    OutcomeKind,
    RedraftRequest,
    RenewalStage,
    RenewalStatus,
    ReviewDecisionKind,
    ReviewResult,
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
# Who makes versions (edits, counter-offers entered) and records offers and answers: procurement,
# and a lawyer who then made a version it may not approve.
EDITORS = REDRAFTERS
# A contract's owner: procurement, or a lawyer (who then may approve none of its versions).
OWNERS = ("procurement@example.com", "legal-b@example.com")
LAWYERS = ("legal-a@example.com", "legal-b@example.com", "counsel@example.com")
EDITS = ("price", "notice", "term", "cap", "nothing", "negative")
POLICY = RenewalPolicy()  # what clients.renewals.start_renewal starts every renewal with
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


def _person(name: str | None) -> str:
    """One person to the maker/checker rule whatever the spelling (domain.review compares so)."""
    return (name or "").strip().casefold()


@dataclass
class Version:
    """What the model expects of one version of a term's terms; the workflow's ``negotiation``
    query must report exactly this (:meth:`as_status`) after every step."""

    ref: DraftRef
    approved_hash: str | None = None
    approved_on: date | None = None
    withdrawn: bool = False
    presented_on: date | None = None
    presented_by: str | None = None
    answer: SupplierAnswerKind | None = None
    answered_on: date | None = None
    accepted_hash: str | None = None
    superseded_by: int | None = None
    rejected: bool = False

    @property
    def number(self) -> int:
        return self.ref.version

    @property
    def maker(self) -> str:
        return self.ref.requested_by

    @property
    def terms(self) -> dict[str, Any]:
        assert self.ref.terms is not None, f"version {self.number} has no stored terms"
        return self.ref.terms

    @property
    def standing(self) -> bool:
        """Its approval stands: given, not withdrawn, not replaced by a later version."""
        return self.approved_hash is not None and self.superseded_by is None

    def as_status(self) -> VersionStatus:
        return VersionStatus(
            version=self.number,
            approved_hash=self.approved_hash,
            approved_on=self.approved_on,
            withdrawn=self.withdrawn,
            presented_on=self.presented_on,
            presented_by=self.presented_by,
            answer=self.answer,
            answered_on=self.answered_on,
            accepted_hash=self.accepted_hash,
            superseded_by=self.superseded_by,
        )


@dataclass
class Negotiation:
    """One term's versions as the model sees them (renewal-semantics.md §3)."""

    versions: dict[int, Version] = field(default_factory=dict)
    awaiting: int | None = None  # legal requested changes to this version
    agreed: int | None = None  # approved and accepted on one hash
    withdrawn: list[tuple[int, str]] = field(default_factory=list)  # approvals, in order

    @property
    def current(self) -> Version | None:
        return self.versions[max(self.versions)] if self.versions else None

    def add(self, ref: DraftRef) -> Version:
        """A new version supersedes the one before (its approval no longer stands) and answers
        legal's request for changes."""
        previous = self.current
        if previous is not None:
            assert ref.version == previous.number + 1, (ref.version, previous.number)
            previous.superseded_by = ref.version
        self.awaiting = None
        self.versions[ref.version] = Version(ref)
        return self.versions[ref.version]


@dataclass
class Tracked:
    """What the test knows about one contract it registered."""

    cid: str
    start_date: date
    owner: str
    runs: dict[int, str] = field(default_factory=dict)  # term -> the run id of its workflow
    neg: dict[int, Negotiation] = field(default_factory=dict)  # term -> its versions
    outcomes_checked: set[int] = field(default_factory=set)
    # term -> the contract's usual term length (renewal_term_months) while that term ran
    usual_months: dict[int, int] = field(default_factory=dict)
    term: int = 1  # current term, from the database
    status: RenewalStatus | None = None  # the current term's status, when its workflow runs
    running: bool = False

    @property
    def negotiation(self) -> Negotiation:
        return self.neg.setdefault(self.term, Negotiation())


@dataclass(frozen=True)
class Refusal:
    """What the workflow must answer a request with: the error type, the words of the reason and
    (when the reason names one) the field."""

    type: str
    words: str
    field: str | None = None


CAPPED = "CPI, at most 2 % per year"


def _terms_edit(name: str, base: dict[str, Any]) -> TermsEdit:
    """A person's edit of ``base`` (a version's stored terms), by name."""
    if name == "price":
        return TermsEdit(unit_price=Decimal(base["unit_price"]) + 10)
    if name == "notice":
        return TermsEdit(notice_period_days=60 if base["notice_period_days"] != 60 else 30)
    if name == "term":
        return TermsEdit(term_months=int(base["term_months"]) + 6)
    if name == "cap":
        return TermsEdit(price_adjustment=CAPPED, price_adjustment_cap_pct=Decimal(2))
    if name == "negative":
        return TermsEdit(unit_price=Decimal(-1))
    assert name == "nothing", name
    return TermsEdit()


def _edited(
    base: Version, edit: TermsEdit, *, current_end: date
) -> tuple[dict[str, Any] | None, tuple[str, str] | None]:
    """The next version's terms (as stored) or the field and words of the refusal: the clauses
    the edit sets replace the base's, the end date follows from the contract's end date now."""
    if edit.unit_price is not None and edit.unit_price <= 0:
        return None, ("unit_price", "greater than 0")
    before = ProposedTerms.model_validate(base.terms)
    values = {
        k: v
        for k, v in edit.model_dump().items()
        if v is not None and k != "remove_price_adjustment_cap"
    }
    merged = before.model_copy(update=values)
    new_end = term_end(current_end, merged.term_months, base.ref.kind)
    merged = merged.model_copy(update={"new_end_date": new_end})
    if merged.notice_period_days > (new_end - current_end).days:
        return None, ("notice_period_days", "longer than the term")
    if merged.as_json() == before.as_json():
        return None, ("terms", "changes nothing")
    return merged.as_json(), None


def _dates_refusal(v: Version, *, contract_end: date) -> str | None:
    """Why legal may not approve version ``v`` while the contract ends on ``contract_end``: its
    end date no longer follows from it (an amendment moved the end date while it was in review,
    or withdrew its approval), or None when it does. The next version, made by editing,
    recomputes the end date."""
    t = ProposedTerms.model_validate(v.terms)
    expected = term_end(contract_end, t.term_months, v.ref.kind)
    if expected == t.new_end_date:
        return None
    return (
        f"draft_version: version {v.number} ends on {t.new_end_date.isoformat()}, but from the "
        f"contract's end date {contract_end.isoformat()} its term ends on {expected.isoformat()}; "
        "make the next version (edit its terms) before approving"
    )


def _label(words: str) -> str:
    """A refusal's reason as the run's summary counts it (without its dates and names)."""
    if " ends on " in words:
        return "the end date no longer follows"
    if " was presented on " in words:
        return "presented already"
    return words


def _contradicts(v: Version, *, end_date: date | None, notice: int | None) -> list[str]:
    """The fields of an amendment that contradict version ``v``'s terms."""
    t = v.terms
    found = []
    if end_date is not None and (
        term_end(end_date, int(t["term_months"]), v.ref.kind).isoformat() != t["new_end_date"]
    ):
        found.append("end_date")
    if notice is not None and notice != t["notice_period_days"]:
        found.append("notice_period_days")
    return found


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
# Offsets from the current version, and from today, that a stale or careless form carries.
VERSION_OFFSET = st.sampled_from([0, 0, 0, -1, 1])
DAY_OFFSET = st.sampled_from([0, 0, 0, -1, 1])
HASH_CHOICE = st.sampled_from(["none", "right", "right", "wrong"])


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

    def _today(self) -> date:
        return self._now().date()

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
        term's run (which must never change), the current term's status (and the versions the
        system made since the last step), finished terms' outcomes against the model."""
        self._run(self.rt.settle(self._workflow_ids()))
        with transaction(self.rt.sessions) as s:
            rows = {
                cid: (term, months)
                for cid, term, months in s.execute(
                    select(
                        ContractRow.id, ContractRow.current_term, ContractRow.renewal_term_months
                    ).where(ContractRow.id.in_(list(self.tracked)))
                )
            }
        for c in self.tracked.values():
            c.term, months = rows[c.cid]
            c.usual_months.setdefault(c.term, months)
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
                    self._sync(c, term, c.status)

    def _sync(self, c: Tracked, term: int, status: RenewalStatus) -> None:
        """Versions the rules did not make: the system's v1 at the first discussion and the
        interim extension a lapse puts in review. Legal's request for changes never makes one."""
        neg = c.neg.setdefault(term, Negotiation())
        for d in status.drafts:
            known = neg.versions.get(d.version)
            if known is not None:
                assert (known.ref.content_hash, known.maker) == (d.content_hash, d.requested_by)
                continue
            first = d.version == 1 and d.kind is DraftKind.RENEGOTIATION
            interim = d.kind is DraftKind.INTERIM_EXTENSION and status.lapsed_on is not None
            assert first or interim, f"{c.cid} term {term}: version {d.version} ({d.kind}) unasked"
            assert d.requested_by == REQUESTER, d
            neg.add(d)

    def _compare(self, c: Tracked, term: int, status: RenewalStatus, view: NegotiationView) -> None:
        """The workflow's versions, approvals, offers, answers, withdrawals and agreement are
        the model's; every approval was given by a checker (§6)."""
        neg = c.neg.setdefault(term, Negotiation())
        where = f"{c.cid} term {term}"
        assert view.active, f"{where}: a new run must take the negotiation patch"
        assert [(d.version, d.content_hash, d.requested_by) for d in status.drafts] == [
            (v.number, v.ref.content_hash, v.maker) for _, v in sorted(neg.versions.items())
        ], where
        for v in neg.versions.values():
            reported = view.state.status(v.number) or VersionStatus(version=v.number)
            assert reported == v.as_status(), (where, reported, v.as_status())
        agreed = view.state.agreed
        if neg.agreed is None:
            assert agreed is None, (where, agreed)
        else:
            v = neg.versions[neg.agreed]
            assert agreed is not None and agreed.version == v.number, (where, agreed)
            # Renewed = approved ∧ accepted on one hash: the version's own.
            assert agreed.content_hash == v.approved_hash == v.accepted_hash == v.ref.content_hash
        assert view.awaiting_revision == neg.awaiting, (where, view.awaiting_revision)
        withdrawn = [
            (e.version, e.content_hash) for e in view.events if e.kind == "approval_withdrawn"
        ]
        assert withdrawn == neg.withdrawn, (where, withdrawn, neg.withdrawn)
        for e in view.events:
            if isinstance(e, VersionApproved):
                barred = {_person(neg.versions[e.version].maker), _person(REQUESTER)}
                barred.add(_person(c.owner))
                assert _person(e.by) not in barred, f"{where}: {e.by} approved v{e.version}"

    def _check_outcome(self, c: Tracked, term: int) -> None:
        if term in c.outcomes_checked:
            return
        final = self._run(renewals.get_status(self.rt.client, contract_id=c.cid, term=term))
        view = self._run(renewals.get_negotiation(self.rt.client, contract_id=c.cid, term=term))
        self._sync(c, term, final)
        self._compare(c, term, final, view)
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
            term_end_date = renewal.term_end_date
            row = s.get(ContractRow, c.cid)
            assert row is not None
            contract = (
                row.current_term,
                row.end_date,
                row.unit_price,
                row.annual_volume,
                row.exclusivity,
                row.payment_terms,
                row.price_adjustment,
                row.price_adjustment_cap_pct,
                row.notice_period_days,
                row.renewal_term_months,
            )
        # A fixed term ends only on a version approved by legal AND accepted by the supplier on
        # one content hash: the renegotiation (renewed) or, after it lapsed, the interim
        # extension (renewal-semantics.md §3, §4). Approved alone is not agreed.
        neg = c.neg.get(term)
        assert neg is not None and neg.agreed is not None, (
            f"{c.cid} term {term} ended with nothing agreed: {detail}"
        )
        v = neg.versions[neg.agreed]
        interim = v.ref.kind is DraftKind.INTERIM_EXTENSION
        expected = OutcomeKind.INTERIM_EXTENSION if interim else OutcomeKind.RENEWED
        assert detail["kind"] == expected.value, detail
        assert detail["approved_version"] == v.number, detail
        assert detail["approved_content_hash"] == v.approved_hash == v.accepted_hash, detail
        assert c.term > term, f"{c.cid}: term {term} finished but the contract stayed in it"
        if contract[0] == term + 1:  # the row as this outcome left it
            terms = ProposedTerms.model_validate(v.terms)
            assert detail["new_end_date"] == contract[1].isoformat(), (detail, contract)
            if interim:
                # §4: end + the interim months agreed, on the version's terms; the contract's
                # usual term length stays (an interim extension bridges, it is not the term).
                assert contract[1:9] == (
                    term_end(term_end_date, terms.term_months, v.ref.kind),
                    terms.unit_price,
                    terms.annual_volume,
                    terms.exclusivity,
                    terms.payment_terms,
                    terms.price_adjustment,
                    terms.price_adjustment_cap_pct,
                    terms.notice_period_days,
                ), ("the interim extension runs for the months agreed", contract, terms)
                if term in c.usual_months:
                    assert contract[9] == c.usual_months[term], (contract, c.usual_months)
            else:
                assert contract[1:] == (
                    next_term_end(term_end_date, terms.term_months),
                    terms.unit_price,
                    terms.annual_volume,
                    terms.exclusivity,
                    terms.payment_terms,
                    terms.price_adjustment,
                    terms.price_adjustment_cap_pct,
                    terms.notice_period_days,
                    terms.term_months,
                ), (contract, terms)
        c.outcomes_checked.add(term)

    def _note(self, what: str) -> None:
        """Counted in ``--hypothesis-show-statistics`` and in the run's summary."""
        if currently_in_test_context():  # not when a plain test drives the machine
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

    def _attempt(self, call: Coroutine[Any, Any, T], refusal: Refusal | None) -> T | None:
        """Send an update the model judged: accepted (its answer), or refused as the model says
        (None). A refusal the model did not foresee, or an acceptance, fails the step."""
        if refusal is None:
            return self._run(call)
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            self._run(call)
        cause = refused.value.cause
        assert isinstance(cause, ApplicationError), cause
        message = str(cause)
        assert cause.type == refusal.type, (refusal, cause.type, message)
        assert refusal.words in message, (refusal, message)
        if refusal.field is not None:
            assert f"{refusal.field}: " in message, (refusal, message)
        return None

    def _checker(self, c: Tracked, v: Version) -> str:
        barred = {_person(v.maker), _person(REQUESTER), _person(c.owner)}
        return next(r for r in LAWYERS if _person(r) not in barred)

    # ------------------------------------------------------------------ rules

    @initialize(
        target=contracts,
        months=st.integers(1, 3),
        month_end=st.booleans(),
        notice=st.integers(0, 90),
        owner=st.sampled_from(OWNERS),
    )
    def first_contract(self, months: int, month_end: bool, notice: int, owner: str) -> str:
        """Every example starts with one renewal running inside the 3-month window (its first
        draft is made at once), so that the review rules have work from the first step."""
        now = self._now()
        if now.hour >= 21:
            # Offers and answers are dated "today" (or a day off on purpose): keep the server
            # clock clear of midnight UTC, where the test's day and the workflow's could differ.
            self._sleep_until(now.date())
        cid = self._register(months, month_end, notice, owner)
        self.start(cid, together=False)
        return cid

    @rule(
        target=contracts,
        months=st.integers(1, 14),
        month_end=st.booleans(),
        notice=st.integers(0, 90),
        owner=st.sampled_from(OWNERS),
    )
    def register_contract(self, months: int, month_end: bool, notice: int, owner: str) -> str:
        return self._register(months, month_end, notice, owner)

    def _register(self, months: int, month_end: bool, notice: int, owner: str) -> str:
        cid = f"SM-{uuid.uuid4().hex[:12]}"
        today = self._today()
        start = today - relativedelta(months=12)
        end = today + relativedelta(months=months, day=31 if month_end else today.day)
        with transaction(self.rt.sessions) as s:
            register(
                s, id=cid, start_date=start, end_date=end, notice_period_days=notice, owner=owner
            )
        self.tracked[cid] = Tracked(cid, start, owner)
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
        prepare=st.sampled_from([None, None, "approved", "presented"]),
    )
    def amend(
        self, pick: int, days: int, notice: int | None, change_end: bool, prepare: str | None
    ) -> None:
        """An amendment after approval withdraws the approval it contradicts (the offer goes
        with it); one that contradicts the version the supplier accepted is refused
        (``prepare``: the current version approved, or presented, first)."""
        cid = _choose(self._open(), pick)
        if cid is None:
            self._note("amend: nothing open")
            return
        c = self.tracked[cid]
        if prepare is not None and c.negotiation.current is not None:
            self._agree(c, until=prepare)
            if not c.running or c.status is None or c.status.outcome is not None:
                return
        assert c.status is not None and c.status.end_date is not None
        term = c.term
        neg = c.negotiation
        if c.status.lapsed_on is not None:
            # A lapsed term is settled by an agreed interim extension or by recording what
            # happened, not by moving its end date after the fact.
            self._note("amend: refused, the term lapsed")
            self._attempt(
                renewals.amend_renewal(
                    self.rt.client,
                    signer=SIGNED,
                    contract_id=cid,
                    term=term,
                    amendment=ContractAmendment(
                        end_date=self._today() + timedelta(days=30),
                        amended_by=REQUESTER,
                        reason="state machine",
                    ),
                ),
                Refusal("RenewalClosed", "reached expiry"),
            )
            return
        change_end = change_end or notice is None
        new_end = self._today() + timedelta(days=days) if change_end else None
        amendment = ContractAmendment(
            end_date=new_end,
            notice_period_days=notice,
            amended_by=REQUESTER,
            reason="state machine",
        )
        current = neg.current
        contradicted = (
            _contradicts(current, end_date=new_end, notice=notice)
            if current is not None and current.standing
            else []
        )
        refusal = None
        if contradicted and current is not None and neg.agreed == current.number:
            refusal = Refusal("InvalidAmendment", "which the supplier accepted", contradicted[0])
        self._note(
            "amend: refused, contradicts the agreed version"
            if refusal
            else "amend: withdraws the approval it contradicts"
            if contradicted
            else "amend: into the past"
            if days < 0 and change_end
            else "amend: applied"
        )
        status = self._attempt(
            renewals.amend_renewal(
                self.rt.client, signer=SIGNED, contract_id=cid, term=term, amendment=amendment
            ),
            refusal,
        )
        if status is None:
            self._refresh()
            return
        expected_end = new_end or c.status.end_date
        assert status.end_date == expected_end
        if contradicted and current is not None:
            assert current.approved_hash is not None
            neg.withdrawn.append((current.number, current.approved_hash))
            current.approved_hash = current.approved_on = None
            current.presented_on = current.presented_by = None
            current.withdrawn = True
            assert status.stage is RenewalStage.LEGAL_REVIEW, status.stage
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
        """The first draft comes at the first discussion; after that the system never drafts
        terms again: a redraft is refused, after a rejection too (the next version is
        procurement's edit)."""
        cid = _choose(self._open(), pick)
        if cid is None:
            self._note("draft: nothing open")
            return
        c = self.tracked[cid]
        term = c.term
        status = c.status
        assert status is not None
        current = c.negotiation.current
        if current is not None:
            request = RedraftRequest(requested_by=who, reason="state machine: try again")
            self._note(
                f"draft: redraft refused {'after' if current.rejected else 'without'} a rejection"
            )
            self._attempt(
                renewals.request_redraft(
                    self.rt.client, signer=SIGNED, contract_id=cid, term=term, request=request
                ),
                Refusal("VersionConflict", "edit_version")
                if current.rejected
                else Refusal("InvalidReview", "only after the current one was rejected"),
            )
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
        current = c.negotiation.current
        assert current is not None
        self._review(
            c,
            ReviewSubmission(
                decision=decision,
                reviewer=reviewer,
                draft_version=max(1, current.number + version_offset),
                content_hash={
                    "none": None,
                    "right": current.ref.content_hash,
                    "wrong": "0" * 64,
                }[hash_choice],
                comment=comment,
            ),
            resend=resend,
        )

    def _review_refusal(self, c: Tracked, sub: ReviewSubmission) -> str | None:
        """Why the workflow must refuse this review, or None when it must accept it."""
        assert c.status is not None
        if c.status.outcome is not None:
            return "reviews are closed"
        current = c.negotiation.current
        if current is None:
            return "no draft is awaiting review yet"
        if current.standing:
            return "already approved"
        if current.rejected:
            return "was rejected"
        if c.negotiation.awaiting == current.number:
            return "waits for procurement's next version"
        if sub.draft_version != current.number:
            return "is not the draft under review"
        if sub.content_hash is not None and sub.content_hash != current.ref.content_hash:
            return "content_hash"
        if sub.decision is ReviewDecisionKind.APPROVE and _person(sub.reviewer) in {
            _person(current.maker),
            _person(REQUESTER),
            _person(c.owner),
        }:
            return "segregation of duties"
        if sub.decision is ReviewDecisionKind.APPROVE:
            assert c.status.end_date is not None
            return _dates_refusal(current, contract_end=c.status.end_date)
        if not sub.comment.strip():
            return "comment: required"
        return None

    def _review(self, c: Tracked, submission: ReviewSubmission, *, resend: bool = False) -> bool:
        term = c.term
        assert c.status is not None
        current = c.negotiation.current
        assert current is not None
        decision = submission.decision
        expected_refusal = self._review_refusal(c, submission)
        self._note(
            f"review: {decision.value} "
            + (f"refused ({_label(expected_refusal)})" if expected_refusal else "accepted")
        )
        request_id = f"sm-{uuid.uuid4().hex}"

        def call() -> Coroutine[Any, Any, ReviewResult]:
            return renewals.submit_review(
                self.rt.client,
                signer=SIGNED,
                contract_id=c.cid,
                term=term,
                submission=submission,
                request_id=request_id,
            )

        refusal = None if expected_refusal is None else Refusal("InvalidReview", expected_refusal)
        result = self._attempt(call(), refusal)
        if result is None:
            self._refresh()
            return False
        assert result.record.decision is decision
        assert result.record.draft_version == current.number
        assert result.record.content_hash == current.ref.content_hash
        lapsed = c.status.lapsed_on is not None
        if decision is ReviewDecisionKind.APPROVE:
            current.approved_hash = current.ref.content_hash
            current.approved_on = result.record.decided_at.date()
            current.withdrawn = False
            assert result.stage is (RenewalStage.LAPSED if lapsed else RenewalStage.APPROVED)
        elif decision is ReviewDecisionKind.REJECT:
            current.rejected = True
        else:
            # Legal's comment is procurement's to answer: no version re-rendered on the same
            # terms, and legal cannot decide this version again.
            assert result.new_draft is None, result.new_draft
            assert result.stage is RenewalStage.CHANGES_REQUESTED, result.stage
            c.negotiation.awaiting = current.number
        if resend:  # the same form posted twice counts once
            assert self._run(call()) == result
        self._refresh()
        with transaction(self.rt.sessions) as s:
            stored = s.scalar(
                select(func.count())
                .select_from(ReviewDecisionRow)
                .where(ReviewDecisionRow.update_id == request_id)
            )
        assert stored == 1
        return True

    @rule(
        pick=PICK,
        who=st.sampled_from(EDITORS),
        edit=st.sampled_from(EDITS),
        version_offset=VERSION_OFFSET,
    )
    def edit(self, pick: int, who: str, edit: str, version_offset: int) -> None:
        """Procurement makes the next version by editing the current one's terms."""
        cid = _choose(self._in_review(), pick)
        if cid is None:
            self._note("edit: nothing in review")
            return
        c = self.tracked[cid]
        current = c.negotiation.current
        assert current is not None
        self._edit(
            c,
            who=who,
            based_on=max(1, current.number + version_offset),
            terms_edit=_terms_edit(edit, current.terms),
            name=edit,
        )

    def _edit_refusal(
        self, c: Tracked, based_on: int, terms_edit: TermsEdit
    ) -> tuple[Refusal | None, dict[str, Any] | None]:
        neg = c.negotiation
        current = neg.current
        assert current is not None and c.status is not None and c.status.end_date is not None
        if based_on != current.number:
            return Refusal(
                "VersionConflict", "is not the current version", "based_on_version"
            ), None
        if neg.agreed is not None:
            return Refusal(
                "VersionConflict", f"the renewal is agreed on version {neg.agreed}"
            ), None
        if current.presented_on is not None and current.answer is None:
            return Refusal("VersionConflict", "is with the supplier"), None
        terms, why = _edited(current, terms_edit, current_end=c.status.end_date)
        if why is not None:
            return Refusal("InvalidVersion", why[1], why[0]), None
        return None, terms

    def _edit(
        self, c: Tracked, *, who: str, based_on: int, terms_edit: TermsEdit, name: str
    ) -> bool:
        current = c.negotiation.current
        assert current is not None
        refusal, terms = self._edit_refusal(c, based_on, terms_edit)
        self._note(f"edit: {name} " + (f"refused ({refusal.words})" if refusal else "accepted"))
        made = self._attempt(
            renewals.edit_version(
                self.rt.client,
                signer=SIGNED,
                contract_id=c.cid,
                term=c.term,
                edit=VersionEdit(edited_by=who, based_on_version=based_on, edit=terms_edit),
            ),
            refusal,
        )
        if made is not None:
            # The next version is the editor's (they may not approve it), with the terms edited
            # and the end date counted from the contract's end date now.
            assert (made.version, made.kind, made.requested_by) == (
                current.number + 1,
                current.ref.kind,
                who,
            ), made
            assert made.terms == terms, (made.terms, terms)
            c.negotiation.add(made)
        self._refresh()
        return made is not None

    @rule(
        pick=PICK,
        by=st.sampled_from(EDITORS),
        day_offset=DAY_OFFSET,
        hash_choice=HASH_CHOICE,
        version_offset=VERSION_OFFSET,
        prepare=st.booleans(),
    )
    def present(
        self,
        pick: int,
        by: str,
        day_offset: int,
        hash_choice: str,
        version_offset: int,
        prepare: bool,
    ) -> None:
        """Procurement records that a version was presented to the supplier (``prepare``: once
        legal approved it)."""
        cid = _choose(self._in_review(), pick)
        if cid is None:
            self._note("present: nothing in review")
            return
        c = self.tracked[cid]
        if prepare:
            self._agree(c, until="approved")
            if not c.running or c.status is None or c.status.outcome is not None:
                return
        current = c.negotiation.current
        assert current is not None
        self._present(
            c,
            version=max(1, current.number + version_offset),
            on=self._today() + timedelta(days=day_offset),
            by=by,
            hashed={"none": None, "right": current.ref.content_hash, "wrong": "0" * 64}[
                hash_choice
            ],
        )

    def _offer_refusal(
        self, c: Tracked, version: int, on: date, hashed: str | None
    ) -> Refusal | None:
        neg = c.negotiation
        v = neg.current
        assert v is not None
        if version != v.number:
            return Refusal("InvalidOffer", "is not the current version", "draft_version")
        if on > self._today():
            return Refusal("InvalidOffer", "is in the future", "presented_on")
        if neg.agreed is not None:
            return Refusal("InvalidOffer", "nothing to present", "draft_version")
        if not v.standing:
            why = "its approval was withdrawn" if v.withdrawn else "legal has not approved it"
            return Refusal("InvalidOffer", why, "draft_version")
        if v.answer is not None:
            return Refusal("InvalidOffer", "already answered", "draft_version")
        if v.presented_on is not None:
            # One offer per approval (a withdrawal voids it: presented again once re-approved).
            return Refusal(
                "InvalidOffer",
                f"version {v.number} was presented on {v.presented_on.isoformat()} by "
                f"{v.presented_by}; record the supplier's answer",
                "draft_version",
            )
        if hashed is not None and hashed != v.approved_hash:
            return Refusal("InvalidOffer", "does not match the approved text", "content_hash")
        assert v.approved_on is not None
        if on < v.approved_on:
            return Refusal("InvalidOffer", "before version", "presented_on")
        return None

    def _present(self, c: Tracked, *, version: int, on: date, by: str, hashed: str | None) -> bool:
        assert c.status is not None
        current = c.negotiation.current
        assert current is not None
        refusal = self._offer_refusal(c, version, on, hashed)
        self._note("present: " + (f"refused ({_label(refusal.words)})" if refusal else "accepted"))
        status = self._attempt(
            renewals.record_offer(
                self.rt.client,
                signer=SIGNED,
                contract_id=c.cid,
                term=c.term,
                offer=OfferRecord(
                    draft_version=version, presented_on=on, presented_by=by, content_hash=hashed
                ),
            ),
            refusal,
        )
        if status is not None:
            current.presented_on, current.presented_by = on, by
            lapsed = c.status.lapsed_on is not None
            assert status.stage is (RenewalStage.LAPSED if lapsed else RenewalStage.OFFER_PRESENTED)
        self._refresh()
        return status is not None

    @rule(
        pick=PICK,
        kind=st.sampled_from(list(SupplierAnswerKind)),
        by=st.sampled_from(EDITORS),
        day_offset=DAY_OFFSET,
        hash_choice=HASH_CHOICE,
        evidence=st.sampled_from([True, True, True, False]),
        counter=st.sampled_from(EDITS),
        version_offset=st.sampled_from([0, 0, 0, -1]),
        prepare=st.booleans(),
    )
    def answer(
        self,
        pick: int,
        kind: SupplierAnswerKind,
        by: str,
        day_offset: int,
        hash_choice: str,
        evidence: bool,
        counter: str,
        version_offset: int,
        prepare: bool,
    ) -> None:
        """Procurement records the supplier's answer: accepted, a counter-offer (its terms are
        the next version, made by the recorder, for legal) or declined (``prepare``: to a
        version approved and presented)."""
        cid = _choose(self._in_review(), pick)
        if cid is None:
            self._note("answer: nothing in review")
            return
        c = self.tracked[cid]
        if prepare:
            self._agree(c, until="presented")
            if not c.running or c.status is None or c.status.outcome is not None:
                return
        current = c.negotiation.current
        assert current is not None
        version = c.negotiation.versions[max(1, current.number + version_offset)]
        self._answer(
            c,
            version=version.number,
            kind=kind,
            on=self._today() + timedelta(days=day_offset),
            by=by,
            hashed={"none": None, "right": version.ref.content_hash, "wrong": "0" * 64}[
                hash_choice
            ],
            evidence=evidence,
            counter=_terms_edit(counter, version.terms)
            if kind is SupplierAnswerKind.COUNTERED
            else None,
        )

    def _answer_refusal(
        self,
        c: Tracked,
        *,
        version: int,
        kind: SupplierAnswerKind,
        on: date,
        hashed: str | None,
        evidence: bool,
        counter: TermsEdit | None,
    ) -> tuple[Refusal | None, dict[str, Any] | None]:
        neg = c.negotiation
        v = neg.versions[version]
        assert c.status is not None and c.status.end_date is not None

        def refused(words: str, field: str) -> tuple[Refusal, None]:
            return Refusal("InvalidAnswer", words, field), None

        if on > self._today():
            return refused("is in the future", "answered_on")
        if v.superseded_by is not None:
            return refused(f"superseded by version {v.superseded_by}", "draft_version")
        if neg.agreed is not None:
            return refused("already agreed", "draft_version")
        if v.presented_on is None:
            why = "its offer was withdrawn" if v.withdrawn else "never presented"
            return refused(why, "draft_version")
        if v.answer is not None:
            return refused("already answered", "draft_version")
        if on < v.presented_on:
            return refused("before version", "answered_on")
        if hashed is not None and hashed != v.approved_hash:
            return refused("is not the approved text", "content_hash")
        if kind is SupplierAnswerKind.ACCEPTED:
            if hashed is None:
                return refused("binds the agreement", "content_hash")
            if not evidence:
                return refused("who signed or confirmed", "confirmed_by")
        if counter is not None:
            terms, edit_refused = _edited(v, counter, current_end=c.status.end_date)
            if edit_refused is not None:
                return refused(edit_refused[1], edit_refused[0])
            return None, terms
        return None, None

    def _answer(
        self,
        c: Tracked,
        *,
        version: int,
        kind: SupplierAnswerKind,
        on: date,
        by: str,
        hashed: str | None,
        evidence: bool = True,
        counter: TermsEdit | None = None,
    ) -> bool:
        assert c.status is not None
        lapsed = c.status.lapsed_on is not None
        v = c.negotiation.versions[version]
        refusal, terms = self._answer_refusal(
            c, version=version, kind=kind, on=on, hashed=hashed, evidence=evidence, counter=counter
        )
        self._note(
            f"answer: {kind.value} " + (f"refused ({refusal.words})" if refusal else "accepted")
        )
        accepted = kind is SupplierAnswerKind.ACCEPTED
        status = self._attempt(
            renewals.record_answer(
                self.rt.client,
                signer=SIGNED,
                contract_id=c.cid,
                term=c.term,
                answer=AnswerRecord(
                    draft_version=version,
                    answer=kind,
                    answered_on=on,
                    recorded_by=by,
                    content_hash=hashed,
                    confirmed_by="Sales director, Supplier Co." if accepted and evidence else "",
                    reference="signed PDF 2026-117" if accepted and evidence else "",
                    note="state machine",
                    counter_terms=counter,
                ),
            ),
            refusal,
        )
        if status is not None:
            v.answer, v.answered_on = kind, on
            if accepted:
                v.accepted_hash = hashed
                c.negotiation.agreed = v.number
                if not lapsed:
                    assert status.stage in (RenewalStage.AGREED, RenewalStage.FINAL_TERMS_ISSUED)
            elif kind is SupplierAnswerKind.COUNTERED:
                made = status.drafts[-1]
                # The counter-offer is the next version, made by the person who recorded it.
                assert (made.version, made.kind, made.requested_by) == (
                    v.number + 1,
                    v.ref.kind,
                    by,
                ), made
                assert made.terms == terms, (made.terms, terms)
                c.negotiation.add(made)
            else:
                assert f"the supplier declined version {v.number}" in status.escalations[-1]
        self._refresh()
        return status is not None

    @rule(days=st.integers(1, 60))
    def advance(self, days: int) -> None:
        self._clock_sleep(timedelta(days=days))
        self._refresh()

    @rule(pick=PICK, agree=st.booleans())
    def expire(self, pick: int, agree: bool) -> None:
        """Run the term to its end: renewed on the version agreed (``agree`` first takes the
        current version there), else lapsed and ended by an agreed interim extension."""
        cid = _choose(self._open(), pick)
        if cid is None:
            self._note("expire: nothing open")
            return
        c = self.tracked[cid]
        term = c.term
        neg = c.negotiation
        assert c.status is not None
        if agree and neg.current is not None and c.status.lapsed_on is None:
            self._agree(c)
        if c.term == term and neg.agreed is None:
            self._agree_interim_after_lapse(c, term)
        handle = renewals.renewal_handle(self.rt.client, contract_id=cid, term=term)
        env = self.rt.env

        async def finish() -> Any:
            async with env.time_skipping_unlocked():  # type: ignore[attr-defined]
                return await handle.result()

        outcome = self._run(self.rt.advance(finish(), self._workflow_ids))
        self._note(f"expire: {outcome.kind.value} (term {min(term, 3)}{'+' if term >= 3 else ''})")
        assert neg.agreed is not None
        agreed = neg.versions[neg.agreed]
        if agreed.ref.kind is DraftKind.INTERIM_EXTENSION:
            assert outcome.kind is OutcomeKind.INTERIM_EXTENSION
        else:
            assert outcome.kind is OutcomeKind.RENEWED
        # renewed ⇒ the hash legal approved is the hash the supplier accepted.
        assert outcome.approved_version == agreed.number
        assert outcome.approved_content_hash == agreed.approved_hash == agreed.accepted_hash
        assert outcome.next_workflow_id == renewal_workflow_id(cid, term + 1)
        self._refresh()
        assert c.term == term + 1
        assert term in c.outcomes_checked

    def _agree(self, c: Tracked, until: str = "agreed") -> None:
        """Take the current version the short way (revise, approve, present, accept) to the
        supplier's agreement, or only ``until`` it is approved or presented; every step judged
        by the model as the rules' steps are."""
        term = c.term
        neg = c.negotiation
        for _ in range(5):
            v = neg.current
            if neg.agreed is not None or c.term != term or v is None:
                return
            assert c.status is not None and c.status.end_date is not None
            # A version whose end date no longer follows from the contract's (amended) end date
            # cannot be approved: the next version, an edit, recomputes it.
            stale = not v.standing and _dates_refusal(v, contract_end=c.status.end_date) is not None
            revise = v.rejected or neg.awaiting == v.number or v.answer is not None or stale
            if not revise and v.standing and until == "approved":
                return
            if not revise and v.standing and v.presented_on and until == "presented":
                return
            today = self._today()
            if revise:
                terms_edit = _terms_edit("price", v.terms)
                if _edited(v, terms_edit, current_end=c.status.end_date)[1] is not None:
                    terms_edit = terms_edit.model_copy(update={"notice_period_days": 30})
                done = self._edit(
                    c,
                    who=REQUESTER,
                    based_on=v.number,
                    terms_edit=terms_edit,
                    name="to agree, the end date moved" if stale else "to agree",
                )
            elif not v.standing:
                done = self._review(
                    c,
                    ReviewSubmission(
                        decision=ReviewDecisionKind.APPROVE,
                        reviewer=self._checker(c, v),
                        draft_version=v.number,
                        content_hash=v.ref.content_hash,
                    ),
                )
            elif v.presented_on is None:
                done = self._present(
                    c, version=v.number, on=today, by=REQUESTER, hashed=v.ref.content_hash
                )
            else:
                done = self._answer(
                    c,
                    version=v.number,
                    kind=SupplierAnswerKind.ACCEPTED,
                    on=today,
                    by=REQUESTER,
                    hashed=v.ref.content_hash,
                )
            assert done, f"{c.cid} term {term}: the way to an agreement was refused at v{v.number}"
        raise AssertionError(f"{c.cid} term {term}: no agreement after five steps")

    def _agree_interim_after_lapse(self, c: Tracked, term: int) -> None:
        """Nothing agreed: the fixed term lapses at its end date and stays open with an interim
        extension in legal review, until a lawyer who did not make it approves it and the
        supplier accepts it."""
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
                    ):
                        return status
                    await asyncio.sleep(0.05)
            raise AssertionError(f"{c.cid} term {term} never lapsed")

        status = self._run(self.rt.advance(lapsed(), self._workflow_ids))
        assert status.outcome is None
        self._refresh()
        assert c.status is not None and c.status.stage is not RenewalStage.COMPLETED
        self._agree(c)
        self._note("expire: lapsed, interim extension agreed")

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
        """Every approval stored: by nobody who made the version, requested the renewal or owns
        the contract (renewal-semantics.md §6)."""
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
                    ContractRow.owner,
                )
                .join(RenewalRow, RenewalRow.id == ReviewDecisionRow.renewal_id)
                .join(ContractRow, ContractRow.id == RenewalRow.contract_id)
                .outerjoin(
                    DraftRow,
                    (DraftRow.renewal_id == ReviewDecisionRow.renewal_id)
                    & (DraftRow.version == ReviewDecisionRow.draft_version),
                )
            ).all()
        for decision, reviewer, version, hashed, renewal_by, draft_by, draft_hash, owner in rows:
            assert draft_by is not None, f"a decision on draft version {version}, never stored"
            assert hashed == draft_hash, f"decision on version {version} under another hash"
            if decision == ReviewDecisionKind.APPROVE.value:
                barred = {_person(draft_by), _person(renewal_by), _person(owner)}
                assert _person(reviewer) not in barred, (reviewer, draft_by, renewal_by, owner)

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
        """Every outcome on a version: the version is stored, its text still hashes to the
        outcome's hash, legal approved it under that hash and the supplier accepted that hash."""
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
                approvals = s.scalar(
                    select(func.count())
                    .select_from(ReviewDecisionRow)
                    .where(
                        ReviewDecisionRow.renewal_id == event.renewal_id,
                        ReviewDecisionRow.decision == ReviewDecisionKind.APPROVE.value,
                        ReviewDecisionRow.draft_version == version,
                        ReviewDecisionRow.content_hash == hashed,
                    )
                )
                # More than one after an amendment withdrew an approval and legal gave it again.
                assert approvals and approvals >= 1, f"outcome on version {version}: no approval"
                answers = [
                    a.detail
                    for a in s.scalars(
                        select(RenewalEventRow).where(
                            RenewalEventRow.renewal_id == event.renewal_id,
                            RenewalEventRow.kind == "supplier_answered",
                        )
                    )
                    if a.detail.get("version") == version
                ]
                assert [(a["answer"], a["content_hash"]) for a in answers] == [
                    (SupplierAnswerKind.ACCEPTED.value, hashed)
                ], f"outcome on version {version}: the supplier's answers {answers}"

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

    @invariant()
    def negotiation_is_the_model(self) -> None:
        """What each running renewal's ``status`` and ``negotiation`` report is what the model
        expects: versions and makers, approvals (only by checkers), offers, answers, the
        version awaiting procurement, the approvals amendments withdrew, the agreement."""
        for c in self.tracked.values():
            if not c.running or c.status is None or c.status.end_date is None:
                continue
            status = self._run(renewals.get_status(self.rt.client, contract_id=c.cid, term=c.term))
            view = self._run(
                renewals.get_negotiation(self.rt.client, contract_id=c.cid, term=c.term)
            )
            self._compare(c, c.term, status, view)

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
            max_examples=10,
            stateful_step_count=16,
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


def test_interim_extension_runs_for_the_months_agreed(runtime: Runtime) -> None:
    """Found by the state machine: a fixed term lapses, procurement edits the interim
    extension to 9 months, legal approves it, the supplier accepts it; the contract must run
    to the end date that version states."""
    machine = _bound(runtime)()
    try:
        cid = machine._register(1, False, 30, OWNERS[0])
        machine.start(cid, together=False)
        machine.amend(pick=0, days=-1, notice=None, change_end=True, prepare=None)  # lapses
        c = machine.tracked[cid]
        interim = c.negotiation.current
        assert interim is not None and interim.ref.kind is DraftKind.INTERIM_EXTENSION
        assert machine._edit(
            c,
            who=REQUESTER,
            based_on=interim.number,
            terms_edit=TermsEdit(term_months=POLICY.interim_extension_months + 6),
            name="term",
        )
        agreed = c.negotiation.current
        assert agreed is not None
        machine._agree(c)
        assert c.neg[1].agreed == agreed.number and c.term == 2
        with transaction(runtime.sessions) as s:
            row = s.get(ContractRow, cid)
            assert row is not None
            assert row.end_date.isoformat() == agreed.terms["new_end_date"]
    finally:
        machine.teardown()


def test_a_moved_end_date_needs_the_next_version(runtime: Runtime) -> None:
    """The three rules the model learnt, walked once whatever Hypothesis draws: an amendment
    moves the end date while version 1 is in review, so approving it is refused and an edit
    that sets nothing is the next version (its end date recomputed); that version is presented
    once per approval; an amendment withdraws its approval, the unchanged version cannot be
    approved again, and the version after it is agreed. Every step is judged by the model."""
    machine = _bound(runtime)()
    try:
        cid = machine._register(2, False, 30, OWNERS[0])
        machine.start(cid, together=False)
        c = machine.tracked[cid]
        first = c.negotiation.current
        assert first is not None and first.number == 1
        machine.amend(pick=0, days=70, notice=None, change_end=True, prepare=None)

        def approve(v: Version) -> bool:
            return machine._review(
                c,
                ReviewSubmission(
                    decision=ReviewDecisionKind.APPROVE,
                    reviewer=machine._checker(c, v),
                    draft_version=v.number,
                    content_hash=v.ref.content_hash,
                ),
            )

        assert c.status is not None and c.status.end_date is not None
        assert _dates_refusal(first, contract_end=c.status.end_date) is not None
        assert not approve(first)
        assert machine._edit(c, who=REQUESTER, based_on=1, terms_edit=TermsEdit(), name="nothing")
        machine._agree(c, until="presented")
        second = c.negotiation.current
        assert second is not None and second.number == 2 and second.presented_on is not None
        assert not machine._present(
            c, version=2, on=machine._today(), by=REQUESTER, hashed=second.ref.content_hash
        )
        machine.amend(pick=0, days=80, notice=None, change_end=True, prepare=None)
        assert c.negotiation.withdrawn == [(2, second.ref.content_hash)]
        assert second.presented_on is None and not approve(second)
        machine._agree(c)
        assert c.neg[1].agreed == 3 and c.term == 1
    finally:
        machine.teardown()
