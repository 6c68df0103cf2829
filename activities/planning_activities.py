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
from models.plans import MilestoneRecord
from models.renewal import PlanRequest, ReviewDeadlines, ReviewDeadlinesRequest, TermPlan
from models.tables import SupplierRow
from store import contracts as contract_store
from store import plans
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
            planned = term_plan(
                contract,
                category=supplier.category if supplier else None,
                today=request.today,
                cfg=self._cfg,
                request=request,
            )
            # The one truth every view reads (renewal-semantics.md §1): stored each time the
            # workflow plans or re-plans, in the same transaction as the plan is read.
            workflow_id = activity.info().workflow_id
            if workflow_id is not None:  # None only when called outside a workflow (tests)
                plans.save_plan(
                    session,
                    contract_id=request.contract_id,
                    term=request.term,
                    workflow_id=workflow_id,
                    plan=planned,
                )
            return planned

    @activity.defn(name=ActivityName.RECORD_MILESTONE)
    def record_milestone(self, record: MilestoneRecord) -> None:
        with activity_failures(), transaction(self._sessions) as session:
            plans.record_milestone(session, record=record)

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
