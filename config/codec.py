"""Encryption of Temporal payloads (AES-256-GCM), so that histories hold no supplier names,
prices or reviewer comments in plain text.

Each encrypted payload names its key id in its metadata. Rotation: add a new key, make it the
active one, and keep the old ones configured for as long as histories written with them are
read (running renewals, replays, the UI through a codec server). A payload whose key id is not
configured fails with an error that names the key id.

Settings: PAYLOAD_ENCRYPTION_KEYS='{"2026-11": "<base64 of 32 random bytes>", ...}' and
PAYLOAD_ENCRYPTION_KEY_ID=2026-11. Make a key with
``python -c "import os,base64;print(base64.b64encode(os.urandom(32)).decode())"``.

Without those settings, a key file in the data folder (``<data dir>/payload-keys.json``, which
``renewals dev`` creates, mode 0600) turns encryption on: every process pointed at that folder
(the dev stack, the CLI, a worker) uses the same keys.

With encryption on, failures are encrypted too: the message and stack trace of every error
that crosses Temporal (an activity's, a workflow's, an update validator's) travel in the
failure's encoded attributes, so the history shows "Encoded failure" and a reader with the key
sees the real message.
"""

import base64
import binascii
import dataclasses
import json
import os
import secrets
import stat
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.converter import (
    DataConverter,
    DefaultFailureConverterWithEncodedAttributes,
    PayloadCodec,
)

ENCODING = b"binary/encrypted"
KEY_ID = "encryption-key-id"
_NONCE = 12


class UnknownEncryptionKey(ValueError):
    pass


class EncryptionCodec(PayloadCodec):
    def __init__(self, keys: Mapping[str, bytes], active_key_id: str) -> None:
        if active_key_id not in keys:
            raise UnknownEncryptionKey(
                f"PAYLOAD_ENCRYPTION_KEY_ID {active_key_id!r} is not in PAYLOAD_ENCRYPTION_KEYS"
            )
        for key_id, key in keys.items():
            if len(key) != 32:
                raise ValueError(f"encryption key {key_id!r} must be 32 bytes, got {len(key)}")
        self._ciphers = {key_id: AESGCM(key) for key_id, key in keys.items()}
        self._active = active_key_id

    @classmethod
    def from_base64(cls, keys: Mapping[str, str], active_key_id: str) -> "EncryptionCodec":
        decoded = {}
        for key_id, text in keys.items():
            try:
                decoded[key_id] = base64.b64decode(text, validate=True)
            except ValueError:
                raise ValueError(f"encryption key {key_id!r} is not valid base64") from None
        return cls(decoded, active_key_id)

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        cipher = self._ciphers[self._active]
        out = []
        for payload in payloads:
            nonce = os.urandom(_NONCE)
            # The key id is bound as associated data: a payload cannot be passed off as
            # encrypted under another key.
            sealed = cipher.encrypt(nonce, payload.SerializeToString(), self._active.encode())
            out.append(
                Payload(
                    metadata={"encoding": ENCODING, KEY_ID: self._active.encode()},
                    data=nonce + sealed,
                )
            )
        return out

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        out = []
        for payload in payloads:
            if payload.metadata.get("encoding") != ENCODING:
                out.append(payload)  # written before encryption was turned on
                continue
            key_id = payload.metadata.get(KEY_ID, b"").decode()
            cipher = self._ciphers.get(key_id)
            if cipher is None:
                raise UnknownEncryptionKey(
                    f"payload was encrypted with key id {key_id!r}, which is not configured in "
                    "PAYLOAD_ENCRYPTION_KEYS; add it (old keys stay until their histories are gone)"
                )
            nonce, sealed = payload.data[:_NONCE], payload.data[_NONCE:]
            out.append(Payload.FromString(cipher.decrypt(nonce, sealed, key_id.encode())))
        return out


def with_codec(converter: DataConverter, codec: PayloadCodec | None) -> DataConverter:
    """``converter`` encoding its payloads with ``codec``, failure messages and stack traces
    included (they would otherwise stay plain text in the history). Failures written without
    encoded attributes (before encryption was on) are still read as they are."""
    if codec is None:
        return converter
    return dataclasses.replace(
        converter,
        payload_codec=codec,
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )


def new_key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


# ---------------------------------------------------------------------------- the key file

KEY_FILE_NAME = "payload-keys.json"


class PayloadKeyFileError(ValueError):
    """A key file that cannot be used; the message names the file and what is wrong."""


@dataclasses.dataclass(frozen=True, slots=True)
class PayloadKeys:
    """Key id -> base64 key, and the id new payloads are encrypted with."""

    keys: dict[str, str]
    active_key_id: str

    def codec(self) -> EncryptionCodec:
        return EncryptionCodec.from_base64(self.keys, self.active_key_id)


def key_file(data_dir: Path) -> Path:
    return data_dir / KEY_FILE_NAME


def read_key_file(path: Path, *, what: str = "payload key file") -> PayloadKeys:
    """The keys of a key file: ``{"active_key_id": id, "keys": {id: base64 of 32 bytes}}``.
    ``what`` names the file in errors (the identity keys use the same format)."""

    def refuse(reason: str) -> PayloadKeyFileError:
        return PayloadKeyFileError(
            f"{what} {path} is not usable: {reason}. Repair it, or move it away to "
            "start over (histories written with its keys cannot be read without them)"
        )

    try:
        data = json.loads(path.read_bytes())
    except OSError as exc:
        raise refuse(exc.strerror or str(exc)) from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise refuse(f"not JSON ({exc})") from None
    if not isinstance(data, dict):
        raise refuse('expected a JSON object {"active_key_id": ..., "keys": {...}}')
    keys, active = data.get("keys"), data.get("active_key_id")
    if not isinstance(keys, dict) or not keys:
        raise refuse('"keys" must be a non-empty object of key id to base64 key')
    if not isinstance(active, str) or active not in keys:
        raise refuse(f'"active_key_id" {active!r} must name one of the keys {sorted(keys)}')
    for key_id, text in keys.items():
        try:
            raw = base64.b64decode(text, validate=True) if isinstance(text, str) else b""
        except (ValueError, binascii.Error):
            raw = b""
        if len(raw) != 32:
            raise refuse(f"key {key_id!r} is not the base64 of 32 bytes")
    return PayloadKeys(keys=dict(keys), active_key_id=active)


def _new_key_id() -> str:
    return f"dev-{datetime.now(UTC):%Y%m%d}-{secrets.token_hex(3)}"


@dataclasses.dataclass(frozen=True, slots=True)
class KeyFileResult:
    keys: PayloadKeys
    created: bool = False
    tightened: bool = False  # the file had group or other permissions: now 0600


def ensure_key_file(path: Path, *, what: str = "payload key file") -> KeyFileResult:
    """The keys of ``path``, made on first use: a new random key, written 0600 (never through
    the umask, never over an existing file). An existing file readable or writable by others
    is tightened to 0600; a corrupt one is refused (it may hold the only copy of a key)."""
    if not path.exists():
        payload = PayloadKeys(keys={(kid := _new_key_id()): new_key()}, active_key_id=kid)
        text = json.dumps({"active_key_id": kid, "keys": payload.keys}, indent=2) + "\n"
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process made it first: use that one
            return ensure_key_file(path, what=what)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        return KeyFileResult(keys=read_key_file(path, what=what), created=True)
    tightened = False
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        os.chmod(path, 0o600)
        tightened = True
    return KeyFileResult(keys=read_key_file(path, what=what), tightened=tightened)
