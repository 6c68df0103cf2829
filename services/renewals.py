"""Renewal actions on behalf of a signed-in person: start, amend, cancel, redraft, decide, and
where a renewal stands (status, detail). The one implementation behind the HTTP API, the web
pages and the CLI.

The workflow is reached only through :mod:`clients.renewals`. The acting user's name is the
identity the workflow sees (``requested_by``, ``reviewer``), never a value from a form, so the
workflow's segregation-of-duties check applies to the person actually signed in. Each action is
audited after it succeeded, in its own short transaction: no database transaction is held open
while the workflow works (its activities write to the same database).

What an action checks before it asks the workflow (the input, the stored contract, the draft,
segregation of duties) is also offered on its own as ``check_*``: an interface that has not
connected to Temporal yet (the CLI) refuses with it first, and the action checks again, so both
are the same check. Refusals are the errors of :mod:`models.errors`: InvalidInput and NotAllowed
name the field; NotFound for an unknown contract, or a term with no renewal running.
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from auth.roles import Permission
from clients import renewals
from config.identity import IdentityKeys
from config.settings import Settings
from domain.review import approval_refusal
from models.contract import ContractAmendment, ContractRead, ContractStatus
from models.drafts import DraftView
from models.errors import Conflict, FieldError, InvalidInput, NotAllowed, NotFound
from models.renewal import (
    DraftRef,
    RedraftRequest,
    RenewalStatus,
    ReviewDecisionKind,
    ReviewResult,
    ReviewSubmission,
    TerminationRequest,
)
from models.users import CurrentUser
from services import drafts as draft_service
from services import ownership
from store import audit
from store.contracts import amend_contract, get_contract
from store.db import SessionFactory, transaction
from store.reads import renewals as renewal_reads
from workflows.ids import renewal_workflow_id

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)


def valid(model: type[M], **values: Any) -> M:
    """``model`` made of a person's ``values``; refused as InvalidInput, each field named."""
    try:
        return model(**values)
    except ValidationError as exc:
        raise InvalidInput.from_validation_error(exc) from None


def _contract(sessions: SessionFactory, contract_id: str) -> ContractRead:
    with transaction(sessions) as session:
        return get_contract(session, contract_id=contract_id)


def workflow_id(*, contract_id: str, term: int) -> str:
    """The id of the workflow that renews this term of the contract."""
    return renewal_workflow_id(contract_id, term)


def resolve_term(*, sessions: SessionFactory, contract_id: str, term: int | None) -> int:
    """``term`` when given, else the contract's current term (NotFound: no such contract)."""
    if term is not None:
        return term
    return _contract(sessions, contract_id).current_term


Refusal = Callable[[WorkflowUpdateFailedError], Exception]  # the error a refused update is


def application_error(exc: BaseException) -> ApplicationError | None:
    """The workflow's ApplicationError behind ``exc`` (a refused update's cause), if any."""
    cause: BaseException | None = exc.cause if isinstance(exc, WorkflowUpdateFailedError) else exc
    while cause is not None and not isinstance(cause, ApplicationError):
        cause = cause.__cause__
    return cause


async def _on_running(
    contract_id: str, term: int, call: Awaitable[T], refusal: Refusal | None = None
) -> T:
    """``call`` to the term's workflow; NotFound, saying so, when the term has none; a refused
    update as ``refusal`` maps it (without one: as it is)."""
    try:
        return await call
    except WorkflowUpdateFailedError as exc:
        refused = exc if refusal is None else refusal(exc)
        if refused is exc:
            raise
        raise refused from None
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            raise NotFound(
                f"no renewal of contract {contract_id} term {term} is running ({err.message})"
            ) from None
        raise


async def send_signed(
    send: Callable[..., Awaitable[T]],
    client: Client,
    keys: IdentityKeys,
    user: CurrentUser,
    contract_id: str,
    term: int,
    /,
    *,
    refusal: Refusal | None = None,
    **request: Any,
) -> T:
    """``send``, an update of :mod:`clients.renewals`, with ``request`` to the term's workflow,
    signed for ``user``; NotFound when the term has none, a refusal as ``refusal`` maps it."""
    signed = send(
        client, signer=keys.signer_for(user), contract_id=contract_id, term=term, **request
    )
    return await _on_running(contract_id, term, signed, refusal)


async def status(*, client: Client, contract_id: str, term: int) -> RenewalStatus:
    """Where the renewal stands, asked of its workflow."""
    return await _on_running(
        contract_id, term, renewals.get_status(client, contract_id=contract_id, term=term)
    )


# ---------------------------------------------------------------------------- start


@dataclass(frozen=True, slots=True)
class Started:
    workflow_id: str
    term: int
    created: bool
    status: str
    contract_end_date: date


def check_start(*, sessions: SessionFactory, contract_id: str) -> ContractRead:
    """The contract a renewal would start for: it exists and is not terminated."""
    contract = _contract(sessions, contract_id)
    if contract.status is ContractStatus.TERMINATED:
        raise Conflict(f"contract {contract.id!r} is terminated; there is nothing to renew")
    return contract


async def start(
    *,
    sessions: SessionFactory,
    client: Client,
    settings: Settings,
    user: CurrentUser,
    contract_id: str,
) -> Started:
    """Start the renewal of the contract's current term; starting it again is harmless."""
    contract = check_start(sessions=sessions, contract_id=contract_id)
    ownership.check_contract_change(sessions=sessions, user=user, contract_id=contract.id)
    result = await renewals.start_renewal(
        client,
        contract_id=contract.id,
        term=contract.current_term,
        requested_by=user.username,
        task_queue=settings.temporal_task_queue,
        policy=settings.renewal_policy,
        search_attributes=settings.temporal_search_attributes,
    )
    if result.created:
        with transaction(sessions) as session:
            audit.record(
                session,
                actor=user.username,
                action=audit.AuditAction.START,
                subject_type="renewal",
                subject_id=result.workflow_id,
                detail={"contract_id": contract.id, "term": contract.current_term},
                key=f"start:{result.workflow_id}:{result.run_id}",
            )
    return Started(
        workflow_id=result.workflow_id,
        term=contract.current_term,
        created=result.created,
        status=result.status,
        contract_end_date=contract.end_date,
    )


# ---------------------------------------------------------------------------- amend


async def _running(client: Client, contract_id: str, term: int) -> bool:
    try:
        desc = await renewals.renewal_handle(client, contract_id=contract_id, term=term).describe()
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            return False
        raise
    return desc.status is WorkflowExecutionStatus.RUNNING


@dataclass(frozen=True, slots=True)
class Amended:
    contract_id: str
    end_date: date
    notice_period_days: int
    through_workflow: bool
    notice_deadline: date | None
    workflow_id: str | None  # the running renewal that applied it; None: the stored contract


def check_amendment(
    *,
    sessions: SessionFactory,
    user: CurrentUser,
    contract_id: str,
    end_date: date | None,
    notice_period_days: int | None,
    reason: str,
) -> ContractAmendment:
    """The amendment ``amend`` would make: it changes something, and the contract exists."""
    amendment = valid(
        ContractAmendment,
        end_date=end_date,
        notice_period_days=notice_period_days,
        amended_by=user.username,
        reason=reason,
    )
    _contract(sessions, contract_id)  # NotFound: no such contract
    ownership.check_contract_change(sessions=sessions, user=user, contract_id=contract_id)
    return amendment


async def amend(
    *,
    sessions: SessionFactory,
    client: Client,
    user: CurrentUser,
    keys: IdentityKeys,
    contract_id: str,
    end_date: date | None,
    notice_period_days: int | None,
    reason: str,
) -> Amended:
    """Change the end date or notice period. A running renewal applies it and re-plans its
    milestones; without one the stored contract changes directly. Either way one audit entry,
    on the contract, written with the change."""
    amendment = check_amendment(
        sessions=sessions,
        user=user,
        contract_id=contract_id,
        end_date=end_date,
        notice_period_days=notice_period_days,
        reason=reason,
    )
    term = _contract(sessions, contract_id).current_term
    status: RenewalStatus | None = None
    if await _running(client, contract_id, term):
        status = await renewals.amend_renewal(
            client,
            signer=keys.signer_for(user),
            contract_id=contract_id,
            term=term,
            amendment=amendment,
        )
    with transaction(sessions) as session:
        if status is None:
            contract = amend_contract(session, contract_id=contract_id, amendment=amendment)
        else:
            contract = get_contract(session, contract_id=contract_id)
        audit.record(
            session,
            actor=user.username,
            action=audit.AuditAction.AMEND,
            subject_type="contract",
            subject_id=contract_id,
            detail={
                "end_date": end_date.isoformat() if end_date else None,
                "notice_period_days": notice_period_days,
                "reason": amendment.reason,
                "through_workflow": status is not None,
            },
        )
    return Amended(
        contract_id=contract_id,
        end_date=status.end_date if status and status.end_date else contract.end_date,
        notice_period_days=contract.notice_period_days,
        through_workflow=status is not None,
        notice_deadline=status.notice_deadline if status else None,
        workflow_id=workflow_id(contract_id=contract_id, term=term) if status else None,
    )


# ---------------------------------------------------------------------------- cancel, redraft


def check_cancel(*, user: CurrentUser, reason: str) -> TerminationRequest:
    """The termination ``cancel`` would send: it gives a reason."""
    return valid(TerminationRequest, requested_by=user.username, reason=reason)


async def cancel(
    *,
    sessions: SessionFactory,
    client: Client,
    user: CurrentUser,
    keys: IdentityKeys,
    contract_id: str,
    term: int,
    reason: str,
) -> RenewalStatus:
    """Decide not to renew: the workflow records the termination and the contract ends at its
    end date (the notice to the supplier still has to go out before the notice deadline)."""
    request = check_cancel(user=user, reason=reason)
    ownership.check_contract_change(sessions=sessions, user=user, contract_id=contract_id)
    status: RenewalStatus = await send_signed(
        renewals.terminate_renewal, client, keys, user, contract_id, term, request=request
    )
    with transaction(sessions) as session:
        audit.record(
            session,
            actor=user.username,
            action=audit.AuditAction.CANCEL,
            subject_type="renewal",
            subject_id=workflow_id(contract_id=contract_id, term=term),
            detail={"reason": request.reason},
        )
    return status


def check_redraft(*, user: CurrentUser, reason: str) -> RedraftRequest:
    """The request ``redraft`` would send: it says what the new draft must address."""
    return valid(RedraftRequest, requested_by=user.username, reason=reason)


async def redraft(
    *,
    sessions: SessionFactory,
    client: Client,
    user: CurrentUser,
    keys: IdentityKeys,
    contract_id: str,
    term: int,
    reason: str,
) -> DraftRef:
    """Ask for a fresh draft after legal rejected the current one."""
    request = check_redraft(user=user, reason=reason)
    ownership.check_contract_change(sessions=sessions, user=user, contract_id=contract_id)
    draft: DraftRef = await send_signed(
        renewals.request_redraft, client, keys, user, contract_id, term, request=request
    )
    with transaction(sessions) as session:
        audit.record(
            session,
            actor=user.username,
            action=audit.AuditAction.REDRAFT_REQUESTED,
            subject_type="renewal",
            subject_id=workflow_id(contract_id=contract_id, term=term),
            detail={"reason": request.reason, "version": draft.version},
            content_hash=draft.content_hash,
        )
    return draft


# ---------------------------------------------------------------------------- decide


def check_segregation(
    *,
    user: CurrentUser,
    draft: DraftView,
    renewal_requested_by: str | None,
    contract_owner: str | None = None,
) -> None:
    """Refuse early (the workflow refuses too) an approval by whoever asked for the renewal or
    for this version of the draft, by the contract's owner, or by someone without the legal
    role (renewal-semantics.md §6)."""
    refusal = approval_refusal(
        reviewer=user.username,
        version_maker=draft.requested_by,
        renewal_requester=renewal_requested_by,
        contract_owner=contract_owner,
        may_review=user.can(Permission.REVIEW),
    )
    if refusal is not None:
        raise NotAllowed(refusal, field="reviewer")


def check_decision(
    *,
    sessions: SessionFactory,
    user: CurrentUser,
    contract_id: str,
    term: int,
    decision: ReviewDecisionKind,
    draft_version: int,
    content_hash: str | None,
    comment: str,
) -> ReviewSubmission:
    """The submission ``decide`` would send, checked against the stored renewal and draft: a
    comment for anything but an approval, a version that exists, and for an approval a draft
    that still matches its hash and a reviewer who neither requested the renewal nor this
    version (segregation of duties)."""
    submission = valid(
        ReviewSubmission,
        decision=decision,
        reviewer=user.username,
        draft_version=draft_version,
        content_hash=content_hash,
        comment=comment,
    )
    if decision is not ReviewDecisionKind.APPROVE and not submission.comment:
        raise InvalidInput(
            [FieldError("comment", f"required to {decision.value.replace('_', ' ')}")]
        )
    with transaction(sessions) as session:
        record = renewal_reads.renewal_record(session, contract_id=contract_id, term=term)
        if record is None:
            raise NotFound(f"no renewal for term {term} of contract {contract_id!r}")
        try:
            draft = draft_service.read(
                session, contract_id=contract_id, term=term, version=draft_version
            )
        except NotFound as exc:  # the renewal exists: the version asked for is what is wrong
            raise InvalidInput([FieldError("draft_version", str(exc))]) from None
    if decision is ReviewDecisionKind.APPROVE:
        if not draft.hash_verified:
            raise Conflict(
                f"draft version {draft_version} no longer matches its content hash; "
                "it cannot be approved"
            )
        check_segregation(
            user=user,
            draft=draft,
            renewal_requested_by=record.requested_by,
            contract_owner=_contract(sessions, contract_id).owner,
        )
    return submission


async def decide(
    *,
    sessions: SessionFactory,
    client: Client,
    user: CurrentUser,
    keys: IdentityKeys,
    contract_id: str,
    term: int,
    decision: ReviewDecisionKind,
    draft_version: int,
    content_hash: str | None,
    comment: str,
    request_id: str | None,
) -> ReviewResult:
    """Send a legal decision to the workflow's review update. ``content_hash`` binds it to the
    exact text the reviewer read; ``request_id`` makes a re-sent form count once."""
    submission = check_decision(
        sessions=sessions,
        user=user,
        contract_id=contract_id,
        term=term,
        decision=decision,
        draft_version=draft_version,
        content_hash=content_hash,
        comment=comment,
    )
    # Namespaced by user: another person re-using a form's id cannot collide with this one.
    update_id = f"review:{user.username}:{request_id}" if request_id else None
    return await send_signed(
        renewals.submit_review,
        client,
        keys,
        user,
        contract_id,
        term,
        submission=submission,
        request_id=update_id,
    )
