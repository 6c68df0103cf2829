"""Teams (create, add and remove members: a procurement lead or an administrator; every role
reads them) and the team of a contract (whoever may change the contract)."""

from typing import Annotated

from fastapi import APIRouter, status
from pydantic import BaseModel, ConfigDict, Field

from auth.roles import Permission
from models.contract import ContractRead
from models.users import CurrentUser
from portal.deps import SessionDep, require
from services import contracts as contract_service
from services import teams

router = APIRouter(tags=["teams"])

Reader = Annotated[CurrentUser, require(Permission.CONTRACTS_READ)]
# Any signed-in person may ask; services.teams refuses (403) all but a lead or an admin.
Manager = Annotated[CurrentUser, require(Permission.SIGNED_IN)]
Writer = Annotated[CurrentUser, require(Permission.CONTRACTS_WRITE)]


class TeamIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(max_length=200)]


class MemberIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: Annotated[str, Field(max_length=200)]


class TeamOut(BaseModel):
    name: str
    members: list[str]


class ContractTeamIn(BaseModel):
    """The contract's team; null takes its team away."""

    model_config = ConfigDict(extra="forbid")

    team: Annotated[str, Field(max_length=200)] | None


def _out(team: teams.Team) -> TeamOut:
    return TeamOut(name=team.name, members=list(team.members))


@router.get("/teams")
def list_teams(db: SessionDep, _: Reader) -> list[TeamOut]:
    return [_out(t) for t in teams.list_teams(db)]


@router.get("/teams/{name}")
def read_team(name: str, db: SessionDep, _: Reader) -> TeamOut:
    return _out(teams.get_team(db, name=name))


@router.post("/teams", status_code=status.HTTP_201_CREATED)
def create_team(body: TeamIn, db: SessionDep, user: Manager) -> TeamOut:
    created = teams.create_team(db, user=user, name=body.name)
    db.commit()
    return _out(created)


@router.post("/teams/{name}/members")
def add_member(name: str, body: MemberIn, db: SessionDep, user: Manager) -> TeamOut:
    team = teams.add_member(db, user=user, team=name, username=body.username)
    db.commit()
    return _out(team)


@router.delete("/teams/{name}/members/{username}")
def remove_member(name: str, username: str, db: SessionDep, user: Manager) -> TeamOut:
    team = teams.remove_member(db, user=user, team=name, username=username)
    db.commit()
    return _out(team)


@router.put("/contracts/{contract_id}/team")
def set_contract_team(
    contract_id: str, body: ContractTeamIn, db: SessionDep, user: Writer
) -> ContractRead:
    """Give the contract a team (its members then act on it as its owner does), or none."""
    contract = contract_service.set_team(db, user=user, contract_id=contract_id, team=body.team)
    db.commit()
    return contract
