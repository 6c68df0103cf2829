"""Escalation is a flag, and notices are dispatched through the people's doors
(renewal-semantics.md §3, §4), through the real app, web pages and CLI on the time-skipping
server, on SQLite and PostgreSQL:

- an escalated draft stays in legal's queue (``escalated``) and is decided through the API,
  the web form and the CLI; a lapsed term's interim extension is listed and approved;
- an approved notice's dispatch is recorded through the API and the CLI, audited, and the term
  ends not renewed;
- a dispatch that cannot be true (a version legal has not approved, or that is not a notice, a
  date in the future, a fixed-term contract, an unknown contract) is refused with the field
  named, through both, and nothing is stored: no event row, no audit row.
"""

import asyncio
import json
import re
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from dateutil.relativedelta import relativedelta
from sqlalchemy import func, select
from temporalio.client import WorkflowHandle
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from typer.testing import CliRunner, Result

from cli import renewal_commands
from clients import renewals
from config.settings import get_settings
from models.errors import Conflict, InvalidInput
from models.notices import DispatchChannel
from models.renewal import DraftKind, OutcomeKind, RenewalStatus
from models.tables import AuditLogRow, RenewalEventRow, RenewalRow
from portal.deps import SESSION_COOKIE
from services import notices
from store.db import transaction
from tests.factories import register
from tests.negotiation_helpers import agree
from tests.portal_fixtures import *  # noqa: F403
from tests.portal_fixtures import Portal, new_contract_id
from tests.workflow_helpers import result_of
from workflows.contract_renewal import ContractRenewalWorkflow

Handle = WorkflowHandle[ContractRenewalWorkflow, Any]
CliFor = Callable[..., Awaitable[Result]]  # (who, *args): a renewal command as that person


# ---------------------------------------------------------------------------- helpers


def _utc_today() -> date:
    return datetime.now(UTC).date()  # what the app and the CLI take for today


def _handle(p: Portal, cid: str) -> Handle:
    assert p.client is not None
    return renewals.renewal_handle(p.client, contract_id=cid, term=1)


async def _until(handle: Handle, check: Any, what: str) -> RenewalStatus:
    for _ in range(400):
        status = await handle.query(ContractRenewalWorkflow.status)
        if check(status):
            return status
        await asyncio.sleep(0.05)
    raise AssertionError(f"never {what}: {await handle.query(ContractRenewalWorkflow.status)}")


async def _register(p: Portal, **overrides: Any) -> str:
    cid = new_contract_id()
    with transaction(p.sessions) as s:
        register(s, id=cid, owner=p.username("procurement"), **overrides)
    return cid


async def _start(p: Portal, cid: str) -> Handle:
    r = await p.http.post(
        "/api/v1/renewals", json={"contract_id": cid}, headers=p.auth("procurement")
    )
    assert r.status_code == 201, r.text
    return _handle(p, cid)


def _browser(p: Portal, who: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=p.app),
        base_url="http://testserver",
        cookies={SESSION_COOKIE: p.cookies[who][0]},
    )


async def _queue(p: Portal, cid: str) -> list[dict[str, Any]]:
    r = await p.http.get("/api/v1/review-queue", params={"limit": 500}, headers=p.auth("legal"))
    assert r.status_code == 200, r.text
    return [i for i in r.json()["items"] if i["contract_id"] == cid]


@pytest.fixture
def cli_for(portal: Portal, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[CliFor]:
    """Run a renewal command as one of the portal's people (their API token), against the
    portal's database and Temporal server."""
    env: WorkflowEnvironment = portal.extra["env"]
    monkeypatch.setenv("DATABASE_URL", portal.database_url)
    monkeypatch.setenv("TEMPORAL_ADDRESS", env.client.service_client.config.target_host)
    monkeypatch.setenv("RENEWALS_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()

    async def run(who: str, *args: str) -> Result:
        monkeypatch.setenv("RENEWALS_API_TOKEN", portal.tokens[who])
        get_settings.cache_clear()
        # The CLI runs its own asyncio.run: keep it off the test's event loop.
        return await asyncio.to_thread(CliRunner().invoke, renewal_commands.app, list(args))

    yield run
    get_settings.cache_clear()


def _stored(p: Portal, cid: str) -> tuple[int, int]:
    """(notice_dispatched event rows, audit rows about a dispatch) of the contract."""
    with transaction(p.sessions) as s:
        events = s.scalar(
            select(func.count())
            .select_from(RenewalEventRow)
            .join(RenewalRow, RenewalRow.id == RenewalEventRow.renewal_id)
            .where(RenewalRow.contract_id == cid, RenewalEventRow.kind == "notice_dispatched")
        )
        audits = s.scalar(
            select(func.count())
            .select_from(AuditLogRow)
            .where(
                AuditLogRow.subject_id == f"renewal/{cid}/term-1",
                # the service's entry, or the workflow's event entry (key event:<wf>:dispatch:N)
                (AuditLogRow.action == "dispatch_recorded")
                | AuditLogRow.key.like("event:%:dispatch:%"),
            )
        )
    return events or 0, audits or 0


def _audit_rows(p: Portal, cid: str, action: str) -> list[AuditLogRow]:
    with transaction(p.sessions) as s:
        rows = list(
            s.scalars(
                select(AuditLogRow).where(
                    AuditLogRow.action == action,
                    AuditLogRow.subject_id == f"renewal/{cid}/term-1",
                )
            )
        )
        for row in rows:
            s.expunge(row)
    return rows


# ---------------------------------------------------------------------------- escalation


async def _escalated_draft(p: Portal) -> tuple[str, Handle]:
    """A renewal whose draft v1 waited 2 x 5 business days for legal: the review-overdue
    escalation set the stage to escalated; the draft is still undecided."""
    env: WorkflowEnvironment = p.extra["env"]
    now = (await env.get_current_time()).date()
    cid = await _register(
        p,
        start_date=now - relativedelta(months=10),
        end_date=now + relativedelta(months=2, days=20),  # first discussion is behind: v1 now
        notice_period_days=0,
    )
    handle = await _start(p, cid)
    await _until(handle, lambda st: len(st.drafts) == 1, "drafted v1")
    for _ in range(30):  # a day at a time until the review-overdue escalation fired
        status = await handle.query(ContractRenewalWorkflow.status)
        if any("for a legal decision" in e for e in status.escalations):
            break
        await env.sleep(timedelta(days=1))
    status = await _until(
        handle, lambda st: st.stage.value == "escalated" and st.escalations, "escalated"
    )
    assert status.decisions == () and status.drafts[-1].version == 1
    return cid, handle


@pytest.mark.parametrize("via", ["api", "web", "cli"])
async def test_an_escalated_draft_stays_in_the_queue_and_is_decided(
    portal: Portal, cli_for: CliFor, via: str
) -> None:
    cid, handle = await _escalated_draft(portal)

    [item] = await _queue(portal, cid)
    assert item["escalated"] is True and item["stage"] == "escalated"
    assert (item["kind"], item["version"]) == ("renegotiation", 1)
    # Its due date is the final terms of the stored plan, not one computed by the queue.
    r = await portal.http.get(f"/api/v1/renewals/{cid}/terms/1", headers=portal.auth("legal"))
    detail = r.json()
    assert detail["plan"]["preview"] is False
    final = next(m for m in detail["plan"]["milestones"] if m["kind"] == "final_terms")
    assert (item["due_kind"], item["due"]) == ("final_terms", final["due"])

    async with _browser(portal, "legal") as http:
        queue = await http.get("/reviews")
        row = queue.text[queue.text.index(cid) :]
        row = row[: row.index("</tr>")]
        assert "escalated" in row and "renegotiation proposal" in row
        page = await http.get(f"/reviews/{cid}/1/1")
        assert page.status_code == 200
        assert 'id="escalated"' in page.text and 'id="decision-form"' in page.text
        if via == "web":
            form = re.search(r'name="request_id" value="([^"]+)"', page.text)
            assert form is not None
            done = await http.post(
                f"/reviews/{cid}/1/1/decision",
                data={
                    "csrf_token": portal.cookies["legal"][1],
                    "decision": "approve",
                    "content_hash": item["content_hash"],
                    "request_id": form[1],
                },
            )
            assert done.status_code == 303, done.text
    if via == "api":
        done_api = await portal.http.post(
            f"/api/v1/renewals/{cid}/terms/1/decisions",
            json={
                "decision": "approve",
                "draft_version": 1,
                "content_hash": item["content_hash"],
            },
            headers=portal.auth("legal"),
        )
        assert done_api.status_code == 200, done_api.text
    if via == "cli":
        result = await cli_for("legal", "review", cid, "--version", "1", "--decision", "approve")
        assert result.exit_code == 0, result.output
        assert "recorded: approve of draft v1 by legal-a@example.com" in result.stdout

    status = await _until(handle, lambda st: bool(st.decisions), "decided")
    assert [(d.decision.value, d.reviewer) for d in status.decisions] == [
        ("approve", "legal-a@example.com")
    ]
    assert await _queue(portal, cid) == []  # decided: no longer waiting
    await handle.terminate("test over")


async def test_a_lapsed_terms_interim_extension_is_listed_and_approved(portal: Portal) -> None:
    env: WorkflowEnvironment = portal.extra["env"]
    now = (await env.get_current_time()).date()
    end = now - timedelta(days=20)  # a fixed term registered after its end: lapsed at once
    cid = await _register(portal, start_date=now - relativedelta(years=1), end_date=end)
    handle = await _start(portal, cid)
    status = await _until(handle, lambda st: st.lapsed_on is not None and st.escalations, "lapsed")
    assert [d.kind for d in status.drafts] == [DraftKind.INTERIM_EXTENSION]

    [item] = await _queue(portal, cid)
    assert (item["kind"], item["version"], item["escalated"]) == ("interim_extension", 1, True)
    # Due by the end date of the stored plan: the term lapsed without it.
    assert (item["due_kind"], item["due"]) == ("end_date", end.isoformat())
    async with _browser(portal, "legal") as http:
        page = await http.get(f"/reviews/{cid}/1/1")
        assert 'id="decision-form"' in page.text and "interim extension" in page.text

    r = await portal.http.post(
        f"/api/v1/renewals/{cid}/terms/1/decisions",
        json={"decision": "approve", "draft_version": 1, "content_hash": item["content_hash"]},
        headers=portal.auth("legal"),
    )
    assert r.status_code == 200, r.text
    # Approved alone is not agreed: the supply stays at risk until the supplier accepts.
    lapsed = await handle.query(ContractRenewalWorkflow.status)
    assert lapsed.outcome is None and lapsed.stage.value == "lapsed"
    await agree(handle, lapsed.drafts[-1], on=now)
    outcome = await result_of(env, handle)
    assert outcome.kind is OutcomeKind.INTERIM_EXTENSION
    assert await _queue(portal, cid) == []
    if outcome.next_workflow_id:
        await env.client.get_workflow_handle(outcome.next_workflow_id).terminate("test over")


# ---------------------------------------------------------------------------- dispatch


async def _approved_notice(p: Portal, *, approve: bool = True) -> tuple[str, Handle]:
    """An auto-renewing contract whose owner decided not to renew: v1 is the renegotiation
    proposal, v2 the non-renewal notice, approved by legal (unless ``approve`` is false)."""
    env: WorkflowEnvironment = p.extra["env"]
    now = (await env.get_current_time()).date()
    cid = await _register(
        p,
        start_date=now - relativedelta(months=10),
        end_date=now + relativedelta(months=2),
        notice_period_days=30,
        term_model="auto_renewing",
    )
    handle = await _start(p, cid)
    await _until(handle, lambda st: len(st.drafts) == 1, "drafted v1")
    r = await p.http.post(
        f"/api/v1/renewals/{cid}/terms/1/cancellation",
        json={"reason": "Consolidating suppliers"},
        headers=p.auth("procurement"),
    )
    assert r.status_code == 200, r.text
    status = await _until(handle, lambda st: len(st.drafts) == 2, "drafted the notice")
    notice = status.drafts[-1]
    assert (notice.kind, notice.version) == (DraftKind.NON_RENEWAL_NOTICE, 2)
    if approve:
        [item] = await _queue(p, cid)  # the notice is in legal's queue, due by the send-by date
        assert (item["kind"], item["due_kind"]) == ("non_renewal_notice", "send_by")
        assert status.send_by is not None and item["due"] == status.send_by.isoformat()
        r = await p.http.post(
            f"/api/v1/renewals/{cid}/terms/1/decisions",
            json={"decision": "approve", "draft_version": 2},
            headers=p.auth("legal"),
        )
        assert r.status_code == 200, r.text
    return cid, handle


@pytest.mark.parametrize("via", ["api", "cli"])
async def test_a_notice_dispatched_in_time_ends_the_term_not_renewed(
    portal: Portal, cli_for: CliFor, via: str
) -> None:
    env: WorkflowEnvironment = portal.extra["env"]
    cid, handle = await _approved_notice(portal)
    sent_on = _utc_today()
    if via == "api":
        r = await portal.http.post(
            f"/api/v1/renewals/{cid}/terms/1/dispatches",
            json={
                "draft_version": 2,
                "dispatched_on": sent_on.isoformat(),
                "channel": "post",
                "reference": "JP-REG-123",
            },
            headers=portal.auth("procurement"),
        )
        assert r.status_code == 201, r.text
        body = r.json()
        assert body["late"] is False and body["dispatch"]["reference"] == "JP-REG-123"
        assert body["workflow_id"] == f"renewal/{cid}/term-1"
        assert "in time" in body["note"]
    else:
        result = await cli_for(
            "procurement",
            "dispatch", cid, "--version", "2", "--on", sent_on.isoformat(),
            "--channel", "courier", "--reference", "DHL 1234",
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        assert f"dispatch of notice v2 recorded for renewal/{cid}/term-1" in result.stdout
        assert "in time" in result.stdout and "LATE" not in result.stdout

    status = await handle.query(ContractRenewalWorkflow.status)
    [dispatch] = status.dispatches
    assert dispatch.draft_version == 2 and dispatch.late is False
    assert _stored(portal, cid)[0] == 1
    [entry] = _audit_rows(portal, cid, "dispatch_recorded")
    assert entry.actor == "buyer@example.com"
    assert entry.detail["draft_version"] == 2 and entry.detail["late"] is False
    assert entry.content_hash == status.drafts[1].content_hash

    # The detail (API) and `show` carry the dispatch and the stored plan's dates.
    r = await portal.http.get(f"/api/v1/renewals/{cid}/terms/1", headers=portal.auth("legal"))
    detail = r.json()
    assert [d["draft_version"] for d in detail["dispatches"]] == [2]
    assert detail["plan"]["preview"] is False
    assert detail["plan"]["notice_deadline"] == status.notice_deadline.isoformat()  # type: ignore[union-attr]

    outcome = await result_of(env, handle)
    assert outcome.kind is OutcomeKind.NOT_RENEWED
    assert outcome.new_end_date is None and outcome.next_workflow_id is None


async def test_the_show_command_prints_the_plan_and_the_dispatches(
    portal: Portal, cli_for: CliFor
) -> None:
    from cli import pipeline_commands

    cid, handle = await _approved_notice(portal)
    result = await cli_for(
        "procurement",
        "dispatch", cid, "--version", "2", "--on", _utc_today().isoformat(),
        "--channel", "email", "--reference", "msg-42",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    shown = await asyncio.to_thread(CliRunner().invoke, pipeline_commands.app, ["show", cid])
    assert shown.exit_code == 0, shown.output
    status = await handle.query(ContractRenewalWorkflow.status)
    assert status.notice_deadline is not None
    assert f"plan (stored plan, term 1): end date {status.end_date}" in shown.stdout
    assert f"notice deadline {status.notice_deadline.isoformat()}" in shown.stdout
    assert "notice v2 dispatched" in shown.stdout and "msg-42" in shown.stdout
    as_json = await asyncio.to_thread(
        CliRunner().invoke, pipeline_commands.app, ["show", cid, "--json"]
    )
    data = json.loads(as_json.stdout)
    assert data["plan"]["preview"] is False and data["dispatches"][0]["reference"] == "msg-42"
    await handle.terminate("test over")


# ---------------------------------------------------------------------------- bad input


def _dispatch_body(version: int, on: date) -> dict[str, Any]:
    return {
        "draft_version": version,
        "dispatched_on": on.isoformat(),
        "channel": "post",
        "reference": "JP-REG-9",
    }


async def _api_refusal(p: Portal, cid: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    r = await p.http.post(
        f"/api/v1/renewals/{cid}/terms/1/dispatches", json=body, headers=p.auth("procurement")
    )
    return r.status_code, r.json()


async def test_dispatches_that_cannot_be_true_are_refused_through_the_api_and_the_cli(
    portal: Portal, cli_for: CliFor
) -> None:
    cid, handle = await _approved_notice(portal, approve=False)  # the notice is v2, unapproved
    today = _utc_today()

    async def cli(version: int, on: date, contract: str = cid) -> Result:
        return await cli_for(
            "procurement",
            "dispatch", contract, "--version", str(version), "--on", on.isoformat(),
            "--channel", "post", "--reference", "JP-REG-9",
        )  # fmt: skip

    cases = [
        (2, today, "draft_version", "is not approved by legal"),
        (1, today, "draft_version", "not a non-renewal notice"),
        (7, today, "draft_version", "does not exist"),
        (2, today + timedelta(days=5), "dispatched_on", "is in the future"),
    ]
    for version, on, field, reason in cases:
        status, problem = await _api_refusal(portal, cid, _dispatch_body(version, on))
        assert status == 422, problem
        assert any(e["field"] == field and reason in e["reason"] for e in problem["errors"]), (
            problem
        )
        result = await cli(version, on)
        assert result.exit_code == 1, result.output
        assert f"{field}: " in result.stderr and reason in result.stderr

    # A fixed-term contract takes no non-renewal notice.
    env: WorkflowEnvironment = portal.extra["env"]
    now = (await env.get_current_time()).date()
    fixed = await _register(
        portal,
        start_date=now - relativedelta(months=10),
        end_date=now + relativedelta(months=2),
        notice_period_days=0,
    )
    fixed_handle = await _start(portal, fixed)
    await _until(fixed_handle, lambda st: len(st.drafts) == 1, "drafted v1")
    status, problem = await _api_refusal(portal, fixed, _dispatch_body(1, today))
    assert status == 422 and problem["errors"][0]["field"] == "draft_version", problem
    assert "fixed-term contract" in problem["errors"][0]["reason"]
    result = await cli(1, today, contract=fixed)
    assert result.exit_code == 1 and "draft_version: a fixed-term contract" in result.stderr

    # An unknown contract.
    status, problem = await _api_refusal(portal, "C-NOPE", _dispatch_body(2, today))
    assert status == 404 and "C-NOPE" in problem["detail"], problem
    result = await cli(2, today, contract="C-NOPE")
    assert result.exit_code == 1 and "C-NOPE" in result.stderr

    # Nothing was stored: no dispatch in the workflow, no event row, no audit row.
    for contract, h in ((cid, handle), (fixed, fixed_handle)):
        assert (await h.query(ContractRenewalWorkflow.status)).dispatches == ()
        assert _stored(portal, contract) == (0, 0)
    await handle.terminate("test over")
    await fixed_handle.terminate("test over")


async def test_the_workflows_own_refusal_is_named_by_field(
    portal: Portal, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What only the workflow can see (here: the early check is skipped) is refused by it, and
    its InvalidDispatch refusal reaches people as InvalidInput naming the field."""
    cid, handle = await _approved_notice(portal, approve=False)
    # An unapproved notice gets past a check that is told it is approved.
    monkeypatch.setattr(notices, "_version_errors", lambda *_a, **_k: [])
    state = portal.app.state.portal
    assert portal.client is not None
    with pytest.raises(InvalidInput) as refused:
        await notices.record_dispatch(
            sessions=portal.sessions,
            client=portal.client,
            settings=state.settings,
            user=_procurement(portal),
            keys=state.identity,
            contract_id=cid,
            term=1,
            draft_version=2,
            dispatched_on=_utc_today(),
            channel=DispatchChannel.POST,
            reference="JP-REG-7",
            today=_utc_today(),
        )
    [error] = refused.value.errors
    assert error.field == "draft_version" and "not approved by legal" in error.reason
    assert _stored(portal, cid) == (0, 0)
    await handle.terminate("test over")


def _procurement(p: Portal) -> Any:
    from store import users

    with transaction(p.sessions) as s:
        return users.resolve_token(s, secret=p.tokens["procurement"])


def test_a_refusal_without_a_field_or_of_a_closed_renewal_is_a_conflict() -> None:
    from temporalio.client import WorkflowUpdateFailedError

    def refusal(message: str, kind: str) -> Exception:
        return notices._refusal(WorkflowUpdateFailedError(ApplicationError(message, type=kind)))

    named = refusal("dispatched_on: 2099-01-01 is in the future", "InvalidDispatch")
    assert isinstance(named, InvalidInput) and named.errors[0].field == "dispatched_on"
    assert isinstance(refusal("this renewal started before ...", "InvalidDispatch"), Conflict)
    assert isinstance(refusal("the renewal has reached expiry", "RenewalClosed"), Conflict)
    other = WorkflowUpdateFailedError(ApplicationError("try again", type="NotReady"))
    assert notices._refusal(other) is other
