"""Follow-up reviews through the web pages (issues 16 and 17), on SQLite and PostgreSQL: the
owner records the current term's review on its form and it reads back through the API with its
audit entry; closes an open action from the contract page; sets the contract's own interval.
Bad input (CSAT, NPS, an action without owner or due date, a term that has ended) is refused
next to its field with what was typed kept and nothing stored; legal may read but not record;
the Japanese pages read in Japanese."""

import re
from datetime import date
from typing import Any

import httpx
from sqlalchemy import select

from models.tables import AuditLogRow
from portal.deps import SESSION_COOKIE
from store.db import transaction
from tests.factories import register
from tests.portal_fixtures import *  # noqa: F403
from tests.portal_fixtures import Portal, new_contract_id
from tests.web_i18n_helpers import english_left

JA = {"Accept-Language": "ja"}
TODAY = date(2026, 4, 15)


def _contract(p: Portal, **overrides: Any) -> str:
    """A contract of the stack's buyer, 1 January 2026 to 31 December 2027: its first review
    fell due on 1 April."""
    cid = new_contract_id()
    with transaction(p.sessions) as s:
        register(
            s,
            id=cid,
            owner=p.username("procurement"),
            start_date=overrides.pop("start_date", date(2026, 1, 1)),
            end_date=overrides.pop("end_date", date(2027, 12, 31)),
            **overrides,
        )
    p.app.state.portal.today = lambda: TODAY
    return cid


def _browser(p: Portal, who: str, headers: dict[str, str] | None = None) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=p.app),
        base_url="http://testserver",
        cookies={SESSION_COOKIE: p.cookies[who][0]},
        headers=headers or {},
    )


def _field_error(html: str, name: str) -> str:
    found = re.search(rf'<p class="field-error" id="err-{re.escape(name)}">(.*?)</p>', html, re.S)
    return found[1] if found else ""


def _value(html: str, name: str) -> str | None:
    tag = re.search(rf'<input[^>]*name="{re.escape(name)}"[^>]*>', html)
    if tag is None:
        return None
    value = re.search(r'value="([^"]*)"', tag[0])
    return value[1] if value else None


def _invalid(html: str, name: str) -> bool:
    tag = re.search(rf'<(?:input|textarea|select)[^>]*name="{re.escape(name)}"[^>]*>', html)
    return tag is not None and 'aria-invalid="true"' in tag[0] and f"err-{name}" in tag[0]


def _main(html: str) -> str:
    return html[html.index('<main id="main">') : html.index("</main>")]


def _review(p: Portal, **changes: str) -> dict[str, str]:
    form = {
        "csrf_token": p.cookies["procurement"][1],
        "term": "1",
        "sequence": "",
        "csat": "4",
        "nps": "9",
        "supplier_continue": "yes",
        "supplier_continue_on": "at the current volumes",
        "feedback": "Two late deliveries, each explained with its fix.",
        "action-1-kind": "action",
        "action-1-description": "Agree the delivery slots for the busy season",
        "action-1-owner": "buyer",
        "action-1-due": "2026-05-31",
        "action-2-kind": "action",
    }
    return form | changes


async def _api(p: Portal, cid: str) -> dict[str, Any]:
    r = await p.http.get(f"/api/v1/contracts/{cid}/followups", headers=p.auth("legal"))
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def _audit(p: Portal, cid: str, action: str) -> list[AuditLogRow]:
    with transaction(p.sessions) as s:
        rows = s.scalars(
            select(AuditLogRow)
            .where(AuditLogRow.subject_id == cid)
            .where(AuditLogRow.action == action)
        ).all()
        s.expunge_all()
        return list(rows)


async def test_a_review_recorded_on_the_page_reads_back_through_the_api(
    db_portal: Portal,
) -> None:
    p = db_portal
    cid = _contract(p)
    async with _browser(p, "procurement") as http:
        contract = await http.get(f"/contracts/{cid}")
        assert f'href="/contracts/{cid}/followups/new"' in contract.text
        page = await http.get(f"/contracts/{cid}/followups/new")
        assert page.status_code == 200, page.text
        assert f'action="/contracts/{cid}/followups"' in page.text
        assert "Review 1, due" in page.text
        made = await http.post(f"/contracts/{cid}/followups", data=_review(p))
        assert made.status_code == 303, made.text
        assert made.headers["location"] == f"/contracts/{cid}?done=followup"
        back = await http.get(made.headers["location"])
        assert "The follow-up review has been recorded." in back.text

        body = await _api(p, cid)
        [review] = [f for f in body["followups"] if f["state"] == "recorded"]
        assert (review["sequence"], review["csat"], review["nps"]) == (1, 4, 9)
        assert review["supplier_continue"] == "yes"
        assert review["supplier_continue_on"] == "at the current volumes"
        assert review["recorded_by"] == p.username("procurement")
        [action] = review["actions"]
        assert (action["owner"], action["due"], action["state"]) == ("buyer", "2026-05-31", "open")
        [entry] = _audit(p, cid, "followup_recorded")
        assert entry.actor == p.username("procurement")
        assert entry.detail["csat"] == 4 and entry.detail["actions"] == 1

        # The open action is closed from the contract page.
        closure = f"/contracts/{cid}/followups/actions/{action['id']}/closure"
        assert f'action="{closure}"' in back.text
        assert (await http.post(closure, data={})).status_code == 403  # no CSRF token
        closed = await http.post(closure, data={"csrf_token": p.cookies["procurement"][1]})
        assert closed.status_code == 303, closed.text
        assert closed.headers["location"] == f"/contracts/{cid}?done=followup_action_closed"
        body = await _api(p, cid)
        assert body["followups"][0]["actions"][0]["state"] == "closed"
        assert len(_audit(p, cid, "followup_action_closed")) == 1
        after = await http.get(f"/contracts/{cid}")
        assert f'action="{closure}"' not in after.text

        # The same review cannot be recorded twice: the form says which.
        again = await http.post(f"/contracts/{cid}/followups", data=_review(p, sequence="1"))
        assert again.status_code == 422
        assert "already recorded" in _field_error(again.text, "sequence")


async def test_bad_input_is_refused_next_to_its_field_with_nothing_stored(
    db_portal: Portal,
) -> None:
    p = db_portal
    cid = _contract(p)
    async with _browser(p, "procurement") as http:
        url = f"/contracts/{cid}/followups"
        # Out of range: the domain's checks, as the API's, each field named.
        r = await http.post(
            url,
            data=_review(
                p,
                csat="7",
                nps="11",
                **{
                    "action-2-description": "Send the corrected invoice",
                    "action-2-due": "2026-06-30",
                    "action-3-description": "Visit the plant",
                    "action-3-owner": "quality",
                },
            ),
        )
        assert r.status_code == 422, r.text
        assert "between 1 and 5, not 7" in _field_error(r.text, "csat")
        assert "between 0 and 10, not 11" in _field_error(r.text, "nps")
        assert "who does it" in _field_error(r.text, "action-2-owner")
        assert "by when" in _field_error(r.text, "action-3-due")
        assert _invalid(r.text, "csat") and _invalid(r.text, "action-2-owner")
        assert _field_error(r.text, "action-1-owner") == ""
        # What was typed is kept.
        assert _value(r.text, "csat") == "7" and _value(r.text, "nps") == "11"
        assert _value(r.text, "action-2-description") == "Send the corrected invoice"
        assert _value(r.text, "action-3-owner") == "quality"
        assert "Two late deliveries" in r.text
        # Not a number, not a date, no choice: the form's own checks.
        r = await http.post(
            url,
            data=_review(p, csat="four", supplier_continue="", **{"action-1-due": "end of May"}),
        )
        assert r.status_code == 422
        assert _field_error(r.text, "csat") == "Enter a whole number."
        assert _field_error(r.text, "supplier_continue") == "Choose one."
        assert "YYYY-MM-DD" in _field_error(r.text, "action-1-due")
        assert _value(r.text, "action-1-due") == "end of May"

        # In Japanese: the reasons in Japanese, no English left on the page.
        ja = await http.post(url, data=_review(p, csat="0"), headers=JA)
        assert ja.status_code == 422
        assert _field_error(ja.text, "csat") == "1から5までの数を入力してください（入力値: 0）。"
        typed = [
            cid,
            "at the current volumes",
            "Two late deliveries, each explained with its fix.",
            "Agree the delivery slots for the busy season",
            "buyer",
        ]
        assert english_left(_main(ja.text), allowed=typed) == []
    body = await _api(p, cid)
    assert [f for f in body["followups"] if f["state"] == "recorded"] == []
    assert _audit(p, cid, "followup_recorded") == []


async def test_legal_reads_but_may_not_record(db_portal: Portal) -> None:
    p = db_portal
    cid = _contract(p)
    async with _browser(p, "legal") as http:
        contract = await http.get(f"/contracts/{cid}")
        assert contract.status_code == 200
        assert "/followups/new" not in contract.text
        assert (await http.get(f"/contracts/{cid}/followups/new")).status_code == 403
        refused = await http.post(
            f"/contracts/{cid}/followups", data=_review(p) | {"csrf_token": p.cookies["legal"][1]}
        )
        assert refused.status_code == 403
    async with _browser(p, "procurement") as http:
        forged = await http.post(
            f"/contracts/{cid}/followups", data=_review(p) | {"csrf_token": "forged"}
        )
        assert forged.status_code == 403
        cross_site = await http.post(
            f"/contracts/{cid}/followups",
            data=_review(p),
            headers={"origin": "https://evil.example"},
        )
        assert cross_site.status_code == 403
    assert [f for f in (await _api(p, cid))["followups"] if f["state"] == "recorded"] == []


async def test_a_term_that_has_ended_takes_no_review(db_portal: Portal) -> None:
    p = db_portal
    cid = _contract(p, end_date=date(2026, 3, 31), start_date=date(2025, 4, 1))
    async with _browser(p, "procurement") as http:
        page = await http.get(f"/contracts/{cid}/followups/new")
        assert page.status_code == 200
        assert 'id="followup-form"' not in page.text
        assert "a follow-up review cannot be recorded for a term that has ended" in page.text
        # A form opened before the term ended is refused, saying so.
        r = await http.post(f"/contracts/{cid}/followups", data=_review(p, sequence="1"))
        assert r.status_code == 422, r.text
        assert "the term ended on 2026-03-31" in r.text
        ja = await http.post(f"/contracts/{cid}/followups", data=_review(p), headers=JA)
        assert ja.status_code == 422
        assert "終了した契約期間" in ja.text
        assert english_left(_main(ja.text), allowed=[cid]) == []
    assert _audit(p, cid, "followup_recorded") == []


async def test_the_contracts_own_interval_and_a_foreign_action(db_portal: Portal) -> None:
    p = db_portal
    cid = _contract(p)
    other = _contract(p)
    async with _browser(p, "procurement") as http:
        url = f"/contracts/{cid}/followups/interval"
        token = p.cookies["procurement"][1]
        bad = await http.post(url, data={"csrf_token": token, "interval_months": "13"})
        assert bad.status_code == 422
        assert "between 1 and 12 months" in _field_error(bad.text, "interval_months")
        assert _value(bad.text, "interval_months") == "13"
        ja = await http.post(url, data={"csrf_token": token, "interval_months": "x"}, headers=JA)
        assert ja.status_code == 422 and english_left(_main(ja.text), allowed=[cid]) == []
        ok = await http.post(url, data={"csrf_token": token, "interval_months": "2"})
        assert ok.status_code == 303
        assert ok.headers["location"] == f"/contracts/{cid}?done=followup_interval"
        body = await _api(p, cid)
        assert (body["interval_months"], body["contract_interval_months"]) == (2, 2)
        assert len(_audit(p, cid, "followup_interval_set")) == 1
        # Emptied: the organisation's setting again.
        reset = await http.post(url, data={"csrf_token": token, "interval_months": ""})
        assert reset.status_code == 303
        assert (await _api(p, cid))["contract_interval_months"] is None

        made = await http.post(f"/contracts/{other}/followups", data=_review(p))
        assert made.status_code == 303, made.text
        action_id = (await _api(p, other))["followups"][0]["actions"][0]["id"]
        foreign = await http.post(
            f"/contracts/{cid}/followups/actions/{action_id}/closure",
            data={"csrf_token": token},
            headers=JA,
        )
        assert foreign.status_code == 404
        assert "この契約のフォローアップ" in foreign.text
    assert (await _api(p, other))["followups"][0]["actions"][0]["state"] == "open"


async def test_the_japanese_form_reads_in_japanese(db_portal: Portal) -> None:
    p = db_portal
    cid = _contract(p)
    async with _browser(p, "procurement", JA) as http:
        page = await http.get(f"/contracts/{cid}/followups/new")
        assert page.status_code == 200
        assert "フォローアップ（定期レビュー）" in page.text and "顧客満足度（CSAT）" in page.text
        assert english_left(_main(page.text), allowed=[cid]) == []
        made = await http.post(f"/contracts/{cid}/followups", data=_review(p))
        assert made.status_code == 303, made.text
        contract = await http.get(made.headers["location"])
        assert "フォローアップ（定期レビュー）を記録しました。" in contract.text
        section = contract.text.split('id="followups-title"', 1)[1].split("</section>", 1)[0]
        assert "完了にする" in section
        typed = [
            cid,
            "at the current volumes",
            "Two late deliveries, each explained with its fix.",
            "Agree the delivery slots for the busy season",
            "buyer",
        ]
        assert english_left(section, allowed=typed) == []
