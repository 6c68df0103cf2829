"""What the follow-up reviews of a term say about the relationship with a supplier.

The store reads these from the recorded follow-up reviews (``store.followups``); the scorecard's
relationship KPI and the recommendation read them, never the tables.
"""

from datetime import date

from pydantic import BaseModel, ConfigDict, Field


class FollowUpObservation(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    held_on: date
    csat: int | None = Field(None, ge=1, le=5)  # internal satisfaction
    nps: int | None = Field(None, ge=0, le=10)  # willingness to continue
    supplier_wants_to_continue: bool | None = None  # None: undecided or not asked


class IssueObservation(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    opened_on: date
    closed_on: date | None = None  # None: still open


class RelationshipFacts(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    follow_ups: tuple[FollowUpObservation, ...] = ()
    issues: tuple[IssueObservation, ...] = ()
    supplier_wants_to_continue: bool | None = None  # the latest stated view in the window
