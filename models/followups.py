"""Follow-up reviews during a term (issue 17, renewal-semantics.md §7): what a person records,
what the workflow opens when one is due, and what the pages and the API read back."""

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict

CSAT_RANGE = (1, 5)
NPS_RANGE = (0, 10)
INTERVAL_RANGE = (1, 12)  # as Settings.followup_interval_months


class SupplierIntent(StrEnum):
    """The supplier's own view: does it want to continue?"""

    YES = "yes"
    NO = "no"
    UNDECIDED = "undecided"


class ActionKind(StrEnum):
    ISSUE = "issue"
    ACTION = "action"


class ActionState(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class FollowUpState(StrEnum):
    DUE = "due"  # opened by the workflow, nothing recorded yet
    RECORDED = "recorded"


class FollowUpActionInput(BaseModel):
    """An open issue or an action as typed; owner and due date are checked by
    :func:`domain.followup.validate_followup` so that a missing one is named, not a 422."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: ActionKind = ActionKind.ACTION
    description: str
    owner: str | None = None
    due: date | None = None
    state: ActionState = ActionState.OPEN


class FollowUpInput(BaseModel):
    """One follow-up review as recorded by a person (API, CLI, web). Figures are plain numbers
    here; their ranges are the domain's check, which names the field and the reason."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    term: int | None = None  # None: the contract's current term
    sequence: int | None = None  # None: the earliest review of the term not yet recorded
    feedback: str = ""
    csat: int
    nps: int
    supplier_continue: SupplierIntent
    supplier_continue_on: str = ""
    actions: tuple[FollowUpActionInput, ...] = ()


class FollowUpActionRead(BaseModel):
    model_config = ConfigDict(frozen=True, from_attributes=True)

    id: int
    followup_id: int
    contract_id: str
    kind: ActionKind
    description: str
    owner: str
    due: date
    state: ActionState
    closed_at: datetime | None = None
    escalated_at: datetime | None = None


class FollowUpRead(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: int
    contract_id: str
    term: int
    sequence: int
    due: date
    period_start: date
    period_end: date
    state: FollowUpState
    recorded_at: datetime | None = None
    recorded_by: str | None = None
    scorecard: dict[str, Any] | None = None
    feedback: str = ""
    csat: int | None = None
    nps: int | None = None
    supplier_continue: SupplierIntent | None = None
    supplier_continue_on: str = ""
    actions: tuple[FollowUpActionRead, ...] = ()


class FollowUpDue(BaseModel):
    """Payload of the workflow's follow-up activity: the review it opens (idempotent by
    contract, term and sequence) and reminds the owner of."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    contract_id: str
    term: int
    sequence: int
    due: date
    period_start: date
    period_end: date


class FollowUpTerm(BaseModel):
    """Input of FollowUpWorkflow: the term whose reviews it runs, and (carried across
    continue-as-new) the last review it opened."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    contract_id: str
    term: int
    opened_through: int = 0  # the sequence of the last review opened; 0: none yet
    # The day the term's follow-up began (set by the first run): reviews due before it, as a
    # term registered late has, are not opened or reminded of; people may still record them.
    since: date | None = None


class FollowUpPlan(BaseModel):
    """The reviews of a term still to come, as the schedule in force says (the contract's own
    interval or the organisation's, none in the quiet months before the end), read by an
    activity so that an interval changed meanwhile is read again at the next step."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    term_start: date
    term_end: date
    quiet_from: date  # the renewal's own preparation runs from here: no review after it
    due: tuple[FollowUpDue, ...] = ()  # in order, sequence 1 first
    ended: bool = False  # the contract is not in this term any more (renewed, terminated)
    # The term's open actions not escalated yet: how many, and the earliest due date.
    open_actions: int = 0
    next_action_due: date | None = None


class FollowUpOpened(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    followup_id: int
    created: bool
    reminded: bool


class OverdueCheck(BaseModel):
    """Payload of the overdue actions check: actions of this contract's term due before
    ``as_of`` and still open escalate, each once."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    contract_id: str
    term: int
    as_of: date


class OverdueEscalated(BaseModel):
    """The actions this check escalated: the same ids when the check is retried, so the
    workflow's mail (keyed by action) goes out once whatever fails in between."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    escalated_action_ids: tuple[int, ...] = ()
