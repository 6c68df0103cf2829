"""Draft versions as reviewers read them: the clause-by-clause comparison with the terms in
force and with the version before (every clause a version made by a person may change,
:data:`models.drafts.VERSION_CLAUSES`), what changed between two versions, and the terms of a
version that fall outside the renewal's negotiation plan (the flags legal's review shows).

The comparisons are :mod:`domain.versions`'s. A draft whose stored terms no longer read as a
complete set of terms (drafts stored before the clauses were one model, notices with partial
terms) is compared clause by clause over the keys it has, as before.
"""

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from sqlalchemy.orm import Session

from domain.negotiation import limit_breaches
from domain.phrases import label
from domain.terms import compare_stored, current_terms, display
from domain.versions import compare_version, stored_changes, version_proposal
from models.contract import ContractRead
from models.drafts import CLAUSES, DraftView, ProposedTerms, VersionComparison
from models.errors import NotFound
from models.negotiation import LimitBreach, NegotiationPlan
from models.renewal import DraftKind
from store import renewals as renewal_store
from store.contracts import get_contract
from store.reads import renewals as renewal_reads

PLAN_EVENT = "negotiation_plan"  # the event the workflow records with the plan (交渉準備)


@dataclass(frozen=True, slots=True)
class ClauseRow:
    clause: str
    label: str
    current: str
    proposed: str
    changed: bool


@dataclass(frozen=True, slots=True)
class VersionDiff:
    from_version: int
    to_version: int
    clauses: list[dict[str, str]]  # clause, label, before, after
    text: list[str]  # unified diff of the plain-text bodies


@dataclass(frozen=True, slots=True)
class DraftReview:
    """One version as its review reads it."""

    draft: DraftView
    clauses: list[ClauseRow]  # every clause of the contract in force against the version
    comparison: VersionComparison | None  # None: the stored terms are not a complete set
    breaches: tuple[LimitBreach, ...]  # outside the negotiation plan's limits
    plan: NegotiationPlan | None  # None: the renewal has no plan (started before plans)


def versions(session: Session, *, contract_id: str, term: int) -> list[DraftView]:
    """Every stored draft of the renewal in version order: one sequence whatever the kind
    (renegotiation proposals, non-renewal notices, transition plans, interim extensions)."""
    out: list[DraftView] = []
    for kind in DraftKind:
        try:
            out.extend(
                renewal_store.list_draft_versions(
                    session, contract_id=contract_id, term=term, kind=kind
                )
            )
        except NotFound:
            return []
    order = list(DraftKind)
    # Renewals started before versions were one sequence may hold a notice under the number of
    # a renegotiation version; the renegotiation version is the one that was reviewed.
    return sorted(out, key=lambda d: (d.version, order.index(d.kind)))


def read(session: Session, *, contract_id: str, term: int, version: int) -> DraftView:
    """Version ``version`` of the renewal, whatever its kind (NotFound: no such version)."""
    for kind in DraftKind:
        try:
            return renewal_store.read_draft(
                session, contract_id=contract_id, term=term, kind=kind, version=version
            )
        except NotFound:
            continue
    renewal_store.get_renewal(session, contract_id=contract_id, term=term)  # NotFound: no renewal
    raise NotFound(f"no draft version {version} for term {term} of contract {contract_id!r}")


def terms_of(stored: Mapping[str, Any]) -> ProposedTerms | None:
    """A version's stored terms as a complete set, or None when they do not read as one."""
    try:
        return ProposedTerms.model_validate(dict(stored))
    except ValidationError:
        return None


def previous_of(drafts: Sequence[DraftView], draft: DraftView) -> DraftView | None:
    """The version before ``draft`` of the same kind: a notice is not a revision of a proposal."""
    earlier = [d for d in drafts if d.kind is draft.kind and d.version < draft.version]
    return earlier[-1] if earlier else None


def clause_comparison(
    contract: ContractRead, proposed: dict[str, Any], *, language: str | None = None
) -> list[ClauseRow]:
    """Each clause of the contract in force against the version, changed or not: every clause
    of :data:`~models.drafts.VERSION_CLAUSES` (the cap and additional clauses when either side
    states them) for a complete set of terms, else the stored keys of the letters' clauses.
    ``language``: the reader's (a page), where it is not the contract's (the letters')."""
    if language is not None and language != contract.language:
        contract = contract.model_copy(update={"language": language})
    terms = terms_of(proposed)
    if terms is not None:
        return [
            ClauseRow(c.clause, c.label, c.current, c.proposed, c.changed)
            for c in version_proposal(contract, terms).changes
        ]
    now = current_terms(contract).as_json()
    language = contract.language
    currency = str(proposed.get("currency") or contract.currency)
    rows = []
    for clause in CLAUSES:
        if clause not in proposed:
            continue
        rows.append(
            ClauseRow(
                clause=clause,
                label=label(clause, language),
                current=display(clause, now[clause], language, currency=contract.currency),
                proposed=display(clause, proposed[clause], language, currency=currency),
                changed=now[clause] != proposed[clause],
            )
        )
    return rows


def compare_with_current(
    session: Session, *, contract_id: str, draft: DraftView
) -> list[ClauseRow]:
    return clause_comparison(get_contract(session, contract_id=contract_id), draft.proposed_terms)


def comparison(
    contract: ContractRead, draft: DraftView, previous: DraftView | None
) -> VersionComparison | None:
    """What the version changes against the contract in force and against ``previous`` (only
    the clauses that differ), in the draft's language; None when its terms are not complete."""
    terms = terms_of(draft.proposed_terms)
    if terms is None:
        return None
    before = terms_of(previous.proposed_terms) if previous is not None else None
    return compare_version(
        terms,
        contract=contract,
        previous=before,
        previous_version=previous.version if previous is not None else None,
        language=draft.language,
    )


def stored_plan(record: renewal_reads.RenewalRecord | None) -> NegotiationPlan | None:
    """The negotiation plan the workflow recorded with the renewal (its last plan event)."""
    events = record.events if record is not None else []
    for event in reversed(events):
        if event.kind == PLAN_EVENT:
            try:
                return NegotiationPlan.model_validate(event.detail)
            except ValidationError:
                return None
    return None


def negotiation_plan(session: Session, *, contract_id: str, term: int) -> NegotiationPlan | None:
    record = renewal_reads.renewal_record(session, contract_id=contract_id, term=term)
    return stored_plan(record)


def breaches(plan: NegotiationPlan | None, draft: DraftView) -> tuple[LimitBreach, ...]:
    """The proposal's terms outside the plan's limits (none without a plan, for a notice, a
    transition plan or an interim extension, or for terms that are not a complete set)."""
    if plan is None or draft.kind is not DraftKind.RENEGOTIATION:
        return ()
    terms = terms_of(draft.proposed_terms)
    return limit_breaches(plan, terms) if terms is not None else ()


def review(session: Session, *, contract_id: str, term: int, version: int) -> DraftReview:
    """Version ``version`` with its comparisons and the limits it breaks (NotFound: none)."""
    draft = read(session, contract_id=contract_id, term=term, version=version)
    contract = get_contract(session, contract_id=contract_id)
    previous = previous_of(versions(session, contract_id=contract_id, term=term), draft)
    plan = negotiation_plan(session, contract_id=contract_id, term=term)
    return DraftReview(
        draft=draft,
        clauses=clause_comparison(contract, draft.proposed_terms),
        comparison=comparison(contract, draft, previous),
        breaches=breaches(plan, draft),
        plan=plan,
    )


def diff(before: DraftView, after: DraftView) -> VersionDiff:
    text = list(
        difflib.unified_diff(
            before.body.splitlines(),
            after.body.splitlines(),
            fromfile=f"version {before.version}",
            tofile=f"version {after.version}",
            lineterm="",
            n=2,
        )
    )
    after_terms = terms_of(after.proposed_terms)
    if after_terms is not None and terms_of(before.proposed_terms) is not None:
        clauses = stored_changes(before.proposed_terms, after_terms, language=after.language)
    else:
        clauses = compare_stored(before.proposed_terms, after.proposed_terms, after.language)
    return VersionDiff(
        from_version=before.version,
        to_version=after.version,
        clauses=clauses,
        text=text,
    )
