"""The Temporal Schedule that starts the weekly digest (issue 17): DigestWorkflow every
DIGEST_WEEKDAY (0 = Monday) at DIGEST_HOUR:00 in DIGEST_TIME_ZONE.

Policies, chosen on purpose:

* overlap SKIP: a digest still sending when the next week's is due would only find its rows;
* catch-up window of one day: after an outage the missed digest is sent once if the scheduler
  comes back the same day, and skipped otherwise (the next week's digest lists everything
  still open; a digest days late would show a week already half gone).

A re-run in the same week (a trigger, a backfill) stages nothing twice: each digest is keyed
by person and ISO week.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleCalendarSpec,
    ScheduleHandle,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleRange,
    ScheduleSpec,
    ScheduleState,
)

from config.settings import Settings
from models.digest import DigestInput
from workflows.digest import DigestWorkflow

CATCHUP_WINDOW = timedelta(days=1)
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


@dataclass(frozen=True, slots=True)
class DigestScheduleSummary:
    schedule_id: str
    paused: bool
    weekday: int  # 0 = Monday, as DIGEST_WEEKDAY
    hour: int
    time_zone: str
    next_runs: list[datetime]
    recent_runs: list[datetime]

    @property
    def when(self) -> str:
        return f"every {WEEKDAYS[self.weekday]} at {self.hour:02d}:00 {self.time_zone}"


def digest_schedule(settings: Settings) -> Schedule:
    # Temporal counts weekdays from Sunday (0); DIGEST_WEEKDAY from Monday (0), as Python does.
    temporal_weekday = (settings.digest_weekday + 1) % 7
    return Schedule(
        action=ScheduleActionStartWorkflow(
            DigestWorkflow.run,
            DigestInput(time_zone=settings.digest_time_zone),
            id=f"{settings.digest_schedule_id}-run",
            task_queue=settings.temporal_task_queue,
        ),
        spec=ScheduleSpec(
            calendars=[
                ScheduleCalendarSpec(
                    day_of_week=[ScheduleRange(temporal_weekday)],
                    hour=[ScheduleRange(settings.digest_hour)],
                    minute=[ScheduleRange(0)],
                    second=[ScheduleRange(0)],
                )
            ],
            time_zone_name=settings.digest_time_zone,
        ),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP, catchup_window=CATCHUP_WINDOW),
        state=ScheduleState(note="weekly renewal digest"),
    )


async def create_digest_schedule(
    client: Client, *, settings: Settings
) -> tuple[ScheduleHandle, bool]:
    """Create the schedule; (handle, False) when it already exists (left as it is)."""
    try:
        handle = await client.create_schedule(
            settings.digest_schedule_id, digest_schedule(settings)
        )
    except ScheduleAlreadyRunningError:
        return client.get_schedule_handle(settings.digest_schedule_id), False
    return handle, True


async def describe_digest_schedule(client: Client, *, settings: Settings) -> DigestScheduleSummary:
    desc = await client.get_schedule_handle(settings.digest_schedule_id).describe()
    spec = desc.schedule.spec
    cal = spec.calendars[0]
    return DigestScheduleSummary(
        schedule_id=settings.digest_schedule_id,
        paused=desc.schedule.state.paused,
        weekday=(cal.day_of_week[0].start - 1) % 7,
        hour=cal.hour[0].start,
        time_zone=spec.time_zone_name or "UTC",
        next_runs=list(desc.info.next_action_times[:5]),
        recent_runs=[a.scheduled_at for a in desc.info.recent_actions[-5:]],
    )


async def delete_digest_schedule(client: Client, *, settings: Settings) -> None:
    await client.get_schedule_handle(settings.digest_schedule_id).delete()


async def trigger_digest_schedule(client: Client, *, settings: Settings) -> None:
    await client.get_schedule_handle(settings.digest_schedule_id).trigger(
        overlap=ScheduleOverlapPolicy.ALLOW_ALL
    )
