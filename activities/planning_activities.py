"""Plans made with business calendars, as activities.

The holiday tables are data that change between releases of the ``holidays`` library, so the
workflow never computes them itself: it asks here and keeps the answer in its history, which is
what makes a replay of an old renewal come out the same after an upgrade.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from temporalio import activity

from activities import contract_store
from activities.db import SessionFactory, transaction
from activities.failures import activity_failures
from config.settings import Settings
from models.activity_names import ActivityName
from models.contract import ContractRead, DefaultAction, TermModel
from models.renewal import PlanRequest, ReviewDeadlines, ReviewDeadlinesRequest, TermPlan
from models.tables import SupplierRow
from planning.calendars import BusinessCalendar
from planning.milestones import plan_milestones


@dataclass(frozen=True, slots=True)
class CalendarSettings:
    closure_days: frozenset[date] = frozenset()
    jp_year_end_closure: bool = True
    default_action: DefaultAction = DefaultAction.NON_RENEWAL
    default_action_by_category: tuple[tuple[str, DefaultAction], ...] = ()

    @classmethod
    def from_settings(cls, s: Settings) -> "CalendarSettings":
        return cls(
            closure_days=frozenset(s.closure_days),
            jp_year_end_closure=s.jp_year_end_closure,
            default_action=s.default_action,
            default_action_by_category=tuple(s.default_action_by_category.items()),
        )


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


class PlanningActivities:
    def __init__(self, sessions: SessionFactory, cfg: CalendarSettings) -> None:
        self._sessions = sessions
        self._cfg = cfg

    @activity.defn(name=ActivityName.PLAN_TERM)
    def plan_term(self, request: PlanRequest) -> TermPlan:
        with activity_failures(), transaction(self._sessions) as session:
            contract = contract_store.get_contract(session, contract_id=request.contract_id)
            supplier = session.get(SupplierRow, contract.supplier_id)
            return term_plan(
                contract,
                category=supplier.category if supplier else None,
                today=request.today,
                cfg=self._cfg,
                request=request,
            )

    @activity.defn(name=ActivityName.REVIEW_DEADLINES)
    def review_deadlines(self, request: ReviewDeadlinesRequest) -> ReviewDeadlines:
        with activity_failures(), transaction(self._sessions) as session:
            contract = contract_store.get_contract(session, contract_id=request.contract_id)
        cal = calendar_for(contract, self._cfg)
        remind = cal.business_days_after(request.from_date, request.business_days)
        escalate = cal.business_days_after(remind, request.business_days)
        zone = ZoneInfo(contract.effective_time_zone)

        def at(day: date) -> datetime:
            return datetime.combine(day, time(9), tzinfo=zone).astimezone(UTC)

        return ReviewDeadlines(
            remind_at=at(remind),
            escalate_at=at(escalate),
            provenance=(
                f"{request.business_days} business days ({cal.jurisdiction}) after "
                f"{request.from_date.isoformat()}: reminder {remind.isoformat()}, "
                f"escalation {escalate.isoformat()}",
            ),
        )
