"""`renewals plan --file`: plans from a file, nothing imported."""

import json
from pathlib import Path

import pytest
from icalendar import Calendar
from typer.testing import CliRunner

from cli.plan_commands import app
from config.settings import get_settings

HEADER = (
    "id,title,supplier_id,owner,start_date,end_date,notice_period_days,term_model,currency,"
    "annual_value,unit_price,language,jurisdiction,transit_buffer_days\n"
)


@pytest.fixture(autouse=True)
def _isolated_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RENEWALS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    get_settings.cache_clear()


def _file(tmp_path: Path, rows: str) -> Path:
    path = tmp_path / "contracts.csv"
    path.write_text("\ufeff" + HEADER + rows, encoding="utf-8")
    return path


def test_plan_json_shows_send_by_and_late_milestones(tmp_path: Path) -> None:
    path = _file(
        tmp_path,
        "C-1,Packaging,S-1,buyer@example.com,2026-01-01,2027-12-31,90,auto_renewing,JPY,"
        "1000000,12.5,ja,JP,3\n"
        "C-2,Cleaning,S-2,buyer@example.com,2025-01-01,2027-03-31,30,fixed,EUR,5000,2,en,DE-BY,0\n",
    )
    result = CliRunner().invoke(
        app, ["--file", str(path), "--output", "json", "--today", "2027-01-15"]
    )
    assert result.exit_code == 0, result.output
    plans = {p["id"]: p for p in json.loads(result.stdout)}
    c1 = plans["C-1"]
    assert c1["notice_deadline"] == "2027-10-01" and c1["send_by"] == "2027-09-28"
    assert c1["late"] == []
    assert c1["time_zone"] == "Asia/Tokyo"
    c2 = plans["C-2"]
    # Ends 31 March 2027; on 15 January the 6-month milestone is overdue, the 3-month one too.
    assert c2["late"] == ["gather_facts", "first_discussion"]
    assert c2["time_zone"] == "Europe/Berlin"
    assert not (tmp_path / "data").exists()  # nothing stored, no database created


def test_plan_as_ics_and_table(tmp_path: Path) -> None:
    path = _file(
        tmp_path,
        "C-1,Packaging,S-1,buyer@example.com,2026-01-01,2027-12-31,90,auto_renewing,JPY,1,1,ja,JP,3\n",
    )
    ics = CliRunner().invoke(app, ["--file", str(path), "-o", "ics", "--today", "2027-01-15"])
    assert ics.exit_code == 0, ics.output
    events = Calendar.from_ical(ics.stdout.encode()).walk("VEVENT")
    assert len(events) == 6  # 3 milestones, send-by, expiry, notice deadline
    table = CliRunner().invoke(app, ["--file", str(path), "--today", "2027-01-15"])
    assert table.exit_code == 0 and "2027-09-28" in table.stdout


def test_plan_reports_bad_rows_and_plans_the_rest(tmp_path: Path) -> None:
    path = _file(
        tmp_path,
        "C-1,Packaging,S-1,buyer@example.com,2026-01-01,2027-12-31,90,fixed,JPY,1,1,ja,XX,3\n"
        "C-2,Cleaning,S-2,buyer@example.com,2027-01-01,2027-02-01,90,fixed,EUR,1,1,en,DE,-1\n"
        "C-3,Paper,S-3,buyer@example.com,2026-01-01,2027-12-31,30,fixed,JPY,1,1,ja,JP,0\n",
    )
    result = CliRunner().invoke(app, ["--file", str(path), "-o", "json", "--today", "2027-01-15"])
    assert result.exit_code == 1
    assert [p["id"] for p in json.loads(result.stdout)] == ["C-3"]
    assert "row 2, jurisdiction: unknown jurisdiction 'XX'" in result.stderr
    assert "row 3, notice_period_days: 90 days is longer than the term (31 days" in result.stderr
    assert "row 3, transit_buffer_days:" in result.stderr
