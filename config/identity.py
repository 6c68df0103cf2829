"""The identity keys, and signing a person's decision for a renewal workflow.

The trusted front ends (API, web app, CLI) sign each decision they send with the active key;
the workers check it with any configured key (rotation: add a new key, make it active, keep the
old one until no assertion signed with it can still arrive, i.e. a few minutes). Nothing else
holds these keys: not the Temporal server, not its UI, not an API key of the namespace.

Settings: IDENTITY_SIGNING_KEYS='{"2026-12": "<base64 of 32 random bytes>"}' and
IDENTITY_SIGNING_KEY_ID=2026-12, the same on every front end and worker. Without them, the data
folder's ``identity-keys.json`` (made on first use, mode 0600) serves every process pointed at
that folder; machines that share no folder need the settings.
"""

import base64
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from pydantic import BaseModel

from config.codec import PayloadKeyFileError, ensure_key_file, read_key_file
from config.settings import Settings
from domain.identity import request_digest, sign
from models.identity import ASSERTION_LIFETIME_SECONDS, IdentityAssertion
from models.users import CurrentUser

IDENTITY_KEY_FILE = "identity-keys.json"
_WHAT = "identity key file"


class IdentityKeyError(ValueError):
    """Identity keys that cannot be used; the message names the setting or file."""


@dataclass(frozen=True, slots=True)
class IdentityKeys:
    keys: dict[str, bytes]
    active_key_id: str

    @classmethod
    def from_base64(cls, keys: dict[str, str], active_key_id: str) -> "IdentityKeys":
        decoded: dict[str, bytes] = {}
        for key_id, text in keys.items():
            try:
                raw = base64.b64decode(text, validate=True)
            except ValueError:
                raw = b""
            if len(raw) < 32:
                raise IdentityKeyError(
                    f"IDENTITY_SIGNING_KEYS: key {key_id!r} is not the base64 of 32 bytes or more"
                )
            decoded[key_id] = raw
        if active_key_id not in decoded:
            raise IdentityKeyError(
                f"IDENTITY_SIGNING_KEY_ID: {active_key_id!r} is not in IDENTITY_SIGNING_KEYS"
            )
        return cls(keys=decoded, active_key_id=active_key_id)

    @classmethod
    def generate(cls) -> "IdentityKeys":
        """A fresh key ring (tests, one-process setups)."""
        return cls(keys={"generated": secrets.token_bytes(32)}, active_key_id="generated")

    def signer(self, *, subject: str, roles: Iterable[str]) -> "Signer":
        return Signer(keys=self, subject=subject, roles=tuple(sorted(roles)))

    def signer_for(self, user: CurrentUser) -> "Signer":
        """Signs the decisions ``user`` sends to a renewal: the workflow takes a decision only
        with the identity this process authenticated (renewal-semantics.md §6)."""
        return self.signer(subject=user.username, roles=(r.value for r in user.roles))


def identity_keys(settings: Settings) -> IdentityKeys:
    """The configured keys; else the data folder's key file, made on first use."""
    if settings.identity_signing_keys or settings.identity_signing_key_id:
        if not settings.identity_signing_key_id:
            raise IdentityKeyError("IDENTITY_SIGNING_KEY_ID: required with IDENTITY_SIGNING_KEYS")
        return IdentityKeys.from_base64(
            dict(settings.identity_signing_keys), settings.identity_signing_key_id
        )
    path = settings.data_dir / IDENTITY_KEY_FILE
    try:
        if path.is_file():
            found = read_key_file(path, what=_WHAT)
        else:
            settings.data_dir.mkdir(parents=True, exist_ok=True)
            found = ensure_key_file(path, what=_WHAT).keys
    except PayloadKeyFileError as exc:
        raise IdentityKeyError(str(exc)) from None
    return IdentityKeys.from_base64(found.keys, found.active_key_id)


@dataclass(frozen=True, slots=True)
class Signer:
    """Signs the decisions of one authenticated person."""

    keys: IdentityKeys
    subject: str
    roles: tuple[str, ...]

    def assertion_for(
        self,
        *,
        workflow_id: str,
        action: str,
        request: BaseModel,
        draft_version: int | None = None,
        content_hash: str | None = None,
    ) -> IdentityAssertion:
        issued = datetime.now(UTC)
        unsigned = IdentityAssertion(
            key_id=self.keys.active_key_id,
            subject=self.subject,
            roles=self.roles,
            workflow_id=workflow_id,
            action=action,
            request_digest=request_digest(request),
            draft_version=draft_version,
            content_hash=content_hash,
            issued_at=issued,
            expires_at=issued + timedelta(seconds=ASSERTION_LIFETIME_SECONDS),
            nonce=secrets.token_hex(16),
            signature="unsigned",
        )
        return sign(unsigned, self.keys.keys[self.keys.active_key_id])
