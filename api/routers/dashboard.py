"""Numbers for managers."""

from typing import Annotated

from fastapi import APIRouter

from auth.roles import Permission
from models.users import CurrentUser
from portal.deps import SessionDep, StateDep, require
from store.reads import dashboard as dashboard_reads

router = APIRouter(prefix="/dashboard", tags=["dashboard"])


@router.get("")
def dashboard(
    db: SessionDep, state: StateDep, _: Annotated[CurrentUser, require(Permission.DASHBOARD)]
) -> dashboard_reads.Dashboard:
    return dashboard_reads.dashboard(db, today=state.today())
