"""The procurement and review API through the real app, on SQLite and PostgreSQL, with a real
Temporal (time-skipping) server and worker behind it."""

from sqlalchemy import select

from models.tables import AuditLogRow
from store.db import transaction
from tests.portal_fixtures import *  # noqa: F403
from tests.portal_fixtures import Portal, contract_in_review_window, wait_for_draft


async def test_start_review_and_approve_through_the_api(portal: Portal) -> None:
    env = portal.extra["env"]
    cid = await contract_in_review_window(env, portal.sessions, title="Packaging <b>bold</b>")
    http = portal.http

    started = await http.post(
        "/api/v1/renewals", json={"contract_id": cid}, headers=portal.auth("procurement")
    )
    assert started.status_code == 201, started.text
    assert started.json()["created"] is True
    again = await http.post(
        "/api/v1/renewals", json={"contract_id": cid}, headers=portal.auth("procurement")
    )
    assert again.status_code == 200 and again.json()["created"] is False
    await wait_for_draft(portal.client, cid)  # type: ignore[arg-type]

    queue = await http.get("/api/v1/review-queue", headers=portal.auth("legal"))
    assert queue.status_code == 200
    mine = [i for i in queue.json()["items"] if i["contract_id"] == cid]
    assert len(mine) == 1 and mine[0]["version"] == 1

    pipeline = await http.get(
        "/api/v1/renewals", params={"stage": "legal_review"}, headers=portal.auth("procurement")
    )
    row = next(i for i in pipeline.json()["items"] if i["contract_id"] == cid)
    assert row["stage"] == "legal_review"
    assert row["next_milestone"]["kind"] in {"final_terms", "expiry"}
    assert row["workflow_id"] == f"renewal/{cid}/term-1"

    draft = await http.get(f"/api/v1/renewals/{cid}/terms/1/drafts/1", headers=portal.auth("legal"))
    assert draft.status_code == 200
    assert draft.json()["draft"]["hash_verified"] is True
    assert {c["clause"] for c in draft.json()["clauses"]} >= {"unit_price", "new_end_date"}

    changes = await http.post(
        f"/api/v1/renewals/{cid}/terms/1/decisions",
        json={
            "decision": "request_changes",
            "draft_version": 1,
            "comment": "Cap the price adjustment at 2 %.",
        },
        headers={**portal.auth("legal"), "Idempotency-Key": "form-1"},
    )
    assert changes.status_code == 200, changes.text
    # Legal's comment waits for procurement's version: the same terms are not re-rendered.
    assert changes.json()["new_draft"] is None
    assert changes.json()["stage"] == "changes_requested"
    made = await http.post(
        f"/api/v1/renewals/{cid}/terms/1/versions",
        json={
            "based_on_version": 1,
            "edit": {
                "price_adjustment": "CPI, at most 2 % a year",
                "price_adjustment_cap_pct": "2",
            },
        },
        headers=portal.auth("procurement"),
    )
    assert made.status_code == 201, made.text
    v2 = made.json()
    assert v2["version"] == 2 and v2["requested_by"] == "buyer@example.com"

    # An approval bound to another text is refused.
    stale = await http.post(
        f"/api/v1/renewals/{cid}/terms/1/decisions",
        json={"decision": "approve", "draft_version": 2, "content_hash": "0" * 64},
        headers=portal.auth("legal2"),
    )
    assert stale.status_code == 422, stale.text
    assert stale.json()["errors"][0]["field"] == "content_hash"

    # legal-a asked for the change and did not make version 2: the checker may approve it.
    approved = await http.post(
        f"/api/v1/renewals/{cid}/terms/1/decisions",
        json={"decision": "approve", "draft_version": 2, "content_hash": v2["content_hash"]},
        headers=portal.auth("legal"),
    )
    assert approved.status_code == 200, approved.text
    assert approved.json()["stage"] == "approved"

    detail = await http.get(f"/api/v1/renewals/{cid}/terms/1", headers=portal.auth("procurement"))
    body = detail.json()
    assert body["live"] is True
    assert [d["version"] for d in body["drafts"]] == [1, 2]
    assert [d["decision"] for d in body["decisions"]] == ["request_changes", "approve"]
    assert body["diffs"][0]["from_version"] == 1 and body["diffs"][0]["to_version"] == 2
    assert len(body["milestones"]) == 4

    with transaction(portal.sessions) as s:
        rows = s.scalars(
            select(AuditLogRow).where(AuditLogRow.subject_id == f"renewal/{cid}/term-1")
        ).all()
        actions = [(r.action, r.actor) for r in rows]
        assert ("start", "buyer@example.com") in actions
        assert actions.count(("draft_created", "buyer@example.com")) == 2
        assert ("version_edited", "buyer@example.com") in actions
        assert actions.count(("decision", "legal-a@example.com")) == 2
        decision = next(
            r
            for r in rows
            if r.action == "decision"
            and r.actor == "legal-a@example.com"
            and r.content_hash == v2["content_hash"]
        )
        assert decision.content_hash == v2["content_hash"]

    await portal.client.get_workflow_handle(f"renewal/{cid}/term-1").terminate("test over")  # type: ignore[union-attr]


async def test_amend_replans_and_cancel_terminates(portal: Portal) -> None:
    env = portal.extra["env"]
    cid = await contract_in_review_window(env, portal.sessions)
    http = portal.http
    await http.post(
        "/api/v1/renewals", json={"contract_id": cid}, headers=portal.auth("procurement")
    )
    await wait_for_draft(portal.client, cid)  # type: ignore[arg-type]

    before = (await http.get(f"/api/v1/contracts/{cid}", headers=portal.auth("procurement"))).json()
    amended = await http.post(
        f"/api/v1/contracts/{cid}/amendments",
        json={"notice_period_days": 14, "reason": "supplier asked"},
        headers=portal.auth("procurement"),
    )
    assert amended.status_code == 200, amended.text
    body = amended.json()
    assert body["through_workflow"] is True and body["notice_period_days"] == 14
    assert body["notice_deadline"] is not None
    assert body["end_date"] == before["end_date"]

    bad = await http.post(
        f"/api/v1/contracts/{cid}/amendments", json={}, headers=portal.auth("procurement")
    )
    assert bad.status_code == 422
    assert bad.json()["errors"], bad.json()

    cancelled = await http.post(
        f"/api/v1/renewals/{cid}/terms/1/cancellation",
        json={"reason": "moving to another supplier"},
        headers=portal.auth("procurement"),
    )
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["stage"] == "termination_pending"
    twice = await http.post(
        f"/api/v1/renewals/{cid}/terms/1/cancellation",
        json={"reason": "again"},
        headers=portal.auth("procurement"),
    )
    assert twice.status_code == 409
    # Reviews are closed once termination is pending.
    closed = await http.post(
        f"/api/v1/renewals/{cid}/terms/1/decisions",
        json={"decision": "reject", "draft_version": 1, "comment": "no"},
        headers=portal.auth("legal"),
    )
    assert closed.status_code in (409, 422)
    await portal.client.get_workflow_handle(f"renewal/{cid}/term-1").terminate("test over")  # type: ignore[union-attr]


async def test_unknown_contract_and_bad_bodies_are_problem_details(portal: Portal) -> None:
    http = portal.http
    missing = await http.post(
        "/api/v1/renewals", json={"contract_id": "NOPE"}, headers=portal.auth("procurement")
    )
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")
    bad = await http.post(
        "/api/v1/renewals", json={"contract": "x"}, headers=portal.auth("procurement")
    )
    assert bad.status_code == 422
    fields = {e["field"] for e in bad.json()["errors"]}
    assert {"contract_id", "contract"} <= fields
    stage = await http.get(
        "/api/v1/renewals", params={"stage": "bogus"}, headers=portal.auth("procurement")
    )
    assert stage.status_code == 422 and stage.json()["errors"][0]["field"] == "stage"
    page = await http.get(
        "/api/v1/renewals", params={"limit": 0}, headers=portal.auth("procurement")
    )
    assert page.status_code == 422 and page.json()["errors"][0]["field"] == "limit"
