"""Renewal records: scorecards, drafts, review decisions, events and outcomes.

Each write is keyed so that a retried activity finds its earlier write and returns it instead of
writing a second row: (contract, term) for a renewal, (renewal, kind, version) for a draft, the
update id for a review decision, an explicit key for events.
"""

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.errors import Conflict, NotFound
from models.renewal import (
    DraftKind,
    DraftRef,
    OpenRenewal,
    RenewalEvent,
    RenewalStage,
    ReviewRecord,
    Scorecard,
)
from models.tables import (
    DraftRow,
    RenewalEventRow,
    RenewalRow,
    ReviewDecisionRow,
    ScorecardRow,
)


def open_renewal(session: Session, *, request: OpenRenewal) -> RenewalRow:
    row = session.scalar(
        select(RenewalRow).where(
            RenewalRow.contract_id == request.contract_id, RenewalRow.term == request.term
        )
    )
    if row is not None:
        if row.workflow_id != request.workflow_id:
            raise Conflict(
                f"term {request.term} of contract {request.contract_id!r} is already carried by "
                f"workflow {row.workflow_id!r}"
            )
        return row
    row = RenewalRow(
        contract_id=request.contract_id,
        term=request.term,
        workflow_id=request.workflow_id,
        requested_by=request.requested_by,
        term_end_date=request.term_end_date,
        stage=RenewalStage.WAITING.value,
    )
    session.add(row)
    session.flush()
    return row


def get_renewal(session: Session, *, contract_id: str, term: int) -> RenewalRow:
    row = session.scalar(
        select(RenewalRow).where(RenewalRow.contract_id == contract_id, RenewalRow.term == term)
    )
    if row is None:
        raise NotFound(f"no renewal for term {term} of contract {contract_id!r}")
    return row


def save_scorecard(session: Session, *, renewal: RenewalRow, scorecard: Scorecard) -> Scorecard:
    existing = session.scalar(select(ScorecardRow).where(ScorecardRow.renewal_id == renewal.id))
    if existing is not None:
        return Scorecard.model_validate(existing.body)
    session.add(
        ScorecardRow(
            renewal_id=renewal.id,
            total=scorecard.total,
            grade=scorecard.grade,
            recommendation=scorecard.recommendation.value,
            body=scorecard.model_dump(mode="json"),
        )
    )
    renewal.stage = RenewalStage.FACTS_GATHERED.value
    session.flush()
    return scorecard


def find_draft(
    session: Session, *, renewal: RenewalRow, kind: DraftKind, version: int
) -> DraftRow | None:
    return session.scalar(
        select(DraftRow).where(
            DraftRow.renewal_id == renewal.id,
            DraftRow.kind == kind.value,
            DraftRow.version == version,
        )
    )


def draft_ref(row: DraftRow) -> DraftRef:
    return DraftRef(
        kind=DraftKind(row.kind),
        version=row.version,
        content_hash=row.content_hash,
        requested_by=row.requested_by,
        answers_comment=row.answers_comment,
        created_at=row.created_at,
    )


def save_draft(
    session: Session,
    *,
    renewal: RenewalRow,
    kind: DraftKind,
    version: int,
    language: str,
    body: str,
    proposed_terms: dict[str, Any],
    content_hash: str,
    requested_by: str,
    answers_comment: str | None,
    created_at: datetime,
) -> DraftRef:
    row = DraftRow(
        renewal_id=renewal.id,
        kind=kind.value,
        version=version,
        language=language,
        body=body,
        proposed_terms=proposed_terms,
        content_hash=content_hash,
        requested_by=requested_by,
        answers_comment=answers_comment,
        created_at=created_at,
    )
    session.add(row)
    if kind is DraftKind.RENEGOTIATION:
        renewal.stage = RenewalStage.LEGAL_REVIEW.value
    session.flush()
    return draft_ref(row)


def save_review(session: Session, *, renewal: RenewalRow, record: ReviewRecord) -> bool:
    """Store a decision once per update id; False when it was already stored."""
    if session.scalar(
        select(ReviewDecisionRow.id).where(ReviewDecisionRow.update_id == record.update_id)
    ):
        return False
    session.add(
        ReviewDecisionRow(
            renewal_id=renewal.id,
            update_id=record.update_id,
            draft_version=record.draft_version,
            content_hash=record.content_hash,
            decision=record.decision.value,
            reviewer=record.reviewer,
            comment=record.comment,
            decided_at=record.decided_at,
        )
    )
    session.flush()
    return True


def save_event(session: Session, *, renewal: RenewalRow, event: RenewalEvent) -> bool:
    if session.scalar(select(RenewalEventRow.id).where(RenewalEventRow.key == event.key)):
        return False
    session.add(
        RenewalEventRow(renewal_id=renewal.id, key=event.key, kind=event.kind, detail=event.detail)
    )
    if event.stage is not None:
        renewal.stage = event.stage.value
    session.flush()
    return True


def list_events(session: Session, *, renewal: RenewalRow) -> list[RenewalEventRow]:
    return list(
        session.scalars(
            select(RenewalEventRow)
            .where(RenewalEventRow.renewal_id == renewal.id)
            .order_by(RenewalEventRow.id)
        )
    )


def list_drafts(session: Session, *, renewal: RenewalRow) -> list[DraftRow]:
    return list(
        session.scalars(
            select(DraftRow)
            .where(DraftRow.renewal_id == renewal.id)
            .order_by(DraftRow.kind, DraftRow.version)
        )
    )


def list_reviews(session: Session, *, renewal: RenewalRow) -> list[ReviewDecisionRow]:
    return list(
        session.scalars(
            select(ReviewDecisionRow)
            .where(ReviewDecisionRow.renewal_id == renewal.id)
            .order_by(ReviewDecisionRow.id)
        )
    )
