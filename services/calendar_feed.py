"""iCalendar (RFC 5545) feed of renewal milestones and notice deadlines.

All-day events in the contracts' own calendar dates, with UIDs that stay the same from one
export to the next (contract, term, milestone), so a subscribed calendar client updates an
event when an amendment moves it instead of showing a duplicate.
"""

from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta

from icalendar import Calendar, Event
from sqlalchemy import select
from sqlalchemy.orm import Session

from domain.term_plan import CalendarSettings
from models.contract import ContractRead
from models.milestones import MilestoneKind, RenewalPolicy
from models.tables import ContractRow, SupplierRow
from services.plans import PlannedContract, plan_contracts
from store.contracts import to_read

PRODID = "-//contract-renewals//renewal milestones//EN"

_TITLES = {
    MilestoneKind.GATHER_FACTS: "Renewal: gather facts and score",
    MilestoneKind.FIRST_DISCUSSION: "Renewal: first discussion, draft to legal",
    MilestoneKind.FINAL_TERMS: "Renewal: final terms",
    MilestoneKind.SEND_BY: "Last day to post a notice",
    MilestoneKind.EXPIRY: "Contract expires",
}


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


def build_feed(
    planned: Iterable[PlannedContract],
    *,
    name: str = "Contract renewals",
    generated_at: datetime | None = None,
) -> bytes:
    stamp = generated_at or datetime.now(UTC)
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("x-wr-calname", name)
    for entry in planned:
        c, plan = entry.contract, entry.plan
        label = f"{c.title} ({c.id})"
        base = f"{c.id}-term{c.current_term}"
        for m in plan.milestones:
            note = " (moved earlier for the notice period)" if m.moved_for_notice else ""
            if m.provenance:
                note += ". " + "; ".join(m.provenance)
            cal.add_component(
                _event(
                    f"{base}-{m.kind.value}@contract-renewals",
                    m.due,
                    f"{_TITLES[m.kind]}: {label}",
                    f"Supplier {c.supplier_id}; owner {c.owner}; term ends "
                    f"{c.end_date.isoformat()}{note}.",
                    stamp,
                )
            )
        cal.add_component(
            _event(
                f"{base}-notice-deadline@contract-renewals",
                plan.notice_deadline,
                f"Last day to give notice: {label}",
                "; ".join(plan.notice_provenance) + ".",
                stamp,
            )
        )
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
    contracts = contracts_for_feed(session, owner=owner)
    categories = {
        row.id: row.category
        for row in session.scalars(
            select(SupplierRow).where(SupplierRow.id.in_({c.supplier_id for c in contracts}))
        )
    }
    return plan_contracts(contracts, today=today, cfg=cfg, policy=policy, categories=categories)


def contracts_for_feed(session: Session, *, owner: str | None = None) -> list[ContractRead]:
    stmt = select(ContractRow).where(ContractRow.status == "active").order_by(ContractRow.id)
    if owner is not None:
        stmt = stmt.where(ContractRow.owner == owner)
    return [to_read(row) for row in session.scalars(stmt)]
