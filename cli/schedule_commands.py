"""`renewals schedule ...`: manage the daily sweep Schedule on Temporal."""

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, time
from typing import Annotated, TypeVar

import typer
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from clients import schedules
from config.settings import Settings, get_settings
from config.temporal import connect

app = typer.Typer(help="The daily sweep that starts renewals as contracts come into range.")

T = TypeVar("T")


def _run(action: Callable[[Client, Settings], Awaitable[T]]) -> T:
    settings = get_settings()

    async def main() -> T:
        client = await connect(settings)
        return await action(client, settings)

    try:
        return asyncio.run(main())
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            typer.echo(
                f"schedule {settings.sweep_schedule_id!r} does not exist; "
                "create it with: renewals schedule create",
                err=True,
            )
            raise typer.Exit(1) from None
        raise


@app.command()
def create() -> None:
    """Create the schedule (daily at SWEEP_TIME in SWEEP_TIME_ZONE); a no-op if it exists."""
    _, created = _run(lambda c, s: schedules.create_schedule(c, settings=s))
    s = get_settings()
    if created:
        typer.echo(f"created {s.sweep_schedule_id}: daily at {s.sweep_time} {s.sweep_time_zone}")
    else:
        typer.echo(f"{s.sweep_schedule_id} already exists; left unchanged")


@app.command()
def describe(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Show the schedule: state, time, next and recent runs."""
    info = _run(lambda c, s: schedules.describe_schedule(c, settings=s))
    data = {
        "schedule_id": info.schedule_id,
        "paused": info.paused,
        "note": info.note,
        "daily_at": info.daily_at,
        "time_zone": info.time_zone,
        "next_runs": [t.isoformat() for t in info.next_runs],
        "recent_runs": [t.isoformat() for t in info.recent_runs],
    }
    if as_json:
        typer.echo(json.dumps(data, indent=2))
        return
    state = "PAUSED" if info.paused else "active"
    typer.echo(f"{info.schedule_id}: {state}, daily at {info.daily_at} {info.time_zone}")
    if info.note:
        typer.echo(f"note: {info.note}")
    for t in info.next_runs:
        typer.echo(f"  next   {t.isoformat()}")
    for t in info.recent_runs:
        typer.echo(f"  recent {t.isoformat()}")


@app.command()
def pause(note: Annotated[str, typer.Option(help="Why it is paused")] = "paused") -> None:
    _run(lambda c, s: schedules.pause_schedule(c, settings=s, note=note))
    typer.echo("paused")


@app.command()
def unpause(note: Annotated[str, typer.Option()] = "unpaused") -> None:
    _run(lambda c, s: schedules.unpause_schedule(c, settings=s, note=note))
    typer.echo("unpaused")


@app.command()
def trigger() -> None:
    """Run a sweep now."""
    _run(lambda c, s: schedules.trigger_schedule(c, settings=s))
    typer.echo("sweep triggered")


@app.command()
def backfill(
    start: Annotated[datetime, typer.Option(formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M"])],
    end: Annotated[datetime, typer.Option(formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M"])],
) -> None:
    """Run the sweeps that would have run between START and END (UTC)."""
    start_at = start.replace(tzinfo=UTC) if start.tzinfo is None else start
    end_at = end.replace(tzinfo=UTC) if end.tzinfo is None else end
    if isinstance(end, date) and end.time() == time(0):
        end_at = end_at.replace(hour=23, minute=59)
    if end_at <= start_at:
        typer.echo("end: must be after start", err=True)
        raise typer.Exit(2)
    _run(lambda c, s: schedules.backfill_schedule(c, settings=s, start_at=start_at, end_at=end_at))
    typer.echo(f"backfilled {start_at.isoformat()} .. {end_at.isoformat()}")
