"""The legal review queue."""

from typing import Annotated

from fastapi import APIRouter, Query

from api.schemas import Page
from auth.roles import Permission
from models.numbers import DbInt
from models.users import CurrentUser
from portal.deps import SessionDep, SettingsDep, StateDep, require
from store.reads import reviews as review_reads

router = APIRouter(prefix="/review-queue", tags=["reviews"])


@router.get("")
def review_queue(
    db: SessionDep,
    state: StateDep,
    settings: SettingsDep,
    _: Annotated[CurrentUser, require(Permission.REVIEW)],
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: DbInt = 0,
) -> Page[review_reads.QueueItem]:
    """Versions awaiting a decision, oldest first, of every kind (``kind``: renegotiation,
    non_renewal_notice, transition_plan, interim_extension). ``escalated`` is a flag: an
    escalated (or lapsed) renewal's version stays here and stays decidable. ``due`` is read
    from the term's stored plan, ``due_kind`` says which date it is (final_terms, send_by for a
    notice, end_date for an interim extension); ``plan_preview`` when no plan is stored yet."""
    items, total = review_reads.review_queue(
        db,
        today=state.today(),
        policy=settings.renewal_policy,
        cfg=settings.calendar_settings,
        limit=limit,
        offset=offset,
    )
    return Page.of(items, total=total, limit=limit, offset=offset)
