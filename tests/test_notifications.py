"""E-mail through a real SMTP server (aiosmtpd, in-process) and the outbox."""

import asyncio
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from email import message_from_bytes
from email.message import EmailMessage, Message
from email.policy import default as default_policy
from typing import Any

import pytest
import pytest_asyncio
from aiosmtpd.controller import Controller
from dateutil.relativedelta import relativedelta
from markupsafe import escape
from sqlalchemy import Engine, func, select
from temporalio.testing import WorkflowEnvironment

from activities.drafting import make_environment
from activities.notifications import NotificationActivities
from clients import renewals
from config.mail import MailSettings
from models.contract import SupplierCreate
from models.notifications import NotificationKind, NotificationRequest
from models.renewal import OpenRenewal, OutcomeKind, ReviewDecisionKind, ReviewSubmission
from models.tables import OutboxRow
from store import contracts as contract_store
from store.db import SessionFactory, transaction
from store.renewals import open_renewal
from tests.factories import register
from tests.identity_helpers import SIGNED, TEST_IDENTITY_KEYS
from tests.negotiation_helpers import agree
from tests.workflow_helpers import result_of, today
from worker import build_worker
from workflows.contract_renewal import ContractRenewalWorkflow


class Inbox:
    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.content, policy=default_policy))
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def _mail(port: int) -> MailSettings:
    return MailSettings(
        host="127.0.0.1",
        port=port,
        starttls=False,
        use_ssl=False,
        username=None,
        password=None,
        sender="renewals@example.com",
        legal_team="legal@example.com",
        escalation="head-of-procurement@example.com",
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_retried_activity_sends_once_and_outbox_survives_smtp_outage(
    sessions: SessionFactory, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    with transaction(sessions) as s:
        register(s, id="C-MAIL", language="ja", owner="buyer@example.com")
        open_renewal(
            s,
            request=OpenRenewal(
                contract_id="C-MAIL",
                term=1,
                workflow_id="wf",
                requested_by="buyer@example.com",
                term_end_date=date(2027, 12, 31),
            ),
        )
    request = NotificationRequest(
        contract_id="C-MAIL",
        term=1,
        workflow_id="wf",
        kind=NotificationKind.ESCALATION,
        key="wf:mail:x",
        facts={"reason": "最終条件の承認がありません"},
    )

    down = NotificationActivities(sessions, make_environment(), _mail(_free_port()))
    with pytest.raises(OSError):
        down.send_notification(request)
    with transaction(sessions) as s:
        row = s.scalar(select(OutboxRow))
        assert row is not None and row.sent_at is None and row.attempts == 1
        assert row.last_error and "ConnectionRefusedError" in row.last_error

    up = NotificationActivities(sessions, make_environment(), _mail(port))
    assert up.send_notification(request) == "sent"
    assert up.send_notification(request) == "already sent"  # a retry after success
    assert len(inbox.messages) == 1
    msg = inbox.messages[0]
    assert msg["To"] == "buyer@example.com, head-of-procurement@example.com"
    assert msg["Subject"].startswith("【エスカレーション】")
    assert isinstance(msg, EmailMessage)
    assert msg.get_content_type() == "multipart/alternative"
    for subtype in ("plain", "html"):
        body = msg.get_body((subtype,))
        assert body is not None and "最終条件の承認がありません" in body.get_content()
    with transaction(sessions) as s:
        assert s.scalar(select(func.count()).select_from(OutboxRow)) == 1


@pytest_asyncio.fixture
async def mailing_worker(
    time_skipping_env: WorkflowEnvironment,
    sqlite_url: str,
    sqlite_engine: Engine,
    task_queue: str,
    activity_executor: ThreadPoolExecutor,
    smtp: tuple[Inbox, int],
) -> AsyncIterator[Inbox]:
    inbox, port = smtp
    worker = build_worker(
        time_skipping_env.client,
        identity_keys=TEST_IDENTITY_KEYS,
        task_queue=task_queue,
        database_url=sqlite_url,
        executor=activity_executor,
        max_concurrent_activities=16,
        mail=_mail(port),
    )
    async with worker:
        yield inbox


async def test_renewal_sends_each_notification_once(
    time_skipping_env: WorkflowEnvironment,
    sessions: SessionFactory,
    mailing_worker: Inbox,
    task_queue: str,
) -> None:
    client = time_skipping_env.client
    cid = f"C-{uuid.uuid4().hex[:8]}"
    now = await today(time_skipping_env)
    with transaction(sessions) as s:
        register(
            s,
            id=cid,
            owner="buyer@example.com",
            start_date=now - relativedelta(months=5),
            end_date=now + relativedelta(months=7),
        )
    await renewals.start_renewal(
        client, contract_id=cid, term=1, requested_by="buyer@example.com", task_queue=task_queue
    )
    handle = renewals.renewal_handle(client, contract_id=cid, term=1)
    end = now + relativedelta(months=7)
    await time_skipping_env.sleep(end + timedelta(days=1) - now)
    for _ in range(400):  # the fixed term lapses: its interim extension goes to legal
        status = await handle.query(ContractRenewalWorkflow.status)
        if status.lapsed_on is not None and len(status.escalations) >= 3:
            break
        await asyncio.sleep(0.05)
    await renewals.submit_review(
        client,
        signer=SIGNED,
        contract_id=cid,
        term=1,
        submission=ReviewSubmission(
            decision=ReviewDecisionKind.APPROVE,
            reviewer="legal@example.com",
            draft_version=status.drafts[-1].version,
        ),
    )
    await agree(handle, status.drafts[-1], on=await today(time_skipping_env))
    outcome = await result_of(time_skipping_env, handle)
    assert outcome.kind is OutcomeKind.INTERIM_EXTENSION

    # The next term's workflow starts at once and may already be mailing about term 2.
    subjects = [
        str(m["Subject"]).strip() for m in mailing_worker.messages if "term 1)" in str(m["Subject"])
    ]
    assert [s.split(":")[0] for s in subjects] == [
        "Renewal started",
        "Legal review requested",
        "Sent to legal review",  # the owner's copy, linked to the contract's page
        "Reminder",  # 5 business days undecided
        "Escalation",  # 10 business days undecided
        "Escalation",  # nothing approved at final terms
        "Legal review requested",  # the term lapsed: the interim extension, version 2
        "Sent to legal review",
        "Escalation",  # lapsed: supply at risk
        "Renewal outcome",
    ], subjects
    assert "version 1" in subjects[1] and "version 1" in subjects[2]
    assert "version 2" in subjects[6] and "version 2" in subjects[7]
    assert subjects[-1].endswith(": interim extension")  # the glossary's words
    review = next(m for m in mailing_worker.messages if "review" in str(m["Subject"]))
    assert review["To"] == "legal@example.com"
    copy = next(m for m in mailing_worker.messages if "Sent to legal" in str(m["Subject"]))
    assert copy["To"] == "buyer@example.com"
    ids = [m["Message-ID"] for m in mailing_worker.messages]
    assert len(ids) == len(set(ids))
    with transaction(sessions) as s:
        sent = select(func.count()).where(OutboxRow.sent_at.is_not(None), OutboxRow.term == 1)
        assert s.scalar(sent) == 10
    await client.get_workflow_handle(outcome.next_workflow_id or "").terminate("test over")


INJECTION = "{{7*7}} {% if true %}yes{% endif %} <script>alert('x')</script> & ${7*7}"


@pytest.mark.parametrize("language", ["en", "ja"])
def test_user_text_in_mail_renders_literally(sessions: SessionFactory, language: str) -> None:
    """Every user-supplied value a mail shows (contract title, supplier name, the reason and
    comments the workflow passes as facts) is printed as typed, never evaluated."""
    cid = f"C-INJ-{language}"
    with transaction(sessions) as s:
        contract_store.upsert_supplier(s, supplier=SupplierCreate(id="S-INJ", name=INJECTION))
        register(s, id=cid, language=language, title=INJECTION, supplier_id="S-INJ")
    outbox = NotificationActivities(sessions, make_environment(), MailSettings.outbox_only())
    facts = {
        "reason": INJECTION,
        "milestone": INJECTION,
        "recommendation": INJECTION,
        "outcome": INJECTION,
        "comment": INJECTION,
    }
    for kind in NotificationKind:
        request = NotificationRequest(
            contract_id=cid,
            term=1,
            workflow_id="wf",
            kind=kind,
            key=f"wf:{language}:{kind.value}",
            facts=facts,
        )
        assert outbox.send_notification(request).startswith("queued")
    with transaction(sessions) as s:
        rows = list(s.scalars(select(OutboxRow).where(OutboxRow.contract_id == cid)))
    assert len(rows) == len(NotificationKind)
    for row in rows:
        text = f"{row.subject}\n{row.body}"
        assert INJECTION in text, (row.kind, text)
        # "49" or a lone "yes" would mean a template ran; plain-text mail is not HTML-escaped.
        assert "49" not in text and "&lt;" not in text, (row.kind, text)
        # The HTML part says the same, escaped.
        html = row.body_html or ""
        assert str(escape(INJECTION)) in html, (row.kind, html)
        assert "<script>" not in html and "49" not in html, (row.kind, html)


async def test_the_worker_relays_account_change_mails_once(
    sessions: SessionFactory, smtp: tuple[Inbox, int]
) -> None:
    """An account change is written to the outbox with the change (services.users); the
    worker's relay sends it to the legal lead once, and keeps it for the next round while the
    mail server is down."""
    from services import users as user_service
    from store import users as user_store
    from worker import relay_outbox

    inbox, port = smtp
    with transaction(sessions) as s:
        user_store.create_user(
            s, username="lead@example.com", display_name="Lead", roles="legal,legal_lead"
        )
    down = NotificationActivities(sessions, make_environment(None), _mail(_free_port()))
    with transaction(sessions) as s:
        user_service.create_user(
            s,
            actor="setup",
            username="new-buyer@example.com",
            display_name="New buyer",
            roles="procurement",
            password=None,
        )
    assert down.relay(kinds=("account_change",)) == 0  # nobody listens on that port
    with transaction(sessions) as s:
        [row] = s.scalars(select(OutboxRow).where(OutboxRow.kind == "account_change"))
        assert row.sent_at is None and row.attempts == 1 and row.last_error

    up = NotificationActivities(sessions, make_environment(None), _mail(port))
    stop = asyncio.Event()
    relay = asyncio.create_task(relay_outbox(up, stop, interval=0.05))
    for _ in range(100):
        if inbox.messages:
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.2)  # more rounds: nothing more is sent
    stop.set()
    await relay
    [message] = inbox.messages
    assert message["To"] == "lead@example.com"
    assert isinstance(message, EmailMessage)
    assert "new-buyer@example.com" in message.get_content()
    with transaction(sessions) as s:
        [row] = s.scalars(select(OutboxRow).where(OutboxRow.kind == "account_change"))
        assert row.sent_at is not None and row.last_error is None
