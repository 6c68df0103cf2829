"""The previews of a page's terms that have no stored plan, each made by the workflow's plan
function (renewal-semantics.md §1) once per distinct set of what it plans from.

Planning a term costs about half a millisecond (relativedelta, the business calendar, the
models); an export of 1,000 rows made one plan per row, though contracts ending on the same day
with the same notice period, calendar and term model get the same plan. Each plan is made
once per distinct set of the contract's planning fields and its supplier's category, and
labelled for each contract (:func:`domain.term_plan.as_preview`, whose only other inputs are
the contract id and term). Only fields that the plan
function never reads are left out of that set: a field added to contracts is in it.
"""

from collections.abc import Hashable, Sequence
from datetime import date

from domain.term_plan import CalendarSettings, as_preview
from models.contract import ContractRead
from models.milestones import RenewalPolicy
from models.plans import StoredPlan
from store.reads._stages import current_term_plan

__all__ = ["NOT_PLANNED_FROM", "previews_for"]

# What the plan function (domain.term_plan.term_plan) does not read; the term and contract id
# are the preview's labels, set per contract.
NOT_PLANNED_FROM = frozenset(
    {
        "id",
        "current_term",
        "title",
        "supplier_id",
        "owner",
        "team",
        "start_date",
        "currency",
        "annual_value",
        "terms",
        "language",
        "status",
        "price_adjustment_cap_pct",
        "additional_clauses",
    }
)


def _planned_from(contract: ContractRead, category: str | None) -> tuple[Hashable, ...]:
    fields = sorted(vars(contract).items())
    return (category, *((k, v) for k, v in fields if k not in NOT_PLANNED_FROM))


def previews_for(
    contracts: Sequence[tuple[ContractRead, str | None]],
    *,
    today: date,
    policy: RenewalPolicy,
    cfg: CalendarSettings,
) -> dict[str, StoredPlan]:
    """The preview of the current term of each (contract, supplier category) that has no
    stored plan, by contract id: what :func:`store.reads.plans.plans_for` makes for it."""
    made: dict[tuple[Hashable, ...], StoredPlan] = {}
    found: dict[str, StoredPlan] = {}
    for contract, category in contracts:
        key = _planned_from(contract, category)
        preview = made.get(key)
        if preview is None:
            plan = current_term_plan(
                contract, category=category, today=today, policy=policy, cfg=cfg
            )
            preview = made[key] = as_preview(contract.id, contract.current_term, plan)
        else:  # the same preview, labelled with this contract's id and term
            preview = preview.model_copy(
                update={"contract_id": contract.id, "term": contract.current_term}
            )
        found[contract.id] = preview
    return found
