"""The weekly digest's activities (issue 17), for :class:`workflows.digest.DigestWorkflow`.

Each person's digest is one outbox row keyed ``digest:<username>:<ISO year-week>``
(:func:`models.digest.digest_key`): the row is looked for before anything is composed, so a
retried activity or a second run of the same week stages nothing new and sends only what was
not sent yet. A person with nothing in any list gets no digest (and no row).

The five lists come from :mod:`store.reads.digest` (the stored plans' dates). The mail is
rendered by :meth:`NotificationActivities.render` from ``{language}/mail_digest.txt.j2``
(text and HTML, the glossary's words for milestones, stages and versions, dates in the
language's format, a link to each contract's or review's page with RENEWALS_WEB_BASE_URL).

The language of a digest: the person's choice (users.language); else the language most of the
digest's contracts are in (a tie, or no contract at all: Japanese, the organisation's language).
"""

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from functools import partial
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from temporalio import activity

from activities.failures import activity_failures
from activities.notifications import (
    LANGUAGES,
    MailDate,
    NotificationActivities,
    _addresses,
    _date_label,
    format_day,
    message_id,
    word,
)
from domain.term_plan import CalendarSettings
from models.activity_names import ActivityName
from models.digest import (
    DigestBatch,
    DigestRecipientPage,
    DigestRecipientsRequest,
    DigestTotals,
    DigestWeek,
    DigestWeekRequest,
    digest_key,
    iso_week,
)
from models.milestones import RenewalPolicy
from models.notifications import NotificationKind
from models.renewal import DraftKind
from models.tables import OutboxRow
from store import outbox
from store.db import SessionFactory, transaction
from store.reads import digest as reads
from store.reads.reviews import review_queue

DEFAULT_LANGUAGE = "ja"  # a digest whose reader chose nothing and whose lines do not decide
QUEUE_LIMIT = 500  # the review queue read once per page of recipients, oldest first
_DRAFT_KINDS = {k.value for k in DraftKind}


@dataclass(frozen=True, slots=True)
class Line:
    """One line as the template shows it: names, what is due in the glossary's words, its
    date, the plan's dates and the page where the reader acts."""

    title: str
    contract_id: str
    term: int
    supplier_name: str
    what: str  # the glossary's words
    kind: str  # milestone, stage, version kind, or followup_action (the template's choice)
    due: str
    version: int | None
    detail: str
    dates: list[MailDate]
    link: str


@dataclass(frozen=True, slots=True)
class Section:
    key: str  # one of store.reads.digest.LISTS
    lines: list[Line]
    more: int


def digest_language(person: reads.PersonDigest) -> str:
    """The person's choice, else the language of most of the digest's contracts (a tie or
    none: Japanese)."""
    if person.language in LANGUAGES:
        return person.language
    counts = Counter(lang for lang in person.contract_languages() if lang in LANGUAGES)
    if not counts:
        return DEFAULT_LANGUAGE
    ranked = counts.most_common()
    if len(ranked) > 1 and ranked[0][1] == ranked[1][1]:
        return DEFAULT_LANGUAGE
    return ranked[0][0]


class DigestActivities:
    def __init__(
        self,
        sessions: SessionFactory,
        notifications: NotificationActivities,
        *,
        policy: RenewalPolicy | None = None,
        calendars: CalendarSettings | None = None,
        web_base_url: str = "",
    ) -> None:
        self._sessions = sessions
        self._mails = notifications
        self._policy = policy or RenewalPolicy()
        self._calendars = calendars or CalendarSettings()
        self._base = web_base_url.strip().rstrip("/")

    def all(self) -> list[Any]:
        return [self.digest_week, self.digest_recipients, self.stage_digests]

    @activity.defn(name=ActivityName.DIGEST_WEEK)
    def digest_week(self, request: DigestWeekRequest) -> DigestWeek:
        """The local day of the workflow's time in the digest's time zone, and its ISO week."""
        day = request.at.astimezone(ZoneInfo(request.time_zone)).date()
        return DigestWeek(as_of=day, week=iso_week(day))

    @activity.defn(name=ActivityName.DIGEST_RECIPIENTS)
    def digest_recipients(self, request: DigestRecipientsRequest) -> DigestRecipientPage:
        with activity_failures(), transaction(self._sessions) as session:
            names = reads.recipients_page(session, after=request.after, limit=request.limit)
        last = names[-1] if len(names) == request.limit else None
        return DigestRecipientPage(usernames=names, next_after=last)

    @activity.defn(name=ActivityName.STAGE_DIGESTS)
    def stage_digests(self, batch: DigestBatch) -> DigestTotals:
        with activity_failures():
            return self.stage_and_send(batch)

    def stage_and_send(self, batch: DigestBatch) -> DigestTotals:
        """Stage each person's digest of the week (or find it) and send what is unsent; a
        mail server failure raises (retryable) after the rows before it were marked."""
        rows, totals = self.stage(batch)
        sent = 0
        for row in rows:
            if activity.in_activity():
                activity.heartbeat(row.key)
            if self._mails._deliver(row) == "sent":
                sent += 1
        return totals + DigestTotals(sent=sent)

    def stage(self, batch: DigestBatch) -> tuple[list[OutboxRow], DigestTotals]:
        """The page's digest rows (found or staged now), and the counts."""
        rows: list[OutboxRow] = []
        staged = already = empty = 0
        with transaction(self._sessions) as session:
            keys = {name: digest_key(name, batch.week) for name in batch.usernames}
            found = {row.key: row for row in outbox.find_all(session, keys=list(keys.values()))}
            wanted = [name for name in batch.usernames if keys[name] not in found]
            queue = (
                review_queue(
                    session,
                    today=batch.as_of,
                    policy=self._policy,
                    cfg=self._calendars,
                    limit=QUEUE_LIMIT,
                )[0]
                if wanted
                else []
            )
            requesters = reads.renewal_requesters(session, queue)
            for name in batch.usernames:
                key = keys[name]
                if key in found:
                    rows.append(found[key])
                    already += 1
                    continue
                person = reads.person_digest(
                    session, username=name, as_of=batch.as_of, queue=queue, requesters=requesters
                )
                if person is None or person.empty:
                    empty += 1
                    continue
                language = digest_language(person)
                subject, body, html = self.compose(person, language, as_of=batch.as_of)
                rows.append(
                    outbox.stage(
                        session,
                        key=key,
                        kind=NotificationKind.DIGEST.value,
                        contract_id="",
                        term=0,
                        recipients=_addresses(name),
                        subject=subject,
                        body=body,
                        body_html=html,
                        message_id=message_id(key),
                    )
                )
                staged += 1
        totals = DigestTotals(
            recipients=len(batch.usernames), staged=staged, already=already, empty=empty
        )
        return rows, totals

    def _link(self, line: reads.DigestLine) -> str:
        if not self._base:
            return ""
        cid = quote(line.contract_id, safe="")
        if line.version is not None:
            return f"{self._base}/reviews/{cid}/{line.term}/{line.version}"
        return f"{self._base}/contracts/{cid}"

    def _line(self, line: reads.DigestLine, language: str) -> Line:
        shown: list[tuple[str, date | None]] = [
            ("send_by", line.send_by),
            ("notice_deadline", line.notice_deadline),
            ("expiry", line.end_date),
        ]
        return Line(
            title=line.title,
            contract_id=line.contract_id,
            term=line.term,
            supplier_name=line.supplier_name,
            what=word(line.what, language),
            kind=line.what,
            due=format_day(line.due, language) if line.due else "",
            version=line.version,
            detail=line.detail,
            dates=[
                MailDate(_date_label(k, language), format_day(d, language), d.isoformat())
                for k, d in shown
                if d is not None
            ],
            link=self._link(line),
        )

    def compose(
        self, person: reads.PersonDigest, language: str, *, as_of: date
    ) -> tuple[str, str, str]:
        """Subject, text and HTML of the person's digest in ``language``."""
        sections = [
            Section(
                key=key,
                lines=[self._line(line, language) for line in person.lists.get(key, [])],
                more=person.more.get(key, 0),
            )
            for key in reads.LISTS
            if person.lists.get(key)
        ]
        return self._mails.render(
            NotificationKind.DIGEST,
            language,
            {
                "username": person.username,
                "as_of": as_of,
                "week": iso_week(as_of),
                "sections": sections,
                "count": sum(len(s.lines) + s.more for s in sections),
                "draft_kinds": _DRAFT_KINDS,
                "link": f"{self._base}{person.home}" if self._base else "",
                "dates": [],
                "plan_preview": False,
                "day": partial(format_day, language=language),
            },
        )


def stage_for(
    activities: DigestActivities, *, as_of: date, usernames: Sequence[str]
) -> DigestTotals:
    """Stage and send the digests of ``usernames`` for the week of ``as_of`` outside a
    workflow (tests, a one-off run)."""
    return activities.stage_and_send(
        DigestBatch(as_of=as_of, week=iso_week(as_of), usernames=list(usernames))
    )
