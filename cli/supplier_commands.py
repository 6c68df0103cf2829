"""`renewals suppliers import FILE`: register or update suppliers from CSV or JSON."""

from pathlib import Path
from typing import Annotated

import typer

from cli.identity import ByOption
from cli.importing import import_file
from services.imports import ImportKind

app = typer.Typer(help="Suppliers: the companies contracts are with.", no_args_is_help=True)


@app.command("import")
def import_suppliers(
    file: Annotated[
        Path,
        typer.Argument(
            help="CSV (id,name,category,country) or JSON list of objects", dir_okay=False
        ),
    ],
    fmt: Annotated[
        str | None, typer.Option("--format", help="csv or json (default: from the file name)")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Check the file only; store nothing")
    ] = False,
    by: ByOption = None,
) -> None:
    """Register suppliers from a CSV or JSON file, all or none.

    A supplier id that exists already has its name, category and country updated.
    Every row is checked first: if any is wrong, each problem is listed as "row N, field: reason"
    and nothing is stored (exit code 1). Otherwise all are stored in one transaction, with one
    audit entry. Needs the contracts-write permission (see "Who the CLI acts for")."""
    report = import_file(file, kind=ImportKind.SUPPLIERS, fmt=fmt, dry_run=dry_run, by=by)
    if dry_run:
        typer.echo(f"{file}: {report.rows_read} supplier(s) are valid; nothing stored (--dry-run)")
        return
    typer.echo(
        f"imported {report.stored} supplier(s) from {file} "
        f"({report.inserted} new, {report.updated} updated)"
    )
