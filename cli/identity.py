"""Who the CLI acts for, as the services see them: a :class:`~models.users.CurrentUser`.

Deny by default: once a database has users, every command that changes something acts only for
the owner of the API token in ``RENEWALS_API_TOKEN`` (``renewals users login NAME``), with that
user's roles; ``--by`` / ``--reviewer`` may then be left out, and if given must name the token's
owner. A database with no users yet (a fresh local setup, before anyone was created) is run by
its operator, who says who they are with ``--by`` / ``--reviewer`` (some commands default to the
login name); the operator acts with the one role the command needs (id 0: no stored account).

This holds for every command that changes or exports data, and each of those writes its audit
entry (:func:`audit_entry`) naming the user returned here.
"""

import getpass
import os
from typing import Annotated, Any

import typer

from auth.roles import ROLE_PERMISSIONS, Permission, Role
from cli.common import db_transaction, fail
from config.settings import Settings
from models.errors import InvalidInput
from models.users import CurrentUser
from services import audit, users

TOKEN_ENV = "RENEWALS_API_TOKEN"  # noqa: S105 - the variable's name, not a secret

OPERATOR_ID = 0  # the operator of a database without users has no stored account

ByOption = Annotated[
    str | None,
    typer.Option(
        "--by",
        help="Who is asking; with RENEWALS_API_TOKEN set it defaults to (and must be) the "
        "token's owner; without users in the database it defaults to your login name",
    ),
]


def acting_user(
    settings: Settings,
    *,
    claimed: str | None,
    permission: Permission,
    option: str = "--by",
    default: str | None = None,
) -> CurrentUser:
    """The person a command acts for, allowed ``permission``; anything else stops the command.

    ``default`` names the operator of a database without users when ``claimed`` is empty; it is
    never compared with a token's owner."""
    secret = os.environ.get(TOKEN_ENV, "").strip()
    claimed = (claimed or "").strip() or None
    with db_transaction(settings) as session:
        if secret:
            user = users.resolve_token(session, secret=secret)
            if user is None:
                fail(f"{TOKEN_ENV}: not a valid, active API token")
            if not user.can(permission):
                fail(
                    f"{user.username} ({', '.join(sorted(user.roles))}) may not do this: "
                    f"needs {permission}"
                )
            if claimed and not _names(claimed, user.username):
                fail(
                    f"{option}: {claimed!r} is not the owner of {TOKEN_ENV} ({user.username}); "
                    "the CLI acts only for the token's owner"
                )
            return user
        has_users = users.count_users(session) > 0
    if has_users:
        fail(
            f"this database has users: set {TOKEN_ENV} to your API token "
            "(get your own with: renewals users login NAME)"
        )
    claimed = claimed or ((default or "").strip() or None)
    if not claimed:
        fail(f"{option}: say who you are (no users are set up in this database yet)")
    return operator(claimed, permission=permission)


def operator(username: str, *, permission: Permission) -> CurrentUser:
    """The operator of a database without users, holding the least role that grants
    ``permission`` (procurement to start, amend, cancel or redraft; legal to review)."""
    granting = [role for role in Role if permission in ROLE_PERMISSIONS.get(role, frozenset())]
    if not granting:  # pragma: no cover - every permission is granted by some role
        fail(f"no role grants {permission}")
    role = min(granting, key=lambda r: len(ROLE_PERMISSIONS[r]))
    return CurrentUser(
        id=OPERATOR_ID, username=username, display_name=username, roles=frozenset({role})
    )


def login_name() -> str:
    """The operator's login name, the default ``--by`` of commands run without users."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name (some containers)
        return "cli"


def audit_entry(
    settings: Settings,
    user: CurrentUser,
    *,
    action: audit.AuditAction,
    subject_type: str,
    subject_id: str,
    detail: dict[str, Any] | None = None,
) -> None:
    """One audit entry, in its own transaction, for an action done outside the database (a
    Temporal schedule change, a file written); database changes write theirs in the change's
    own transaction instead."""
    with db_transaction(settings) as session:
        audit.record(
            session,
            actor=user.username,
            action=action,
            subject_type=subject_type,
            subject_id=subject_id,
            detail=detail,
        )


def _names(claimed: str, username: str) -> bool:
    try:
        return users.normalise_username(claimed) == username
    except InvalidInput:  # not even a possible user name: not the token's owner
        return False
