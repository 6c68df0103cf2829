"""The sweep's rules: which contracts could be due, and which are.

A contract is due on the day its gather-facts milestone falls, in the plan the workflow makes
(:func:`domain.term_plan.term_plan`: the calendar of its jurisdiction, its transit buffer and
send-by date), so the sweep starts a renewal on the date the workflow and every view show.

The sweep reads only contracts whose end date is at most :func:`candidate_horizon` away: the
first offset, the longest notice and transit time (:func:`reach_days`) and room for the days a
calendar moves a date back. Every contract that :func:`is_due` is inside it.
"""

from datetime import date, timedelta

from dateutil.relativedelta import relativedelta

from domain.term_plan import CalendarSettings, term_plan
from models.contract import ContractRead
from models.milestones import MilestoneKind, RenewalPolicy
from models.renewal import PlanRequest

# Calendar days by which the gather-facts milestone can come before "end date - first offset"
# beyond what reach_days accounts for: rolled back past a run of closed days (Japan's year-end
# closure with the weekends on both sides is nine: 27 December to 4 January) plus month-end
# clamping (31 August - 6 months = 28 February, three days). The notice deadline's own roll-back
# is within the last offset's month, which the horizon also spans.
CALENDAR_SLACK_DAYS = 14


def reach_days(notice_period_days: int, transit_buffer_days: int) -> int:
    """How far before its end date a contract's notice may have to leave, in calendar days: the
    notice period and two days for each business day of transit (weekends and holidays)."""
    return notice_period_days + 2 * transit_buffer_days


def candidate_horizon(
    *, as_of: date, policy: RenewalPolicy, cfg: CalendarSettings, max_reach_days: int
) -> date:
    """The latest end date that can be due on ``as_of``, given the largest :func:`reach_days`
    of the contracts swept. Each organisation closure day after ``as_of`` can move one date
    back by one more day, so each widens the horizon by one."""
    closures = sum(1 for d in cfg.closure_days if d > as_of)
    return (
        as_of
        + relativedelta(months=policy.offsets_months[0])
        + timedelta(days=max_reach_days + CALENDAR_SLACK_DAYS + closures)
    )


def is_due(
    contract: ContractRead,
    *,
    category: str | None,
    as_of: date,
    policy: RenewalPolicy,
    cfg: CalendarSettings,
) -> bool:
    """Due once the gather-facts milestone of the contract's current term has come: on that
    date, not later. ``category`` is the supplier's (it decides the default action).

    Asked only of terms no workflow has planned (:func:`store.sweep.candidate_page` leaves out
    every term with a renewal or a stored plan), so this preview never re-judges a stored plan."""
    plan = term_plan(
        contract,
        category=category,
        today=as_of,
        cfg=cfg,
        request=PlanRequest(
            contract_id=contract.id, term=contract.current_term, today=as_of, policy=policy
        ),
    ).plan
    return plan.get(MilestoneKind.GATHER_FACTS).due <= as_of
