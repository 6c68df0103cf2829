"""The legal review queue: drafts awaiting a decision, with the date an approval must be in by
(the final-terms milestone of the plan the workflow makes)."""

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from domain.term_plan import CalendarSettings
from models.milestones import MilestoneKind, RenewalPolicy
from models.tables import ContractRow, DraftRow, RenewalRow, ReviewDecisionRow, SupplierRow
from store.contracts import to_read
from store.reads._stages import current_term_plan

__all__ = ["QueueItem", "review_queue"]


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
    session: Session,
    *,
    today: date,
    policy: RenewalPolicy,
    cfg: CalendarSettings,
    limit: int = 100,
    offset: int = 0,
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
        select(DraftRow, RenewalRow, ContractRow, SupplierRow.name, SupplierRow.category)
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
    for draft, renewal, contract, supplier_name, category in rows:
        plan = current_term_plan(
            to_read(contract), category=category, today=today, policy=policy, cfg=cfg
        ).plan
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
