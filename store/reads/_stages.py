"""What the read models share: a contract's stage as SQL, and the plan of its current term.

A contract's stage is its current term's renewal stage (``renewals.stage``, kept current by the
activities), ``not_started`` when that term has no renewal yet, and ``contract_terminated``
once the contract is terminated.
"""

from datetime import date

from sqlalchemy import and_, case, func, literal
from sqlalchemy.sql.elements import ColumnElement

from domain.term_plan import CalendarSettings, term_plan
from models.contract import ContractRead
from models.milestones import RenewalPolicy
from models.renewal import PlanRequest, RenewalStage, TermPlan
from models.tables import ContractRow, RenewalRow

NOT_STARTED = "not_started"
CONTRACT_TERMINATED = "contract_terminated"


def stage_expr() -> ColumnElement[str]:
    return case(
        (ContractRow.status == "terminated", literal(CONTRACT_TERMINATED)),
        else_=func.coalesce(RenewalRow.stage, literal(NOT_STARTED)),
    )


def current_renewal() -> ColumnElement[bool]:
    """The join condition of a contract and the renewal of its current term."""
    return and_(
        RenewalRow.contract_id == ContractRow.id,
        RenewalRow.term == ContractRow.current_term,
    )


def stage_names() -> list[str]:
    return [NOT_STARTED, *(s.value for s in RenewalStage), CONTRACT_TERMINATED]


def current_term_plan(
    contract: ContractRead,
    *,
    category: str | None,
    today: date,
    policy: RenewalPolicy,
    cfg: CalendarSettings,
) -> TermPlan:
    """The plan of the contract's current term, made by the function the workflow plans with
    (:func:`domain.term_plan.term_plan`, through its plan activity): the same business days,
    transit buffer and send-by date. ``category`` is the supplier's (its default action)."""
    return term_plan(
        contract,
        category=category,
        today=today,
        cfg=cfg,
        request=PlanRequest(
            contract_id=contract.id, term=contract.current_term, today=today, policy=policy
        ),
    )
