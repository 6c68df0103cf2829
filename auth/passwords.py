"""Password hashing with scrypt from the standard library.

Stored as ``scrypt$<n>$<r>$<p>$<salt b64>$<hash b64>``: verification reads the cost from the
hash, so raising :data:`CURRENT` leaves every existing hash valid, and :func:`needs_rehash`
tells the sign-in to store a new hash (made with the current cost) once the password has been
checked.
"""

import base64
import functools
import hashlib
import hmac
import os
import secrets
import threading
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ScryptCost:
    n: int
    r: int
    p: int

    @property
    def memory(self) -> int:
        """Bytes scrypt needs (OpenSSL's own count, plus room to spare)."""
        return 128 * self.r * (self.n + self.p + 2) + 1024 * 1024


# OWASP's password storage cheat sheet (2024-): N=2^17, r=8, p=1, ~128 MiB and ~0.3 s per hash.
# Hashes made with the earlier N=2^14 still verify and are replaced at the next sign-in.
RECOMMENDED = ScryptCost(n=2**17, r=8, p=1)
# What new hashes use, read at each call: the test suite lowers it (tests/conftest.py), as
# thousands of accounts hashed at 0.3 s each would be most of its run time.
CURRENT = RECOMMENDED
# A stored hash may not ask for more than this (a tampered row must not exhaust memory).
_LIMIT = ScryptCost(n=2**20, r=16, p=16)
_DKLEN = 32

MIN_LENGTH = 12
MAX_LENGTH = 1024  # scrypt hashes anything, but a megabyte "password" is a denial of service

# Each hash holds ~128 MiB for ~0.3 s: more hashes at once than cores only add memory, so a
# burst of sign-ins queues here instead of exhausting the machine's memory.
_HASHING = threading.BoundedSemaphore(max(2, os.cpu_count() or 2))


def check_policy(password: str) -> str | None:
    """Why the password is unacceptable, or None."""
    if len(password) < MIN_LENGTH:
        return f"must be at least {MIN_LENGTH} characters"
    if len(password) > MAX_LENGTH:
        return f"must be at most {MAX_LENGTH} characters"
    if password.strip() != password:
        return "must not start or end with whitespace"
    return None


def _scrypt(password: str, salt: bytes, cost: ScryptCost, dklen: int) -> bytes:
    with _HASHING:
        return hashlib.scrypt(
            password.encode("utf-8"),
            salt=salt,
            n=cost.n,
            r=cost.r,
            p=cost.p,
            dklen=dklen,
            maxmem=cost.memory,
        )


def hash_password(password: str, *, cost: ScryptCost | None = None) -> str:
    """A new hash of ``password`` at ``cost`` (default :data:`CURRENT`)."""
    cost = cost or CURRENT
    salt = secrets.token_bytes(16)
    digest = _scrypt(password, salt, cost, _DKLEN)
    return "$".join(
        (
            "scrypt",
            str(cost.n),
            str(cost.r),
            str(cost.p),
            base64.b64encode(salt).decode("ascii"),
            base64.b64encode(digest).decode("ascii"),
        )
    )


def _parse(stored: str) -> tuple[ScryptCost, bytes, bytes] | None:
    try:
        scheme, n, r, p, salt_b64, digest_b64 = stored.split("$")
        if scheme != "scrypt":
            return None
        cost = ScryptCost(n=int(n), r=int(r), p=int(p))
        salt = base64.b64decode(salt_b64, validate=True)
        expected = base64.b64decode(digest_b64, validate=True)
    except (ValueError, TypeError):
        return None
    if not (
        2 <= cost.n <= _LIMIT.n
        and cost.n & (cost.n - 1) == 0
        and 1 <= cost.r <= _LIMIT.r
        and 1 <= cost.p <= _LIMIT.p
        and 16 <= len(expected) <= 64
    ):
        return None
    return cost, salt, expected


def verify_password(password: str, stored: str) -> bool:
    if len(password) > MAX_LENGTH:
        return False
    parsed = _parse(stored)
    if parsed is None:
        return False
    cost, salt, expected = parsed
    try:
        actual = _scrypt(password, salt, cost, len(expected))
    except (ValueError, MemoryError):
        return False
    return hmac.compare_digest(actual, expected)


def needs_rehash(stored: str, *, cost: ScryptCost | None = None) -> bool:
    """True when ``stored`` was made with weaker parameters than ``cost`` (default
    :data:`CURRENT`), or is unreadable: after a successful check, the caller stores
    ``hash_password(password)`` instead."""
    cost = cost or CURRENT
    parsed = _parse(stored)
    if parsed is None:
        return True
    old = parsed[0]
    return old.n < cost.n or old.r < cost.r or old.p < cost.p


@functools.cache
def dummy_hash() -> str:
    """Verified against when the user does not exist, so a sign-in for an unknown name costs as
    much as one for a known name and response times do not reveal which accounts exist. Made on
    first use, not at import: every CLI command imports this module."""
    return hash_password(secrets.token_urlsafe(16))
