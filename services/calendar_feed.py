"""iCalendar (RFC 5545) feed of renewal milestones and notice deadlines.

All-day events in the contracts' own calendar dates, with UIDs that stay the same from one
export to the next (contract, term, milestone), so a subscribed calendar client updates an
event when an amendment moves it instead of showing a duplicate.

The dates are each term's stored plan (renewal-semantics.md §1): what its running renewal
planned, with each milestone's state. A contract whose renewal has not started gets a preview
made by the workflow's own plan function, and every event of it says "preview". Each event is
labelled with the glossary's words in the contract's language, or in the reader's when a
person's own feed is built for someone who chose one (``language``): summaries, descriptions
(where each date comes from, :mod:`domain.provenance_words`) and reminders alike, so that a
Japanese feed carries no English.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from urllib.parse import quote

from sqlalchemy import select
from sqlalchemy.orm import Session

from domain.phrases import format_date
from domain.phrases import label as glossary
from domain.provenance_words import step_words
from domain.term_plan import CalendarSettings
from models.contract import ContractRead
from models.milestones import MilestoneKind, MilestoneState, RenewalPolicy
from models.plans import StoredPlan
from models.tables import ContractRow, SupplierRow
from services.plans import PlannedContract
from store import users
from store.contracts import to_read
from store.reads.plans import plans_for

PRODID = "-//contract-renewals//renewal milestones//EN"

# Renewal steps read "Renewal: <step>" in English calendars; the glossary's words otherwise.
_STEPS = (MilestoneKind.GATHER_FACTS, MilestoneKind.FIRST_DISCUSSION, MilestoneKind.FINAL_TERMS)
_PREVIEW = (
    "Preview (no renewal running; the dates its workflow would plan today)",
    "試算（更新は未開始。ワークフローが本日計画する場合の日付）",
)
_STORED = ("Planned by the running renewal", "進行中の更新ワークフローの計画")
_MOVED = ("moved earlier for the notice period", "解約予告期限に合わせて前倒し")
_STATES: dict[MilestoneState, tuple[str, str]] = {
    MilestoneState.PENDING: ("pending", "未了"),
    MilestoneState.DONE: ("done", "完了"),
    MilestoneState.DONE_LATE: ("done late", "完了（遅延）"),
    MilestoneState.SKIPPED: ("skipped", "省略"),
}


def _title(key: str, language: str, *, step: bool = False) -> str:
    words = glossary(key, language)
    if language == "ja":
        return words
    return f"Renewal: {words}" if step else words[:1].upper() + words[1:]


def _pick(words: tuple[str, str], language: str) -> str:
    return words[1] if language == "ja" else words[0]


@dataclass(frozen=True, slots=True)
class _Event:
    """One all-day VEVENT: ``day`` is a date (VALUE=DATE), transparent (it blocks no time)."""

    uid: str
    day: date
    summary: str
    description: str
    url: str = ""  # the contract's page, when the web app's address is configured
    remind: bool = False  # a deadline: VALARMs before it (REMINDERS)


# Reminders before a deadline (the send-by date, the notice deadline), as triggers relative to
# the all-day event's start (00:00 of its day): 09:00 fourteen days before, and 09:00 the day
# before. Calendar clients show them in the subscriber's own time zone.
REMINDERS: tuple[str, ...] = ("-P13DT15H", "-PT15H")


def _escape(value: str) -> str:
    """RFC 5545 §3.3.11 TEXT: backslash, semicolon, comma and line breaks escaped."""
    return (
        value.replace("\\", "\\\\")
        .replace(";", "\\;")
        .replace(",", "\\,")
        .replace("\r\n", "\\n")
        .replace("\n", "\\n")
        .replace("\r", "\\n")
    )


def _fold(line: str) -> str:
    """RFC 5545 §3.1: lines of at most 75 octets, continued after CRLF and one space, never
    inside a UTF-8 character."""
    data = line.encode("utf-8")
    if len(data) <= 75:
        return line + "\r\n"
    parts = []
    limit = 75
    start = 0
    while start < len(data):
        end = min(start + limit, len(data))
        while end < len(data) and (data[end] & 0xC0) == 0x80:  # a continuation byte
            end -= 1
        parts.append(data[start:end].decode("utf-8"))
        start = end
        limit = 74  # the leading space of a continuation line counts
    return "\r\n ".join(parts) + "\r\n"


def _vevent(e: _Event, stamp: str) -> str:
    day = e.day.strftime("%Y%m%d")
    after = (e.day + timedelta(days=1)).strftime("%Y%m%d")
    return (
        "BEGIN:VEVENT\r\n"
        f"{_fold('SUMMARY:' + _escape(e.summary))}"
        f"DTSTART;VALUE=DATE:{day}\r\n"
        f"DTEND;VALUE=DATE:{after}\r\n"
        f"DTSTAMP:{stamp}\r\n"
        f"{_fold('UID:' + _escape(e.uid))}"
        f"{_fold('DESCRIPTION:' + _escape(e.description))}"
        + (_fold("URL;VALUE=URI:" + e.url) if e.url else "")
        + "TRANSP:TRANSPARENT\r\n"
        + "".join(
            "BEGIN:VALARM\r\nACTION:DISPLAY\r\n"
            f"TRIGGER:{trigger}\r\n"
            f"{_fold('DESCRIPTION:' + _escape(e.summary))}"
            "END:VALARM\r\n"
            for trigger in (REMINDERS if e.remind else ())
        )
        + "END:VEVENT\r\n"
    )


def _steps(stored: Iterable[str], lang: str, jurisdiction: str) -> str:
    """A date's stored provenance in ``lang``: steps joined into one sentence (English) or one
    sentence each (Japanese). A step not known to :func:`step_words` (a newer worker's) is
    shown as stored in English and left out of a Japanese feed."""
    words = []
    for step in stored:
        said = step_words(step, lang, jurisdiction)
        if said is None and lang != "ja":
            said = step
        if said:
            words.append(said)
    if not words:
        return ""
    return "".join(f"{w}。" for w in words) if lang == "ja" else " " + "; ".join(words) + "."


def _events(c: ContractRead, plan: StoredPlan, lang: str, url: str) -> list[_Event]:
    ja = lang == "ja"
    label = f"{c.title} ({c.id})"
    tag = f" [{_pick(('preview', '試算'), lang)}]" if plan.preview else ""
    origin = _pick(_PREVIEW if plan.preview else _STORED, lang)
    base = f"{c.id}-term{plan.term}"
    end = format_date(plan.end_date, lang)
    about = (
        f"取引先 {c.supplier_id}、契約担当者 {c.owner}、契約満了日 {end}。"
        if ja
        else f"Supplier {c.supplier_id}; owner {c.owner}; end date {end}."
    )
    events = []
    for m in plan.milestones:
        status = origin
        if not plan.preview:
            status += f"{'、' if ja else '; '}{_pick(_STATES[m.state], lang)}"
        if m.moved_for_notice:
            status += f"、{_MOVED[1]}" if ja else f" ({_MOVED[0]})"
        events.append(
            _Event(
                f"{base}-{m.kind.value}@contract-renewals",
                m.due,
                f"{_title(m.kind.value, lang, step=m.kind in _STEPS)}: {label}{tag}",
                (f"{about}{status}。" if ja else f"{about} {status}.")
                + _steps(m.provenance, lang, c.jurisdiction),
                url,
                remind=m.kind is MilestoneKind.SEND_BY,
            )
        )
    events.append(
        _Event(
            f"{base}-notice-deadline@contract-renewals",
            plan.notice_deadline,
            f"{_title('notice_deadline', lang)}: {label}{tag}",
            (f"{about}{origin}。" if ja else f"{about} {origin}.")
            + _steps(plan.notice_provenance, lang, c.jurisdiction),
            url,
            remind=True,
        )
    )
    return events


def build_feed(
    planned: Iterable[PlannedContract],
    *,
    name: str = "Contract renewals",
    generated_at: datetime | None = None,
    language: str | None = None,
    owner_languages: Mapping[str, str] | None = None,
    base_url: str = "",
) -> bytes:
    """The feed of ``planned``. Each contract's events are in ``language`` ("en", "ja": a
    person's own feed, in the language they chose), else in its owner's chosen language
    (``owner_languages``, by casefolded username: :func:`owner_languages`), else in the
    contract's. With ``base_url`` (RENEWALS_WEB_BASE_URL) each event links to its contract's
    page. The send-by date and the notice deadline carry reminders (:data:`REMINDERS`)."""
    chosen = owner_languages or {}
    stamp = (generated_at or datetime.now(UTC)).astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    # Written here rather than through icalendar's component objects: those cost ~0.25 ms an
    # event, 14 s for a buyer with 10,000 contracts (tests parse the feed back with icalendar).
    parts = [
        "BEGIN:VCALENDAR\r\n",
        f"{_fold('PRODID:' + _escape(PRODID))}",
        "VERSION:2.0\r\n",
        "CALSCALE:GREGORIAN\r\n",
        f"{_fold('X-WR-CALNAME:' + _escape(name))}",
    ]
    for entry in planned:
        c = entry.contract
        lang = language or chosen.get(c.owner.casefold()) or c.language
        url = f"{base_url.rstrip('/')}/contracts/{quote(c.id, safe='')}" if base_url else ""
        parts.extend(_vevent(e, stamp) for e in _events(c, entry.shown, lang, url))
    parts.append("END:VCALENDAR\r\n")
    return "".join(parts).encode("utf-8")


def owner_languages(session: Session, planned: Iterable[PlannedContract]) -> dict[str, str]:
    """The language each owner of ``planned`` chose, by casefolded username (for
    :func:`build_feed`); owners who chose none are left out: their contracts' language
    applies."""
    return users.chosen_languages(session, {p.contract.owner for p in planned})


def planned_for_feed(
    session: Session,
    *,
    owner: str | None,
    today: date,
    cfg: CalendarSettings,
    policy: RenewalPolicy,
) -> list[PlannedContract]:
    """The active contracts (of ``owner``) with the plan of their current term: the stored
    one, read in one batch, or a preview where no renewal runs."""
    contracts = contracts_for_feed(session, owner=owner)
    categories = {
        row.id: row.category
        for row in session.scalars(
            select(SupplierRow).where(SupplierRow.id.in_({c.supplier_id for c in contracts}))
        )
    }
    shown = plans_for(
        session,
        [(c, categories.get(c.supplier_id)) for c in contracts],
        today=today,
        policy=policy,
        cfg=cfg,
    )
    return [PlannedContract(contract=c, shown=shown[c.id]) for c in contracts]


def contracts_for_feed(session: Session, *, owner: str | None = None) -> list[ContractRead]:
    stmt = select(ContractRow).where(ContractRow.status == "active").order_by(ContractRow.id)
    if owner is not None:
        stmt = stmt.where(ContractRow.owner == owner)
    return [to_read(row) for row in session.scalars(stmt)]
