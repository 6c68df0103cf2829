"""Performance records and market data: imports from CSV, and a scorecard preview.

    import-deliveries FILE [--skip-invalid]
    import-tickets FILE [--skip-invalid] [--timezone Asia/Tokyo]
    import-prices FILE [--skip-invalid]
    import-market FILE [--skip-invalid]
    scorecard CONTRACT_ID [--as-of 2026-06-30] [--json]

A file with errors imports nothing: every problem is listed with its file, row and field, and
the command exits with 1. With ``--skip-invalid`` the valid rows are stored and the skipped rows
are listed with their reasons. Imports need the contracts-write permission, as the API's do, and
each stored import writes one audit entry (see :mod:`cli.identity`). The column layout of each
file is in :mod:`services.imports.layouts` and the record types in :mod:`models.performance`
and :mod:`models.market`.
"""

from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import typer

from cli.common import db_transaction, fail, invalid_input, load_settings
from cli.identity import ByOption
from cli.importing import importer, record_import
from config import clock
from domain.phrases import label
from models.errors import InvalidInput, NotAllowed, NotFound
from models.performance import ImportReport
from services import contracts, scorecards
from services import imports as file_import

app = typer.Typer(
    help="Import supplier performance records and market indicators; preview a scorecard.",
    no_args_is_help=True,
)

FileArg = Annotated[
    Path,
    typer.Argument(exists=True, dir_okay=False, readable=True, help="CSV file, UTF-8"),
]
SkipInvalid = Annotated[
    bool,
    typer.Option(
        "--skip-invalid",
        help="Store the valid rows of a file with errors and list the skipped ones "
        "(by default such a file imports nothing).",
    ),
]


def _print_report(report: ImportReport) -> None:
    parts = [f"{report.rows_read:,} rows read", f"{report.inserted:,} added"]
    if report.updated:
        parts.append(f"{report.updated:,} updated")
    if report.skipped_rows:
        parts.append(f"{len(report.skipped_rows):,} skipped")
    typer.echo(f"{report.file}: {report.kind}: " + ", ".join(parts))
    if report.skipped_rows:
        typer.echo("skipped rows: " + ", ".join(str(r) for r in report.skipped_rows), err=True)
        for error in report.errors:
            typer.echo(f"  {error}", err=True)
    for warning in report.warnings:
        typer.echo(f"warning: {warning}", err=True)


def _run(
    file: Path,
    skip_invalid: bool,
    run_import: Callable[..., ImportReport],
    *,
    by: str | None,
    **options: object,
) -> None:
    """The import for the user :func:`cli.importing.importer` names, with its audit entry in
    the import's transaction."""
    settings = load_settings()
    user = importer(settings, by=by)
    try:
        with db_transaction(settings) as session:
            report = run_import(session, file, skip_invalid=skip_invalid, user=user, **options)
            record_import(session, user, report, file=file, file_format="csv")
    except InvalidInput as exc:
        invalid_input(
            exc,
            heading=f"{file.name}: nothing imported; {len(exc.errors)} problem(s) "
            "(use --skip-invalid to import the valid rows):",
        )
    except NotAllowed as exc:  # rows about other people's contracts: nothing was imported
        fail(f"{file.name}: {exc}; nothing imported")
    _print_report(report)


@app.command("import-deliveries")
def import_deliveries(
    file: FileArg, skip_invalid: SkipInvalid = False, by: ByOption = None
) -> None:
    """Deliveries: supplier_id, contract_id, order_date, promised_date, delivered_date,
    quantity_ordered, quantity_accepted; optional reference, quantity_returned, defects."""
    _run(file, skip_invalid, file_import.import_deliveries, by=by)


@app.command("import-tickets")
def import_tickets(
    file: FileArg,
    skip_invalid: SkipInvalid = False,
    timezone: Annotated[
        str | None,
        typer.Option(
            "--timezone",
            help="IANA zone for times written without an offset, e.g. Asia/Tokyo "
            "(without it such times are errors).",
        ),
    ] = None,
    by: ByOption = None,
) -> None:
    """Service tickets: supplier_id, contract_id, reference, opened_at, response_sla_minutes,
    resolution_sla_minutes; optional severity, first_response_at, resolved_at."""
    zone = None
    if timezone is not None:
        try:
            zone = ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            fail(f"--timezone: unknown IANA time zone {timezone!r}")
    _run(file, skip_invalid, file_import.import_tickets, by=by, default_tz=zone)


@app.command("import-prices")
def import_prices(file: FileArg, skip_invalid: SkipInvalid = False, by: ByOption = None) -> None:
    """Unit prices: supplier_id, contract_id, effective_date, unit_price, currency."""
    _run(file, skip_invalid, file_import.import_prices, by=by)


@app.command("import-market")
def import_market(file: FileArg, skip_invalid: SkipInvalid = False, by: ByOption = None) -> None:
    """Market indicators: category, period (YYYY-MM); any of price_index, demand_index,
    competitor_count, new_entrants; optional source."""
    _run(file, skip_invalid, file_import.import_market, by=by)


@app.command("scorecard")
def scorecard(
    contract_id: Annotated[str, typer.Argument(help="Contract id")],
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Score as of this day (YYYY-MM-DD); default today")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the scorecard as JSON")] = False,
) -> None:
    """Compute a contract's scorecard, market assessment and recommendation now, without
    storing it (the renewal stores its own at the gather-facts milestone)."""
    settings = load_settings()
    try:
        day = date.fromisoformat(as_of) if as_of else clock.today()
    except ValueError:
        fail(f"--as-of: {as_of!r} is not a date (expected YYYY-MM-DD)")
    try:
        with db_transaction(settings) as session:
            contract = contracts.get_contract(session, contract_id=contract_id)
            card = scorecards.preview(
                session, contract_id=contract_id, as_of=day, cfg=settings.scoring
            )
    except NotFound as exc:
        fail(str(exc))
    if as_json:
        typer.echo(card.model_dump_json(indent=2))
        return
    lang = contract.language
    total = f"{card.total} (grade {card.grade})" if card.total is not None else "insufficient data"
    typer.echo(f"{contract.title} ({contract.id}), term {card.term}")
    typer.echo(f"window: {card.period_start} (exclusive) to {card.period_end}; total {total}")
    if card.trend is not None:
        typer.echo(f"trend: {card.trend.value} ({card.total_change:+} vs {card.previous_total})")
    for kpi in card.kpis:
        score = str(kpi.score) if kpi.score is not None else "-"
        typer.echo(f"  {label(kpi.name, 'en'):<18} {score:>6}  {kpi.evidence}")
    if card.market is not None:
        for signal in card.market.signals:
            typer.echo(
                f"  market: {signal.observation.text(lang)} -> {signal.implication.text(lang)}"
            )
        for note in card.market.notes:
            typer.echo(f"  market note: {note.text(lang)}")
    typer.echo(f"recommendation: {label(card.recommendation.value, 'en')}")
    for finding in card.findings:
        typer.echo(f"  - {finding.text(lang)}")
