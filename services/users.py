"""Accounts, API tokens and sign-in, as people carry them out: each change writes its audit
entry in the same transaction as the change, so the trail and the accounts never disagree
whichever interface (API, web, CLI) was used.

Functions take the caller's open ``session`` (one transaction per action, committed by the
interface) and keyword-only arguments, in the manner of :mod:`services.renewals`.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from models.users import CurrentUser, IssuedToken, WebSession
from store import audit
from store import users as user_store
from store.users import (
    count_users,
    deactivate_user,
    end_session,
    list_users,
    normalise_username,
    resolve_session,
    resolve_token,
    revoke_tokens,
)


def create_user(
    session: Session,
    *,
    actor: str,
    username: str,
    display_name: str,
    roles: str | list[str],
    password: str | None,
) -> CurrentUser:
    """Create an account; InvalidInput names the field, Conflict a name already taken."""
    created = user_store.create_user(
        session, username=username, display_name=display_name, roles=roles, password=password
    )
    audit.record(
        session,
        actor=actor,
        action=audit.AuditAction.USER_CREATED,
        subject_type="user",
        subject_id=created.username,
        detail={"roles": sorted(r.value for r in created.roles)},
    )
    return created


def issue_token(
    session: Session, *, actor: str, username: str, name: str, valid_days: int | None
) -> IssuedToken:
    """A new API token for ``username``; its secret is in the result only, never stored."""
    issued = user_store.issue_token(session, username=username, name=name, valid_days=valid_days)
    audit.record(
        session,
        actor=actor,
        action=audit.AuditAction.TOKEN_ISSUED,
        subject_type="user",
        subject_id=username.strip().casefold(),
        detail={"name": issued.name, "prefix": issued.prefix},
    )
    return issued


@dataclass(frozen=True, slots=True)
class SignedIn:
    user: CurrentUser
    secret: str  # the session cookie's value; only its hash is stored


class SignInRefused(Exception):
    """A refused sign-in: ``throttled`` when the name is locked (the password was not checked),
    else an unknown name or a wrong password (the caller must not say which)."""

    def __init__(self, message: str, *, throttled: bool) -> None:
        super().__init__(message)
        self.throttled = throttled


def sign_in(
    session: Session,
    *,
    username: str,
    password: str,
    now: datetime,
    max_failures: int,
    lockout_minutes: int,
    session_hours: int,
) -> SignedIn:
    """Check the password and open a browser session, or raise SignInRefused. Every attempt is
    audited; the refusal's entry is written before raising, so the caller commits it."""
    name = user_store.sign_in_name(username)

    def refuse(message: str, *, throttled: bool) -> SignInRefused:
        audit.record(
            session,
            actor=name or "(empty)",
            action=audit.AuditAction.SIGN_IN_FAILED,
            subject_type="web",
            subject_id="login",
            detail={"throttled": True} if throttled else None,
        )
        return SignInRefused(message, throttled=throttled)

    window_start = now - timedelta(minutes=lockout_minutes)
    if user_store.failed_sign_ins(session, username=name, since=window_start) >= max_failures:
        # The password is not even checked: a guesser learns nothing while the name is locked.
        raise refuse(
            f"Too many failed sign-ins for this user name; try again in {lockout_minutes} minutes.",
            throttled=True,
        )
    user = user_store.authenticate(session, username=username, password=password)
    if user is None:
        raise refuse("Unknown user name or wrong password.", throttled=False)
    secret, _web = user_store.start_session(session, user=user, hours=session_hours)
    audit.record(
        session,
        actor=user.username,
        action=audit.AuditAction.SIGN_IN,
        subject_type="web",
        subject_id="login",
    )
    return SignedIn(user=user, secret=secret)


__all__ = [
    "CurrentUser",
    "IssuedToken",
    "SignInRefused",
    "SignedIn",
    "WebSession",
    "count_users",
    "create_user",
    "deactivate_user",
    "end_session",
    "issue_token",
    "list_users",
    "normalise_username",
    "resolve_session",
    "resolve_token",
    "revoke_tokens",
    "sign_in",
]
