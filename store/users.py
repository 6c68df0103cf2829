"""Users, API tokens and web sessions in the database: keyword-only service functions.

Secrets (API tokens, session cookies) are random 256-bit values; only their SHA-256 is stored,
so a copy of the database does not let anyone sign in. Passwords are hashed with scrypt
(:mod:`auth.passwords`).
"""

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import TypeAdapter, ValidationError
from sqlalchemy import Row, delete, func, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from auth.passwords import (
    check_policy,
    dummy_hash,
    hash_password,
    needs_rehash,
    verify_password,
)
from auth.roles import Role, format_roles, parse_roles
from models.account_tables import ApiTokenRow, SignInThrottleRow, UserRow, WebSessionRow
from models.errors import Conflict, FieldError, InvalidInput, NotFound
from models.text import SingleLineText
from models.users import CurrentUser, IssuedToken, WebSession
from store.db import Violation, violation

TOKEN_PREFIX = "rnw_"  # noqa: S105 - a public marker, not a secret
_DISPLAY_NAME: TypeAdapter[str] = TypeAdapter(SingleLineText)
_USERNAME = re.compile(r"[a-z0-9][a-z0-9._@+-]{0,119}")


def utc(value: datetime) -> datetime:
    """SQLite returns naive datetimes; everything is stored in UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _current(row: UserRow) -> CurrentUser:
    return CurrentUser(
        id=row.id,
        username=row.username,
        display_name=row.display_name,
        roles=parse_roles(row.roles),
    )


def normalise_username(username: str) -> str:
    name = username.strip().casefold()
    if not _USERNAME.fullmatch(name):
        raise InvalidInput(
            [
                FieldError(
                    "username",
                    "use 1-120 lower-case ASCII letters, digits and . _ @ + - "
                    "(an e-mail address works)",
                )
            ]
        )
    return name


def create_user(
    session: Session,
    *,
    username: str,
    display_name: str,
    roles: str | list[str],
    password: str | None = None,
) -> CurrentUser:
    errors: list[FieldError] = []
    name = ""
    try:
        name = normalise_username(username)
    except InvalidInput as exc:
        errors.extend(exc.errors)
    display = display_name.strip() or name
    try:
        display = _DISPLAY_NAME.validate_python(display)
    except ValidationError as exc:
        errors.extend(
            FieldError("display_name", e.removeprefix("Value error, "))
            for e in (err["msg"] for err in exc.errors(include_url=False))
        )
    parsed_roles: frozenset[Role] = frozenset()
    try:
        parsed_roles = parse_roles(roles)
    except ValueError as exc:
        errors.append(FieldError("roles", str(exc)))
    if password is not None and (problem := check_policy(password)) is not None:
        errors.append(FieldError("password", problem))
    if errors:
        raise InvalidInput(errors)
    if session.scalar(select(UserRow.id).where(UserRow.username == name)) is not None:
        raise Conflict(f"user {name!r} already exists")
    row = UserRow(
        username=name,
        display_name=display,
        roles=format_roles(parsed_roles),
        password_hash=hash_password(password) if password is not None else None,
        active=True,
    )
    session.add(row)
    try:
        session.flush()
    except IntegrityError as exc:
        if violation(exc) is Violation.UNIQUE:  # a concurrent creation of the same name
            raise Conflict(f"user {name!r} already exists") from None
        raise
    return _current(row)


def get_user_row(session: Session, *, username: str) -> UserRow:
    row = session.scalar(select(UserRow).where(UserRow.username == username.strip().casefold()))
    if row is None:
        raise NotFound(f"user {username!r} does not exist")
    return row


def get_user(session: Session, *, username: str) -> CurrentUser:
    return _current(get_user_row(session, username=username))


def list_users(session: Session) -> list[tuple[CurrentUser, bool]]:
    """Every user with their active flag, by name."""
    rows = session.scalars(select(UserRow).order_by(UserRow.username))
    return [(_current(r), r.active) for r in rows]


def set_password(session: Session, *, username: str, password: str) -> None:
    if (problem := check_policy(password)) is not None:
        raise InvalidInput([FieldError("password", problem)])
    get_user_row(session, username=username).password_hash = hash_password(password)
    session.flush()


def deactivate_user(session: Session, *, username: str) -> None:
    row = get_user_row(session, username=username)
    row.active = False
    now = datetime.now(UTC)
    # Existing tokens and sessions stop working at once, not when they expire.
    for token in session.scalars(select(ApiTokenRow).where(ApiTokenRow.user_id == row.id)):
        if token.revoked_at is None:
            token.revoked_at = now
    for web in session.scalars(select(WebSessionRow).where(WebSessionRow.user_id == row.id)):
        session.delete(web)
    session.flush()


def sign_in_name(username: str) -> str:
    """The form of a typed user name that accounts, audit entries and throttling compare."""
    return username.strip().casefold()[:200]


def account_exists(session: Session, *, username: str) -> bool:
    return session.scalar(select(UserRow.id).where(UserRow.username == username)) is not None


# ---------------------------------------------------------------------------- sign-in throttle

# A lockout lasts the lockout period, and each lockout in a row (no successful sign-in between)
# twice as long as the one before, up to a day; a day after the latest one ends, the row is
# forgotten.
MAX_LOCKOUT = timedelta(hours=24)
FORGET_AFTER = timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class SignInClaim:
    """What the throttle allows one sign-in attempt: ``allowed`` to check the password, or not
    until ``locked_until``. ``announce`` is True for the one attempt that should write the
    lockout's audit entry (one per lockout, however many attempts it refuses)."""

    allowed: bool
    attempts: int
    locked_until: datetime | None
    lockouts: int
    announce: bool


def _client(client: str) -> str:
    return client.strip()[:64] or "unknown"


def _insert(session: Session) -> Any:
    bind = session.get_bind()
    return postgresql.insert if bind.dialect.name == "postgresql" else sqlite.insert


_T = SignInThrottleRow


def _lock_throttle_row(
    session: Session, *, username: str, client: str, now: datetime, window: timedelta
) -> Row[Any]:
    """The throttle row of (username, client), created if absent, and locked until the
    transaction ends: ``INSERT ... ON CONFLICT DO UPDATE ... RETURNING`` takes the row lock on
    PostgreSQL (a concurrent attempt on the same row waits for this transaction, then reads
    what it wrote) and the database's write lock on SQLite; either way no two attempts read the
    same count. One statement, so a row deleted meanwhile (pruned, or cleared by a successful
    sign-in) is simply inserted again."""
    stmt = (
        _insert(session)(_T)
        .values(
            username=username,
            client=client,
            window_start=now,
            attempts=0,
            locked_until=None,
            lockouts=0,
            lockout_audited=False,
            expires_at=now + window,
        )
        .on_conflict_do_update(
            index_elements=[_T.username, _T.client],
            set_={"attempts": _T.attempts},  # unchanged: the statement is here for its lock
        )
        .returning(
            _T.window_start,
            _T.attempts,
            _T.locked_until,
            _T.lockouts,
            _T.lockout_audited,
            _T.expires_at,
        )
    )
    return session.execute(stmt).one()


def _write_throttle_row(
    session: Session, *, username: str, client: str, values: dict[str, Any]
) -> None:
    session.execute(
        update(_T)
        .where(_T.username == username, _T.client == client)
        .values(values)
        .execution_options(synchronize_session=False)
    )


def claim_sign_in(
    session: Session,
    *,
    username: str,
    client: str,
    now: datetime,
    max_failures: int,
    lockout_minutes: int,
) -> SignInClaim:
    """Count one sign-in attempt under ``username`` from ``client`` before its password is
    checked, so that at most ``max_failures`` checks run per window whatever the concurrency:
    an attempt in flight counts as a failure until it succeeds (:func:`clear_sign_in_failures`).
    The attempt that reaches ``max_failures`` locks the pair for the lockout period (doubled
    for each lockout in a row). The caller commits before checking the password, so that
    concurrent attempts see the claim and no lock is held while the hash is computed.

    Keyed by name and client address: guesses from one address lock that address out, not the
    person, who still signs in from their own."""
    name, addr = sign_in_name(username), _client(client)
    window = timedelta(minutes=lockout_minutes)
    row = _lock_throttle_row(session, username=name, client=addr, now=now, window=window)
    window_start, attempts, lockouts = utc(row.window_start), row.attempts, row.lockouts
    locked_until = utc(row.locked_until) if row.locked_until is not None else None
    audited = row.lockout_audited
    if utc(row.expires_at) <= now:  # nothing worth remembering: start afresh
        window_start, attempts, locked_until, lockouts, audited = now, 0, None, 0, False
    if locked_until is not None and now < locked_until:
        _write_throttle_row(session, username=name, client=addr, values={"lockout_audited": True})
        return SignInClaim(False, attempts, locked_until, lockouts, announce=not audited)
    if now >= window_start + window or (locked_until is not None and window_start < locked_until):
        # The window has passed, or a lockout ended it: a new window begins with this attempt.
        window_start, attempts = now, 0
    attempts += 1
    if attempts >= max_failures:
        # The last check this window allows: later attempts wait, whatever this one's outcome
        # (a success clears the row).
        locked_until = now + min(window * 2 ** min(lockouts, 16), MAX_LOCKOUT)
        lockouts += 1
        audited = False
    expires_at = window_start + window
    if locked_until is not None:
        expires_at = max(expires_at, locked_until + FORGET_AFTER)
    _write_throttle_row(
        session,
        username=name,
        client=addr,
        values={
            "window_start": window_start,
            "attempts": attempts,
            "locked_until": locked_until,
            "lockouts": lockouts,
            "lockout_audited": audited,
            "expires_at": expires_at,
        },
    )
    return SignInClaim(True, attempts, locked_until, lockouts, announce=False)


def note_failed_sign_in(session: Session, *, username: str, client: str, now: datetime) -> bool:
    """After a wrong password: True when the pair is locked and its lockout has no audit entry
    yet, which the caller then writes (the failure itself was counted by the claim). One
    conditional UPDATE, so of this and a concurrent refused attempt only one announces it."""
    name, addr = sign_in_name(username), _client(client)
    claimed = session.execute(
        update(_T)
        .where(
            _T.username == name,
            _T.client == addr,
            _T.lockout_audited.is_(False),
            _T.locked_until > now,
        )
        .values(lockout_audited=True)
        .returning(_T.username)
        .execution_options(synchronize_session=False)
    ).first()
    return claimed is not None


def clear_sign_in_failures(session: Session, *, username: str, client: str, now: datetime) -> int:
    """After a successful sign-in: forget the pair's failures (and lockouts), and drop every
    throttle row that means nothing any more. Returns how many attempts the pair had claimed
    before this one."""
    name, addr = sign_in_name(username), _client(client)
    before = session.execute(
        delete(_T)
        .where(_T.username == name, _T.client == addr)
        .returning(_T.attempts)
        .execution_options(synchronize_session=False)
    ).scalar()
    # Rows another attempt holds are left for a later sign-in (SKIP LOCKED on PostgreSQL), so
    # two sign-ins pruning at once never wait on each other.
    stale = (
        select(_T.username, _T.client)
        .where(_T.expires_at < now)
        .limit(1000)
        .with_for_update(skip_locked=True)
    )
    session.execute(
        delete(_T)
        .where(tuple_(_T.username, _T.client).in_(stale))
        .execution_options(synchronize_session=False)
    )
    return max(0, (before or 0) - 1)


def authenticate(session: Session, *, username: str, password: str) -> CurrentUser | None:
    """The user if the password is right and the account active; None otherwise (the caller
    must not say which part was wrong). A hash made with weaker scrypt parameters than today's
    is replaced by one made with them, now that the password is known to be right."""
    row = session.scalar(select(UserRow).where(UserRow.username == username.strip().casefold()))
    if row is None or row.password_hash is None:
        verify_password(password, dummy_hash())
        return None
    if not verify_password(password, row.password_hash) or not row.active:
        return None
    if needs_rehash(row.password_hash):
        row.password_hash = hash_password(password)
        session.flush()
    return _current(row)


# ---------------------------------------------------------------------------- API tokens


def issue_token(
    session: Session,
    *,
    username: str,
    name: str = "api",
    valid_days: int | None = 90,
    now: datetime | None = None,
) -> IssuedToken:
    row = get_user_row(session, username=username)
    if not row.active:
        raise Conflict(f"user {row.username!r} is deactivated")
    label = name.strip()
    if not 1 <= len(label) <= 100:
        raise InvalidInput([FieldError("name", "must be 1-100 characters")])
    now = now or datetime.now(UTC)
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    expires = now + timedelta(days=valid_days) if valid_days is not None else None
    session.add(
        ApiTokenRow(
            user_id=row.id,
            name=label,
            prefix=secret[:12],
            token_hash=_digest(secret),
            expires_at=expires,
        )
    )
    session.flush()
    return IssuedToken(secret=secret, prefix=secret[:12], name=label, expires_at=expires)


def resolve_token(
    session: Session, *, secret: str, now: datetime | None = None
) -> CurrentUser | None:
    if not secret.startswith(TOKEN_PREFIX) or len(secret) > 200:
        return None
    now = now or datetime.now(UTC)
    found = session.execute(
        select(ApiTokenRow, UserRow)
        .join(UserRow, UserRow.id == ApiTokenRow.user_id)
        .where(ApiTokenRow.token_hash == _digest(secret))
    ).first()
    if found is None:
        return None
    token, user = found
    if not hmac.compare_digest(token.token_hash, _digest(secret)):
        return None
    if token.revoked_at is not None or not user.active:
        return None
    if token.expires_at is not None and utc(token.expires_at) <= now:
        return None
    # Minute resolution is enough to see which tokens are in use, and saves a write per call.
    if token.last_used_at is None or now - utc(token.last_used_at) > timedelta(minutes=1):
        token.last_used_at = now
        session.flush()
    return _current(user)


def revoke_tokens(session: Session, *, username: str, prefix: str | None = None) -> int:
    row = get_user_row(session, username=username)
    query = select(ApiTokenRow).where(
        ApiTokenRow.user_id == row.id, ApiTokenRow.revoked_at.is_(None)
    )
    if prefix is not None:
        query = query.where(ApiTokenRow.prefix == prefix)
    count = 0
    for token in session.scalars(query):
        token.revoked_at = datetime.now(UTC)
        count += 1
    session.flush()
    return count


# ---------------------------------------------------------------------------- web sessions


def start_session(
    session: Session, *, user: CurrentUser, hours: int = 8, now: datetime | None = None
) -> tuple[str, WebSession]:
    """A new browser session: the cookie secret (to set once) and what it stands for."""
    now = now or datetime.now(UTC)
    # Expired sessions are useless (resolve_session refuses them); dropping them at each
    # sign-in keeps the table as small as the number of people signed in.
    session.execute(delete(WebSessionRow).where(WebSessionRow.expires_at < now))
    secret = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    session.add(
        WebSessionRow(
            user_id=user.id,
            session_hash=_digest(secret),
            csrf_token=csrf,
            expires_at=now + timedelta(hours=hours),
        )
    )
    session.flush()
    return secret, WebSession(user=user, csrf_token=csrf)


def resolve_session(
    session: Session, *, secret: str, now: datetime | None = None
) -> WebSession | None:
    if not secret or len(secret) > 200:
        return None
    now = now or datetime.now(UTC)
    found = session.execute(
        select(WebSessionRow, UserRow)
        .join(UserRow, UserRow.id == WebSessionRow.user_id)
        .where(WebSessionRow.session_hash == _digest(secret))
    ).first()
    if found is None:
        return None
    web, user = found
    if not user.active or utc(web.expires_at) <= now:
        return None
    return WebSession(user=_current(user), csrf_token=web.csrf_token)


def end_session(session: Session, *, secret: str) -> None:
    row = session.scalar(select(WebSessionRow).where(WebSessionRow.session_hash == _digest(secret)))
    if row is not None:
        session.delete(row)
        session.flush()


def count_users(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(UserRow)) or 0
