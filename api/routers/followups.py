"""Follow-up reviews during a term (renewal-semantics.md §7, seed 000's 契約更新後のフォローアップ):
procurement records each periodic review (the supplier's feedback, internal satisfaction,
willingness to continue, the supplier's own view, issues and actions with owner and due date),
closes actions, and sets a contract's own review interval; everyone who reads contracts reads
them."""

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, ConfigDict, Field

from auth.roles import Permission
from domain.followup import ReviewSlot
from models.followups import FollowUpActionRead, FollowUpInput, FollowUpRead
from models.numbers import PositiveDbInt
from models.users import CurrentUser
from portal.deps import StateDep, require
from services import followups as service

router = APIRouter(prefix="/contracts", tags=["follow-ups"])

Reader = Annotated[CurrentUser, require(Permission.CONTRACTS_READ)]
Writer = Annotated[CurrentUser, require(Permission.CONTRACTS_WRITE)]


class FollowUpsOut(BaseModel):
    model_config = ConfigDict(frozen=True, from_attributes=True)

    contract_id: str
    term: int
    term_start: date
    term_end: date
    interval_months: int
    contract_interval_months: int | None
    scheduled: tuple[ReviewSlot, ...]
    followups: tuple[FollowUpRead, ...]


class IntervalIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    months: Annotated[int, Field(ge=1, le=12)] | None = None  # None: the organisation's setting


@router.get("/{contract_id}/followups")
def list_followups(
    contract_id: str,
    _: Reader,
    state: StateDep,
    term: Annotated[PositiveDbInt | None, Query()] = None,
) -> FollowUpsOut:
    """The term's follow-up reviews (the current term's unless ``term`` is given): those
    scheduled, what was recorded for each, and the open issues and actions."""
    found = service.term_followups(
        sessions=state.sessions, settings=state.settings, contract_id=contract_id, term=term
    )
    return FollowUpsOut.model_validate(found)


@router.post("/{contract_id}/followups", status_code=status.HTTP_201_CREATED)
def record_followup(
    contract_id: str, body: FollowUpInput, user: Writer, state: StateDep
) -> FollowUpRead:
    """Record a follow-up review of the contract's current term as the token's user (who may
    change the contract). Refused naming the field (422), nothing stored: a CSAT outside 1-5, an
    NPS outside 0-10, an action without owner or due date, a term that has ended, a review
    already recorded."""
    return service.record(
        sessions=state.sessions,
        settings=state.settings,
        user=user,
        contract_id=contract_id,
        data=body,
        today=state.today(),
    )


@router.post("/{contract_id}/followups/actions/{action_id}/closure")
def close_followup_action(
    contract_id: str, action_id: PositiveDbInt, user: Writer, state: StateDep
) -> FollowUpActionRead:
    """Close an open issue or action raised at one of the contract's follow-up reviews."""
    return service.close_action(
        sessions=state.sessions, user=user, contract_id=contract_id, action_id=action_id
    )


@router.put("/{contract_id}/followups/interval")
def set_followup_interval(
    contract_id: str, body: IntervalIn, user: Writer, state: StateDep
) -> IntervalIn:
    """Set the contract's own follow-up interval in months (null: the organisation's
    ``FOLLOWUP_INTERVAL_MONTHS``)."""
    months = service.set_interval(
        sessions=state.sessions, user=user, contract_id=contract_id, months=body.months
    )
    return IntervalIn(months=months)
