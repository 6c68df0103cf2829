"""The signed-in person, as every permission check, service and audit entry sees them."""

from dataclasses import dataclass
from datetime import datetime

from auth.roles import AccountKind, Permission, Role, permissions_for


@dataclass(frozen=True, slots=True)
class CurrentUser:
    """The signed-in person as every permission check and audit row sees them."""

    id: int
    username: str
    display_name: str
    roles: frozenset[Role]
    kind: AccountKind = AccountKind.PERSON  # a person's account, or a service account
    language: str | None = None  # "en" or "ja" when the person chose; else the browser decides

    @property
    def permissions(self) -> frozenset[Permission]:
        return permissions_for(self.roles)

    def can(self, permission: Permission) -> bool:
        return permission in self.permissions


@dataclass(frozen=True, slots=True)
class IssuedToken:
    secret: str  # shown once; only its hash is stored
    prefix: str
    name: str
    expires_at: datetime | None


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """One API token as its owner and administrators see it: never the secret."""

    prefix: str
    name: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None


@dataclass(frozen=True, slots=True)
class WebSession:
    user: CurrentUser
    csrf_token: str
