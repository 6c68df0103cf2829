"""The negotiation commands (``renewals version edit``, ``offer``, ``answer``, ``hearing``,
``negotiation``) are the services' actions the API carries out too: the same refusals, each
field and its reason on a line and exit code 1, before Temporal is reached when the database
can tell; the whole loop on the time-skipping server, from legal's request for changes to the
supplier's acceptance."""

import asyncio
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker
from typer.testing import CliRunner, Result

from cli import negotiation_commands
from cli.main import app
from config.settings import get_settings
from domain.content_hash import content_hash
from domain.milestones import next_term_end
from domain.terms import current_terms
from models.renewal import DraftKind, OpenRenewal
from store import renewals as renewal_store
from store.contracts import get_contract
from store.db import SessionFactory, transaction
from tests.factories import register
from tests.portal_fixtures import contract_in_review_window, wait_for_draft
from tests.workflow_helpers import today
from workflows.contract_renewal import ContractRenewalWorkflow

UNREACHABLE = "127.0.0.1:1"  # a refusal printed with this address set came before Temporal
BUYER, LAWYER = "buyer@example.com", "legal-a@example.com"


def _invoke(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


async def _cli(*args: str) -> Result:
    """The CLI runs its own asyncio.run: keep it off the test's event loop."""
    return await asyncio.to_thread(_invoke, *args)


def _env(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, *, database_url: str, temporal: str
) -> Iterator[None]:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("TEMPORAL_ADDRESS", temporal)
    monkeypatch.setenv("RENEWALS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("RENEWALS_API_TOKEN", raising=False)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def offline(
    sqlite_url: str, sqlite_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    yield from _env(monkeypatch, tmp_path, database_url=sqlite_url, temporal=UNREACHABLE)


@pytest.fixture
def online(
    sqlite_url: str,
    sqlite_engine: Engine,
    time_skipping_env: WorkflowEnvironment,
    task_queue: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[None]:
    monkeypatch.setenv("TEMPORAL_TASK_QUEUE", task_queue)
    monkeypatch.setenv("TEMPORAL_SEARCH_ATTRIBUTES", "false")  # none on the time-skipping server
    yield from _env(
        monkeypatch,
        tmp_path,
        database_url=sqlite_url,
        temporal=time_skipping_env.client.service_client.config.target_host,
    )


def _stored_renewal(sessions: SessionFactory) -> str:
    """A contract whose term-1 renewal has v1 stored with complete terms; no workflow runs."""
    cid = f"C-{uuid.uuid4().hex[:8]}"
    end = date(2027, 12, 31)
    with transaction(sessions) as s:
        register(s, id=cid, owner=BUYER, end_date=end)
        renewal = renewal_store.open_renewal(
            s,
            request=OpenRenewal(
                contract_id=cid,
                term=1,
                workflow_id=f"renewal/{cid}/term-1",
                requested_by=BUYER,
                term_end_date=end,
            ),
        )
        terms = (
            current_terms(get_contract(s, contract_id=cid))
            .model_copy(update={"new_end_date": next_term_end(end, 12), "term_months": 12})
            .as_json()
        )
        body = "Renewal of the packaging contract."
        renewal_store.save_draft(
            s,
            renewal=renewal,
            kind=DraftKind.RENEGOTIATION,
            version=1,
            language="en",
            body=body,
            proposed_terms=terms,
            content_hash=content_hash(body, terms),
            requested_by=BUYER,
            answers_comment=None,
            created_at=datetime(2027, 9, 1, tzinfo=UTC),
        )
    return cid


# ---------------------------------------------------------------------------- refused early


def test_bad_terms_are_refused_field_by_field_before_temporal(
    offline: None, sessions: SessionFactory, tmp_path: Path
) -> None:
    cid = _stored_renewal(sessions)
    edit = ("version", "edit", cid, "--based-on", "1", "--by", BUYER)
    bad = _invoke(*edit, "--unit-price", "-5", "--currency", "XYZ")
    assert bad.exit_code == 1, bad.output
    assert bad.stderr.startswith("invalid input:\n")
    assert "  currency: unknown currency 'XYZ'" in bad.stderr
    assert "  unit_price: must be greater than 0 (got -5)" in bad.stderr
    longer = _invoke(*edit, "--term-months", "1", "--notice-days", "120")
    assert "  notice_period_days: 120 days is longer than the term" in longer.stderr
    same = _invoke(*edit)
    assert "  terms: changes nothing" in same.stderr
    stale = _invoke("version", "edit", cid, "--based-on", "2", "--unit-price", "1", "--by", BUYER)
    assert "  based_on_version: version 2 does not exist" in stale.stderr
    both = _invoke(*edit, "--cap-pct", "2", "--no-cap")
    assert both.exit_code == 1 and "--cap-pct, --no-cap: give one of them" in both.stderr
    (tmp_path / "edit.json").write_text("[1, 2]", encoding="utf-8")
    listed = _invoke(*edit, "--file", str(tmp_path / "edit.json"))
    assert "--file: " in listed.stderr and "must hold a JSON object" in listed.stderr
    for result in (bad, longer, same, stale, listed):
        assert result.exit_code == 1
        assert "cannot reach Temporal" not in result.output


def test_answers_offers_and_hearings_are_refused_before_temporal(
    offline: None, sessions: SessionFactory
) -> None:
    cid = _stored_renewal(sessions)
    on = datetime.now(UTC).date().isoformat()
    accepted = _invoke(
        "answer", cid, "--version", "1", "--answer", "accepted", "--on", on, "--by", BUYER
    )
    assert accepted.exit_code == 1, accepted.output
    for field in ("content_hash", "confirmed_by", "reference"):
        assert f"  {field}: required to accept" in accepted.stderr
    countered = _invoke(
        "answer", cid, "--version", "1", "--answer", "countered", "--on", on, "--by", BUYER
    )
    assert "  counter_terms: required for a counter-offer" in countered.stderr
    cheap = _invoke(
        "answer", cid, "--version", "1", "--answer", "countered", "--on", on,
        "--unit-price", "0", "--by", BUYER,
    )  # fmt: skip
    assert "  unit_price: must be greater than 0" in cheap.stderr
    offer = _invoke("offer", cid, "--version", "1", "--on", "2999-01-01", "--by", BUYER)
    assert "  presented_on: 2999-01-01 is in the future" in offer.stderr
    assert "  draft_version: version 1 is not approved by legal" in offer.stderr
    hearing = _invoke("hearing", cid, "--on", on, "--needs", " ", "--by", BUYER)
    assert "invalid input:\n  needs: " in hearing.stderr
    unknown = _invoke("offer", "C-NOPE", "--version", "1", "--on", on, "--by", BUYER)
    assert "contract 'C-NOPE' does not exist; see: renewals contracts list" in unknown.stderr
    for result in (accepted, countered, cheap, offer, hearing, unknown):
        assert result.exit_code == 1
        assert "cannot reach Temporal" not in result.output


def test_the_negotiation_without_temporal_says_it_is_not_live(
    offline: None, sessions: SessionFactory
) -> None:
    cid = _stored_renewal(sessions)
    shown = _invoke("negotiation", cid)
    assert shown.exit_code == 0, shown.output
    assert "negotiation (stored plan only: the workflow could not be asked)" in shown.stdout
    assert "plan: none recorded" in shown.stdout
    data = json.loads(_invoke("negotiation", cid, "--json").stdout)
    assert data["live"] is False and data["plan"] is None


# ---------------------------------------------------------------------------- the whole loop


async def test_the_whole_negotiation_from_the_command_line(
    online: None,
    time_skipping_env: WorkflowEnvironment,
    client: Client,
    sessions: SessionFactory,
    renewal_worker: Worker,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    env = time_skipping_env
    cid = await contract_in_review_window(env, sessions)
    started = await _cli("start", cid, "--by", BUYER)
    assert started.exit_code == 0, started.output
    await wait_for_draft(client, cid)
    day = await today(env)
    monkeypatch.setattr(negotiation_commands, "_today", lambda: day)
    on = day.isoformat()
    handle = client.get_workflow_handle_for(ContractRenewalWorkflow.run, f"renewal/{cid}/term-1")

    heard = await _cli("hearing", cid, "--on", on, "--needs", "Longer payment terms", "--continues",
                       "--by", BUYER)  # fmt: skip
    assert heard.exit_code == 0, heard.output
    asked = await _cli(
        "review", cid, "--version", "1", "--decision", "request_changes",
        "--reviewer", LAWYER, "--comment", "Cap the price adjustment at 2 %.",
    )  # fmt: skip
    assert asked.exit_code == 0, asked.output

    (tmp_path / "edit.json").write_text(
        json.dumps({"price_adjustment": "CPI, at most 2 % a year", "price_adjustment_cap_pct": 2}),
        encoding="utf-8",
    )
    made = await _cli(
        "version", "edit", cid, "--based-on", "1", "--file", str(tmp_path / "edit.json"),
        "--note", "Capped as legal asked", "--by", BUYER,
    )  # fmt: skip
    assert made.exit_code == 0, made.output
    assert made.stdout.startswith("new version v2 (renegotiation, hash ")
    assert f"made by {BUYER}, from v1; it goes to legal review" in made.stdout
    again = await _cli(
        "version", "edit", cid, "--based-on", "1", "--unit-price", "1", "--by", BUYER
    )
    assert again.exit_code == 1 and "based_on_version: version 1 is not the current" in again.stderr

    status = await handle.query(ContractRenewalWorkflow.status)
    v2 = status.drafts[-1]
    assert v2.version == 2 and v2.terms is not None
    approve = ("review", cid, "--decision", "approve", "--reviewer", LAWYER)
    assert (
        await _cli(*approve, "--version", "2", "--content-hash", v2.content_hash)
    ).exit_code == 0
    offered = await _cli("offer", cid, "--version", "2", "--on", on, "--hash", v2.content_hash,
                         "--by", BUYER)  # fmt: skip
    assert offered.exit_code == 0, offered.output
    assert f"presented {on} by {BUYER}; stage now offer_presented" in offered.stdout

    price = Decimal(v2.terms["unit_price"]) + 20
    countered = await _cli(
        "answer", cid, "--version", "2", "--answer", "countered", "--on", on,
        "--unit-price", str(price), "--note", "Freight costs more", "--by", BUYER,
    )  # fmt: skip
    assert countered.exit_code == 0, countered.output
    assert "the supplier countered v2; its terms are v3 (hash " in countered.stdout
    v3 = (await handle.query(ContractRenewalWorkflow.status)).drafts[-1]
    assert v3.version == 3 and v3.requested_by == BUYER

    assert (
        await _cli(*approve, "--version", "3", "--content-hash", v3.content_hash)
    ).exit_code == 0
    assert (await _cli("offer", cid, "--version", "3", "--on", on, "--by", BUYER)).exit_code == 0
    superseded = await _cli(
        "answer", cid, "--version", "2", "--answer", "accepted", "--on", on,
        "--hash", v2.content_hash, "--confirmed-by", "Sales", "--reference", "mail", "--by", BUYER,
    )  # fmt: skip
    assert superseded.exit_code == 1
    assert "invalid input:\n  draft_version: version 2 was superseded by version 3" in (
        superseded.stderr
    )
    accepted = await _cli(
        "answer", cid, "--version", "3", "--answer", "accepted", "--on", on,
        "--hash", v3.content_hash, "--confirmed-by", "Sales director",
        "--reference", "signed PDF 2026-117", "--by", BUYER,
    )  # fmt: skip
    assert accepted.exit_code == 0, accepted.output
    assert f"agreed on hash {v3.content_hash[:12]}; stage agreed" in accepted.stdout

    shown = await _cli("negotiation", cid)
    assert shown.exit_code == 0, shown.output
    out = shown.stdout
    assert out.startswith(f"renewal/{cid}/term-1: negotiation (live)")
    assert f"agreed: v3 (hash {v3.content_hash[:12]})" in out
    assert "plan (internal, never in the supplier's letter)" in out
    assert "  v2 superseded by v3" in out and f"  v3 presented to the supplier on {on}" in out
    assert "Longer payment terms; wants to continue" in out
    data = json.loads((await _cli("negotiation", cid, "--json")).stdout)
    assert data["live"] is True and data["state"]["agreed"]["version"] == 3
    await handle.terminate("test over")
