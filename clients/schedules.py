"""The Temporal Schedule that runs the renewal sweep every day.

Policies, chosen on purpose:

* overlap SKIP: a sweep still paging when the next one is due makes the next one pointless
  (both would start the same renewals; starts are idempotent anyway);
* catch-up window of one day: after an outage the scheduler runs the missed sweep once, not
  once per missed day, because a sweep is "everything due as of now" and one covers them all.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleBackfill,
    ScheduleCalendarSpec,
    ScheduleDescription,
    ScheduleHandle,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleRange,
    ScheduleSpec,
    ScheduleState,
)

from config.settings import Settings
from models.sweep import SweepInput
from workflows.sweep import RenewalSweepWorkflow

CATCHUP_WINDOW = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class ScheduleSummary:
    schedule_id: str
    paused: bool
    note: str
    next_runs: list[datetime]
    recent_runs: list[datetime]
    time_zone: str
    daily_at: str


def _schedule(settings: Settings) -> Schedule:
    hour, minute = (int(part) for part in settings.sweep_time.split(":"))
    return Schedule(
        action=ScheduleActionStartWorkflow(
            RenewalSweepWorkflow.run,
            SweepInput(batch_size=settings.sweep_batch_size, policy=settings.renewal_policy),
            id=f"{settings.sweep_schedule_id}-run",
            task_queue=settings.resolved_sweep_task_queue,
        ),
        spec=ScheduleSpec(
            calendars=[
                ScheduleCalendarSpec(
                    hour=[ScheduleRange(hour)],
                    minute=[ScheduleRange(minute)],
                    second=[ScheduleRange(0)],
                )
            ],
            time_zone_name=settings.sweep_time_zone,
        ),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP, catchup_window=CATCHUP_WINDOW),
        state=ScheduleState(note="daily renewal sweep"),
    )


async def create_schedule(client: Client, *, settings: Settings) -> tuple[ScheduleHandle, bool]:
    """Create the schedule; (handle, False) when it already exists (left as it is)."""
    try:
        handle = await client.create_schedule(settings.sweep_schedule_id, _schedule(settings))
    except ScheduleAlreadyRunningError:
        return client.get_schedule_handle(settings.sweep_schedule_id), False
    return handle, True


def summary(schedule_id: str, desc: ScheduleDescription) -> ScheduleSummary:
    spec = desc.schedule.spec
    cal = spec.calendars[0] if spec.calendars else None
    daily_at = f"{cal.hour[0].start:02d}:{cal.minute[0].start:02d}" if cal else "?"
    return ScheduleSummary(
        schedule_id=schedule_id,
        paused=desc.schedule.state.paused,
        note=desc.schedule.state.note or "",
        next_runs=list(desc.info.next_action_times[:5]),
        recent_runs=[a.scheduled_at for a in desc.info.recent_actions[-5:]],
        time_zone=spec.time_zone_name or "UTC",
        daily_at=daily_at,
    )


async def describe_schedule(client: Client, *, settings: Settings) -> ScheduleSummary:
    handle = client.get_schedule_handle(settings.sweep_schedule_id)
    return summary(settings.sweep_schedule_id, await handle.describe())


async def pause_schedule(client: Client, *, settings: Settings, note: str) -> None:
    await client.get_schedule_handle(settings.sweep_schedule_id).pause(note=note)


async def unpause_schedule(client: Client, *, settings: Settings, note: str) -> None:
    await client.get_schedule_handle(settings.sweep_schedule_id).unpause(note=note)


async def trigger_schedule(client: Client, *, settings: Settings) -> None:
    # ALLOW_ALL: someone asked for a sweep now; do not skip it because one is running.
    await client.get_schedule_handle(settings.sweep_schedule_id).trigger(
        overlap=ScheduleOverlapPolicy.ALLOW_ALL
    )


async def backfill_schedule(
    client: Client, *, settings: Settings, start_at: datetime, end_at: datetime
) -> None:
    await client.get_schedule_handle(settings.sweep_schedule_id).backfill(
        ScheduleBackfill(start_at=start_at, end_at=end_at, overlap=ScheduleOverlapPolicy.ALLOW_ALL)
    )
