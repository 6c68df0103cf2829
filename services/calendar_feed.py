"""iCalendar (RFC 5545) feed of renewal milestones and notice deadlines.

All-day events in the contracts' own calendar dates, with UIDs that stay the same from one
export to the next (contract, term, milestone), so a subscribed calendar client updates an
event when an amendment moves it instead of showing a duplicate.

The dates are each term's stored plan (renewal-semantics.md §1): what its running renewal
planned, with each milestone's state. A contract whose renewal has not started gets a preview
made by the workflow's own plan function, and every event of it says "preview". Each event is
labelled with the glossary's words in the contract's language, or in the reader's when a
person's own feed is built for someone who chose one (``language``).
"""

from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta

from icalendar import Calendar, Event
from sqlalchemy import select
from sqlalchemy.orm import Session

from domain.phrases import label as glossary
from domain.term_plan import CalendarSettings
from models.contract import ContractRead
from models.milestones import MilestoneKind, MilestoneState, RenewalPolicy
from models.plans import StoredPlan
from models.tables import ContractRow, SupplierRow
from services.plans import PlannedContract
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


def _event(uid: str, day: date, summary: str, description: str, stamp: datetime) -> Event:
    event = Event()
    event.add("uid", uid)
    event.add("dtstamp", stamp)
    event.add("dtstart", day)  # a date, not a datetime: VALUE=DATE, an all-day event
    event.add("dtend", day + timedelta(days=1))
    event.add("summary", summary)
    event.add("description", description)
    event.add("transp", "TRANSPARENT")
    return event


def _events(
    c: ContractRead, plan: StoredPlan, stamp: datetime, language: str | None = None
) -> list[Event]:
    lang = language or c.language
    label = f"{c.title} ({c.id})"
    tag = f" [{_pick(('preview', '試算'), lang)}]" if plan.preview else ""
    origin = _pick(_PREVIEW if plan.preview else _STORED, lang)
    base = f"{c.id}-term{plan.term}"
    end = plan.end_date.isoformat()
    about = (
        f"取引先 {c.supplier_id}、契約担当者 {c.owner}、契約満了日 {end}。{origin}"
        if lang == "ja"
        else f"Supplier {c.supplier_id}; owner {c.owner}; end date {end}. {origin}"
    )
    events = []
    for m in plan.milestones:
        note = f" ({_pick(_MOVED, lang)})" if m.moved_for_notice else ""
        state = "" if plan.preview else f"; {_pick(_STATES[m.state], lang)}"
        if m.provenance:
            note += ". " + "; ".join(m.provenance)
        events.append(
            _event(
                f"{base}-{m.kind.value}@contract-renewals",
                m.due,
                f"{_title(m.kind.value, lang, step=m.kind in _STEPS)}: {label}{tag}",
                f"{about}{state}{note}.",
                stamp,
            )
        )
    events.append(
        _event(
            f"{base}-notice-deadline@contract-renewals",
            plan.notice_deadline,
            f"{_title('notice_deadline', lang)}: {label}{tag}",
            f"{about}. " + "; ".join(plan.notice_provenance) + ".",
            stamp,
        )
    )
    return events


def build_feed(
    planned: Iterable[PlannedContract],
    *,
    name: str = "Contract renewals",
    generated_at: datetime | None = None,
    language: str | None = None,
) -> bytes:
    """The feed of ``planned``; ``language`` ("en", "ja") writes every event in it instead of in
    each contract's language."""
    stamp = generated_at or datetime.now(UTC)
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("x-wr-calname", name)
    for entry in planned:
        for event in _events(entry.contract, entry.shown, stamp, language):
            cal.add_component(event)
    feed: bytes = cal.to_ical()
    return feed


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
