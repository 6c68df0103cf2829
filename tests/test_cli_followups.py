"""`renewals followups` against a migrated SQLite database: record a review with an action, list
it, close the action, set the interval; bad values are refused naming the field, nothing stored."""

import json
from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.followup_commands import app
from config.settings import get_settings
from models.tables import ContractRow
from store.db import SessionFactory, transaction
from tests.factories import register

CID = "C-FU-1"


@pytest.fixture
def cli_db(
    sessions: SessionFactory, sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    monkeypatch.setenv("RENEWALS_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    with transaction(sessions) as s:
        # The term began four months ago: its first review (three months in) is due.
        register(s, id=CID, start_date=date(2026, 8, 1), end_date=date(2028, 7, 31))


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


def test_record_list_close_and_interval(cli_db: None) -> None:
    by = ("--by", "procurement@example.com")
    action = "Agree spring slots|buyer@example.com|2027-01-15"
    code, out = _run(
        "record", CID, "--csat", "4", "--nps", "8", "--supplier-continues", "yes",
        "--feedback", "Prompt answers", "--action", action, *by,
    )  # fmt: skip
    assert code == 0, out
    assert "recorded follow-up #1" in out
    code, out = _run("list", CID, "--json")
    assert code == 0, out
    listed = json.loads(out)
    [recorded] = [f for f in listed["followups"] if f["state"] == "recorded"]
    assert (recorded["csat"], recorded["nps"]) == (4, 8)
    action_id = recorded["actions"][0]["id"]
    code, out = _run("close-action", CID, str(action_id), *by)
    assert code == 0, out
    code, out = _run("interval", CID, "2", *by)
    assert code == 0 and "every 2 month(s)" in out, out
    code, out = _run("list", CID)
    assert code == 0 and "every 2 month(s)" in out, out


def test_an_earlier_terms_list_shows_the_reviews_held_in_it(
    cli_db: None, sessions: SessionFactory
) -> None:
    by = ("--by", "procurement@example.com")
    code, out = _run(
        "record", CID, "--csat", "3", "--nps", "6", "--supplier-continues", "undecided", *by
    )
    assert code == 0, out
    with transaction(sessions) as s:  # the term renewed: term 2 is the current one
        contract = s.get(ContractRow, CID)
        assert contract is not None
        contract.current_term = 2
    code, out = _run("list", CID, "--term", "1")
    assert code == 0, out
    assert "term 1:" in out and "#1 due 2026-11-01  recorded: CSAT 3, NPS 6" in out, out


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (("--csat", "6", "--nps", "8"), "csat"),
        (("--csat", "3", "--nps", "11"), "nps"),
        (("--csat", "3", "--nps", "5", "--action", "Call them||2027-01-15"), "owner"),
        (("--csat", "3", "--nps", "5", "--action", "Call them|buyer@example.com"), "due"),
    ],
)
def test_bad_values_are_refused_naming_the_field(
    cli_db: None, args: tuple[str, ...], field: str
) -> None:
    code, out = _run(
        "record", CID, "--supplier-continues", "no", *args, "--by", "procurement@example.com"
    )
    assert code == 1, out
    assert field in out and "invalid input" in out, out
    code, out = _run("list", CID, "--json")
    assert [f for f in json.loads(out)["followups"] if f["state"] == "recorded"] == []
