"""Calendar feed tokens in the database: a read-only, revocable link to one person's calendar
of milestones (``/calendar/<secret>.ics``).

The secret is a random 256-bit value shown once; only its SHA-256 is stored, with a short
prefix so that its owner can tell links apart in a listing. A revoked link stays listed (with
when it was revoked) and never answers again.
"""

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.account_tables import FeedTokenRow, UserRow
from models.users import CurrentUser
from store.users import get_user, get_user_row, utc

__all__ = ["FEED_PREFIX", "FeedLink", "IssuedFeedLink", "issue", "list_links", "resolve", "revoke"]

FEED_PREFIX = "cal_"  # a public marker, not a secret: tells a feed link from an API token
_PREFIX_LENGTH = 12


@dataclass(frozen=True, slots=True)
class FeedLink:
    """One calendar link as its owner sees it: never the secret."""

    prefix: str
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None


@dataclass(frozen=True, slots=True)
class IssuedFeedLink:
    secret: str  # shown once; only its hash is stored
    prefix: str


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def issue(session: Session, *, username: str) -> IssuedFeedLink:
    row = get_user_row(session, username=username)
    secret = FEED_PREFIX + secrets.token_urlsafe(32)
    session.add(
        FeedTokenRow(user_id=row.id, token_hash=_digest(secret), prefix=secret[:_PREFIX_LENGTH])
    )
    session.flush()
    return IssuedFeedLink(secret=secret, prefix=secret[:_PREFIX_LENGTH])


def list_links(session: Session, *, username: str) -> list[FeedLink]:
    """The person's links, newest first."""
    row = get_user_row(session, username=username)
    found = session.scalars(
        select(FeedTokenRow)
        .where(FeedTokenRow.user_id == row.id)
        .order_by(FeedTokenRow.created_at.desc(), FeedTokenRow.id.desc())
    )
    return [
        FeedLink(
            prefix=t.prefix,
            created_at=utc(t.created_at),
            revoked_at=utc(t.revoked_at) if t.revoked_at else None,
            last_used_at=utc(t.last_used_at) if t.last_used_at else None,
        )
        for t in found
    ]


def revoke(session: Session, *, username: str, prefix: str, now: datetime | None = None) -> bool:
    """Revoke the person's live link starting with ``prefix``; False when there is none."""
    row = get_user_row(session, username=username, for_update=True)
    token = session.scalar(
        select(FeedTokenRow).where(
            FeedTokenRow.user_id == row.id,
            FeedTokenRow.prefix == prefix.strip(),
            FeedTokenRow.revoked_at.is_(None),
        )
    )
    if token is None:
        return False
    token.revoked_at = now or datetime.now(UTC)
    session.flush()
    return True


def resolve(session: Session, *, secret: str, now: datetime | None = None) -> CurrentUser | None:
    """The active person a live link belongs to, noting its use; None for anything else."""
    if not secret.startswith(FEED_PREFIX) or len(secret) > 200:
        return None
    digest = _digest(secret)
    found = session.execute(
        select(FeedTokenRow, UserRow)
        .join(UserRow, UserRow.id == FeedTokenRow.user_id)
        .where(FeedTokenRow.token_hash == digest)
    ).first()
    if found is None:
        return None
    token, user = found
    if not hmac.compare_digest(token.token_hash, digest):
        return None
    if token.revoked_at is not None or not user.active:
        return None
    now = now or datetime.now(UTC)
    # Calendar clients poll every few minutes; minute resolution saves a write per poll.
    if token.last_used_at is None or now - utc(token.last_used_at) > timedelta(minutes=1):
        token.last_used_at = now
        session.flush()
    return get_user(session, username=user.username)
