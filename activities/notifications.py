"""E-mail notifications through an outbox.

The message is written to the ``outbox`` table (keyed) before it is sent, and marked sent after.
A retried activity finds the row: if it was sent, nothing happens; if not, the same message (same
Message-ID) is sent. The one window left, a crash between the SMTP server accepting the message
and the row being marked, can repeat a message at most once more, with the same Message-ID, which
mail clients use to drop the duplicate.

Every date a mail shows is the term's stored plan (renewal-semantics.md §1): its end date,
notice deadline (rolled back to a business day), send-by date and milestone due dates, labelled
with the glossary's words in the contract's language. A term whose plan is not stored (a renewal
started before plans were stored, not backfilled yet) gets a preview made by the workflow's own
plan function, and the mail says it is one. Dates and names are passed to the templates as
values, never as template text.
"""

import hashlib
import smtplib
import ssl
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import formatdate

from jinja2.sandbox import SandboxedEnvironment
from sqlalchemy.orm import Session
from temporalio import activity

from activities.failures import activity_failures
from config.mail import MailSettings
from domain.phrases import LABELS, label
from domain.term_plan import CalendarSettings, as_preview, term_plan
from models.activity_names import ActivityName
from models.contract import ContractRead
from models.milestones import MilestoneKind, RenewalPolicy
from models.notifications import NotificationKind, NotificationRequest
from models.plans import StoredPlan
from models.renewal import PlanRequest
from models.tables import OutboxRow, SupplierRow
from store import contracts as contract_store
from store import outbox, plans
from store.db import SessionFactory, transaction


def _addresses(*candidates: str) -> list[str]:
    seen: list[str] = []
    for c in candidates:
        for part in c.split(","):
            addr = part.strip()
            if "@" in addr and addr not in seen:
                seen.append(addr)
    return seen


def message_id(key: str) -> str:
    return f"<{hashlib.sha256(key.encode()).hexdigest()[:40]}@contract-renewals>"


class NotificationActivities:
    def __init__(
        self,
        sessions: SessionFactory,
        templates: SandboxedEnvironment,
        mail: MailSettings,
        *,
        calendars: CalendarSettings | None = None,
    ) -> None:
        self._sessions = sessions
        self._templates = templates
        self._mail = mail
        self._calendars = calendars or CalendarSettings()  # for previews only

    def _plan(self, session: Session, contract: ContractRead, term: int) -> StoredPlan:
        """The term's stored plan; a preview by the workflow's plan function when none is."""
        stored = plans.read_plan(session, contract_id=contract.id, term=term)
        if stored is not None:
            return stored
        supplier = session.get(SupplierRow, contract.supplier_id)
        today = datetime.now(UTC).date()
        planned = term_plan(
            contract,
            category=supplier.category if supplier else None,
            today=today,
            cfg=self._calendars,
            request=PlanRequest(
                contract_id=contract.id, term=term, today=today, policy=RenewalPolicy()
            ),
        )
        return as_preview(contract.id, term, planned)

    def _recipients(self, kind: NotificationKind, owner: str) -> list[str]:
        if kind is NotificationKind.REVIEW_REQUESTED:
            return _addresses(self._mail.legal_team, owner)
        if kind is NotificationKind.ESCALATION:
            return _addresses(owner, self._mail.escalation)
        return _addresses(owner)

    def _stage_message(self, request: NotificationRequest) -> OutboxRow:
        with transaction(self._sessions) as session:
            row = outbox.find(session, key=request.key)
            if row is not None:
                return row
            contract = contract_store.get_contract(session, contract_id=request.contract_id)
            supplier = session.get(SupplierRow, contract.supplier_id)
            template = self._templates.get_template(
                f"{contract.language}/mail_{request.kind.value}.txt.j2"
            )
            plan = self._plan(session, contract, request.term)
            final_terms = plan.get(MilestoneKind.FINAL_TERMS)
            milestone = request.facts.get("milestone", "")
            text = template.render(
                contract=contract,
                supplier_name=supplier.name if supplier else contract.supplier_id,
                end_date=plan.end_date,
                notice_deadline=plan.notice_deadline,
                send_by=plan.send_by,
                final_terms_due=final_terms.due if final_terms else None,
                plan_preview=plan.preview,
                milestone_name=label(milestone, contract.language)
                if milestone in LABELS
                else milestone,
                facts=request.facts,
                term=request.term,
            )
            subject, _, body = text.partition("\n")
            return outbox.stage(
                session,
                key=request.key,
                kind=request.kind.value,
                contract_id=contract.id,
                term=request.term,
                recipients=self._recipients(request.kind, contract.owner),
                subject=subject,
                body=body,
                message_id=message_id(request.key),
            )

    def _send(self, row: OutboxRow) -> None:
        msg = EmailMessage()
        msg["From"] = self._mail.sender
        msg["To"] = row.recipients
        msg["Subject"] = row.subject
        msg["Message-ID"] = row.message_id
        msg["Date"] = formatdate(localtime=False)
        msg.set_content(row.body)
        m = self._mail
        context = ssl.create_default_context()
        smtp: smtplib.SMTP
        if m.use_ssl:
            smtp = smtplib.SMTP_SSL(m.host, m.port, timeout=30, context=context)
        else:
            smtp = smtplib.SMTP(m.host, m.port, timeout=30)
        with smtp:
            if m.starttls and not m.use_ssl:
                smtp.starttls(context=context)
            if m.username:
                smtp.login(m.username, m.password or "")
            smtp.send_message(msg)

    def _mark(self, key: str, *, sent: bool, error: str | None) -> None:
        with transaction(self._sessions) as session:
            outbox.mark(session, key=key, error=error, sent_at=datetime.now(UTC) if sent else None)

    def relay(self, *, kinds: tuple[str, ...], limit: int = 50) -> int:
        """Send messages other code put in the outbox without a workflow to send them (account
        changes, written with the change they announce); each is marked sent in the
        transaction that holds its row. A failure is kept on the row and tried on the next
        round. The number sent."""
        if not self._mail.host:
            return 0
        sent = 0
        with transaction(self._sessions) as session:
            for row in outbox.claim_unsent(session, kinds=kinds, limit=limit):
                row.attempts += 1
                if not row.recipients:
                    row.last_error = "no recipient address"
                    continue
                try:
                    self._send(row)
                except (OSError, smtplib.SMTPException) as exc:
                    row.last_error = f"{type(exc).__name__}: {exc}"
                    continue
                row.sent_at = datetime.now(UTC)
                row.last_error = None
                sent += 1
        return sent

    @activity.defn(name=ActivityName.SEND_NOTIFICATION)
    def send_notification(self, request: NotificationRequest) -> str:
        with activity_failures():
            return self._send_notification(request)

    def _send_notification(self, request: NotificationRequest) -> str:
        row = self._stage_message(request)
        if row.sent_at is not None:
            return "already sent"
        if not row.recipients:
            self._mark(row.key, sent=False, error="no recipient address")
            return "no recipient"
        if not self._mail.host:
            return "queued (SMTP not configured)"
        try:
            self._send(row)
        except (OSError, smtplib.SMTPException) as exc:
            # Retryable: the mail server may come back; the outbox row keeps the message.
            self._mark(row.key, sent=False, error=f"{type(exc).__name__}: {exc}")
            raise
        self._mark(row.key, sent=True, error=None)
        return "sent"
