"""The renewal commands are the services' actions (the ones the API and the web pages carry out):
the same early refusals, named by field, before Temporal is reached; the same audit entries,
written once; the operator of a database without users acting with the role a command needs."""

import asyncio
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker
from typer.testing import CliRunner, Result

from auth.roles import Permission, Role
from cli import identity, renewal_commands
from config.settings import get_settings
from domain.content_hash import content_hash
from models.renewal import DraftKind, OpenRenewal
from models.tables import AuditLogRow
from store import renewals as renewal_store
from store import users as user_store
from store.db import SessionFactory, transaction
from tests.factories import register
from tests.portal_fixtures import contract_in_review_window, wait_for_draft
from workflows.contract_renewal import ContractRenewalWorkflow

UNREACHABLE = "127.0.0.1:1"  # a refusal printed with this address set came before Temporal


def _invoke(*args: str) -> Result:
    return CliRunner().invoke(renewal_commands.app, list(args))


async def _cli(*args: str) -> Result:
    """The CLI runs its own asyncio.run: keep it off the test's event loop."""
    return await asyncio.to_thread(_invoke, *args)


def _settings_from_env(
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
    """A migrated database, and a Temporal address nothing listens on."""
    yield from _settings_from_env(
        monkeypatch, tmp_path, database_url=sqlite_url, temporal=UNREACHABLE
    )


@pytest.fixture
def online(
    sqlite_url: str,
    sqlite_engine: Engine,
    time_skipping_env: WorkflowEnvironment,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[None]:
    yield from _settings_from_env(
        monkeypatch,
        tmp_path,
        database_url=sqlite_url,
        temporal=time_skipping_env.client.service_client.config.target_host,
    )


def _renewal_in_review(sessions: SessionFactory, *, requested_by: str = "buyer@example.com") -> str:
    """A contract whose term-1 renewal (asked for by ``requested_by``) has draft v1 stored, as
    the workflow's activities leave it; no workflow runs."""
    cid = f"C-{uuid.uuid4().hex[:8]}"
    body, terms = "Renewal of the packaging contract.", {"unit_price": "1300"}
    with transaction(sessions) as s:
        register(s, id=cid)
        renewal = renewal_store.open_renewal(
            s,
            request=OpenRenewal(
                contract_id=cid,
                term=1,
                workflow_id=f"renewal/{cid}/term-1",
                requested_by=requested_by,
                term_end_date=date(2027, 12, 31),
            ),
        )
        renewal_store.save_draft(
            s,
            renewal=renewal,
            kind=DraftKind.RENEGOTIATION,
            version=1,
            language="en",
            body=body,
            proposed_terms=terms,
            content_hash=content_hash(body, terms),
            requested_by=requested_by,
            answers_comment=None,
            created_at=datetime(2026, 5, 1, tzinfo=UTC),
        )
    return cid


def _audit(sessions: SessionFactory, action: str) -> list[AuditLogRow]:
    with transaction(sessions) as s:
        return list(
            s.scalars(
                select(AuditLogRow).where(AuditLogRow.action == action).order_by(AuditLogRow.id)
            )
        )


# ---------------------------------------------------------------------------- who acts


def test_the_operator_of_a_database_without_users_holds_the_role_the_command_needs() -> None:
    reviewer = identity.operator("legal@example.com", permission=Permission.REVIEW)
    assert reviewer.id == 0 and reviewer.username == "legal@example.com"
    assert reviewer.roles == frozenset({Role.LEGAL})
    buyer = identity.operator("buyer@example.com", permission=Permission.RENEWALS_WRITE)
    assert buyer.roles == frozenset({Role.PROCUREMENT})
    assert buyer.can(Permission.CONTRACTS_WRITE) and not buyer.can(Permission.REVIEW)


def test_the_operator_must_say_who_they_are(offline: None) -> None:
    result = _invoke("terminate", "C-1", "--reason", "x")
    assert result.exit_code == 1
    assert "--by: say who you are" in result.stderr


# ---------------------------------------------------------------------------- refused early


def test_approval_by_the_renewals_requester_is_refused_before_temporal(
    offline: None, sessions: SessionFactory
) -> None:
    cid = _renewal_in_review(sessions, requested_by="buyer@example.com")
    # Names compare as sign-in compares them: case does not make another person.
    for name in ("buyer@example.com", "Buyer@Example.com"):
        result = _invoke(
            "review", cid, "--version", "1", "--decision", "approve", "--reviewer", name
        )
        assert result.exit_code == 1, result.output
        assert "not allowed:" in result.stderr
        assert (
            f"  reviewer: {name} requested this renewal or draft and cannot approve it "
            "(segregation of duties)" in result.stderr
        )
        assert "cannot reach Temporal" not in result.output


def test_decisions_that_do_not_fit_the_stored_draft_name_the_field(
    offline: None, sessions: SessionFactory
) -> None:
    cid = _renewal_in_review(sessions)
    no_comment = _invoke(
        "review", cid, "--version", "1", "--decision", "reject", "--reviewer", "legal@example.com"
    )
    assert no_comment.exit_code == 1
    assert "invalid input:\n  comment: required to reject" in no_comment.stderr

    missing = _invoke(
        "review", cid, "--version", "9", "--decision", "approve", "--reviewer", "legal@example.com"
    )
    assert missing.exit_code == 1
    # Versions are one sequence whatever their kind: the version itself is what is missing.
    assert "  draft_version: no draft version 9" in missing.stderr

    no_renewal = _invoke(
        "review",
        cid,
        "--term",
        "3",
        "--version",
        "1",
        "--decision",
        "approve",
        "--reviewer",
        "legal@example.com",
    )
    assert no_renewal.exit_code == 1
    assert f"no renewal for term 3 of contract '{cid}'" in no_renewal.stderr
    for result in (no_comment, missing, no_renewal):
        assert "cannot reach Temporal" not in result.output


def test_reasons_and_contracts_are_checked_before_temporal(
    offline: None, sessions: SessionFactory
) -> None:
    cid = _renewal_in_review(sessions)
    empty = _invoke("redraft", cid, "--reason", "", "--by", "buyer@example.com")
    assert empty.exit_code == 1
    assert "invalid input:\n  reason: " in empty.stderr
    unknown = _invoke("terminate", "C-NOPE", "--reason", "x", "--by", "buyer@example.com")
    assert unknown.exit_code == 1
    assert "contract 'C-NOPE' does not exist; see: renewals contracts list" in unknown.stderr
    bad_amendment = _invoke("amend", cid, "--notice-days", "-1", "--by", "buyer@example.com")
    assert bad_amendment.exit_code == 1
    assert "invalid input:\n  notice_period_days: " in bad_amendment.stderr
    for result in (empty, unknown, bad_amendment):
        assert "cannot reach Temporal" not in result.output


# ---------------------------------------------------------------------------- audited once


async def test_amend_without_a_renewal_is_audited_once_on_the_contract(
    online: None, sessions: SessionFactory
) -> None:
    cid = f"C-{uuid.uuid4().hex[:8]}"
    with transaction(sessions) as s:
        register(s, id=cid)
    result = await _cli(
        "amend", cid, "--notice-days", "45", "--reason", "supplier asked", "--by", "buyer@x.com"
    )
    assert result.exit_code == 0, result.output
    assert f"amended contract {cid} (no renewal running): ends " in result.stdout
    assert "notice period 45 days" in result.stdout
    [entry] = _audit(sessions, "amend")
    assert (entry.actor, entry.subject_type, entry.subject_id) == ("buyer@x.com", "contract", cid)
    assert entry.detail == {
        "end_date": None,
        "notice_period_days": 45,
        "reason": "supplier asked",
        "through_workflow": False,
    }


async def test_a_renewal_from_start_to_amendment_through_the_services(
    online: None,
    time_skipping_env: WorkflowEnvironment,
    client: Client,
    sessions: SessionFactory,
    renewal_worker: Worker,
    task_queue: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TEMPORAL_TASK_QUEUE", task_queue)
    monkeypatch.setenv("TEMPORAL_SEARCH_ATTRIBUTES", "false")  # none on the time-skipping server
    get_settings.cache_clear()
    cid = await contract_in_review_window(time_skipping_env, sessions)

    started = await _cli("start", cid, "--by", "buyer@example.com")
    assert started.exit_code == 0, started.output
    assert started.stdout.startswith(f"started renewal/{cid}/term-1 (term 1, contract ends ")
    again = await _cli("start", cid, "--by", "buyer@example.com")
    assert again.stdout.strip() == f"already running: renewal/{cid}/term-1"
    [start_entry] = _audit(sessions, "start")
    assert start_entry.detail == {"contract_id": cid, "term": 1}  # no interface-only keys

    await wait_for_draft(client, cid)
    handle = client.get_workflow_handle(f"renewal/{cid}/term-1")

    shown = await _cli("status", cid)
    assert shown.exit_code == 0, shown.output
    assert shown.stdout.startswith(f"renewal/{cid}/term-1: legal_review")

    refused = await _cli(
        "review", cid, "--version", "1", "--decision", "approve", "--reviewer", "buyer@example.com"
    )
    assert refused.exit_code == 1
    assert "  reviewer: buyer@example.com requested this renewal" in refused.stderr

    changes = [
        "review",
        cid,
        "--version",
        "1",
        "--decision",
        "request_changes",
        "--reviewer",
        "legal-a@example.com",
        "--comment",
        "Cap the price adjustment at 2 %.",
        "--request-id",
        "form-1",
    ]
    asked = await _cli(*changes)
    assert asked.exit_code == 0, asked.output
    # Legal's comment waits for procurement's version: the same terms are not re-rendered.
    assert "stage now changes_requested" in asked.stdout and "new draft" not in asked.stdout
    repeated = await _cli(*changes)  # the same request id: applied once
    assert repeated.exit_code == 0, repeated.output
    assert len((await handle.query(ContractRenewalWorkflow.status)).decisions) == 1

    amended = await _cli("amend", cid, "--notice-days", "7", "--by", "buyer@example.com")
    assert amended.exit_code == 0, amended.output
    assert f"amended through renewal/{cid}/term-1: contract ends " in amended.stdout
    [entry] = _audit(sessions, "amend")
    assert (entry.subject_type, entry.subject_id) == ("contract", cid)
    assert entry.detail["through_workflow"] is True and "via" not in entry.detail

    missing = await _cli("status", cid, "--term", "7")
    assert missing.exit_code == 1
    assert f"no renewal of contract {cid} term 7 is running" in missing.stderr
    await handle.terminate("test over")


def test_start_with_a_token_acts_for_its_owner_without_naming_them(
    offline: None, sessions: SessionFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``renewals start`` without ``--by`` acts for the token's owner; the login name is only
    the operator's name on a database without users, never compared with the token."""
    with transaction(sessions) as s:
        user_store.create_user(
            s, username="buyer@example.com", display_name="Buyer", roles=["procurement"]
        )
        token = user_store.issue_token(s, username="buyer@example.com", name="t", valid_days=1)
    monkeypatch.setenv("RENEWALS_API_TOKEN", token.secret)
    result = _invoke("start", "C-NOPE")
    assert result.exit_code == 1
    assert "is not the owner" not in result.output
    assert "C-NOPE" in result.output  # refused for the unknown contract, as the token's owner
