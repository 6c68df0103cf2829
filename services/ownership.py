"""Enforcing the ownership of contracts (renewal-semantics.md §6) for every interface: the facts
come from :mod:`store.teams`, the decision from :mod:`domain.ownership`.

- A contract's owner is a user: once the database has accounts, a contract registered (one at
  a time or by import) whose owner is not an active account is refused, naming ``owner``. The
  account is the user whose name is the owner's address, trimmed and casefolded.
- Changing a contract or its renewal (amend, start, terminate, redraft, dispatch, an import
  row about it) is for its owner, the members of its team, and a procurement lead; anyone else
  is refused with :class:`~models.errors.NotAllowed` (403 in the HTTP interfaces), which says
  whose the contract is.
- A stored supplier changes (an import row, an upsert) only for a procurement lead, or for a
  user who owns (or whose team has) one of its contracts; a new supplier is anyone's to add.

A database without accounts is run by its operator (the CLI's operator mode): none of this
applies there, as before ownership existed. Every check is a function of the caller's open
session, and :func:`check_contract_change` opens its own for the renewal services, which hold
no transaction while they call the workflow.
"""

from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session

from domain.ownership import (
    Actor,
    Ownership,
    change_refusal,
    owner_username,
    supplier_refusal,
    team_assignment_refusal,
)
from models.contract import ContractCreate
from models.errors import FieldError, InvalidInput, NotAllowed, NotFound
from models.imports import ImportKind, Valid
from models.users import CurrentUser
from store import teams as team_store
from store.db import SessionFactory, transaction
from store.users import count_users, normalise_username

__all__ = [
    "ImportProblems",
    "actor_of",
    "check_contract_change",
    "check_new_contracts",
    "import_problems",
    "not_an_account",
    "operator_mode",
    "refuse_contract_change",
    "refuse_supplier_change",
    "refuse_team_assignment",
    "refused",
]


def operator_mode(session: Session) -> bool:
    """No accounts at all: the database's operator runs it and ownership does not apply."""
    return count_users(session) == 0


def actor_of(session: Session, user: CurrentUser) -> Actor:
    """The person as the ownership rule sees them: name, permissions and teams."""
    teams = team_store.teams_of(session, username=user.username)
    return Actor(username=user.username, permissions=user.permissions, teams=teams)


def not_an_account(owner: str) -> str:
    """Why an owner address is refused when it names no active account."""
    account = owner_username(owner)
    try:
        normalise_username(account)
    except InvalidInput:
        return (
            f"{owner!r} cannot be a user's name (lower-case letters, digits and . _ @ + -, "
            "starting with a letter or digit): a contract's owner must be a user"
        )
    named = "" if account == owner else f" (the account {account!r})"
    return (
        f"{owner!r} is not an active user{named}: a contract's owner must be a user; "
        "create the account first"
    )


def refused(refusals: Sequence[FieldError], others: Sequence[FieldError] = ()) -> NotAllowed:
    """One NotAllowed for several refused records: its message is the refusals, its errors
    (what the problem details and the CLI list) the refusals and ``others``, by row."""
    exc = NotAllowed("; ".join(str(e) for e in refusals) or "not allowed")
    # NotAllowed names at most one field; a file's refusals are one per row.
    setattr(exc, "errors", tuple(sorted((*refusals, *others), key=lambda e: e.row or 0)))  # noqa: B010
    return exc


# ---------------------------------------------------------------------------- one contract


def refuse_contract_change(session: Session, *, user: CurrentUser, contract_id: str) -> None:
    """NotAllowed (field ``owner``) unless ``user`` may change the stored contract and its
    renewals; NotFound when there is no such contract."""
    found = team_store.contract_ownership(session, [contract_id]).get(contract_id)
    if found is None:
        raise NotFound(f"contract {contract_id!r} does not exist")
    if operator_mode(session):
        return
    refusal = change_refusal(actor_of(session, user), found, contract_id=contract_id)
    if refusal is not None:
        raise NotAllowed(refusal, field="owner")


def check_contract_change(*, sessions: SessionFactory, user: CurrentUser, contract_id: str) -> None:
    """:func:`refuse_contract_change` in a transaction of its own, for the services that reach
    a workflow (start, amend, terminate, redraft, dispatch) and hold none while they do."""
    with transaction(sessions) as session:
        refuse_contract_change(session, user=user, contract_id=contract_id)


def refuse_team_assignment(
    session: Session, *, user: CurrentUser, contract_id: str, team: str | None
) -> None:
    """NotAllowed (field ``team``) unless ``user`` may give the contract this team."""
    if operator_mode(session):
        return
    refusal = team_assignment_refusal(actor_of(session, user), contract_id=contract_id, team=team)
    if refusal is not None:
        raise NotAllowed(refusal, field="team")


def refuse_supplier_change(session: Session, *, user: CurrentUser, supplier_id: str) -> None:
    """NotAllowed (field ``id``) unless ``user`` may register or change the supplier."""
    if operator_mode(session):
        return
    refusal = supplier_refusal(
        actor_of(session, user),
        supplier_id=supplier_id,
        exists=bool(team_store.existing_suppliers(session, [supplier_id])),
        contracts=team_store.supplier_contracts(session, [supplier_id]).get(supplier_id, ()),
    )
    if refusal is not None:
        raise NotAllowed(refusal, field="id")


def check_new_contracts(
    session: Session, *, contracts: Sequence[ContractCreate], user: CurrentUser | None
) -> None:
    """Contracts about to be registered (numbered from 1, as :func:`store.contracts.
    register_contracts` numbers them): InvalidInput for owners who are not accounts, then
    NotAllowed for contracts ``user`` may not register (None: a trusted caller, no actor)."""
    valid = [Valid(row, c) for row, c in enumerate(contracts, start=1)]
    problems = import_problems(session, user=user, kind=ImportKind.CONTRACTS, valid=valid)
    if problems.errors:
        raise InvalidInput(problems.errors)
    if problems.refusals:
        raise refused(problems.refusals)


# ---------------------------------------------------------------------------- import rows


class ImportProblems:
    """What ownership finds in a file's rows: ``errors``, data problems (an owner who is not an
    account), and ``refusals``, rows the user may not write; ``rows`` are the rows of both."""

    __slots__ = ("errors", "refusals")

    def __init__(self) -> None:
        self.errors: list[FieldError] = []
        self.refusals: list[FieldError] = []

    @property
    def rows(self) -> set[int]:
        return {e.row for e in (*self.errors, *self.refusals) if e.row is not None}


def import_problems(
    session: Session,
    *,
    user: CurrentUser | None,
    kind: ImportKind,
    valid: Sequence[Valid[Any]],
    file: str | None = None,
) -> ImportProblems:
    """The ownership problems of checked rows of ``kind``. Without accounts (operator mode),
    none; without ``user`` (a caller acting for nobody in particular), only the owners."""
    out = ImportProblems()
    if not valid or operator_mode(session):
        return out

    def problem(into: list[FieldError], row: int, name: str, reason: str) -> None:
        into.append(FieldError(name, reason, row=row or None, file=file))

    no_owner: set[int] = set()  # rows whose owner is no account: that is their problem
    if kind is ImportKind.CONTRACTS:
        accounts = team_store.active_accounts(session, (v.value.owner for v in valid))
        for v in valid:
            if owner_username(v.value.owner) not in accounts:
                problem(out.errors, v.row, "owner", not_an_account(v.value.owner))
                no_owner.add(v.row)
    if user is None:
        return out
    actor = actor_of(session, user)
    if kind is ImportKind.CONTRACTS:
        stored = team_store.contract_ownership(session, (v.value.id for v in valid))
        for v in valid:
            before = stored.get(v.value.id)
            if before is not None:  # already registered (an error of its own): whose is it?
                refusal = change_refusal(actor, before, contract_id=v.value.id)
                if refusal is not None:
                    problem(out.refusals, v.row, "id", refusal)
                continue
            if v.row in no_owner:
                continue
            new = Ownership(v.value.owner, v.value.team)
            refusal = change_refusal(actor, new, contract_id=v.value.id, new=True)
            if refusal is not None:
                problem(out.refusals, v.row, "owner", refusal)
    elif kind is ImportKind.SUPPLIERS:
        ids = [v.value.id for v in valid]
        existing = team_store.existing_suppliers(session, ids)
        contracts = team_store.supplier_contracts(session, ids)
        for v in valid:
            refusal = supplier_refusal(
                actor,
                supplier_id=v.value.id,
                exists=v.value.id in existing,
                contracts=contracts.get(v.value.id, ()),
            )
            if refusal is not None:
                problem(out.refusals, v.row, "id", refusal)
    elif kind in (ImportKind.DELIVERIES, ImportKind.SERVICE_TICKETS, ImportKind.PRICE_HISTORY):
        stored = team_store.contract_ownership(session, (v.value.contract_id for v in valid))
        for v in valid:
            whose = stored.get(v.value.contract_id)
            if whose is None:  # an unknown contract: an error of the database checks
                continue
            refusal = change_refusal(actor, whose, contract_id=v.value.contract_id)
            if refusal is not None:
                problem(out.refusals, v.row, "contract_id", refusal)
    return out
