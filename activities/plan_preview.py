"""Plans without side effects: for the preview of a file that is not imported yet, and for the
calendar feed of stored contracts. Both use the same calendar-aware plan the workflows use."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from activities.planning_activities import CalendarSettings, term_plan
from models.contract import ContractCreate, ContractRead, ContractStatus
from models.milestones import MilestonePlan, RenewalPolicy
from models.renewal import PlanRequest, TermPlan
from planning.milestones import next_review_date


@dataclass(frozen=True, slots=True)
class PlannedContract:
    contract: ContractRead
    term_plan: TermPlan

    @property
    def plan(self) -> MilestonePlan:
        return self.term_plan.plan

    @property
    def late(self) -> list[str]:
        """Milestones that would run late (at once) if the renewal started today."""
        return [m.kind.value for m in self.plan.milestones if m.overdue_at_planning]


def as_read(contract: ContractCreate, *, today: date) -> ContractRead:
    data = contract.model_dump()
    if data["end_date"] is None:
        data["end_date"] = next_review_date(
            contract.start_date, contract.review_period_months, today
        )
    return ContractRead.model_validate({**data, "current_term": 1, "status": ContractStatus.ACTIVE})


def plan_contracts(
    contracts: Iterable[ContractRead],
    *,
    today: date,
    cfg: CalendarSettings,
    policy: RenewalPolicy,
    categories: dict[str, str] | None = None,
) -> list[PlannedContract]:
    categories = categories or {}
    return [
        PlannedContract(
            contract=c,
            term_plan=term_plan(
                c,
                category=categories.get(c.supplier_id),
                today=today,
                cfg=cfg,
                request=PlanRequest(
                    contract_id=c.id, term=c.current_term, today=today, policy=policy
                ),
            ),
        )
        for c in contracts
    ]
