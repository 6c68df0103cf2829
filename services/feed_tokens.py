"""A person's calendar subscription links (issue 16): a read-only, revocable URL that a
calendar client polls for the milestones of the contracts that person owns.

The link is its own credential (calendar clients send no cookie and no header), so it reads
one person's calendar and nothing else, and it can be revoked at any time. People make and
revoke links for themselves only; each change writes an audit entry in the caller's
transaction, as the other account changes do (:mod:`services.users`). The feed itself is
:func:`services.calendar_feed.build_feed`, written in the person's language when they chose one.
"""

from datetime import UTC, date, datetime

from sqlalchemy.orm import Session

from domain.term_plan import CalendarSettings
from models.errors import NotFound
from models.milestones import RenewalPolicy
from models.users import CurrentUser
from services.calendar_feed import build_feed, owner_languages, planned_for_feed
from store import audit
from store import feed_tokens as store
from store.feed_tokens import FeedLink, IssuedFeedLink

__all__ = [
    "LINK_CREATED",
    "LINK_REVOKED",
    "FeedLink",
    "IssuedFeedLink",
    "create_link",
    "feed_for",
    "list_links",
    "revoke_link",
]

LINK_CREATED = "calendar_link_created"  # the audit actions
LINK_REVOKED = "calendar_link_revoked"


def create_link(
    session: Session, *, actor: CurrentUser, now: datetime | None = None
) -> IssuedFeedLink:
    """A new link to ``actor``'s own calendar; its secret is in the result only."""
    issued = store.issue(session, username=actor.username)
    audit.record(
        session,
        actor=actor.username,
        action=LINK_CREATED,
        subject_type="user",
        subject_id=actor.username,
        detail={"prefix": issued.prefix},
        occurred_at=now or datetime.now(UTC),
    )
    return issued


def list_links(session: Session, *, actor: CurrentUser) -> list[FeedLink]:
    return store.list_links(session, username=actor.username)


def revoke_link(
    session: Session, *, actor: CurrentUser, prefix: str, now: datetime | None = None
) -> None:
    """Revoke one of ``actor``'s live links; NotFound (nothing written) when there is none."""
    when = now or datetime.now(UTC)
    if not store.revoke(session, username=actor.username, prefix=prefix, now=when):
        raise NotFound("no live calendar link of yours starts with that prefix")
    audit.record(
        session,
        actor=actor.username,
        action=LINK_REVOKED,
        subject_type="user",
        subject_id=actor.username,
        detail={"prefix": prefix.strip()},
        occurred_at=when,
    )


def feed_for(
    session: Session,
    *,
    secret: str,
    today: date,
    cfg: CalendarSettings,
    policy: RenewalPolicy,
    base_url: str = "",
) -> bytes | None:
    """The iCalendar of the milestones of the contracts the link's owner owns; None for a link
    that is unknown, revoked or whose account is deactivated (the caller says nothing more)."""
    owner = store.resolve(session, secret=secret)
    if owner is None:
        return None
    planned = planned_for_feed(session, owner=owner.username, today=today, cfg=cfg, policy=policy)
    name = "契約更新" if owner.language == "ja" else "Contract renewals"
    return build_feed(
        planned,
        name=f"{name}: {owner.display_name}",
        language=owner.language,
        owner_languages=owner_languages(session, planned),
        base_url=base_url,
    )
