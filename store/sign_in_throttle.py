"""The sign-in form's throttle in the database: failed sign-ins under one user name from one
client address, counted in one row per (name, address) and claimed atomically before the
password is checked (:func:`claim_sign_in`), so concurrent guesses get no more checks."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, delete, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from models.account_tables import SignInThrottleRow
from store.users import utc


def sign_in_name(username: str) -> str:
    """The form of a typed user name that accounts, audit entries and throttling compare."""
    return username.strip().casefold()[:200]


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
