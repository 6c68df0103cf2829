"""Activity names: the contract between workflows/ (which call them by name, without importing
the I/O code) and activities/ (which implement them)."""

from enum import StrEnum


class ActivityName(StrEnum):
    LOAD_CONTRACT = "load_contract"
    OPEN_RENEWAL = "open_renewal"
    SCORE_RENEWAL = "score_renewal"
    RENDER_DRAFT = "render_draft"
    RECORD_REVIEW = "record_review"
    RECORD_EVENT = "record_event"
    APPLY_AMENDMENT = "apply_amendment"
    RECORD_OUTCOME = "record_outcome"
    START_DUE_RENEWALS = "start_due_renewals"
    SEND_NOTIFICATION = "send_notification"
    PLAN_TERM = "plan_term"
    REVIEW_DEADLINES = "review_deadlines"
    RECORD_MILESTONE = "record_milestone"
    CATCH_UP_TERMS = "catch_up_terms"
    VERIFY_IDENTITY = "verify_identity"
    PLAN_NEGOTIATION = "plan_negotiation"
    MAKE_VERSION = "make_version"
    FOLLOWUP_PLAN = "followup_plan"
    OPEN_FOLLOWUP = "open_followup"
    ESCALATE_OVERDUE_ACTIONS = "escalate_overdue_actions"
    DIGEST_WEEK = "digest_week"
    DIGEST_RECIPIENTS = "digest_recipients"
    STAGE_DIGESTS = "stage_digests"
