"""Reliability under real faults, on the Temporal dev server.

* A worker process SIGKILLed around an activity (after its transaction committed but before
  Temporal heard of it, or before it ran); a second worker finishes the renewal, and the database
  holds every row exactly once (tests/faults/killing_worker.py injects the kill).
* The Temporal dev server stopped and restarted on its state file, with renewals waiting on a
  timer and in legal review.
* PostgreSQL unreachable for a while (a TCP proxy that cuts connections): activities retry, the
  renewal proceeds once the database is back; bad data fails at once, without retries.

Each renewal is driven to its end along the negotiation (../shared/domain/renewal-semantics.md
§3, §4): legal asks for changes, procurement's edited version is approved, an amendment moves the
end date to today (withdrawing that approval: approved alone is not agreed) so that expiry runs
now, the fixed term lapses, and the interim extension legal approves and the supplier accepts
ends it; the next term opens.

A worker killed mid-activity is noticed only when the activity's start-to-close timeout (30 s,
90 s for mail; workflows/activity_calls.py) runs out: the activities do not heartbeat. Each kill
case therefore takes about 40 s; the default run drives the whole matrix side by side (17 cases,
8 at a time); ``-m soak`` runs each case on its own, one after the other, for a clean log.
"""

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from email import message_from_bytes
from email.message import Message
from email.policy import default as default_policy
from pathlib import Path
from typing import Any, Literal, TypeVar

import pytest
from aiosmtpd.controller import Controller
from dateutil.relativedelta import relativedelta
from sqlalchemy import Engine, select, text
from sqlalchemy.engine import make_url
from temporalio.api.enums.v1 import EventType, RetryState
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowFailureError,
    WorkflowHandle,
    WorkflowQueryFailedError,
)
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from clients import renewals
from config.binaries import temporal_cli
from config.mail import MailSettings
from domain.outcome import interim_extension_end
from migrations.runner import upgrade
from models.activity_names import ActivityName
from models.contract import ContractAmendment
from models.drafts import TermsEdit
from models.milestones import MilestoneKind, MilestoneState, RenewalPolicy
from models.renewal import (
    DraftKind,
    DraftRef,
    OutcomeKind,
    RenewalStage,
    RenewalStatus,
    ReviewDecisionKind,
    ReviewResult,
    ReviewSubmission,
    TermOutcome,
)
from models.tables import (
    AuditLogRow,
    ContractRow,
    DraftRow,
    OutboxRow,
    RenewalEventRow,
    RenewalRow,
    ReviewDecisionRow,
    ScorecardRow,
)
from store import users as user_store
from store.db import SessionFactory, make_engine, make_session_factory, transaction
from tests.conftest import POSTGRES_URL
from tests.factories import register
from tests.identity_helpers import SIGNED, TEST_IDENTITY_KEYS
from tests.negotiation_helpers import BUYER, agree, edit_version
from worker import build_worker
from workflows import activity_calls
from workflows import search_attributes as sa
from workflows.contract_renewal import ContractRenewalWorkflow
from workflows.ids import renewal_workflow_id

pytestmark = pytest.mark.devserver

ROOT = Path(__file__).resolve().parent.parent
KILLING_WORKER = ROOT / "tests" / "faults" / "killing_worker.py"

OWNER = "buyer@example.com"
REVIEWER = "legal@example.com"
# Milestones fire at midnight: an amendment moving the end date to today makes final terms and
# expiry due at once.
FAST = RenewalPolicy(fire_hour_utc=0, fire_hour_local=0)
# How long Temporal waits, at most, before it retries the activity of a worker that vanished.
DEAD_WORKER_RETRY = max(activity_calls.START_TO_CLOSE, activity_calls.MAIL_START_TO_CLOSE)

T = TypeVar("T")
When = Literal["before", "after"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _utc_today() -> date:
    # The workflow plans with its (UTC) clock; the test must use the same calendar day.
    return datetime.now(UTC).date()


async def _eventually(
    probe: Callable[[], Awaitable[T | None]], *, timeout: float, what: str, every: float = 0.25
) -> T:
    """The first truthy value of ``probe``, polled for at most ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        try:
            value = await probe()
        except (RPCError, WorkflowQueryFailedError, TimeoutError) as exc:
            # No worker to answer a query yet (killed, or the server restarting): ask again.
            value, last = None, exc
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what} ({last!r})")
        await asyncio.sleep(every)


# ---------------------------------------------------------------------------- e-mail sink


class Inbox:
    """A real SMTP server's mailbox (aiosmtpd): what was actually delivered, duplicates too."""

    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.content, policy=default_policy))
        return "250 Message accepted for delivery"

    def count_by_message_id(self) -> Counter[str]:
        return Counter(str(m["Message-ID"]) for m in self.messages)


@dataclass(frozen=True, slots=True)
class Smtp:
    inbox: Inbox
    port: int

    def mail_settings(self) -> MailSettings:
        return MailSettings(
            host="127.0.0.1",
            port=self.port,
            starttls=False,
            use_ssl=False,
            username=None,
            password=None,
            sender="renewals@example.com",
            legal_team="legal-team@example.com",
            escalation="head-of-procurement@example.com",
        )

    def env(self) -> dict[str, str]:
        mail = self.mail_settings()
        return {
            "SMTP_HOST": mail.host,
            "SMTP_PORT": str(mail.port),
            "SMTP_STARTTLS": "false",
            "SMTP_SSL": "false",
            "MAIL_FROM": mail.sender,
            "LEGAL_TEAM_EMAIL": mail.legal_team,
            "ESCALATION_EMAIL": mail.escalation,
        }


@pytest.fixture
def smtp() -> Iterator[Smtp]:
    inbox = Inbox()
    port = _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield Smtp(inbox, port)
    finally:
        controller.stop()


# ---------------------------------------------------------------------------- worker processes


def _worker_env(
    *,
    address: str,
    task_queue: str,
    database_url: str,
    data_dir: Path,
    extra: dict[str, str] | None = None,
) -> dict[str, str]:
    # Only what the worker needs: a developer's DATABASE_URL or SMTP_HOST must not leak in.
    # The identity keys too: the worker checks decisions signed with the test's keys.
    keep = (
        "PATH",
        "HOME",
        "LANG",
        "LC_ALL",
        "TZ",
        "TMPDIR",
        "VIRTUAL_ENV",
        "PYTHONPATH",
        "IDENTITY_SIGNING_KEYS",
        "IDENTITY_SIGNING_KEY_ID",
    )
    env = {k: v for k, v in os.environ.items() if k in keep or k.startswith("PG")}
    env.update(
        {
            "TEMPORAL_ADDRESS": address,
            "TEMPORAL_NAMESPACE": "default",
            "TEMPORAL_TASK_QUEUE": task_queue,
            "DATABASE_URL": database_url,
            "RENEWALS_DATA_DIR": str(data_dir),
            "WORKER_MAX_CONCURRENT_ACTIVITIES": "8",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(extra or {})
    return env


@dataclass
class WorkerProcess:
    proc: "subprocess.Popen[bytes]"
    log: Path

    @classmethod
    def spawn(cls, env: dict[str, str], workdir: Path, name: str) -> "WorkerProcess":
        workdir.mkdir(parents=True, exist_ok=True)
        log = workdir / f"{name}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [sys.executable, str(KILLING_WORKER)],
                env=env,
                cwd=workdir,  # no .env file of the repository is read
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        return cls(proc, log)

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    async def polling(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while "worker polling" not in self.output():
            if self.proc.poll() is not None:
                raise AssertionError(f"worker exited {self.proc.returncode}:\n{self.output()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"worker not polling after {timeout:.0f} s:\n{self.output()}")
            await asyncio.sleep(0.1)

    async def exit_code(self, timeout: float) -> int:
        deadline = time.monotonic() + timeout
        while (code := self.proc.poll()) is None:
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"worker still running after {timeout:.0f} s:\n{self.output()}"
                )
            await asyncio.sleep(0.1)
        return code

    async def stop(self) -> int:
        """SIGTERM (the worker finishes running activities, 30 s at most), SIGKILL after 40 s."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                return await self.exit_code(timeout=40)
            except AssertionError:
                self.proc.kill()
        return await self.exit_code(timeout=10)


# ---------------------------------------------------------------------------- a renewal


def _register_in_window(
    sessions: SessionFactory, cid: str, *, today: date, months_left: int = 2
) -> None:
    with transaction(sessions) as s:
        # Notice 0 and ~2 months left: gather facts and first discussion are due at once.
        register(
            s,
            id=cid,
            owner=OWNER,
            start_date=today - relativedelta(months=12 - months_left),
            end_date=today + relativedelta(months=months_left),
            notice_period_days=0,
        )
        # A database with accounts (the PostgreSQL schema other tests share) takes decisions
        # only from people with an account holding the role.
        if user_store.count_users(s):
            for name, roles in ((OWNER, "procurement"), (REVIEWER, "legal")):
                if not user_store.account_exists(s, username=name):
                    user_store.create_user(s, username=name, display_name=name, roles=roles)


def _handle(client: Client, cid: str, term: int = 1) -> WorkflowHandle[Any, TermOutcome]:
    # Typed by the run method: result() gives a TermOutcome, not the JSON dict.
    return client.get_workflow_handle_for(
        ContractRenewalWorkflow.run, renewal_workflow_id(cid, term)
    )


async def _status(handle: WorkflowHandle[Any, Any]) -> RenewalStatus:
    status: RenewalStatus = await handle.query(
        ContractRenewalWorkflow.status, rpc_timeout=timedelta(seconds=5)
    )
    return status


async def _drafts_made(handle: WorkflowHandle[Any, Any]) -> RenewalStatus | None:
    status = await _status(handle)
    return status if status.drafts else None


@dataclass(frozen=True, slots=True)
class Decisions:
    """The update ids of legal's three decisions in one driven renewal: each applied once."""

    changes: str  # request changes to v1
    approve: str  # approve procurement's v2
    interim: str  # approve the interim extension (v3) after the term lapsed

    @classmethod
    def of(cls, cid: str) -> "Decisions":
        return cls(f"changes-{cid}", f"approve-{cid}", f"approve-interim-{cid}")

    @property
    def ids(self) -> tuple[str, str, str]:
        return self.changes, self.approve, self.interim


# Legal's request for v1, and the clause procurement changes to answer it.
CHANGES_COMMENT = "Payment within 45 days, not 60."
REVISION = TermsEdit(payment_terms="Net 45")


async def _decide(
    client: Client,
    cid: str,
    draft: DraftRef,
    decision: ReviewDecisionKind,
    *,
    request_id: str,
    timeout: float,
    comment: str = "",
) -> ReviewResult:
    """Legal decides ``draft``; ``request_id`` is the update id (a decision applied once)."""
    review = await asyncio.wait_for(
        renewals.submit_review(
            client,
            signer=SIGNED,
            contract_id=cid,
            term=1,
            submission=ReviewSubmission(
                decision=decision,
                reviewer=REVIEWER,
                draft_version=draft.version,
                content_hash=draft.content_hash,
                comment=comment,
            ),
            request_id=request_id,
        ),
        timeout=timeout,
    )
    assert review.record.update_id == request_id, review.record
    assert review.record.content_hash == draft.content_hash, review.record
    return review


def _changes_requested(review: ReviewResult) -> None:
    """Request changes makes no version: the renewal waits for procurement's."""
    assert review.stage is RenewalStage.CHANGES_REQUESTED, review
    assert review.new_draft is None, review


async def _interim_in_review(handle: WorkflowHandle[Any, Any]) -> DraftRef | None:
    """The interim extension a lapsed term put in legal review, once it exists."""
    status = await _status(handle)
    if status.lapsed_on is None or not status.drafts:
        return None
    current = status.drafts[-1]
    return current if current.kind is DraftKind.INTERIM_EXTENSION else None


async def _revise_approve_and_extend(
    client: Client, cid: str, *, decisions: Decisions, today: date, timeout: float
) -> TermOutcome:
    """Legal asked for changes to v1. Procurement makes v2 by editing its terms and legal
    approves it. The end date then moves to ``today``: the amendment withdraws v2's approval
    (its new end date no longer follows from the amended one) and makes final terms and expiry
    due at once. Nothing is agreed, so the fixed term lapses and an interim extension goes to
    legal as v3; legal approves it, procurement presents it and records the supplier's
    acceptance on its hash, and the term ends as interim_extension.

    Every step waits for the workflow, whatever worker (if any) is alive at the time."""
    deadline = time.monotonic() + timeout

    def left() -> float:
        return deadline - time.monotonic()

    handle = _handle(client, cid)
    # Signed for BUYER (the contract's owner, procurement), as clients.renewals signs.
    v2 = await asyncio.wait_for(edit_version(handle, based_on=1, edit=REVISION), timeout=left())
    assert (v2.version, v2.requested_by, v2.answers_comment) == (2, BUYER, CHANGES_COMMENT), v2
    review = await _decide(
        client, cid, v2, ReviewDecisionKind.APPROVE, request_id=decisions.approve, timeout=left()
    )
    assert review.stage is RenewalStage.APPROVED, review
    amended = await asyncio.wait_for(
        renewals.amend_renewal(
            client,
            signer=SIGNED,
            contract_id=cid,
            term=1,
            amendment=ContractAmendment(end_date=today, amended_by=OWNER),
        ),
        timeout=left(),
    )
    # Approved alone is not agreed: the contradicted approval is gone, v2 is back in review.
    assert amended.stage is RenewalStage.LEGAL_REVIEW, amended
    interim = await _eventually(
        lambda: _interim_in_review(handle),
        timeout=left(),
        what=f"{cid} lapsed, its interim extension in review",
    )
    assert interim.version == 3, interim
    review = await _decide(
        client,
        cid,
        interim,
        ReviewDecisionKind.APPROVE,
        request_id=decisions.interim,
        timeout=left(),
    )
    assert review.stage is RenewalStage.LAPSED, review  # supply at risk until the supplier agrees
    agreed = await asyncio.wait_for(agree(handle, interim, on=today), timeout=left())
    assert agreed.drafts[-1].version == interim.version, agreed
    outcome = await asyncio.wait_for(handle.result(), timeout=left())
    assert isinstance(outcome, TermOutcome), outcome
    return outcome


async def _drive_to_outcome(
    client: Client, cid: str, *, decisions: Decisions, end_today: date, timeout: float
) -> TermOutcome:
    """Legal asks for changes to draft 1, then :func:`_revise_approve_and_extend` runs to the
    outcome."""
    deadline = time.monotonic() + timeout
    handle = _handle(client, cid)
    status = await _eventually(lambda: _drafts_made(handle), timeout=timeout, what=f"{cid} draft 1")
    review = await _decide(
        client,
        cid,
        status.drafts[0],
        ReviewDecisionKind.REQUEST_CHANGES,
        request_id=decisions.changes,
        comment=CHANGES_COMMENT,
        timeout=deadline - time.monotonic(),
    )
    _changes_requested(review)
    return await _revise_approve_and_extend(
        client, cid, decisions=decisions, today=end_today, timeout=deadline - time.monotonic()
    )


async def _terminate_quietly(client: Client, cid: str) -> None:
    for term in (1, 2):
        with contextlib.suppress(RPCError):
            await _handle(client, cid, term).terminate("test over")


# ---------------------------------------------------------------------------- what was written


@dataclass
class Written:
    """One finished renewal (v1 revised, v2 approved, the end date amended to today, lapsed,
    the interim extension agreed) as the database holds it."""

    renewals_per_term: Counter[int] = field(default_factory=Counter)
    scorecards: int = 0
    drafts: Counter[tuple[str, int]] = field(default_factory=Counter)
    decisions: Counter[str] = field(default_factory=Counter)
    events: Counter[str] = field(default_factory=Counter)
    event_kinds: Counter[str] = field(default_factory=Counter)
    outbox: Counter[str] = field(default_factory=Counter)
    outbox_kinds: Counter[str] = field(default_factory=Counter)
    audit: Counter[str] = field(default_factory=Counter)
    audit_actions: Counter[str] = field(default_factory=Counter)
    delivered: Counter[str] = field(default_factory=Counter)
    unsent: int = 0
    contract_term: int = 0
    contract_end: date | None = None

    @property
    def duplicates(self) -> int:
        """Rows (or delivered e-mails) beyond the first of each key."""
        keyed = (
            self.renewals_per_term,
            self.drafts,
            self.decisions,
            self.events,
            self.outbox,
            self.audit,
            self.delivered,
        )
        return sum(n - 1 for counter in keyed for n in counter.values() if n > 1) + max(
            0, self.scorecards - 1
        )


def _written(sessions: SessionFactory, cid: str, inbox: Inbox | None) -> Written:
    w = Written()
    wf_id = renewal_workflow_id(cid, 1)
    with transaction(sessions) as s:
        rows = list(s.scalars(select(RenewalRow).where(RenewalRow.contract_id == cid)))
        w.renewals_per_term = Counter(r.term for r in rows)
        term1 = [r.id for r in rows if r.term == 1]
        w.scorecards = len(
            list(s.scalars(select(ScorecardRow.id).where(ScorecardRow.renewal_id.in_(term1))))
        )
        w.drafts = Counter(
            (d.kind, d.version)
            for d in s.scalars(select(DraftRow).where(DraftRow.renewal_id.in_(term1)))
        )
        w.decisions = Counter(
            d.update_id
            for d in s.scalars(
                select(ReviewDecisionRow).where(ReviewDecisionRow.renewal_id.in_(term1))
            )
        )
        events = list(
            s.scalars(select(RenewalEventRow).where(RenewalEventRow.renewal_id.in_(term1)))
        )
        w.events = Counter(e.key for e in events)
        w.event_kinds = Counter(e.kind for e in events)
        outbox = list(
            s.scalars(select(OutboxRow).where(OutboxRow.contract_id == cid, OutboxRow.term == 1))
        )
        w.outbox = Counter(o.key for o in outbox)
        w.outbox_kinds = Counter(o.kind for o in outbox)
        w.unsent = sum(1 for o in outbox if o.sent_at is None)
        audit = list(s.scalars(select(AuditLogRow).where(AuditLogRow.subject_id == wf_id)))
        w.audit = Counter(a.key for a in audit)
        w.audit_actions = Counter(a.action for a in audit)
        contract = s.get(ContractRow, cid)
        assert contract is not None
        w.contract_term, w.contract_end = contract.current_term, contract.end_date
        if inbox is not None:
            delivered = inbox.count_by_message_id()
            w.delivered = Counter({o.message_id: delivered[o.message_id] for o in outbox})
    return w


# What one renewal driven by _drive_to_outcome writes, and why:
# * drafts: v1 (the system's), v2 (procurement's edit answering legal), v3 (the interim
#   extension the lapse drafted).
DRAFTS = Counter({("renegotiation", 1): 1, ("renegotiation", 2): 1, ("interim_extension", 3): 1})
# * events: the negotiation plan (plan_negotiation, at gather facts); changes requested to v1;
#   v2 approved; the amendment; v2's approval withdrawn by it; the final-terms escalation
#   (nothing approved and presented); lapsed; the lapse's escalation; v3 approved, presented,
#   accepted; the outcome. No final_terms_issued: an interim extension is not a final offer.
EVENT_KINDS = Counter(
    {
        "negotiation_plan": 1,
        "changes_requested": 1,
        "approved": 2,
        "amendment": 1,
        "approval_withdrawn": 1,
        "escalation": 2,
        "lapsed": 1,
        "offer_presented": 1,
        "supplier_answered": 1,
        "outcome": 1,
    }
)


# * mails: the gather-facts reminder; review requested for v1, v2, v2 again when the amendment
#   withdrew its approval, and v3; the revision v1 waits for (to procurement); the two
#   escalations; the outcome. With a legal team's address configured a review request is two
#   rows, legal's (linked to the review page) and the owner's (linked to the contract's page);
#   without one it goes to the owner alone.
def outbox_kinds(*, legal_team: bool) -> Counter[str]:
    return Counter(
        {
            "milestone_reminder": 1,
            "review_requested": 8 if legal_team else 4,
            "revision_requested": 1,
            "escalation": 2,
            "outcome": 1,
        }
    )


def _assert_extended_exactly_once(
    w: Written, *, decisions: Decisions, amended_on: date, legal_team: bool = False
) -> None:
    """Lapsed at the amended end date (today) and extended on the interim version both sides
    agreed, every row written once."""
    assert w.duplicates == 0, w
    assert w.renewals_per_term == Counter({1: 1, 2: 1}), w.renewals_per_term
    assert w.scorecards == 1
    assert w.drafts == DRAFTS, w.drafts
    assert w.decisions == Counter(dict.fromkeys(decisions.ids, 1)), w.decisions
    assert w.event_kinds == EVENT_KINDS, w.event_kinds
    assert w.outbox_kinds == outbox_kinds(legal_team=legal_team), w.outbox_kinds
    # One audit entry per draft, decision and event (an escalation's under its own action):
    # none written twice under another key.
    escalations = EVENT_KINDS["escalation"]
    assert w.audit_actions == Counter(
        {
            "draft_created": DRAFTS.total(),
            "decision": len(decisions.ids),
            "renewal_event": EVENT_KINDS.total() - escalations,
            "escalation": escalations,
        }
    ), w.audit_actions
    # The term advanced exactly once: from the amended end date (today), by the interim months.
    assert (w.contract_term, w.contract_end) == (
        2,
        interim_extension_end(amended_on, FAST.interim_extension_months),
    ), (w.contract_term, w.contract_end)


async def _term_two_opened(sessions: SessionFactory, cid: str) -> bool:
    with transaction(sessions) as s:
        return (
            s.scalar(
                select(RenewalRow.id).where(RenewalRow.contract_id == cid, RenewalRow.term == 2)
            )
            is not None
        )


# ---------------------------------------------------------------------------- history


async def _events(handle: WorkflowHandle[Any, Any]) -> list[HistoryEvent]:
    history = await handle.fetch_history()
    return list(history.events)


def _started_attempt(events: list[HistoryEvent], activity_id: str) -> int:
    """The attempt that completed the activity ``activity_id`` (its ActivityTaskStarted)."""
    scheduled = {
        e.event_id
        for e in events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
        and e.activity_task_scheduled_event_attributes.activity_id == activity_id
    }
    attempts = [
        e.activity_task_started_event_attributes.attempt
        for e in events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED
        and e.activity_task_started_event_attributes.scheduled_event_id in scheduled
    ]
    assert len(attempts) == 1, (activity_id, attempts)
    return attempts[0]


def _count(events: list[HistoryEvent], kind: "EventType.ValueType") -> int:
    return sum(1 for e in events if e.event_type == kind)


# ---------------------------------------------------------------------------- 1. SIGKILL


@dataclass(frozen=True, slots=True)
class KillCase:
    activity: ActivityName
    when: When = "after"
    database: Literal["sqlite", "postgres"] = "sqlite"

    @property
    def id(self) -> str:
        return f"{self.activity.value}-{self.when}-{self.database}"


@dataclass(frozen=True, slots=True)
class KillReport:
    case: str
    killed_after: float  # seconds from the start of the renewal to the SIGKILL
    recovered_after: float  # seconds from the SIGKILL to the outcome
    total: float
    attempt: int
    duplicates: int


async def _run_kill_case(
    case: KillCase,
    *,
    client: Client,
    database_url: str,
    sessions: SessionFactory,
    workdir: Path,
    executor: ThreadPoolExecutor,
    smtp: Smtp,
) -> KillReport:
    started = time.monotonic()
    today = _utc_today()
    cid = f"K{uuid.uuid4().hex[:8]}"
    task_queue = f"faults-{case.id}-{cid}"
    decisions = Decisions.of(cid)
    marker_dir = workdir / "markers"
    _register_in_window(sessions, cid, today=today)
    killer = WorkerProcess.spawn(
        _worker_env(
            address=client.service_client.config.target_host,
            task_queue=task_queue,
            database_url=database_url,
            data_dir=workdir,
            extra={
                "FAULT_ACTIVITY": case.activity.value,
                "FAULT_WHEN": case.when,
                "FAULT_MARKER_DIR": str(marker_dir),
                **smtp.env(),
            },
        ),
        workdir,
        "killing-worker",
    )
    tasks: list[asyncio.Task[Any]] = []
    try:
        await killer.polling()
        await _start_fast(client, cid, task_queue)
        budget = DEAD_WORKER_RETRY.total_seconds() + 150
        driver = asyncio.create_task(
            _drive_to_outcome(client, cid, decisions=decisions, end_today=today, timeout=budget)
        )
        died = asyncio.create_task(killer.exit_code(timeout=90))
        tasks += [driver, died]
        done, _ = await asyncio.wait({driver, died}, return_when=asyncio.FIRST_COMPLETED)
        if died not in done:  # the renewal ended (or failed) without the fault firing
            await driver
            raise AssertionError(f"{case.id}: the worker was never killed:\n{killer.output()}")
        code = died.result()
        killed = time.monotonic()
        assert code == -signal.SIGKILL, f"exit {code}:\n{killer.output()}"
        marker = json.loads((marker_dir / f"{case.activity.value}-{case.when}.json").read_text())
        assert marker["activity"] == case.activity.value
        assert marker["workflow_id"] == renewal_workflow_id(cid, 1), marker
        assert marker["attempt"] == 1, marker

        # A fresh worker (in-process, production build_worker) takes over.
        async with build_worker(
            client,
            identity_keys=TEST_IDENTITY_KEYS,
            task_queue=task_queue,
            database_url=database_url,
            executor=executor,
            max_concurrent_activities=8,
            mail=smtp.mail_settings(),
        ):
            outcome = await driver
            recovered = time.monotonic()
            assert outcome.kind is OutcomeKind.INTERIM_EXTENSION, outcome
            await _eventually(
                lambda: _term_two_opened(sessions, cid), timeout=30, what="term 2 opened"
            )

        events = await _events(_handle(client, cid))
        attempt = _started_attempt(events, marker["activity_id"])
        assert attempt == 2, f"{case.id}: the killed activity completed on attempt {attempt}"
        written = _written(sessions, cid, smtp.inbox)
        _assert_extended_exactly_once(
            written, decisions=decisions, amended_on=today, legal_team=True
        )
        mails = outbox_kinds(legal_team=True).total()
        assert written.unsent == 0 and sum(written.delivered.values()) == mails, written
        return KillReport(
            case=case.id,
            killed_after=round(killed - started, 1),
            recovered_after=round(recovered - killed, 1),
            total=round(recovered - started, 1),
            attempt=attempt,
            duplicates=written.duplicates,
        )
    finally:
        for task in tasks:  # a case that failed early leaves no driver polling behind
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if killer.proc.poll() is None:
            killer.proc.kill()
        await killer.exit_code(timeout=10)
        await _terminate_quietly(client, cid)


def _migrated_sessions(url: str) -> tuple[Engine, SessionFactory]:
    engine = make_engine(url)
    upgrade(engine)
    return engine, make_session_factory(engine)


KILL_MATRIX = [
    *(
        KillCase(activity, when)
        for activity in (
            ActivityName.OPEN_RENEWAL,
            ActivityName.SCORE_RENEWAL,
            ActivityName.RENDER_DRAFT,
            ActivityName.RECORD_REVIEW,
            ActivityName.RECORD_EVENT,
            ActivityName.SEND_NOTIFICATION,
            ActivityName.RECORD_OUTCOME,
        )
        for when in ("after", "before")
    ),
    # The negotiation's own writes (the plan at gather facts, procurement's v2), killed after
    # their commit: a retry must find what the first attempt stored. Killed before they ran,
    # they would retry like any activity above, so those cases are left out of the budget.
    KillCase(ActivityName.PLAN_NEGOTIATION),
    KillCase(ActivityName.MAKE_VERSION),
]

# Cases run side by side; each holds a worker process until it is killed, then an in-process
# worker. Eight at once keep the 2-core CI machine responsive enough for the 90 s kill deadline.
SIDE_BY_SIDE = 8


@pytest.mark.postgres
async def test_worker_killed_around_every_activity_a_second_worker_finishes_exactly_once(
    dev_env: WorkflowEnvironment,
    sqlite_url: str,
    postgres_schema_url: str,
    activity_executor: ThreadPoolExecutor,
    smtp: Smtp,
    tmp_path: Path,
) -> None:
    """The whole matrix: every kind of activity, killed after its commit and before it ran, on
    SQLite (the negotiation plan and a version made by a person after their commit only), and
    the outcome that advances the contract's term killed after its commit on PostgreSQL. Each
    case waits out one start-to-close (30 s) before its retry."""
    cases = [*KILL_MATRIX, KillCase(ActivityName.RECORD_OUTCOME, "after", "postgres")]
    # Longest first: a mail case waits out the 90 s mail timeout, the others 30 s; started last,
    # the mail cases would run alone at the end.
    cases.sort(key=lambda c: c.activity is not ActivityName.SEND_NOTIFICATION)
    sqlite = _migrated_sessions(sqlite_url)
    postgres = _migrated_sessions(postgres_schema_url)
    gate = asyncio.Semaphore(SIDE_BY_SIDE)

    async def run(case: KillCase) -> KillReport:
        url, (_, sessions) = (
            (sqlite_url, sqlite) if case.database == "sqlite" else (postgres_schema_url, postgres)
        )
        async with gate:
            return await _run_kill_case(
                case,
                client=dev_env.client,
                database_url=url,
                sessions=sessions,
                workdir=tmp_path / case.id,
                executor=activity_executor,
                smtp=smtp,
            )

    try:
        # A TaskGroup, not gather: a failing case cancels the others (and stops their workers).
        async with asyncio.TaskGroup() as group:
            runs = [group.create_task(run(case)) for case in cases]
    finally:
        sqlite[0].dispose()
        postgres[0].dispose()
    reports = [r.result() for r in runs]
    for report in reports:
        print(f"\nkill: {report}")
    assert len(reports) == len(cases) == 17
    assert all(r.attempt == 2 for r in reports), reports
    assert sum(r.duplicates for r in reports) == 0, reports


@pytest.mark.soak
@pytest.mark.parametrize("case", KILL_MATRIX, ids=[c.id for c in KILL_MATRIX])
async def test_worker_killed_around_each_activity(
    case: KillCase,
    dev_env: WorkflowEnvironment,
    sqlite_url: str,
    activity_executor: ThreadPoolExecutor,
    smtp: Smtp,
    tmp_path: Path,
) -> None:
    engine, sessions = _migrated_sessions(sqlite_url)
    try:
        report = await _run_kill_case(
            case,
            client=dev_env.client,
            database_url=sqlite_url,
            sessions=sessions,
            workdir=tmp_path,
            executor=activity_executor,
            smtp=smtp,
        )
    finally:
        engine.dispose()
    print(f"\nkill: {report}")


# ---------------------------------------------------------------------------- 2. server restart


@dataclass
class DevServer:
    """``temporal server start-dev`` keeping its state in a file, stopped and started again on
    the same file and port."""

    workdir: Path
    port: int = field(default_factory=_free_port)
    http_port: int = field(default_factory=_free_port)
    metrics_port: int = field(default_factory=_free_port)
    ui_port: int = field(default_factory=_free_port)
    proc: "subprocess.Popen[bytes] | None" = None
    starts: int = 0

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def db(self) -> Path:
        return self.workdir / "temporal.db"

    def log(self) -> str:
        return "\n".join(
            p.read_text(encoding="utf-8", errors="replace")
            for p in sorted(self.workdir.glob("server-*.log"))
        )

    def start(self) -> None:
        assert self.proc is None or self.proc.poll() is not None, "already running"
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.starts += 1
        args = [
            temporal_cli(),
            "server",
            "start-dev",
            "--db-filename",
            str(self.db),
            "--ip",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--http-port",
            str(self.http_port),
            "--metrics-port",
            str(self.metrics_port),
            "--ui-port",
            str(self.ui_port),
            "--headless",
            "--log-level",
            "error",
            "--dynamic-config-value",
            "frontend.enableServerVersionCheck=false",
        ]
        for key in sa.ALL:  # KEYWORD -> Keyword, DATETIME -> Datetime
            args += ["--search-attribute", f"{key.name}={key.indexed_value_type.name.title()}"]
        with (self.workdir / f"server-{self.starts}.log").open("wb") as out:
            self.proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT)

    async def connect(self, timeout: float = 60.0) -> Client:
        async def attempt() -> Client | None:
            if self.proc is not None and self.proc.poll() is not None:
                raise AssertionError(f"server exited {self.proc.returncode}:\n{self.log()}")
            try:
                client = await Client.connect(self.address, data_converter=pydantic_data_converter)
                await client.count_workflows()  # the namespace answers, not only the port
            except (RuntimeError, RPCError):
                return None
            return client

        return await _eventually(attempt, timeout=timeout, what="the dev server", every=0.5)

    def stop(self, *, crash: bool = False) -> str:
        """SIGTERM, then SIGKILL after 20 s (or SIGKILL at once: a crash); which one stopped it."""
        assert self.proc is not None
        if self.proc.poll() is not None:
            return f"already exited {self.proc.returncode}"
        if crash:
            self.proc.kill()
            self.proc.wait(timeout=10)
            return "SIGKILL (crash)"
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
            return "SIGTERM"
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
            return "SIGKILL"


def _timers(events: list[HistoryEvent], client: Client) -> list[tuple[str, datetime]]:
    """(summary, instant it fires) of every timer started in a history."""
    out = []
    for e in events:
        if e.event_type != EventType.EVENT_TYPE_TIMER_STARTED:
            continue
        summary = client.data_converter.payload_converter.from_payload(e.user_metadata.summary, str)
        fires = (
            e.event_time.ToDatetime(tzinfo=UTC)
            + e.timer_started_event_attributes.start_to_fire_timeout.ToTimedelta()
        )
        out.append((str(summary), fires))
    return out


@pytest.mark.parametrize(
    "crash", [False, pytest.param(True, marks=pytest.mark.soak)], ids=["sigterm", "sigkill"]
)
async def test_dev_server_restart_keeps_timers_and_open_reviews(
    crash: bool, tmp_path: Path
) -> None:
    """Two renewals, one waiting on its next milestone's timer and one in legal review, survive
    a stop and start of the server on its state file. The worker that ran through the outage
    reconnects by itself; a fresh one (nothing cached) then replays both from the restarted
    server's history."""
    started = time.monotonic()
    today = _utc_today()
    server = DevServer(tmp_path / "temporal")
    database_url = f"sqlite:///{tmp_path / 'renewals.db'}"
    engine, sessions = _migrated_sessions(database_url)
    suffix = uuid.uuid4().hex[:8]
    timer_cid, review_cid = f"T{suffix}", f"R{suffix}"
    # ~8 months left: the next milestone (gather facts) is ~2 months away.
    _register_in_window(sessions, timer_cid, today=today, months_left=8)
    _register_in_window(sessions, review_cid, today=today, months_left=2)
    task_queue = f"restart-{suffix}"
    workers: list[WorkerProcess] = []

    def spawn_worker(name: str) -> WorkerProcess:
        # tests/faults/killing_worker.py without FAULT_ACTIVITY is worker.py's run_worker.
        worker = WorkerProcess.spawn(
            _worker_env(
                address=server.address,
                task_queue=task_queue,
                database_url=database_url,
                data_dir=tmp_path,
            ),
            tmp_path / name,
            name,
        )
        workers.append(worker)
        return worker

    server.start()
    clients: list[Client] = []  # the last one terminates the renewals at the end
    try:
        client = await server.connect()
        clients.append(client)
        first = spawn_worker("worker-1")
        await first.polling()
        for cid in (timer_cid, review_cid):
            await renewals.start_renewal(
                client,
                contract_id=cid,
                term=1,
                requested_by=OWNER,
                task_queue=task_queue,
                search_attributes=True,
            )
        timer_handle = _handle(client, timer_cid)

        async def planned() -> RenewalStatus | None:
            status = await _status(timer_handle)
            return status if status.milestones else None

        before = await _eventually(planned, timeout=30, what="the timer renewal's plan")
        assert before.stage is RenewalStage.WAITING
        assert {m.state for m in before.milestones} == {MilestoneState.PENDING}
        await _eventually(
            lambda: _drafts_made(_handle(client, review_cid)), timeout=30, what="draft 1"
        )
        timers_before = _timers(await _events(timer_handle), client)
        assert [s for s, _ in timers_before] == [f"until {MilestoneKind.GATHER_FACTS.value}"]
        gather_due = next(m.due for m in before.milestones if m.kind is MilestoneKind.GATHER_FACTS)
        assert abs((timers_before[0][1].date() - gather_due).days) <= 1, timers_before

        how = await asyncio.to_thread(server.stop, crash=crash)
        down_at = time.monotonic()
        await asyncio.sleep(3)
        assert first.proc.poll() is None, f"the worker died with the server:\n{first.output()}"
        server.start()
        client = await server.connect()
        clients.append(client)
        outage = time.monotonic() - down_at

        for cid in (timer_cid, review_cid):
            description = await _handle(client, cid).describe()
            assert description.status is WorkflowExecutionStatus.RUNNING, (cid, description.status)
        # Only the first worker polls: this answer proves it reconnected by itself.
        in_review = await _eventually(
            lambda: _drafts_made(_handle(client, review_cid)),
            timeout=60,
            what="the surviving worker to answer",
        )
        assert in_review.stage is RenewalStage.LEGAL_REVIEW

        # A worker with nothing cached takes over; the first one stops cleanly.
        second = spawn_worker("worker-2")
        await second.polling()
        assert await first.stop() == 0, first.output()

        review = await asyncio.wait_for(
            renewals.submit_review(
                client,
                signer=SIGNED,
                contract_id=review_cid,
                term=1,
                submission=ReviewSubmission(
                    decision=ReviewDecisionKind.APPROVE, reviewer=REVIEWER, draft_version=1
                ),
                request_id=f"approve-{review_cid}",
            ),
            timeout=90,
        )
        assert review.stage is RenewalStage.APPROVED
        review_status = await renewals.get_status(client, contract_id=review_cid, term=1)
        assert review_status.stage is RenewalStage.APPROVED
        assert [(d.decision, d.draft_version) for d in review_status.decisions] == [
            (ReviewDecisionKind.APPROVE, 1)
        ]

        timer_handle = _handle(client, timer_cid)
        after = await _eventually(
            lambda: _status(timer_handle), timeout=30, what="the timer renewal replayed"
        )
        assert after.milestones == before.milestones  # all still pending, same dates
        events = await _events(timer_handle)
        assert _timers(events, client) == timers_before  # not started again, not lost
        assert _count(events, EventType.EVENT_TYPE_TIMER_FIRED) == 0
        assert _count(events, EventType.EVENT_TYPE_TIMER_CANCELED) == 0
        assert second.proc.poll() is None, second.output()

        with transaction(sessions) as s:
            decisions = list(s.scalars(select(ReviewDecisionRow)))
            assert [d.update_id for d in decisions] == [f"approve-{review_cid}"]
            per_term = Counter((r.contract_id, r.term) for r in s.scalars(select(RenewalRow)))
            assert per_term == Counter({(timer_cid, 1): 1, (review_cid, 1): 1})
        print(
            f"\nrestart: server stopped by {how}, down {outage:.1f} s, "
            f"total {time.monotonic() - started:.1f} s"
        )
    finally:
        if clients:
            with contextlib.suppress(Exception):
                for cid in (timer_cid, review_cid):
                    await _terminate_quietly(clients[-1], cid)
        for worker in workers:
            await worker.stop()
        await asyncio.to_thread(server.stop)
        engine.dispose()


# ---------------------------------------------------------------------------- 3. database outage


class FlakyTcpProxy:
    """127.0.0.1:<port> in front of a TCP server. While down it accepts and at once resets each
    connection, and cuts the ones it was forwarding: what clients see while a database
    restarts. While up it forwards bytes both ways."""

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self._upstream = (upstream_host, upstream_port)
        self._up = False
        self._open: set[asyncio.StreamWriter] = set()
        self._server: asyncio.Server | None = None
        self.refused = 0
        self.forwarded = 0

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        return int(self._server.sockets[0].getsockname()[1])

    def down(self) -> None:
        self._up = False
        for writer in list(self._open):
            writer.transport.abort()

    def up(self) -> None:
        self._up = True

    async def close(self) -> None:
        self.down()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self._up:
            self.refused += 1
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self._upstream)
        except OSError:
            writer.transport.abort()
            return
        self.forwarded += 1
        self._open |= {writer, up_writer}
        try:
            await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))
        finally:
            self._open -= {writer, up_writer}
            for w in (writer, up_writer):
                w.transport.abort()

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.transport.abort()


async def _pending(handle: WorkflowHandle[Any, Any]) -> list[tuple[str, int, str]]:
    """(activity type, attempt, last failure) of each pending activity."""
    description = await handle.describe()
    return [
        (p.activity_type.name, p.attempt, p.last_failure.message)
        for p in description.raw_description.pending_activities
    ]


async def _retrying(
    handle: WorkflowHandle[Any, Any], activity: ActivityName, attempts: int
) -> tuple[str, int, str] | None:
    for pending in await _pending(handle):
        if pending[0] == activity.value and pending[1] >= attempts:
            return pending
    return None


async def _idle_in_review(handle: WorkflowHandle[Any, Any], client: Client) -> bool:
    """Draft 1 made, its notification sent, and both the milestone and the review-reminder
    timers started: nothing else touches the database until someone acts."""
    summaries = {s for s, _ in _timers(await _events(handle), client)}
    return {"until final_terms", "review reminder for draft 1"} <= summaries and not (
        await _pending(handle)
    )


async def _start_fast(client: Client, cid: str, task_queue: str) -> None:
    """Term 1 of ``cid`` with milestones at midnight (FAST), so an amendment ending the term
    today makes final terms and expiry due at once."""
    await renewals.start_renewal(
        client, contract_id=cid, term=1, requested_by=OWNER, task_queue=task_queue, policy=FAST
    )


async def _extend_and_open_term_two(
    client: Client, sessions: SessionFactory, cid: str, *, decisions: Decisions, today: date
) -> None:
    """Legal asked for changes to v1: :func:`_revise_approve_and_extend` (v2 made and
    approved, the end date moved to today, lapsed, the interim extension approved and
    accepted), then wait for the next term."""
    outcome = await _revise_approve_and_extend(
        client, cid, decisions=decisions, today=today, timeout=90
    )
    assert outcome.kind is OutcomeKind.INTERIM_EXTENSION, outcome
    await _eventually(lambda: _term_two_opened(sessions, cid), timeout=30, what="term 2 opened")


@pytest.mark.postgres
async def test_database_outage_activities_retry_and_the_renewal_proceeds_once(
    dev_env: WorkflowEnvironment,
    postgres_schema_url: str,
    activity_executor: ThreadPoolExecutor,
) -> None:
    started = time.monotonic()
    client = dev_env.client
    upstream = make_url(POSTGRES_URL)
    proxy = FlakyTcpProxy(upstream.host or "127.0.0.1", upstream.port or 5432)
    proxy_port = await proxy.start()  # down: nothing reaches PostgreSQL yet
    through_proxy = (
        make_url(postgres_schema_url)
        .set(host="127.0.0.1", port=proxy_port)
        .render_as_string(hide_password=False)
    )
    engine = make_engine(postgres_schema_url)  # the test itself reads and writes directly
    sessions = make_session_factory(engine)
    today = _utc_today()
    cid = f"P{uuid.uuid4().hex[:8]}"
    decisions = Decisions.of(cid)
    task_queue = f"outage-{cid}"
    _register_in_window(sessions, cid, today=today)
    handle = _handle(client, cid)
    try:
        async with build_worker(
            client,
            identity_keys=TEST_IDENTITY_KEYS,
            task_queue=task_queue,
            database_url=through_proxy,
            executor=activity_executor,
            max_concurrent_activities=8,
        ):
            # Outage 1: from the start. The first activity fails and is retried with backoff.
            await _start_fast(client, cid, task_queue)
            first = await _eventually(
                lambda: _retrying(handle, ActivityName.LOAD_CONTRACT, 3),
                timeout=30,
                what="load_contract retrying",
            )
            assert first[2].startswith("database unavailable or failing"), first
            refused_first = proxy.refused
            proxy.up()
            await _eventually(
                lambda: _idle_in_review(handle, client), timeout=60, what="draft 1 in review"
            )

            # Outage 2: during a review decision (legal asks for changes to v1). The update
            # waits for its activity.
            proxy.down()
            update = asyncio.create_task(
                renewals.submit_review(
                    client,
                    signer=SIGNED,
                    contract_id=cid,
                    term=1,
                    submission=ReviewSubmission(
                        decision=ReviewDecisionKind.REQUEST_CHANGES,
                        reviewer=REVIEWER,
                        draft_version=1,
                        comment=CHANGES_COMMENT,
                    ),
                    request_id=decisions.changes,
                )
            )
            second = await _eventually(
                # The decision's first activity is the identity check, which reads the accounts.
                lambda: _retrying(handle, ActivityName.VERIFY_IDENTITY, 3),
                timeout=30,
                what="verify_identity retrying",
            )
            assert not update.done()
            proxy.up()
            _changes_requested(await asyncio.wait_for(update, timeout=60))
            await _extend_and_open_term_two(client, sessions, cid, decisions=decisions, today=today)
        written = _written(sessions, cid, None)
        _assert_extended_exactly_once(written, decisions=decisions, amended_on=today)
        assert proxy.refused > refused_first > 0
        print(
            f"\noutage: load_contract attempt {first[1]} ({first[2]!r}), verify_identity attempt "
            f"{second[1]}; {proxy.refused} connections refused; duplicates "
            f"{written.duplicates}; {time.monotonic() - started:.1f} s"
        )
    finally:
        await proxy.close()
        await _terminate_quietly(client, cid)
        engine.dispose()


@pytest.mark.postgres
async def test_lock_timeouts_are_retried_and_the_renewal_proceeds_once(
    dev_env: WorkflowEnvironment,
    postgres_schema_url: str,
    activity_executor: ThreadPoolExecutor,
) -> None:
    """Another session holds the renewals table locked (a long migration, a stuck report);
    the worker's statements give up after PostgreSQL's lock_timeout, the activity retries with
    backoff, and once the lock is released the renewal goes on, writing everything once."""
    client = dev_env.client
    # The worker's connections wait at most 300 ms for a lock, like a production setting would.
    worker_url = postgres_schema_url + "%20-clock_timeout%3D300"
    engine = make_engine(postgres_schema_url)
    sessions = make_session_factory(engine)
    today = _utc_today()
    cid = f"L{uuid.uuid4().hex[:8]}"
    decisions = Decisions.of(cid)
    task_queue = f"locked-{cid}"
    _register_in_window(sessions, cid, today=today)
    handle = _handle(client, cid)
    blocker = engine.connect()
    try:
        blocker.execute(text("LOCK TABLE renewals IN ACCESS EXCLUSIVE MODE"))
        async with build_worker(
            client,
            identity_keys=TEST_IDENTITY_KEYS,
            task_queue=task_queue,
            database_url=worker_url,
            executor=activity_executor,
            max_concurrent_activities=8,
        ):
            await _start_fast(client, cid, task_queue)
            locked = await _eventually(
                lambda: _retrying(handle, ActivityName.OPEN_RENEWAL, 3),
                timeout=30,
                what="open_renewal retrying",
            )
            assert "lock timeout" in locked[2], locked
            blocker.rollback()  # the lock is released
            await _eventually(
                lambda: _idle_in_review(handle, client), timeout=60, what="draft 1 in review"
            )
            status = await _status(handle)
            review = await _decide(
                client,
                cid,
                status.drafts[0],
                ReviewDecisionKind.REQUEST_CHANGES,
                request_id=decisions.changes,
                comment=CHANGES_COMMENT,
                timeout=30,
            )
            _changes_requested(review)
            await _extend_and_open_term_two(client, sessions, cid, decisions=decisions, today=today)
        written = _written(sessions, cid, None)
        _assert_extended_exactly_once(written, decisions=decisions, amended_on=today)
        print(f"\nlock timeout: open_renewal attempt {locked[1]} ({locked[2]!r})")
    finally:
        blocker.close()
        await _terminate_quietly(client, cid)
        engine.dispose()


@pytest.mark.postgres
async def test_a_database_outage_is_named_in_the_pending_activity(
    dev_env: WorkflowEnvironment,
    postgres_schema_url: str,
    activity_executor: ThreadPoolExecutor,
) -> None:
    client = dev_env.client
    upstream = make_url(POSTGRES_URL)
    proxy = FlakyTcpProxy(upstream.host or "127.0.0.1", upstream.port or 5432)
    proxy_port = await proxy.start()  # stays down
    through_proxy = (
        make_url(postgres_schema_url)
        .set(host="127.0.0.1", port=proxy_port)
        .render_as_string(hide_password=False)
    )
    cid = f"N{uuid.uuid4().hex[:8]}"
    task_queue = f"outage-message-{cid}"
    handle = _handle(client, cid)
    try:
        async with build_worker(
            client,
            identity_keys=TEST_IDENTITY_KEYS,
            task_queue=task_queue,
            database_url=through_proxy,
            executor=activity_executor,
            max_concurrent_activities=4,
        ):
            await renewals.start_renewal(
                client, contract_id=cid, term=1, requested_by=OWNER, task_queue=task_queue
            )
            pending = await _eventually(
                lambda: _retrying(handle, ActivityName.LOAD_CONTRACT, 2),
                timeout=30,
                what="load_contract retrying",
            )
        # The driver's own words, in a failure small enough for the server to keep.
        assert "server closed the connection" in pending[2], pending
        assert pending[2].startswith("database unavailable or failing, will retry:"), pending
        assert len(pending[2]) <= 600, pending
    finally:
        await proxy.close()
        await _terminate_quietly(client, cid)


async def test_a_missing_contract_fails_at_once_without_retries(
    dev_env: WorkflowEnvironment,
    sqlite_url: str,
    sqlite_engine: Engine,
    activity_executor: ThreadPoolExecutor,
) -> None:
    client = dev_env.client
    cid = f"MISSING-{uuid.uuid4().hex[:8]}"
    task_queue = f"missing-{cid}"
    handle = _handle(client, cid)
    async with build_worker(
        client,
        identity_keys=TEST_IDENTITY_KEYS,
        task_queue=task_queue,
        database_url=sqlite_url,
        executor=activity_executor,
        max_concurrent_activities=8,
    ):
        started = time.monotonic()
        await renewals.start_renewal(
            client, contract_id=cid, term=1, requested_by=OWNER, task_queue=task_queue
        )
        with pytest.raises(WorkflowFailureError) as failed:
            await asyncio.wait_for(handle.result(), timeout=30)
        elapsed = time.monotonic() - started
    # Retrying would have taken at least the 1 s initial interval per attempt.
    assert elapsed < 10, elapsed
    cause = failed.value.cause
    assert isinstance(cause, ActivityError), cause
    error = cause.cause
    assert isinstance(error, ApplicationError), error
    assert error.type == "NotFound" and error.non_retryable, error
    assert cid in error.message, error.message
    events = await _events(handle)
    started_events = [
        e.activity_task_started_event_attributes.attempt
        for e in events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED
    ]
    assert started_events == [1]
    failures = [
        e.activity_task_failed_event_attributes.retry_state
        for e in events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED
    ]
    assert failures == [RetryState.RETRY_STATE_NON_RETRYABLE_FAILURE]
