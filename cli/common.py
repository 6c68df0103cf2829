"""What every command needs: settings, a database transaction, a Temporal client, and one way
to say what went wrong and stop.

Errors a user can act on are printed as a short message on standard error and end the command
with exit code 1 (2 for bad configuration); tracebacks are for bugs only.
"""

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterable, Iterator
from typing import NoReturn, TypeVar

import typer
from pydantic import ValidationError
from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import (
    ArgumentError,
    NoSuchModuleError,
    OperationalError,
    ProgrammingError,
)
from sqlalchemy.orm import Session
from temporalio.client import Client, WorkflowQueryFailedError, WorkflowUpdateFailedError
from temporalio.exceptions import FailureError
from temporalio.service import RPCError, RPCStatusCode

from config.codec import PayloadKeyFileError
from config.settings import Settings, get_settings
from config.temporal import connect
from models.errors import FieldError, InvalidInput, RenewalsError
from services.db import make_engine, make_session_factory, transaction

T = TypeVar("T")


def fail(message: str, code: int = 1) -> NoReturn:
    typer.echo(message, err=True)
    raise typer.Exit(code)


def print_field_errors(errors: Iterable[FieldError], *, heading: str | None = None) -> None:
    if heading:
        typer.echo(heading, err=True)
    for error in errors:
        typer.echo(f"  {error}", err=True)


def load_settings() -> Settings:
    """The process settings; a bad environment variable stops the command with its name."""
    try:
        return get_settings()
    except ValidationError as exc:
        typer.echo("configuration error:", err=True)
        for err in exc.errors(include_url=False):
            name = ".".join(str(p) for p in err["loc"]).upper()
            typer.echo(f"  {name}: {err['msg'].removeprefix('Value error, ')}", err=True)
        raise typer.Exit(2) from None


def safe_url(url: str) -> str:
    """A database URL fit to print: the password masked."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # an unparsable URL is printed by whoever reports that error
        return "<invalid database URL>"


def engine_for(settings: Settings) -> Engine:
    """An engine on the configured database; an unusable DATABASE_URL is said plainly."""
    url = settings.resolved_database_url
    try:
        return make_engine(url)
    except (ArgumentError, NoSuchModuleError) as exc:
        fail(f"DATABASE_URL: cannot use {safe_url(url)!r}: {exc}", code=2)


@contextlib.contextmanager
def db_transaction(settings: Settings) -> Iterator[Session]:
    """One transaction on the configured database: committed on success, rolled back on error."""
    url = settings.resolved_database_url
    engine = engine_for(settings)
    try:
        with transaction(make_session_factory(engine)) as session:
            yield session
    except (OperationalError, ProgrammingError) as exc:
        fail(
            f"database error on {safe_url(url)}: {exc.orig or exc}\n"
            "Is the schema up to date? Run: renewals db upgrade"
        )
    finally:
        engine.dispose()


def invalid_input(exc: InvalidInput, *, heading: str = "invalid input:") -> NoReturn:
    print_field_errors(exc.errors, heading=heading)
    raise typer.Exit(1)


def describe_failure(exc: BaseException) -> str:
    """The message a person should read from a Temporal failure: the innermost application
    error's message (a workflow validator names the field and the reason)."""
    cause: BaseException | None = exc.cause if isinstance(exc, WorkflowUpdateFailedError) else exc
    while cause is not None:
        if isinstance(cause, FailureError):  # ApplicationError included
            return cause.message
        cause = cause.__cause__
    return str(exc)


def run_temporal(settings: Settings, action: Callable[[Client], Awaitable[T]]) -> T:
    """Connect with the settings, run ``action`` and turn Temporal's errors into messages."""

    async def main() -> T:
        try:
            client = await connect(settings)
        except PayloadKeyFileError as exc:
            fail(str(exc), code=2)
        except RuntimeError as exc:
            fail(
                f"cannot reach Temporal at {settings.temporal_address} "
                f"(namespace {settings.temporal_namespace}): {exc}\n"
                "Is it running? For a local stack: renewals dev"
            )
        return await action(client)

    try:
        return asyncio.run(main())
    except WorkflowUpdateFailedError as exc:
        fail(f"refused: {describe_failure(exc)}")
    except WorkflowQueryFailedError as exc:
        fail(f"query failed: {exc}")
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            fail(f"not found: {exc.message}")
        fail(f"Temporal error ({exc.status.name}): {exc.message}")
    except RenewalsError as exc:
        if isinstance(exc, InvalidInput):
            invalid_input(exc)
        fail(str(exc))
