"""`renewals suppliers import FILE`: register or update suppliers from CSV or JSON."""

from pathlib import Path
from typing import Annotated

import typer

from activities.contract_store import upsert_supplier
from cli import dbtools
from cli.common import db_transaction, fail, load_settings, print_field_errors
from cli.importing import (
    SUPPLIER_LAYOUT,
    FileProblem,
    parse_model,
    progress_bar,
    read_file,
    sort_errors,
    validate_records,
)
from models.contract import SupplierCreate

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
) -> None:
    """Register suppliers from a CSV or JSON file, all or none.

    A supplier id that exists already has its name, category and country updated.
    Every row is checked first: if any is wrong, each problem is listed as "row N, field: reason"
    and nothing is stored (exit code 1). Otherwise all are stored in one transaction."""
    settings = load_settings()
    try:
        parsed = read_file(file, SUPPLIER_LAYOUT, fmt=fmt)
    except FileProblem as exc:
        fail(str(exc))
    with progress_bar(len(parsed.records) * 2, f"suppliers from {file.name}") as advance:
        valid, errors = validate_records(
            parsed.records,
            parse_model(SupplierCreate),
            file_format=parsed.format,
            advance=advance,
        )
        errors = sort_errors([*parsed.errors, *errors])
        if errors:
            print_field_errors(
                errors,
                heading=f"{file}: {len(errors)} problem(s); nothing was imported",
            )
            raise typer.Exit(1)
        if dry_run:
            typer.echo(f"{file}: {len(valid)} supplier(s) are valid; nothing stored (--dry-run)")
            return
        with db_transaction(settings) as session:
            known = dbtools.existing_supplier_ids(session, (v.value.id for v in valid))
            for item in valid:
                upsert_supplier(session, supplier=item.value)
                advance(1)
    new = sum(1 for v in valid if v.value.id not in known)
    typer.echo(
        f"imported {len(valid)} supplier(s) from {file} ({new} new, {len(valid) - new} updated)"
    )
