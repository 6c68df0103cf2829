"""The plan a view shows for a term (renewal-semantics.md §1): the one the running workflow
stored, else a preview made by the workflow's own plan function and labelled as such. No view
computes a date with rules of its own."""

from collections.abc import Sequence
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from domain.term_plan import CalendarSettings
from models.contract import ContractRead
from models.milestones import RenewalPolicy
from models.plans import StoredPlan
from models.tables import SupplierRow
from store import plans
from store.reads.previews import previews_for


def plans_for(
    session: Session,
    contracts: Sequence[tuple[ContractRead, str | None]],
    *,
    today: date,
    policy: RenewalPolicy,
    cfg: CalendarSettings,
) -> dict[str, StoredPlan]:
    """The current term's plan of each (contract, supplier category), by contract id: stored
    plans read in one batch, previews for the rest (:func:`store.reads.previews.previews_for`:
    one plan per distinct set of what it plans from)."""
    stored = plans.read_plans(session, keys=[(c.id, c.current_term) for c, _ in contracts])
    unplanned = [(c, cat) for c, cat in contracts if (c.id, c.current_term) not in stored]
    previews = previews_for(unplanned, today=today, policy=policy, cfg=cfg)
    return {
        c.id: previews[c.id]
        if (c.id, c.current_term) not in stored
        else stored[(c.id, c.current_term)]
        for c, _ in contracts
    }


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
