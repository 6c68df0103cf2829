"""The plan of one contract term, the one every caller uses: the workflow (through the plan
activity, so that holiday tables are read once and kept in its history), the previews of files
not imported yet, the calendar feed, the sweep's due test and the people's views.

It resolves the term model (an auto-renewing contract with no renewals left is planned as
fixed), the default action at the send-by date, and the business calendar of the contract's
jurisdiction, then plans with :func:`domain.milestones.plan_milestones`.
"""

from dataclasses import dataclass
from datetime import date

from domain.calendars import BusinessCalendar
from domain.milestones import plan_milestones
from models.contract import ContractRead, DefaultAction, TermModel
from models.milestones import MilestoneKind, MilestoneState
from models.plans import StoredMilestone, StoredPlan
from models.renewal import PlanRequest, TermPlan


@dataclass(frozen=True, slots=True)
class CalendarSettings:
    closure_days: frozenset[date] = frozenset()
    jp_year_end_closure: bool = True
    default_action: DefaultAction = DefaultAction.NON_RENEWAL
    default_action_by_category: tuple[tuple[str, DefaultAction], ...] = ()


def calendar_for(contract: ContractRead, cfg: CalendarSettings) -> BusinessCalendar:
    return BusinessCalendar.for_jurisdiction(
        contract.jurisdiction,
        closures=cfg.closure_days,
        year_end_closure=cfg.jp_year_end_closure
        if contract.jurisdiction.startswith("JP")
        else False,
    )


def term_plan(
    contract: ContractRead,
    *,
    category: str | None,
    today: date,
    cfg: CalendarSettings,
    request: PlanRequest,
) -> TermPlan:
    term_model = contract.term_model
    renewals_left: int | None = None
    if term_model is TermModel.AUTO_RENEWING and contract.max_renewals is not None:
        renewals_left = contract.max_renewals - contract.renewals_used
        if renewals_left <= 0:
            term_model = TermModel.FIXED  # its last allowed renewal is behind it
    by_category = dict(cfg.default_action_by_category)
    default = contract.default_action or by_category.get(category or "", cfg.default_action)
    plan = plan_milestones(
        end_date=contract.end_date,
        notice_period_days=contract.notice_period_days,
        today=today,
        policy=request.policy,
        calendar=calendar_for(contract, cfg),
        transit_buffer_days=contract.transit_buffer_days,
        time_zone=contract.effective_time_zone,
        safe_default=term_model is not TermModel.FIXED,
    )
    return TermPlan(
        plan=plan,
        term_model=term_model,
        default_action=default,
        next_term_months=contract.review_period_months
        if term_model is TermModel.EVERGREEN
        else contract.renewal_term_months,
        renewals_left=renewals_left,
    )


def as_preview(contract_id: str, term: int, plan: TermPlan) -> StoredPlan:
    """A plan computed for a term whose renewal has not started, in the shape of a stored one
    and labelled as a preview (renewal-semantics.md §1): the same function, no workflow."""
    p = plan.plan
    return StoredPlan(
        contract_id=contract_id,
        term=term,
        workflow_id=None,
        preview=True,
        end_date=p.end_date,
        notice_deadline=p.notice_deadline,
        notice_provenance=p.notice_provenance,
        send_by=p.send_by,
        send_by_provenance=p.send_by_provenance,
        time_zone=p.time_zone,
        term_model=plan.term_model,
        default_action=plan.default_action,
        planned_on=p.planned_on,
        revision=0,
        milestones=tuple(
            StoredMilestone(
                kind=m.kind,
                due=m.due,
                nominal=m.nominal,
                fires_at=m.fires_at,
                state=MilestoneState.SKIPPED
                if p.expired_at_planning and m.kind is not MilestoneKind.EXPIRY
                else MilestoneState.PENDING,
                late=m.overdue_at_planning,
                moved_for_notice=m.moved_for_notice,
                provenance=m.provenance,
            )
            for m in p.milestones
        ),
    )
