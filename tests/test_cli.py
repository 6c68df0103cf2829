"""The `renewals` CLI on a temporary SQLite database: imports, listing, and the checks that
refuse a command before it reaches Temporal."""

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select, update
from typer.testing import CliRunner, Result

from cli.main import app
from config.settings import get_settings
from models.tables import ContractRow, SupplierRow
from services import imports
from store.db import make_engine, make_session_factory, transaction

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"

HEADER = (
    "id,title,supplier_id,owner,start_date,end_date,auto_renewal,notice_period_days,"
    "renewal_term_months,currency,annual_value,unit_price,annual_volume,exclusivity,"
    "payment_terms,price_adjustment,service_levels,language"
)


def row(cid: str, **overrides: str) -> str:
    values = {
        "id": cid,
        "title": "Packaging materials",
        "supplier_id": "S-1",
        "owner": "buyer@example.com",
        "start_date": "2026-01-01",
        "end_date": "2027-12-31",
        "auto_renewal": "false",
        "notice_period_days": "30",
        "renewal_term_months": "12",
        "currency": "JPY",
        "annual_value": "12000000",
        "unit_price": "1250.50",
        "annual_volume": "9600",
        "exclusivity": "true",
        "payment_terms": "Net 60",
        "price_adjustment": "",
        "service_levels": "",
        "language": "en",
    }
    values.update(overrides)
    return ",".join(values[c] for c in HEADER.split(","))


runner = CliRunner()


def invoke(*args: str) -> Result:
    return runner.invoke(app, list(args))


@pytest.fixture
def db_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("RENEWALS_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    result = invoke("db", "upgrade")
    assert result.exit_code == 0, result.output
    assert "is at head" in result.stdout
    yield url
    get_settings.cache_clear()


@pytest.fixture
def supplier(db_url: str, tmp_path: Path) -> str:
    path = tmp_path / "suppliers.csv"
    path.write_text("id,name,category,country\nS-1,Tokyo Packaging K.K.,packaging,JP\n")
    result = invoke("suppliers", "import", str(path))
    assert result.exit_code == 0, result.output
    return "S-1"


def count(db_url: str, table: type[ContractRow] | type[SupplierRow] = ContractRow) -> int:
    engine = make_engine(db_url)
    try:
        with transaction(make_session_factory(engine)) as s:
            return s.scalar(select(func.count()).select_from(table)) or 0
    finally:
        engine.dispose()


def write(tmp_path: Path, name: str, text: str, *, bom: bool = False) -> Path:
    path = tmp_path / name
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"))
    return path


# ---------------------------------------------------------------------------- good files


def test_shipped_sample_files_import(db_url: str) -> None:
    result = invoke("suppliers", "import", str(SAMPLES / "suppliers.csv"))
    assert result.exit_code == 0, result.output
    assert "3 new" in result.stdout
    result = invoke("contracts", "import", str(SAMPLES / "contracts.csv"))
    assert result.exit_code == 0, result.output
    assert "imported 3 contract(s)" in result.stdout
    result = invoke("contracts", "import", str(SAMPLES / "contracts.json"))
    assert result.exit_code == 0, result.output
    assert count(db_url) == 4

    listed = json.loads(invoke("contracts", "list", "--json").stdout)
    by_id = {c["id"]: c for c in listed}
    ink = by_id["C-INK-2030"]
    assert ink["title"] == "印刷インキの供給"
    assert ink["language"] == "ja"
    assert ink["notice_period_days"] == 90
    assert ink["terms"]["unit_price"] == "1400"
    assert ink["terms"]["payment_terms"] == "月末締め翌月末払い"
    assert by_id["C-SOLVENT-2030"]["auto_renewal"] is True
    assert by_id["C-PIGMENT-2031"]["terms"]["unit_price"] == "900"


def test_good_csv_stores_every_row_with_nested_terms(
    db_url: str, supplier: str, tmp_path: Path
) -> None:
    path = write(
        tmp_path,
        "contracts.csv",
        "\n".join(
            [
                HEADER,
                row("C-1"),
                row("C-2", title="物流倉庫の保管委託", language="ja", unit_price="3500.25"),
                row("C-3", price_adjustment='"Indexed, reviewed yearly"', exclusivity="no"),
            ]
        )
        + "\n",
    )
    result = invoke("contracts", "import", str(path))
    assert result.exit_code == 0, result.output
    assert "imported 3 contract(s)" in result.stdout
    assert count(db_url) == 3

    listed = {c["id"]: c for c in json.loads(invoke("contracts", "list", "--json").stdout)}
    assert listed["C-2"]["title"] == "物流倉庫の保管委託"
    assert listed["C-2"]["terms"]["unit_price"] == "3500.25"
    assert listed["C-3"]["terms"]["price_adjustment"] == "Indexed, reviewed yearly"
    assert listed["C-3"]["terms"]["exclusivity"] is False
    assert listed["C-1"]["current_term"] == 1
    assert listed["C-1"]["status"] == "active"


def test_good_json_list_of_objects(db_url: str, supplier: str, tmp_path: Path) -> None:
    records = [
        {
            "id": "C-J1",
            "title": "Nested terms",
            "supplier_id": "S-1",
            "owner": "buyer@example.com",
            "start_date": "2026-01-01",
            "end_date": "2027-12-31",
            "currency": "EUR",
            "annual_value": "@VALUE@",
            "terms": {"unit_price": "@PRICE@", "payment_terms": "Net 45"},
        },
        {
            "id": "C-J2",
            "title": "Flat terms, like the CSV",
            "supplier_id": "S-1",
            "owner": "buyer@example.com",
            "start_date": "2026-01-01",
            "end_date": "2027-12-31",
            "currency": "JPY",
            "annual_value": "5000",
            "unit_price": "50",
            "language": "ja",
        },
    ]
    # JSON numbers that a binary float cannot hold exactly.
    text = json.dumps(records).replace('"@VALUE@"', "12345678901234.5678")
    path = write(tmp_path, "contracts.json", text.replace('"@PRICE@"', "0.1000"), bom=True)
    result = invoke("contracts", "import", str(path))
    assert result.exit_code == 0, result.output
    listed = {c["id"]: c for c in json.loads(invoke("contracts", "list", "--json").stdout)}
    assert set(listed) == {"C-J1", "C-J2"}
    # Parsed as decimals, not floats: no binary rounding on the way in.
    assert listed["C-J1"]["annual_value"] == "12345678901234.5678"
    assert listed["C-J1"]["terms"]["unit_price"] == "0.1000"
    assert listed["C-J2"]["terms"]["unit_price"] == "50"


def test_bom_is_not_part_of_the_first_column_name(
    db_url: str, supplier: str, tmp_path: Path
) -> None:
    path = write(tmp_path, "excel.csv", f"{HEADER}\r\n{row('C-BOM')}\r\n", bom=True)
    result = invoke("contracts", "import", str(path))
    assert result.exit_code == 0, result.output
    assert count(db_url) == 1


def test_terms_prefixed_columns_and_optional_columns_left_out(
    db_url: str, supplier: str, tmp_path: Path
) -> None:
    text = (
        "ID, Title ,supplier_id,owner,start_date,end_date,currency,annual_value,terms.unit_price\n"
        "C-MIN,Minimal,S-1,buyer@example.com,2026-01-01,2027-06-30,USD,100,2.5\n"
    )
    result = invoke("contracts", "import", str(write(tmp_path, "min.csv", text)))
    assert result.exit_code == 0, result.output
    [c] = json.loads(invoke("contracts", "list", "--json").stdout)
    assert c["terms"]["unit_price"] == "2.5"
    assert c["notice_period_days"] == 30  # the model's default
    assert c["language"] == "en"


def test_spreadsheet_booleans(db_url: str, supplier: str, tmp_path: Path) -> None:
    lines = [
        HEADER,
        row("C-T", auto_renewal="TRUE", exclusivity="Yes"),
        row("C-F", auto_renewal="FALSE", exclusivity="0"),
    ]
    result = invoke("contracts", "import", str(write(tmp_path, "b.csv", "\n".join(lines))))
    assert result.exit_code == 0, result.output
    listed = {c["id"]: c for c in json.loads(invoke("contracts", "list", "--json").stdout)}
    assert listed["C-T"]["auto_renewal"] is True
    assert listed["C-T"]["terms"]["exclusivity"] is True
    assert listed["C-F"]["auto_renewal"] is False
    assert listed["C-F"]["terms"]["exclusivity"] is False


def test_dry_run_stores_nothing(db_url: str, supplier: str, tmp_path: Path) -> None:
    path = write(tmp_path, "c.csv", f"{HEADER}\n{row('C-1')}\n")
    result = invoke("contracts", "import", str(path), "--dry-run")
    assert result.exit_code == 0, result.output
    assert "1 contract(s) are valid" in result.stdout
    assert count(db_url) == 0


def test_big_file_is_stored_in_one_transaction_across_batches(
    db_url: str, supplier: str, tmp_path: Path
) -> None:
    rows = [row(f"C-{i:04d}") for i in range(1, 651)]
    path = write(tmp_path, "big.csv", "\n".join([HEADER, *rows]) + "\n")
    result = invoke("contracts", "import", str(path))
    assert result.exit_code == 0, result.output
    assert count(db_url) == 650


# ---------------------------------------------------------------------------- bad files


def test_bad_csv_lists_every_row_error_and_stores_nothing(
    db_url: str, supplier: str, tmp_path: Path
) -> None:
    # One contract already stored: its id in the file is a conflict only the database sees.
    assert (
        invoke(
            "contracts", "import", str(write(tmp_path, "a.csv", f"{HEADER}\n{row('C-OLD')}\n"))
        ).exit_code
        == 0
    )
    before = count(db_url)
    lines = [
        HEADER,
        row("C-1"),  # row 2: fine
        row("C-2", end_date="2025-12-31"),  # row 3: ends before it starts
        row("C-3", currency="XXX", unit_price="abc"),  # row 4: two bad fields
        row("C-4", supplier_id="S-NOPE"),  # row 5: unknown supplier
        row("C-1"),  # row 6: same id as row 2
        row("C-OLD"),  # row 7: already registered
        row("C-5", language="fr", notice_period_days="-1"),  # row 8
    ]
    path = write(tmp_path, "bad.csv", "\n".join(lines) + "\n")
    result = invoke("contracts", "import", str(path))
    assert result.exit_code == 1
    err = result.stderr
    assert "nothing was imported" in err
    assert "row 3, end_date: must be after start_date 2026-01-01" in err
    assert "row 4, currency: unknown currency 'XXX'" in err
    assert "row 4, unit_price: " in err  # the CSV column, not terms.unit_price
    assert "row 5, supplier_id: unknown supplier 'S-NOPE'" in err
    assert "row 6, id: 'C-1' is also on row 2" in err
    assert "row 7, id: contract 'C-OLD' already exists" in err
    assert "row 8, language: " in err
    assert "row 8, notice_period_days: " in err
    assert "row 2," not in err
    assert count(db_url) == before


def test_ragged_rows_are_reported_with_their_row_numbers(
    db_url: str, supplier: str, tmp_path: Path
) -> None:
    lines = [
        HEADER,
        row("C-1"),  # row 2
        "",  # row 3: blank, skipped but counted as a spreadsheet would
        "C-2,Too short,S-1",  # row 4
        row("C-3") + ",extra",  # row 5
        row("C-4") + ",,",  # row 6: trailing empty cells are tolerated
    ]
    result = invoke("contracts", "import", str(write(tmp_path, "r.csv", "\n".join(lines))))
    assert result.exit_code == 1
    assert "row 4, (row): has 3 cells, the header has 18" in result.stderr
    assert "row 5, (row): has 19 cells, the header has 18" in result.stderr
    assert "row 6" not in result.stderr
    assert count(db_url) == 0


def test_unknown_duplicate_and_missing_header_columns(
    db_url: str, supplier: str, tmp_path: Path
) -> None:
    text = "id,title,title,supplier_id,owner,start_date,end_date,currency,colour\n"
    result = invoke("contracts", "import", str(write(tmp_path, "h.csv", text)))
    assert result.exit_code == 1
    err = result.stderr
    assert "row 1, colour: unknown column" in err
    assert "row 1, title: column appears twice" in err
    assert "row 1, annual_value: required column is missing" in err
    assert "row 1, unit_price: required column is missing" in err


def test_empty_and_non_utf8_files(db_url: str, tmp_path: Path) -> None:
    result = invoke("contracts", "import", str(write(tmp_path, "empty.csv", "")))
    assert result.exit_code == 1
    assert "row 1, (header): the file is empty" in result.stderr

    latin = tmp_path / "latin1.csv"
    latin.write_bytes("id,name\nS-9,Café\n".encode("latin-1"))
    result = invoke("suppliers", "import", str(latin))
    assert result.exit_code == 1
    assert "not UTF-8 text (first bad byte on line 2)" in result.stderr


def test_bad_json(db_url: str, tmp_path: Path) -> None:
    result = invoke("contracts", "import", str(write(tmp_path, "x.json", '{"id": 1}')))
    assert result.exit_code == 1
    assert "expected a JSON list" in result.stderr
    result = invoke("contracts", "import", str(write(tmp_path, "y.json", "[1, {")))
    assert result.exit_code == 1
    assert "not valid JSON" in result.stderr
    result = invoke(
        "contracts", "import", str(write(tmp_path, "z.json", '[{"id": "C-1", "colour": "red"}]'))
    )
    assert result.exit_code == 1
    assert "row 1, colour: Extra inputs are not permitted" in result.stderr
    assert "row 1, title: Field required" in result.stderr


def test_bad_supplier_rows_store_no_supplier(db_url: str, tmp_path: Path) -> None:
    text = "id,name,country\nS-1,Fine,JP\nS 2,Bad id,JP\nS-3,,jp\n"
    result = invoke("suppliers", "import", str(write(tmp_path, "s.csv", text)))
    assert result.exit_code == 1
    assert "row 3, id: 'S 2' is not a valid id" in result.stderr
    assert "row 4, name: " in result.stderr
    assert "row 4, country: " in result.stderr
    assert count(db_url, SupplierRow) == 0


def test_unknown_file_type(db_url: str, tmp_path: Path) -> None:
    result = invoke("contracts", "import", str(write(tmp_path, "c.xlsx", "x")))
    assert result.exit_code == 1
    assert "use a .csv or .json file" in result.stderr
    # --format overrides the name.
    path = write(tmp_path, "export.txt", f"{HEADER}\n")
    result = invoke("contracts", "import", str(path), "--format", "csv")
    assert result.exit_code == 0, result.output


# ---------------------------------------------------------------------------- list


def test_contracts_list_json_and_table(db_url: str, supplier: str, tmp_path: Path) -> None:
    assert json.loads(invoke("contracts", "list", "--json").stdout) == []
    path = write(tmp_path, "c.csv", "\n".join([HEADER, row("C-B"), row("C-A")]))
    assert invoke("contracts", "import", str(path)).exit_code == 0

    result = invoke("contracts", "list", "--json")
    assert result.exit_code == 0, result.output
    listed = json.loads(result.stdout)
    assert [c["id"] for c in listed] == ["C-A", "C-B"]
    assert listed[0]["end_date"] == "2027-12-31"
    assert listed[0]["supplier_id"] == "S-1"

    table = invoke("contracts", "list")
    assert table.exit_code == 0, table.output
    assert "C-A" in table.stdout and "2027-12-31" in table.stdout


# ---------------------------------------------------------------------------- refused early


def test_start_refuses_unknown_and_terminated_contracts(
    db_url: str, supplier: str, tmp_path: Path
) -> None:
    result = invoke("start", "C-NOPE")
    assert result.exit_code == 1
    assert "contract 'C-NOPE' does not exist" in result.stderr

    assert (
        invoke(
            "contracts", "import", str(write(tmp_path, "c.csv", f"{HEADER}\n{row('C-T')}"))
        ).exit_code
        == 0
    )
    engine = make_engine(db_url)
    with engine.begin() as conn:
        conn.execute(update(ContractRow).where(ContractRow.id == "C-T").values(status="terminated"))
    engine.dispose()
    result = invoke("start", "C-T", "--by", "buyer@example.com")
    assert result.exit_code == 1
    # The service's refusal, word for word what the API says too.
    assert "contract 'C-T' is terminated; there is nothing to renew" in result.stderr


def test_amend_without_a_change_is_refused(db_url: str) -> None:
    result = invoke("amend", "C-1", "--by", "buyer@example.com")
    assert result.exit_code == 1
    assert "an amendment must change end_date or notice_period_days" in result.stderr


def test_temporal_unreachable_is_said_plainly(
    db_url: str, supplier: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert (
        invoke(
            "contracts", "import", str(write(tmp_path, "c.csv", f"{HEADER}\n{row('C-1')}"))
        ).exit_code
        == 0
    )
    monkeypatch.setenv("TEMPORAL_ADDRESS", "127.0.0.1:1")
    get_settings.cache_clear()
    result = invoke("status", "C-1")
    assert result.exit_code == 1
    assert "cannot reach Temporal at 127.0.0.1:1" in result.stderr


def test_bad_configuration_names_the_variable(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SWEEP_TIME_ZONE", "Mars/Olympus")
    get_settings.cache_clear()
    result = invoke("contracts", "list")
    assert result.exit_code == 2
    assert "SWEEP_TIME_ZONE: unknown IANA time zone 'Mars/Olympus'" in result.stderr


def test_unmigrated_database_points_to_db_upgrade(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'empty.db'}")
    get_settings.cache_clear()
    try:
        result = invoke("contracts", "list")
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 1
    assert "renewals db upgrade" in result.stderr


# ---------------------------------------------------------------------------- reading, unit level


def test_read_csv_numbers_rows_as_a_spreadsheet_does() -> None:
    text = (
        f"{HEADER}\n\n{row('C-1', service_levels=chr(34) + 'two' + chr(10) + 'lines' + chr(34))}\n"
    )
    records, errors = imports.read_csv(text, imports.CONTRACT_LAYOUT)
    assert errors == []
    [record] = records
    assert record.row == 3
    assert record.data["terms"]["service_levels"] == "two\nlines"
    assert "service_levels" not in record.data


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
        ("[" + "9" * 5_000 + "]", "number too long"),
    ],
    ids=["deep", "huge-integer"],
)
def test_json_files_that_cannot_be_records_are_refused_plainly(
    db_url: str, tmp_path: Path, text: str, reason: str
) -> None:
    result = invoke("contracts", "import", str(write(tmp_path, "bad.json", text)))
    assert result.exit_code == 1, result.output
    assert reason in result.output and "(file)" in result.output
    assert "Traceback" not in result.output
    assert count(db_url) == 0
