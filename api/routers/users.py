"""User accounts and their API tokens (administrators only)."""

from typing import Annotated

from fastapi import APIRouter, status

from api.schemas import TokenIn, TokenOut, UserIn, UserOut
from auth.roles import Permission
from models.users import CurrentUser
from portal.deps import SessionDep, require
from services import users

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
        actor=admin.username,
        username=body.username,
        display_name=body.display_name,
        roles=body.roles,
        password=body.password,
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
    issued = users.issue_token(
        db, actor=admin.username, username=username, name=body.name, valid_days=body.valid_days
    )
    db.commit()
    return TokenOut(
        token=issued.secret, prefix=issued.prefix, name=issued.name, expires_at=issued.expires_at
    )
