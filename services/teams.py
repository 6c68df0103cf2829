"""Teams, as people manage them (the API's ``/teams`` and ``renewals teams``): create a team,
add and remove members. Each change is for a procurement lead or an administrator
(:func:`domain.ownership.team_management_refusal`; in operator mode, the operator) and writes
its audit entry in the same transaction. Every role may read the teams.

A contract's team is given with :func:`services.contracts.set_team` (or the import's ``team``
column); its members then act on it as its owner does (:mod:`services.ownership`).
"""

from pydantic import TypeAdapter, ValidationError
from sqlalchemy.orm import Session

from domain.ownership import team_management_refusal
from models.errors import FieldError, InvalidInput, NotAllowed
from models.text import Identifier
from models.users import CurrentUser
from services import ownership
from store import audit
from store import teams as team_store
from store.teams import Team, get_team, list_teams
from store.users import get_user_row, normalise_username

__all__ = [
    "MEMBER_ADDED",
    "MEMBER_REMOVED",
    "TEAM_CREATED",
    "Team",
    "add_member",
    "create_team",
    "get_team",
    "list_teams",
    "remove_member",
    "team_name",
]

# Audit actions (store.audit.record takes any action name).
TEAM_CREATED = "team_created"
MEMBER_ADDED = "team_member_added"
MEMBER_REMOVED = "team_member_removed"

_NAME: TypeAdapter[str] = TypeAdapter(Identifier)


def team_name(name: str) -> str:
    """A team's name: an identifier (letters, digits, ``. _ : -``, at most 64); InvalidInput
    naming ``name`` otherwise."""
    try:
        return _NAME.validate_python(name)
    except ValidationError as exc:
        reason = exc.errors(include_url=False)[0]["msg"].removeprefix("Value error, ")
        raise InvalidInput([FieldError("name", reason)]) from None


def _may_manage(session: Session, user: CurrentUser) -> None:
    if ownership.operator_mode(session):
        return
    refusal = team_management_refusal(ownership.actor_of(session, user))
    if refusal is not None:
        raise NotAllowed(refusal)


def create_team(session: Session, *, user: CurrentUser, name: str) -> Team:
    """A new team without members; Conflict when the name is taken."""
    _may_manage(session, user)
    team = team_store.create_team(session, name=team_name(name))
    audit.record(
        session, actor=user.username, action=TEAM_CREATED, subject_type="team", subject_id=team.name
    )
    return team


def _member(session: Session, username: str) -> str:
    name = normalise_username(username)
    row = get_user_row(session, username=name)  # NotFound: no such user
    if not row.active:
        raise InvalidInput([FieldError("username", f"user {name!r} is deactivated")])
    return name


def add_member(session: Session, *, user: CurrentUser, team: str, username: str) -> Team:
    """Put an active user in the team (again: nothing changes, nothing is audited)."""
    _may_manage(session, user)
    name = _member(session, username)
    if team_store.add_member(session, team=team, username=name):
        audit.record(
            session,
            actor=user.username,
            action=MEMBER_ADDED,
            subject_type="team",
            subject_id=team,
            detail={"username": name},
        )
    return get_team(session, name=team)


def remove_member(session: Session, *, user: CurrentUser, team: str, username: str) -> Team:
    """Take a user out of the team (not in it: nothing changes, nothing is audited)."""
    _may_manage(session, user)
    name = normalise_username(username)
    if team_store.remove_member(session, team=team, username=name):
        audit.record(
            session,
            actor=user.username,
            action=MEMBER_REMOVED,
            subject_type="team",
            subject_id=team,
            detail={"username": name},
        )
    return get_team(session, name=team)
