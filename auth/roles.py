"""Roles and the permissions they grant. Anything not granted here is refused.

A user may hold several roles. Segregation of duties for approvals is enforced on the draft
(who requested it), not by forbidding role combinations: a procurement user who also holds
the legal role may review drafts other people asked for.
"""

from collections.abc import Iterable
from enum import StrEnum


class Role(StrEnum):
    PROCUREMENT = "procurement"
    LEGAL = "legal"
    ADMIN = "admin"
    # Leads hold their team role and more: a procurement lead may act on anyone's contracts;
    # the legal lead is told of every account and role change.
    PROCUREMENT_LEAD = "procurement_lead"
    LEGAL_LEAD = "legal_lead"


class Permission(StrEnum):
    SIGNED_IN = "signed_in"  # any role: see who you are, sign out
    CONTRACTS_READ = "contracts_read"  # contracts, suppliers, pipeline, renewal details
    CONTRACTS_WRITE = "contracts_write"  # imports and amendments
    EXPORT = "export"
    RENEWALS_WRITE = "renewals_write"  # start, cancel, ask for a redraft
    REVIEW = "review"  # legal decisions on drafts, the review queue
    DASHBOARD = "dashboard"
    AUDIT_READ = "audit_read"
    USERS_MANAGE = "users_manage"
    ANY_OWNER = "any_owner"  # change contracts and renewals whoever owns them


_PROCUREMENT = frozenset(
    {
        Permission.SIGNED_IN,
        Permission.CONTRACTS_READ,
        Permission.CONTRACTS_WRITE,
        Permission.EXPORT,
        Permission.RENEWALS_WRITE,
        Permission.DASHBOARD,
    }
)
_LEGAL = frozenset({Permission.SIGNED_IN, Permission.CONTRACTS_READ, Permission.REVIEW})

ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.PROCUREMENT: _PROCUREMENT,
    Role.PROCUREMENT_LEAD: _PROCUREMENT | {Permission.ANY_OWNER},
    Role.LEGAL: _LEGAL,
    Role.LEGAL_LEAD: _LEGAL,
    # Administrators run the system and answer auditors; they neither buy nor approve, so an
    # admin account cannot be used to push a renewal through on its own.
    Role.ADMIN: frozenset(
        {
            Permission.SIGNED_IN,
            Permission.CONTRACTS_READ,
            Permission.EXPORT,
            Permission.DASHBOARD,
            Permission.AUDIT_READ,
            Permission.USERS_MANAGE,
        }
    ),
}


def parse_roles(value: str | Iterable[str]) -> frozenset[Role]:
    """Roles from ``"legal,procurement"`` or a list; unknown names raise ValueError."""
    names = value.split(",") if isinstance(value, str) else list(value)
    roles: set[Role] = set()
    for name in names:
        cleaned = name.strip().lower()
        if not cleaned:
            continue
        try:
            roles.add(Role(cleaned))
        except ValueError:
            known = ", ".join(r.value for r in Role)
            raise ValueError(f"unknown role {name.strip()!r} (known: {known})") from None
    if not roles:
        raise ValueError("at least one role is required")
    return frozenset(roles)


def format_roles(roles: Iterable[Role]) -> str:
    return ",".join(sorted(r.value for r in roles))


def permissions_for(roles: Iterable[Role]) -> frozenset[Permission]:
    granted: set[Permission] = set()
    for role in roles:
        granted |= ROLE_PERMISSIONS.get(role, frozenset())
    return frozenset(granted)
