"""Renewal plans: a preview of contracts not imported yet, and the calendar feed."""

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Response

from auth.roles import Permission
from models.contract import ContractRead
from models.errors import FieldError, InvalidInput
from models.users import CurrentUser
from portal.deps import SessionDep, StateDep, require
from services.calendar_feed import build_feed, owner_languages, planned_for_feed
from services.contracts import parse_contract
from services.plans import as_read, plan_as_dict, plan_contracts

router = APIRouter(tags=["plans"])

Reader = Annotated[CurrentUser, require(Permission.CONTRACTS_READ)]
MAX_CONTRACTS = 5000


@router.post("/plans/preview")
def preview_plans(
    state: StateDep,
    _: Reader,
    contracts: Annotated[list[dict[str, Any]], Body(max_length=MAX_CONTRACTS)],
) -> list[dict[str, Any]]:
    """Each contract's milestones, notice deadline, send-by date and late milestones, with the
    provenance of every date (``preview``: always true here). Nothing is stored. Rows are
    numbered from 1; any bad row fails the request with every problem listed (row, field,
    reason)."""
    today = state.today()
    parsed: list[ContractRead] = []
    errors: list[FieldError] = []
    for row, data in enumerate(contracts, start=1):
        try:
            parsed.append(as_read(parse_contract(data, row=row), today=today))
        except InvalidInput as exc:
            errors.extend(exc.errors)
    if errors:
        raise InvalidInput(errors)
    planned = plan_contracts(
        parsed,
        today=today,
        cfg=state.settings.calendar_settings,
        policy=state.settings.renewal_policy,
    )
    return [plan_as_dict(p) for p in planned]


@router.get("/calendar.ics", response_class=Response)
def calendar_feed(
    state: StateDep,
    db: SessionDep,
    _: Reader,
    owner: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    """Milestones, send-by dates and notice deadlines of active contracts as iCalendar: the
    stored plan of each running renewal; a contract whose renewal has not started gets a
    preview made by the workflow's plan function, and its events say so."""
    planned = planned_for_feed(
        db,
        owner=owner,
        today=state.today(),
        cfg=state.settings.calendar_settings,
        policy=state.settings.renewal_policy,
    )
    feed = build_feed(
        planned,
        owner_languages=owner_languages(db, planned),
        base_url=state.settings.web_base_url,
    )
    return Response(feed, media_type="text/calendar; charset=utf-8")
