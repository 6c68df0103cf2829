"""Accounts and their API tokens (administrators only): create people's and service accounts,
change roles, deactivate, issue tokens for service accounts (never for a person: people issue
their own at ``/me/tokens``) and revoke anyone's tokens. Every change is audited and announced
to the legal lead (services.users)."""

from typing import Annotated

from fastapi import APIRouter, status

from api.account_schemas import (
    AccountIn,
    AccountOut,
    DeactivationOut,
    RevokedOut,
    RolesIn,
    RolesOut,
    TokenRequest,
)
from api.schemas import TokenOut
from auth.roles import Permission
from models.users import CurrentUser
from portal.deps import SessionDep, require
from services import users

router = APIRouter(prefix="/users", tags=["users"])

Admin = Annotated[CurrentUser, require(Permission.USERS_MANAGE)]


@router.get("")
def list_users(db: SessionDep, _: Admin) -> list[AccountOut]:
    return [AccountOut.of(u, active=active) for u, active in users.list_users(db)]


@router.post("", status_code=status.HTTP_201_CREATED)
def create_user(body: AccountIn, db: SessionDep, admin: Admin) -> AccountOut:
    created = users.create_user(
        db,
        actor=admin,
        username=body.username,
        display_name=body.display_name,
        roles=body.roles,
        password=body.password,
        kind=body.kind,
    )
    db.commit()
    return AccountOut.of(created)


@router.put("/{username}/roles")
def set_roles(username: str, body: RolesIn, db: SessionDep, admin: Admin) -> RolesOut:
    user, changed = users.set_roles(db, actor=admin, username=username, roles=body.roles)
    db.commit()
    return RolesOut(**AccountOut.of(user).model_dump(), changed=changed)


@router.post("/{username}/deactivation")
def deactivate(username: str, db: SessionDep, admin: Admin) -> DeactivationOut:
    revoked = users.deactivate_user(db, actor=admin, username=username, via="api")
    db.commit()
    return DeactivationOut(
        username=username.strip().casefold(), changed=revoked is not None, revoked=revoked or []
    )


@router.post("/{username}/tokens", status_code=status.HTTP_201_CREATED)
def issue_token(username: str, body: TokenRequest, db: SessionDep, admin: Admin) -> TokenOut:
    """A token for a service account (403 for a person: they issue their own)."""
    issued = users.issue_token(
        db,
        actor=admin,
        username=username,
        name=body.name,
        valid_days=body.valid_days,
        request_id=body.request_id,
        via="api",
    )
    db.commit()
    return TokenOut(
        token=issued.secret, prefix=issued.prefix, name=issued.name, expires_at=issued.expires_at
    )


@router.delete("/{username}/tokens")
def revoke_tokens(
    username: str, db: SessionDep, admin: Admin, prefix: str | None = None
) -> RevokedOut:
    revoked = users.revoke_tokens(db, actor=admin, username=username, prefix=prefix, via="api")
    db.commit()
    return RevokedOut(revoked=revoked)
