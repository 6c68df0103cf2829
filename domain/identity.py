"""The rules of a signed identity assertion, as pure functions.

The signature is HMAC-SHA256 with a key shared by the trusted front ends (API, web app, CLI)
and the workers, over a canonical JSON of the assertion's claims; the request it covers is
bound by the SHA-256 of its canonical JSON without the assertion itself. Whoever can write to
Temporal but holds no key (a worker certificate, an API key, the Temporal UI) cannot make an
assertion that passes :func:`assertion_refusal`.

The clock and the keys come from the caller: this module reads neither.
"""

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel

from models.identity import ASSERTION_LIFETIME_SECONDS, CLOCK_SKEW_SECONDS, IdentityAssertion

__all__ = [
    "assertion_refusal",
    "canonical",
    "request_digest",
    "sign",
    "signing_input",
]


def canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def request_digest(request: BaseModel) -> str:
    """SHA-256 of the request as JSON, its ``assertion`` field left out (the assertion signs
    the digest, so it cannot be part of it)."""
    body = request.model_dump(mode="json", exclude={"assertion"})
    return hashlib.sha256(canonical(body)).hexdigest()


def signing_input(assertion: IdentityAssertion) -> bytes:
    claims = assertion.model_dump(mode="json", exclude={"signature"})
    return b"renewals-identity-v1\n" + canonical(claims)


def sign(assertion: IdentityAssertion, key: bytes) -> IdentityAssertion:
    """``assertion`` with its signature made with ``key``."""
    mac = hmac.new(key, signing_input(assertion), hashlib.sha256).digest()
    return assertion.model_copy(update={"signature": base64.b64encode(mac).decode()})


def assertion_refusal(
    assertion: IdentityAssertion | None,
    *,
    keys: Mapping[str, bytes],
    now: datetime,
    workflow_id: str,
    action: str,
    claimed: str,
    digest: str,
    draft_version: int | None = None,
    content_hash: str | None = None,
) -> str | None:
    """Why ``assertion`` does not prove that ``claimed`` sent this request (``digest``) as
    ``action`` to ``workflow_id`` at ``now``; None when it does. Replays are the caller's
    to refuse (they need the record of spent nonces)."""
    if assertion is None:
        return (
            "assertion: the decision carries no signed identity; decisions are taken only "
            "through the API, the web app or the CLI"
        )
    key = keys.get(assertion.key_id)
    if key is None:
        return f"assertion.key_id: {assertion.key_id!r} is not a configured identity key"
    expected = sign(assertion, key).signature
    if not hmac.compare_digest(expected.encode(), assertion.signature.encode()):
        return (
            "assertion.signature: does not match; the assertion was not made by a trusted front end"
        )
    if assertion.workflow_id != workflow_id:
        return (
            f"assertion.workflow_id: made for {assertion.workflow_id!r}, not for this renewal "
            f"({workflow_id!r})"
        )
    if assertion.action != action:
        return f"assertion.action: made for {assertion.action!r}, not for {action!r}"
    if assertion.request_digest != digest:
        return "assertion.request_digest: the request was changed after it was signed"
    if assertion.draft_version != draft_version:
        return (
            f"assertion.draft_version: signed for version {assertion.draft_version}, the "
            f"request names version {draft_version}"
        )
    if assertion.content_hash != content_hash:
        return "assertion.content_hash: signed for another text of the version"
    if assertion.subject.casefold() != claimed.strip().casefold():
        return (
            f"assertion.subject: the request names {claimed!r} but was signed for "
            f"{assertion.subject!r}; nobody decides in another person's name"
        )
    lifetime = assertion.expires_at - assertion.issued_at
    if lifetime <= timedelta(0) or lifetime > timedelta(seconds=ASSERTION_LIFETIME_SECONDS):
        return (
            f"assertion.expires_at: an assertion lives at most {ASSERTION_LIFETIME_SECONDS} s "
            "after it is issued"
        )
    if assertion.issued_at > now + timedelta(seconds=CLOCK_SKEW_SECONDS):
        return "assertion.issued_at: is in the future"
    if now > assertion.expires_at:
        return f"assertion.expires_at: expired at {assertion.expires_at.isoformat()}"
    return None
