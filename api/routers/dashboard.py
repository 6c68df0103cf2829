"""Numbers for managers."""

from typing import Annotated

from fastapi import APIRouter

from auth.roles import Permission
from models.users import CurrentUser
from portal.deps import SessionDep, StateDep, require
from store.reads import pipeline as pipeline_store

router = APIRouter(prefix="/dashboard", tags=["dashboard"])


@router.get("")
def dashboard(
    db: SessionDep, state: StateDep, _: Annotated[CurrentUser, require(Permission.DASHBOARD)]
) -> pipeline_store.Dashboard:
    return pipeline_store.dashboard(db, today=state.today())
