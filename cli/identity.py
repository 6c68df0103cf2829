"""Who the CLI acts for.

Deny by default: once a database has users, every command that changes something acts only for
the owner of the API token in ``RENEWALS_API_TOKEN`` (``renewals users token NAME``), with that
user's roles; ``--by`` / ``--reviewer`` may then be left out, and if given must name the token's
owner. A database with no users yet (a fresh local setup, before anyone was created) is run by
its operator, who must say who they are with ``--by`` / ``--reviewer``.
"""

import os
from typing import Any

from auth.roles import Permission
from cli.common import db_transaction, fail
from config.settings import Settings
from services import audit, users

TOKEN_ENV = "RENEWALS_API_TOKEN"  # noqa: S105 - the variable's name, not a secret


def acting_user(
    settings: Settings, *, claimed: str | None, permission: Permission, option: str = "--by"
) -> str:
    secret = os.environ.get(TOKEN_ENV, "").strip()
    with db_transaction(settings) as session:
        if secret:
            user = users.resolve_token(session, secret=secret)
            if user is None:
                fail(f"{TOKEN_ENV}: not a valid, active API token")
            if not user.can(permission):
                fail(
                    f"{user.username} ({', '.join(user.roles)}) may not do this: needs {permission}"
                )
            if claimed and users.normalise_username(claimed) != user.username:
                fail(
                    f"{option}: {claimed!r} is not the owner of {TOKEN_ENV} ({user.username}); "
                    "the CLI acts only for the token's owner"
                )
            return user.username
        has_users = users.count_users(session) > 0
    if has_users:
        fail(
            f"this database has users: set {TOKEN_ENV} to your API token "
            "(an administrator issues one with: renewals users token NAME)"
        )
    if not claimed:
        fail(f"{option}: say who you are (no users are set up in this database yet)")
    return claimed


def audit_cli_action(
    settings: Settings,
    *,
    actor: str,
    action: audit.AuditAction,
    subject_id: str,
    detail: dict[str, Any],
    key: str | None = None,
) -> None:
    # After the workflow accepted the action, in a short transaction of its own: no database
    # lock is held while Temporal is asked (the API does the same).
    with db_transaction(settings) as session:
        audit.record(
            session,
            actor=actor,
            action=action,
            subject_type="renewal",
            subject_id=subject_id,
            detail={**detail, "via": "cli"},
            key=key,
        )
