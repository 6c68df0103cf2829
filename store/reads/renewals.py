"""One renewal as the database holds it: its record (stage, outcome, scorecard, decisions,
events, recorded notice dispatches), the terms that have one, and the plan of a contract's
current term."""

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.notices import DispatchRecord
from models.tables import (
    RenewalEventRow,
    RenewalRow,
    ReviewDecisionRow,
    ScorecardRow,
)

__all__ = [
    "DecisionEntry",
    "EventEntry",
    "RenewalRecord",
    "recorded_dispatches",
    "renewal_record",
    "renewal_terms",
]


DISPATCHED = "notice_dispatched"  # the event the workflow records for a notice's dispatch


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


def recorded_dispatches(record: RenewalRecord | None) -> list[DispatchRecord]:
    """The notice dispatches the workflow recorded (its ``notice_dispatched`` events), in order:
    what a view shows when the workflow cannot be asked."""
    events = record.events if record is not None else []
    return [DispatchRecord.model_validate(e.detail) for e in events if e.kind == DISPATCHED]


def renewal_terms(session: Session, *, contract_id: str) -> list[int]:
    return list(
        session.scalars(
            select(RenewalRow.term)
            .where(RenewalRow.contract_id == contract_id)
            .order_by(RenewalRow.term)
        )
    )
