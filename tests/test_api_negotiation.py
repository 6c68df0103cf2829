"""The negotiation through the HTTP API (issue 15), on SQLite and PostgreSQL, with a real
Temporal (time-skipping) server and worker behind it: v1 drafted at the first discussion,
legal asks for changes, procurement makes v2 by editing the terms, the same lawyer approves
it, it is presented, the supplier counters (v3), v3 is approved, presented and accepted, and
the renewal is agreed and renewed on v3. Every bad input on the way is refused with its field
and reason (422) or as a conflict (409), and nothing is stored for it."""

from datetime import date
from decimal import Decimal
from typing import Any

import httpx
from dateutil.relativedelta import relativedelta
from sqlalchemy import select

from clients import renewals
from domain.milestones import next_term_end
from models.milestones import MilestoneKind
from models.renewal import OutcomeKind
from models.tables import AuditLogRow, ContractRow
from portal.deps import SESSION_COOKIE
from store.db import transaction
from tests.factories import register
from tests.portal_fixtures import *  # noqa: F403
from tests.portal_fixtures import PEOPLE, Portal, new_contract_id, wait_for_draft
from tests.workflow_helpers import result_of, skip_past, today


def _fields(response: httpx.Response) -> dict[str, str]:
    assert response.headers["content-type"].startswith("application/problem+json"), response.text
    return {e["field"]: e["reason"] for e in response.json()["errors"]}


async def _refused(
    http: httpx.AsyncClient, url: str, body: dict[str, Any], headers: dict[str, str]
) -> tuple[int, dict[str, str], str]:
    response = await http.post(url, json=body, headers=headers)
    problem = response.json()
    fields = {e["field"]: e["reason"] for e in problem.get("errors", [])}
    return response.status_code, fields, str(problem.get("detail", ""))


async def test_the_whole_negotiation_through_the_api(portal: Portal) -> None:
    env = portal.extra["env"]
    http = portal.http
    buyer, lawyer = portal.auth("procurement"), portal.auth("legal")
    now = await today(env)
    end = now + relativedelta(months=8)
    cid = new_contract_id()
    with transaction(portal.sessions) as s:
        register(
            s,
            id=cid,
            start_date=now - relativedelta(months=16),
            end_date=end,
            notice_period_days=30,
            owner=PEOPLE["procurement"][0],
        )
    base = f"/api/v1/renewals/{cid}/terms/1"
    started = await http.post("/api/v1/renewals", json={"contract_id": cid}, headers=buyer)
    assert started.status_code == 201, started.text
    await skip_past(env, MilestoneKind.FIRST_DISCUSSION, end_date=end, notice_period_days=30)
    assert portal.client is not None
    await wait_for_draft(portal.client, cid)
    # The workflow's clock ran months ahead: the app takes its date for "today".
    day = await today(env)
    portal.app.state.portal.today = lambda: day

    # v1 with its plan: every clause compared, no breach of the system's own opening.
    v1 = (await http.get(f"{base}/drafts/1", headers=lawyer)).json()
    assert v1["plan"] is not None and v1["breaches"] == []
    assert v1["comparison"]["previous_version"] is None
    v1_price = Decimal(v1["draft"]["proposed_terms"]["unit_price"])

    hearing = await http.post(
        f"{base}/hearings",
        json={
            "held_on": day.isoformat(),
            "needs": "Quarterly volume reviews",
            "wants_to_continue": True,
        },
        headers=buyer,
    )
    assert hearing.status_code == 201, hearing.text
    future = await _refused(
        http, f"{base}/hearings", {"held_on": "2999-01-01", "needs": "x"}, buyer
    )
    assert future[0] == 422 and "is in the future" in future[1]["held_on"]

    changes = await http.post(
        f"{base}/decisions",
        json={"decision": "request_changes", "draft_version": 1, "comment": "Cap it at 2 %."},
        headers=lawyer,
    )
    assert changes.status_code == 200, changes.text
    assert changes.json()["new_draft"] is None  # procurement's to answer, not re-rendered
    waiting = (await http.get(f"{base}/negotiation", headers=buyer)).json()
    assert waiting["live"] is True and waiting["negotiation"]["awaiting_revision"] == 1
    assert {t["clause"] for t in waiting["negotiation"]["plan"]["terms"]} >= {"unit_price"}

    # Bad edits: each field named, nothing made.
    for edit, field, reason in (
        ({"unit_price": "-5"}, "unit_price", "greater than 0"),
        ({"currency": "XYZ"}, "currency", "unknown currency"),
        ({"term_months": 1, "notice_period_days": 120}, "notice_period_days", "longer than"),
        ({}, "terms", "changes nothing"),
        ({"unit_price": "1", "colour": "red"}, "edit.colour", "Extra inputs"),
    ):
        status, fields, _ = await _refused(
            http, f"{base}/versions", {"based_on_version": 1, "edit": edit}, buyer
        )
        assert status == 422 and reason in fields.get(field, ""), (edit, fields)
    not_owner = await _refused(
        http, f"{base}/versions", {"based_on_version": 1, "edit": {"unit_price": "1"}}, lawyer
    )
    assert not_owner[0] == 403

    made = await http.post(
        f"{base}/versions",
        json={
            "based_on_version": 1,
            "edit": {
                "unit_price": str(v1_price - 10),
                "price_adjustment": "CPI, at most 2 % per year",
                "price_adjustment_cap_pct": "2",
            },
            "note": "Capped at 2 % as legal asked",
        },
        headers=buyer,
    )
    assert made.status_code == 201, made.text
    v2 = made.json()
    assert v2["version"] == 2 and v2["requested_by"] == PEOPLE["procurement"][0]
    assert v2["terms"]["price_adjustment_cap_pct"] == "2"
    stale = await _refused(
        http, f"{base}/versions", {"based_on_version": 1, "edit": {"unit_price": "1"}}, buyer
    )
    assert stale[0] == 409 and "not the current version" in stale[2]
    shown = (await http.get(f"{base}/drafts/2", headers=lawyer)).json()
    changed = {c["clause"] for c in shown["comparison"]["against_previous"]}
    assert changed == {"unit_price", "price_adjustment", "price_adjustment_cap_pct"}

    # The lawyer who asked for the change approves the revision: the checker, not the maker.
    approved = await http.post(
        f"{base}/decisions",
        json={"decision": "approve", "draft_version": 2, "content_hash": v2["content_hash"]},
        headers=lawyer,
    )
    assert approved.status_code == 200, approved.text
    never = await _refused(
        http,
        f"{base}/answers",
        {"draft_version": 2, "answer": "declined", "answered_on": day.isoformat()},
        buyer,
    )
    assert never[0] == 422 and "never presented" in never[1]["draft_version"], never

    offered = await http.post(
        f"{base}/offers",
        json={
            "draft_version": 2,
            "presented_on": day.isoformat(),
            "content_hash": v2["content_hash"],
        },
        headers=buyer,
    )
    assert offered.status_code == 201, offered.text
    assert offered.json()["stage"] == "offer_presented"

    countered = await http.post(
        f"{base}/answers",
        json={
            "draft_version": 2,
            "answer": "countered",
            "answered_on": day.isoformat(),
            "note": "Freight costs more: +25 on the unit price",
            "counter_terms": {"unit_price": str(v1_price + 15)},
        },
        headers=buyer,
    )
    assert countered.status_code == 201, countered.text
    v3 = countered.json()["drafts"][-1]
    assert v3["version"] == 3 and v3["requested_by"] == PEOPLE["procurement"][0]
    assert v3["terms"]["price_adjustment_cap_pct"] == "2"
    superseded = await _refused(
        http,
        f"{base}/answers",
        {
            "draft_version": 2,
            "answer": "accepted",
            "answered_on": day.isoformat(),
            "content_hash": v2["content_hash"],
            "confirmed_by": "Sales director",
            "reference": "mail 2026-117",
        },
        buyer,
    )
    assert superseded[0] == 422 and "superseded" in superseded[1]["draft_version"], superseded

    approved = await http.post(
        f"{base}/decisions",
        json={"decision": "approve", "draft_version": 3, "content_hash": v3["content_hash"]},
        headers=lawyer,
    )
    assert approved.status_code == 200, approved.text
    offered = await http.post(
        f"{base}/offers", json={"draft_version": 3, "presented_on": day.isoformat()}, headers=buyer
    )
    assert offered.status_code == 201, offered.text
    no_evidence = await _refused(
        http,
        f"{base}/answers",
        {"draft_version": 3, "answer": "accepted", "answered_on": day.isoformat()},
        buyer,
    )
    assert no_evidence[0] == 422
    assert set(no_evidence[1]) == {"content_hash", "confirmed_by", "reference"}
    accepted = await http.post(
        f"{base}/answers",
        json={
            "draft_version": 3,
            "answer": "accepted",
            "answered_on": day.isoformat(),
            "content_hash": v3["content_hash"],
            "confirmed_by": "Sales director, Tokyo Packaging",
            "reference": "signed PDF 2026-117",
        },
        headers=buyer,
    )
    assert accepted.status_code == 201, accepted.text
    assert accepted.json()["stage"] == "agreed"

    view = (await http.get(f"{base}/negotiation", headers=lawyer)).json()
    negotiation = view["negotiation"]
    assert view["live"] is True and negotiation["awaiting_revision"] is None
    assert negotiation["state"]["agreed"]["version"] == 3
    assert negotiation["state"]["agreed"]["content_hash"] == v3["content_hash"]
    assert [(e["kind"], e["version"]) for e in negotiation["events"]] == [
        ("superseded", 1),
        ("approved", 2),
        ("presented", 2),
        ("answered", 2),
        ("superseded", 2),
        ("approved", 3),
        ("presented", 3),
        ("answered", 3),
    ]
    assert [h["needs"] for h in negotiation["hearings"]] == ["Quarterly volume reviews"]

    with transaction(portal.sessions) as s:
        rows = s.scalars(
            select(AuditLogRow)
            .where(AuditLogRow.subject_id == f"renewal/{cid}/term-1")
            .order_by(AuditLogRow.id)
        ).all()
    mine = [
        (r.action, r.actor)
        for r in rows
        if r.action.endswith(("_edited", "_recorded")) and r.action != "dispatch_recorded"
    ]
    who = PEOPLE["procurement"][0]
    assert mine == [
        ("hearing_recorded", who),
        ("version_edited", who),
        ("offer_recorded", who),
        ("answer_recorded", who),
        ("offer_recorded", who),
        ("answer_recorded", who),
    ]
    answers = [r for r in rows if r.action == "answer_recorded"]
    assert answers[0].detail["counter_version"] == 3
    assert answers[1].content_hash == v3["content_hash"]

    # Renewed on v3's terms at expiry: the contract's next term runs on them.
    outcome = await result_of(env, renewals.renewal_handle(portal.client, contract_id=cid, term=1))
    assert outcome.kind is OutcomeKind.RENEWED and outcome.approved_version == 3
    with transaction(portal.sessions) as s:
        contract = s.get(ContractRow, cid)
        assert contract is not None
        assert contract.unit_price == v1_price + 15
        assert contract.end_date == next_term_end(end, 12)
    next_term = portal.client.get_workflow_handle(f"renewal/{cid}/term-2")
    await next_term.terminate("test over")


async def test_offers_answers_and_reads_of_unknown_renewals(portal: Portal) -> None:
    http = portal.http
    buyer = portal.auth("procurement")
    day = date.today().isoformat()
    missing = await http.post(
        "/api/v1/renewals/C-NOPE/terms/1/offers",
        json={"draft_version": 1, "presented_on": day},
        headers=buyer,
    )
    assert missing.status_code == 404
    unread = await http.get("/api/v1/renewals/C-NOPE/terms/1/negotiation", headers=buyer)
    assert unread.status_code == 404
    bad = await http.post(
        "/api/v1/renewals/C-NOPE/terms/1/answers",
        json={"draft_version": 1, "answer": "maybe", "answered_on": day},
        headers=buyer,
    )
    assert bad.status_code == 422 and "answer" in _fields(bad)


async def test_the_review_page_flags_a_version_outside_the_plan_and_reopens_a_withdrawn_one(
    portal: Portal,
) -> None:
    """Legal reads the limits a version breaks on the draft page (the plan stays internal),
    and a version whose approval an amendment withdrew is decidable again there."""
    env = portal.extra["env"]
    http = portal.http
    buyer, lawyer = portal.auth("procurement"), portal.auth("legal")
    now = await today(env)
    end = now + relativedelta(months=8)
    cid = new_contract_id()
    with transaction(portal.sessions) as s:
        register(
            s,
            id=cid,
            start_date=now - relativedelta(months=16),
            end_date=end,
            owner=PEOPLE["procurement"][0],
        )
    base = f"/api/v1/renewals/{cid}/terms/1"
    assert (
        await http.post("/api/v1/renewals", json={"contract_id": cid}, headers=buyer)
    ).is_success
    await skip_past(env, MilestoneKind.FIRST_DISCUSSION, end_date=end, notice_period_days=30)
    assert portal.client is not None
    await wait_for_draft(portal.client, cid)
    day = await today(env)
    portal.app.state.portal.today = lambda: day
    v1 = (await http.get(f"{base}/drafts/1", headers=lawyer)).json()
    price = Decimal(v1["draft"]["proposed_terms"]["unit_price"])
    await http.post(
        f"{base}/decisions",
        json={"decision": "request_changes", "draft_version": 1, "comment": "Revise."},
        headers=lawyer,
    )
    made = await http.post(
        f"{base}/versions",
        json={"based_on_version": 1, "edit": {"unit_price": str(price * 3)}},
        headers=buyer,
    )
    assert made.status_code == 201, made.text
    v2 = made.json()
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=portal.app),
        base_url="http://testserver",
        cookies={SESSION_COOKIE: portal.cookies["legal"][0]},
    ) as browser:
        page = (await browser.get(f"/reviews/{cid}/1/2")).text
        assert "Outside the negotiation plan" in page and "Unit price" in page
        assert 'id="decision-form"' in page
        approved = await http.post(
            f"{base}/decisions",
            json={"decision": "approve", "draft_version": 2, "content_hash": v2["content_hash"]},
            headers=lawyer,
        )
        assert approved.status_code == 200, approved.text
        assert 'id="decision-form"' not in (await browser.get(f"/reviews/{cid}/1/2")).text
        amended = await http.post(
            f"/api/v1/contracts/{cid}/amendments",
            json={"end_date": (end + relativedelta(months=2)).isoformat(), "reason": "letter"},
            headers=buyer,
        )
        assert amended.is_success, amended.text
        reopened = (await browser.get(f"/reviews/{cid}/1/2")).text
        assert 'id="decision-form"' in reopened
    queue = await http.get("/api/v1/review-queue", params={"limit": 500}, headers=lawyer)
    assert [i["version"] for i in queue.json()["items"] if i["contract_id"] == cid] == [2]
    await portal.client.get_workflow_handle(f"renewal/{cid}/term-1").terminate("test over")
