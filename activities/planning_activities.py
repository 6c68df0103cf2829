"""Plans made with business calendars, as activities (the rule is :mod:`domain.term_plan`).

The holiday tables are data that change between releases of the ``holidays`` library, so the
workflow never computes them itself: it asks here and keeps the answer in its history, which is
what makes a replay of an old renewal come out the same after an upgrade.
"""

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from temporalio import activity

from activities.failures import activity_failures
from domain.term_plan import CalendarSettings, calendar_for, term_plan
from models.activity_names import ActivityName
from models.renewal import PlanRequest, ReviewDeadlines, ReviewDeadlinesRequest, TermPlan
from models.tables import SupplierRow
from store import contracts as contract_store
from store.db import SessionFactory, transaction


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
