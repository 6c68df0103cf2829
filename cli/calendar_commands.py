"""`renewals calendar export`: milestones and notice deadlines as an .ics file.

The dates are each running renewal's stored plan; a contract whose renewal has not started gets
a preview (its events say so), made by the workflow's plan function.

An export writes data out: it acts for the token's owner with the contracts-read permission (the
API's calendar feed needs the same) and writes one audit entry (see :mod:`cli.identity`)."""

from pathlib import Path
from typing import Annotated

import typer

from auth.roles import Permission
from cli.common import load_settings
from cli.identity import ByOption, acting_user, login_name
from config import clock
from services import audit
from services.calendar_feed import build_feed, owner_languages, planned_for_feed
from services.db import make_engine, make_session_factory, transaction

app = typer.Typer(help="Renewal milestones as an iCalendar feed for calendar clients.")


@app.command()
def export(
    owner: Annotated[str | None, typer.Option(help="Only this owner's contracts")] = None,
    out: Annotated[Path | None, typer.Option(help="Write here instead of standard output")] = None,
    by: ByOption = None,
) -> None:
    """Write the milestones and notice deadlines as an .ics file (audited as an export)."""
    settings = load_settings()
    user = acting_user(
        settings, claimed=by, permission=Permission.CONTRACTS_READ, default=login_name()
    )
    engine = make_engine(settings.resolved_database_url)
    with transaction(make_session_factory(engine)) as session:
        audit.record(
            session,
            actor=user.username,
            action=audit.AuditAction.EXPORT,
            subject_type="calendar",
            subject_id=owner or "all",
            detail={"via": "cli", "out": str(out) if out is not None else "stdout"},
        )
        planned = planned_for_feed(
            session,
            owner=owner,
            today=clock.today(),
            cfg=settings.calendar_settings,
            policy=settings.renewal_policy,
        )
        languages = owner_languages(session, planned)
    feed = build_feed(
        planned,
        name=f"Contract renewals: {owner}" if owner else "Contract renewals",
        owner_languages=languages,
        base_url=settings.web_base_url,
    )
    engine.dispose()
    if out is None:
        typer.echo(feed.decode("utf-8"), nl=False)
    else:
        out.write_bytes(feed)
        previews = sum(1 for p in planned if p.shown.preview)
        typer.echo(
            f"{len(planned)} contract(s) written to {out} ({previews} preview(s): no renewal "
            "running)",
            err=True,
        )
