"""The buyer's remaining actions submitted through Chromium (issue 16): start a renewal, amend
the contract, request the termination, record the notice's dispatch, record a counter-offer and
a decline. Each form is filled as a person would: the fields found by their labels, the button
by its accessible name. A value the form refuses comes first: it is shown next to its field,
what was typed is kept, nothing is recorded, and axe finds nothing serious on the refused form.
Then the corrected form goes through, the contract page says it was done, and the API and the
audit trail show the effect (stage, event, version, dispatch, audit entry).

Half the actions are done in Japanese (start, termination, counter-offer), half in English
(amendment, dispatch, decline). Each test registers its own contract and sets up what it needs
through the API, so that the tests do not depend on each other's order. The stack is
tests/browser_stack.py's (one server, worker and browser for the module, SQLite).
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from dateutil.relativedelta import relativedelta
from sqlalchemy import select

from models.tables import AuditLogRow
from store.db import transaction
from tests.browser_stack import *  # noqa: F403
from tests.browser_stack import (
    SKIP_REASON,
    SUPPLIER,
    Stack,
    axe_clean,
    new_context,
    shoot,
    sign_in,
)
from tests.factories import register
from tests.portal_fixtures import PEOPLE, contract_in_review_window, new_contract_id, wait_for_draft
from tests.web_i18n_helpers import english_left

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(SKIP_REASON is not None, reason=SKIP_REASON or ""),
]

BUYER = PEOPLE["procurement"][0]
SHOTS = Path("/tmp/shots")


def _today() -> date:
    """The served app's today (its clock is the machine's, in UTC)."""
    return datetime.now(UTC).date()


@asynccontextmanager
async def _buyer_page(stack: Stack, lang: str) -> AsyncIterator[Any]:
    context = await new_context(stack, lang)
    page = await context.new_page()
    scripts: list[str] = []
    page.on("dialog", lambda d: scripts.append(d.message))
    try:
        await sign_in(page, stack.base, "procurement")
        yield page
        assert scripts == [], scripts
    finally:
        await context.close()


def _auto_renewing(stack: Stack, title: str) -> str:
    """A contract of the buyer's that renews by itself, two months from its end, 30 days'
    notice: its renewal drafts at once when started."""
    cid = new_contract_id()
    day = _today()
    with transaction(stack.portal.sessions) as s:
        register(
            s,
            id=cid,
            supplier_id=SUPPLIER,
            title=title,
            start_date=day - relativedelta(months=10),
            end_date=day + relativedelta(months=2),
            notice_period_days=30,
            term_model="auto_renewing",
            owner=BUYER,
        )
    return cid


async def _api(stack: Stack, path: str, body: dict[str, Any], who: str = "procurement") -> Any:
    r = await stack.portal.http.post(path, json=body, headers=stack.portal.auth(who))
    assert r.status_code in (200, 201), (path, r.status_code, r.text)
    return r.json()


async def _started(stack: Stack, cid: str) -> None:
    await _api(stack, "/api/v1/renewals", {"contract_id": cid})
    await wait_for_draft(stack.env.client, cid)


async def _approve(stack: Stack, cid: str, version: int) -> None:
    await _api(
        stack,
        f"/api/v1/renewals/{cid}/terms/1/decisions",
        {"decision": "approve", "draft_version": version, "comment": ""},
        who="legal",
    )


async def _offered(stack: Stack, cid: str) -> dict[str, Any]:
    """Version 1 approved by legal and presented to the supplier; its draft."""
    await _started(stack, cid)
    await _approve(stack, cid, 1)
    v1: dict[str, Any] = (await _renewal(stack, cid))["drafts"][0]
    await _api(
        stack,
        f"/api/v1/renewals/{cid}/terms/1/offers",
        {
            "draft_version": 1,
            "presented_on": _today().isoformat(),
            "content_hash": v1["content_hash"],
        },
    )
    assert (await _renewal(stack, cid))["renewal"]["stage"] == "offer_presented"
    return v1


async def _renewal(stack: Stack, cid: str) -> dict[str, Any]:
    r = await stack.portal.http.get(
        f"/api/v1/renewals/{cid}/terms/1", headers=stack.portal.auth("procurement")
    )
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def _contract(stack: Stack, cid: str) -> dict[str, Any]:
    r = await stack.portal.http.get(
        f"/api/v1/contracts/{cid}", headers=stack.portal.auth("procurement")
    )
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def _audit(stack: Stack, subject: str, action: str) -> list[AuditLogRow]:
    with transaction(stack.portal.sessions) as s:
        rows = s.scalars(
            select(AuditLogRow)
            .where(AuditLogRow.subject_id == subject)
            .where(AuditLogRow.action == action)
        ).all()
        s.expunge_all()
        return list(rows)


def _term(cid: str) -> str:
    return f"renewal/{cid}/term-1"


async def _over(stack: Stack, cid: str) -> None:
    with suppress(Exception):  # it may have ended already
        await stack.env.client.get_workflow_handle(_term(cid)).terminate("test over")


async def _press(page: Any, name: str) -> None:
    await page.get_by_role("button", name=name, exact=True).click()
    await page.wait_for_load_state("load")


async def _refused(page: Any, field: Any, typed: str, reason: str, label: str) -> None:
    """The form came back with ``field`` refused: marked invalid, described by its error (which
    says ``reason``), still holding what was typed; axe finds nothing serious."""
    assert await field.get_attribute("aria-invalid") == "true", label
    name = await field.get_attribute("name")
    assert f"err-{name}" in (await field.get_attribute("aria-describedby") or "")
    assert await field.input_value() == typed, label
    shown = await page.locator(f"#err-{name}").inner_text()
    assert reason in shown, (label, shown)
    await axe_clean(page, label)


async def _done(page: Any, stack: Stack, cid: str, what: str, words: str) -> None:
    await page.wait_for_url(f"{stack.base}/contracts/{cid}?done={what}")
    assert (await page.locator("#notice").inner_text()).strip() == words


async def _no_english(page: Any, allowed: list[str]) -> None:
    html = await page.content()
    main = html[html.index('<main id="main">') : html.index("</main>")]
    assert english_left(main, allowed=allowed) == []


async def _shot_ja(page: Any, name: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(SHOTS / f"{name}-ja.png"), full_page=True)


def _allowed(stack: Stack, cid: str, *typed: str) -> list[str]:
    return [cid, SUPPLIER, "Tokyo Packaging K.K.", BUYER, "Procurement", *typed]


# ------------------------------------------------------------------------------ start (ja)


async def test_start_a_renewal_in_japanese(stack: Stack) -> None:
    """The start form has no field to refuse: its page is checked with axe, then its one
    button starts the renewal."""
    cid = await contract_in_review_window(
        stack.env, stack.portal.sessions, supplier_id=SUPPLIER, title="Shrink sleeves"
    )
    try:
        async with _buyer_page(stack, "ja") as page:
            await page.goto(f"{stack.base}/contracts/{cid}/start")
            assert await page.get_attribute("html", "lang") == "ja"
            await axe_clean(page, f"start (/contracts/{cid}/start) [procurement, ja]")
            await _no_english(page, _allowed(stack, cid, "Shrink sleeves"))
            assert _audit(stack, _term(cid), "start") == []
            await _press(page, "契約更新を開始する")
            await _done(page, stack, cid, "start", "更新手続きを開始しました。")
            await axe_clean(page, f"contract after the start (/contracts/{cid}) [ja]")
        await wait_for_draft(stack.env.client, cid)
        detail = await _renewal(stack, cid)
        assert detail["renewal"]["stage"] == "legal_review"
        assert [d["version"] for d in detail["drafts"]] == [1]
        [entry] = _audit(stack, _term(cid), "start")
        assert entry.actor == BUYER
    finally:
        await _over(stack, cid)


# ------------------------------------------------------------------------------ amend (en)


async def test_amend_the_contract_in_english(stack: Stack) -> None:
    cid = _auto_renewing(stack, "Label stock")
    async with _buyer_page(stack, "en") as page:
        await page.goto(f"{stack.base}/contracts/{cid}/amend")
        notice = page.get_by_label("Notice period (days)", exact=True)
        assert await notice.input_value() == "30"
        await notice.fill("many")
        await page.get_by_label("Reason for the amendment", exact=True).fill("Typo")
        await _press(page, "Amend the contract")
        await _refused(
            page,
            notice,
            "many",
            "Enter a whole number of days.",
            f"amend refused (/contracts/{cid}/amend) [procurement, en]",
        )
        assert await page.get_by_label("Reason for the amendment").input_value() == "Typo"
        assert (await _contract(stack, cid))["notice_period_days"] == 30  # nothing stored
        await shoot(page, "procurement", "en", "amend-refused")

        await notice.fill("45")
        await page.get_by_label("Reason for the amendment").fill("Supplier asked for more notice")
        await _press(page, "Amend the contract")
        await _done(page, stack, cid, "amend", "The contract has been amended.")
    assert (await _contract(stack, cid))["notice_period_days"] == 45
    [entry] = _audit(stack, cid, "amend")
    assert entry.actor == BUYER
    assert entry.detail["notice_period_days"] == 45
    assert entry.detail["reason"] == "Supplier asked for more notice"
    assert entry.detail["through_workflow"] is False  # no renewal running


# ------------------------------------------------------------------------------ terminate (ja)


async def test_request_the_termination_in_japanese(stack: Stack) -> None:
    cid = _auto_renewing(stack, "Carton sealing tape")
    await _started(stack, cid)
    url = f"/contracts/{cid}/terms/1/terminate"
    try:
        async with _buyer_page(stack, "ja") as page:
            await page.goto(f"{stack.base}{url}")
            reason = page.get_by_label("理由（必須）", exact=True)
            await reason.fill("\u3000")  # an ideographic space only: no reason
            await _press(page, "契約終了を依頼する")
            await _refused(
                page,
                reason,
                "\u3000",
                "必須です。更新しない理由を入力してください。",
                f"terminate refused ({url}) [procurement, ja]",
            )
            await _no_english(page, _allowed(stack, cid, "Carton sealing tape"))
            await shoot(page, "procurement", "ja", "terminate-refused")
            await _shot_ja(page, "terminate-refused")
            assert _audit(stack, _term(cid), "cancel") == []

            await reason.fill("取引先を集約するため")
            await _press(page, "契約終了を依頼する")
            await _done(page, stack, cid, "terminate", "記録しました：この契約は更新しません。")
        # On a contract that renews by itself, the non-renewal notice goes to legal first.
        await wait_for_draft(stack.env.client, cid, version=2)
        detail = await _renewal(stack, cid)
        assert detail["renewal"]["stage"] == "termination_pending"
        assert [e["kind"] for e in detail["events"]].count("termination_requested") == 1
        assert [(d["version"], d["kind"]) for d in detail["drafts"]] == [
            (1, "renegotiation"),
            (2, "non_renewal_notice"),
        ]
        [entry] = _audit(stack, _term(cid), "cancel")
        assert entry.actor == BUYER and entry.detail["reason"] == "取引先を集約するため"
    finally:
        await _over(stack, cid)


# ------------------------------------------------------------------------------ dispatch (en)


async def test_record_the_notices_dispatch_in_english(stack: Stack) -> None:
    cid = _auto_renewing(stack, "Stretch hoods")
    await _started(stack, cid)
    await _api(stack, f"/api/v1/renewals/{cid}/terms/1/cancellation", {"reason": "Consolidating"})
    await wait_for_draft(stack.env.client, cid, version=2)
    await _approve(stack, cid, 2)
    url = f"/contracts/{cid}/terms/1/notices"
    later = (_today() + timedelta(days=5)).isoformat()
    try:
        async with _buyer_page(stack, "en") as page:
            await page.goto(f"{stack.base}{url}")
            version = page.get_by_label("The notice that went out", exact=True)
            assert await version.input_value() == "2"  # the approved notice, chosen
            await page.get_by_label("Sent by", exact=True).select_option(label="registered post")
            sent_on = page.get_by_label("Sent on", exact=True)
            await sent_on.fill(later)
            reference = page.get_by_label("Reference (tracking number, message id, receipt)")
            await reference.fill("JP-REG-456")
            await _press(page, "Record the dispatch")
            await _refused(
                page,
                sent_on,
                later,
                f"{later} is in the future; record a dispatch once it happened",
                f"dispatch refused ({url}) [procurement, en]",
            )
            assert await reference.input_value() == "JP-REG-456"
            assert (await _renewal(stack, cid))["dispatches"] == []
            await shoot(page, "procurement", "en", "dispatch-refused")

            await sent_on.fill(_today().isoformat())
            await _press(page, "Record the dispatch")
            await _done(page, stack, cid, "notice", "The notice's dispatch has been recorded.")
        detail = await _renewal(stack, cid)
        [dispatch] = detail["dispatches"]
        assert (dispatch["reference"], dispatch["channel"]) == ("JP-REG-456", "post")
        assert dispatch["draft_version"] == 2 and dispatch["recorded_by"] == BUYER
        assert dispatch["dispatched_on"] == _today().isoformat() and dispatch["late"] is False
        # Approved and sent in time: the contract ends at its end date (not_renewed).
        assert detail["renewal"]["stage"] == "approved"
        assert [e["kind"] for e in detail["events"]].count("notice_dispatched") == 1
        [entry] = _audit(stack, _term(cid), "dispatch_recorded")
        assert entry.actor == BUYER
    finally:
        await _over(stack, cid)


# ------------------------------------------------------------------------------ counter-offer (ja)


async def test_record_a_counter_offer_in_japanese(stack: Stack) -> None:
    cid = await contract_in_review_window(
        stack.env, stack.portal.sessions, supplier_id=SUPPLIER, title="Kraft paper"
    )
    url = f"/contracts/{cid}/terms/1/answer"
    try:
        v1 = await _offered(stack, cid)
        price = Decimal(v1["proposed_terms"]["unit_price"])
        asked = str(price + 15)
        async with _buyer_page(stack, "ja") as page:
            await page.goto(f"{stack.base}{url}")
            await page.get_by_label("対案", exact=True).check()
            unit_price = page.get_by_label("単価", exact=True)
            assert Decimal(await unit_price.input_value()) == price  # version 1's
            await unit_price.fill("0")
            note = page.get_by_label("メモ：取引先の発言、対案や辞退の理由", exact=True)
            await note.fill("運賃の上昇分を単価に上乗せしたいとのこと")
            await _press(page, "回答を記録する")
            await _refused(
                page,
                unit_price,
                "0",
                "0より大きい値にしてください。",
                f"counter-offer refused ({url}) [procurement, ja]",
            )
            assert await page.get_by_label("対案", exact=True).is_checked()
            assert await note.input_value() == "運賃の上昇分を単価に上乗せしたいとのこと"
            await _no_english(
                page,
                _allowed(stack, cid, "Kraft paper", *map(str, v1["proposed_terms"].values())),
            )
            await shoot(page, "procurement", "ja", "counter-offer-refused")
            await _shot_ja(page, "counter-offer-refused")
            assert _audit(stack, _term(cid), "answer_recorded") == []

            await unit_price.fill(asked)
            await _press(page, "回答を記録する")
            await _done(page, stack, cid, "answer", "取引先の回答を記録しました。")
        detail = await _renewal(stack, cid)
        assert detail["renewal"]["stage"] == "legal_review"  # the counter-offer goes to legal
        v2 = detail["drafts"][-1]
        assert v2["version"] == 2 and v2["requested_by"] == BUYER
        assert Decimal(v2["proposed_terms"]["unit_price"]) == Decimal(asked)
        assert [e["kind"] for e in detail["events"]].count("supplier_answered") == 1
        [entry] = _audit(stack, _term(cid), "answer_recorded")
        assert entry.actor == BUYER and entry.detail["answer"] == "countered"
    finally:
        await _over(stack, cid)


# ------------------------------------------------------------------------------ decline (en)


async def test_record_a_decline_in_english(stack: Stack) -> None:
    cid = await contract_in_review_window(
        stack.env, stack.portal.sessions, supplier_id=SUPPLIER, title="Void fill"
    )
    url = f"/contracts/{cid}/terms/1/answer"
    later = (_today() + timedelta(days=3)).isoformat()
    try:
        await _offered(stack, cid)
        async with _buyer_page(stack, "en") as page:
            await page.goto(f"{stack.base}{url}")
            await page.get_by_label("Declined", exact=True).check()
            answered_on = page.get_by_label("Answered on", exact=True)
            await answered_on.fill(later)
            note = page.get_by_label(
                "Note: the supplier's words, its reasons for a counter-offer or for declining"
            )
            await note.fill("The price is too low for them")
            await _press(page, "Record the answer")
            await _refused(
                page,
                answered_on,
                later,
                f"{later} is in the future; record an answer once it came",
                f"decline refused ({url}) [procurement, en]",
            )
            assert await page.get_by_label("Declined", exact=True).is_checked()
            assert await note.input_value() == "The price is too low for them"
            assert _audit(stack, _term(cid), "answer_recorded") == []
            await shoot(page, "procurement", "en", "decline-refused")

            await answered_on.fill(_today().isoformat())
            await _press(page, "Record the answer")
            await _done(page, stack, cid, "answer", "The supplier's answer has been recorded.")
        detail = await _renewal(stack, cid)
        kinds = [e["kind"] for e in detail["events"]]
        assert kinds.count("supplier_answered") == 1
        # Declined: back to the recommendation, escalated to the owner.
        assert detail["renewal"]["stage"] == "escalated" and kinds[-1] == "escalation"
        assert [d["version"] for d in detail["drafts"]] == [1]  # no version made
        [entry] = _audit(stack, _term(cid), "answer_recorded")
        assert entry.actor == BUYER and entry.detail["answer"] == "declined"
        assert entry.detail["note"] == "The price is too low for them"
    finally:
        await _over(stack, cid)
