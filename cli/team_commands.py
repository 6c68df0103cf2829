"""`renewals teams create|list|add-member|remove-member|assign`: teams and contracts' teams.

A contract's owner and the members of its team act on it (amend, start, terminate, import its
records); a procurement lead acts on anyone's. Creating teams and changing their members is
for a procurement lead or an administrator; giving a contract a team is for whoever may change
the contract (a user not a lead: only a team they are in). As every command that changes
something, these act for the owner of ``RENEWALS_API_TOKEN`` once the database has users (the
operator, ``--by``, before), write one audit entry per change, and on a refusal print why and
exit 1 with nothing changed.
"""

import json
from typing import Annotated

import typer

from auth.roles import Permission
from cli.common import db_transaction, fail, load_settings, print_field_errors
from cli.identity import ByOption, acting_user, login_name
from models.errors import InvalidInput, RenewalsError
from models.users import CurrentUser
from services import contracts as contract_service
from services import teams

app = typer.Typer(help="Teams of users, and the team of a contract.", no_args_is_help=True)


def _who(by: str | None, permission: Permission = Permission.SIGNED_IN) -> CurrentUser:
    return acting_user(load_settings(), claimed=by, permission=permission, default=login_name())


def _refused(exc: RenewalsError) -> None:
    if isinstance(exc, InvalidInput):
        print_field_errors(exc.errors, heading="refused; nothing was changed")
        raise typer.Exit(1)
    fail(f"refused: {exc}")


def _show(team: teams.Team) -> None:
    members = ", ".join(team.members) or "(no members)"
    typer.echo(f"{team.name}: {members}")


@app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="Team name: letters, digits, . _ : -")],
    by: ByOption = None,
) -> None:
    """Create a team (a procurement lead or an admin)."""
    user = _who(by)
    try:
        with db_transaction(load_settings()) as session:
            team = teams.create_team(session, user=user, name=name)
    except RenewalsError as exc:
        _refused(exc)
    typer.echo(f"created team {team.name}")


@app.command("add-member")
def add_member(
    team: Annotated[str, typer.Argument(help="Team name")],
    username: Annotated[str, typer.Argument(help="User name of the new member")],
    by: ByOption = None,
) -> None:
    """Put a user in a team (a procurement lead or an admin)."""
    user = _who(by)
    try:
        with db_transaction(load_settings()) as session:
            found = teams.add_member(session, user=user, team=team, username=username)
    except RenewalsError as exc:
        _refused(exc)
    _show(found)


@app.command("remove-member")
def remove_member(
    team: Annotated[str, typer.Argument(help="Team name")],
    username: Annotated[str, typer.Argument(help="User name of the member")],
    by: ByOption = None,
) -> None:
    """Take a user out of a team (a procurement lead or an admin)."""
    user = _who(by)
    try:
        with db_transaction(load_settings()) as session:
            found = teams.remove_member(session, user=user, team=team, username=username)
    except RenewalsError as exc:
        _refused(exc)
    _show(found)


@app.command("list")
def list_(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """Every team with its members."""
    with db_transaction(load_settings()) as session:
        found = teams.list_teams(session)
    if as_json:
        typer.echo(json.dumps([{"name": t.name, "members": list(t.members)} for t in found]))
        return
    if not found:
        typer.echo("no teams")
    for team in found:
        _show(team)


@app.command("assign")
def assign(
    contract_id: Annotated[str, typer.Argument(help="Contract id")],
    team: Annotated[str | None, typer.Option("--team", help="Team name")] = None,
    none: Annotated[bool, typer.Option("--none", help="Take the contract's team away")] = False,
    by: ByOption = None,
) -> None:
    """Give a contract a team, or none (whoever may change the contract)."""
    if (team is None) == (not none):
        fail("give either --team NAME or --none")
    user = _who(by, Permission.CONTRACTS_WRITE)
    try:
        with db_transaction(load_settings()) as session:
            contract = contract_service.set_team(
                session, user=user, contract_id=contract_id, team=team
            )
    except RenewalsError as exc:
        _refused(exc)
    typer.echo(f"{contract.id}: team {contract.team or '(none)'}")
