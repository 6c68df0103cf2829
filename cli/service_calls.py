"""How the renewal commands call a service: sessions on the configured database for one
command, the service's early checks before Temporal is reached, its action with a Temporal
client (:func:`signed_call`: the check, then the action signed for the acting user, both with
the same fields), and one way to print a refusal (each field with its reason, exit code 1).

Shared by :mod:`cli.renewal_commands` and :mod:`cli.negotiation_commands`.
"""

from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any, NoReturn, TypeVar

import typer
from sqlalchemy.exc import OperationalError, ProgrammingError
from temporalio.client import Client

from cli.common import engine_for, fail, print_field_errors, run_temporal, safe_url
from config.identity import IdentityKeyError, IdentityKeys, identity_keys
from config.settings import Settings
from models.errors import InvalidInput, NotAllowed, NotFound, RenewalsError
from models.users import CurrentUser
from services import renewals as service
from services.db import SessionFactory, make_session_factory

T = TypeVar("T")

ContractId = Annotated[str, typer.Argument(help="The contract's id", show_default=False)]
TermOption = Annotated[
    int | None,
    typer.Option("--term", min=1, help="Contract term (default: the contract's current term)"),
]
ByOption = Annotated[
    str | None,
    typer.Option(
        "--by",
        help="Who is asking; with RENEWALS_API_TOKEN set it defaults to (and must be) the "
        "token's owner",
    ),
]

CONTRACTS_HINT = "see: renewals contracts list"


@contextmanager
def sessions_for(settings: Settings) -> Iterator[SessionFactory]:
    """Sessions on the configured database for the services, for one command; a database
    error is said as :func:`cli.common.db_transaction` says it."""
    engine = engine_for(settings)
    try:
        yield make_session_factory(engine)
    except (OperationalError, ProgrammingError) as exc:
        fail(
            f"database error on {safe_url(settings.resolved_database_url)}: {exc.orig or exc}\n"
            "Is the schema up to date? Run: renewals db upgrade"
        )
    finally:
        engine.dispose()


def refuse(exc: RenewalsError, *, hint: str | None = None) -> NoReturn:
    """A service's refusal: each field with its reason when it names fields, else its
    message (``hint`` added to a NotFound); exit code 1."""
    if isinstance(exc, InvalidInput | NotAllowed) and exc.errors:
        heading = "invalid input:" if isinstance(exc, InvalidInput) else "not allowed:"
        print_field_errors(exc.errors, heading=heading)
        raise typer.Exit(1)
    if hint and isinstance(exc, NotFound):
        fail(f"{exc}; {hint}")
    fail(str(exc))


def early(check: Callable[[], T], *, hint: str | None = None) -> T:
    """A service's check, before Temporal is reached."""
    try:
        return check()
    except RenewalsError as exc:
        refuse(exc, hint=hint)


def run(settings: Settings, action: Callable[[Client], Awaitable[T]]) -> T:
    """A service's action with a Temporal client; its refusals printed as :func:`refuse`
    prints them, Temporal's errors as :func:`cli.common.run_temporal` does."""

    async def guarded(client: Client) -> T:
        try:
            return await action(client)
        except RenewalsError as exc:
            refuse(exc)

    return run_temporal(settings, guarded)


def signed_call(
    settings: Settings,
    sessions: SessionFactory,
    /,
    *,
    user: CurrentUser,
    check: Callable[..., object],
    call: Callable[..., Awaitable[T]],
    hint: str | None = None,
    **fields: Any,
) -> T:
    """A service's action for ``user``: its ``check`` with ``fields`` first (refused before
    Temporal is reached, ``hint`` added to a NotFound), then ``call`` with the same ``fields``,
    a Temporal client and the keys that sign for ``user``, run as :func:`run` runs it."""
    early(lambda: check(sessions=sessions, user=user, **fields), hint=hint)

    async def action(client: Client) -> T:
        return await call(
            sessions=sessions,
            client=client,
            user=user,
            keys=signing_keys(settings),
            **fields,
        )

    return run(settings, action)


def term_of(sessions: SessionFactory, contract_id: str, term: int | None) -> int:
    """``term``, else the contract's current term (an unknown contract refused, with a hint)."""
    return early(
        lambda: service.resolve_term(sessions=sessions, contract_id=contract_id, term=term),
        hint=CONTRACTS_HINT,
    )


def signing_keys(settings: Settings) -> IdentityKeys:
    """The keys this CLI signs the acting user's decisions with (the workers check them)."""
    try:
        return identity_keys(settings)
    except IdentityKeyError as exc:
        fail(str(exc))
