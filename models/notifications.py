"""Notifications the renewal sends to people."""

from enum import StrEnum

from pydantic import BaseModel, ConfigDict


class NotificationKind(StrEnum):
    MILESTONE_REMINDER = "milestone_reminder"
    REVIEW_REQUESTED = "review_requested"
    REVIEW_REMINDER = "review_reminder"
    ESCALATION = "escalation"
    OUTCOME = "outcome"
    REVISION_REQUESTED = "revision_requested"  # legal asked for changes: to the owner
    FOLLOWUP_DUE = "followup_due"  # a follow-up review of the term is due: to the owner
    FOLLOWUP_OVERDUE = "followup_overdue"  # an action of a review is past its due date
    DIGEST = "digest"  # the weekly digest of one person (activities/digest_activities.py)


class NotificationRequest(BaseModel):
    """What happened; the activity decides the recipients and words from the contract and
    settings, so the workflow carries no addresses or prose in its history."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    contract_id: str
    term: int
    workflow_id: str
    kind: NotificationKind
    key: str  # idempotency key, unique per message
    facts: dict[str, str] = {}
