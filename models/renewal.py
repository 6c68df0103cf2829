"""Renewal state, drafts, reviews and outcomes: what the workflow carries and reports."""

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from models.contract import ContractAmendment
from models.milestones import MilestoneKind, MilestoneState, RenewalPolicy
from models.text import Identifier, LongText, PersonRef


class RenewalStage(StrEnum):
    WAITING = "waiting"  # timers running towards the next milestone, nothing open
    FACTS_GATHERED = "facts_gathered"
    LEGAL_REVIEW = "legal_review"
    APPROVED = "approved"
    ESCALATED = "escalated"
    FINAL_TERMS_ISSUED = "final_terms_issued"
    TERMINATION_PENDING = "termination_pending"
    COMPLETED = "completed"


class OutcomeKind(StrEnum):
    RENEWED = "renewed"
    INTERIM_EXTENSION = "interim_extension"
    TERMINATED = "terminated"


class ReviewDecisionKind(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"
    REQUEST_CHANGES = "request_changes"


class DraftKind(StrEnum):
    RENEGOTIATION = "renegotiation"
    INTERIM_EXTENSION = "interim_extension"


class RenewalInput(BaseModel):
    """Start argument of ContractRenewalWorkflow: one contract term."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    contract_id: Identifier
    term: Annotated[int, Field(ge=1)]
    requested_by: PersonRef
    policy: RenewalPolicy = RenewalPolicy()


class KpiScore(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    score: Decimal | None  # None: insufficient data, never a made-up 0 or 100
    weight: Decimal
    evidence: str


class Recommendation(StrEnum):
    RENEW_AS_IS = "renew_as_is"
    RENEGOTIATE = "renegotiate"
    RETENDER = "retender"
    TERMINATE = "terminate"


class Scorecard(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    contract_id: str
    term: int
    period_start: date
    period_end: date
    kpis: tuple[KpiScore, ...]
    total: Decimal | None
    grade: str | None
    recommendation: Recommendation
    reasons: tuple[str, ...]


class DraftRef(BaseModel):
    """A stored draft version as the workflow tracks it (the text stays in the database)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: DraftKind
    version: int
    content_hash: str
    requested_by: str  # who asked for this version; they may not approve it
    answers_comment: str | None = None
    created_at: datetime


class DraftRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    contract_id: str
    term: int
    workflow_id: str
    kind: DraftKind
    version: int
    requested_by: str
    answers_comment: str | None = None
    scorecard: Scorecard | None = None


class ReviewSubmission(BaseModel):
    """Argument of the ``submit_review`` update sent by a legal reviewer."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    decision: ReviewDecisionKind
    reviewer: PersonRef
    draft_version: Annotated[int, Field(ge=1)]
    content_hash: str | None = None  # when given, binds the decision to exactly this text
    comment: LongText = ""


class ReviewRecord(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    decision: ReviewDecisionKind
    reviewer: str
    draft_version: int
    content_hash: str
    comment: str
    decided_at: datetime
    update_id: str


class ReviewResult(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    record: ReviewRecord
    stage: RenewalStage
    new_draft: DraftRef | None = None


class TerminationRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    requested_by: PersonRef
    reason: Annotated[LongText, Field(min_length=1)]


class RedraftRequest(BaseModel):
    """Procurement asks for a fresh draft after legal rejected the current one."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    requested_by: PersonRef
    reason: Annotated[LongText, Field(min_length=1)]


class AmendmentRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    amendment: ContractAmendment


class RenewalEvent(BaseModel):
    """Something the renewal did that people must see: an escalation, an offer, an outcome."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    contract_id: str
    term: int
    workflow_id: str
    kind: str
    key: str  # idempotency key: a retried activity writes the same key once
    detail: dict[str, Any] = {}
    stage: RenewalStage | None = None  # the renewal's stage after this event, for pipeline views


class MilestoneStatus(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: MilestoneKind
    due: date
    state: MilestoneState
    moved_for_notice: bool
    completed_at: datetime | None = None


class TermOutcome(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    contract_id: str
    term: int
    kind: OutcomeKind
    decided_at: datetime
    new_end_date: date | None = None  # renewed or extended: where the next term ends
    approved_version: int | None = None
    approved_content_hash: str | None = None
    next_workflow_id: str | None = None
    reason: str = ""


class RenewalStatus(BaseModel):
    """Everything the ``status`` query answers."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    contract_id: str
    term: int
    stage: RenewalStage
    end_date: date | None  # None only while the workflow is still loading the contract
    notice_deadline: date | None
    milestones: tuple[MilestoneStatus, ...]
    scorecard: Scorecard | None
    drafts: tuple[DraftRef, ...]
    decisions: tuple[ReviewRecord, ...]
    escalations: tuple[str, ...]
    outcome: TermOutcome | None


class OutcomeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    contract_id: str
    term: int
    workflow_id: str
    kind: OutcomeKind
    decided_at: datetime
    term_months: int | None = None  # renewed: the length of the new term
    extension_months: int | None = None
    approved_version: int | None = None
    approved_content_hash: str | None = None
    reason: str = ""


class OpenRenewal(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    contract_id: str
    term: int
    workflow_id: str
    requested_by: str
    term_end_date: date


class ScoreRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    contract_id: str
    term: int
    workflow_id: str
    as_of: date


class ReviewToRecord(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    contract_id: str
    term: int
    workflow_id: str
    record: ReviewRecord


class AmendmentToApply(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    contract_id: str
    term: int
    workflow_id: str
    key: str
    amendment: ContractAmendment


__all__ = [
    "AmendmentRequest",
    "AmendmentToApply",
    "DraftKind",
    "DraftRef",
    "DraftRequest",
    "KpiScore",
    "MilestoneState",
    "OpenRenewal",
    "OutcomeKind",
    "OutcomeRequest",
    "Recommendation",
    "RedraftRequest",
    "RenewalEvent",
    "RenewalInput",
    "RenewalStage",
    "RenewalStatus",
    "ReviewDecisionKind",
    "ReviewRecord",
    "ReviewResult",
    "ReviewSubmission",
    "ReviewToRecord",
    "ScoreRequest",
    "Scorecard",
    "TermOutcome",
    "TerminationRequest",
]
