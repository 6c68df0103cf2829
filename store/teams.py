"""Teams and the facts the ownership rule needs: keyword-only functions on the caller's session.

Teams (``teams``, ``team_members``: :mod:`models.team_tables`) have a name and members, who are
users. The reads below give :mod:`services.ownership` what :mod:`domain.ownership` decides on:
a user's teams, whose each contract is (owner and team), the contracts of each supplier, and
which owner addresses are active accounts. Nothing here decides who may do what.
"""

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from domain.ownership import Ownership, owner_username
from models.account_tables import UserRow
from models.errors import Conflict, NotFound
from models.tables import ContractRow, SupplierRow
from models.team_tables import TeamMemberRow, TeamRow
from store.db import Violation, violation

__all__ = [
    "Team",
    "active_accounts",
    "add_member",
    "contract_ownership",
    "create_team",
    "existing_suppliers",
    "existing_teams",
    "get_team",
    "list_teams",
    "remove_member",
    "set_contract_team",
    "supplier_contracts",
    "teams_of",
]

_BATCH = 500  # values per IN (...) query


def _chunks(values: Iterable[Any]) -> Iterator[list[Any]]:
    items = sorted(set(values))
    for start in range(0, len(items), _BATCH):
        yield items[start : start + _BATCH]


@dataclass(frozen=True, slots=True)
class Team:
    name: str
    members: tuple[str, ...]  # user names, sorted


def _members(session: Session, name: str) -> tuple[str, ...]:
    query = (
        select(UserRow.username)
        .join(TeamMemberRow, TeamMemberRow.user_id == UserRow.id)
        .where(TeamMemberRow.team == name)
        .order_by(UserRow.username)
    )
    return tuple(session.scalars(query))


def create_team(session: Session, *, name: str) -> Team:
    """A new team without members; Conflict when the name is taken."""
    if session.get(TeamRow, name) is not None:
        raise Conflict(f"team {name!r} already exists")
    session.add(TeamRow(name=name))
    try:
        session.flush()
    except IntegrityError as exc:  # created concurrently since the check above
        if violation(exc) is Violation.UNIQUE:
            raise Conflict(f"team {name!r} already exists") from None
        raise
    return Team(name, ())


def get_team(session: Session, *, name: str) -> Team:
    if session.get(TeamRow, name) is None:
        raise NotFound(f"team {name!r} does not exist")
    return Team(name, _members(session, name))


def list_teams(session: Session) -> list[Team]:
    names = session.scalars(select(TeamRow.name).order_by(TeamRow.name))
    return [Team(name, _members(session, name)) for name in names]


def _user_id(session: Session, username: str) -> int:
    found = session.scalar(select(UserRow.id).where(UserRow.username == username))
    if found is None:
        raise NotFound(f"user {username!r} does not exist")
    return found


def add_member(session: Session, *, team: str, username: str) -> bool:
    """Put the user in the team; False when they already were. NotFound: no such team or user."""
    get_team(session, name=team)
    user_id = _user_id(session, username)
    if session.get(TeamMemberRow, (team, user_id)) is not None:
        return False
    session.add(TeamMemberRow(team=team, user_id=user_id))
    session.flush()
    return True


def remove_member(session: Session, *, team: str, username: str) -> bool:
    """Take the user out of the team; False when they were not in it."""
    get_team(session, name=team)
    row = session.get(TeamMemberRow, (team, _user_id(session, username)))
    if row is None:
        return False
    session.delete(row)
    session.flush()
    return True


def teams_of(session: Session, *, username: str) -> frozenset[str]:
    """The teams the user is a member of (none for a name without an account)."""
    query = (
        select(TeamMemberRow.team)
        .join(UserRow, TeamMemberRow.user_id == UserRow.id)
        .where(UserRow.username == owner_username(username))
    )
    return frozenset(session.scalars(query))


def existing_teams(session: Session, names: Iterable[str]) -> set[str]:
    found: set[str] = set()
    for chunk in _chunks(names):
        found.update(session.scalars(select(TeamRow.name).where(TeamRow.name.in_(chunk))))
    return found


def existing_suppliers(session: Session, ids: Iterable[str]) -> set[str]:
    found: set[str] = set()
    for chunk in _chunks(ids):
        found.update(session.scalars(select(SupplierRow.id).where(SupplierRow.id.in_(chunk))))
    return found


def active_accounts(session: Session, owners: Iterable[str]) -> set[str]:
    """Of the owner addresses given, the account names (casefolded) of active users."""
    found: set[str] = set()
    for chunk in _chunks(owner_username(o) for o in owners):
        query = select(UserRow.username).where(UserRow.username.in_(chunk), UserRow.active)
        found.update(session.scalars(query))
    return found


def contract_ownership(session: Session, contract_ids: Iterable[str]) -> dict[str, Ownership]:
    """Whose each stored contract is; ids not stored are left out."""
    out: dict[str, Ownership] = {}
    for chunk in _chunks(contract_ids):
        query = select(ContractRow.id, ContractRow.owner, ContractRow.team)
        for contract_id, owner, team in session.execute(query.where(ContractRow.id.in_(chunk))):
            out[contract_id] = Ownership(owner, team)
    return out


def supplier_contracts(session: Session, supplier_ids: Iterable[str]) -> dict[str, list[Ownership]]:
    """Whose each supplier's stored contracts are; a supplier without contracts is left out."""
    out: dict[str, list[Ownership]] = {}
    for chunk in _chunks(supplier_ids):
        query = select(ContractRow.supplier_id, ContractRow.owner, ContractRow.team).where(
            ContractRow.supplier_id.in_(chunk)
        )
        for supplier_id, owner, team in session.execute(query):
            out.setdefault(supplier_id, []).append(Ownership(owner, team))
    return out


def set_contract_team(session: Session, *, contract_id: str, team: str | None) -> str | None:
    """Give the contract a team (None: no team); returns the team it had before."""
    row = session.get(ContractRow, contract_id)
    if row is None:
        raise NotFound(f"contract {contract_id!r} does not exist")
    if team is not None:
        get_team(session, name=team)
    before = row.team
    row.team = team
    session.flush()
    return before
