"""The tables of the people who use the engine: accounts, API tokens, browser sessions, the
sign-in throttle and the identity assertions already spent. Same metadata as
:mod:`models.tables`.
"""

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String, func
from sqlalchemy.orm import Mapped, mapped_column

from models.tables import Base


class UserRow(Base):
    """An account: a person who signs in, or a service account for an integration (``kind``
    ``person`` or ``service``). ``roles`` is a comma-separated set (procurement, legal, admin
    and the leads); ``password_hash`` is NULL for accounts that use API tokens only (every
    service account)."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(120), unique=True)  # stored casefolded
    display_name: Mapped[str] = mapped_column(String(200))
    roles: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str | None] = mapped_column(String(300), default=None)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    kind: Mapped[str] = mapped_column(String(20), default="person", server_default="person")
    # Counts the account's changes; each change's audit entry and mail are keyed by it.
    revision: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    # The language the person reads pages and mails in ("en" or "ja"); NULL: not chosen, so
    # the browser's Accept-Language decides (and the contract's language for mails).
    language: Mapped[str | None] = mapped_column(String(2), default=None)
    # How renewal mails reach the person: "immediate" (each as it happens, and the weekly
    # digest) or "digest" (the weekly digest only; escalations still come at once).
    mail_delivery: Mapped[str] = mapped_column(
        String(10), default="immediate", server_default="immediate"
    )


class ApiTokenRow(Base):
    """A bearer token for the API and CLI. Only the SHA-256 of the secret is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(16))  # shown in listings to tell tokens apart
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    expires_at: Mapped[datetime | None] = mapped_column(default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
    last_used_at: Mapped[datetime | None] = mapped_column(default=None)


class FeedTokenRow(Base):
    """A read-only link to one person's calendar of milestones (an .ics subscription). Only the
    SHA-256 of the secret is stored; revoking it ends every calendar subscribed with it."""

    __tablename__ = "calendar_feed_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
    last_used_at: Mapped[datetime | None] = mapped_column(default=None)


class WebSessionRow(Base):
    """A signed-in browser. The cookie holds a random secret; only its SHA-256 is stored, with
    the session's CSRF token."""

    __tablename__ = "web_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    session_hash: Mapped[str] = mapped_column(String(64), unique=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    expires_at: Mapped[datetime]


class SignInThrottleRow(Base):
    """The sign-in form's throttle: failed sign-ins under one user name from one client address,
    counted in place (one row per name and address, however many attempts), so neither this
    table nor the audit trail grows with the number of guesses. ``attempts`` counts password
    checks claimed in the window that began at ``window_start``, claimed before the check runs;
    ``locked_until`` ends the latest lockout, ``lockouts`` counts lockouts in a row (each lasts
    twice as long as the one before); the row means nothing after ``expires_at``."""

    __tablename__ = "sign_in_throttle"

    username: Mapped[str] = mapped_column(String(200), primary_key=True)  # as typed, casefolded
    client: Mapped[str] = mapped_column(String(64), primary_key=True)  # IPv4 or IPv6 address
    window_start: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(default=None)
    lockouts: Mapped[int] = mapped_column(Integer, default=0)
    lockout_audited: Mapped[bool] = mapped_column(Boolean, default=False)
    expires_at: Mapped[datetime] = mapped_column(index=True)


class SpentAssertionRow(Base):
    """An identity assertion that made a decision count, kept by its nonce so that the same
    signed assertion cannot be played again (a retried activity finds its own update id)."""

    __tablename__ = "spent_assertions"

    nonce: Mapped[str] = mapped_column(String(64), primary_key=True)
    workflow_id: Mapped[str] = mapped_column(String(200))
    update_id: Mapped[str] = mapped_column(String(200))
    username: Mapped[str] = mapped_column(String(120))
    action: Mapped[str] = mapped_column(String(60))
    spent_at: Mapped[datetime] = mapped_column(index=True)
