"""Start renewals and send them people's decisions (reviews, amendments, terminations,
redrafts, dispatches, and the negotiation: edited versions, offers, answers, hearings).

Keyword-only functions over a connected Temporal client; the CLI, the HTTP API and the schedule
sweep call these and nothing else to reach a workflow.
"""

import asyncio
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol, TypeVar

from pydantic import BaseModel
from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowHandle,
    WorkflowUpdateFailedError,
)
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode
from temporalio.workflow import UpdateMethodMultiParam

from models.contract import ContractAmendment
from models.identity import IdentityAssertion
from models.milestones import RenewalPolicy
from models.negotiation import (
    AnswerRecord,
    HearingRecord,
    NegotiationView,
    OfferRecord,
    VersionEdit,
)
from models.notices import NoticeDispatch
from models.renewal import (
    AmendmentRequest,
    DraftRef,
    RedraftRequest,
    RenewalInput,
    RenewalStatus,
    ReviewResult,
    ReviewSubmission,
    TerminationRequest,
)
from workflows import search_attributes as sa
from workflows.contract_renewal import ContractRenewalWorkflow
from workflows.ids import renewal_workflow_id

A = TypeVar("A", bound=BaseModel)
R = TypeVar("R")


class DecisionSigner(Protocol):
    """Makes the signed identity assertion a decision carries (config.identity.Signer: the
    authenticated person of the API, web app or CLI)."""

    def assertion_for(
        self,
        *,
        workflow_id: str,
        action: str,
        request: BaseModel,
        draft_version: int | None = None,
        content_hash: str | None = None,
    ) -> IdentityAssertion: ...


# What a namespace must have registered before renewals can keep their search attributes.
SEARCH_ATTRIBUTES = sa.ALL


@dataclass(frozen=True, slots=True)
class StartResult:
    workflow_id: str
    run_id: str | None
    created: bool  # False: the term already had a workflow (running or finished); nothing new
    status: str  # "UNKNOWN" for an existing workflow when the caller did not ask (describe=False)


async def start_renewal(
    client: Client,
    *,
    contract_id: str,
    term: int,
    requested_by: str,
    task_queue: str,
    policy: RenewalPolicy | None = None,
    search_attributes: bool = False,
    start_delay: timedelta | None = None,
    describe: bool = True,
) -> StartResult:
    """Start the renewal of one contract term, or find the one already there.

    ``search_attributes``: the namespace has the Renewal* attributes registered (dev server,
    production); the workflow then keeps them current. Off on the time-skipping test server.
    ``start_delay``: the workflow exists (and refuses a duplicate) at once, but its first task
    runs only after the delay (the sweep spreads a large catch-up with it). ``describe``: for a
    term that already has a workflow, ask the server its status (one more call; the sweep,
    which only counts it, does not)."""
    workflow_id = renewal_workflow_id(contract_id, term)
    try:
        handle = await client.start_workflow(
            ContractRenewalWorkflow.run,
            RenewalInput(
                contract_id=contract_id,
                term=term,
                requested_by=requested_by,
                policy=policy or RenewalPolicy(),
            ),
            id=workflow_id,
            task_queue=task_queue,
            # FAIL + REJECT_DUPLICATE: whether the term's workflow is running or finished, the
            # server refuses a second one and tells us so, which makes "created" exact even
            # when two starters race.
            start_delay=start_delay,
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            search_attributes=TypedSearchAttributes(
                [SearchAttributePair(sa.CONTRACT_ID, contract_id)]
            )
            if search_attributes
            else None,
        )
    except WorkflowAlreadyStartedError as exc:
        if not describe:
            return StartResult(workflow_id, exc.run_id, created=False, status="UNKNOWN")
        described = await _describe(client, workflow_id)
        status = described[1] if described else "UNKNOWN"
        return StartResult(workflow_id, exc.run_id, created=False, status=status)
    return StartResult(workflow_id, handle.result_run_id, created=True, status="RUNNING")


async def _describe(client: Client, workflow_id: str) -> tuple[str | None, str] | None:
    try:
        desc = await client.get_workflow_handle(workflow_id).describe()
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            return None
        raise
    status = desc.status.name if isinstance(desc.status, WorkflowExecutionStatus) else "UNKNOWN"
    return desc.run_id, status


NOT_READY_ATTEMPTS = 20
NOT_READY_PAUSE = 0.25  # seconds: a renewal opens in one or two activities


async def _update(
    handle: WorkflowHandle[ContractRenewalWorkflow, object],
    update: UpdateMethodMultiParam[[ContractRenewalWorkflow, A], R],
    arg: A,
    *,
    signer: DecisionSigner,
    action: str,
    draft_version: int | None = None,
    content_hash: str | None = None,
    id: str | None = None,
) -> R:
    """Send an update signed for the person behind ``signer``; while the renewal is still
    opening (it refuses with NotReady until its plan and record exist) wait a moment and send
    it again, so a person who acts right after a start is not told to retry. A refused update
    never spent its assertion, so the same one is sent again (it lives minutes)."""
    signed = arg.model_copy(
        update={
            "assertion": signer.assertion_for(
                workflow_id=handle.id,
                action=action,
                request=arg,
                draft_version=draft_version,
                content_hash=content_hash,
            )
        }
    )
    for attempt in range(NOT_READY_ATTEMPTS):
        try:
            return await handle.execute_update(update, signed, id=id)
        except WorkflowUpdateFailedError as err:
            cause = err.cause
            not_ready = isinstance(cause, ApplicationError) and cause.type == "NotReady"
            if not not_ready or attempt == NOT_READY_ATTEMPTS - 1:
                raise
            await asyncio.sleep(NOT_READY_PAUSE)
    raise AssertionError("unreachable")


def renewal_handle(
    client: Client, *, contract_id: str, term: int
) -> WorkflowHandle[ContractRenewalWorkflow, object]:
    return client.get_workflow_handle_for(
        ContractRenewalWorkflow.run, renewal_workflow_id(contract_id, term)
    )


async def get_status(client: Client, *, contract_id: str, term: int) -> RenewalStatus:
    handle = renewal_handle(client, contract_id=contract_id, term=term)
    return await handle.query(ContractRenewalWorkflow.status)


async def submit_review(
    client: Client,
    *,
    signer: DecisionSigner,
    contract_id: str,
    term: int,
    submission: ReviewSubmission,
    request_id: str | None = None,
) -> ReviewResult:
    """``request_id`` becomes the update id: the same decision sent twice is applied once."""
    handle = renewal_handle(client, contract_id=contract_id, term=term)
    return await _update(
        handle,
        ContractRenewalWorkflow.submit_review,
        submission,
        signer=signer,
        action="submit_review",
        draft_version=submission.draft_version,
        content_hash=submission.content_hash,
        id=request_id,
    )


async def amend_renewal(
    client: Client,
    *,
    signer: DecisionSigner,
    contract_id: str,
    term: int,
    amendment: ContractAmendment,
) -> RenewalStatus:
    handle = renewal_handle(client, contract_id=contract_id, term=term)
    return await _update(
        handle,
        ContractRenewalWorkflow.amend,
        AmendmentRequest(amendment=amendment),
        signer=signer,
        action="amend",
    )


async def terminate_renewal(
    client: Client,
    *,
    signer: DecisionSigner,
    contract_id: str,
    term: int,
    request: TerminationRequest,
) -> RenewalStatus:
    handle = renewal_handle(client, contract_id=contract_id, term=term)
    return await _update(
        handle, ContractRenewalWorkflow.terminate, request, signer=signer, action="terminate"
    )


async def request_redraft(
    client: Client,
    *,
    signer: DecisionSigner,
    contract_id: str,
    term: int,
    request: RedraftRequest,
) -> DraftRef:
    handle = renewal_handle(client, contract_id=contract_id, term=term)
    return await _update(
        handle,
        ContractRenewalWorkflow.request_redraft,
        request,
        signer=signer,
        action="request_redraft",
    )


async def record_dispatch(
    client: Client,
    *,
    signer: DecisionSigner,
    contract_id: str,
    term: int,
    dispatch: NoticeDispatch,
) -> RenewalStatus:
    """Procurement records that an approved non-renewal notice went out; the workflow judges it
    against its stored plan (late after the notice deadline) and says so in the status."""
    handle = renewal_handle(client, contract_id=contract_id, term=term)
    return await _update(
        handle,
        ContractRenewalWorkflow.record_dispatch,
        dispatch,
        signer=signer,
        action="record_dispatch",
        draft_version=dispatch.draft_version,
    )


# ---------------------------------------------------------------------------- negotiation


async def edit_version(
    client: Client,
    *,
    signer: DecisionSigner,
    contract_id: str,
    term: int,
    edit: VersionEdit,
) -> DraftRef:
    """Procurement makes the next version by editing the terms of ``edit.based_on_version``
    (renewal-semantics.md §3); the answer is the new version, which goes to legal review."""
    handle = renewal_handle(client, contract_id=contract_id, term=term)
    return await _update(
        handle,
        ContractRenewalWorkflow.edit_version,
        edit,
        signer=signer,
        action="edit_version",
        draft_version=edit.based_on_version,
    )


async def record_offer(
    client: Client,
    *,
    signer: DecisionSigner,
    contract_id: str,
    term: int,
    offer: OfferRecord,
) -> RenewalStatus:
    """An approved version was presented to the supplier."""
    handle = renewal_handle(client, contract_id=contract_id, term=term)
    return await _update(
        handle,
        ContractRenewalWorkflow.record_offer,
        offer,
        signer=signer,
        action="record_offer",
        draft_version=offer.draft_version,
        content_hash=offer.content_hash,
    )


async def record_answer(
    client: Client,
    *,
    signer: DecisionSigner,
    contract_id: str,
    term: int,
    answer: AnswerRecord,
) -> RenewalStatus:
    """The supplier's answer to the presented version: accepted, countered (its terms become
    the next version, in legal review) or declined."""
    handle = renewal_handle(client, contract_id=contract_id, term=term)
    return await _update(
        handle,
        ContractRenewalWorkflow.record_answer,
        answer,
        signer=signer,
        action="record_answer",
        draft_version=answer.draft_version,
        content_hash=answer.content_hash,
    )


async def record_hearing(
    client: Client,
    *,
    signer: DecisionSigner,
    contract_id: str,
    term: int,
    hearing: HearingRecord,
) -> RenewalStatus:
    """The supplier's stated needs at the first discussion (ヒアリング)."""
    handle = renewal_handle(client, contract_id=contract_id, term=term)
    return await _update(
        handle,
        ContractRenewalWorkflow.record_hearing,
        hearing,
        signer=signer,
        action="record_hearing",
    )


async def get_negotiation(client: Client, *, contract_id: str, term: int) -> NegotiationView:
    """The negotiation as the workflow holds it: plan, version events, state, hearings."""
    handle = renewal_handle(client, contract_id=contract_id, term=term)
    return await handle.query(ContractRenewalWorkflow.negotiation)
