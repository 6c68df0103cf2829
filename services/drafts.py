"""Draft versions as reviewers read them: the clause-by-clause comparison with the terms in
force, and what changed between two versions."""

import difflib
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from domain.phrases import label
from domain.terms import compare_stored, current_terms, display
from models.contract import ContractRead
from models.drafts import CLAUSES, DraftView
from models.errors import NotFound
from models.renewal import DraftKind
from store import renewals as renewal_store
from store.contracts import get_contract


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


def clause_comparison(contract: ContractRead, proposed: dict[str, Any]) -> list[ClauseRow]:
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
    return VersionDiff(
        from_version=before.version,
        to_version=after.version,
        clauses=compare_stored(before.proposed_terms, after.proposed_terms, after.language),
        text=text,
    )
