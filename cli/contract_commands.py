"""`renewals contracts import FILE` and `renewals contracts list`."""

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from cli import dbtools
from cli.common import db_transaction, load_settings
from cli.identity import ByOption
from cli.importing import import_file
from services.contracts import list_contracts
from services.imports import ImportKind

app = typer.Typer(help="Contracts: import them, list them.", no_args_is_help=True)


@app.command("import")
def import_contracts(
    file: Annotated[
        Path,
        typer.Argument(help="CSV with a header row, or a JSON list of objects", dir_okay=False),
    ],
    fmt: Annotated[
        str | None, typer.Option("--format", help="csv or json (default: from the file name)")
    ] = None,
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="Check the file and the database; store nothing"),
    ] = False,
    by: ByOption = None,
) -> None:
    """Register contracts from FILE, all or none.

    CSV columns: id, title, supplier_id, owner, start_date, end_date, auto_renewal,
    notice_period_days, renewal_term_months, currency, annual_value, unit_price, annual_volume,
    exclusivity, payment_terms, price_adjustment, service_levels, language. The commercial-term
    columns (unit_price ... service_levels) may also be written terms.unit_price and so on.

    Every row is checked (values, ids already registered, unknown suppliers). If any is wrong,
    each problem is listed as "row N, field: reason", where the header is row 1 as in a
    spreadsheet, and nothing is stored (exit code 1). A stored import writes one audit entry.
    Needs the contracts-write permission (see "Who the CLI acts for")."""
    report = import_file(file, kind=ImportKind.CONTRACTS, fmt=fmt, dry_run=dry_run, by=by)
    if dry_run:
        typer.echo(f"{file}: {report.rows_read} contract(s) are valid; nothing stored (--dry-run)")
    else:
        typer.echo(f"imported {report.inserted} contract(s) from {file}")


@app.command("list")
def list_(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output")] = False,
    limit: Annotated[int, typer.Option(min=1, max=10000)] = 1000,
    offset: Annotated[int, typer.Option(min=0)] = 0,
) -> None:
    """The registered contracts: id, title, supplier, owner, end date, current term, status."""
    settings = load_settings()
    with db_transaction(settings) as session:
        contracts = list_contracts(session, limit=limit, offset=offset)
        names = dbtools.supplier_names(session)
    if as_json:
        typer.echo(
            json.dumps([c.model_dump(mode="json") for c in contracts], indent=2, ensure_ascii=False)
        )
        return
    if not contracts:
        typer.echo("no contracts; import some with: renewals contracts import FILE")
        return
    table = Table()
    table.add_column("id", no_wrap=True)
    table.add_column("title")
    table.add_column("supplier")
    table.add_column("owner")
    table.add_column("end date", no_wrap=True)
    table.add_column("term", justify="right", no_wrap=True)
    table.add_column("status", no_wrap=True)
    for c in contracts:
        table.add_row(
            c.id,
            c.title,
            names.get(c.supplier_id, c.supplier_id),
            c.owner,
            c.end_date.isoformat(),
            str(c.current_term),
            c.status.value,
        )
    Console().print(table)
