"""Where a contract term's renewal milestones fall.

The rule, in one place:

* each milestone nominally sits its offset in calendar months before the end date, computed with
  ``relativedelta`` so that month ends clamp (31 August - 6 months = 28/29 February);
* the final-terms milestone must fall on or before the notice deadline (end date minus the notice
  period), because after that day the counterparty can no longer be told the contract will not
  roll over. When it would not, every milestone is also placed relative to the notice deadline,
  keeping the same spacing, and the earlier of the two dates wins;
* a milestone whose date has already passed when the plan is made is overdue: the workflow runs it
  at once and records it as late. A contract already past its end date skips to expiry.

With a business calendar (planning.calendars) the dates become legally safe: a notice deadline on
a weekend, holiday or closure day rolls back to the previous business day; the transit buffer
(business days a posted notice needs to arrive) gives the send-by date; the milestones anchor on
the send-by date and roll back to business days too. Every date records where it came from, and
each milestone gets the instant its timer fires: ``fire_hour_local`` on that date in the
contract's time zone, so a 09:00 reminder stays at 09:00 across daylight-saving changes.
"""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from dateutil.relativedelta import relativedelta

from domain.calendars import BusinessCalendar
from models.milestones import Milestone, MilestoneKind, MilestonePlan, RenewalPolicy

_ORDER = (MilestoneKind.GATHER_FACTS, MilestoneKind.FIRST_DISCUSSION, MilestoneKind.FINAL_TERMS)


def notice_deadline(end_date: date, notice_period_days: int) -> date:
    return end_date - timedelta(days=notice_period_days)


def plan_milestones(
    *,
    end_date: date,
    notice_period_days: int,
    today: date,
    policy: RenewalPolicy | None = None,
    calendar: BusinessCalendar | None = None,
    transit_buffer_days: int = 0,
    time_zone: str | None = None,
    safe_default: bool = False,
) -> MilestonePlan:
    """Plan the milestones of one term, as seen on ``today``.

    Without ``calendar``, ``transit_buffer_days`` and ``time_zone`` this is the plain calendar-month
    plan. ``safe_default`` adds the send-by milestone (auto-renewing contracts)."""
    policy = policy or RenewalPolicy()
    if notice_period_days < 0:
        raise ValueError("notice_period_days must not be negative")
    if transit_buffer_days < 0:
        raise ValueError("transit_buffer_days must not be negative")
    raw_deadline = notice_deadline(end_date, notice_period_days)
    notice_why = [f"end date {end_date.isoformat()} - {notice_period_days} days notice"]
    deadline = raw_deadline
    if calendar is not None:
        deadline, skipped = calendar.on_or_before(raw_deadline)
        notice_why += [f"rolled back past {s} ({calendar.jurisdiction})" for s in skipped]
    send_by, send_by_why = _send_by(deadline, transit_buffer_days, calendar)
    final_offset = policy.offsets_months[-1]
    expired = today > end_date
    # Re-anchor only when the final-terms milestone would miss the send-by date. Applying the
    # bound regardless moved earlier milestones whenever month-end clamping made
    # (end - 1 month) - 2 months fall before end - 3 months (31 March with 31 days' notice).
    anchor_to_notice = end_date - relativedelta(months=final_offset) > send_by

    milestones: list[Milestone] = []
    for kind, offset in zip(_ORDER, policy.offsets_months, strict=True):
        nominal = end_date - relativedelta(months=offset)
        due = nominal
        why = [f"end date {end_date.isoformat()} - {offset} month(s) = {nominal.isoformat()}"]
        if anchor_to_notice:
            # Same spacing, anchored so the final-terms milestone lands on the send-by date.
            notice_bound = send_by - relativedelta(months=offset - final_offset)
            if notice_bound < nominal:
                due = notice_bound
                why.append(
                    f"moved to {due.isoformat()}: {offset - final_offset} month(s) before the "
                    f"send-by date {send_by.isoformat()}"
                )
        if calendar is not None:
            due, skipped = calendar.on_or_before(due)
            why += [f"rolled back past {s}" for s in skipped]
        milestones.append(
            Milestone(
                kind=kind,
                due=due,
                nominal=nominal,
                moved_for_notice=due < nominal,
                overdue_at_planning=due < today,
                provenance=tuple(why),
            )
        )
    if safe_default:
        milestones.append(
            Milestone(
                kind=MilestoneKind.SEND_BY,
                due=send_by,
                nominal=send_by,
                overdue_at_planning=send_by < today,
                provenance=tuple(send_by_why),
            )
        )
    milestones.append(
        Milestone(
            kind=MilestoneKind.EXPIRY,
            due=end_date,
            nominal=end_date,
            overdue_at_planning=expired,
            provenance=("end date",),
        )
    )
    if time_zone is not None:
        zone = ZoneInfo(time_zone)
        milestones = [
            m.model_copy(
                update={
                    "fires_at": datetime.combine(
                        m.due, time(policy.fire_hour_local), tzinfo=zone
                    ).astimezone(UTC)
                }
            )
            for m in milestones
        ]
    return MilestonePlan(
        end_date=end_date,
        notice_deadline=deadline,
        planned_on=today,
        expired_at_planning=expired,
        milestones=tuple(milestones),
        notice_provenance=tuple(notice_why),
        send_by=send_by,
        send_by_provenance=tuple(send_by_why),
        time_zone=time_zone or "UTC",
    )


def _send_by(
    deadline: date, buffer_days: int, calendar: BusinessCalendar | None
) -> tuple[date, list[str]]:
    why = [f"notice deadline {deadline.isoformat()}"]
    if buffer_days == 0:
        return deadline, why
    if calendar is None:
        send_by = deadline - timedelta(days=buffer_days)
        why.append(f"- {buffer_days} day(s) for the notice to arrive")
        return send_by, why
    send_by = calendar.business_days_before(deadline, buffer_days)
    why.append(
        f"- {buffer_days} business day(s) for the notice to arrive ({calendar.jurisdiction})"
    )
    return send_by, why


def next_term_end(end_date: date, term_months: int) -> date:
    """End of the term that follows one ending on ``end_date``, month ends kept as month ends."""
    following = end_date + relativedelta(months=term_months)
    # 30 April + 12 months is 30 April, but 28 Feb 2027 + 12 months should reach 29 Feb 2028 when
    # the original term ended on a month's last day: keep "end of month" contracts at month end.
    if (end_date + timedelta(days=1)).month != end_date.month:
        following = following + relativedelta(day=31)
    return following


def next_review_date(start: date, review_period_months: int, today: date) -> date:
    """The first review of an evergreen contract on or after ``today``: start + k periods."""
    k = 1
    while (review := start + relativedelta(months=review_period_months * k)) < today:
        k += 1
    return review
