"""Accounts, API tokens and sign-in, as people carry them out: each change writes its audit
entry and its mail to the legal lead in the same transaction as the change
(:mod:`services.account_announcements`), so the trail, the outbox and the accounts never
disagree whichever interface (API, web, CLI) was used.

Nobody acts as another person (renewal-semantics.md §6): people issue API tokens for
themselves only; an administrator issues them for service accounts (integrations, not people)
and for no person, creates accounts, changes roles, deactivates accounts and revokes tokens,
and never holds a procurement or legal role (:func:`auth.roles.roles_refusal`).

Functions take the caller's open ``session`` (one transaction per action, committed by the
interface) and keyword-only arguments, in the manner of :mod:`services.renewals`. ``actor``
is the signed-in person (a :class:`CurrentUser`), or a plain name for the installation's
operator, who works on the database directly (``renewals dev`` and its samples, fixtures): the
operator is not a person acting through the product, and is audited by that name.
"""

import math
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from auth.roles import AccountKind, Permission, Role
from domain.account_changes import AccountChange, ChangeKind, change_key
from models.errors import Conflict, FieldError, InvalidInput, NotAllowed
from models.users import CurrentUser, IssuedToken, TokenInfo, WebSession
from services.account_announcements import address_of, announce
from store import audit
from store import sign_in_throttle as throttle
from store import users as user_store
from store.users import (
    count_users,
    end_session,
    list_users,
    normalise_username,
    resolve_session,
    resolve_token,
)

Actor = CurrentUser | str
ROLES_CHANGED = "user_roles_changed"  # the audit action of a role change


def _name(actor: Actor) -> str:
    return actor if isinstance(actor, str) else actor.username


def _require_manage(actor: Actor, doing: str) -> None:
    if isinstance(actor, CurrentUser) and not actor.can(Permission.USERS_MANAGE):
        raise NotAllowed(f"{doing} needs the {Permission.USERS_MANAGE.value} permission")


def _lead_told(user: CurrentUser) -> tuple[str, ...]:
    """A legal lead is told of a change to their own account, whatever it takes away."""
    held = Role.LEGAL_LEAD in user.roles and user.kind is AccountKind.PERSON
    return (user.username,) if held and address_of(user.username) else ()


def _change(
    kind: ChangeKind, user: CurrentUser, actor: Actor, revision: int, now: datetime | None
) -> AccountChange:
    return AccountChange(
        kind=kind,
        username=user.username,
        account_kind=user.kind,
        actor=_name(actor),
        occurred_at=now or datetime.now(UTC),
        revision=revision,
        roles_before=user.roles,
        roles_after=user.roles,
    )


def create_user(
    session: Session,
    *,
    actor: Actor,
    username: str,
    display_name: str,
    roles: str | list[str],
    password: str | None,
    kind: AccountKind | str = AccountKind.PERSON,
    now: datetime | None = None,
) -> CurrentUser:
    """Create an account; InvalidInput names the field (``roles`` for a combination one
    account may not hold), Conflict a name already taken; nothing is stored then."""
    _require_manage(actor, "creating an account")
    created = user_store.create_user(
        session,
        username=username,
        display_name=display_name,
        roles=roles,
        password=password,
        kind=kind,
    )
    revision = user_store.next_revision(session, username=created.username)
    change = _change(ChangeKind.CREATED, created, actor, revision, now)
    announce(
        session,
        change,
        action=audit.AuditAction.USER_CREATED,
        detail={"roles": sorted(r.value for r in created.roles)},
    )
    return created


def set_roles(
    session: Session,
    *,
    actor: Actor,
    username: str,
    roles: str | list[str],
    now: datetime | None = None,
) -> tuple[CurrentUser, bool]:
    """Give an account ``roles``: the account, and whether anything changed (asking again for
    the roles it holds changes, audits and announces nothing). InvalidInput names ``roles``."""
    _require_manage(actor, "changing roles")
    before, after = user_store.set_roles(session, username=username, roles=roles)
    user = user_store.get_user(session, username=username)
    if before == after:
        return user, False
    revision = user_store.next_revision(session, username=user.username)
    change = _change(ChangeKind.ROLES_CHANGED, user, actor, revision, now)
    change = replace(change, roles_before=before)
    old = CurrentUser(user.id, user.username, user.display_name, before, user.kind)
    announce(
        session,
        change,
        action=ROLES_CHANGED,
        detail={
            "roles_before": sorted(r.value for r in before),
            "roles": sorted(r.value for r in after),
        },
        also_tell=_lead_told(old),
    )
    return user, True


def deactivate_user(
    session: Session,
    *,
    actor: Actor,
    username: str,
    via: str | None = None,
    now: datetime | None = None,
) -> list[str] | None:
    """Deactivate an account: its tokens are revoked and its sessions end at once. The
    prefixes of the tokens revoked; None when it was deactivated already (nothing written)."""
    _require_manage(actor, "deactivating an account")
    user = user_store.get_user(session, username=username)
    revoked = user_store.deactivate_user(session, username=username)
    if revoked is None:
        return None
    revision = user_store.next_revision(session, username=user.username)
    change = _change(ChangeKind.DEACTIVATED, user, actor, revision, now)
    change = replace(change, token_prefixes=tuple(revoked))
    detail: dict[str, object] = {"revoked": revoked}
    if via:
        detail["via"] = via
    announce(
        session,
        change,
        action=audit.AuditAction.USER_DEACTIVATED,
        detail=detail,
        also_tell=_lead_told(user),
    )
    return revoked


def token_refusal(actor: Actor, owner: CurrentUser) -> str | None:
    """Why ``actor`` may not issue an API token for ``owner``, or None when they may."""
    if isinstance(actor, str) or actor.username == owner.username:
        return None
    if actor.can(Permission.USERS_MANAGE):
        if owner.kind is AccountKind.SERVICE:
            return None
        return (
            f"nobody issues an API token for another person, administrators included: "
            f"{owner.username} issues their own after signing in (POST /api/v1/me/tokens, or "
            "renewals users login); an administrator issues tokens for service accounts only"
        )
    return "you may issue API tokens for yourself only"


def issue_token(
    session: Session,
    *,
    actor: Actor,
    username: str,
    name: str,
    valid_days: int | None,
    request_id: str | None = None,
    via: str | None = None,
    now: datetime | None = None,
) -> IssuedToken:
    """A new API token for ``username``; its secret is in the result only, never stored.
    NotAllowed (field ``username``) when the actor may not issue it (:func:`token_refusal`);
    Conflict when ``request_id`` already issued one (a retried request: the secret was shown
    once, so the token is not issued again). The caller rolls back on either."""
    owner = user_store.get_user(session, username=username)
    if (refusal := token_refusal(actor, owner)) is not None:
        raise NotAllowed(refusal, field="username")
    issued = user_store.issue_token(
        session, username=owner.username, name=name, valid_days=valid_days
    )
    revision = user_store.next_revision(session, username=owner.username)
    change = _change(ChangeKind.TOKEN_ISSUED, owner, actor, revision, now)
    change = replace(
        change,
        token_name=issued.name,
        token_prefixes=(issued.prefix,),
        token_expires=issued.expires_at,
    )
    detail: dict[str, object] = {"name": issued.name, "prefix": issued.prefix}
    if request_id:
        detail["request_id"] = request_id
    if via:
        detail["via"] = via
    key = f"account:{owner.username}:token:{request_id}" if request_id else None
    if not announce(session, change, action=audit.AuditAction.TOKEN_ISSUED, detail=detail, key=key):
        raise Conflict(
            f"request {request_id!r} has issued a token for {owner.username} already; its secret "
            "was shown once: revoke that token if it was lost, and ask again with a new request"
        )
    return issued


def revoke_tokens(
    session: Session,
    *,
    actor: Actor,
    username: str,
    prefix: str | None = None,
    via: str | None = None,
    now: datetime | None = None,
) -> list[str]:
    """Revoke an account's live tokens (all, or the one starting with ``prefix``): one's own,
    or anyone's with the users-manage permission. The prefixes revoked; none, and nothing
    written, when there was nothing to revoke."""
    owner = user_store.get_user(session, username=username)
    if _name(actor) != owner.username:
        _require_manage(actor, "revoking another account's tokens")
    revoked = user_store.revoke_tokens(session, username=owner.username, prefix=prefix)
    if not revoked:
        return []
    revision = user_store.next_revision(session, username=owner.username)
    change = _change(ChangeKind.TOKENS_REVOKED, owner, actor, revision, now)
    change = replace(change, token_prefixes=tuple(revoked))
    detail: dict[str, object] = {"prefix": prefix, "count": len(revoked), "revoked": revoked}
    if via:
        detail["via"] = via
    announce(session, change, action=audit.AuditAction.TOKENS_REVOKED, detail=detail)
    return revoked


def list_tokens(session: Session, *, actor: Actor, username: str) -> list[TokenInfo]:
    """An account's tokens without their secrets: one's own, or anyone's for an admin."""
    if _name(actor) != username.strip().casefold():
        _require_manage(actor, "listing another account's tokens")
    return user_store.list_tokens(session, username=username)


LANGUAGE_CHANGED = "user_language_changed"  # the audit action of a language choice
LANGUAGE_CHOICES = ("en", "ja")  # None: the browser's Accept-Language decides


def set_language(
    session: Session,
    *,
    actor: CurrentUser,
    language: str | None,
    now: datetime | None = None,
) -> tuple[CurrentUser, bool]:
    """Choose the language one reads pages (and their own calendar) in: "en", "ja", or None
    for the browser's choice. People choose for themselves only. InvalidInput names
    ``language`` for any other value; asking for the language held changes and audits nothing.
    No mail: the choice gives nobody any access."""
    if language is not None and language not in LANGUAGE_CHOICES:
        raise InvalidInput(
            [FieldError("language", f"choose one of {', '.join(LANGUAGE_CHOICES)}, or none")]
        )
    row = user_store.get_user_row(session, username=actor.username, for_update=True)
    before = row.language
    if before == language:
        return user_store.get_user(session, username=actor.username), False
    row.language = language
    session.flush()
    revision = user_store.next_revision(session, username=actor.username)
    audit.record(
        session,
        actor=actor.username,
        action=LANGUAGE_CHANGED,
        subject_type="user",
        subject_id=actor.username,
        detail={"language_before": before, "language": language, "change": revision},
        key=change_key(actor.username, revision),
        occurred_at=now or datetime.now(UTC),
    )
    return user_store.get_user(session, username=actor.username), True


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


def _checked_password(
    session: Session,
    *,
    username: str,
    password: str,
    client: str,
    now: datetime,
    max_failures: int,
    lockout_minutes: int,
) -> tuple[CurrentUser, int]:
    """The account whose password this is, and how many failed attempts from ``client`` came
    before; SignInRefused otherwise. Commits the throttle's claim (see :func:`sign_in`)."""
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
    return user, throttle.clear_sign_in_failures(session, username=name, client=client, now=now)


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
    user, failures = _checked_password(
        session,
        username=username,
        password=password,
        client=client,
        now=now,
        max_failures=max_failures,
        lockout_minutes=lockout_minutes,
    )
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


def sign_in_for_token(
    session: Session,
    *,
    username: str,
    password: str,
    client: str,
    now: datetime,
    max_failures: int,
    lockout_minutes: int,
    name: str,
    valid_days: int | None,
) -> IssuedToken:
    """Sign in with a password and issue oneself an API token (``renewals users login``):
    throttled, committed and refused as :func:`sign_in` is; the token's audit entry and mail
    are :func:`issue_token`'s. Service accounts have no password, so never get here."""
    user, _failures = _checked_password(
        session,
        username=username,
        password=password,
        client=client,
        now=now,
        max_failures=max_failures,
        lockout_minutes=lockout_minutes,
    )
    return issue_token(
        session,
        actor=user,
        username=user.username,
        name=name,
        valid_days=valid_days,
        via=f"password sign-in ({client})",
        now=now,
    )


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
    "LANGUAGE_CHANGED",
    "LANGUAGE_CHOICES",
    "Actor",
    "CurrentUser",
    "IssuedToken",
    "SignInRefused",
    "SignedIn",
    "TokenInfo",
    "WebSession",
    "count_users",
    "create_user",
    "deactivate_user",
    "end_session",
    "issue_token",
    "list_tokens",
    "list_users",
    "normalise_username",
    "resolve_session",
    "resolve_token",
    "revoke_tokens",
    "set_language",
    "set_roles",
    "sign_in",
    "sign_in_for_token",
    "token_refusal",
]
