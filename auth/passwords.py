"""Password hashing with scrypt from the standard library.

Stored as ``scrypt$<n>$<r>$<p>$<salt b64>$<hash b64>`` so the cost can be raised later
without invalidating existing hashes: verification reads the parameters from the hash.
"""

import base64
import hashlib
import hmac
import secrets

# RFC 7914 interactive-login parameters; ~16 MiB of memory per hash.
_N = 2**14
_R = 8
_P = 1
_DKLEN = 32
_MAXMEM = 64 * 1024 * 1024

MIN_LENGTH = 12
MAX_LENGTH = 1024  # scrypt hashes anything, but a megabyte "password" is a denial of service


def check_policy(password: str) -> str | None:
    """Why the password is unacceptable, or None."""
    if len(password) < MIN_LENGTH:
        return f"must be at least {MIN_LENGTH} characters"
    if len(password) > MAX_LENGTH:
        return f"must be at most {MAX_LENGTH} characters"
    if password.strip() != password:
        return "must not start or end with whitespace"
    return None


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=_N, r=_R, p=_P, dklen=_DKLEN, maxmem=_MAXMEM
    )
    return "$".join(
        (
            "scrypt",
            str(_N),
            str(_R),
            str(_P),
            base64.b64encode(salt).decode("ascii"),
            base64.b64encode(digest).decode("ascii"),
        )
    )


def verify_password(password: str, stored: str) -> bool:
    if len(password) > MAX_LENGTH:
        return False
    try:
        scheme, n, r, p, salt_b64, digest_b64 = stored.split("$")
        if scheme != "scrypt":
            return False
        salt = base64.b64decode(salt_b64)
        expected = base64.b64decode(digest_b64)
        actual = hashlib.scrypt(
            password.encode("utf-8"),
            salt=salt,
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(expected),
            maxmem=_MAXMEM,
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


# Verified against when the user does not exist, so a sign-in for an unknown name costs as
# much as one for a known name and response times do not reveal which accounts exist.
DUMMY_HASH = hash_password(secrets.token_urlsafe(16))
