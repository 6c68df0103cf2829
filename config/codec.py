"""Encryption of Temporal payloads (AES-256-GCM), so that histories hold no supplier names,
prices or reviewer comments in plain text.

Each encrypted payload names its key id in its metadata. Rotation: add a new key, make it the
active one, and keep the old ones configured for as long as histories written with them are
read (running renewals, replays, the UI through a codec server). A payload whose key id is not
configured fails with an error that names the key id.

Settings: PAYLOAD_ENCRYPTION_KEYS='{"2026-11": "<base64 of 32 random bytes>", ...}' and
PAYLOAD_ENCRYPTION_KEY_ID=2026-11. Make a key with ``renewals codec new-key`` or
``python -c "import os,base64;print(base64.b64encode(os.urandom(32)).decode())"``.
"""

import base64
import dataclasses
import os
from collections.abc import Mapping, Sequence

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.converter import DataConverter, PayloadCodec

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
    return converter if codec is None else dataclasses.replace(converter, payload_codec=codec)


def new_key() -> str:
    return base64.b64encode(os.urandom(32)).decode()
