"""The plan a view shows for a term (renewal-semantics.md §1): the one the running workflow
stored, else a preview made by the workflow's own plan function and labelled as such. No view
computes a date with rules of its own."""

from collections.abc import Sequence
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from domain.term_plan import CalendarSettings, as_preview
from models.contract import ContractRead
from models.milestones import RenewalPolicy
from models.plans import StoredPlan
from models.tables import SupplierRow
from store import plans
from store.reads._stages import current_term_plan


def plans_for(
    session: Session,
    contracts: Sequence[tuple[ContractRead, str | None]],
    *,
    today: date,
    policy: RenewalPolicy,
    cfg: CalendarSettings,
) -> dict[str, StoredPlan]:
    """The current term's plan of each (contract, supplier category), by contract id: stored
    plans read in one batch, previews computed for the rest."""
    stored = plans.read_plans(session, keys=[(c.id, c.current_term) for c, _ in contracts])
    found: dict[str, StoredPlan] = {}
    for contract, category in contracts:
        plan = stored.get((contract.id, contract.current_term))
        if plan is None:
            preview = current_term_plan(
                contract, category=category, today=today, policy=policy, cfg=cfg
            )
            plan = as_preview(contract.id, contract.current_term, preview)
        found[contract.id] = plan
    return found


def plan_of(
    session: Session,
    *,
    contract: ContractRead,
    term: int | None = None,
    today: date,
    policy: RenewalPolicy,
    cfg: CalendarSettings,
) -> StoredPlan | None:
    """The plan of one term (default: the current one). A past term shows what was stored for
    it, or None when nothing was (a preview of a term that is over would be invented)."""
    the_term = term or contract.current_term
    stored = plans.read_plan(session, contract_id=contract.id, term=the_term)
    if stored is not None or the_term != contract.current_term:
        return stored
    category = session.scalar(
        select(SupplierRow.category).where(SupplierRow.id == contract.supplier_id)
    )
    return plans_for(session, [(contract, category)], today=today, policy=policy, cfg=cfg)[
        contract.id
    ]


__all__ = ["plan_of", "plans_for"]
