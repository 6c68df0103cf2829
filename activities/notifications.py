"""E-mail notifications through an outbox.

The message is written to the ``outbox`` table (keyed) before it is sent, and marked sent after.
A retried activity finds the row: if it was sent, nothing happens; if not, the same message (same
Message-ID) is sent. The one window left, a crash between the SMTP server accepting the message
and the row being marked, can repeat a message at most once more, with the same Message-ID, which
mail clients use to drop the duplicate.

Every mail has a text part and an HTML part, both from the same template
(``{language}/mail_<kind>.txt.j2``, which extends ``{language}/mail_base.txt.j2``): the text is
the template rendered; the HTML is ``mail_layout.html.j2`` (autoescaped) showing the same blocks
(subject, message, the link's words, the preview note). Both are stored in the outbox row, so a
retry sends the same two parts.

With ``web_base_url`` (RENEWALS_WEB_BASE_URL) set, a mail links to the page where its reader
acts: legal's review page of the version for a review request, the contract's page for the
owner's mails. Without it the mail has no link and says nothing about one.

Every date a mail shows is the term's stored plan (renewal-semantics.md §1): its end date,
notice deadline (rolled back to a business day), send-by date and milestone due dates, labelled
with the glossary's words and formatted for the language (Babel: 2027年3月31日, 31 March 2027).
A term whose plan is not stored (a renewal started before plans were stored, not backfilled
yet) gets a preview made by the workflow's own plan function, and the mail says it is one.
Dates and names are passed to the templates as values, never as template text.

A recipient who chose the weekly digest only (users.mail_delivery = ``digest``) is left out of
every immediate mail but the escalations (ESCALATION, FOLLOWUP_OVERDUE), which still come at
once; what the mail was about is in their weekly digest (activities/digest_activities.py).

Each recipient reads the mail in their own language (users.language) else the contract's.
Recipients of another language get their own outbox row, keyed ``<key>:<language>``; the
contract's language keeps ``<key>``, so a mail nobody reads in another language is one row under
the key it always had. A review request also goes to the contract's owner, who cannot open the
review page (legal's permission): its readers are parted by audience (:func:`audience_key`),
legal reviewers linked to the review page and everyone else to the contract's page, with words
fit for them (the template's ``audience``).

Stages, milestones, outcomes and recommendations are shown in the glossary's words
(domain.glossary); the reasons the workflow passes (``facts["reason"]``, ``facts["withdrawn"]``)
are printed as given.
"""

import hashlib
import smtplib
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from email.message import EmailMessage
from email.utils import formatdate
from functools import partial
from typing import Any
from urllib.parse import quote

from babel.dates import format_date as babel_date
from jinja2 import Template
from jinja2.sandbox import SandboxedEnvironment
from sqlalchemy.orm import Session
from temporalio import activity

from activities.failures import activity_failures
from auth.roles import Permission, parse_roles, permissions_for
from config.mail import MailSettings
from domain.glossary import LABELS, STAGE_LABELS, label, stage_label
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
from store.outbox import Reader

LANGUAGES = ("en", "ja")  # the languages there are mail templates for
# Babel's locale per language: "31 March 2027" in English, 2027年3月31日 in Japanese.
_DATE_LOCALES = {"en": "en_GB", "ja": "ja_JP"}
HTML_LAYOUT = "mail_layout.html.j2"
# Mails that reach their recipients at once even when they chose the weekly digest only.
IMMEDIATE_ALWAYS = frozenset({NotificationKind.ESCALATION, NotificationKind.FOLLOWUP_OVERDUE})
# Who a mail is for, by the page its link opens. A review request's recipients are parted in
# two: legal reviewers (the review page) and everyone else, the contract's owner above all (the
# contract's page: the review page answers 403 to anyone without legal's permission). Every
# other mail has one audience, the first.
REVIEWER, OWNER = "reviewer", "owner"
AUDIENCES = (REVIEWER, OWNER)


@dataclass(frozen=True, slots=True)
class MailDate:
    """One of the plan's dates as a mail shows it: the glossary's label, the date in the
    reader's format, and ISO for the HTML's <time>."""

    label: str
    text: str
    iso: str


def format_day(value: date | str, language: str) -> str:
    """A date in the language's long format; an ISO string (a fact the workflow passes) is
    parsed first, and anything else shown as given."""
    if isinstance(value, str):
        try:
            day = date.fromisoformat(value)
        except ValueError:
            return value
    else:
        day = value
    return str(babel_date(day, format="long", locale=_DATE_LOCALES.get(language, "en_GB")))


def word(code: str, language: str) -> str:
    """A stored code (milestone, outcome, recommendation, stage) in the glossary's words; a
    code the glossary lacks is shown as given."""
    if code in LABELS:
        return label(code, language)
    if code in STAGE_LABELS:
        return stage_label(code, language)
    return code


def _date_label(key: str, language: str) -> str:
    text = label(key, language)
    return text[:1].upper() + text[1:] if language == "en" else text


def language_key(key: str, language: str, contract_language: str) -> str:
    """The outbox key of the mail in ``language``: the contract's language keeps the
    request's key (one row, as before readers had languages); others are suffixed."""
    return key if language == contract_language else f"{key}:{language}"


def audience_key(key: str, audience: str) -> str:
    """The outbox key of the mail for ``audience``: the first audience (reviewers of a review
    request, the one audience of every other mail) keeps the key, the others are suffixed
    (``<key>[:<language>]:owner``). So the rows staged before review requests were parted keep
    their keys, and the common case (the contract's language, legal's row) is the row a retry
    staged before finds; the owner's own row is new."""
    return key if audience == AUDIENCES[0] else f"{key}:{audience}"


def _paragraphs(text: str) -> list[list[str]]:
    """Text as the HTML part shows it: paragraphs at blank lines, lines kept."""
    out: list[list[str]] = []
    for chunk in text.strip("\n").split("\n\n"):
        lines = [line.rstrip() for line in chunk.strip("\n").split("\n")]
        if any(lines):
            out.append(lines)
    return out


def _addresses(*candidates: str) -> list[str]:
    seen: list[str] = []
    for c in candidates:
        for part in c.split(","):
            addr = part.strip()
            if "@" in addr and addr not in seen:
                seen.append(addr)
    return seen


def _reader_of(readers: Mapping[str, Reader], address: str, field: str) -> Any:
    """A field of the account ``address`` names (None without an account)."""
    reader = readers.get(address.strip().casefold())
    return getattr(reader, field) if reader is not None else None


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
        web_base_url: str = "",
    ) -> None:
        self._sessions = sessions
        self._templates = templates
        self._mail = mail
        self._calendars = calendars or CalendarSettings()  # for previews only
        # The web workspace's origin (Settings.web_base_url); empty: mails carry no links.
        self._web_base_url = web_base_url.strip().rstrip("/")

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
        if kind in (NotificationKind.ESCALATION, NotificationKind.FOLLOWUP_OVERDUE):
            return _addresses(owner, self._mail.escalation)
        return _addresses(owner)

    def _immediate(
        self, kind: NotificationKind, recipients: list[str], readers: Mapping[str, Reader]
    ) -> list[str]:
        """The recipients who take this mail now: those who chose the weekly digest only
        (users.mail_delivery) are left out, except from escalations (an escalated renewal and
        an overdue follow-up action), which reach everyone at once. A mail left with nobody
        is still a row (marked "no recipient"), so a retry finds it."""
        if kind in IMMEDIATE_ALWAYS:
            return recipients
        return [a for a in recipients if not _reader_of(readers, a, "digest_only")]

    def _audience(self, kind: NotificationKind, address: str, readers: Mapping[str, Reader]) -> str:
        """Who ``address`` reads the mail as. For a review request: a reviewer when their
        account holds legal's permission (the one the review page asks for), else the owner's
        audience; an address with no account (a team's mailbox) is a reviewer when it is the
        legal team's (MailSettings.legal_team). Every other mail has one audience."""
        if kind is not NotificationKind.REVIEW_REQUESTED:
            return AUDIENCES[0]
        reader = readers.get(address.strip().casefold())
        if reader is None:
            legal = {a.casefold() for a in _addresses(self._mail.legal_team)}
            return REVIEWER if address.strip().casefold() in legal else OWNER
        legal_permission = Permission.REVIEW in permissions_for(parse_roles(reader.roles))
        return REVIEWER if legal_permission else OWNER

    def _groups(
        self,
        kind: NotificationKind,
        recipients: list[str],
        contract_language: str,
        readers: Mapping[str, Reader],
    ) -> dict[tuple[str, str], list[str]]:
        """The recipients by the language they read (their choice, else the contract's) and
        their audience. The contract's language and the first audience first; no recipient at
        all is one (empty) group of them."""
        first = (contract_language, AUDIENCES[0])
        groups: dict[tuple[str, str], list[str]] = {first: []}
        for address in recipients:
            language = _reader_of(readers, address, "language") or contract_language
            if language not in LANGUAGES:
                language = contract_language
            audience = self._audience(kind, address, readers)
            groups.setdefault((language, audience), []).append(address)
        if not groups[first] and len(groups) > 1:
            del groups[first]
        return groups

    def _link(self, request: NotificationRequest, contract_id: str, audience: str) -> str:
        """The page where the reader acts, or "" without a base URL: legal's review page of
        the version for a reviewer of a review request, the contract's page for everyone
        else (the owner's mails, and the owner's copy of a review request)."""
        if not self._web_base_url:
            return ""
        cid = quote(contract_id, safe="")
        version = request.facts.get("version", "")
        if (
            request.kind is NotificationKind.REVIEW_REQUESTED
            and audience == REVIEWER
            and version.isdigit()
        ):
            return f"{self._web_base_url}/reviews/{cid}/{request.term}/{int(version)}"
        return f"{self._web_base_url}/contracts/{cid}"

    def _dates(self, plan: StoredPlan, language: str) -> list[MailDate]:
        """The plan's dates, soonest first: send-by (when the term has one), notice deadline,
        end date, in the glossary's words."""
        shown: list[tuple[str, date | None]] = [
            ("send_by", plan.send_by),
            ("notice_deadline", plan.notice_deadline),
            ("expiry", plan.end_date),
        ]
        return [
            MailDate(_date_label(key, language), format_day(day, language), day.isoformat())
            for key, day in shown
            if day is not None
        ]

    def render(
        self, kind: NotificationKind, language: str, values: Mapping[str, Any]
    ) -> tuple[str, str, str]:
        """Subject, text and HTML of a mail from its one template: the text is the template
        rendered; the HTML is the shared layout showing the same blocks."""
        name = f"{language}/mail_{kind.value}.txt.j2"
        template = self._templates.get_template(name)
        text = template.render(**values)
        subject, _, body = text.partition("\n")
        body = body.strip("\n") + "\n"
        base = self._templates.get_template(f"{language}/mail_base.txt.j2")

        def block(name: str) -> str:
            owner: Template = template if name in template.blocks else base
            context = owner.new_context(dict(values))
            return "".join(owner.blocks[name](context)).strip()

        # A template that does not extend the base (an override written before it) has no
        # blocks: its HTML part shows its whole text.
        message = block("message") if "message" in template.blocks else body
        html = self._templates.get_template(HTML_LAYOUT).render(
            language=language,
            subject=subject.strip(),
            paragraphs=_paragraphs(message),
            action=block("action"),
            link=values.get("link", ""),
            dates=values.get("dates", []),
            plan_preview=values.get("plan_preview", False),
            preview=block("preview"),
        )
        return subject, body, html

    def _stage_messages(self, request: NotificationRequest) -> list[OutboxRow]:
        """The message's rows, one per language and audience of its readers; a retry finds
        them."""
        with transaction(self._sessions) as session:
            contract = contract_store.get_contract(session, contract_id=request.contract_id)
            keys = [
                audience_key(language_key(request.key, lang, contract.language), audience)
                for lang in sorted(LANGUAGES, key=lambda lang: lang != contract.language)
                for audience in AUDIENCES
            ]
            found = outbox.find_all(session, keys=keys)
            if found:
                return found
            supplier = session.get(SupplierRow, contract.supplier_id)
            plan = self._plan(session, contract, request.term)
            final_terms = plan.get(MilestoneKind.FINAL_TERMS)
            # Every recipient's account in one read: digest choice, language and roles.
            addressed = self._recipients(request.kind, contract.owner)
            readers = outbox.readers(session, addressed)
            recipients = self._immediate(request.kind, addressed, readers)
            rows: list[OutboxRow] = []
            for (language, audience), addresses in self._groups(
                request.kind, recipients, contract.language, readers
            ).items():
                subject, body, html = self.render(
                    request.kind,
                    language,
                    {
                        "contract": contract,
                        "supplier_name": supplier.name if supplier else contract.supplier_id,
                        "final_terms_due": final_terms.due if final_terms else None,
                        "plan_preview": plan.preview,
                        "dates": self._dates(plan, language),
                        "link": self._link(request, contract.id, audience),
                        "audience": audience,
                        "day": partial(format_day, language=language),
                        "milestone_name": word(request.facts.get("milestone", ""), language),
                        "recommendation_name": word(
                            request.facts.get("recommendation", ""), language
                        ),
                        "outcome_name": word(request.facts.get("outcome", ""), language),
                        "facts": request.facts,
                        "term": request.term,
                    },
                )
                key = audience_key(language_key(request.key, language, contract.language), audience)
                rows.append(
                    outbox.stage(
                        session,
                        key=key,
                        kind=request.kind.value,
                        contract_id=contract.id,
                        term=request.term,
                        recipients=addresses,
                        subject=subject,
                        body=body,
                        body_html=html,
                        message_id=message_id(key),
                    )
                )
            return rows

    def _send(self, row: OutboxRow) -> None:
        msg = EmailMessage()
        msg["From"] = self._mail.sender
        msg["To"] = row.recipients
        msg["Subject"] = row.subject
        msg["Message-ID"] = row.message_id
        msg["Date"] = formatdate(localtime=False)
        msg.set_content(row.body)
        if row.body_html:  # rows from before migration 0016, and text-only mails, have none
            msg.add_alternative(row.body_html, subtype="html")
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
        """Each row (language and audience) sent once; a failure raises (retryable) after the
        rows before it were sent and marked, so the retry sends only what is left."""
        results: list[str] = []
        for row in self._stage_messages(request):
            result = self._deliver(row)
            if result not in results:
                results.append(result)
        return "; ".join(results)

    def _deliver(self, row: OutboxRow) -> str:
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
