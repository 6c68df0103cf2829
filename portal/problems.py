"""Errors as RFC 9457 problem details: ``{"type", "title", "status", "detail", "errors"}``
with one ``{"field", "reason", "row"}`` per problem. Web pages get an HTML page instead."""

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError, FailureError
from temporalio.service import RPCError, RPCStatusCode

from models.errors import Conflict, FieldError, InvalidInput, NotAllowed, NotFound
from portal.state import TemporalUnavailable

PROBLEM_JSON = "application/problem+json"
_log = logging.getLogger(__name__)


@dataclass
class Problem(Exception):
    status: int
    title: str
    detail: str = ""
    errors: list[FieldError] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)

    def body(self) -> dict[str, Any]:
        return {
            "type": "about:blank",
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "errors": [{"field": e.field, "reason": e.reason, "row": e.row} for e in self.errors],
        }


class Unauthenticated(Problem):
    def __init__(self, detail: str = "sign in or send a bearer token") -> None:
        super().__init__(401, "Unauthorized", detail, headers={"WWW-Authenticate": "Bearer"})


class Forbidden(Problem):
    def __init__(self, detail: str = "your role does not allow this", field: str = "") -> None:
        errors = [FieldError(field, detail)] if field else []
        super().__init__(403, "Forbidden", detail, errors)


_FIELD_PREFIX = re.compile(r"^([a-z_]+): (.*)$", re.S)


def _application_error(exc: BaseException) -> ApplicationError | FailureError | None:
    cause: BaseException | None = exc.cause if isinstance(exc, WorkflowUpdateFailedError) else exc
    found: ApplicationError | FailureError | None = None
    while cause is not None:
        if isinstance(cause, FailureError):
            found = cause
            if isinstance(cause, ApplicationError):
                return cause
        cause = cause.__cause__
    return found


def workflow_problem(exc: WorkflowUpdateFailedError) -> Problem:
    """The workflow refused an update: its validators say ``field: reason``."""
    failure = _application_error(exc)
    message = failure.message if failure is not None else str(exc)
    kind = failure.type if isinstance(failure, ApplicationError) else None
    match = _FIELD_PREFIX.match(message)
    field_name, reason = (match[1], match[2]) if match else ("", message)
    errors = [FieldError(field_name, reason)] if field_name else []
    if kind == "NotReady":
        return Problem(503, "Not ready", message, errors, headers={"Retry-After": "2"})
    if kind == "IdentityRefused":  # no proven identity: the decision did not count
        return Problem(403, "Forbidden", message, errors)
    if kind in ("InvalidReview", "InvalidAmendment"):
        if field_name == "reviewer":  # segregation of duties
            return Problem(403, "Forbidden", message, errors)
        return Problem(422, "Refused by the renewal", message, errors)
    if kind in NEGOTIATION_REFUSALS and isinstance(failure, ApplicationError):
        return Problem(422, "Refused by the renewal", message, _listed_errors(failure) or errors)
    return Problem(409, "Conflict with the renewal's state", message, errors)


# Bad input to the negotiation's updates (renewal-semantics.md §3): every field in details[0].
# Their VersionConflict (a stale form, a wrong state) and NotSupported (a renewal started
# before the negotiation existed) are conflicts, like every other refusal.
NEGOTIATION_REFUSALS = frozenset(
    {"InvalidVersion", "InvalidOffer", "InvalidAnswer", "InvalidHearing"}
)


def _listed_errors(failure: ApplicationError) -> list[FieldError]:
    """``details[0]``: a list of ``{"field", "reason"}``, one per field the workflow refused."""
    details = failure.details or ()
    listed = details[0] if details and isinstance(details[0], list) else []
    return [
        FieldError(str(item["field"]), str(item["reason"]))
        for item in listed
        if isinstance(item, dict) and "field" in item and "reason" in item
    ]


def to_problem(exc: Exception) -> Problem:
    if isinstance(exc, Problem):
        return exc
    if isinstance(exc, InvalidInput):
        return Problem(422, "Invalid input", str(exc)[:2000], list(exc.errors))
    if isinstance(exc, NotFound):
        return Problem(404, "Not found", str(exc))
    if isinstance(exc, NotAllowed):
        return Problem(403, "Forbidden", str(exc), list(exc.errors))
    if isinstance(exc, Conflict):
        errors = [exc.error] if hasattr(exc, "error") else []
        return Problem(409, "Conflict", str(exc), errors)
    if isinstance(exc, WorkflowUpdateFailedError):
        return workflow_problem(exc)
    if isinstance(exc, RPCError):
        if exc.status == RPCStatusCode.NOT_FOUND:
            return Problem(404, "Not found", f"no such renewal workflow: {exc.message}")
        return Problem(503, "Temporal error", exc.message, headers={"Retry-After": "5"})
    if isinstance(exc, TemporalUnavailable):
        return Problem(503, "Service unavailable", str(exc), headers={"Retry-After": "5"})
    if isinstance(exc, RequestValidationError):
        errors = []
        for err in exc.errors():
            loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path")]
            errors.append(
                FieldError(
                    ".".join(loc) or "(request)",
                    str(err.get("msg", "")).removeprefix("Value error, "),
                )
            )
        return Problem(422, "Invalid input", "; ".join(str(e) for e in errors), errors)
    if isinstance(exc, StarletteHTTPException):
        return Problem(
            exc.status_code, str(exc.detail), str(exc.detail), headers=dict(exc.headers or {})
        )
    raise exc


def problem_response(problem: Problem) -> Response:
    return JSONResponse(
        problem.body(), status_code=problem.status, headers=problem.headers, media_type=PROBLEM_JSON
    )


INTERNAL_ERROR = Problem(
    500,
    "Internal server error",
    "the server could not answer this request; the error is logged",
)


def install(
    app: FastAPI,
    *,
    web_handler: Any,
    security_headers: Callable[[Request, Response], None] | None = None,
) -> None:
    """API paths answer problem JSON; everything else is a web page (``web_handler``). Any
    other exception is a 500 in the same form, never a plain-text page, without its message;
    Starlette's error middleware re-raises it to the server, which logs it. That middleware is
    outside every other, so ``security_headers`` is applied to its answer here."""

    async def handle(request: Request, exc: Exception) -> Response:
        problem = to_problem(exc)
        if request.url.path.startswith("/api/"):
            return problem_response(problem)
        response: Response = await web_handler(request, problem)
        return response

    async def unexpected(request: Request, _exc: Exception) -> Response:
        response: Response | None = None
        if not request.url.path.startswith("/api/"):
            try:
                response = await web_handler(request, INTERNAL_ERROR)
            except Exception:  # the error page itself failed: problem JSON it is
                _log.exception("the error page failed too")
        if response is None:
            response = problem_response(INTERNAL_ERROR)
        if security_headers is not None:
            security_headers(request, response)
        return response

    app.add_exception_handler(Exception, unexpected)

    for exc_type in (
        Problem,
        InvalidInput,
        NotFound,
        NotAllowed,
        Conflict,
        WorkflowUpdateFailedError,
        RPCError,
        TemporalUnavailable,
        RequestValidationError,
        StarletteHTTPException,
    ):
        app.add_exception_handler(exc_type, handle)
