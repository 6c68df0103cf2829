"""Accounts, API tokens and sign-in, as people carry them out: each change writes its audit
entry in the same transaction as the change, so the trail and the accounts never disagree
whichever interface (API, web, CLI) was used.

Functions take the caller's open ``session`` (one transaction per action, committed by the
interface) and keyword-only arguments, in the manner of :mod:`services.renewals`.
"""

import math
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from models.users import CurrentUser, IssuedToken, WebSession
from store import audit
from store import sign_in_throttle as throttle
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
    """A refused sign-in: ``throttled`` when the name is locked for this client address (the
    password was not checked), else an unknown name or a wrong password (the caller must not say
    which)."""

    def __init__(self, message: str, *, throttled: bool) -> None:
        super().__init__(message)
        self.throttled = throttled


def sign_in(
    session: Session,
    *,
    username: str,
    password: str,
    client: str,
    now: datetime,
    max_failures: int,
    lockout_minutes: int,
    session_hours: int,
) -> SignedIn:
    """Check the password and open a browser session, or raise SignInRefused.

    Throttled per user name and client address (``client``, the address the request came
    from): at most ``max_failures`` password checks per lockout period, claimed atomically
    before each check, so concurrent guesses get no more; guesses from one address lock out
    that address, not the person. This function commits that claim itself, before it checks
    the password (concurrent attempts must see it, and no lock may be held while the hash is
    computed); the rest (the session, the audit entries) is left for the caller to commit, also
    when SignInRefused is raised.

    Failures are counted in the throttle row, not written to the audit trail one by one: the
    trail gets one entry per lockout of an existing account, and the successful sign-in's entry
    says how many failed attempts from that address came before it."""
    name = throttle.sign_in_name(username)
    claim = throttle.claim_sign_in(
        session,
        username=name,
        client=client,
        now=now,
        max_failures=max_failures,
        lockout_minutes=lockout_minutes,
    )
    if claim.announce:
        _record_lockout(session, name=name, client=client, claim=claim, max_failures=max_failures)
    session.commit()
    if not claim.allowed:
        wait = (claim.locked_until or now) - now  # a refused claim always has locked_until
        minutes = max(1, math.ceil(wait.total_seconds() / 60))
        raise SignInRefused(
            "Too many failed sign-ins for this user name from this address; "
            f"try again in {minutes} minutes.",
            throttled=True,
        )
    user = user_store.authenticate(session, username=name, password=password)
    if user is None:
        if throttle.note_failed_sign_in(session, username=name, client=client, now=now):
            _record_lockout(
                session, name=name, client=client, claim=claim, max_failures=max_failures
            )
        raise SignInRefused("Unknown user name or wrong password.", throttled=False)
    failures = throttle.clear_sign_in_failures(session, username=name, client=client, now=now)
    secret, _web = user_store.start_session(session, user=user, hours=session_hours, now=now)
    detail: dict[str, object] = {"client": client}
    if failures:
        detail["failures_before"] = failures
    audit.record(
        session,
        actor=user.username,
        action=audit.AuditAction.SIGN_IN,
        subject_type="web",
        subject_id="login",
        detail=detail,
        occurred_at=now,
    )
    return SignedIn(user=user, secret=secret)


def _record_lockout(
    session: Session, *, name: str, client: str, claim: throttle.SignInClaim, max_failures: int
) -> None:
    """One audit entry per lockout, for an existing account only: guesses under names that are
    no account leave nothing in the trail (only their throttle row, which is pruned), so the
    trail cannot be grown by guessing."""
    if not user_store.account_exists(session, username=name):
        return
    audit.record(
        session,
        actor=name or "(empty)",
        action=audit.AuditAction.SIGN_IN_FAILED,
        subject_type="web",
        subject_id="login",
        detail={
            "throttled": True,
            "client": client,
            "failures": max_failures,
            "lockout": claim.lockouts,
            "locked_until": claim.locked_until.isoformat() if claim.locked_until else None,
        },
    )


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
