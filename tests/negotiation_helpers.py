"""Driving a renewal's negotiation in workflow tests: signed updates sent straight to the
workflow (as clients.renewals does), and the two steps that turn an approved version into an
agreed one (presented, then accepted on its content hash)."""

from datetime import date
from typing import Any

from temporalio.client import WorkflowHandle

from models.drafts import TermsEdit
from models.negotiation import AnswerRecord, OfferRecord, SupplierAnswerKind, VersionEdit
from models.renewal import DraftRef, RenewalStatus
from tests.identity_helpers import SIGNED
from workflows.contract_renewal import ContractRenewalWorkflow

BUYER = "buyer@example.com"


async def signed(
    handle: WorkflowHandle[Any, Any],
    update: Any,
    request: Any,
    *,
    action: str,
    draft_version: int | None = None,
    content_hash: str | None = None,
) -> Any:
    assertion = SIGNED.assertion_for(
        workflow_id=handle.id,
        action=action,
        request=request,
        draft_version=draft_version,
        content_hash=content_hash,
    )
    return await handle.execute_update(update, request.model_copy(update={"assertion": assertion}))


async def edit_version(
    handle: WorkflowHandle[Any, Any],
    *,
    based_on: int,
    edit: TermsEdit,
    by: str = BUYER,
    note: str = "",
) -> DraftRef:
    request = VersionEdit(edited_by=by, based_on_version=based_on, edit=edit, note=note)
    result: DraftRef = await signed(
        handle,
        ContractRenewalWorkflow.edit_version,
        request,
        action="edit_version",
        draft_version=based_on,
    )
    return result


async def present(
    handle: WorkflowHandle[Any, Any], draft: DraftRef, *, on: date, by: str = BUYER
) -> RenewalStatus:
    request = OfferRecord(
        draft_version=draft.version,
        presented_on=on,
        presented_by=by,
        content_hash=draft.content_hash,
    )
    result: RenewalStatus = await signed(
        handle,
        ContractRenewalWorkflow.record_offer,
        request,
        action="record_offer",
        draft_version=draft.version,
        content_hash=draft.content_hash,
    )
    return result


async def answer(
    handle: WorkflowHandle[Any, Any],
    draft: DraftRef,
    kind: SupplierAnswerKind,
    *,
    on: date,
    by: str = BUYER,
    counter: TermsEdit | None = None,
    note: str = "",
) -> RenewalStatus:
    accepted = kind is SupplierAnswerKind.ACCEPTED
    request = AnswerRecord(
        draft_version=draft.version,
        answer=kind,
        answered_on=on,
        recorded_by=by,
        content_hash=draft.content_hash if accepted else None,
        confirmed_by="Sales director, Supplier Co." if accepted else "",
        reference="signed PDF 2026-117" if accepted else "",
        note=note,
        counter_terms=counter,
    )
    result: RenewalStatus = await signed(
        handle,
        ContractRenewalWorkflow.record_answer,
        request,
        action="record_answer",
        draft_version=draft.version,
        content_hash=request.content_hash,
    )
    return result


async def agree(
    handle: WorkflowHandle[Any, Any], draft: DraftRef, *, on: date, by: str = BUYER
) -> RenewalStatus:
    """Present the approved ``draft`` to the supplier and record its acceptance."""
    await present(handle, draft, on=on, by=by)
    return await answer(handle, draft, SupplierAnswerKind.ACCEPTED, on=on, by=by)
