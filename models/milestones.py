"""Milestones of one contract term and the policy that places them."""

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator


class MilestoneKind(StrEnum):
    GATHER_FACTS = "gather_facts"  # 6 months: score supplier and market, recommend
    FIRST_DISCUSSION = "first_discussion"  # 3 months: draft terms, open legal review
    FINAL_TERMS = "final_terms"  # 1 month: approved draft becomes the offer, else escalate
    SEND_BY = "send_by"  # last day to post a notice: the safe default acts if nothing is decided
    EXPIRY = "expiry"  # end date: renew, terminate, or interim extension


class MilestoneState(StrEnum):
    PENDING = "pending"
    DONE = "done"
    DONE_LATE = "done_late"  # ran after its due date (registered late, or amended into the past)
    SKIPPED = "skipped"  # the contract had already expired when the plan was made


class RenewalPolicy(BaseModel):
    """How milestones are placed. Carried in the workflow input so a running renewal keeps the
    policy it started with even if the configuration changes later."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    offsets_months: Annotated[tuple[int, int, int], Field(description="gather, discuss, final")] = (
        6,
        3,
        1,
    )
    fire_hour_utc: Annotated[int, Field(ge=0, le=23)] = 9
    interim_extension_months: Annotated[int, Field(ge=1, le=24)] = 3
    # Plans made by activities (calendar-aware) fire at this hour in the contract's time zone.
    fire_hour_local: Annotated[int, Field(ge=0, le=23)] = 9
    review_reminder_business_days: Annotated[int, Field(ge=1, le=60)] = 5

    @field_validator("offsets_months")
    @classmethod
    def _strictly_decreasing(cls, v: tuple[int, int, int]) -> tuple[int, int, int]:
        if not (v[0] > v[1] > v[2] >= 1):
            raise ValueError(f"offsets must be strictly decreasing and at least 1 month, got {v}")
        if v[0] > 36:
            raise ValueError("the first offset may be at most 36 months")
        return v


class Milestone(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: MilestoneKind
    due: date
    nominal: date  # where the offset alone would put it, before the notice deadline moved it
    moved_for_notice: bool = False
    overdue_at_planning: bool = False
    fires_at: datetime | None = None  # the instant the timer fires (UTC), when planned with a zone
    provenance: tuple[str, ...] = ()  # how the date was derived, step by step


class MilestonePlan(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    end_date: date
    notice_deadline: date
    planned_on: date
    expired_at_planning: bool
    milestones: tuple[Milestone, ...]
    notice_provenance: tuple[str, ...] = ()
    send_by: date | None = None  # last business day to send a notice so it arrives in time
    send_by_provenance: tuple[str, ...] = ()
    time_zone: str = "UTC"

    def get(self, kind: MilestoneKind) -> Milestone:
        for m in self.milestones:
            if m.kind is kind:
                return m
        raise KeyError(kind)
