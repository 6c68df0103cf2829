"""Plans without side effects: for the preview of a file that is not imported yet, and for the
calendar feed of stored contracts. Both use the same calendar-aware plan the workflows use."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from domain.milestones import next_review_date
from domain.term_plan import CalendarSettings, term_plan
from models.contract import ContractCreate, ContractRead, ContractStatus
from models.milestones import MilestonePlan, RenewalPolicy
from models.renewal import PlanRequest, TermPlan


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


def plan_as_dict(p: PlannedContract) -> dict[str, Any]:
    """The plan with every date's provenance, as JSON-able values (CLI ``-o json``, API)."""
    plan = p.plan
    return {
        "id": p.contract.id,
        "title": p.contract.title,
        "term_model": p.term_plan.term_model.value,
        "default_action": p.term_plan.default_action.value,
        "time_zone": plan.time_zone,
        "end_date": plan.end_date.isoformat(),
        "notice_deadline": plan.notice_deadline.isoformat(),
        "notice_provenance": list(plan.notice_provenance),
        "send_by": plan.send_by.isoformat() if plan.send_by else None,
        "send_by_provenance": list(plan.send_by_provenance),
        "late": p.late,
        "milestones": [
            {
                "kind": m.kind.value,
                "due": m.due.isoformat(),
                "fires_at": m.fires_at.isoformat() if m.fires_at else None,
                "late": m.overdue_at_planning,
                "moved_for_notice": m.moved_for_notice,
                "provenance": list(m.provenance),
            }
            for m in plan.milestones
        ],
    }
