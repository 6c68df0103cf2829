"""Helpers for workflow tests on the time-skipping server."""

import os
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from domain.milestones import plan_milestones
from models.milestones import MilestoneKind, RenewalPolicy


async def today(env: WorkflowEnvironment) -> date:
    return (await env.get_current_time()).date()


async def skip_past(
    env: WorkflowEnvironment,
    kind: MilestoneKind,
    *,
    end_date: date,
    notice_period_days: int,
    policy: RenewalPolicy | None = None,
) -> None:
    """Let the server clock run until just after ``kind`` has fired."""
    policy = policy or RenewalPolicy()
    now = await env.get_current_time()
    plan = plan_milestones(
        end_date=end_date, notice_period_days=notice_period_days, today=now.date(), policy=policy
    )
    due = datetime.combine(plan.get(kind).due, time(policy.fire_hour_utc), tzinfo=UTC)
    delta = due - now + timedelta(hours=1)
    if delta > timedelta(0):
        await env.sleep(delta)


async def result_of(env: WorkflowEnvironment, handle: WorkflowHandle[Any, Any]) -> Any:
    """Await a workflow's result with time skipping unlocked, whatever made the handle."""
    async with env.time_skipping_unlocked():  # type: ignore[attr-defined]
        return await handle.result()


HISTORIES = Path(__file__).parent / "histories"


async def save_history(handle: WorkflowHandle[Any, Any], name: str) -> None:
    """With RECORD_HISTORIES=<set>, keep this run's history in tests/histories/<set>/ for the
    replay test (tests/test_replay.py). Histories are committed: they are what running renewals
    look like, and every later workflow change must still replay all of them. Record a new set
    for each workflow version; never overwrite an old one."""
    target = os.environ.get("RECORD_HISTORIES")
    if not target:
        return
    history = await handle.fetch_history()
    folder = HISTORIES / target
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.json").write_text(history.to_json(), encoding="utf-8")
