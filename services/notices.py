"""Procurement records that an approved non-renewal notice went out (renewal-semantics.md §4):
the date, the channel and a reference (tracking number, message id, receipt). The one
implementation behind the HTTP API and the CLI.

Only a notice legal approved can be dispatched, only on an auto-renewing (or evergreen)
contract, and only once it happened (no date in the future). :func:`check_dispatch` refuses
what the database already shows to be wrong, naming the field, before the workflow is asked;
the workflow's ``record_dispatch`` update checks again against its own state and judges the
dispatch against the stored plan: one after the notice deadline is recorded as *late* and does
not stop the contract rolling over. Nothing is stored when either refuses; after the workflow
recorded it, one audit entry.
"""

import re
from dataclasses import dataclass
from datetime import date

from sqlalchemy.orm import Session
from temporalio.client import Client, WorkflowUpdateFailedError

from clients import renewals
from config.identity import IdentityKeys
from config.settings import Settings
from domain.phrases import label
from models.contract import TermModel
from models.errors import Conflict, FieldError, InvalidInput, NotFound
from models.notices import DispatchChannel, DispatchRecord, NoticeDispatch
from models.renewal import DraftKind, RenewalStatus, ReviewDecisionKind
from models.users import CurrentUser
from services import drafts as draft_service
from services.negotiation_checks import open_renewal
from services.renewals import application_error, send_signed, valid
from store import audit
from store.db import SessionFactory, transaction
from store.reads import plans as plan_reads
from store.reads import renewals as renewal_reads
from workflows.ids import renewal_workflow_id

__all__ = ["LATE", "Dispatched", "check_dispatch", "meaning", "record_dispatch"]

LATE = "after the notice deadline: it does not stop the roll-over"
_FIELD_PREFIX = re.compile(r"^([a-z_]+): (.*)$", re.S)


@dataclass(frozen=True, slots=True)
class Dispatched:
    workflow_id: str
    record: DispatchRecord  # as the workflow judged it against the stored plan
    status: RenewalStatus

    @property
    def late(self) -> bool:
        return self.record.late


def meaning(record: DispatchRecord) -> str:
    """What a recorded dispatch means for the end of the term, in a sentence."""
    deadline = record.notice_deadline.isoformat()
    if record.late:
        return f"recorded as late, {LATE} (notice deadline {deadline})"
    if record.after_send_by and record.send_by is not None:
        return (
            f"in time, but after the last day to send it ({record.send_by.isoformat()}): the "
            f"contract ends without renewal if the notice reached the supplier by {deadline}"
        )
    return f"in time for the notice deadline {deadline}: the contract ends without renewal"


def check_dispatch(
    *,
    sessions: SessionFactory,
    settings: Settings,
    user: CurrentUser,
    contract_id: str,
    term: int,
    draft_version: int,
    dispatched_on: date,
    channel: DispatchChannel | str,
    reference: str,
    today: date,
) -> NoticeDispatch:
    """The dispatch ``record_dispatch`` would send, checked against the stored renewal: a date
    not after ``today``, a term whose stored plan continues by itself (not fixed), and a version
    that is a non-renewal notice legal approved and whose dispatch is not recorded yet.
    NotFound for an unknown contract or a term without a renewal; Conflict once it ended."""
    dispatch = valid(
        NoticeDispatch,
        draft_version=draft_version,
        dispatched_on=dispatched_on,
        channel=channel,
        reference=reference,
        recorded_by=user.username,
    )
    errors: list[FieldError] = []
    if dispatch.dispatched_on > today:
        errors.append(
            FieldError(
                "dispatched_on",
                f"{dispatch.dispatched_on.isoformat()} is in the future; record a dispatch "
                "once it happened",
            )
        )
    with transaction(sessions) as session:
        contract, record = open_renewal(
            session,
            user=user,
            contract_id=contract_id,
            term=term,
            closed="a dispatch can no longer change it",
        )
        plan = plan_reads.plan_of(
            session,
            contract=contract,
            term=term,
            today=today,
            policy=settings.renewal_policy,
            cfg=settings.calendar_settings,
        )
        term_model = plan.term_model if plan is not None else contract.term_model
        if term_model is TermModel.FIXED:
            errors.append(
                FieldError(
                    "draft_version",
                    "a fixed-term contract ends at its end date; it takes no non-renewal notice",
                )
            )
            raise InvalidInput(errors)
        errors.extend(_version_errors(session, record, dispatch))
    if errors:
        raise InvalidInput(errors)
    return dispatch


def _version_errors(
    session: Session, record: renewal_reads.RenewalRecord, dispatch: NoticeDispatch
) -> list[FieldError]:
    version = dispatch.draft_version
    try:
        draft = draft_service.read(
            session, contract_id=record.contract_id, term=record.term, version=version
        )
    except NotFound:
        return [FieldError("draft_version", f"version {version} does not exist")]
    if draft.kind is not DraftKind.NON_RENEWAL_NOTICE:
        return [
            FieldError(
                "draft_version",
                f"version {version} is a {label(draft.kind.value, 'en')}, not a non-renewal notice",
            )
        ]
    approved = any(
        d.draft_version == version
        and d.decision == ReviewDecisionKind.APPROVE.value
        and d.content_hash == draft.content_hash
        for d in record.decisions
    )
    if not approved:
        return [
            FieldError(
                "draft_version",
                f"version {version} is not approved by legal; only an approved notice may be sent",
            )
        ]
    if any(d.draft_version == version for d in renewal_reads.recorded_dispatches(record)):
        return [FieldError("draft_version", f"the dispatch of version {version} is recorded")]
    return []


def _refusal(exc: WorkflowUpdateFailedError) -> Exception:
    """The workflow's refusal as the errors the interfaces know: its InvalidDispatch message
    (``field: reason``) as InvalidInput, a closed renewal as Conflict; anything else as it is."""
    cause = application_error(exc)
    if cause is None:
        return exc
    if cause.type == "InvalidDispatch":
        match = _FIELD_PREFIX.match(cause.message)
        if match:
            return InvalidInput([FieldError(match[1], match[2])])
        return Conflict(cause.message)
    if cause.type == "RenewalClosed":
        return Conflict(cause.message)
    return exc


async def record_dispatch(
    *,
    sessions: SessionFactory,
    client: Client,
    settings: Settings,
    user: CurrentUser,
    keys: IdentityKeys,
    contract_id: str,
    term: int,
    draft_version: int,
    dispatched_on: date,
    channel: DispatchChannel | str,
    reference: str,
    today: date,
) -> Dispatched:
    """Record that approved notice ``draft_version`` went out on ``dispatched_on`` by
    ``channel`` (``reference`` identifies it), as the signed-in person. ``today`` is the
    interface's date (UTC, as the workflow counts it). The result says whether it was late."""
    dispatch = check_dispatch(
        sessions=sessions,
        settings=settings,
        user=user,
        contract_id=contract_id,
        term=term,
        draft_version=draft_version,
        dispatched_on=dispatched_on,
        channel=channel,
        reference=reference,
        today=today,
    )
    status: RenewalStatus = await send_signed(
        renewals.record_dispatch,
        client,
        keys,
        user,
        contract_id,
        term,
        refusal=_refusal,
        dispatch=dispatch,
    )
    record = next(d for d in reversed(status.dispatches) if d.draft_version == draft_version)
    workflow_id = renewal_workflow_id(contract_id, term)
    with transaction(sessions) as session:
        audit.record(
            session,
            actor=user.username,
            action=audit.AuditAction.DISPATCH_RECORDED,
            subject_type="renewal",
            subject_id=workflow_id,
            detail={
                "draft_version": record.draft_version,
                "dispatched_on": record.dispatched_on.isoformat(),
                "channel": record.channel.value,
                "reference": record.reference,
                "notice_deadline": record.notice_deadline.isoformat(),
                "late": record.late,
            },
            content_hash=record.content_hash,
            key=f"dispatch:{workflow_id}:{record.draft_version}",
        )
    return Dispatched(workflow_id=workflow_id, record=record, status=status)
