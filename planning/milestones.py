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
"""

from datetime import date, timedelta

from dateutil.relativedelta import relativedelta

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
) -> MilestonePlan:
    """Plan the milestones of one term, as seen on ``today``."""
    policy = policy or RenewalPolicy()
    if notice_period_days < 0:
        raise ValueError("notice_period_days must not be negative")
    deadline = notice_deadline(end_date, notice_period_days)
    final_offset = policy.offsets_months[-1]
    expired = today > end_date
    # Re-anchor only when the final-terms milestone would miss the notice deadline. Applying the
    # bound regardless moved earlier milestones whenever month-end clamping made
    # (end - 1 month) - 2 months fall before end - 3 months (31 March with 31 days' notice).
    anchor_to_notice = end_date - relativedelta(months=final_offset) > deadline

    milestones: list[Milestone] = []
    for kind, offset in zip(_ORDER, policy.offsets_months, strict=True):
        nominal = end_date - relativedelta(months=offset)
        due = nominal
        if anchor_to_notice:
            # Same spacing, anchored so the final-terms milestone lands on the notice deadline.
            notice_bound = deadline - relativedelta(months=offset - final_offset)
            due = min(nominal, notice_bound)
        milestones.append(
            Milestone(
                kind=kind,
                due=due,
                nominal=nominal,
                moved_for_notice=due < nominal,
                overdue_at_planning=due < today,
            )
        )
    milestones.append(
        Milestone(
            kind=MilestoneKind.EXPIRY,
            due=end_date,
            nominal=end_date,
            overdue_at_planning=expired,
        )
    )
    return MilestonePlan(
        end_date=end_date,
        notice_deadline=deadline,
        planned_on=today,
        expired_at_planning=expired,
        milestones=tuple(milestones),
    )


def next_term_end(end_date: date, term_months: int) -> date:
    """End of the term that follows one ending on ``end_date``, month ends kept as month ends."""
    following = end_date + relativedelta(months=term_months)
    # 30 April + 12 months is 30 April, but 28 Feb 2027 + 12 months should reach 29 Feb 2028 when
    # the original term ended on a month's last day: keep "end of month" contracts at month end.
    if (end_date + timedelta(days=1)).month != end_date.month:
        following = following + relativedelta(day=31)
    return following
