"""How an activity's exceptions reach Temporal.

    RenewalsError (models.errors)      -> non-retryable ApplicationError, type = the class name
    │                                     (InvalidInput, NotFound, Conflict...): retrying cannot
    │                                     fix bad data or a missing record
    sqlalchemy DBAPIError, pool
    timeout, lost connection           -> retryable ApplicationError, type "DatabaseError", with
                                          a one-line message: the database comes back, and the
                                          retry policy waits for it
    anything else                      -> unchanged (retryable, as Temporal does by default)

The database errors are rewritten because, raised as they are, each one reaches the server as
the full SQLAlchemy/driver failure: several kilobytes of chained causes and stack traces, which
is over the server's per-activity failure size limit, so ``describe`` and the web UI showed
"Failure exceeds size limit." instead of what was wrong during an outage.
"""

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from temporalio.exceptions import ApplicationError

from models.errors import RenewalsError

DATABASE_ERROR = "DatabaseError"
MESSAGE_LIMIT = 500  # characters of the driver's message kept in the failure


def database_error_message(exc: Exception) -> str:
    """``<ErrorClass>: <first line of the driver's message>``, at most MESSAGE_LIMIT long."""
    origin = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    text = str(origin).strip()
    first = text.splitlines()[0] if text else ""
    message = f"{type(origin).__name__}: {first}"
    if len(message) > MESSAGE_LIMIT:
        message = message[: MESSAGE_LIMIT - 1] + "…"
    return message


@contextmanager
def activity_failures() -> Iterator[None]:
    """Translate what the block raises as the table in the module docstring says."""
    try:
        yield
    except RenewalsError as exc:
        raise ApplicationError(str(exc), type=type(exc).__name__, non_retryable=True) from exc
    except (DBAPIError, DisconnectionError, PoolTimeoutError) as exc:
        # `from None`: the chained SQLAlchemy exception is what made the failure too large.
        raise ApplicationError(
            f"database unavailable or failing, will retry: {database_error_message(exc)}",
            type=DATABASE_ERROR,
        ) from None
