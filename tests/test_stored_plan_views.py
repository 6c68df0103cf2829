"""Every view reads the stored plan (renewal-semantics.md §1): for renewals running on the
time-skipping server, the pipeline (store read, CLI ``--json`` and API), the dashboard, the .ics
feed and the mails show exactly the dates of the workflow's own ``status``: end date, notice
deadline, send-by date and each milestone's due date, before and after an amendment re-plans.
A contract whose renewal has not started shows a preview, labelled so.

The Japanese contracts: one ending 2027-06-30 with 90 days' notice (notice deadline Thursday
2027-04-01, three business days of transit before it: send-by and final terms 2027-03-29), and
one ending 2027-08-01 whose 90 days' notice end on Monday 2027-05-03, Constitution Day, and roll
back over the weekend to Friday 2027-04-30 (send-by 2027-04-26: Showa Day, 29 April, is not a
business day)."""

import asyncio
import json
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
from icalendar import Calendar
from sqlalchemy import delete, select
from sqlalchemy.orm import Session
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker
from typer.testing import CliRunner

from activities.drafting import make_environment
from activities.notifications import NotificationActivities
from cli.main import app as main_app
from clients import renewals
from config.mail import MailSettings
from config.settings import Settings, get_settings
from domain.term_plan import term_plan
from models.contract import ContractAmendment
from models.milestones import MilestoneState
from models.notifications import NotificationKind, NotificationRequest
from models.plans import StoredPlan
from models.renewal import PlanRequest, RenewalStatus
from models.tables import AuditLogRow, OutboxRow, PlanMilestoneRow, TermPlanRow
from store import contracts as contract_store
from store import plans
from store import sweep as sweep_store
from store.db import SessionFactory, transaction
from store.reads import dashboard as dashboard_reads
from store.reads import pipeline as pipeline_reads
from tests.factories import register
from tests.identity_helpers import SIGNED
from tests.portal_fixtures import Portal, build_portal
from tests.workflow_helpers import today
from workflows.contract_renewal import ContractRenewalWorkflow

SETTINGS = Settings()
OWNER = "buyer@example.com"


# ---------------------------------------------------------------------------- helpers


def _truth(status: RenewalStatus) -> dict[str, date | None]:
    """The workflow's own dates, by label."""
    found: dict[str, date | None] = {
        "end_date": status.end_date,
        "notice_deadline": status.notice_deadline,
        "send_by": status.send_by,
    }
    found.update({m.kind.value: m.due for m in status.milestones})
    return found


def _seen(plan: StoredPlan) -> dict[str, date | None]:
    found: dict[str, date | None] = {
        "end_date": plan.end_date,
        "notice_deadline": plan.notice_deadline,
        "send_by": plan.send_by,
    }
    found.update({m.kind.value: m.due for m in plan.milestones})
    return found


def _next_pending(status: RenewalStatus) -> tuple[str, date] | None:
    m = next((m for m in status.milestones if m.state is MilestoneState.PENDING), None)
    return None if m is None else (m.kind.value, m.due)


def _done(*kinds: str) -> Callable[[RenewalStatus], bool]:
    def check(status: RenewalStatus) -> bool:
        states = {m.kind.value: m.state for m in status.milestones}
        return all(
            states.get(k, MilestoneState.PENDING) is not MilestoneState.PENDING for k in kinds
        )

    return check


async def _settled(
    client: Client,
    sessions: SessionFactory,
    cid: str,
    *,
    want_end: date | None = None,
    until: Callable[[RenewalStatus], bool] | None = None,
) -> RenewalStatus:
    """The status once the stored plan says what the workflow says (dates and states)."""
    handle = renewals.renewal_handle(client, contract_id=cid, term=1)
    for _ in range(600):
        status: RenewalStatus = await handle.query(ContractRenewalWorkflow.status)
        with transaction(sessions) as s:
            stored = plans.read_plan(s, contract_id=cid, term=1)
        if (
            status.milestones
            and (want_end is None or status.end_date == want_end)
            and (until is None or until(status))
            and stored is not None
            and _seen(stored) == _truth(status)
            and [m.state for m in stored.milestones] == [m.state for m in status.milestones]
        ):
            return status
        await asyncio.sleep(0.05)
    raise AssertionError(f"the stored plan never caught up with {cid}'s status")


def _register_jp(sessions: SessionFactory, cid: str, **fields: Any) -> None:
    with transaction(sessions) as s:
        register(
            s,
            id=cid,
            owner=OWNER,
            start_date=date(2026, 1, 1),
            notice_period_days=90,
            jurisdiction="JP",
            **fields,
        )


async def _cli(*args: str, token: str | None = None) -> tuple[int, str]:
    env = {"RENEWALS_API_TOKEN": token} if token else None  # the CLI acts for the token's owner
    result = await asyncio.to_thread(CliRunner().invoke, main_app, list(args), env=env)
    return result.exit_code, result.output


async def _skip_to(env: WorkflowEnvironment, day: date) -> None:
    delta = datetime.combine(day, time(12), UTC) - await env.get_current_time()
    if delta > timedelta(0):
        await env.sleep(delta)


@pytest.fixture
def cli_env(
    time_skipping_env: WorkflowEnvironment,
    sqlite_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    monkeypatch.setenv(
        "TEMPORAL_ADDRESS", time_skipping_env.client.service_client.config.target_host
    )
    monkeypatch.setenv("RENEWALS_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("RENEWALS_API_TOKEN", raising=False)
    get_settings.cache_clear()


# ---------------------------------------------------------------------------- what each view shows


def _assert_pipeline_item(item: dict[str, Any], status: RenewalStatus) -> None:
    """A pipeline item as JSON (API or CLI): the workflow's dates, not a preview."""
    truth = _truth(status)
    assert item["plan_preview"] is False
    assert item["end_date"] == str(truth["end_date"])
    assert item["notice_deadline"] == str(truth["notice_deadline"])
    assert item["send_by"] == (str(truth["send_by"]) if truth["send_by"] else None)
    nxt = _next_pending(status)
    assert nxt is not None
    assert (item["next_milestone"]["kind"], item["next_milestone"]["due"]) == (
        nxt[0],
        nxt[1].isoformat(),
    )


def _ics_events(feed: bytes) -> dict[str, Any]:
    return {str(e["UID"]): e for e in Calendar.from_ical(feed).walk("VEVENT")}


def _assert_ics(events: dict[str, Any], cid: str, status: RenewalStatus) -> None:
    for m in status.milestones:
        event = events[f"{cid}-term1-{m.kind.value}@contract-renewals"]
        assert event.decoded("DTSTART") == m.due, (cid, m.kind)
        assert "preview" not in str(event["SUMMARY"]).lower()
    notice = events[f"{cid}-term1-notice-deadline@contract-renewals"]
    assert notice.decoded("DTSTART") == status.notice_deadline


def _mail(sessions: SessionFactory, cid: str, kind: NotificationKind) -> str:
    """The latest mail of ``kind`` about the contract, as its reader gets it."""
    with transaction(sessions) as s:
        rows = list(
            s.scalars(
                select(OutboxRow)
                .where(OutboxRow.contract_id == cid, OutboxRow.kind == kind.value)
                .order_by(OutboxRow.id)
            )
        )
    assert rows, (cid, kind)
    return f"{rows[-1].subject}\n{rows[-1].body}"


async def _mail_soon(sessions: SessionFactory, cid: str, kind: NotificationKind) -> str:
    for _ in range(400):
        try:
            return _mail(sessions, cid, kind)
        except AssertionError:
            await asyncio.sleep(0.05)
    return _mail(sessions, cid, kind)


async def _check_every_view(
    portal: Portal,
    sessions: SessionFactory,
    statuses: dict[str, RenewalStatus],
    *,
    preview_id: str,
    on: date,
) -> None:
    portal.app.state.portal.today = lambda: on
    # The pipeline, as the store reads it.
    with transaction(sessions) as s:
        items, _ = pipeline_reads.pipeline(
            s,
            today=on,
            policy=SETTINGS.renewal_policy,
            cfg=SETTINGS.calendar_settings,
            flt=pipeline_reads.PipelineFilter(owner=OWNER),
        )
        board = dashboard_reads.dashboard(
            s, today=on, policy=SETTINGS.renewal_policy, cfg=SETTINGS.calendar_settings
        )
        preview_contract = contract_store.get_contract(s, contract_id=preview_id)
    by_id = {i.contract_id: i for i in items}
    for cid, status in statuses.items():
        item = by_id[cid]
        assert not item.plan_preview
        assert (item.end_date, item.notice_deadline, item.send_by) == (
            status.end_date,
            status.notice_deadline,
            status.send_by,
        )
        assert item.next_milestone is not None
        assert (item.next_milestone.kind, item.next_milestone.due) == _next_pending(status)
    # The contract with no renewal: a preview by the workflow's plan function, said so.
    preview = term_plan(
        preview_contract,
        category=None,
        today=on,
        cfg=SETTINGS.calendar_settings,
        request=PlanRequest(
            contract_id=preview_id, term=1, today=on, policy=SETTINGS.renewal_policy
        ),
    ).plan
    assert by_id[preview_id].plan_preview
    assert by_id[preview_id].notice_deadline == preview.notice_deadline
    assert by_id[preview_id].send_by == preview.send_by

    # The dashboard: every contract ending within 180 days, with its plan's dates.
    listed = {e.contract_id: e for e in board.expiring_soon}
    for cid, status in statuses.items():
        if status.end_date is not None and status.end_date <= on + timedelta(days=180):
            entry = listed[cid]
            assert not entry.plan_preview
            assert (entry.end_date, entry.notice_deadline, entry.send_by) == (
                status.end_date,
                status.notice_deadline,
                status.send_by,
            )
            assert entry.next_milestone is not None
            assert (entry.next_milestone.kind, entry.next_milestone.due) == _next_pending(status)
    if preview_id in listed:
        assert listed[preview_id].plan_preview

    # The API: pipeline, dashboard, .ics.
    r = await portal.http.get(
        "/api/v1/renewals", params={"owner": OWNER}, headers=portal.auth("procurement")
    )
    assert r.status_code == 200, r.text
    api_items = {i["contract_id"]: i for i in r.json()["items"]}
    for cid, status in statuses.items():
        _assert_pipeline_item(api_items[cid], status)
    assert api_items[preview_id]["plan_preview"] is True
    r = await portal.http.get("/api/v1/dashboard", headers=portal.auth("procurement"))
    assert r.status_code == 200, r.text
    api_board = {e["contract_id"]: e for e in r.json()["expiring_soon"]}
    assert set(api_board) == set(listed)
    for cid, entry in api_board.items():
        assert entry["notice_deadline"] == listed[cid].notice_deadline.isoformat()
        assert entry["plan_preview"] is listed[cid].plan_preview
    r = await portal.http.get(
        "/api/v1/calendar.ics", params={"owner": OWNER}, headers=portal.auth("procurement")
    )
    assert r.status_code == 200, r.text
    events = _ics_events(r.content)
    for cid, status in statuses.items():
        _assert_ics(events, cid, status)
    gather = events[f"{preview_id}-term1-gather_facts@contract-renewals"]
    assert "[preview]" in str(gather["SUMMARY"])
    assert "Preview" in str(gather["DESCRIPTION"])

    # The CLI: `renewals pipeline --json` and `renewals calendar export`.
    code, out = await _cli("pipeline", "--owner", OWNER, "--json")
    assert code == 0, out
    cli_items = {i["contract_id"]: i for i in json.loads(out)["items"]}
    for cid, status in statuses.items():
        _assert_pipeline_item(cli_items[cid], status)
    assert cli_items[preview_id]["plan_preview"] is True
    code, out = await _cli("pipeline", "--owner", OWNER)
    assert code == 0 and "preview" in out and "stored" in out, out
    code, out = await _cli(
        "calendar", "export", "--owner", OWNER, token=portal.tokens["procurement"]
    )
    assert code == 0, out
    cli_events = _ics_events(out.encode())
    for cid, status in statuses.items():
        _assert_ics(cli_events, cid, status)


# ---------------------------------------------------------------------------- the tests


async def test_every_view_shows_the_workflows_dates_before_and_after_an_amendment(
    time_skipping_env: WorkflowEnvironment,
    client: Client,
    sessions: SessionFactory,
    sqlite_url: str,
    renewal_worker: Worker,
    task_queue: str,
    cli_env: None,
) -> None:
    env = time_skipping_env
    now = await today(env)
    suffix = uuid.uuid4().hex[:6]
    fixed, holiday, idle = f"JP-A{suffix}", f"JP-H{suffix}", f"JP-P{suffix}"
    _register_jp(sessions, fixed, end_date=date(2027, 6, 30), language="en")
    _register_jp(
        sessions, holiday, end_date=date(2027, 8, 1), term_model="auto_renewing", language="ja"
    )
    _register_jp(sessions, idle, end_date=date(2027, 5, 31))
    for cid in (fixed, holiday):
        await renewals.start_renewal(
            client, contract_id=cid, term=1, requested_by=OWNER, task_queue=task_queue
        )
    statuses = {
        cid: await _settled(client, sessions, cid, until=_done("gather_facts"))
        for cid in (fixed, holiday)
    }

    # The workflow's own dates, as renewal-semantics.md §1 means them.
    a, h = statuses[fixed], statuses[holiday]
    assert (a.notice_deadline, a.send_by) == (date(2027, 4, 1), date(2027, 3, 29))
    assert {m.kind.value: m.due for m in a.milestones}["final_terms"] == date(2027, 3, 29)
    assert (h.notice_deadline, h.send_by) == (date(2027, 4, 30), date(2027, 4, 26))
    assert {m.kind.value: m.due for m in h.milestones}["send_by"] == date(2027, 4, 26)

    portal = await build_portal(
        database_url=sqlite_url, sessions=sessions, client=client, task_queue=task_queue
    )
    try:
        await _check_every_view(portal, sessions, statuses, preview_id=idle, on=now)

        # The mails the gather-facts milestone sent, with the glossary's words.
        en = await _mail_soon(sessions, fixed, NotificationKind.MILESTONE_REMINDER)
        assert (
            "Last day to send the notice: 29 March 2027\n"
            "Notice deadline: 1 April 2027\n"
            "End date: 30 June 2027\n"
        ) in en, en
        assert "gather facts and score" in en and "Preview" not in en, en
        ja = await _mail_soon(sessions, holiday, NotificationKind.MILESTONE_REMINDER)
        assert "解約予告期限：2027年4月30日\n契約満了日：2027年8月1日" in ja, ja
        assert "解約予告の発送期限：2027年4月26日\n" in ja, ja
        assert "gather_facts" not in ja and "試算" not in ja, ja

        # An amendment re-plans; every view follows.
        new_end = date(2027, 9, 30)
        await renewals.amend_renewal(
            client,
            signer=SIGNED,
            contract_id=fixed,
            term=1,
            amendment=ContractAmendment(
                end_date=new_end, notice_period_days=60, amended_by=OWNER, reason="extended"
            ),
        )
        statuses[fixed] = await _settled(client, sessions, fixed, want_end=new_end)
        amended = statuses[fixed]
        # 60 days before the new end is Sunday 1 August: rolled back to Friday 30 July.
        assert amended.notice_deadline == date(2027, 7, 30)
        assert _truth(amended) != _truth(a)
        await _check_every_view(portal, sessions, statuses, preview_id=idle, on=now)

        # Months later: both first discussions have run and legal was asked; the holiday
        # contract is past its final terms and send-by dates. The dashboard lists both; the
        # review requests quote the (re-planned) final terms date and deadlines.
        later = date(2027, 6, 1)
        await _skip_to(env, later)
        statuses[fixed] = await _settled(
            client, sessions, fixed, until=_done("gather_facts", "first_discussion")
        )
        statuses[holiday] = await _settled(
            client, sessions, holiday, until=_done("first_discussion", "final_terms", "send_by")
        )
        review = await _mail_soon(sessions, fixed, NotificationKind.REVIEW_REQUESTED)
        await _check_every_view(portal, sessions, statuses, preview_id=idle, on=later)
        with transaction(sessions) as s:
            board = dashboard_reads.dashboard(
                s, today=later, policy=SETTINGS.renewal_policy, cfg=SETTINGS.calendar_settings
            )
        assert {fixed, holiday} <= {e.contract_id for e in board.expiring_soon}
        final_terms = {m.kind.value: m.due for m in statuses[fixed].milestones}["final_terms"]
        assert final_terms == amended.send_by == date(2027, 7, 27)
        assert "final terms milestone, due 27 July 2027." in review, review
        assert amended.notice_deadline == date(2027, 7, 30)
        assert "Notice deadline: 30 July 2027" in review, review
        review_ja = _mail(sessions, holiday, NotificationKind.REVIEW_REQUESTED)
        assert "最終条件の提示・合意（2027年4月26日）" in review_ja, review_ja
        assert "解約予告期限：2027年4月30日" in review_ja, review_ja
    finally:
        await portal.http.aclose()
        for cid in (fixed, holiday):
            await renewals.renewal_handle(client, contract_id=cid, term=1).terminate("over")


@pytest.mark.parametrize("language", ["en", "ja"])
def test_a_mail_for_a_term_with_no_stored_plan_says_it_shows_a_preview(
    sessions: SessionFactory, language: str
) -> None:
    cid = f"JP-M{language}"
    _register_jp(sessions, cid, end_date=date(2027, 8, 1), language=language)
    outbox = NotificationActivities(sessions, make_environment(), MailSettings.outbox_only())
    request = NotificationRequest(
        contract_id=cid,
        term=1,
        workflow_id="wf",
        kind=NotificationKind.ESCALATION,
        key=f"preview:{cid}",
        facts={"reason": "test"},
    )
    assert outbox.send_notification(request).startswith("queued")
    text = _mail(sessions, cid, NotificationKind.ESCALATION)
    if language == "ja":
        assert "解約予告の発送期限：2027年4月26日\n解約予告期限：2027年4月30日" in text, text
        assert "試算" in text, text
    else:
        assert "Last day to send the notice: 26 April 2027\nNotice deadline: 30 April 2027" in text
        assert "Preview" in text, text


async def test_backfill_restores_the_plan_of_a_running_renewal_and_refuses_unknown_contracts(
    time_skipping_env: WorkflowEnvironment,
    client: Client,
    sessions: SessionFactory,
    renewal_worker: Worker,
    task_queue: str,
    cli_env: None,
) -> None:
    suffix = uuid.uuid4().hex[:6]
    cid, idle = f"JP-B{suffix}", f"JP-I{suffix}"
    _register_jp(sessions, cid, end_date=date(2027, 8, 1), term_model="auto_renewing")
    _register_jp(sessions, idle, end_date=date(2027, 9, 30))
    await renewals.start_renewal(
        client, contract_id=cid, term=1, requested_by=OWNER, task_queue=task_queue
    )
    status = await _settled(client, sessions, cid, until=_done("gather_facts"))
    with transaction(sessions) as s:
        written = plans.read_plan(s, contract_id=cid, term=1)
        s.execute(delete(PlanMilestoneRow).where(PlanMilestoneRow.contract_id == cid))
        s.execute(delete(TermPlanRow).where(TermPlanRow.contract_id == cid))
    assert written is not None

    with transaction(sessions) as s:
        assert plans.read_plan(s, contract_id=cid, term=1) is None
        [item] = [
            i
            for i in pipeline_reads.pipeline(
                s,
                today=date(2026, 12, 1),
                policy=SETTINGS.renewal_policy,
                cfg=SETTINGS.calendar_settings,
                flt=pipeline_reads.PipelineFilter(owner=OWNER),
            )[0]
            if i.contract_id == cid
        ]
    assert item.plan_preview  # nothing stored: said plainly, until the backfill

    # An unknown contract refuses the whole command, naming the option; nothing is stored.
    code, out = await _cli(
        "plans", "backfill", "--contract", cid, "--contract", "NOPE", "--by", "ops"
    )
    assert code == 1, out
    assert "--contract" in out and "'NOPE' is not a registered contract" in out, out
    with transaction(sessions) as s:
        assert plans.read_plan(s, contract_id=cid, term=1) is None

    code, out = await _cli(
        "plans", "backfill", "--contract", cid, "--contract", idle, "--by", "ops", "--json"
    )
    assert code == 0, out
    results = {r["contract_id"]: r for r in json.loads(out)}
    assert results[cid]["outcome"] == "restored"
    assert results[idle]["outcome"] == "not_running"  # reported, not an error for the others
    with transaction(sessions) as s:
        restored = plans.read_plan(s, contract_id=cid, term=1)
        entries = [
            e for e in plans_audit(s) if e["action"] == "plan_backfill" and e["subject"] == cid
        ]
    assert restored is not None and not restored.preview
    assert _seen(restored) == _truth(status) == _seen(written)
    assert [m.state for m in restored.milestones] == [m.state for m in status.milestones]
    assert [m.fires_at for m in restored.milestones] == [m.fires_at for m in written.milestones]
    assert entries == [{"action": "plan_backfill", "subject": cid, "actor": "ops"}]

    # Again: every running renewal this time; nothing changes, nothing more is audited.
    code, out = await _cli("plans", "backfill", "--by", "ops")
    assert code == 0, out
    assert f"{cid} term 1: unchanged" in out, out
    with transaction(sessions) as s:
        again = plans.read_plan(s, contract_id=cid, term=1)
        audited = [e for e in plans_audit(s) if e["action"] == "plan_backfill"]
    assert again == restored and len(audited) == 1
    await renewals.renewal_handle(client, contract_id=cid, term=1).terminate("over")


def plans_audit(session: Session) -> list[dict[str, str]]:
    return [
        {
            "action": row.action,
            "subject": row.detail.get("contract_id", ""),
            "actor": row.actor,
        }
        for row in session.scalars(select(AuditLogRow).order_by(AuditLogRow.id))
    ]


def _stored_plan(sessions: SessionFactory, cid: str, on: date) -> StoredPlan:
    """The plan the workflow's plan activity would store for the contract, stored."""
    with transaction(sessions) as s:
        contract = contract_store.get_contract(s, contract_id=cid)
        planned = term_plan(
            contract,
            category=None,
            today=on,
            cfg=SETTINGS.calendar_settings,
            request=PlanRequest(contract_id=cid, term=1, today=on, policy=SETTINGS.renewal_policy),
        )
        return plans.save_plan(
            s, contract_id=cid, term=1, workflow_id=f"renewal/{cid}/term-1", plan=planned
        )


def test_the_sweep_never_judges_a_term_with_a_stored_plan(sessions: SessionFactory) -> None:
    """The workflow stores its plan before it opens the renewal's row: from then on, no other
    plan decides whether the term is due."""
    on = date(2026, 12, 1)
    _register_jp(sessions, "JP-S1", end_date=date(2027, 5, 31))
    _register_jp(sessions, "JP-S2", end_date=date(2027, 5, 31))
    _stored_plan(sessions, "JP-S1", on)
    with transaction(sessions) as s:
        page = sweep_store.candidate_page(
            s,
            as_of=on,
            policy=SETTINGS.renewal_policy,
            cfg=SETTINGS.calendar_settings,
            after_id=None,
            limit=10,
        )
    assert [c.contract.id for c in page.candidates] == ["JP-S2"]


def test_a_restore_adds_what_is_missing_and_never_undoes_a_recorded_state(
    sessions: SessionFactory,
) -> None:
    on = date(2026, 12, 1)
    _register_jp(sessions, "JP-R1", end_date=date(2027, 8, 1), term_model="auto_renewing")
    stored = _stored_plan(sessions, "JP-R1", on)
    assert {m.state for m in stored.milestones} == {MilestoneState.PENDING}
    ran = stored.model_copy(
        update={
            "milestones": tuple(
                m.model_copy(update={"state": MilestoneState.DONE_LATE, "late": True})
                if m.kind.value == "gather_facts"
                else m
                for m in stored.milestones
            )
        }
    )
    with transaction(sessions) as s:
        assert plans.restore_plan(s, plan=ran) == "updated"
    with transaction(sessions) as s:
        assert plans.restore_plan(s, plan=ran) == "unchanged"
        # A status read before the state was recorded does not take it back.
        assert plans.restore_plan(s, plan=stored) == "unchanged"
        after = plans.read_plan(s, contract_id="JP-R1", term=1)
    assert after is not None
    assert after.get(ran.milestones[0].kind) == ran.milestones[0]
    assert _seen(after) == _seen(stored) and after.revision == stored.revision
