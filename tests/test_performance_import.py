"""Importing deliveries, tickets, prices and market indicators from CSV: every kind of bad row
reported by file, row and field; a file with errors imports nothing unless asked to import the
valid rows, and then says exactly which rows were skipped."""

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from cli import data_commands
from config.settings import get_settings
from models.contract import SupplierCreate
from models.errors import FieldError, InvalidInput
from models.tables import DeliveryRow, MarketIndicatorRow, PriceHistoryRow, ServiceTicketRow
from services.imports.performance import (
    import_deliveries,
    import_market,
    import_prices,
    import_tickets,
)
from store import contracts as contract_store
from store.db import SessionFactory, transaction
from tests.factories import register

NOW = datetime(2026, 7, 1, tzinfo=UTC)
HEADER = (
    "supplier_id,contract_id,reference,order_date,promised_date,delivered_date,"
    "quantity_ordered,quantity_accepted,quantity_returned,defects\n"
)
GOOD = "S-1,C-1001,DN-1,2026-03-01,2026-03-10,2026-03-09,100,98,0,2\n"


@pytest.fixture
def parties(sessions: SessionFactory) -> SessionFactory:
    with transaction(sessions) as s:
        register(s, id="C-1001", currency="JPY")
        contract_store.upsert_supplier(
            s, supplier=SupplierCreate(id="S-2", name="Osaka Resin", category="resin")
        )
        register(s, id="C-2002", supplier_id="S-2")
    return sessions


def deliveries(sessions: SessionFactory, text: str, **kw: object):
    with transaction(sessions) as s:
        return import_deliveries(
            s,
            text.encode("utf-8"),
            file="deliveries.csv",
            now=NOW,
            **kw,  # type: ignore[arg-type]
        )


def count(sessions: SessionFactory, table: type) -> int:
    with transaction(sessions) as s:
        return int(s.scalar(select(func.count()).select_from(table)) or 0)


def errors_of(call) -> list[tuple[int | None, str, str]]:
    with pytest.raises(InvalidInput) as err:
        call()
    for e in err.value.errors:
        assert e.file is not None
    return [(e.row, e.field, e.reason) for e in err.value.errors]


BAD_ROWS = (
    HEADER
    + GOOD  # row 2
    + "S-1,C-1001,DN-2,2026-03-01,2026-03-10,2026-02-30,100,98,0,0\n"  # 3: no 30 February
    + "S-1,C-1001,DN-3,2026-03-01,2026-03-10,2026-03-09,-5,0,0,0\n"  # 4: negative
    + "S-1,C-1001,DN-4,2026-03-05,2026-03-10,2026-03-01,100,98,0,0\n"  # 5: before order
    + "S-9,C-1001,DN-5,2026-03-01,2026-03-10,2026-03-09,100,98,0,0\n"  # 6: unknown supplier
    + "S-1,C-9999,DN-6,2026-03-01,2026-03-10,2026-03-09,100,98,0,0\n"  # 7: unknown contract
    + "S-1,C-2002,DN-7,2026-03-01,2026-03-10,2026-03-09,100,98,0,0\n"  # 8: other's contract
    + "S-1,C-1001,DN-8,2026-03-01,2026-03-10,2026-03-09,100,120,0,0\n"  # 9: accepted > ordered
    + "S-1,C-1001,DN-9,2026-03-01,2026-03-10,2026-03-09,100,98\n"  # 10: ragged
    + "\n"  # 11: blank, skipped but counted
    + "S-1,C-1001,DN-1,2026-04-01,2026-04-10,2026-04-09,10,10,0,0\n"  # 12: repeated reference
    + "S-1,C-1001,DN-10,2026-06-01,2026-06-10,2026-07-09,10,10,0,0\n"  # 13: future
    + "S-1,C-1001,DN-11,2026/04/01,2026/04/10,2026/04/10,10,10,,\n"  # 14: valid
)
EXPECTED_ERRORS = [
    (3, "delivered_date", "'2026-02-30' is not a valid date (day is out of range for month)"),
    (4, "quantity_ordered", "Input should be greater than 0"),
    (5, "delivered_date", "delivered 2026-03-01, before it was ordered on 2026-03-05"),
    (6, "supplier_id", "unknown supplier 'S-9'"),
    (7, "contract_id", "unknown contract 'C-9999'"),
    (8, "contract_id", "contract 'C-2002' is with supplier 'S-2', not 'S-1'"),
    (9, "quantity_accepted", "120 accepted is more than the 100 ordered"),
    (10, "(row)", "has 8 cells, the header has 10"),
    (12, "reference", "'DN-1' already appears in row 2"),
    (13, "delivered_date", "2026-07-09 is in the future"),
]


def test_a_file_with_errors_imports_nothing_and_names_every_problem(
    parties: SessionFactory,
) -> None:
    assert errors_of(lambda: deliveries(parties, BAD_ROWS)) == EXPECTED_ERRORS
    assert count(parties, DeliveryRow) == 0


def test_errors_print_with_file_row_and_field(parties: SessionFactory) -> None:
    with pytest.raises(InvalidInput) as err:
        deliveries(parties, BAD_ROWS)
    assert str(err.value.errors[0]) == (
        "deliveries.csv, row 3, delivered_date: '2026-02-30' is not a valid date "
        "(day is out of range for month)"
    )
    # Without a file, FieldError reads as before.
    assert str(FieldError("end_date", "must be later", row=4)) == "row 4, end_date: must be later"


def test_skip_invalid_stores_the_valid_rows_and_says_which_were_skipped(
    parties: SessionFactory,
) -> None:
    report = deliveries(parties, BAD_ROWS, skip_invalid=True)
    assert report.inserted == 2 and report.rows_read == 12  # the blank row is no record
    assert report.skipped_rows == (3, 4, 5, 6, 7, 8, 9, 10, 12, 13)
    assert [(e.row, e.field, e.reason) for e in report.errors] == EXPECTED_ERRORS
    with transaction(parties) as s:
        stored = s.scalars(select(DeliveryRow).order_by(DeliveryRow.id)).all()
        assert [d.reference for d in stored] == ["DN-1", "DN-11"]
        assert stored[0].quantity_accepted == Decimal(98) and stored[0].defects == 2
        assert stored[1].delivered_date == date(2026, 4, 10)  # 2026/04/10 as Excel writes it
        assert stored[1].quantity_returned == 0 and stored[1].defects == 0


def test_a_file_imported_twice_is_caught(parties: SessionFactory) -> None:
    deliveries(parties, HEADER + GOOD)
    assert errors_of(lambda: deliveries(parties, HEADER + GOOD)) == [
        (2, "reference", "'DN-1' is already stored for contract 'C-1001' (imported before?)")
    ]
    assert count(parties, DeliveryRow) == 1


def test_bom_and_header_case_and_spaces_are_accepted(parties: SessionFactory) -> None:
    text = "\ufeff" + HEADER.upper().replace(",", " , ") + GOOD
    assert deliveries(parties, text).inserted == 1


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (
            HEADER.replace("quantity_accepted", "quantity_acepted"),
            [
                (1, "quantity_acepted", "unknown column"),
                (1, "quantity_accepted", "required column is missing"),
            ],
        ),
        (
            HEADER.replace("defects", "reference"),
            [(1, "reference", "column appears twice"), (1, "defects", None)],
        ),
    ],
)
def test_header_problems_stop_the_import_whatever_the_mode(
    parties: SessionFactory, header: str, expected: list[tuple[int, str, str | None]]
) -> None:
    found = errors_of(lambda: deliveries(parties, header + GOOD, skip_invalid=True))
    assert [(r, f) for r, f, _ in found][: len(expected)] == [(r, f) for r, f, _ in expected][
        : len(found)
    ]
    for (_, _, reason), (_, _, want) in zip(found, expected, strict=False):
        if want:
            assert reason.startswith(want)
    assert count(parties, DeliveryRow) == 0


def test_an_empty_file_is_refused(parties: SessionFactory) -> None:
    [(row, field, reason)] = errors_of(lambda: deliveries(parties, "\n\n"))
    assert (row, field) == (1, "(header)")
    assert reason.startswith("the file is empty; the first row must name the columns: supplier_id,")


def test_shift_jis_is_refused_with_the_reason(parties: SessionFactory) -> None:
    data = (HEADER + "S-1,C-1001,納品1,2026-03-01,2026-03-10,2026-03-09,1,1,0,0\n").encode("cp932")
    with transaction(parties) as s, pytest.raises(InvalidInput) as err:
        import_deliveries(s, data, file="sjis.csv", now=NOW)
    (error,) = err.value.errors
    assert (error.file, error.field) == ("sjis.csv", "(file)")
    assert "not UTF-8 text" in error.reason and "line 2" in error.reason
    assert "Shift_JIS (cp932)" in error.reason and "CSV UTF-8" in error.reason


def test_a_path_names_its_file(parties: SessionFactory, tmp_path: Path) -> None:
    path = tmp_path / "june.csv"
    path.write_text(HEADER + GOOD.replace("100,98", "100,-1"), encoding="utf-8")
    with transaction(parties) as s, pytest.raises(InvalidInput) as err:
        import_deliveries(s, path, now=NOW)
    assert str(err.value.errors[0]).startswith("june.csv, row 2, quantity_accepted:")


# ---------------------------------------------------------------------------- tickets

TICKETS = "supplier_id,contract_id,reference,opened_at,first_response_at,resolved_at,response_sla_minutes,resolution_sla_minutes\n"  # noqa: E501


def test_tickets_need_an_offset_or_a_timezone(parties: SessionFactory) -> None:
    rows = TICKETS + "S-1,C-1001,T-1,2026-03-01 09:00,2026-03-01 10:00,,240,2880\n"
    with transaction(parties) as s, pytest.raises(InvalidInput) as err:
        import_tickets(s, rows.encode(), file="t.csv", now=NOW)
    assert [(e.row, e.field) for e in err.value.errors] == [
        (2, "opened_at"),
        (2, "first_response_at"),
    ]
    assert "has no UTC offset" in err.value.errors[0].reason
    with transaction(parties) as s:
        report = import_tickets(
            s, rows.encode(), file="t.csv", now=NOW, default_tz=ZoneInfo("Asia/Tokyo")
        )
    assert report.inserted == 1
    with transaction(parties) as s:
        ticket = s.scalars(select(ServiceTicketRow)).one()
        # 09:00 in Tokyo is midnight UTC; SQLite hands the UTC time back without an offset.
        assert ticket.opened_at.replace(tzinfo=UTC) == datetime(2026, 3, 1, 0, 0, tzinfo=UTC)


def test_ticket_times_must_be_in_order_and_not_in_the_future(parties: SessionFactory) -> None:
    rows = (
        TICKETS
        + "S-1,C-1001,T-1,2026-03-01T09:00Z,2026-03-01T08:00Z,,240,2880\n"
        + "S-1,C-1001,T-2,2026-03-01T09:00Z,,2026-02-28T09:00Z,240,2880\n"
        + "S-1,C-1001,T-3,2026-03-01T09:00Z,2026-03-01T12:00Z,2026-03-01T11:00Z,240,2880\n"
        + "S-1,C-1001,T-4,2026-08-01T09:00Z,,,240,2880\n"
        + "S-1,C-1001,T-5,2026-03-01T09:00Z,,,0,2880\n"
    )
    with transaction(parties) as s, pytest.raises(InvalidInput) as err:
        import_tickets(s, rows.encode(), file="t.csv", now=NOW)
    assert [(e.row, e.field) for e in err.value.errors] == [
        (2, "first_response_at"),
        (3, "resolved_at"),
        (4, "resolved_at"),
        (5, "opened_at"),
        (6, "response_sla_minutes"),
    ]
    assert "is before the ticket was opened" in err.value.errors[0].reason
    assert "is before the first response" in err.value.errors[2].reason
    assert "in the future" in err.value.errors[3].reason


# ---------------------------------------------------------------------------- prices


PRICES = "supplier_id,contract_id,effective_date,unit_price,currency\n"


def test_prices_are_a_time_series_updated_in_place(parties: SessionFactory) -> None:
    first = PRICES + "S-1,C-1001,2025-01-01,1000,JPY\nS-1,C-1001,2026-01-01,1050.50,jpy\n"
    with transaction(parties) as s:
        report = import_prices(s, first.encode(), file="p.csv")
    assert (report.inserted, report.updated) == (2, 0)
    with transaction(parties) as s:
        report = import_prices(s, (PRICES + "S-1,C-1001,2026-01-01,1040,JPY\n").encode())
    assert (report.inserted, report.updated) == (0, 1)
    with transaction(parties) as s:
        prices = s.scalars(select(PriceHistoryRow).order_by(PriceHistoryRow.effective_date))
        assert [p.unit_price for p in prices] == [Decimal(1000), Decimal(1040)]


def test_price_rows_with_errors(parties: SessionFactory) -> None:
    rows = (
        PRICES
        + "S-1,C-1001,2025-01-01,1000,USD\n"  # not the contract's currency
        + "S-1,C-1001,2025-02-01,0,JPY\n"  # zero price
        + "S-1,C-1001,2025-03-01,12.5,XXX\n"  # no such currency
        + "S-1,C-1001,2025-04-01,10,JPY\n"
        + "S-1,C-1001,2025-04-01,11,JPY\n"  # same date twice
    )
    with transaction(parties) as s:
        report = import_prices(s, rows.encode(), file="p.csv", skip_invalid=True)
    assert report.skipped_rows == (2, 3, 4, 6)
    assert [(e.row, e.field) for e in report.errors] == [
        (2, "currency"),
        (3, "unit_price"),
        (4, "currency"),
        (6, "effective_date"),
    ]
    assert report.errors[0].reason == "USD differs from the contract's currency JPY"
    assert count(parties, PriceHistoryRow) == 1


# ---------------------------------------------------------------------------- market


MARKET = "category,period,price_index,demand_index,competitor_count,new_entrants,source\n"


def test_market_rows_merge_by_category_and_period(parties: SessionFactory) -> None:
    prices = MARKET + "resin,2026-01,101.5,,,,JP index\nresin,2026-02,102,,,,JP index\n"
    survey = "category,period,competitor_count,new_entrants\nresin,2026-02,9,1\n"
    with transaction(parties) as s:
        assert import_market(s, prices.encode(), file="m.csv").inserted == 2
    with transaction(parties) as s:
        report = import_market(s, survey.encode(), file="survey.csv")
    assert (report.inserted, report.updated) == (0, 1)
    with transaction(parties) as s:
        feb = s.scalars(
            select(MarketIndicatorRow).where(MarketIndicatorRow.period == date(2026, 2, 1))
        ).one()
        # The survey added its figures and kept the price index the first file gave.
        assert (feb.price_index, feb.competitor_count, feb.new_entrants) == (Decimal(102), 9, 1)
        assert feb.source == "JP index"


def test_market_rows_with_errors_and_unknown_categories(parties: SessionFactory) -> None:
    rows = (
        MARKET
        + "resin,2026-13,100,,,,\n"  # no month 13
        + "resin,20260101,100,,,,\n"  # not a period
        + "resin,2026-03,,,,,\n"  # says nothing
        + "resin,2026-04,-1,,,,\n"  # negative index
        + "resin,2026-05,,,-2,,\n"  # negative count
        + "resin,2026-06,100,,,,\n"
        + "resin,2026-06-01,100,,,,\n"  # the same period again
        + "glass,2026-06,100,,,,\n"  # no supplier in that category
    )
    with transaction(parties) as s, pytest.raises(InvalidInput) as err:
        import_market(s, rows.encode(), file="m.csv")
    assert [(e.row, e.field) for e in err.value.errors] == [
        (2, "period"),
        (3, "period"),
        (4, "(record)"),
        (5, "price_index"),
        (6, "competitor_count"),
        (8, "period"),
    ]
    assert err.value.errors[2].reason.startswith("a row needs at least one of price_index")
    with transaction(parties) as s:
        report = import_market(s, rows.encode(), file="m.csv", skip_invalid=True)
    assert report.inserted == 2 and report.skipped_rows == (2, 3, 4, 5, 6, 8)
    assert report.warnings == (
        "no supplier is in category 'glass': its rows are stored, but no scorecard uses them "
        "until a supplier has that category",
    )


# ---------------------------------------------------------------------------- the CLI


@pytest.fixture
def cli_env(parties: SessionFactory, sqlite_url: str, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def test_cli_refuses_a_file_with_errors(cli_env: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "deliveries.csv"
    path.write_text(BAD_ROWS.replace("2026-07-09", "2026-06-09"), encoding="utf-8")
    result = cli_env.invoke(data_commands.app, ["import-deliveries", str(path)])
    assert result.exit_code == 1
    assert "deliveries.csv: nothing imported; 9 problem(s)" in result.stderr
    assert "deliveries.csv, row 5, delivered_date: delivered 2026-03-01, before it was" in (
        result.stderr
    )


def test_cli_skip_invalid_lists_the_skipped_rows(
    cli_env: CliRunner, tmp_path: Path, parties: SessionFactory
) -> None:
    path = tmp_path / "deliveries.csv"
    path.write_text(BAD_ROWS.replace("2026-07-09", "2026-06-09"), encoding="utf-8")
    result = cli_env.invoke(data_commands.app, ["import-deliveries", str(path), "--skip-invalid"])
    assert result.exit_code == 0, result.output
    assert "deliveries.csv: deliveries: 12 rows read, 3 added, 9 skipped" in result.stdout
    assert "skipped rows: 3, 4, 5, 6, 7, 8, 9, 10, 12" in result.stderr
    assert count(parties, DeliveryRow) == 3


def test_cli_tickets_timezone_and_scorecard(
    cli_env: CliRunner, tmp_path: Path, parties: SessionFactory
) -> None:
    path = tmp_path / "tickets.csv"
    path.write_text(TICKETS + "S-1,C-1001,T-1,2026-03-01 09:00,,2026-03-01 10:00,240,2880\n")
    bad = cli_env.invoke(data_commands.app, ["import-tickets", str(path), "--timezone", "Mars/X"])
    assert bad.exit_code == 1 and "unknown IANA time zone" in bad.stderr
    ok = cli_env.invoke(
        data_commands.app, ["import-tickets", str(path), "--timezone", "Asia/Tokyo"]
    )
    assert ok.exit_code == 0, ok.output
    card = cli_env.invoke(data_commands.app, ["scorecard", "C-1001", "--as-of", "2026-06-30"])
    assert card.exit_code == 0, card.output
    assert "total insufficient data" in card.stdout
    assert "recommendation: renegotiate" in card.stdout
    assert "1 tickets with a known outcome" in card.stdout
    missing = cli_env.invoke(data_commands.app, ["scorecard", "C-404"])
    assert missing.exit_code == 1 and "does not exist" in missing.stderr


def test_a_negative_zero_quantity_is_stored_as_zero(parties: SessionFactory) -> None:
    text = HEADER + "S-1,C-1001,DN-0,2026-03-01,2026-03-10,2026-03-09,100,-0,-0.00,0\n"
    report = deliveries(parties, text)
    assert report.inserted == 1 and not report.errors
    with transaction(parties) as s:
        stored = s.scalars(select(DeliveryRow)).one()
    for got in (stored.quantity_accepted, stored.quantity_returned):
        assert got == 0 and not Decimal(got).is_signed(), got
