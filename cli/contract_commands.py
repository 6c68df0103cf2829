"""`renewals contracts import FILE` and `renewals contracts list`."""

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.orm import Session

from activities.contract_store import list_contracts, parse_contract, register_contracts
from cli import dbtools
from cli.common import db_transaction, fail, load_settings, print_field_errors
from cli.importing import (
    CONTRACT_LAYOUT,
    FileProblem,
    Valid,
    progress_bar,
    read_file,
    sort_errors,
    validate_records,
)
from models.contract import ContractCreate
from models.errors import DuplicateContract, FieldError, InvalidInput

app = typer.Typer(help="Contracts: import them, list them.", no_args_is_help=True)

BATCH = 500  # contracts per register_contracts call, all inside the one transaction


class _Rollback(Exception):
    """Leave the transaction without storing anything."""


def _parse_row(data: Any, row: int) -> ContractCreate:
    return parse_contract(data, row=row)


def _conflicts(session: Session, valid: Sequence[Valid[ContractCreate]]) -> list[FieldError]:
    """Problems only the database can see: ids already registered, suppliers not registered."""
    errors: list[FieldError] = []
    taken = dbtools.existing_contract_ids(session, (v.value.id for v in valid))
    suppliers = dbtools.existing_supplier_ids(session, (v.value.supplier_id for v in valid))
    for item in valid:
        if item.value.id in taken:
            errors.append(
                FieldError("id", f"contract {item.value.id!r} already exists", row=item.row)
            )
        if item.value.supplier_id not in suppliers:
            errors.append(
                FieldError(
                    "supplier_id",
                    f"unknown supplier {item.value.supplier_id!r} (import suppliers first)",
                    row=item.row,
                )
            )
    return errors


def _register(
    session: Session, valid: Sequence[Valid[ContractCreate]], advance: Callable[[int], None]
) -> None:
    for start in range(0, len(valid), BATCH):
        batch = valid[start : start + BATCH]
        try:
            register_contracts(session, contracts=[v.value for v in batch])
        except DuplicateContract as exc:  # registered concurrently since _conflicts looked
            raise InvalidInput([_file_row(exc.error, batch)]) from None
        except InvalidInput as exc:
            raise InvalidInput([_file_row(e, batch) for e in exc.errors]) from None
        advance(len(batch))


def _file_row(error: FieldError, batch: Sequence[Valid[ContractCreate]]) -> FieldError:
    # register_contracts numbers the contracts of its batch from 1; say the file's row instead.
    row = batch[error.row - 1].row if error.row is not None else None
    return FieldError(error.field, error.reason, row=row)


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
) -> None:
    """Register contracts from FILE, all or none.

    CSV columns: id, title, supplier_id, owner, start_date, end_date, auto_renewal,
    notice_period_days, renewal_term_months, currency, annual_value, unit_price, annual_volume,
    exclusivity, payment_terms, price_adjustment, service_levels, language. The commercial-term
    columns (unit_price ... service_levels) may also be written terms.unit_price and so on.

    Every row is checked (values, ids already registered, unknown suppliers). If any is wrong,
    each problem is listed as "row N, field: reason", where the header is row 1 as in a
    spreadsheet, and nothing is stored (exit code 1)."""
    settings = load_settings()
    try:
        parsed = read_file(file, CONTRACT_LAYOUT, fmt=fmt)
    except FileProblem as exc:
        fail(str(exc))
    errors: list[FieldError] = list(parsed.errors)
    with progress_bar(len(parsed.records) * 2, f"contracts from {file.name}") as advance:
        valid, row_errors = validate_records(
            parsed.records, _parse_row, file_format=parsed.format, advance=advance
        )
        errors.extend(row_errors)
        try:
            with db_transaction(settings) as session:
                errors.extend(_conflicts(session, valid))
                if errors or dry_run:
                    raise _Rollback
                _register(session, valid, advance)
        except _Rollback:
            pass
        except InvalidInput as exc:
            errors.extend(exc.errors)
    if errors:
        print_field_errors(
            sort_errors(errors),
            heading=f"{file}: {len(errors)} problem(s); nothing was imported",
        )
        raise typer.Exit(1)
    if dry_run:
        typer.echo(f"{file}: {len(valid)} contract(s) are valid; nothing stored (--dry-run)")
    else:
        typer.echo(f"imported {len(valid)} contract(s) from {file}")


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
