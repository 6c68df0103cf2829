"""What the negotiation's actions check before the workflow is asked (renewal-semantics.md §3):
the input, the stored renewal, contract and version, and the ownership rule. Each ``check_*``
returns the request the action sends, or refuses naming the field (InvalidInput, NotAllowed),
NotFound for an unknown contract or a term without a renewal, Conflict once the renewal ended
or for a form made on an older version.

The workflow checks again against its own state (an answer for a version never presented,
acceptance of a superseded version, an approval withdrawn by an amendment): these checks are
the ones the database can answer, so that a bad form is refused, every field named, without a
round trip to Temporal, and the CLI can refuse before it connects.
"""

from collections.abc import Mapping
from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from domain.phrases import label
from domain.versions import next_terms
from models.contract import ContractRead
from models.drafts import DraftView, TermsEdit
from models.errors import Conflict, FieldError, InvalidInput, NotFound
from models.negotiation import (
    AnswerRecord,
    HearingRecord,
    OfferRecord,
    SupplierAnswerKind,
    VersionEdit,
)
from models.renewal import DraftKind, ReviewDecisionKind
from models.users import CurrentUser
from services import drafts as draft_service
from services import ownership
from services.renewals import valid
from store.contracts import get_contract
from store.db import SessionFactory, transaction
from store.reads import renewals as renewal_reads

__all__ = [
    "EDITABLE_KINDS",
    "check_answer",
    "check_hearing",
    "check_offer",
    "check_version_edit",
    "open_renewal",
]

EDITABLE_KINDS = (DraftKind.RENEGOTIATION, DraftKind.INTERIM_EXTENSION)
"""The versions that carry terms a person may edit, present and the supplier may answer."""

Edit = TermsEdit | Mapping[str, Any]


def _not_in_future(field: str, value: date, today: date, what: str) -> list[FieldError]:
    if value > today:
        return [FieldError(field, f"{value.isoformat()} is in the future; record {what}")]
    return []


def open_renewal(
    session: Session,
    *,
    user: CurrentUser,
    contract_id: str,
    term: int,
    closed: str = "its negotiation is closed",
) -> tuple[ContractRead, renewal_reads.RenewalRecord]:
    """The contract and the renewal of its term that ``user`` may still change: NotFound for an
    unknown contract or a term without a renewal, NotAllowed for someone who may not change
    the contract, Conflict (saying ``closed``) once the renewal ended. Also the dispatch's."""
    contract = get_contract(session, contract_id=contract_id)  # NotFound: no such contract
    ownership.refuse_contract_change(session, user=user, contract_id=contract_id)
    record = renewal_reads.renewal_record(session, contract_id=contract_id, term=term)
    if record is None:
        raise NotFound(f"no renewal for term {term} of contract {contract_id!r}")
    if record.outcome is not None:
        raise Conflict(f"the renewal of term {term} has ended ({record.outcome}); {closed}")
    return contract, record


def _open_version(
    sessions: SessionFactory,
    *,
    user: CurrentUser,
    contract_id: str,
    term: int,
    version: int,
    field: str,
) -> tuple[ContractRead, renewal_reads.RenewalRecord, DraftView, list[DraftView]]:
    """The open renewal (:func:`open_renewal`), its stored version ``version`` that carries
    terms (else refused naming ``field``) and every version of the renewal."""
    with transaction(sessions) as session:
        contract, record = open_renewal(session, user=user, contract_id=contract_id, term=term)
        drafts = draft_service.versions(session, contract_id=contract_id, term=term)
    found = next((d for d in drafts if d.version == version and d.kind in EDITABLE_KINDS), None)
    if found is not None:
        return contract, record, found, drafts
    other = next((d for d in drafts if d.version == version), None)
    if other is None:
        raise InvalidInput([FieldError(field, f"version {version} does not exist")])
    raise InvalidInput(
        [
            FieldError(
                field,
                f"version {version} is a {label(other.kind.value, 'en')}: it carries no terms "
                "to negotiate",
            )
        ]
    )


def _terms_errors(
    draft: DraftView, edit: TermsEdit, *, current_end: date | None
) -> list[FieldError]:
    """What :func:`domain.versions.next_terms` refuses in ``edit`` of the stored version (a
    negative price, an unknown currency, a notice longer than the term, no change at all), the
    fields named as the workflow names them; nothing when the stored terms are not a complete
    set (the workflow decides those)."""
    previous = draft_service.terms_of(draft.proposed_terms)
    if previous is None or current_end is None:
        return []
    try:
        next_terms(previous, edit, current_end=current_end, kind=draft.kind)
    except InvalidInput as exc:
        return list(exc.errors)
    return []


def _hash_errors(draft: DraftView, content_hash: str | None, why: str) -> list[FieldError]:
    if content_hash is None or content_hash == draft.content_hash:
        return []
    return [
        FieldError(
            "content_hash",
            f"is not the hash of version {draft.version} ({draft.content_hash[:12]}): {why}",
        )
    ]


# ---------------------------------------------------------------------------- versions


def check_version_edit(
    *,
    sessions: SessionFactory,
    user: CurrentUser,
    contract_id: str,
    term: int,
    based_on_version: int,
    edit: Edit,
    note: str = "",
) -> VersionEdit:
    """The edit ``edit_version`` would send: a change to the current version's terms that
    :func:`domain.versions.next_terms` accepts, by someone who may change the contract."""
    request = valid(
        VersionEdit,
        edited_by=user.username,
        based_on_version=based_on_version,
        edit=edit,
        note=note,
    )
    contract, _, base, drafts = _open_version(
        sessions,
        user=user,
        contract_id=contract_id,
        term=term,
        version=based_on_version,
        field="based_on_version",
    )
    latest = max(d.version for d in drafts)
    if based_on_version < latest:
        raise Conflict(
            f"based_on_version: version {based_on_version} is not the current version "
            f"(version {latest} is); edit the current one"
        )
    errors = _terms_errors(base, request.edit, current_end=contract.end_date)
    if errors:
        raise InvalidInput(errors)
    return request


# ---------------------------------------------------------------------------- offers


def _approved(record: renewal_reads.RenewalRecord, draft: DraftView) -> bool:
    return any(
        d.draft_version == draft.version
        and d.decision == ReviewDecisionKind.APPROVE.value
        and d.content_hash == draft.content_hash
        for d in record.decisions
    )


def check_offer(
    *,
    sessions: SessionFactory,
    user: CurrentUser,
    contract_id: str,
    term: int,
    draft_version: int,
    presented_on: date,
    content_hash: str | None = None,
    note: str = "",
    today: date,
) -> OfferRecord:
    """The offer ``record_offer`` would send: a version legal approved (and whose stored text
    still has the approved hash), presented on a date not after ``today``."""
    offer = valid(
        OfferRecord,
        draft_version=draft_version,
        presented_on=presented_on,
        presented_by=user.username,
        content_hash=content_hash,
        note=note,
    )
    errors = _not_in_future("presented_on", offer.presented_on, today, "an offer once it was made")
    _, record, draft, drafts = _open_version(
        sessions,
        user=user,
        contract_id=contract_id,
        term=term,
        version=draft_version,
        field="draft_version",
    )
    latest = max(d.version for d in drafts)
    errors += _hash_errors(draft, offer.content_hash, "the text presented must be the one approved")
    if draft_version < latest:
        errors.append(
            FieldError(
                "draft_version",
                f"version {draft_version} is not the current version ({latest}); only the "
                "current approved version is presented",
            )
        )
    elif not draft.hash_verified:
        errors.append(
            FieldError(
                "draft_version",
                f"version {draft_version} no longer matches its content hash; it cannot be "
                "presented",
            )
        )
    elif not _approved(record, draft):
        errors.append(
            FieldError(
                "draft_version",
                f"version {draft_version} is not approved by legal; only an approved version may "
                "be presented to the supplier",
            )
        )
    if errors:
        raise InvalidInput(errors)
    return offer


# ---------------------------------------------------------------------------- answers


def _answer_shape(answer: AnswerRecord) -> list[FieldError]:
    """What each kind of answer needs: an acceptance its evidence, a counter-offer its terms."""
    errors: list[FieldError] = []
    if answer.answer is SupplierAnswerKind.ACCEPTED:
        if not answer.content_hash:
            errors.append(
                FieldError(
                    "content_hash",
                    "required to accept: the hash of the version the supplier agreed to",
                )
            )
        if not answer.confirmed_by.strip():
            errors.append(
                FieldError("confirmed_by", "required to accept: who signed or confirmed for them")
            )
        if not answer.reference.strip():
            errors.append(
                FieldError(
                    "reference",
                    "required to accept: the evidence (signed copy, mail, order number)",
                )
            )
    if answer.answer is SupplierAnswerKind.COUNTERED and answer.counter_terms is None:
        errors.append(
            FieldError("counter_terms", "required for a counter-offer: the terms it proposes")
        )
    if answer.answer is not SupplierAnswerKind.COUNTERED and answer.counter_terms is not None:
        errors.append(
            FieldError(
                "counter_terms",
                f"only a counter-offer carries terms (the answer is {answer.answer.value})",
            )
        )
    return errors


def check_answer(
    *,
    sessions: SessionFactory,
    user: CurrentUser,
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
) -> AnswerRecord:
    """The answer ``record_answer`` would send: dated not after ``today``; an acceptance with
    the version's content hash, who confirmed and the evidence; a counter-offer with terms that
    :func:`domain.versions.next_terms` accepts as an edit of the version answered."""
    record = valid(
        AnswerRecord,
        draft_version=draft_version,
        answer=answer,
        answered_on=answered_on,
        recorded_by=user.username,
        content_hash=content_hash,
        confirmed_by=confirmed_by,
        reference=reference,
        note=note,
        counter_terms=counter_terms,
    )
    errors = _not_in_future("answered_on", record.answered_on, today, "an answer once it came")
    errors += _answer_shape(record)
    contract, _, draft, _ = _open_version(
        sessions,
        user=user,
        contract_id=contract_id,
        term=term,
        version=draft_version,
        field="draft_version",
    )
    errors += _hash_errors(draft, record.content_hash, "the supplier must agree to that version")
    if record.answer is SupplierAnswerKind.COUNTERED and record.counter_terms is not None:
        errors += _terms_errors(draft, record.counter_terms, current_end=contract.end_date)
    if errors:
        raise InvalidInput(errors)
    return record


# ---------------------------------------------------------------------------- hearings


def check_hearing(
    *,
    sessions: SessionFactory,
    user: CurrentUser,
    contract_id: str,
    term: int,
    held_on: date,
    needs: str,
    wants_to_continue: bool | None = None,
    today: date,
) -> HearingRecord:
    """The hearing ``record_hearing`` would send: the supplier's needs in words, on a date not
    after ``today``, for a renewal still open."""
    hearing = valid(
        HearingRecord,
        held_on=held_on,
        recorded_by=user.username,
        needs=needs.strip(),
        wants_to_continue=wants_to_continue,
    )
    errors = _not_in_future("held_on", hearing.held_on, today, "a hearing once it was held")
    with transaction(sessions) as session:
        open_renewal(session, user=user, contract_id=contract_id, term=term)
    if errors:
        raise InvalidInput(errors)
    return hearing
