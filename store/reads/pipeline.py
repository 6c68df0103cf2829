"""The renewal pipeline: every contract with its stage, next milestone, notice deadline,
send-by date, score and recommendation, answered from the database.

The renewal's stage is kept current by the activities (``renewals.stage``), scores come from
the ``scorecards`` table, and the dates are those of the term's stored plan
(renewal-semantics.md §1: what the running workflow planned, with each milestone's state as it
reported it), read for a whole page in one batch by :func:`store.reads.plans.plans_for`. A term
whose renewal has not started shows a preview made by the workflow's own plan function, and the
item says so (``plan_preview``). Listing thousands of contracts never queries a workflow.
"""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from domain.term_plan import CalendarSettings
from models.milestones import MilestoneKind, RenewalPolicy
from models.plans import StoredMilestone, StoredPlan
from models.tables import ContractRow, RenewalRow, ScorecardRow, SupplierRow
from store.contracts import to_read
from store.reads._stages import (
    CONTRACT_TERMINATED,
    NOT_STARTED,
    current_renewal,
    stage_expr,
    stage_names,
)
from store.reads.plans import plans_for

__all__ = [
    "CONTRACT_TERMINATED",
    "NOT_STARTED",
    "NextMilestone",
    "PipelineFilter",
    "PipelineItem",
    "count_contracts",
    "distinct_owners",
    "next_milestone",
    "pipeline",
    "stage_names",
]


@dataclass(frozen=True, slots=True)
class NextMilestone:
    kind: str
    due: date
    days_left: int  # negative: overdue


@dataclass(frozen=True, slots=True)
class PipelineItem:
    contract_id: str
    title: str
    supplier_id: str
    supplier_name: str
    owner: str
    term: int
    end_date: date
    days_to_expiry: int
    notice_deadline: date
    send_by: date | None  # last business day to post a notice so that it arrives in time
    stage: str
    workflow_id: str | None
    next_milestone: NextMilestone | None
    score: Decimal | None
    grade: str | None
    recommendation: str | None
    # True: no stored plan for this term (its renewal has not started), so the dates are a
    # preview made by the workflow's plan function; False: the running renewal's stored plan.
    plan_preview: bool


@dataclass(frozen=True, slots=True)
class PipelineFilter:
    stage: str | None = None
    supplier_id: str | None = None
    owner: str | None = None
    ends_from: date | None = None
    ends_to: date | None = None


def _pipeline_query(flt: PipelineFilter) -> Any:
    stage = stage_expr().label("stage")
    query = (
        select(
            ContractRow,
            SupplierRow.name,
            SupplierRow.category,
            RenewalRow.workflow_id,
            stage,
            ScorecardRow.total,
            ScorecardRow.grade,
            ScorecardRow.recommendation,
        )
        .join(SupplierRow, SupplierRow.id == ContractRow.supplier_id)
        .outerjoin(RenewalRow, current_renewal())
        .outerjoin(ScorecardRow, ScorecardRow.renewal_id == RenewalRow.id)
    )
    if flt.stage:
        query = query.where(stage_expr() == flt.stage)
    if flt.supplier_id:
        query = query.where(ContractRow.supplier_id == flt.supplier_id)
    if flt.owner:
        query = query.where(func.lower(ContractRow.owner) == flt.owner.strip().lower())
    if flt.ends_from:
        query = query.where(ContractRow.end_date >= flt.ends_from)
    if flt.ends_to:
        query = query.where(ContractRow.end_date <= flt.ends_to)
    return query


def next_milestone(plan: StoredPlan, *, stage: str, today: date) -> NextMilestone | None:
    """The first milestone of ``plan`` the renewal has not passed (None once it is over).

    For a stored plan that is the first one still pending in the states the workflow stored:
    a milestone whose date is behind but that has not run is shown, overdue, not skipped. A
    preview of a term whose renewal has not started begins with its first milestone."""
    if stage in {"completed", CONTRACT_TERMINATED}:
        return None
    if plan.preview and stage != NOT_STARTED:
        return _from_stage(plan, stage=stage, today=today)
    nxt = plan.next_open()
    return None if nxt is None else _next(nxt, today)


def _next(m: StoredMilestone, today: date) -> NextMilestone:
    return NextMilestone(m.kind.value, m.due, (m.due - today).days)


def _from_stage(plan: StoredPlan, *, stage: str, today: date) -> NextMilestone | None:
    """A renewal started before plans were stored that has neither re-planned nor been
    backfilled yet (`renewals plans backfill`): its milestones' states are not stored, so the
    stage tells which have run. Labelled a preview like any plan that is not stored."""
    done: set[MilestoneKind] = set()
    if stage != "waiting":
        done.add(MilestoneKind.GATHER_FACTS)
    if stage in {"legal_review", "approved", "escalated", "final_terms_issued"}:
        done.add(MilestoneKind.FIRST_DISCUSSION)
    if stage in {"final_terms_issued"}:
        done.add(MilestoneKind.FINAL_TERMS)
    for m in plan.milestones:
        if m.kind in done:
            continue
        if m.kind is MilestoneKind.EXPIRY or m.due >= today:
            return _next(m, today)
    expiry = plan.get(MilestoneKind.EXPIRY)
    return None if expiry is None else _next(expiry, today)


def pipeline(
    session: Session,
    *,
    today: date,
    policy: RenewalPolicy,
    cfg: CalendarSettings,
    flt: PipelineFilter | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[PipelineItem], int]:
    """A page of contracts, soonest expiry first, and how many match the filter."""
    query = _pipeline_query(flt or PipelineFilter())
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.execute(
        query.order_by(ContractRow.end_date, ContractRow.id).limit(limit).offset(offset)
    ).all()
    contracts = [(to_read(row[0]), row[2]) for row in rows]
    shown = plans_for(session, contracts, today=today, policy=policy, cfg=cfg)
    items = []
    for (contract, _category), row in zip(contracts, rows, strict=True):
        _, supplier_name, _, workflow_id, stage, total_score, grade, rec = row
        plan = shown[contract.id]
        items.append(
            PipelineItem(
                contract_id=contract.id,
                title=contract.title,
                supplier_id=contract.supplier_id,
                supplier_name=supplier_name,
                owner=contract.owner,
                term=contract.current_term,
                end_date=plan.end_date,
                days_to_expiry=(plan.end_date - today).days,
                notice_deadline=plan.notice_deadline,
                send_by=plan.send_by,
                stage=stage,
                workflow_id=workflow_id,
                next_milestone=next_milestone(plan, stage=stage, today=today),
                score=total_score,
                grade=grade,
                recommendation=rec,
                plan_preview=plan.preview,
            )
        )
    return items, total


def distinct_owners(session: Session) -> list[str]:
    return list(session.scalars(select(ContractRow.owner).distinct().order_by(ContractRow.owner)))


def count_contracts(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(ContractRow)) or 0
