"""Renewal state, drafts, reviews and outcomes: what the workflow carries and reports."""

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from models.contract import ContractAmendment, DefaultAction, TermModel
from models.identity import IdentityAssertion
from models.milestones import MilestoneKind, MilestonePlan, MilestoneState, RenewalPolicy
from models.notices import DispatchRecord
from models.scorecard import (
    Finding,
    KpiName,
    KpiScore,
    MarketAssessment,
    MarketSignal,
    MarketSignalKind,
    Recommendation,
    Scorecard,
    ScoringConfig,
    Trend,
)
from models.text import Identifier, LongText, PersonRef


class RenewalStage(StrEnum):
    WAITING = "waiting"  # timers running towards the next milestone, nothing open
    FACTS_GATHERED = "facts_gathered"
    LEGAL_REVIEW = "legal_review"
    APPROVED = "approved"
    ESCALATED = "escalated"
    FINAL_TERMS_ISSUED = "final_terms_issued"
    CHANGES_REQUESTED = "changes_requested"  # legal asked for changes: procurement revises
    OFFER_PRESENTED = "offer_presented"  # an approved version is with the supplier
    AGREED = "agreed"  # approved by legal and accepted by the supplier on one content hash
    TERMINATION_PENDING = "termination_pending"
    LAPSED = "lapsed"  # a fixed term ended with nothing agreed; the interim draft is in review
    COMPLETED = "completed"


class OutcomeKind(StrEnum):
    """How a term ended (renewal-semantics.md §4)."""

    RENEWED = "renewed"  # on a version legal approved (and, with answers, the supplier accepted)
    ROLLED_OVER = "rolled_over"  # continued by its own terms: no effective notice
    NOT_RENEWED = "not_renewed"  # an approved notice or transition plan ended it as planned
    LAPSED = "lapsed"  # a fixed term ended with nothing agreed: supply at risk
    INTERIM_EXTENSION = "interim_extension"
    TERMINATED = "terminated"


class ReviewDecisionKind(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"
    REQUEST_CHANGES = "request_changes"


class DraftKind(StrEnum):
    RENEGOTIATION = "renegotiation"
    INTERIM_EXTENSION = "interim_extension"
    NON_RENEWAL_NOTICE = "non_renewal_notice"  # the safe default at the send-by date
    TRANSITION_PLAN = "transition_plan"  # a fixed term that is not to be renewed: re-tender, exit


class RenewalInput(BaseModel):
    """Start argument of ContractRenewalWorkflow: one contract term."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    contract_id: Identifier
    term: Annotated[int, Field(ge=1)]
    requested_by: PersonRef
    policy: RenewalPolicy = RenewalPolicy()


class DraftRef(BaseModel):
    """A stored draft version as the workflow tracks it (the text stays in the database)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: DraftKind
    version: int
    content_hash: str
    requested_by: str  # who asked for this version; they may not approve it
    answers_comment: str | None = None
    created_at: datetime
    # The version's terms as stored (ProposedTerms.as_json()); None for a notice or a plan, and
    # in histories from before versions made by people.
    terms: dict[str, Any] | None = None


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
    # Interim extension length from the workflow's policy; None: the worker's configured default.
    extension_months: Annotated[int, Field(ge=1, le=24)] | None = None
    # The stored plan's dates for the letter; None: requests from older workflow code.
    notice_deadline: date | None = None
    send_by: date | None = None


class ReviewSubmission(BaseModel):
    """Argument of the ``submit_review`` update sent by a legal reviewer."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    decision: ReviewDecisionKind
    reviewer: PersonRef
    draft_version: Annotated[int, Field(ge=1)]
    content_hash: str | None = None  # when given, binds the decision to exactly this text
    comment: LongText = ""
    # Who sent it, signed by the API, web app or CLI (models/identity.py); checked before it counts.
    assertion: IdentityAssertion | None = None


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
    # Who sent it, signed by the API, web app or CLI (models/identity.py); checked before it counts.
    assertion: IdentityAssertion | None = None


class RedraftRequest(BaseModel):
    """Procurement asks for a fresh draft after legal rejected the current one."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    requested_by: PersonRef
    reason: Annotated[LongText, Field(min_length=1)]
    # Who sent it, signed by the API, web app or CLI (models/identity.py); checked before it counts.
    assertion: IdentityAssertion | None = None


class AmendmentRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    amendment: ContractAmendment
    # Who sent it, signed by the API, web app or CLI (models/identity.py); checked before it counts.
    assertion: IdentityAssertion | None = None


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
    send_by: date | None = None  # last business day to post a notice (calendar-aware plans)
    milestones: tuple[MilestoneStatus, ...]
    scorecard: Scorecard | None
    drafts: tuple[DraftRef, ...]
    decisions: tuple[ReviewRecord, ...]
    escalations: tuple[str, ...]
    outcome: TermOutcome | None
    # Renewals started before "term-outcomes" report neither (their defaults are true for them).
    dispatches: tuple[DispatchRecord, ...] = ()
    lapsed_on: date | None = None  # a fixed term that ended with nothing agreed


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


class PlanRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    contract_id: str
    term: int
    today: date
    policy: RenewalPolicy


class TermPlan(BaseModel):
    """A calendar-aware plan and the rules that govern the end of this term."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    plan: MilestonePlan
    term_model: TermModel  # effective: auto-renewing with no renewals left plans as fixed
    default_action: DefaultAction  # effective: contract, else its category, else organisation
    next_term_months: int  # renewal length, or the review period of an evergreen contract
    renewals_left: int | None  # None: unlimited


class ReviewDeadlinesRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    contract_id: str
    from_date: date
    business_days: int


class ReviewDeadlines(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    remind_at: datetime  # a reminder to the reviewers
    escalate_at: datetime  # then one level up
    provenance: tuple[str, ...] = ()


__all__ = [
    "AmendmentRequest",
    "AmendmentToApply",
    "DraftKind",
    "DraftRef",
    "DraftRequest",
    "Finding",
    "KpiName",
    "KpiScore",
    "MarketAssessment",
    "MarketSignal",
    "MarketSignalKind",
    "MilestoneState",
    "OpenRenewal",
    "OutcomeKind",
    "OutcomeRequest",
    "PlanRequest",
    "Recommendation",
    "RedraftRequest",
    "RenewalEvent",
    "RenewalInput",
    "RenewalStage",
    "RenewalStatus",
    "ReviewDeadlines",
    "ReviewDeadlinesRequest",
    "ReviewDecisionKind",
    "ReviewRecord",
    "ReviewResult",
    "ReviewSubmission",
    "ReviewToRecord",
    "ScoreRequest",
    "Scorecard",
    "ScoringConfig",
    "TermOutcome",
    "TermPlan",
    "TerminationRequest",
    "Trend",
]
