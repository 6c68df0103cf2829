"""User accounts and their API tokens (administrators only)."""

from typing import Annotated

from fastapi import APIRouter, status

from api.schemas import TokenIn, TokenOut, UserIn, UserOut
from auth.roles import Permission
from portal.deps import SessionDep, require
from store import audit, users
from store.users import CurrentUser

router = APIRouter(prefix="/users", tags=["users"])

Admin = Annotated[CurrentUser, require(Permission.USERS_MANAGE)]


@router.get("")
def list_users(db: SessionDep, _: Admin) -> list[UserOut]:
    return [
        UserOut(
            username=u.username,
            display_name=u.display_name,
            roles=sorted(r.value for r in u.roles),
            active=active,
        )
        for u, active in users.list_users(db)
    ]


@router.post("", status_code=status.HTTP_201_CREATED)
def create_user(body: UserIn, db: SessionDep, admin: Admin) -> UserOut:
    created = users.create_user(
        db,
        username=body.username,
        display_name=body.display_name,
        roles=body.roles,
        password=body.password,
    )
    audit.record(
        db,
        actor=admin.username,
        action=audit.AuditAction.USER_CREATED,
        subject_type="user",
        subject_id=created.username,
        detail={"roles": sorted(r.value for r in created.roles)},
    )
    db.commit()
    return UserOut(
        username=created.username,
        display_name=created.display_name,
        roles=sorted(r.value for r in created.roles),
        active=True,
    )


@router.post("/{username}/tokens", status_code=status.HTTP_201_CREATED)
def issue_token(username: str, body: TokenIn, db: SessionDep, admin: Admin) -> TokenOut:
    issued = users.issue_token(db, username=username, name=body.name, valid_days=body.valid_days)
    audit.record(
        db,
        actor=admin.username,
        action=audit.AuditAction.TOKEN_ISSUED,
        subject_type="user",
        subject_id=username.strip().casefold(),
        detail={"name": issued.name, "prefix": issued.prefix},
    )
    db.commit()
    return TokenOut(
        token=issued.secret, prefix=issued.prefix, name=issued.name, expires_at=issued.expires_at
    )
