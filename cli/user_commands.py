"""`renewals users add|list|roles|deactivate|login|token|tokens|revoke`: accounts, roles and
API tokens.

Run with direct access to the database (the same DATABASE_URL as the worker). A database
without users is run by its operator (``--by``, default ``cli:LOGIN``): that is how the first
administrator comes to exist. Once it has users, every command acts only for the owner of
``RENEWALS_API_TOKEN``; ``add``, ``roles`` and ``deactivate`` need the users-manage permission
(the admin role), as the API's user administration does.

Nobody acts as another person: ``login`` signs in with a password and issues the person an API
token of their own (the way to a first token); ``token`` issues one for the token's owner, or,
for an administrator, for a service account (never for another person); ``revoke`` revokes
one's own tokens, or anyone's for an administrator. Each change writes one audit entry naming
the acting user and stages one mail to the legal lead(s). A refusal exits 1 before anything
changes.
"""

import getpass
import sys
from datetime import UTC, datetime
from typing import Annotated

import typer
from pydantic import ValidationError

from auth.roles import AccountKind, Permission
from cli.common import db_transaction, engine_for, fail, invalid_input, load_settings
from cli.identity import OPERATOR_ID, ByOption, acting_user, login_name, operator
from config.settings import Settings
from models.errors import Conflict, InvalidInput, NotAllowed, NotFound
from models.users import CurrentUser
from portal.config import WebSettings
from services import account_mail, users
from services.db import make_session_factory

app = typer.Typer(
    help="Accounts (people and service accounts), roles (procurement, procurement_lead, legal, "
    "legal_lead, reader, admin) and API tokens.",
    no_args_is_help=True,
)

ROLES_HELP = (
    "Comma-separated: procurement, procurement_lead, legal, legal_lead, reader, admin "
    "(admin alone: never with a procurement or legal role; a service account holds "
    "procurement, procurement_lead or reader only)"
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


def _acting_for(settings: Settings, by: str | None, owner: str | None) -> tuple[CurrentUser, str]:
    """Who acts on ``owner``'s tokens, and whose tokens they are (the acting user's own when
    ``owner`` is left out): anyone on their own, users-manage on anyone else's."""
    user = acting_user(settings, claimed=by, permission=Permission.SIGNED_IN, default=_operator())
    if user.id == OPERATOR_ID:  # a database without users: its operator administers it
        user = operator(user.username, permission=Permission.USERS_MANAGE)
    target = (owner or "").strip().casefold() or user.username
    if target != user.username and not user.can(Permission.USERS_MANAGE):
        fail(
            f"{user.username} ({', '.join(sorted(user.roles))}) may not do this: "
            f"needs {Permission.USERS_MANAGE}"
        )
    return user, target


@app.command("add")
def add(
    username: Annotated[str, typer.Argument(help="User name, usually an e-mail address")],
    roles: Annotated[str, typer.Option("--roles", help=ROLES_HELP)],
    display_name: Annotated[str, typer.Option("--name", help="Name shown on pages")] = "",
    service: Annotated[
        bool,
        typer.Option(
            "--service",
            help="A service account (an integration, not a person): no password, API tokens "
            "issued by an administrator, no role that approves",
        ),
    ] = False,
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
    """Create an account. The password is never taken from the command line (it would be in the
    shell history and the process list)."""
    settings = load_settings()
    admin = _administrator(settings, by)
    password: str | None = None
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    elif sys.stdin.isatty() and not service:
        password = getpass.getpass("password: ")
        if getpass.getpass("again: ") != password:
            fail("the passwords differ")
    with db_transaction(settings) as session:
        try:
            user = users.create_user(
                session,
                actor=admin,
                username=username,
                display_name=display_name,
                roles=roles,
                password=password,
                kind=AccountKind.SERVICE if service else AccountKind.PERSON,
            )
        except InvalidInput as exc:
            invalid_input(exc, heading="invalid user:")
        except (Conflict, NotAllowed) as exc:
            fail(str(exc))
    kind = "service account" if service else "user"
    typer.echo(
        f"created {kind} {user.username} ({', '.join(sorted(r.value for r in user.roles))})"
        + ("" if password else "; no password: API tokens only")
    )


@app.command("list")
def list_users() -> None:
    """Every account with roles, its kind and whether it is active."""
    settings = load_settings()
    with db_transaction(settings) as session:
        found = users.list_users(session)
    if not found:
        typer.echo("no users yet; add one with: renewals users add NAME --roles admin")
        return
    width = max(len(u.username) for u, _ in found)
    for user, active in found:
        roles = ",".join(sorted(r.value for r in user.roles))
        kind = "  (service account)" if user.kind is AccountKind.SERVICE else ""
        state = "" if active else "  (deactivated)"
        typer.echo(f"{user.username:<{width}}  {roles:<28} {user.display_name}{kind}{state}")


@app.command("roles")
def set_roles(
    username: Annotated[str, typer.Argument(help="Whose roles")],
    roles: Annotated[str, typer.Option("--roles", help=ROLES_HELP)],
    by: ByOption = None,
) -> None:
    """Give an account these roles (instead of the ones it holds)."""
    settings = load_settings()
    admin = _administrator(settings, by)
    with db_transaction(settings) as session:
        try:
            user, changed = users.set_roles(session, actor=admin, username=username, roles=roles)
        except InvalidInput as exc:
            invalid_input(exc, heading="invalid roles:")
        except (NotFound, NotAllowed) as exc:
            fail(str(exc))
    held = ", ".join(sorted(r.value for r in user.roles))
    typer.echo(f"{user.username} holds {held}" + ("" if changed else " already: nothing changed"))


@app.command("deactivate")
def deactivate(username: Annotated[str, typer.Argument()], by: ByOption = None) -> None:
    """Stop a user signing in; their tokens and sessions end at once."""
    settings = load_settings()
    admin = _administrator(settings, by)
    with db_transaction(settings) as session:
        try:
            revoked = users.deactivate_user(session, actor=admin, username=username, via="cli")
        except (NotFound, NotAllowed) as exc:
            fail(str(exc))
    if revoked is None:
        typer.echo(f"{username} is deactivated already: nothing changed")
    else:
        typer.echo(f"deactivated {username} ({len(revoked)} token(s) revoked)")


def _print_token(owner: str, name: str, expires_at: datetime | None, secret: str) -> None:
    expires = expires_at.date().isoformat() if expires_at else "never"
    typer.echo(f"token for {owner} ({name}, expires {expires}):", err=True)
    typer.echo(secret)


@app.command("login")
def login(
    username: Annotated[str, typer.Argument(help="Your user name")],
    name: Annotated[str, typer.Option("--name", help="What the token is for")] = "cli",
    days: Annotated[int, typer.Option("--days", min=1, max=3650, help="Valid for")] = 90,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read your password from standard input")
    ] = False,
) -> None:
    """Sign in with your password and get an API token of your own, printed once on standard
    output (set it as RENEWALS_API_TOKEN). Failed attempts are throttled as the web sign-in's
    are."""
    settings = load_settings()
    try:
        web = WebSettings()
    except ValidationError as exc:
        fail(f"configuration error: {exc.errors(include_url=False)[0]['msg']}", code=2)
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = getpass.getpass("password: ")
    # Not one transaction: the sign-in commits its throttle claim before the password is
    # checked (services.users.sign_in), and a refusal keeps the lockout's audit entry.
    engine = engine_for(settings)
    try:
        with make_session_factory(engine)() as session:
            try:
                issued = users.sign_in_for_token(
                    session,
                    username=username,
                    password=password,
                    client=f"cli:{login_name()}"[:64],
                    now=datetime.now(UTC),
                    max_failures=web.sign_in_max_failures,
                    lockout_minutes=web.sign_in_lockout_minutes,
                    name=name,
                    valid_days=days,
                )
            except users.SignInRefused as refused:
                session.commit()
                fail(str(refused))
            except InvalidInput as exc:
                session.rollback()
                invalid_input(exc, heading="invalid token request:")
            session.commit()
    finally:
        engine.dispose()
    _print_token(username.strip().casefold(), issued.name, issued.expires_at, issued.secret)


@app.command("token")
def token(
    username: Annotated[
        str | None,
        typer.Argument(help="A service account's name (administrators); default: yourself"),
    ] = None,
    name: Annotated[str, typer.Option("--name", help="What the token is for")] = "cli",
    days: Annotated[int, typer.Option("--days", min=1, max=3650, help="Valid for")] = 90,
    request_id: Annotated[
        str | None,
        typer.Option("--request-id", help="Retry-safe: a second run with it issues nothing"),
    ] = None,
    by: ByOption = None,
) -> None:
    """Issue an API token for yourself, or (administrators) for a service account; never for
    another person. It is printed once, on standard output; only its hash is kept."""
    settings = load_settings()
    user, owner = _acting_for(settings, by, username)
    with db_transaction(settings) as session:
        try:
            issued = users.issue_token(
                session,
                actor=user,
                username=owner,
                name=name,
                valid_days=days,
                request_id=request_id,
                via="cli",
            )
        except (NotFound, Conflict, NotAllowed) as exc:
            fail(str(exc))
        except InvalidInput as exc:
            invalid_input(exc, heading="invalid token request:")
    _print_token(owner, issued.name, issued.expires_at, issued.secret)


@app.command("tokens")
def tokens(
    username: Annotated[str | None, typer.Argument(help="Whose (default: yours)")] = None,
    by: ByOption = None,
) -> None:
    """List API tokens (never their secrets): yours, or anyone's for an administrator."""
    settings = load_settings()
    user, owner = _acting_for(settings, by, username)
    with db_transaction(settings) as session:
        try:
            found = users.list_tokens(session, actor=user, username=owner)
        except (NotFound, NotAllowed) as exc:
            fail(str(exc))
    for t in found:
        state = "revoked" if t.revoked_at else "active"
        expires = t.expires_at.date().isoformat() if t.expires_at else "never"
        typer.echo(f"{t.prefix}  {state:<8} expires {expires}  {t.name}")


@app.command("revoke")
def revoke(
    username: Annotated[str | None, typer.Argument(help="Whose (default: yours)")] = None,
    prefix: Annotated[
        str | None, typer.Option("--prefix", help="Only the token starting with this")
    ] = None,
    by: ByOption = None,
) -> None:
    """Revoke API tokens (all, or the one with --prefix): yours, or anyone's for an
    administrator."""
    settings = load_settings()
    user, owner = _acting_for(settings, by, username)
    with db_transaction(settings) as session:
        try:
            revoked = users.revoke_tokens(
                session, actor=user, username=owner, prefix=prefix, via="cli"
            )
        except (NotFound, NotAllowed) as exc:
            fail(str(exc))
    typer.echo(f"revoked {len(revoked)} token(s) of {owner}")


@app.command("mail-delivery")
def mail_delivery(
    choice: Annotated[
        str | None,
        typer.Argument(
            help="immediate (every mail, and the weekly digest) or digest (the digest "
            "only; escalations still come at once); left out: show the choice"
        ),
    ] = None,
    by: ByOption = None,
) -> None:
    """Show or choose how your own renewal mails arrive (each person chooses for themselves)."""
    settings = load_settings()
    user = acting_user(settings, claimed=by, permission=Permission.SIGNED_IN, default=_operator())
    with db_transaction(settings) as session:
        try:
            if choice is None:
                typer.echo(account_mail.mail_delivery(session, actor=user))
                return
            chosen, changed = account_mail.set_mail_delivery(
                session, actor=user, delivery=choice.strip().casefold()
            )
        except InvalidInput as exc:
            invalid_input(exc)
        except NotFound as exc:
            fail(str(exc))
    typer.echo(f"{user.username}: {chosen}" + ("" if changed else " (unchanged)"))
