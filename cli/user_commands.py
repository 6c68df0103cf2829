"""`renewals users add|list|token|revoke|deactivate`: accounts, roles and API tokens.

Run by whoever administers the installation, with direct access to the database (the same
DATABASE_URL as the worker). A database without users is run by its operator (``--by``, default
``cli:LOGIN``): that is how the first administrator comes to exist. Once it has users, ``add``,
``token``, ``revoke`` and ``deactivate`` act only for the owner of ``RENEWALS_API_TOKEN``, who
must hold the users-manage permission (the admin role), as the API's user administration does;
each change writes one audit entry naming that user. A refusal exits 1 before anything changes.
"""

import getpass
import sys
from typing import Annotated

import typer

from auth.roles import Permission
from cli.common import db_transaction, fail, load_settings, print_field_errors
from cli.identity import ByOption, acting_user
from config.settings import Settings
from models.errors import Conflict, InvalidInput, NotFound
from models.users import CurrentUser
from services import audit, users

app = typer.Typer(
    help="Users, roles (procurement, legal, admin) and API tokens.", no_args_is_help=True
)


def _operator() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (OSError, KeyError):
        return "cli"


def _administrator(settings: Settings, by: str | None) -> CurrentUser:
    """Who manages users: the token's owner with users-manage, or the operator of a database
    without users; anything else stops the command."""
    return acting_user(
        settings, claimed=by, permission=Permission.USERS_MANAGE, default=_operator()
    )


@app.command("add")
def add(
    username: Annotated[str, typer.Argument(help="User name, usually an e-mail address")],
    roles: Annotated[
        str, typer.Option("--roles", help="Comma-separated: procurement, legal, admin")
    ],
    display_name: Annotated[str, typer.Option("--name", help="Name shown on pages")] = "",
    password_stdin: Annotated[
        bool,
        typer.Option(
            "--password-stdin",
            help="Read the web sign-in password from standard input (default: ask twice; "
            "without a terminal the user gets no password and signs in with tokens only)",
        ),
    ] = False,
    by: ByOption = None,
) -> None:
    """Create a user. The password is never taken from the command line (it would be in the
    shell history and the process list)."""
    settings = load_settings()
    admin = _administrator(settings, by)
    password: str | None = None
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    elif sys.stdin.isatty():
        password = getpass.getpass("password: ")
        if getpass.getpass("again: ") != password:
            fail("the passwords differ")
    with db_transaction(settings) as session:
        try:
            user = users.create_user(
                session,
                actor=admin.username,
                username=username,
                display_name=display_name,
                roles=roles,
                password=password,
            )
        except InvalidInput as exc:
            print_field_errors(exc.errors, heading="invalid user:")
            raise typer.Exit(1) from None
        except Conflict as exc:
            fail(str(exc))
    typer.echo(
        f"created {user.username} ({', '.join(sorted(r.value for r in user.roles))})"
        + ("" if password else "; no password: API tokens only")
    )


@app.command("list")
def list_users() -> None:
    """Every user with roles and whether the account is active."""
    settings = load_settings()
    with db_transaction(settings) as session:
        found = users.list_users(session)
    if not found:
        typer.echo("no users yet; add one with: renewals users add NAME --roles admin")
        return
    width = max(len(u.username) for u, _ in found)
    for user, active in found:
        roles = ",".join(sorted(r.value for r in user.roles))
        state = "" if active else "  (deactivated)"
        typer.echo(f"{user.username:<{width}}  {roles:<28} {user.display_name}{state}")


@app.command("token")
def token(
    username: Annotated[str, typer.Argument(help="Whose token")],
    name: Annotated[str, typer.Option("--name", help="What the token is for")] = "cli",
    days: Annotated[int, typer.Option("--days", min=1, max=3650, help="Valid for")] = 90,
    by: ByOption = None,
) -> None:
    """Issue an API token. It is printed once, on standard output; only its hash is kept."""
    settings = load_settings()
    admin = _administrator(settings, by)
    with db_transaction(settings) as session:
        try:
            issued = users.issue_token(
                session, actor=admin.username, username=username, name=name, valid_days=days
            )
        except (NotFound, Conflict) as exc:
            fail(str(exc))
        except InvalidInput as exc:
            print_field_errors(exc.errors, heading="invalid token request:")
            raise typer.Exit(1) from None
    expires = issued.expires_at.date().isoformat() if issued.expires_at else "never"
    typer.echo(f"token for {username} ({issued.name}, expires {expires}):", err=True)
    typer.echo(issued.secret)


@app.command("revoke")
def revoke(
    username: Annotated[str, typer.Argument()],
    prefix: Annotated[
        str | None, typer.Option("--prefix", help="Only the token starting with this")
    ] = None,
    by: ByOption = None,
) -> None:
    """Revoke a user's API tokens (all, or the one with --prefix)."""
    settings = load_settings()
    admin = _administrator(settings, by)
    with db_transaction(settings) as session:
        try:
            count = users.revoke_tokens(session, username=username, prefix=prefix)
        except NotFound as exc:
            fail(str(exc))
        audit.record(
            session,
            actor=admin.username,
            action=audit.AuditAction.TOKENS_REVOKED,
            subject_type="user",
            subject_id=username.strip().casefold(),
            detail={"prefix": prefix, "count": count, "via": "cli"},
        )
    typer.echo(f"revoked {count} token(s) of {username}")


@app.command("deactivate")
def deactivate(username: Annotated[str, typer.Argument()], by: ByOption = None) -> None:
    """Stop a user signing in; their tokens and sessions end at once."""
    settings = load_settings()
    admin = _administrator(settings, by)
    with db_transaction(settings) as session:
        try:
            users.deactivate_user(session, username=username)
        except NotFound as exc:
            fail(str(exc))
        audit.record(
            session,
            actor=admin.username,
            action=audit.AuditAction.USER_DEACTIVATED,
            subject_type="user",
            subject_id=username.strip().casefold(),
            detail={"via": "cli"},
        )
    typer.echo(f"deactivated {username}")
