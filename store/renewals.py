"""Renewal records: scorecards, drafts, review decisions, events and outcomes.

Each write is keyed so that a retried activity finds its earlier write and returns it instead of
writing a second row: (contract, term) for a renewal, (renewal, kind, version) for a draft, the
update id for a review decision, an explicit key for events.
"""

from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from domain.content_hash import content_hash
from domain.outcome import catch_up_reason
from domain.phrases import phrase
from domain.versions import verified_terms
from models.drafts import DraftView, ProposedTerms
from models.errors import Conflict, NotFound
from models.renewal import (
    DraftKind,
    DraftRef,
    OpenRenewal,
    OutcomeKind,
    RenewalEvent,
    RenewalStage,
    ReviewRecord,
    Scorecard,
    TermOutcome,
)
from models.tables import (
    ContractRow,
    DraftRow,
    RenewalEventRow,
    RenewalRow,
    ReviewDecisionRow,
    ScorecardRow,
)
from models.term_end import CatchUpRequest, CatchUpResult
from store import audit
from store.db import insert_if_absent


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


def find_scorecard(session: Session, *, renewal: RenewalRow) -> Scorecard | None:
    row = session.scalar(select(ScorecardRow).where(ScorecardRow.renewal_id == renewal.id))
    return Scorecard.model_validate(row.body) if row is not None else None


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


def approved_terms(
    session: Session,
    *,
    renewal: RenewalRow,
    version: int,
    content_hash: str,
    kind: DraftKind = DraftKind.RENEGOTIATION,
) -> ProposedTerms:
    """The terms of the draft legal approved, found by version and checked by content hash: a
    stored draft that changed after its approval is never put into force."""
    row = find_draft(session, renewal=renewal, kind=kind, version=version)
    if row is None:
        raise NotFound(f"approved draft v{version} of renewal {renewal.workflow_id} is not stored")
    if row.content_hash != content_hash:
        raise Conflict(
            f"draft v{version} of renewal {renewal.workflow_id} changed after it was approved "
            f"(hash {row.content_hash[:12]}, approved {content_hash[:12]}); not applied"
        )
    # The hash column alone proves nothing: recomputed from the stored text and terms, so a
    # price edited in the database after approval is refused, not put into force.
    return verified_terms(
        body=row.body,
        body_html=row.body_html,
        stored_terms=row.proposed_terms,
        expected_hash=content_hash,
    )


def draft_ref(row: DraftRow) -> DraftRef:
    return DraftRef(
        kind=DraftKind(row.kind),
        version=row.version,
        content_hash=row.content_hash,
        requested_by=row.requested_by,
        answers_comment=row.answers_comment,
        created_at=_utc(row.created_at),
        terms=_version_terms(DraftKind(row.kind), row.proposed_terms),
    )


def _version_terms(kind: DraftKind, stored: dict[str, Any]) -> dict[str, Any] | None:
    # A notice or a transition plan proposes no terms of a next term; a proposal stored in a
    # shape that no longer reads is left to the hash check that refuses it at expiry.
    if kind not in (DraftKind.RENEGOTIATION, DraftKind.INTERIM_EXTENSION):
        return None
    try:
        return ProposedTerms.model_validate(stored).as_json()
    except ValidationError:
        return None


def _utc(moment: datetime) -> datetime:
    # SQLite keeps no offset: a retried activity must return the same aware UTC time as the
    # attempt that stored it, not a naive one.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


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
    body_html: str | None = None,
) -> DraftRef:
    row = DraftRow(
        renewal_id=renewal.id,
        kind=kind.value,
        version=version,
        language=language,
        body=body,
        body_html=body_html,
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
    audit.record(
        session,
        actor=requested_by,
        action=audit.AuditAction.DRAFT_CREATED,
        subject_type="renewal",
        subject_id=renewal.workflow_id,
        detail={"kind": kind.value, "version": version, "answers_comment": answers_comment},
        content_hash=content_hash,
        key=f"draft:{renewal.workflow_id}:{kind.value}:{version}",
        occurred_at=created_at,
    )
    return draft_ref(row)


def earlier_drafts(
    session: Session, *, renewal: RenewalRow, kind: DraftKind, before: int
) -> list[DraftRow]:
    """The versions of a draft before ``before``, oldest first: its revision history."""
    return list(
        session.scalars(
            select(DraftRow)
            .where(
                DraftRow.renewal_id == renewal.id,
                DraftRow.kind == kind.value,
                DraftRow.version < before,
            )
            .order_by(DraftRow.version)
        )
    )


def _view(row: DraftRow, *, contract_id: str, term: int) -> DraftView:
    return DraftView(
        contract_id=contract_id,
        term=term,
        kind=DraftKind(row.kind),
        version=row.version,
        language=row.language,
        body=row.body,
        body_html=row.body_html,
        proposed_terms=row.proposed_terms,
        content_hash=row.content_hash,
        # The stored text must still produce the hash it was reviewed under: a row changed in
        # the database after approval would otherwise go unnoticed.
        hash_verified=content_hash(row.body, row.proposed_terms, row.body_html) == row.content_hash,
        requested_by=row.requested_by,
        answers_comment=row.answers_comment,
        created_at=_utc(row.created_at),
    )


def read_draft(
    session: Session, *, contract_id: str, term: int, kind: DraftKind, version: int
) -> DraftView:
    """A stored version as reviewers read it; earlier versions stay readable."""
    renewal = get_renewal(session, contract_id=contract_id, term=term)
    row = find_draft(session, renewal=renewal, kind=kind, version=version)
    if row is None:
        raise NotFound(
            f"no {kind.value} draft version {version} for term {term} of contract {contract_id!r}"
        )
    return _view(row, contract_id=contract_id, term=term)


def list_draft_versions(
    session: Session, *, contract_id: str, term: int, kind: DraftKind
) -> list[DraftView]:
    renewal = get_renewal(session, contract_id=contract_id, term=term)
    rows = session.scalars(
        select(DraftRow)
        .where(DraftRow.renewal_id == renewal.id, DraftRow.kind == kind.value)
        .order_by(DraftRow.version)
    )
    return [_view(r, contract_id=contract_id, term=term) for r in rows]


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
    audit.record(
        session,
        actor=record.reviewer,
        action=audit.AuditAction.DECISION,
        subject_type="renewal",
        subject_id=renewal.workflow_id,
        detail={
            "decision": record.decision.value,
            "draft_version": record.draft_version,
            "comment": record.comment,
        },
        content_hash=record.content_hash,
        key=f"review:{record.update_id}",
        occurred_at=record.decided_at,
    )
    return True


def save_event(session: Session, *, renewal: RenewalRow, event: RenewalEvent) -> bool:
    if not insert_if_absent(
        session,
        RenewalEventRow,
        {"renewal_id": renewal.id, "key": event.key, "kind": event.kind, "detail": event.detail},
    ):
        return False
    if event.stage is not None:
        renewal.stage = event.stage.value
    detail = event.detail
    audit.record(
        session,
        actor=str(detail.get("reviewer") or detail.get("requested_by") or "workflow"),
        action=(
            audit.AuditAction.ESCALATION
            if event.kind == "escalation"
            else audit.AuditAction.RENEWAL_EVENT
        ),
        subject_type="renewal",
        subject_id=renewal.workflow_id,
        detail={"event": event.kind, **detail},
        content_hash=str(detail["content_hash"]) if detail.get("content_hash") else None,
        key=f"event:{event.key}",
    )
    return True


def find_event(session: Session, *, key: str) -> RenewalEventRow | None:
    """The event stored under ``key`` (keys are unique): what a retried activity wrote before."""
    return session.scalar(select(RenewalEventRow).where(RenewalEventRow.key == key))


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


def record_catch_up(
    session: Session,
    *,
    request: CatchUpRequest,
    steps: Sequence[tuple[date, date]],
    workflow_ids: Sequence[str],
    present_end: date | None,
    lapsed_on: date | None,
) -> CatchUpResult:
    """Record every roll-over of a contract registered after its end date, in one transaction:
    a renewal row and an outcome per term it rolled through (``workflow_ids[i]`` names term
    ``request.term + i``), the contract moved to the present term. A retry finds the result."""
    renewal = get_renewal(session, contract_id=request.contract_id, term=request.term)
    key = f"{request.workflow_id}:catch-up"
    for event in list_events(session, renewal=renewal):
        if event.key == key:
            return CatchUpResult.model_validate(event.detail)
    if not steps:
        raise Conflict(f"term {request.term} of {request.contract_id!r} has nothing to catch up")
    contract = session.get(ContractRow, request.contract_id)
    if contract is None:
        raise NotFound(f"contract {request.contract_id!r} does not exist")
    present_term = request.term + len(steps)
    code, values = catch_up_reason(
        end_date=steps[0][0],
        rolled_over=len(steps),
        present_term=present_term,
        present_end=present_end,
        lapsed_on=lapsed_on,
    )
    reason = phrase(code, "en", values)
    outcomes: list[TermOutcome] = []
    for i, (old_end, new_end) in enumerate(steps):
        term = request.term + i
        row = renewal
        if i > 0:
            row = open_renewal(
                session,
                request=OpenRenewal(
                    contract_id=request.contract_id,
                    term=term,
                    workflow_id=workflow_ids[i],
                    requested_by=renewal.requested_by,
                    term_end_date=old_end,
                ),
            )
        outcome = TermOutcome(
            contract_id=request.contract_id,
            term=term,
            kind=OutcomeKind.ROLLED_OVER,
            decided_at=request.decided_at,
            new_end_date=new_end,
            reason=reason,
        )
        outcomes.append(outcome)
        row.outcome = OutcomeKind.ROLLED_OVER.value
        save_event(
            session,
            renewal=row,
            event=RenewalEvent(
                contract_id=request.contract_id,
                term=term,
                workflow_id=row.workflow_id,
                kind="outcome",
                key=f"{row.workflow_id}:outcome",
                detail=outcome.model_dump(mode="json"),
                stage=RenewalStage.COMPLETED,
            ),
        )
    contract.end_date = steps[-1][1]
    contract.current_term = present_term
    if contract.term_model == "auto_renewing":
        contract.renewals_used += len(steps)
    result = CatchUpResult(
        outcome=outcomes[0],
        rolled_over=len(steps),
        present_term=present_term,
        present_end=present_end,
        lapsed_on=lapsed_on,
    )
    save_event(
        session,
        renewal=renewal,
        event=RenewalEvent(
            contract_id=request.contract_id,
            term=request.term,
            workflow_id=request.workflow_id,
            kind="catch_up",
            key=key,
            detail=result.model_dump(mode="json"),
        ),
    )
    return result
