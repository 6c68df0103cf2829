"""`renewals schedule ...`: manage the daily sweep Schedule on Temporal.

The sweep starts renewals, so every command that changes the schedule or runs a sweep acts for
the token's owner with the renewals-write permission (see :mod:`cli.identity`; without users in
the database, for the operator named by ``--by`` or the login name), and writes one audit entry
once Temporal has done it. A refusal stops the command, exit code 1, before Temporal is asked.
"""

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, time
from typing import Annotated, TypeVar

import typer
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from auth.roles import Permission
from cli.common import load_settings
from cli.identity import ByOption, acting_user, audit_entry, login_name
from clients import digest_schedule, schedules
from config.settings import Settings
from config.temporal import connect
from models.users import CurrentUser
from services import audit

app = typer.Typer(help="The daily sweep that starts renewals as contracts come into range.")

T = TypeVar("T")


def _scheduler(settings: Settings, by: str | None) -> CurrentUser:
    return acting_user(
        settings, claimed=by, permission=Permission.RENEWALS_WRITE, default=login_name()
    )


def _audit(
    settings: Settings,
    user: CurrentUser,
    action: audit.AuditAction,
    detail: dict[str, object] | None = None,
) -> None:
    audit_entry(
        settings,
        user,
        action=action,
        subject_type="schedule",
        subject_id=settings.sweep_schedule_id,
        detail={"via": "cli", **(detail or {})},
    )


def _run(action: Callable[[Client, Settings], Awaitable[T]], settings: Settings | None = None) -> T:
    settings = settings or load_settings()

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
def create(by: ByOption = None) -> None:
    """Create the schedule (daily at SWEEP_TIME in SWEEP_TIME_ZONE); a no-op if it exists."""
    s = load_settings()
    user = _scheduler(s, by)
    _, created = _run(lambda c, st: schedules.create_schedule(c, settings=st), s)
    if created:
        _audit(
            s,
            user,
            audit.AuditAction.SCHEDULE_CREATED,
            {"daily_at": str(s.sweep_time), "time_zone": str(s.sweep_time_zone)},
        )
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
def pause(
    note: Annotated[str, typer.Option(help="Why it is paused")] = "paused", by: ByOption = None
) -> None:
    """Stop the daily sweep until unpaused."""
    settings = load_settings()
    user = _scheduler(settings, by)
    _run(lambda c, s: schedules.pause_schedule(c, settings=s, note=note), settings)
    _audit(settings, user, audit.AuditAction.SCHEDULE_PAUSED, {"note": note})
    typer.echo("paused")


@app.command()
def unpause(note: Annotated[str, typer.Option()] = "unpaused", by: ByOption = None) -> None:
    """Resume the daily sweep."""
    settings = load_settings()
    user = _scheduler(settings, by)
    _run(lambda c, s: schedules.unpause_schedule(c, settings=s, note=note), settings)
    _audit(settings, user, audit.AuditAction.SCHEDULE_UNPAUSED, {"note": note})
    typer.echo("unpaused")


@app.command()
def trigger(by: ByOption = None) -> None:
    """Run a sweep now."""
    settings = load_settings()
    user = _scheduler(settings, by)
    _run(lambda c, s: schedules.trigger_schedule(c, settings=s), settings)
    _audit(settings, user, audit.AuditAction.SCHEDULE_TRIGGERED)
    typer.echo("sweep triggered")


@app.command()
def backfill(
    start: Annotated[datetime, typer.Option(formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M"])],
    end: Annotated[datetime, typer.Option(formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M"])],
    by: ByOption = None,
) -> None:
    """Run the sweeps that would have run between START and END (UTC)."""
    start_at = start.replace(tzinfo=UTC) if start.tzinfo is None else start
    end_at = end.replace(tzinfo=UTC) if end.tzinfo is None else end
    if isinstance(end, date) and end.time() == time(0):
        end_at = end_at.replace(hour=23, minute=59)
    if end_at <= start_at:
        typer.echo("end: must be after start", err=True)
        raise typer.Exit(2)
    settings = load_settings()
    user = _scheduler(settings, by)
    _run(
        lambda c, s: schedules.backfill_schedule(c, settings=s, start_at=start_at, end_at=end_at),
        settings,
    )
    _audit(
        settings,
        user,
        audit.AuditAction.SCHEDULE_BACKFILLED,
        {"start_at": start_at.isoformat(), "end_at": end_at.isoformat()},
    )
    typer.echo(f"backfilled {start_at.isoformat()} .. {end_at.isoformat()}")


def _digest_audit(
    settings: Settings, user: CurrentUser, action: audit.AuditAction, detail: dict[str, object]
) -> None:
    audit_entry(
        settings,
        user,
        action=action,
        subject_type="schedule",
        subject_id=settings.digest_schedule_id,
        detail={"via": "cli", **detail},
    )


@app.command("digest-create")
def digest_create(by: ByOption = None) -> None:
    """Create the weekly digest's schedule (DIGEST_WEEKDAY at DIGEST_HOUR in DIGEST_TIME_ZONE);
    a no-op if it exists."""
    s = load_settings()
    user = _scheduler(s, by)
    _, created = _run(lambda c, st: digest_schedule.create_digest_schedule(c, settings=st), s)
    if not created:
        typer.echo(f"{s.digest_schedule_id} already exists; left unchanged")
        return
    _digest_audit(
        s,
        user,
        audit.AuditAction.SCHEDULE_CREATED,
        {"weekday": s.digest_weekday, "hour": s.digest_hour, "time_zone": s.digest_time_zone},
    )
    typer.echo(f"created {s.digest_schedule_id}")


@app.command("digest-show")
def digest_show(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Show the weekly digest's schedule: when it runs, next and recent runs."""
    info = _run(lambda c, s: digest_schedule.describe_digest_schedule(c, settings=s))
    data = {
        "schedule_id": info.schedule_id,
        "paused": info.paused,
        "weekday": info.weekday,
        "hour": info.hour,
        "time_zone": info.time_zone,
        "next_runs": [t.isoformat() for t in info.next_runs],
        "recent_runs": [t.isoformat() for t in info.recent_runs],
    }
    if as_json:
        typer.echo(json.dumps(data, indent=2))
        return
    state = "PAUSED" if info.paused else "active"
    typer.echo(f"{info.schedule_id}: {state}, {info.when}")
    for t in info.next_runs:
        typer.echo(f"  next   {t.isoformat()}")


@app.command("digest-delete")
def digest_delete(by: ByOption = None) -> None:
    """Delete the weekly digest's schedule (no digest is sent until it is created again)."""
    s = load_settings()
    user = _scheduler(s, by)
    _run(lambda c, st: digest_schedule.delete_digest_schedule(c, settings=st), s)
    _digest_audit(s, user, audit.AuditAction.SCHEDULE_DELETED, {})
    typer.echo(f"deleted {s.digest_schedule_id}")
