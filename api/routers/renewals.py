"""Renewals: start one, see the pipeline, read one in full, cancel, ask for a redraft, record
legal decisions on its drafts, and record the dispatch of an approved non-renewal notice."""

import itertools
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Header, Query, Response, status
from pydantic import BaseModel
from temporalio.client import Client

from api.schemas import (
    DecisionIn,
    DispatchIn,
    DispatchOut,
    Page,
    ReasonIn,
    StartIn,
    StartOut,
)
from auth.roles import Permission
from models.contract import IsoDate
from models.drafts import DraftView
from models.errors import NotFound
from models.numbers import DbInt, PositiveDbInt
from models.renewal import DraftRef, RenewalStatus, ReviewResult
from models.users import CurrentUser
from portal.deps import SessionDep, SettingsDep, StateDep, TemporalDep, require
from portal.state import AppState, TemporalUnavailable
from services import drafts as draft_service
from services import notices as notice_service
from services import renewal_detail
from services import renewals as service
from store.reads import pipeline as pipeline_reads

router = APIRouter(prefix="/renewals", tags=["renewals"])

Reader = Annotated[CurrentUser, require(Permission.CONTRACTS_READ)]
Writer = Annotated[CurrentUser, require(Permission.RENEWALS_WRITE)]
Reviewer = Annotated[CurrentUser, require(Permission.REVIEW)]

T = TypeVar("T")


async def signed(
    call: Callable[..., Awaitable[T]],
    body: BaseModel,
    state: AppState,
    user: CurrentUser,
    client: Client,
    contract_id: str,
    term: int,
    /,
    **more: Any,
) -> T:
    """``call``, a service's action on the term's renewal, for the token's user with the app's
    sessions and signing keys. The body's fields are the action's parameters of the same names;
    ``more`` adds what the route knows besides (today, an idempotency key, the settings)."""
    return await call(
        sessions=state.sessions,
        client=client,
        user=user,
        keys=state.identity,
        contract_id=contract_id,
        term=term,
        **dict(body),
        **more,
    )


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses={200: {"description": "the term's renewal already existed; nothing new started"}},
)
async def start_renewal(
    body: StartIn,
    response: Response,
    state: StateDep,
    user: Writer,
    client: TemporalDep,
) -> StartOut:
    """Start the renewal of the contract's current term. Idempotent: a term has one renewal."""
    started = await service.start(
        sessions=state.sessions,
        client=client,
        settings=state.settings,
        user=user,
        contract_id=body.contract_id,
    )
    if not started.created:
        response.status_code = status.HTTP_200_OK
    return StartOut(
        workflow_id=started.workflow_id,
        contract_id=body.contract_id,
        term=started.term,
        created=started.created,
        status=started.status,
    )


@router.get("")
def pipeline(
    db: SessionDep,
    state: StateDep,
    settings: SettingsDep,
    _: Reader,
    stage: Annotated[str | None, Query(max_length=40)] = None,
    supplier_id: Annotated[str | None, Query(max_length=64)] = None,
    owner: Annotated[str | None, Query(max_length=200)] = None,
    ends_from: IsoDate | None = None,
    ends_to: IsoDate | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: DbInt = 0,
) -> Page[pipeline_reads.PipelineItem]:
    """Every contract with its stage, next milestone, notice deadline, send-by date, days left,
    score and recommendation, soonest expiry first. The dates are those of the plan the
    workflow makes (the jurisdiction's business days and the transit buffer)."""
    if stage is not None and stage not in pipeline_reads.stage_names():
        from models.errors import FieldError, InvalidInput

        raise InvalidInput(
            [
                FieldError(
                    "stage", f"unknown stage (known: {', '.join(pipeline_reads.stage_names())})"
                )
            ]
        )
    items, total = pipeline_reads.pipeline(
        db,
        today=state.today(),
        policy=settings.renewal_policy,
        cfg=settings.calendar_settings,
        flt=pipeline_reads.PipelineFilter(
            stage=stage, supplier_id=supplier_id, owner=owner, ends_from=ends_from, ends_to=ends_to
        ),
        limit=limit,
        offset=offset,
    )
    return Page.of(items, total=total, limit=limit, offset=offset)


@router.get("/{contract_id}/terms/{term}")
async def read_renewal(
    contract_id: str, term: PositiveDbInt, _: Reader, state: StateDep
) -> dict[str, Any]:
    """One renewal in full: milestones, the term's stored plan (``plan.preview`` true when it
    is a preview: no plan stored yet), scorecard with evidence and market signals, draft
    versions of every kind with the diffs of the renegotiation proposals, decisions, notice
    dispatches (``late``: after the notice deadline, it does not stop the roll-over) and
    events. ``live`` is false when the workflow could not be asked; the rest comes from the
    database."""
    try:
        client: Client | None = await state.temporal.get()
    except TemporalUnavailable:
        client = None
    found = await renewal_detail.detail(
        sessions=state.sessions,
        client=client,
        settings=state.settings,
        today=state.today(),
        contract_id=contract_id,
        term=term,
    )
    if found.record is None:
        raise NotFound(f"term {term} of contract {contract_id!r} has no renewal yet")
    renegotiation = [d for d in found.drafts if d.kind.value == "renegotiation"]
    diffs = [
        asdict(draft_service.diff(before, after))
        for before, after in itertools.pairwise(renegotiation)
    ]
    live = found.live.model_dump(mode="json") if found.live else None
    plan = found.plan.model_dump(mode="json") if found.plan else None
    return {
        "contract": found.contract.model_dump(mode="json"),
        "renewal": {
            "workflow_id": found.record.workflow_id,
            "term": found.record.term,
            "stage": found.record.stage,
            "requested_by": found.record.requested_by,
            "term_end_date": found.record.term_end_date.isoformat(),
            "outcome": found.record.outcome,
        },
        "milestones": live["milestones"] if live else [],
        "notice_deadline": live["notice_deadline"] if live else plan and plan["notice_deadline"],
        "plan": plan,
        "scorecard": found.record.scorecard,
        "market": (found.record.scorecard or {}).get("market"),
        "drafts": [
            {**d.model_dump(mode="json", exclude={"body", "body_html"}), "body": d.body}
            for d in found.drafts
        ],
        "diffs": diffs,
        "decisions": [
            {**asdict(x), "decided_at": x.decided_at.isoformat()} for x in found.record.decisions
        ],
        "dispatches": [d.model_dump(mode="json") for d in found.dispatches],
        "events": [
            {"kind": e.kind, "detail": e.detail, "created_at": e.created_at.isoformat()}
            for e in found.record.events
        ],
        "live": live is not None,
    }


@router.post("/{contract_id}/terms/{term}/cancellation")
async def cancel_renewal(
    contract_id: str,
    term: PositiveDbInt,
    body: ReasonIn,
    state: StateDep,
    user: Writer,
    client: TemporalDep,
) -> RenewalStatus:
    """Do not renew: the renewal records the termination and the contract ends at expiry."""
    return await signed(service.cancel, body, state, user, client, contract_id, term)


@router.post("/{contract_id}/terms/{term}/redrafts", status_code=status.HTTP_201_CREATED)
async def request_redraft(
    contract_id: str,
    term: PositiveDbInt,
    body: ReasonIn,
    state: StateDep,
    user: Writer,
    client: TemporalDep,
) -> DraftRef:
    return await signed(service.redraft, body, state, user, client, contract_id, term)


@router.post("/{contract_id}/terms/{term}/dispatches", status_code=status.HTTP_201_CREATED)
async def record_dispatch(
    contract_id: str,
    term: PositiveDbInt,
    body: DispatchIn,
    state: StateDep,
    user: Writer,
    client: TemporalDep,
) -> DispatchOut:
    """Record that an approved non-renewal notice went out (date, channel, reference), as the
    token's user. Refused with the field named (422), nothing stored, for a version legal has
    not approved or that is not a notice, a date in the future, or a fixed-term contract. A
    dispatch after the notice deadline is recorded as ``late``: it does not stop the roll-over."""
    done: notice_service.Dispatched = await signed(
        notice_service.record_dispatch,
        body,
        state,
        user,
        client,
        contract_id,
        term,
        settings=state.settings,
        today=state.today(),
    )
    return DispatchOut(
        workflow_id=done.workflow_id,
        contract_id=contract_id,
        term=term,
        stage=done.status.stage.value,
        dispatch=done.record,
        late=done.late,
        note=notice_service.meaning(done.record),
    )


@router.get("/{contract_id}/terms/{term}/drafts")
def list_drafts(
    contract_id: str, term: PositiveDbInt, db: SessionDep, _: Reader
) -> list[DraftView]:
    return draft_service.versions(db, contract_id=contract_id, term=term)


@router.get("/{contract_id}/terms/{term}/drafts/{version}")
def read_draft(
    contract_id: str, term: PositiveDbInt, version: PositiveDbInt, db: SessionDep, _: Reader
) -> dict[str, Any]:
    """One version for its review: every clause against the contract in force (``clauses``),
    what it changes against the contract and the version before (``comparison``, every clause
    a version may change; null for drafts whose stored terms are not a complete set), and its
    terms outside the renewal's negotiation plan (``breaches``; the ``plan`` itself, null for
    renewals started before plans). The plan is internal: never in the supplier's letter."""
    found = draft_service.review(db, contract_id=contract_id, term=term, version=version)
    return {
        "draft": found.draft.model_dump(mode="json"),
        "clauses": [asdict(c) for c in found.clauses],
        "comparison": found.comparison.model_dump(mode="json") if found.comparison else None,
        "breaches": [b.model_dump(mode="json") for b in found.breaches],
        "plan": found.plan.model_dump(mode="json") if found.plan else None,
    }


@router.get("/{contract_id}/terms/{term}/drafts/{version}/diff")
def diff_drafts(
    contract_id: str,
    term: PositiveDbInt,
    version: PositiveDbInt,
    db: SessionDep,
    _: Reader,
    against: Annotated[
        PositiveDbInt | None, Query(description="default: the version before")
    ] = None,
) -> draft_service.VersionDiff:
    after = draft_service.read(db, contract_id=contract_id, term=term, version=version)
    before = draft_service.read(
        db, contract_id=contract_id, term=term, version=against or max(version - 1, 1)
    )
    return draft_service.diff(before, after)


@router.post("/{contract_id}/terms/{term}/decisions")
async def decide(
    contract_id: str,
    term: PositiveDbInt,
    body: DecisionIn,
    state: StateDep,
    user: Reviewer,
    client: TemporalDep,
    idempotency_key: Annotated[
        str | None, Header(max_length=100, description="the same key sent twice counts once")
    ] = None,
) -> ReviewResult:
    """A legal decision on the draft under review, made as the token's user."""
    return await signed(
        service.decide, body, state, user, client, contract_id, term, request_id=idempotency_key
    )
