"""The negotiation of a renewal on behalf of a signed-in person (renewal-semantics.md §3): the
next version made by editing terms, the offer of an approved version, the supplier's answer
(accepted, a counter-offer that becomes the next version, declined), the hearing of the
supplier's needs, and the negotiation as procurement and legal read it (the plan's targets and
limits, the version events, where each version stands, the current version's breaches). The
one implementation behind the HTTP API and the CLI.

Each action checks first what the database can answer (:mod:`services.negotiation_checks`,
also offered on their own so the CLI refuses before it connects), then sends the update signed
for the person (the workflow checks the signature and again its own rules), then writes one
audit entry. The workflow's refusals arrive as the errors the interfaces know: its
``Invalid*`` refusals as InvalidInput with every field named, a stale form, a wrong state or a
renewal started before this feature as Conflict, an identity it could not prove as NotAllowed.
Nothing is stored when either refuses.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, TypeVar

from temporalio.client import Client, WorkflowQueryFailedError, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError

from clients import renewals
from config.identity import IdentityKeys
from models.errors import Conflict, FieldError, InvalidInput, NotAllowed, NotFound
from models.negotiation import NegotiationView, SupplierAnswerKind
from models.renewal import DraftKind, DraftRef, RenewalStatus
from models.users import CurrentUser
from services import drafts as draft_service
from services.negotiation_checks import (
    Edit,
    check_answer,
    check_hearing,
    check_offer,
    check_version_edit,
)
from services.renewals import application_error, send_signed
from store import audit
from store.contracts import get_contract
from store.db import SessionFactory, transaction
from store.reads import renewals as renewal_reads
from workflows.ids import renewal_workflow_id

__all__ = [
    "Negotiation",
    "check_answer",
    "check_hearing",
    "check_offer",
    "check_version_edit",
    "counter_version",
    "edit_version",
    "record_answer",
    "record_hearing",
    "record_offer",
    "view",
]

T = TypeVar("T")

INVALID = frozenset({"InvalidVersion", "InvalidOffer", "InvalidAnswer", "InvalidHearing"})
CONFLICT = frozenset({"VersionConflict", "NotSupported", "RenewalClosed"})


# ---------------------------------------------------------------------------- refusals


def _field_errors(error: ApplicationError) -> list[FieldError]:
    """``details[0]``'s ``{"field", "reason"}`` items, else the message's ``field: reason``
    parts (joined by "; ")."""
    details: Sequence[Any] = error.details or ()
    listed = details[0] if details and isinstance(details[0], list) else []
    found = [
        FieldError(str(item["field"]), str(item["reason"]))
        for item in listed
        if isinstance(item, dict) and "field" in item and "reason" in item
    ]
    if found:
        return found
    for part in error.message.split("; "):
        field, sep, reason = part.partition(": ")
        if sep and field and " " not in field:
            found.append(FieldError(field, reason))
        else:
            found.append(FieldError("(request)", part))
    return found


def refusal(exc: WorkflowUpdateFailedError) -> Exception:
    """The workflow's refusal as the errors the interfaces know; anything else as it is (a
    NotReady that outlasted the client's retries stays a 503)."""
    error = application_error(exc)
    if error is None:
        return exc
    if error.type in INVALID:
        return InvalidInput(_field_errors(error))
    if error.type in CONFLICT:
        return Conflict(error.message)
    if error.type == "IdentityRefused":
        field, sep, reason = error.message.partition(": ")
        if sep and " " not in field:
            return NotAllowed(reason, field=field)
        return NotAllowed(error.message)
    return exc


def _audit(
    sessions: SessionFactory,
    *,
    user: CurrentUser,
    action: audit.AuditAction,
    workflow_id: str,
    detail: dict[str, Any],
    content_hash: str | None = None,
    key: str | None = None,
) -> None:
    with transaction(sessions) as session:
        audit.record(
            session,
            actor=user.username,
            action=action,
            subject_type="renewal",
            subject_id=workflow_id,
            detail=detail,
            content_hash=content_hash,
            key=key,
        )


# ---------------------------------------------------------------------------- actions


async def edit_version(
    *,
    sessions: SessionFactory,
    client: Client,
    user: CurrentUser,
    keys: IdentityKeys,
    contract_id: str,
    term: int,
    based_on_version: int,
    edit: Edit,
    note: str = "",
) -> DraftRef:
    """Make the next version by editing the terms of the current one (``based_on_version``),
    as the signed-in person, its maker; it goes to legal review."""
    request = check_version_edit(
        sessions=sessions,
        user=user,
        contract_id=contract_id,
        term=term,
        based_on_version=based_on_version,
        edit=edit,
        note=note,
    )
    draft: DraftRef = await send_signed(
        renewals.edit_version, client, keys, user, contract_id, term, refusal=refusal, edit=request
    )
    workflow_id = renewal_workflow_id(contract_id, term)
    _audit(
        sessions,
        user=user,
        action=audit.AuditAction.VERSION_EDITED,
        workflow_id=workflow_id,
        detail={
            "based_on_version": based_on_version,
            "version": draft.version,
            "changed": list(request.edit.changed_fields()),
            "note": request.note,
        },
        content_hash=draft.content_hash,
        key=f"version:{workflow_id}:{draft.version}",
    )
    return draft


async def record_offer(
    *,
    sessions: SessionFactory,
    client: Client,
    user: CurrentUser,
    keys: IdentityKeys,
    contract_id: str,
    term: int,
    draft_version: int,
    presented_on: date,
    content_hash: str | None = None,
    note: str = "",
    today: date,
) -> RenewalStatus:
    """Record that approved version ``draft_version`` was presented to the supplier on
    ``presented_on`` by the signed-in person."""
    offer = check_offer(
        sessions=sessions,
        user=user,
        contract_id=contract_id,
        term=term,
        draft_version=draft_version,
        presented_on=presented_on,
        content_hash=content_hash,
        note=note,
        today=today,
    )
    status: RenewalStatus = await send_signed(
        renewals.record_offer, client, keys, user, contract_id, term, refusal=refusal, offer=offer
    )
    presented = next((d for d in status.drafts if d.version == draft_version), None)
    _audit(
        sessions,
        user=user,
        action=audit.AuditAction.OFFER_RECORDED,
        workflow_id=renewal_workflow_id(contract_id, term),
        detail={
            "draft_version": draft_version,
            "presented_on": offer.presented_on.isoformat(),
            "note": offer.note,
        },
        content_hash=presented.content_hash if presented else offer.content_hash,
    )
    return status


def counter_version(status: RenewalStatus, *, answered: int) -> DraftRef | None:
    """The version a counter-offer to version ``answered`` became (None: none yet)."""
    later = [
        d
        for d in status.drafts
        if d.version > answered and d.kind is not DraftKind.NON_RENEWAL_NOTICE
    ]
    return later[-1] if later else None


async def record_answer(
    *,
    sessions: SessionFactory,
    client: Client,
    user: CurrentUser,
    keys: IdentityKeys,
    contract_id: str,
    term: int,
    draft_version: int,
    answer: SupplierAnswerKind | str,
    answered_on: date,
    content_hash: str | None = None,
    confirmed_by: str = "",
    reference: str = "",
    note: str = "",
    counter_terms: Edit | None = None,
    today: date,
) -> RenewalStatus:
    """Record the supplier's answer to presented version ``draft_version``: accepted (bound to
    ``content_hash``), countered (``counter_terms`` become the next version, made by the
    signed-in person, in legal review) or declined."""
    record = check_answer(
        sessions=sessions,
        user=user,
        contract_id=contract_id,
        term=term,
        draft_version=draft_version,
        answer=answer,
        answered_on=answered_on,
        content_hash=content_hash,
        confirmed_by=confirmed_by,
        reference=reference,
        note=note,
        counter_terms=counter_terms,
        today=today,
    )
    status: RenewalStatus = await send_signed(
        renewals.record_answer,
        client,
        keys,
        user,
        contract_id,
        term,
        refusal=refusal,
        answer=record,
    )
    made = (
        counter_version(status, answered=draft_version)
        if record.answer is SupplierAnswerKind.COUNTERED
        else None
    )
    _audit(
        sessions,
        user=user,
        action=audit.AuditAction.ANSWER_RECORDED,
        workflow_id=renewal_workflow_id(contract_id, term),
        detail={
            "draft_version": draft_version,
            "answer": record.answer.value,
            "answered_on": record.answered_on.isoformat(),
            "confirmed_by": record.confirmed_by,
            "reference": record.reference,
            "note": record.note,
            "counter_version": made.version if made else None,
        },
        content_hash=record.content_hash,
    )
    return status


async def record_hearing(
    *,
    sessions: SessionFactory,
    client: Client,
    user: CurrentUser,
    keys: IdentityKeys,
    contract_id: str,
    term: int,
    held_on: date,
    needs: str,
    wants_to_continue: bool | None = None,
    today: date,
) -> RenewalStatus:
    """Record what the supplier said it needs at the first discussion (ヒアリング)."""
    hearing = check_hearing(
        sessions=sessions,
        user=user,
        contract_id=contract_id,
        term=term,
        held_on=held_on,
        needs=needs,
        wants_to_continue=wants_to_continue,
        today=today,
    )
    status: RenewalStatus = await send_signed(
        renewals.record_hearing,
        client,
        keys,
        user,
        contract_id,
        term,
        refusal=refusal,
        hearing=hearing,
    )
    _audit(
        sessions,
        user=user,
        action=audit.AuditAction.HEARING_RECORDED,
        workflow_id=renewal_workflow_id(contract_id, term),
        detail={
            "held_on": hearing.held_on.isoformat(),
            "needs": hearing.needs,
            "wants_to_continue": hearing.wants_to_continue,
        },
    )
    return status


# ---------------------------------------------------------------------------- the view


@dataclass(frozen=True, slots=True)
class Negotiation:
    workflow_id: str
    view: NegotiationView
    live: bool  # False: the workflow could not be asked; the plan and breaches are the stored


async def view(
    *, sessions: SessionFactory, client: Client | None, contract_id: str, term: int
) -> Negotiation:
    """The negotiation as the running workflow answers it; when it cannot be asked (closed and
    not answering, unreachable, or started before it answered this query) the plan recorded
    with the renewal and the current proposal's breaches of it, marked not live. NotFound for
    an unknown contract or a term without a renewal."""
    with transaction(sessions) as session:
        get_contract(session, contract_id=contract_id)  # NotFound: no such contract
        record = renewal_reads.renewal_record(session, contract_id=contract_id, term=term)
        if record is None:
            raise NotFound(f"no renewal for term {term} of contract {contract_id!r}")
        drafts = draft_service.versions(session, contract_id=contract_id, term=term)
    workflow_id = record.workflow_id
    if client is not None:
        try:
            found = await renewals.get_negotiation(client, contract_id=contract_id, term=term)
        except (RPCError, WorkflowQueryFailedError):  # the stored record is shown instead
            pass
        else:
            return Negotiation(workflow_id=workflow_id, view=found, live=True)
    plan = draft_service.stored_plan(record)
    proposals = [d for d in drafts if d.kind is DraftKind.RENEGOTIATION]
    current = proposals[-1] if proposals else None
    return Negotiation(
        workflow_id=workflow_id,
        view=NegotiationView(
            active=plan is not None,
            plan=plan,
            breaches=draft_service.breaches(plan, current) if current is not None else (),
        ),
        live=False,
    )
