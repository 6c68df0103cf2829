"""`renewals users add|list|token|revoke|deactivate`: accounts, roles and API tokens.

Run by whoever administers the installation, with direct access to the database (the same
DATABASE_URL as the worker): it is how the first administrator comes to exist.
"""

import getpass
import sys
from typing import Annotated

import typer

from cli.common import db_transaction, fail, load_settings, print_field_errors
from models.errors import Conflict, InvalidInput, NotFound
from services import users

app = typer.Typer(
    help="Users, roles (procurement, legal, admin) and API tokens.", no_args_is_help=True
)


def _operator() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (OSError, KeyError):
        return "cli"


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
) -> None:
    """Create a user. The password is never taken from the command line (it would be in the
    shell history and the process list)."""
    settings = load_settings()
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
                actor=_operator(),
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
) -> None:
    """Issue an API token. It is printed once, on standard output; only its hash is kept."""
    settings = load_settings()
    with db_transaction(settings) as session:
        try:
            issued = users.issue_token(
                session, actor=_operator(), username=username, name=name, valid_days=days
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
) -> None:
    """Revoke a user's API tokens (all, or the one with --prefix)."""
    settings = load_settings()
    with db_transaction(settings) as session:
        try:
            count = users.revoke_tokens(session, username=username, prefix=prefix)
        except NotFound as exc:
            fail(str(exc))
    typer.echo(f"revoked {count} token(s) of {username}")


@app.command("deactivate")
def deactivate(username: Annotated[str, typer.Argument()]) -> None:
    """Stop a user signing in; their tokens and sessions end at once."""
    settings = load_settings()
    with db_transaction(settings) as session:
        try:
            users.deactivate_user(session, username=username)
        except NotFound as exc:
            fail(str(exc))
    typer.echo(f"deactivated {username}")
