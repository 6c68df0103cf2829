"""Who the token belongs to."""

from typing import Annotated

from fastapi import APIRouter

from api.schemas import Me
from auth.roles import Permission
from models.users import CurrentUser
from portal.deps import require

router = APIRouter(prefix="/me", tags=["users"])


@router.get("")
def read_me(user: Annotated[CurrentUser, require(Permission.SIGNED_IN)]) -> Me:
    return Me(
        username=user.username,
        display_name=user.display_name,
        roles=sorted(r.value for r in user.roles),
        permissions=sorted(p.value for p in user.permissions),
    )
