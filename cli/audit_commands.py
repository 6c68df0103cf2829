"""`renewals audit export --out FILE.csv`: the audit trail for auditors."""

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from auth.roles import Permission
from cli.common import db_transaction, fail, load_settings
from cli.identity import ByOption, acting_user, audit_entry, login_name
from services import audit

app = typer.Typer(help="The append-only audit trail.", no_args_is_help=True)


@app.command("export")
def export(
    out: Annotated[Path, typer.Option("--out", help="CSV file to write", dir_okay=False)],
    action: Annotated[str | None, typer.Option("--action", help="Only this action")] = None,
    since: Annotated[
        datetime | None, typer.Option("--since", formats=["%Y-%m-%d"], help="From (UTC)")
    ] = None,
    until: Annotated[
        datetime | None, typer.Option("--until", formats=["%Y-%m-%d"], help="Before (UTC)")
    ] = None,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace an existing file")
    ] = False,
    by: ByOption = None,
) -> None:
    """Write the audit trail as CSV (UTF-8, one row per entry, oldest first). Cells that a
    spreadsheet would run as a formula are prefixed with an apostrophe."""
    if out.exists() and not overwrite:
        fail(f"{out} exists; pass --overwrite to replace it")
    settings = load_settings()
    # The trail names people and what they decided: reading it out is itself audited.
    user = acting_user(settings, claimed=by, permission=Permission.AUDIT_READ, default=login_name())
    start = since.replace(tzinfo=UTC) if since else None
    end = until.replace(tzinfo=UTC) if until else None
    tmp = out.with_name(out.name + ".part")
    try:
        with db_transaction(settings) as session, tmp.open("w", encoding="utf-8", newline="") as f:
            count = audit.write_csv(
                audit.iter_entries(session, action=action, since=start, until=end), f
            )
    except OSError as exc:
        fail(f"cannot write {out}: {exc.strerror or exc}")
    # Written aside and renamed: an interrupted export never leaves half a file under the name.
    tmp.replace(out)
    audit_entry(
        settings,
        user,
        action=audit.AuditAction.EXPORT,
        subject_type="audit",
        subject_id="audit_log",
        detail={"via": "cli", "out": str(out), "rows": count, "only_action": action},
    )
    typer.echo(f"wrote {count} audit entries to {out}")
