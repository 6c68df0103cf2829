"""Read models for the people's interfaces: the renewal pipeline, the legal review queue and
the managers' dashboard, answered from the database.

The renewal's stage is kept current by the activities (``renewals.stage``), scores come from
the ``scorecards`` table and the milestone plan is recomputed with
:func:`planning.milestones.plan_milestones`, so listing thousands of contracts never queries
thousands of workflows.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, case, func, literal, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from domain.milestones import plan_milestones
from models.contract import SupplierRead
from models.errors import NotFound
from models.milestones import MilestoneKind, RenewalPolicy
from models.renewal import RenewalStage
from models.tables import (
    ContractRow,
    DraftRow,
    RenewalEventRow,
    RenewalRow,
    ReviewDecisionRow,
    ScorecardRow,
    SupplierRow,
)

NOT_STARTED = "not_started"
CONTRACT_TERMINATED = "contract_terminated"


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


def _stage_expr() -> ColumnElement[str]:
    return case(
        (ContractRow.status == "terminated", literal(CONTRACT_TERMINATED)),
        else_=func.coalesce(RenewalRow.stage, literal(NOT_STARTED)),
    )


def _pipeline_query(flt: PipelineFilter) -> Any:
    stage = _stage_expr().label("stage")
    query = (
        select(
            ContractRow,
            SupplierRow.name,
            RenewalRow.workflow_id,
            stage,
            ScorecardRow.total,
            ScorecardRow.grade,
            ScorecardRow.recommendation,
        )
        .join(SupplierRow, SupplierRow.id == ContractRow.supplier_id)
        .outerjoin(
            RenewalRow,
            and_(
                RenewalRow.contract_id == ContractRow.id,
                RenewalRow.term == ContractRow.current_term,
            ),
        )
        .outerjoin(ScorecardRow, ScorecardRow.renewal_id == RenewalRow.id)
    )
    if flt.stage:
        query = query.where(_stage_expr() == flt.stage)
    if flt.supplier_id:
        query = query.where(ContractRow.supplier_id == flt.supplier_id)
    if flt.owner:
        query = query.where(func.lower(ContractRow.owner) == flt.owner.strip().lower())
    if flt.ends_from:
        query = query.where(ContractRow.end_date >= flt.ends_from)
    if flt.ends_to:
        query = query.where(ContractRow.end_date <= flt.ends_to)
    return query


def next_milestone(
    *, end_date: date, notice_period_days: int, stage: str, today: date, policy: RenewalPolicy
) -> tuple[NextMilestone | None, date]:
    """The first milestone not yet behind the renewal, and the notice deadline."""
    plan = plan_milestones(
        end_date=end_date, notice_period_days=notice_period_days, today=today, policy=policy
    )
    if stage in {"completed", CONTRACT_TERMINATED}:
        return None, plan.notice_deadline
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
            return NextMilestone(m.kind.value, m.due, (m.due - today).days), plan.notice_deadline
    expiry = plan.get(MilestoneKind.EXPIRY)
    return NextMilestone(expiry.kind.value, expiry.due, (expiry.due - today).days), (
        plan.notice_deadline
    )


def pipeline(
    session: Session,
    *,
    today: date,
    policy: RenewalPolicy,
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
    for contract, supplier_name, workflow_id, stage, total_score, grade, rec in rows:
        milestone, deadline = next_milestone(
            end_date=contract.end_date,
            notice_period_days=contract.notice_period_days,
            stage=stage,
            today=today,
            policy=policy,
        )
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
                notice_deadline=deadline,
                stage=stage,
                workflow_id=workflow_id,
                next_milestone=milestone,
                score=total_score,
                grade=grade,
                recommendation=rec,
            )
        )
    return items, total


# ---------------------------------------------------------------------------- review queue


@dataclass(frozen=True, slots=True)
class QueueItem:
    contract_id: str
    term: int
    title: str
    supplier_name: str
    owner: str
    version: int
    content_hash: str
    requested_by: str
    answers_comment: str | None
    drafted_at: datetime
    due: date  # the final-terms milestone: an approval must be in by then
    days_left: int


def review_queue(
    session: Session, *, today: date, policy: RenewalPolicy, limit: int = 100, offset: int = 0
) -> tuple[list[QueueItem], int]:
    """Drafts awaiting a decision, oldest first: the newest renegotiation version of each
    renewal in legal review that no decision has been recorded on."""
    latest = (
        select(DraftRow.renewal_id, func.max(DraftRow.version).label("version"))
        .where(DraftRow.kind == "renegotiation")
        .group_by(DraftRow.renewal_id)
        .subquery()
    )
    decided = (
        select(ReviewDecisionRow.id)
        .where(
            ReviewDecisionRow.renewal_id == DraftRow.renewal_id,
            ReviewDecisionRow.draft_version == DraftRow.version,
        )
        .exists()
    )
    query = (
        select(DraftRow, RenewalRow, ContractRow, SupplierRow.name)
        .join(
            latest,
            and_(latest.c.renewal_id == DraftRow.renewal_id, latest.c.version == DraftRow.version),
        )
        .join(RenewalRow, RenewalRow.id == DraftRow.renewal_id)
        .join(ContractRow, ContractRow.id == RenewalRow.contract_id)
        .join(SupplierRow, SupplierRow.id == ContractRow.supplier_id)
        .where(DraftRow.kind == "renegotiation", RenewalRow.stage == "legal_review", ~decided)
    )
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.execute(
        query.order_by(DraftRow.created_at, DraftRow.id).limit(limit).offset(offset)
    ).all()
    items = []
    for draft, renewal, contract, supplier_name in rows:
        plan = plan_milestones(
            end_date=contract.end_date,
            notice_period_days=contract.notice_period_days,
            today=today,
            policy=policy,
        )
        due = plan.get(MilestoneKind.FINAL_TERMS).due
        items.append(
            QueueItem(
                contract_id=contract.id,
                term=renewal.term,
                title=contract.title,
                supplier_name=supplier_name,
                owner=contract.owner,
                version=draft.version,
                content_hash=draft.content_hash,
                requested_by=draft.requested_by,
                answers_comment=draft.answers_comment,
                drafted_at=draft.created_at,
                due=due,
                days_left=(due - today).days,
            )
        )
    return items, total


# ---------------------------------------------------------------------------- dashboard


@dataclass(frozen=True, slots=True)
class SupplierScore:
    supplier_id: str
    supplier_name: str
    score: Decimal | None  # mean of the latest scorecards of the supplier's contracts
    contracts: int


@dataclass(frozen=True, slots=True)
class Dashboard:
    today: date
    by_stage: dict[str, int]
    expiring: dict[int, int]  # window in days -> active contracts ending within it
    supplier_scores: list[SupplierScore]


EXPIRY_WINDOWS: Sequence[int] = (30, 90, 180)


def dashboard(session: Session, *, today: date) -> Dashboard:
    stage = _stage_expr()
    by_stage_rows = session.execute(
        select(stage, func.count())
        .select_from(ContractRow)
        .outerjoin(
            RenewalRow,
            and_(
                RenewalRow.contract_id == ContractRow.id,
                RenewalRow.term == ContractRow.current_term,
            ),
        )
        .group_by(stage)
    ).all()
    by_stage = {str(s): int(n) for s, n in by_stage_rows}
    expiring: dict[int, int] = {}
    for days in EXPIRY_WINDOWS:
        expiring[days] = (
            session.scalar(
                select(func.count())
                .select_from(ContractRow)
                .where(
                    ContractRow.status == "active",
                    ContractRow.end_date >= today,
                    ContractRow.end_date <= today + timedelta(days=days),
                )
            )
            or 0
        )
    # The newest scorecard of each contract (its latest renewal that has one).
    newest = (
        select(RenewalRow.contract_id, func.max(RenewalRow.term).label("term"))
        .join(ScorecardRow, ScorecardRow.renewal_id == RenewalRow.id)
        .group_by(RenewalRow.contract_id)
        .subquery()
    )
    score_rows = session.execute(
        select(SupplierRow.id, SupplierRow.name, ScorecardRow.total)
        .join(ContractRow, ContractRow.supplier_id == SupplierRow.id)
        .join(newest, newest.c.contract_id == ContractRow.id)
        .join(
            RenewalRow,
            and_(RenewalRow.contract_id == newest.c.contract_id, RenewalRow.term == newest.c.term),
        )
        .join(ScorecardRow, ScorecardRow.renewal_id == RenewalRow.id)
        .order_by(SupplierRow.id)
    ).all()
    grouped: dict[str, tuple[str, list[Decimal]]] = {}
    counts: dict[str, int] = {}
    for supplier_id, name, total in score_rows:
        entry = grouped.setdefault(supplier_id, (name, []))
        counts[supplier_id] = counts.get(supplier_id, 0) + 1
        if total is not None:
            entry[1].append(Decimal(total))
    scores = [
        SupplierScore(
            supplier_id=sid,
            supplier_name=name,
            score=(sum(values, Decimal(0)) / len(values)).quantize(Decimal("0.1"))
            if values
            else None,
            contracts=counts[sid],
        )
        for sid, (name, values) in grouped.items()
    ]
    scores.sort(key=lambda s: (s.score is None, -(s.score or 0), s.supplier_id))
    return Dashboard(today=today, by_stage=by_stage, expiring=expiring, supplier_scores=scores)


def distinct_owners(session: Session) -> list[str]:
    return list(session.scalars(select(ContractRow.owner).distinct().order_by(ContractRow.owner)))


def stage_names() -> list[str]:
    return [NOT_STARTED, *(s.value for s in RenewalStage), CONTRACT_TERMINATED]


# ---------------------------------------------------------------------------- one renewal


@dataclass(frozen=True, slots=True)
class DecisionEntry:
    decision: str
    reviewer: str
    draft_version: int
    content_hash: str
    comment: str
    decided_at: datetime


@dataclass(frozen=True, slots=True)
class EventEntry:
    kind: str
    detail: dict[str, Any]
    created_at: datetime


@dataclass(frozen=True, slots=True)
class RenewalRecord:
    contract_id: str
    term: int
    workflow_id: str
    requested_by: str
    term_end_date: date
    stage: str
    outcome: str | None
    scorecard: dict[str, Any] | None
    decisions: list[DecisionEntry]
    events: list[EventEntry]


def renewal_record(session: Session, *, contract_id: str, term: int) -> RenewalRecord | None:
    """What the database holds about one renewal; None when the term has not started."""
    renewal = session.scalar(
        select(RenewalRow).where(RenewalRow.contract_id == contract_id, RenewalRow.term == term)
    )
    if renewal is None:
        return None
    card = session.scalar(select(ScorecardRow).where(ScorecardRow.renewal_id == renewal.id))
    decisions = session.scalars(
        select(ReviewDecisionRow)
        .where(ReviewDecisionRow.renewal_id == renewal.id)
        .order_by(ReviewDecisionRow.id)
    )
    events = session.scalars(
        select(RenewalEventRow)
        .where(RenewalEventRow.renewal_id == renewal.id)
        .order_by(RenewalEventRow.id)
    )
    return RenewalRecord(
        contract_id=renewal.contract_id,
        term=renewal.term,
        workflow_id=renewal.workflow_id,
        requested_by=renewal.requested_by,
        term_end_date=renewal.term_end_date,
        stage=renewal.stage,
        outcome=renewal.outcome,
        scorecard=dict(card.body) if card is not None else None,
        decisions=[
            DecisionEntry(
                decision=d.decision,
                reviewer=d.reviewer,
                draft_version=d.draft_version,
                content_hash=d.content_hash,
                comment=d.comment,
                decided_at=d.decided_at,
            )
            for d in decisions
        ],
        events=[
            EventEntry(kind=e.kind, detail=dict(e.detail), created_at=e.created_at) for e in events
        ],
    )


def renewal_terms(session: Session, *, contract_id: str) -> list[int]:
    return list(
        session.scalars(
            select(RenewalRow.term)
            .where(RenewalRow.contract_id == contract_id)
            .order_by(RenewalRow.term)
        )
    )


def list_suppliers(
    session: Session, *, limit: int = 50, offset: int = 0
) -> tuple[list[SupplierRead], int]:
    total = session.scalar(select(func.count()).select_from(SupplierRow)) or 0
    rows = session.scalars(select(SupplierRow).order_by(SupplierRow.id).limit(limit).offset(offset))
    return [SupplierRead.model_validate(r) for r in rows], total


def get_supplier(session: Session, *, supplier_id: str) -> SupplierRead:
    row = session.get(SupplierRow, supplier_id)
    if row is None:
        raise NotFound(f"supplier {supplier_id!r} does not exist")
    return SupplierRead.model_validate(row)


def count_contracts(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(ContractRow)) or 0
