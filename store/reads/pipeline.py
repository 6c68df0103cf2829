"""The renewal pipeline: every contract with its stage, next milestone, notice deadline,
send-by date, score and recommendation, answered from the database.

The renewal's stage is kept current by the activities (``renewals.stage``), scores come from
the ``scorecards`` table, and the dates are those of the plan the workflow makes
(:func:`domain.term_plan.term_plan`: the jurisdiction's business days, the transit buffer and
the send-by date), so listing thousands of contracts never queries thousands of workflows.
"""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from domain.term_plan import CalendarSettings
from models.milestones import MilestoneKind, MilestonePlan, RenewalPolicy
from models.tables import ContractRow, RenewalRow, ScorecardRow, SupplierRow
from store.contracts import to_read
from store.reads._stages import (
    CONTRACT_TERMINATED,
    NOT_STARTED,
    current_renewal,
    current_term_plan,
    stage_expr,
    stage_names,
)

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


def next_milestone(plan: MilestonePlan, *, stage: str, today: date) -> NextMilestone | None:
    """The first milestone of ``plan`` not yet behind the renewal (None once it is over)."""
    if stage in {"completed", CONTRACT_TERMINATED}:
        return None
    # The stage tells which milestones have run even when their dates are past (a late run).
    done: set[MilestoneKind] = set()
    if stage != NOT_STARTED and stage != "waiting":
        done.add(MilestoneKind.GATHER_FACTS)
    if stage in {"legal_review", "approved", "escalated", "final_terms_issued"}:
        done.add(MilestoneKind.FIRST_DISCUSSION)
    if stage in {"final_terms_issued"}:
        done.add(MilestoneKind.FINAL_TERMS)
    for m in plan.milestones:
        if m.kind in done:
            continue
        if m.kind is MilestoneKind.EXPIRY or m.due >= today or stage == NOT_STARTED:
            return NextMilestone(m.kind.value, m.due, (m.due - today).days)
    expiry = plan.get(MilestoneKind.EXPIRY)
    return NextMilestone(expiry.kind.value, expiry.due, (expiry.due - today).days)


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
    items = []
    for contract, supplier_name, category, workflow_id, stage, total_score, grade, rec in rows:
        plan = current_term_plan(
            to_read(contract), category=category, today=today, policy=policy, cfg=cfg
        ).plan
        items.append(
            PipelineItem(
                contract_id=contract.id,
                title=contract.title,
                supplier_id=contract.supplier_id,
                supplier_name=supplier_name,
                owner=contract.owner,
                term=contract.current_term,
                end_date=contract.end_date,
                days_to_expiry=(contract.end_date - today).days,
                notice_deadline=plan.notice_deadline,
                send_by=plan.send_by,
                stage=stage,
                workflow_id=workflow_id,
                next_milestone=next_milestone(plan, stage=stage, today=today),
                score=total_score,
                grade=grade,
                recommendation=rec,
            )
        )
    return items, total


def distinct_owners(session: Session) -> list[str]:
    return list(session.scalars(select(ContractRow.owner).distinct().order_by(ContractRow.owner)))


def count_contracts(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(ContractRow)) or 0
