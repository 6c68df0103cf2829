"""The buyer's actions through the web pages (issue 16), on SQLite and PostgreSQL with a worker
on the time-skipping Temporal server: start a renewal, make the next version by editing terms,
record the offer and the supplier's answers (a counter-offer, then an acceptance), amend the
contract, terminate and record the notice's dispatch. Each action's effect is read back through
the API (stage, versions, events) and the audit trail; each form refuses bad input with the
field named, what was typed kept, status 422 and nothing stored; a stale version form is
refused (409); a post without the CSRF token is refused (403); the Japanese pages read in
Japanese."""

import re
from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from dateutil.relativedelta import relativedelta
from sqlalchemy import select

from models.tables import AuditLogRow
from portal.deps import SESSION_COOKIE
from portal.state import TemporalUnavailable
from store.db import transaction
from tests.factories import register
from tests.portal_fixtures import *  # noqa: F403
from tests.portal_fixtures import (
    PEOPLE,
    Portal,
    contract_in_review_window,
    new_contract_id,
    wait_for_draft,
)
from tests.web_i18n_helpers import english_left
from tests.workflow_helpers import today

JA = {"Accept-Language": "ja"}


def _browser(p: Portal, who: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=p.app),
        base_url="http://testserver",
        cookies={SESSION_COOKIE: p.cookies[who][0]},
    )


def _csrf(p: Portal, who: str = "procurement") -> str:
    return p.cookies[who][1]


def _field_error(html: str, name: str) -> str:
    """The refusal shown next to field ``name`` ('' when none)."""
    found = re.search(rf'<p class="field-error" id="err-{re.escape(name)}">(.*?)</p>', html, re.S)
    return found[1] if found else ""


def _invalid(html: str, name: str) -> bool:
    tag = re.search(rf'<(?:input|textarea|select)[^>]*name="{re.escape(name)}"[^>]*>', html)
    return tag is not None and 'aria-invalid="true"' in tag[0] and f"err-{name}" in tag[0]


async def _renewal(p: Portal, cid: str) -> dict[str, Any]:
    r = await p.http.get(f"/api/v1/renewals/{cid}/terms/1", headers=p.auth("procurement"))
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def _audit(p: Portal, cid: str, action: str) -> list[AuditLogRow]:
    with transaction(p.sessions) as s:
        rows = s.scalars(
            select(AuditLogRow)
            .where(AuditLogRow.subject_id == f"renewal/{cid}/term-1")
            .where(AuditLogRow.action == action)
        ).all()
        s.expunge_all()
        return list(rows)


async def _decide(p: Portal, cid: str, version: int, decision: str, comment: str = "") -> None:
    r = await p.http.post(
        f"/api/v1/renewals/{cid}/terms/1/decisions",
        json={"decision": decision, "draft_version": version, "comment": comment},
        headers=p.auth("legal"),
    )
    assert r.status_code == 200, r.text


def _english(html: str, allowed: list[str]) -> list[str]:
    """The English left in the page's own content (``<main>``; the shared header's words are
    the common catalog's)."""
    main = html[html.index('<main id="main">') : html.index("</main>")]
    return english_left(main, allowed=allowed)


def _allowed(cid: str, terms: dict[str, Any]) -> list[str]:
    """The page's test data: ids, names, and the stored clauses' own words."""
    texts = [cid, "Buyer", "Procurement", PEOPLE["procurement"][0]]
    texts += [str(v) for v in terms.values() if isinstance(v, str)]
    texts += [c for c in terms.get("additional_clauses", [])]
    return texts


async def test_start_version_offer_and_answers_through_the_pages(portal: Portal) -> None:
    env = portal.extra["env"]
    day = await today(env)
    portal.app.state.portal.today = lambda: day
    cid = await contract_in_review_window(env, portal.sessions, title="Ink cartridges")
    base = f"/contracts/{cid}/terms/1"
    csrf = _csrf(portal)
    async with _browser(portal, "procurement") as http:
        # ---------------------------------------------------------------- start
        page = await http.get(f"/contracts/{cid}/start")
        assert page.status_code == 200 and 'action="/contracts/' in page.text
        ja = await http.get(f"/contracts/{cid}/start", headers=JA)
        assert ja.status_code == 200 and _english(ja.text, _allowed(cid, {})) == []
        no_token = await http.post(f"/contracts/{cid}/start", data={})
        assert no_token.status_code == 403
        assert (
            await portal.http.get(
                f"/api/v1/renewals/{cid}/terms/1", headers=portal.auth("procurement")
            )
        ).status_code == 404  # nothing started without the token
        started = await http.post(f"/contracts/{cid}/start", data={"csrf_token": csrf})
        assert started.status_code == 303, started.text
        assert started.headers["location"] == f"/contracts/{cid}?done=start"
        assert portal.client is not None
        await wait_for_draft(portal.client, cid)
        assert len(await _audit(portal, cid, "start")) == 1

        # Legal asks for changes: the renewal waits for procurement's revision.
        await _decide(portal, cid, 1, "request_changes", "Cap the price adjustment at 2 %.")
        detail = await _renewal(portal, cid)
        v1 = detail["drafts"][0]
        v1_terms = v1["proposed_terms"]
        v1_price = Decimal(v1_terms["unit_price"])

        # ---------------------------------------------------------------- next version
        form = await http.get(f"{base}/versions/new?based_on=1")
        assert form.status_code == 200, form.text
        assert f'name="unit_price" value="{v1_terms["unit_price"]}"' in form.text
        assert 'name="based_on_version" value="1"' in form.text
        assert 'id="plan-unit_price"' in form.text  # the plan's target and limit beside it
        for name in (
            "unit_price",
            "annual_volume",
            "term_months",
            "notice_period_days",
            "payment_terms",
            "price_adjustment",
            "price_adjustment_cap_pct",
            "service_levels",
            "additional_clauses",
            "note",
        ):
            assert f'for="f-{name}"' in form.text, name
        ja = await http.get(f"{base}/versions/new?based_on=1", headers=JA)
        assert _english(ja.text, _allowed(cid, v1_terms)) == []

        def version_form(**changes: str) -> dict[str, str]:
            values = {
                "csrf_token": csrf,
                "based_on_version": "1",
                "unit_price": v1_terms["unit_price"],
                "currency": v1_terms["currency"],
                "annual_volume": v1_terms["annual_volume"],
                "exclusivity": "yes" if v1_terms["exclusivity"] else "no",
                "term_months": str(v1_terms["term_months"]),
                "notice_period_days": str(v1_terms["notice_period_days"]),
                "payment_terms": v1_terms["payment_terms"],
                "price_adjustment": v1_terms["price_adjustment"],
                "price_adjustment_cap_pct": v1_terms.get("price_adjustment_cap_pct", ""),
                "service_levels": v1_terms["service_levels"],
                "additional_clauses": "\n".join(v1_terms.get("additional_clauses", [])),
                "note": "",
            }
            return {**values, **changes}

        for changes, field, reason in (
            ({"unit_price": "-5"}, "unit_price", "greater than 0"),
            ({"unit_price": "abc"}, "unit_price", "Enter a number"),
            ({"currency": "XYZ"}, "currency", "unknown currency"),
            ({"term_months": "1", "notice_period_days": "120"}, "notice_period_days", "longer"),
        ):
            bad = await http.post(f"{base}/versions/new", data=version_form(**changes))
            assert bad.status_code == 422, (changes, bad.text[:500])
            assert reason in _field_error(bad.text, field), (changes, field)
            assert _invalid(bad.text, field)
            typed = changes[field]
            assert f'name="{field}" value="{typed}"' in bad.text  # what was typed is kept
        nothing = await http.post(f"{base}/versions/new", data=version_form())
        assert nothing.status_code == 422 and "changes nothing" in nothing.text
        ja_bad = await http.post(
            f"{base}/versions/new", data=version_form(unit_price="-5"), headers=JA
        )
        assert ja_bad.status_code == 422 and "0より大きい" in _field_error(
            ja_bad.text, "unit_price"
        )
        assert _english(ja_bad.text, _allowed(cid, v1_terms)) == []  # a known refusal, in Japanese
        assert len((await _renewal(portal, cid))["drafts"]) == 1  # nothing stored
        assert await _audit(portal, cid, "version_edited") == []

        made = await http.post(
            f"{base}/versions/new",
            data=version_form(
                unit_price=str(v1_price - 10),
                price_adjustment="CPI, at most 2 % per year",
                price_adjustment_cap_pct="2",
                note="Capped at 2 % as legal asked",
            ),
        )
        assert made.status_code == 303, made.text
        assert made.headers["location"] == f"/contracts/{cid}?done=version"
        detail = await _renewal(portal, cid)
        v2 = detail["drafts"][-1]
        assert v2["version"] == 2 and v2["requested_by"] == PEOPLE["procurement"][0]
        assert Decimal(v2["proposed_terms"]["unit_price"]) == v1_price - 10
        assert v2["proposed_terms"]["price_adjustment_cap_pct"] == "2"
        [entry] = await _audit(portal, cid, "version_edited")
        assert entry.actor == PEOPLE["procurement"][0]
        assert set(entry.detail["changed"]) == {
            "unit_price",
            "price_adjustment",
            "price_adjustment_cap_pct",
        }

        # The same form again, made on version 1: stale, refused, not applied.
        stale = await http.post(
            f"{base}/versions/new", data=version_form(unit_price=str(v1_price - 20))
        )
        assert stale.status_code == 409 and 'id="notice"' in stale.text
        assert "Another version was made" in stale.text
        stale_ja = await http.post(
            f"{base}/versions/new", data=version_form(unit_price=str(v1_price - 20)), headers=JA
        )
        assert stale_ja.status_code == 409 and "別の版" in stale_ja.text
        assert len((await _renewal(portal, cid))["drafts"]) == 2

        # ---------------------------------------------------------------- offer
        unapproved = await http.post(
            f"{base}/offer",
            data={
                "csrf_token": csrf,
                "draft_version": "2",
                "content_hash": v2["content_hash"],
                "presented_on": day.isoformat(),
                "note": "",
            },
        )
        assert unapproved.status_code == 422
        assert "not approved by legal" in _field_error(unapproved.text, "draft_version")
        await _decide(portal, cid, 2, "approve")
        offer = await http.get(f"{base}/offer")
        assert offer.status_code == 200 and 'name="presented_on"' in offer.text
        ja = await http.get(f"{base}/offer", headers=JA)
        assert _english(ja.text, _allowed(cid, {})) == []
        future = (day + timedelta(days=3)).isoformat()
        offer_form = {
            "csrf_token": csrf,
            "draft_version": "2",
            "content_hash": v2["content_hash"],
            "presented_on": future,
            "note": "To the sales director, at the quarterly meeting",
        }
        bad = await http.post(f"{base}/offer", data=offer_form)
        assert bad.status_code == 422 and "in the future" in _field_error(bad.text, "presented_on")
        assert f'value="{future}"' in bad.text and "quarterly meeting" in bad.text
        bad_ja = await http.post(f"{base}/offer", data=offer_form, headers=JA)
        assert bad_ja.status_code == 422 and "未来の日付" in _field_error(
            bad_ja.text, "presented_on"
        )
        assert _english(bad_ja.text, [*_allowed(cid, {}), offer_form["note"]]) == []
        not_a_date = await http.post(f"{base}/offer", data={**offer_form, "presented_on": "x"})
        assert not_a_date.status_code == 422 and _field_error(not_a_date.text, "presented_on")
        assert (await _renewal(portal, cid))["renewal"]["stage"] == "approved"
        done = await http.post(
            f"{base}/offer", data={**offer_form, "presented_on": day.isoformat()}
        )
        assert done.status_code == 303, done.text
        assert done.headers["location"] == f"/contracts/{cid}?done=offer"
        detail = await _renewal(portal, cid)
        assert detail["renewal"]["stage"] == "offer_presented"
        assert len(await _audit(portal, cid, "offer_recorded")) == 1

        # ---------------------------------------------------------------- answers
        answer = await http.get(f"{base}/answer")
        assert answer.status_code == 200 and 'name="draft_version" value="2"' in answer.text
        ja = await http.get(f"{base}/answer", headers=JA)
        assert _english(ja.text, _allowed(cid, v2["proposed_terms"])) == []
        v2_values = version_form(
            unit_price=v2["proposed_terms"]["unit_price"],
            price_adjustment=v2["proposed_terms"]["price_adjustment"],
            price_adjustment_cap_pct="2",
        )
        del v2_values["based_on_version"]
        answer_form = {
            **v2_values,
            "draft_version": "2",
            "answered_on": day.isoformat(),
            "content_hash": v2["content_hash"],
            "confirmed_by": "",
            "reference": "",
        }
        unproven = await http.post(f"{base}/answer", data={**answer_form, "answer": "accepted"})
        assert unproven.status_code == 422
        assert "who signed" in _field_error(unproven.text, "confirmed_by")
        assert "evidence" in _field_error(unproven.text, "reference")
        none_chosen = await http.post(f"{base}/answer", data={**answer_form, "answer": ""})
        assert none_chosen.status_code == 422 and _field_error(none_chosen.text, "answer")
        bad_counter = await http.post(
            f"{base}/answer", data={**answer_form, "answer": "countered", "unit_price": "0"}
        )
        assert bad_counter.status_code == 422
        assert "greater than 0" in _field_error(bad_counter.text, "unit_price")
        assert (await _renewal(portal, cid))["renewal"]["stage"] == "offer_presented"
        assert await _audit(portal, cid, "answer_recorded") == []

        countered = await http.post(
            f"{base}/answer",
            data={
                **answer_form,
                "answer": "countered",
                "unit_price": str(v1_price + 15),
                "note": "Freight costs more: +25 on the unit price",
            },
        )
        assert countered.status_code == 303, countered.text
        detail = await _renewal(portal, cid)
        v3 = detail["drafts"][-1]
        assert v3["version"] == 3 and Decimal(v3["proposed_terms"]["unit_price"]) == v1_price + 15
        assert detail["renewal"]["stage"] == "legal_review"
        await _decide(portal, cid, 3, "approve")
        presented = await http.post(
            f"{base}/offer",
            data={
                **offer_form,
                "draft_version": "3",
                "content_hash": v3["content_hash"],
                "presented_on": day.isoformat(),
            },
        )
        assert presented.status_code == 303, presented.text
        accepted = await http.post(
            f"{base}/answer",
            data={
                **answer_form,
                "draft_version": "3",
                "answer": "accepted",
                "content_hash": v3["content_hash"],
                "confirmed_by": "Sales director, Supplier Co.",
                "reference": "signed PDF 2026-117",
            },
        )
        assert accepted.status_code == 303, accepted.text
        detail = await _renewal(portal, cid)
        assert detail["renewal"]["stage"] == "agreed"
        assert len(await _audit(portal, cid, "answer_recorded")) == 2
        # Agreed: a further version is refused by the renewal's state, said in Japanese.
        after = await http.post(
            f"{base}/versions/new",
            data=version_form(based_on_version="3", unit_price=str(v1_price + 1)),
            headers=JA,
        )
        assert after.status_code == 409, after.text[-2000:]
        notice = re.search(r'<p class="notice error"[^>]*id="notice">(.*?)</p>', after.text, re.S)
        assert notice is not None and "すでに合意済み" in notice[1]
        assert english_left(notice[1]) == []
        kinds = [e["kind"] for e in detail["events"]]
        assert kinds.count("offer_presented") == 2 and kinds.count("supplier_answered") == 2

    # A lawyer may not act as a buyer.
    async with _browser(portal, "legal") as http:
        denied = await http.get(f"{base}/offer")
        assert denied.status_code == 403

    await portal.client.get_workflow_handle(f"renewal/{cid}/term-1").terminate("test over")


async def test_amend_terminate_and_the_notices_dispatch(portal: Portal) -> None:
    env = portal.extra["env"]
    day = await today(env)
    portal.app.state.portal.today = lambda: day
    cid = new_contract_id()
    end = day + relativedelta(months=2)
    with transaction(portal.sessions) as s:
        register(
            s,
            id=cid,
            title="Toner supply",
            start_date=day - relativedelta(months=10),
            end_date=end,
            notice_period_days=30,
            term_model="auto_renewing",
            owner=PEOPLE["procurement"][0],
        )
    csrf = _csrf(portal)
    base = f"/contracts/{cid}/terms/1"
    async with _browser(portal, "procurement") as http:
        # ---------------------------------------------------------------- amend, no renewal yet
        form = await http.get(f"/contracts/{cid}/amend")
        assert form.status_code == 200
        assert f'name="end_date" value="{end.isoformat()}"' in form.text
        assert 'name="notice_period_days" value="30"' in form.text
        ja = await http.get(f"/contracts/{cid}/amend", headers=JA)
        assert _english(ja.text, _allowed(cid, {"t": "Toner supply"})) == []
        seen = {"seen_end_date": end.isoformat(), "seen_notice_period_days": "30"}
        bad = await http.post(
            f"/contracts/{cid}/amend",
            data={
                "csrf_token": csrf,
                **seen,
                "end_date": end.isoformat(),
                "notice_period_days": "many",
                "reason": "typo",
            },
        )
        assert bad.status_code == 422 and _field_error(bad.text, "notice_period_days")
        assert 'value="many"' in bad.text
        too_long = await http.post(
            f"/contracts/{cid}/amend",
            data={
                "csrf_token": csrf,
                **seen,
                "end_date": end.isoformat(),
                "notice_period_days": "5000",
                "reason": "",
            },
        )
        assert too_long.status_code == 422
        assert _field_error(too_long.text, "notice_period_days"), too_long.text[-3000:]
        unchanged = await http.post(
            f"/contracts/{cid}/amend",
            data={
                "csrf_token": csrf,
                **seen,
                "end_date": end.isoformat(),
                "notice_period_days": "30",
                "reason": "",
            },
        )
        assert unchanged.status_code == 422 and 'id="form-errors"' in unchanged.text
        r = await portal.http.get(f"/api/v1/contracts/{cid}", headers=portal.auth("procurement"))
        assert r.json()["notice_period_days"] == 30  # nothing stored
        amended = await http.post(
            f"/contracts/{cid}/amend",
            data={
                "csrf_token": csrf,
                **seen,
                "end_date": end.isoformat(),
                "notice_period_days": "45",
                "reason": "Supplier asked for more notice",
            },
        )
        assert amended.status_code == 303, amended.text
        assert amended.headers["location"] == f"/contracts/{cid}?done=amend"
        r = await portal.http.get(f"/api/v1/contracts/{cid}", headers=portal.auth("procurement"))
        assert r.json()["notice_period_days"] == 45
        # The same form again: made before that amendment, refused as stale.
        stale = await http.post(
            f"/contracts/{cid}/amend",
            data={
                "csrf_token": csrf,
                **seen,
                "end_date": end.isoformat(),
                "notice_period_days": "60",
                "reason": "",
            },
        )
        assert stale.status_code == 409 and 'id="notice"' in stale.text
        r = await portal.http.get(f"/api/v1/contracts/{cid}", headers=portal.auth("procurement"))
        assert r.json()["notice_period_days"] == 45

        # ---------------------------------------------------------------- terminate
        missing = await http.get(f"{base}/terminate")
        assert missing.status_code == 404 and f"/contracts/{cid}/start" in missing.text
        started = await http.post(f"/contracts/{cid}/start", data={"csrf_token": csrf})
        assert started.status_code == 303
        assert portal.client is not None
        await wait_for_draft(portal.client, cid)
        page = await http.get(f"{base}/terminate")
        assert page.status_code == 200 and 'for="f-reason"' in page.text
        ja = await http.get(f"{base}/terminate", headers=JA)
        assert _english(ja.text, _allowed(cid, {"t": "Toner supply"})) == []
        no_reason = await http.post(f"{base}/terminate", data={"csrf_token": csrf, "reason": " "})
        assert no_reason.status_code == 422 and _field_error(no_reason.text, "reason")
        assert _invalid(no_reason.text, "reason")
        no_token = await http.post(f"{base}/terminate", data={"reason": "Consolidating"})
        assert no_token.status_code == 403
        assert await _audit(portal, cid, "cancel") == []
        done = await http.post(
            f"{base}/terminate", data={"csrf_token": csrf, "reason": "Consolidating suppliers"}
        )
        assert done.status_code == 303, done.text
        assert done.headers["location"] == f"/contracts/{cid}?done=terminate"
        assert len(await _audit(portal, cid, "cancel")) == 1
        await wait_for_draft(portal.client, cid, version=2)  # the non-renewal notice
        await _decide(portal, cid, 2, "approve")

        # ---------------------------------------------------------------- the notice's dispatch
        page = await http.get(f"{base}/notices")
        assert page.status_code == 200 and '<option value="2" selected>' in page.text
        ja = await http.get(f"{base}/notices", headers=JA)
        assert _english(ja.text, _allowed(cid, {"t": "Toner supply"})) == []
        sent = {
            "csrf_token": csrf,
            "draft_version": "2",
            "channel": "post",
            "dispatched_on": day.isoformat(),
            "reference": "JP-REG-123",
        }
        for changes, field, reason in (
            ({"dispatched_on": (day + timedelta(days=5)).isoformat()}, "dispatched_on", "future"),
            ({"draft_version": "1"}, "draft_version", "not a non-renewal notice"),
            ({"channel": "pigeon"}, "channel", "Choose"),
            ({"reference": ""}, "reference", "Required"),
        ):
            bad = await http.post(f"{base}/notices", data={**sent, **changes})
            assert bad.status_code == 422, (changes, bad.text[:300])
            assert reason in _field_error(bad.text, field), (changes, _field_error(bad.text, field))
        late_ja = await http.post(
            f"{base}/notices",
            data={**sent, "dispatched_on": (day + timedelta(days=5)).isoformat()},
            headers=JA,
        )
        assert late_ja.status_code == 422 and "未来の日付" in _field_error(
            late_ja.text, "dispatched_on"
        )
        assert _english(late_ja.text, _allowed(cid, {"t": "Toner supply", "r": "JP-REG-123"})) == []
        assert (await _renewal(portal, cid))["dispatches"] == []
        recorded = await http.post(f"{base}/notices", data=sent)
        assert recorded.status_code == 303, recorded.text
        assert recorded.headers["location"] == f"/contracts/{cid}?done=notice"
        detail = await _renewal(portal, cid)
        [dispatch] = detail["dispatches"]
        assert dispatch["reference"] == "JP-REG-123" and dispatch["channel"] == "post"
        assert len(await _audit(portal, cid, "dispatch_recorded")) == 1
        again = await http.post(f"{base}/notices", data=sent)
        assert again.status_code in (409, 422) and 'id="notice"' in again.text

    await portal.client.get_workflow_handle(f"renewal/{cid}/term-1").terminate("test over")


async def test_the_pages_refuse_what_they_cannot_do(
    portal: Portal, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = portal.extra["env"]
    cid = await contract_in_review_window(env, portal.sessions)
    async with _browser(portal, "procurement") as http:
        assert (await http.get("/contracts/C-NOPE/start")).status_code == 404
        # No renewal yet: each term page says so (404) and links to the start.
        for path in ("versions/new", "offer", "answer", "notices", "terminate"):
            page = await http.get(f"/contracts/{cid}/terms/1/{path}")
            assert page.status_code == 404, path
            assert (
                'id="notice"' in page.text and "<form method" not in page.text.split("</header>")[1]
            )
        # Someone else's contract: refused as a notice at the top (403), nothing started.
        other = await contract_in_review_window(env, portal.sessions, owner=PEOPLE["admin"][0])
        refused = await http.post(
            f"/contracts/{other}/start", data={"csrf_token": _csrf(portal)}, headers=JA
        )
        assert refused.status_code == 403 and 'id="notice"' in refused.text
        assert "この操作はできません" in refused.text
        r = await portal.http.get(
            f"/api/v1/renewals/{other}/terms/1", headers=portal.auth("procurement")
        )
        assert r.status_code == 404

        # Temporal down: the form still shows; its post is a notice (503), nothing started.
        async def down() -> None:
            raise TemporalUnavailable("cannot reach Temporal at nowhere:7233")

        monkeypatch.setattr(portal.app.state.portal.temporal, "get", down)
        assert (await http.get(f"/contracts/{cid}/start")).status_code == 200
        for headers, words in (({}, "not reachable"), (JA, "接続できません")):
            unreachable = await http.post(
                f"/contracts/{cid}/start", data={"csrf_token": _csrf(portal)}, headers=headers
            )
            assert unreachable.status_code == 503 and words in unreachable.text
        # A bad form is still refused by its fields (the action's own check runs first).
        contract = (
            await portal.http.get(f"/api/v1/contracts/{cid}", headers=portal.auth("procurement"))
        ).json()
        seen = {
            "csrf_token": _csrf(portal),
            "seen_end_date": contract["end_date"],
            "seen_notice_period_days": str(contract["notice_period_days"]),
            "end_date": contract["end_date"],
            "reason": "",
        }
        bad = await http.post(
            f"/contracts/{cid}/amend", data={**seen, "notice_period_days": "5000"}
        )
        assert bad.status_code == 422 and _field_error(bad.text, "notice_period_days")
        good = await http.post(f"/contracts/{cid}/amend", data={**seen, "notice_period_days": "9"})
        assert good.status_code == 503 and 'id="notice"' in good.text
        monkeypatch.undo()
        r = await portal.http.get(f"/api/v1/renewals/{cid}/terms/1", headers=portal.auth("admin"))
        assert r.status_code == 404
        r = await portal.http.get(f"/api/v1/contracts/{cid}", headers=portal.auth("procurement"))
        assert r.json()["notice_period_days"] == contract["notice_period_days"]
    async with _browser(portal, "legal") as http:
        assert (await http.get(f"/contracts/{cid}/start")).status_code == 403
        assert (await http.get(f"/contracts/{cid}/amend")).status_code == 403


async def test_a_declined_offer_through_the_pages(portal: Portal) -> None:
    env = portal.extra["env"]
    day = await today(env)
    portal.app.state.portal.today = lambda: day
    cid = await contract_in_review_window(env, portal.sessions, title="Paper")
    base = f"/contracts/{cid}/terms/1"
    csrf = _csrf(portal)
    async with _browser(portal, "procurement") as http:
        assert (await http.post(f"/contracts/{cid}/start", data={"csrf_token": csrf})).is_redirect
        assert portal.client is not None
        await wait_for_draft(portal.client, cid)
        await _decide(portal, cid, 1, "approve")
        v1 = (await _renewal(portal, cid))["drafts"][0]
        offered = await http.post(
            f"{base}/offer",
            data={
                "csrf_token": csrf,
                "draft_version": "1",
                "content_hash": v1["content_hash"],
                "presented_on": day.isoformat(),
                "note": "By mail to the account manager",
            },
        )
        assert offered.status_code == 303, offered.text
        page = await http.get(f"{base}/answer", headers=JA)
        assert page.status_code == 200 and 'name="draft_version" value="1"' in page.text
        assert _english(page.text, _allowed(cid, v1["proposed_terms"])) == []
        declined = await http.post(
            f"{base}/answer",
            data={
                "csrf_token": csrf,
                "draft_version": "1",
                "answer": "declined",
                "answered_on": day.isoformat(),
                "content_hash": v1["content_hash"],
                "note": "The price is too low for them",
            },
        )
        assert declined.status_code == 303, declined.text
        assert declined.headers["location"] == f"/contracts/{cid}?done=answer"
        detail = await _renewal(portal, cid)
        assert [e["kind"] for e in detail["events"]].count("supplier_answered") == 1
        [entry] = await _audit(portal, cid, "answer_recorded")
        assert entry.detail["answer"] == "declined" and entry.content_hash is None
        assert entry.detail["note"] == "The price is too low for them"

    await portal.client.get_workflow_handle(f"renewal/{cid}/term-1").terminate("test over")
