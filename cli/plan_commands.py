"""`renewals plan --file contracts.csv`: the renewal plan of contracts that are not imported yet.

Nothing is stored: the file is read and validated like an import, and each valid contract gets
the same calendar-aware plan its workflow would make today.
"""

import json
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from cli.common import load_settings, print_field_errors
from config import clock
from models.contract import ContractCreate
from models.milestones import MilestoneKind
from services.calendar_feed import build_feed
from services.imports import (
    CONTRACT_LAYOUT,
    FileProblem,
    parse_model,
    read_file,
    sort_errors,
    validate_records,
)
from services.plans import PlannedContract, as_read, plan_as_dict, plan_contracts

app = typer.Typer(help="Preview renewal plans without importing anything.")


class Output(StrEnum):
    TABLE = "table"
    JSON = "json"
    ICS = "ics"


def _table(planned: list[PlannedContract]) -> Table:
    table = Table(title="Renewal plans (preview: not imported, no renewal running)")
    columns = (
        "id",
        "model",
        "gather",
        "discuss",
        "final",
        "send by",
        "notice deadline",
        "end date",
    )
    for column in (*columns, "late"):
        table.add_column(column)
    for p in planned:
        plan = p.shown
        due = {m.kind: m.due.isoformat() for m in plan.milestones}
        table.add_row(
            p.contract.id,
            plan.term_model.value,
            due[MilestoneKind.GATHER_FACTS],
            due[MilestoneKind.FIRST_DISCUSSION],
            due[MilestoneKind.FINAL_TERMS],
            plan.send_by.isoformat() if plan.send_by else "",
            plan.notice_deadline.isoformat(),
            plan.end_date.isoformat(),
            ", ".join(p.late) or "-",
        )
    return table


@app.callback(invoke_without_command=True)
def plan(
    file: Annotated[Path, typer.Option("--file", help="Contracts as CSV or JSON, as for import")],
    output: Annotated[Output, typer.Option("--output", "-o")] = Output.TABLE,
    today: Annotated[
        str | None, typer.Option(help="Plan as of this date (YYYY-MM-DD); default today")
    ] = None,
) -> None:
    settings = load_settings()
    try:
        as_of = date.fromisoformat(today) if today else clock.today()
    except ValueError:
        typer.echo(f"--today: {today!r} is not a date (YYYY-MM-DD)", err=True)
        raise typer.Exit(2) from None
    try:
        parsed = read_file(file, CONTRACT_LAYOUT)
    except FileProblem as exc:
        print_field_errors(exc.errors, heading=f"{file}: cannot be read:")
        raise typer.Exit(1) from None
    valid, errors = validate_records(
        parsed.records, parse_model(ContractCreate), file_format=parsed.format, file=parsed.file
    )
    planned = plan_contracts(
        [as_read(v.value, today=as_of) for v in valid],
        today=as_of,
        cfg=settings.calendar_settings,
        policy=settings.renewal_policy,
    )
    if output is Output.JSON:
        typer.echo(json.dumps([plan_as_dict(p) for p in planned], ensure_ascii=False, indent=2))
    elif output is Output.ICS:
        typer.echo(build_feed(planned, name=f"Renewal plan: {file.name}").decode(), nl=False)
    else:
        console = Console()
        if not console.is_terminal:  # piped: print whole dates rather than fit 80 columns
            console = Console(width=200)
        console.print(_table(planned))
    all_errors = sort_errors([*parsed.errors, *errors])
    if all_errors:
        print_field_errors(
            all_errors, heading=f"{file}: {len(all_errors)} problem(s), not planned:"
        )
        raise typer.Exit(1)
