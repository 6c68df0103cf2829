"""Request and response bodies of the account API (``/users`` and ``/me/tokens``): accounts
with their kind, roles, deactivation and API tokens."""

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from auth.roles import AccountKind
from models.users import CurrentUser, TokenInfo


class AccountIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: Annotated[str, Field(max_length=120)]
    display_name: Annotated[str, Field(max_length=200)] = ""
    roles: list[str]
    password: Annotated[str | None, Field(max_length=1024)] = None
    kind: AccountKind = Field(
        AccountKind.PERSON,
        description="`service` for an integration: no password, tokens issued by an "
        "administrator, roles procurement, procurement_lead or reader only",
    )


class AccountOut(BaseModel):
    username: str
    display_name: str
    roles: list[str]
    kind: AccountKind
    active: bool

    @classmethod
    def of(cls, user: CurrentUser, *, active: bool = True) -> "AccountOut":
        return cls(
            username=user.username,
            display_name=user.display_name,
            roles=sorted(r.value for r in user.roles),
            kind=user.kind,
            active=active,
        )


class RolesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    roles: list[str]


class RolesOut(AccountOut):
    changed: bool = Field(description="False when the account held these roles already")


class DeactivationOut(BaseModel):
    username: str
    changed: bool = Field(description="False when the account was deactivated already")
    revoked: list[str] = Field(description="Prefixes of the tokens this revoked")


class TokenRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=100)] = "api"
    valid_days: Annotated[int, Field(ge=1, le=3650)] = 90
    request_id: Annotated[
        str | None,
        Field(
            min_length=1,
            max_length=100,
            description="Retry-safe: a second request with it issues nothing (409)",
        ),
    ] = None


class TokenListed(BaseModel):
    prefix: str
    name: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None

    @classmethod
    def of(cls, token: TokenInfo) -> "TokenListed":
        return cls(
            prefix=token.prefix,
            name=token.name,
            created_at=token.created_at,
            expires_at=token.expires_at,
            revoked_at=token.revoked_at,
            last_used_at=token.last_used_at,
        )


class RevokedOut(BaseModel):
    revoked: list[str] = Field(description="Prefixes of the tokens revoked (none: nothing to do)")
