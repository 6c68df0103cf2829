"""The negotiation of a renewal (renewal-semantics.md §3): procurement makes the next version by
editing terms, records that an approved version was presented to the supplier, the supplier's
answer (accepted, countered, declined) and its stated needs; procurement and legal read the
plan, the version events and the breaches of the plan's limits."""

from typing import Annotated

from fastapi import APIRouter, status
from temporalio.client import Client

from api.negotiation_schemas import AnswerIn, HearingIn, NegotiationOut, OfferIn, VersionEditIn
from api.routers.renewals import signed
from auth.roles import Permission
from models.numbers import PositiveDbInt
from models.renewal import DraftRef, RenewalStatus
from models.users import CurrentUser
from portal.deps import StateDep, TemporalDep, require
from portal.state import TemporalUnavailable
from services import negotiation as service

router = APIRouter(prefix="/renewals", tags=["negotiation"])

Reader = Annotated[CurrentUser, require(Permission.CONTRACTS_READ)]
Writer = Annotated[CurrentUser, require(Permission.RENEWALS_WRITE)]

TERM = "/{contract_id}/terms/{term}"


@router.post(f"{TERM}/versions", status_code=status.HTTP_201_CREATED)
async def edit_version(
    contract_id: str,
    term: PositiveDbInt,
    body: VersionEditIn,
    state: StateDep,
    user: Writer,
    client: TemporalDep,
) -> DraftRef:
    """Make the next version by editing the current version's terms, as the token's user (its
    maker, who may not approve it). Refused naming each field (422), nothing stored: a price
    not above 0, an unknown currency, a notice period longer than the term, an edit that
    changes nothing. 409: ``based_on_version`` is not the current version, or the renewal is
    not waiting for a revision (or was started before versions made by people)."""
    return await signed(service.edit_version, body, state, user, client, contract_id, term)


@router.post(f"{TERM}/offers", status_code=status.HTTP_201_CREATED)
async def record_offer(
    contract_id: str,
    term: PositiveDbInt,
    body: OfferIn,
    state: StateDep,
    user: Writer,
    client: TemporalDep,
) -> RenewalStatus:
    """Record that the current approved version was presented to the supplier, by the token's
    user. Refused naming the field (422): a version legal has not approved, a date in the
    future, a hash that is not the approved text's."""
    return await signed(
        service.record_offer, body, state, user, client, contract_id, term, today=state.today()
    )


@router.post(f"{TERM}/answers", status_code=status.HTTP_201_CREATED)
async def record_answer(
    contract_id: str,
    term: PositiveDbInt,
    body: AnswerIn,
    state: StateDep,
    user: Writer,
    client: TemporalDep,
) -> RenewalStatus:
    """Record the supplier's answer to the presented version. ``accepted`` agrees the renewal
    on that version's content hash; ``countered``: ``counter_terms`` become the next version
    (in ``drafts``), made by the token's user, for legal review; ``declined`` escalates back to
    the recommendation. Refused naming the field (422): a version never presented, or
    superseded, an acceptance without its hash, who confirmed or the evidence."""
    return await signed(
        service.record_answer, body, state, user, client, contract_id, term, today=state.today()
    )


@router.post(f"{TERM}/hearings", status_code=status.HTTP_201_CREATED)
async def record_hearing(
    contract_id: str,
    term: PositiveDbInt,
    body: HearingIn,
    state: StateDep,
    user: Writer,
    client: TemporalDep,
) -> RenewalStatus:
    """Record the supplier's stated needs at the first discussion (ヒアリング)."""
    return await signed(
        service.record_hearing, body, state, user, client, contract_id, term, today=state.today()
    )


@router.get(f"{TERM}/negotiation")
async def read_negotiation(
    contract_id: str, term: PositiveDbInt, _: Reader, state: StateDep
) -> NegotiationOut:
    """The negotiation plan (each term's target and limit), the version events in order, where
    each version stands (approved, presented, answered, agreed), the version waiting for
    procurement's revision, the current version's breaches of the limits, and the hearings.
    Internal: never part of a supplier's letter. ``live`` is false when the workflow could not
    be asked: the plan recorded with the renewal is shown then."""
    try:
        client: Client | None = await state.temporal.get()
    except TemporalUnavailable:
        client = None
    found = await service.view(
        sessions=state.sessions, client=client, contract_id=contract_id, term=term
    )
    return NegotiationOut(
        workflow_id=found.workflow_id,
        contract_id=contract_id,
        term=term,
        live=found.live,
        negotiation=found.view,
    )
