"""Roles and the permissions they grant. Anything not granted here is refused.

A user may hold several roles. Segregation of duties for approvals is enforced on the draft
(who requested it): a procurement user who also holds the legal role may review drafts other
people asked for. Two combinations are refused on one account (:func:`roles_refusal`): an
administrator manages accounts and neither buys nor approves, so admin is never held with a
procurement or legal role; and a service account (an integration, not a person) never holds a
role that approves or manages accounts.
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
    # Reads contracts, renewals and the dashboard and changes nothing: for integrations that
    # only look (a reporting tool), and people who only need to see.
    READER = "reader"


class AccountKind(StrEnum):
    """Whose account: a person's (signs in, issues their own tokens) or an integration's (no
    password; an administrator issues its tokens)."""

    PERSON = "person"
    SERVICE = "service"


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
    Role.READER: frozenset({Permission.SIGNED_IN, Permission.CONTRACTS_READ, Permission.DASHBOARD}),
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


# Roles an administrator may not hold as well: buying (procurement) and approving (legal).
NOT_WITH_ADMIN: frozenset[Role] = frozenset(
    {Role.PROCUREMENT, Role.PROCUREMENT_LEAD, Role.LEGAL, Role.LEGAL_LEAD}
)
# What a service account may hold: roles that neither approve nor manage accounts.
SERVICE_ROLES: frozenset[Role] = frozenset({Role.PROCUREMENT, Role.PROCUREMENT_LEAD, Role.READER})


def _names(roles: Iterable[Role]) -> str:
    return ", ".join(sorted(r.value for r in roles))


def roles_refusal(roles: Iterable[Role], kind: AccountKind) -> str | None:
    """Why one account may not hold ``roles``, or None when it may."""
    held = frozenset(roles)
    if kind is AccountKind.SERVICE and (barred := held - SERVICE_ROLES):
        return (
            f"a service account is for an integration and never approves or manages "
            f"accounts: it may hold {_names(SERVICE_ROLES)} only, not {_names(barred)}"
        )
    if Role.ADMIN in held and (mixed := held & NOT_WITH_ADMIN):
        return (
            f"an administrator manages accounts and neither buys nor approves: admin cannot "
            f"be held together with {_names(mixed)} on one account"
        )
    return None


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


def home_path(permissions: frozenset[Permission]) -> str:
    """The page a person's work starts from: legal's review queue, a buyer's pipeline, a
    manager's dashboard, else their account. The web app's ``/`` sends them there, and a mail
    that opens "the workspace" links there directly (a link that answers at once, not with a
    redirect)."""
    if Permission.REVIEW in permissions:
        return "/reviews"
    if Permission.RENEWALS_WRITE in permissions:
        return "/pipeline"  # a buyer's work starts from the pipeline of contracts
    if Permission.DASHBOARD in permissions:
        return "/dashboard"
    if Permission.CONTRACTS_READ in permissions:
        return "/pipeline"
    return "/account"
