"""Users, API tokens and web sessions in the database: keyword-only service functions.

Secrets (API tokens, session cookies) are random 256-bit values; only their SHA-256 is stored,
so a copy of the database does not let anyone sign in. Passwords are hashed with scrypt
(:mod:`auth.passwords`).
"""

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from pydantic import TypeAdapter, ValidationError
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from auth.passwords import (
    check_policy,
    dummy_hash,
    hash_password,
    needs_rehash,
    verify_password,
)
from auth.roles import AccountKind, Role, format_roles, parse_roles, roles_refusal
from models.account_tables import ApiTokenRow, UserRow, WebSessionRow
from models.errors import Conflict, FieldError, InvalidInput, NotFound
from models.text import SingleLineText, one_email_address
from models.users import CurrentUser, IssuedToken, TokenInfo, WebSession
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
        kind=AccountKind(row.kind),
        language=row.language,
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
    kind: AccountKind | str = AccountKind.PERSON,
) -> CurrentUser:
    """A new account, or InvalidInput naming every bad field (``roles`` for a combination one
    account may not hold, :func:`auth.roles.roles_refusal`); nothing is stored then."""
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
    account_kind = _kind(kind, errors)
    refusal = roles_refusal(parsed_roles, account_kind) if parsed_roles and account_kind else None
    if refusal is not None:
        errors.append(FieldError("roles", refusal))
    if password is not None and account_kind is AccountKind.SERVICE:
        errors.append(
            FieldError("password", "a service account has no password: it uses API tokens only")
        )
    elif password is not None and (problem := check_policy(password)) is not None:
        errors.append(FieldError("password", problem))
    if errors or account_kind is None:
        raise InvalidInput(errors)
    if session.scalar(select(UserRow.id).where(UserRow.username == name)) is not None:
        raise Conflict(f"user {name!r} already exists")
    row = UserRow(
        username=name,
        display_name=display,
        roles=format_roles(parsed_roles),
        password_hash=hash_password(password) if password is not None else None,
        active=True,
        kind=account_kind.value,
        revision=0,
    )
    session.add(row)
    try:
        session.flush()
    except IntegrityError as exc:
        if violation(exc) is Violation.UNIQUE:  # a concurrent creation of the same name
            raise Conflict(f"user {name!r} already exists") from None
        raise
    return _current(row)


def _kind(kind: AccountKind | str, errors: list[FieldError]) -> AccountKind | None:
    try:
        return AccountKind(str(kind).strip().lower())
    except ValueError:
        known = ", ".join(k.value for k in AccountKind)
        errors.append(FieldError("kind", f"unknown account kind {str(kind)!r} (known: {known})"))
        return None


def get_user_row(session: Session, *, username: str, for_update: bool = False) -> UserRow:
    """The account; ``for_update`` locks its row until the transaction ends (PostgreSQL), so
    that concurrent changes of one account are made, counted and announced one after the
    other."""
    query = select(UserRow).where(UserRow.username == username.strip().casefold())
    row = session.scalar(query.with_for_update() if for_update else query)
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


def set_roles(
    session: Session, *, username: str, roles: str | list[str]
) -> tuple[frozenset[Role], frozenset[Role]]:
    """Give the account ``roles``: (roles before, roles after), equal when nothing changed.
    InvalidInput names ``roles`` for an unknown role or a combination the account's kind may
    not hold; nothing is stored then."""
    row = get_user_row(session, username=username, for_update=True)
    try:
        wanted = parse_roles(roles)
    except ValueError as exc:
        raise InvalidInput([FieldError("roles", str(exc))]) from None
    if (refusal := roles_refusal(wanted, AccountKind(row.kind))) is not None:
        raise InvalidInput([FieldError("roles", refusal)])
    before = parse_roles(row.roles)
    if wanted != before:
        row.roles = format_roles(wanted)
        session.flush()
    return before, wanted


def deactivate_user(session: Session, *, username: str) -> list[str] | None:
    """Stop the account: its tokens are revoked and its browser sessions end at once, not when
    they expire. The prefixes of the tokens revoked; None when it was deactivated already
    (nothing changes); NotFound for no such account."""
    row = get_user_row(session, username=username, for_update=True)
    if not row.active:
        return None
    row.active = False
    now = datetime.now(UTC)
    revoked: list[str] = []
    for token in session.scalars(select(ApiTokenRow).where(ApiTokenRow.user_id == row.id)):
        if token.revoked_at is None:
            token.revoked_at = now
            revoked.append(token.prefix)
    for web in session.scalars(select(WebSessionRow).where(WebSessionRow.user_id == row.id)):
        session.delete(web)
    session.flush()
    return sorted(revoked)


def next_revision(session: Session, *, username: str) -> int:
    """Count one more change of the account and return its number: the key of that change's
    audit entry and mail. One ``UPDATE ... RETURNING``, so two changes never get one number."""
    return int(
        session.execute(
            update(UserRow)
            .where(UserRow.username == username.strip().casefold())
            .values(revision=UserRow.revision + 1)
            .returning(UserRow.revision)
            .execution_options(synchronize_session=False)
        ).scalar_one()
    )


def legal_leads(session: Session) -> tuple[list[str], list[str]]:
    """Who is told of account changes: the active people holding the legal lead role, as
    (their e-mail addresses, the names of those whose user name is no e-mail address). A user
    name is the only address an account has: it is fixed when the account is made, so nobody
    can redirect the mail meant to watch them."""
    addresses: list[str] = []
    unreachable: list[str] = []
    rows = session.scalars(
        select(UserRow)
        .where(UserRow.active.is_(True), UserRow.kind == AccountKind.PERSON.value)
        .order_by(UserRow.username)
    )
    for row in rows:
        if Role.LEGAL_LEAD not in parse_roles(row.roles):
            continue
        try:
            addresses.append(one_email_address(row.username))
        except ValueError:
            unreachable.append(row.username)
    return addresses, unreachable


def account_exists(session: Session, *, username: str) -> bool:
    return session.scalar(select(UserRow.id).where(UserRow.username == username)) is not None


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
    try:  # the name is shown in listings and in the mail that announces the token
        label = _DISPLAY_NAME.validate_python(label)
    except ValidationError as exc:
        raise InvalidInput(
            [
                FieldError(
                    "name",
                    str(exc.errors(include_url=False)[0]["msg"]).removeprefix("Value error, "),
                )
            ]
        ) from None
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


def revoke_tokens(session: Session, *, username: str, prefix: str | None = None) -> list[str]:
    """Revoke the account's live tokens (all, or the one starting with ``prefix``): the
    prefixes revoked, none when there was nothing to revoke."""
    row = get_user_row(session, username=username, for_update=True)
    query = select(ApiTokenRow).where(
        ApiTokenRow.user_id == row.id, ApiTokenRow.revoked_at.is_(None)
    )
    if prefix is not None:
        query = query.where(ApiTokenRow.prefix == prefix.strip())
    revoked: list[str] = []
    for token in session.scalars(query):
        token.revoked_at = datetime.now(UTC)
        revoked.append(token.prefix)
    session.flush()
    return sorted(revoked)


def list_tokens(session: Session, *, username: str) -> list[TokenInfo]:
    """The account's tokens, newest first, without their secrets."""
    row = get_user_row(session, username=username)
    tokens = session.scalars(
        select(ApiTokenRow)
        .where(ApiTokenRow.user_id == row.id)
        .order_by(ApiTokenRow.created_at.desc(), ApiTokenRow.id.desc())
    )
    return [
        TokenInfo(
            prefix=t.prefix,
            name=t.name,
            created_at=utc(t.created_at),
            expires_at=utc(t.expires_at) if t.expires_at else None,
            revoked_at=utc(t.revoked_at) if t.revoked_at else None,
            last_used_at=utc(t.last_used_at) if t.last_used_at else None,
        )
        for t in tokens
    ]


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


def chosen_languages(session: Session, usernames: Iterable[str]) -> dict[str, str]:
    """The language each of ``usernames`` chose (users.language), by casefolded username.
    People who chose none, or have no account, are left out: what they read falls back to
    the contract's language (mails, calendar feeds) or the browser's (pages)."""
    # Casefolded as usernames are stored; a contract's owner need not be a valid username.
    wanted = {name.strip().casefold() for name in usernames if name.strip()}
    if not wanted:
        return {}
    return {
        name: lang
        for name, lang in session.execute(
            select(UserRow.username, UserRow.language).where(
                UserRow.username.in_(wanted), UserRow.language.is_not(None)
            )
        )
        if lang
    }


MAIL_IMMEDIATE = "immediate"  # every renewal mail as it happens (and the weekly digest)
MAIL_DIGEST = "digest"  # the weekly digest only; escalations still come at once
MAIL_DELIVERIES = (MAIL_IMMEDIATE, MAIL_DIGEST)


def mail_delivery(session: Session, *, username: str) -> str:
    """How renewal mails reach ``username``: ``immediate`` or ``digest``."""
    return get_user_row(session, username=username).mail_delivery or MAIL_IMMEDIATE


def set_mail_delivery(session: Session, *, username: str, delivery: str) -> str:
    """Store the choice and return the one held before (the service checks and audits)."""
    row = get_user_row(session, username=username, for_update=True)
    before = row.mail_delivery or MAIL_IMMEDIATE
    row.mail_delivery = delivery
    session.flush()
    return before


def digest_only(session: Session, usernames: Iterable[str]) -> set[str]:
    """Those of ``usernames`` (casefolded) whose active account chose the digest only: the
    immediate mails leave them out. People without an account get every mail."""
    wanted = {name.strip().casefold() for name in usernames if name.strip()}
    if not wanted:
        return set()
    return set(
        session.scalars(
            select(UserRow.username).where(
                UserRow.username.in_(wanted),
                UserRow.mail_delivery == MAIL_DIGEST,
                UserRow.active.is_(True),
            )
        )
    )
