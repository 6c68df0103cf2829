"""Limits on JSON request bodies, checked before any view parses one.

Python's JSON parser recurses once per nesting level (100,000 levels exhaust the stack) and
refuses integers of more than 4,300 digits with a ValueError; neither is a validation error, so
without this check such a body ends as a 400 that says nothing or as a 500. Every JSON body
(``application/json``, ``application/*+json``, or no content type at all, which FastAPI reads as
JSON) is read here first, up to ``max_bytes``, and scanned without parsing it: strings are
blanked out, then the nesting depth is measured and the longest run of digits found. A body over
a limit gets a 422 problem naming the limit; any other body is handed on unchanged.
"""

import json
import re
from collections.abc import Awaitable, Callable, MutableMapping
from email.message import Message
from typing import Any

from models.errors import FieldError
from portal.problems import Problem, problem_response

Scope = MutableMapping[str, Any]
ASGIMessage = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[ASGIMessage]]
Send = Callable[[ASGIMessage], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

MAX_JSON_DEPTH = 32  # the deepest body the API takes (a contract's terms) is 3 levels deep
MAX_NUMBER_DIGITS = 64  # an amount has at most 18 digits; ids and counts far fewer

# A JSON string, with escapes, as one match (the unrolled loop is linear, with no backtracking).
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.S)
_BRACKET = re.compile(r"[\[\]{}]")
_OPEN = frozenset("[{")


def _deeper_than(text: str, limit: int) -> bool:
    """Whether brackets nest more than ``limit`` deep. Brackets only: the text has no strings
    left, and a body with unbalanced brackets is left to the parser to refuse."""
    if text.count("[") + text.count("{") <= limit:
        return False
    depth = 0
    for match in _BRACKET.finditer(text):
        if match.group() in _OPEN:
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
    return False


def json_body_problem(
    body: bytes, *, max_depth: int = MAX_JSON_DEPTH, max_digits: int = MAX_NUMBER_DIGITS
) -> Problem | None:
    """Why ``body`` is refused before parsing, or None (also for a body that is not JSON at
    all: the parser says what is wrong with it)."""
    try:
        text = body.decode(json.detect_encoding(body), "surrogatepass")
    except (UnicodeDecodeError, LookupError):
        return None
    bare = _STRING.sub('""', text)
    if _deeper_than(bare, max_depth):
        reason = f"is nested more than {max_depth} levels deep; at most {max_depth} are accepted"
        return Problem(
            422,
            "Invalid input",
            f"the JSON body {reason}",
            [FieldError("(body)", reason)],
        )
    longest = max((len(m) for m in re.findall(rf"[0-9]{{{max_digits + 1},}}", bare)), default=0)
    if longest:
        reason = f"has a number of {longest} digits; at most {max_digits} are accepted"
        return Problem(
            422,
            "Invalid input",
            f"the JSON body {reason}",
            [FieldError("(body)", reason)],
        )
    return None


def _is_json(content_type: str | None) -> bool:
    if not content_type:
        return True
    message = Message()
    message["content-type"] = content_type
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (
        subtype == "json" or subtype.endswith("+json")
    )


class JsonBodyLimits:
    """ASGI middleware: every JSON request body is read (at most ``max_bytes``; more is a 413)
    and checked with :func:`json_body_problem` before the app sees it."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        if not _is_json(headers.get("content-type")):
            await self.app(scope, receive, send)
            return
        too_large = Problem(413, "Too large", f"at most {self.max_bytes} bytes are accepted")
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            await problem_response(too_large)(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await problem_response(too_large)(scope, receive, send)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        if body and (problem := json_body_problem(body)) is not None:
            await problem_response(problem)(scope, receive, send)
            return
        replayed = False

        async def replay() -> ASGIMessage:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)
