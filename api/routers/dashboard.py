"""Numbers for managers."""

from typing import Annotated

from fastapi import APIRouter

from auth.roles import Permission
from models.users import CurrentUser
from portal.deps import SessionDep, SettingsDep, StateDep, require
from store.reads import dashboard as dashboard_reads

router = APIRouter(prefix="/dashboard", tags=["dashboard"])


@router.get("")
def dashboard(
    db: SessionDep,
    state: StateDep,
    settings: SettingsDep,
    _: Annotated[CurrentUser, require(Permission.DASHBOARD)],
) -> dashboard_reads.Dashboard:
    """Contracts by stage, how many expire within 30, 90 and 180 days, suppliers' scores, and
    the soonest to expire with their end date, notice deadline, send-by date and next
    milestone: the running renewal's stored plan, or a preview (``plan_preview``) when none
    runs."""
    return dashboard_reads.dashboard(
        db,
        today=state.today(),
        policy=settings.renewal_policy,
        cfg=settings.calendar_settings,
    )
