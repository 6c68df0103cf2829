"""The workspace in a real browser (headless Chromium from Debian's ``chromium`` package, driven
by Playwright), in English and Japanese, as a buyer, a lawyer and an administrator: every page
of the URL map is visited, axe-core is run in it (no serious or critical violation), its
``<html lang>`` is checked and a full-page screenshot is saved to ``RENEWALS_SCREENSHOTS``.
Then the actions are driven through their pages.

One server, one worker, one browser and a few renewals serve the whole module (SQLite only) to
keep the suite short. A page whose route has not landed is reported as missing, not failed.
"""

import uuid
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from dateutil.relativedelta import relativedelta

from clients import renewals
from models.renewal import RenewalStage
from store.db import transaction
from tests.browser_helpers import (
    BLOCKING_IMPACTS,
    Finding,
    axe_findings,
    record_findings,
    route_exists,
    screenshot_dir,
    shot_name,
)
from tests.browser_stack import *  # noqa: F403
from tests.browser_stack import (
    KNOWN_FINDINGS,
    SUPPLIER,
    Stack,
)
from tests.browser_stack import SKIP_REASON as _WHY
from tests.browser_stack import axe_clean as _axe_clean
from tests.browser_stack import new_context as _context
from tests.browser_stack import shoot as _shoot
from tests.browser_stack import sign_in as _sign_in
from tests.factories import register
from tests.portal_fixtures import PEOPLE, wait_for_draft
from tests.web_i18n_helpers import english_left

pytestmark = [pytest.mark.browser, pytest.mark.skipif(_WHY is not None, reason=_WHY or "")]

ROLES = ("procurement", "legal", "admin")
LANGS = ("en", "ja")


def _pages(stack: Stack) -> list[tuple[str, str]]:
    """(label, URL) of every page of the workspace, the URL map of issue 16."""
    cid, other = stack.review_cid, stack.buyer_cid
    return [
        ("dashboard", "/dashboard"),
        ("pipeline", "/pipeline"),
        ("pipeline filtered", f"/pipeline?supplier={SUPPLIER}&sort=end_date"),
        ("pipeline last page", "/pipeline?sort=annual_value&dir=desc&page=last"),
        ("pipeline refused filter", "/pipeline?ends_within=soon"),
        ("exposure", "/exposure"),
        ("contract", f"/contracts/{cid}"),
        ("contract earlier term", f"/contracts/{cid}?term=1"),
        ("start", f"/contracts/{other}/start"),
        ("amend", f"/contracts/{other}/amend"),
        ("next version", f"/contracts/{other}/terms/1/versions/new?based_on=1"),
        ("offer", f"/contracts/{other}/terms/1/offer"),
        ("answer", f"/contracts/{other}/terms/1/answer"),
        ("notices", f"/contracts/{other}/terms/1/notices"),
        ("terminate", f"/contracts/{other}/terms/1/terminate"),
        ("imports", "/imports"),
        ("suppliers", "/suppliers"),
        ("supplier", f"/suppliers/{SUPPLIER}"),
        ("account", "/account"),
        ("review queue", "/reviews"),
        ("draft", f"/reviews/{cid}/1/1"),
        ("contract not found", "/contracts/C-NOT-THERE"),
    ]


async def _check_page(
    page: Any, stack: Stack, who: str, lang: str, label: str, url: str
) -> tuple[int, list[Finding]]:
    response = await page.goto(f"{stack.base}{url}")
    assert response is not None
    status = response.status
    if status >= 500 or status == 403:
        return status, []
    if await page.get_attribute("html", "lang") != lang:
        return -1, []
    await page.screenshot(path=str(screenshot_dir() / shot_name(who, lang, label)), full_page=True)
    if lang == "ja":
        # Reported, not failed: each area's own tests hold its page to english_left() == [].
        left = english_left(await page.content(), allowed=_test_data(stack))
        if left:
            stack.visited.setdefault("english left", []).append(f"{label}: {left[:6]}")
    return status, await axe_findings(page, f"{label} ({url.split('?')[0]}) [{who}, {lang}]")


def _test_data(stack: Stack) -> list[str]:
    """What the test typed or registered: ids, titles, names, e-mail addresses."""
    return [
        stack.review_cid,
        stack.buyer_cid,
        SUPPLIER,
        "Packaging film",
        "Pallet wrap",
        "Tokyo Packaging K.K.",
        "Net 60",
        *(name for name, _roles in PEOPLE.values()),
        *(who.title() for who in PEOPLE),
    ]


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("who", ROLES)
async def test_every_page_passes_axe(stack: Stack, who: str, lang: str) -> None:
    context = await _context(stack, lang)
    page = await context.new_page()
    scripts: list[str] = []
    page.on("dialog", lambda d: scripts.append(d.message))
    try:
        await _sign_in(page, stack.base, who)
        login_findings: list[Finding] = []
        if who == "procurement":  # the sign-in page once per language is enough
            other = await _context(stack, lang)
            anon = await other.new_page()
            await anon.goto(f"{stack.base}/login")
            assert await anon.get_attribute("html", "lang") == lang
            await anon.screenshot(
                path=str(screenshot_dir() / shot_name("anonymous", lang, "login")), full_page=True
            )
            login_findings = await axe_findings(anon, f"login (/login) [anonymous, {lang}]")
            await other.close()

        findings = list(login_findings)
        missing: list[str] = []
        checked: list[str] = []
        for label, url in _pages(stack):
            if not route_exists(stack.portal.app, url):
                missing.append(label)
                continue
            status, found = await _check_page(page, stack, who, lang, label, url)
            checked.append(f"{label}={status}")
            findings.extend(found)
        record_findings(findings)
        broken = [c for c in checked if c.endswith("=-1") or int(c.rsplit("=", 1)[1]) >= 500]
        blocking = [f for f in findings if f.impact in BLOCKING_IMPACTS]
        new = [f for f in blocking if (f.page.split(" (")[0], f.rule) not in KNOWN_FINDINGS]
        print(f"\n{who}/{lang}: checked {', '.join(checked)}; missing {', '.join(missing)}")
        for f in blocking:
            print("  axe:", f.line())
        minor = sorted({(f.rule, f.impact) for f in findings if f.impact not in BLOCKING_IMPACTS})
        print(f"  axe, moderate and minor (not failed): {minor}")
        for line in stack.visited.pop("english left", []):
            print("  English left on a Japanese page:", line)
        assert not broken, f"pages failed (=-1: wrong <html lang>): {broken}"
        assert not new, "axe found serious or critical violations:\n" + "\n".join(
            f.line() for f in new
        )
        assert scripts == []
    finally:
        await context.close()


async def test_lawyer_approves_in_japanese(stack: Stack) -> None:
    cid = stack.review_cid
    context = await _context(stack, "ja")
    page = await context.new_page()
    try:
        await _sign_in(page, stack.base, "legal")
        await page.goto(f"{stack.base}/reviews")
        row = page.locator("tr", has_text=cid)
        await row.get_by_role("link").first.click()
        await page.wait_for_url(f"{stack.base}/reviews/{cid}/1/1")
        assert await page.get_attribute("html", "lang") == "ja"
        await page.check("input[name=decision][value=approve]")
        await page.click("#decision-form button[type=submit]")
        await page.wait_for_url(f"{stack.base}/reviews/{cid}/1/1?done=approve")
        await page.screenshot(
            path=str(screenshot_dir() / shot_name("legal", "ja", "approved")), full_page=True
        )
        findings = await axe_findings(page, f"draft approved (/reviews/{cid}/1/1) [legal, ja]")
        record_findings(findings)
        assert not [f for f in findings if f.impact in BLOCKING_IMPACTS]
    finally:
        await context.close()
    status = await renewals.get_status(stack.env.client, contract_id=cid, term=1)
    assert status.stage is RenewalStage.APPROVED
    assert [(d.decision.value, d.reviewer) for d in status.decisions] == [
        ("approve", PEOPLE["legal"][0])
    ]


async def test_axe_runs_under_the_pages_csp(stack: Stack) -> None:
    """axe is evaluated through the DevTools protocol, which the CSP (no script tags, no
    inline script) does not block: an unlabelled field added to the sign-in page is found."""
    context = await _context(stack, "en")
    page = await context.new_page()
    try:
        response = await page.goto(f"{stack.base}/login")
        assert response is not None
        assert "default-src 'none'" in (await response.all_headers())["content-security-policy"]
        assert not [f for f in await axe_findings(page, "login") if f.impact in BLOCKING_IMPACTS]
        await page.evaluate(
            "() => document.querySelector('main').append(document.createElement('input'))"
        )
        found = await axe_findings(page, "login with an unlabelled field")
        assert ("label", "critical") in {(f.rule, f.impact) for f in found}
    finally:
        await context.close()


async def test_negotiation_through_the_pages(stack: Stack) -> None:
    """Legal requests changes; the buyer makes version 2 by editing a term (its page, in
    Japanese); legal approves it; the buyer records the offer. A step whose page has not
    landed goes through the API instead, and says so."""
    cid, base, app = stack.buyer_cid, stack.base, stack.portal.app
    through_api: list[str] = []
    lawyer = await _context(stack, "en")
    buyer = await _context(stack, "ja")
    try:
        legal_page = await lawyer.new_page()
        await _sign_in(legal_page, base, "legal")
        await legal_page.goto(f"{base}/reviews/{cid}/1/1")
        await legal_page.check("input[name=decision][value=request_changes]")
        await legal_page.fill("textarea[name=comment]", "Cap the price adjustment at 2 %.")
        await legal_page.click("#decision-form button[type=submit]")
        await legal_page.wait_for_url(f"{base}/reviews/{cid}/1/1?done=request_changes")

        buyer_page = await buyer.new_page()
        await _sign_in(buyer_page, base, "procurement")
        new_version = f"/contracts/{cid}/terms/1/versions/new?based_on=1"
        if route_exists(app, new_version):
            await buyer_page.goto(f"{base}{new_version}")
            # Bad input first: shown next to the field, what was typed kept, nothing made.
            await buyer_page.fill("#f-price_adjustment_cap_pct", "two")
            await buyer_page.click("#version-form button[type=submit]")
            field_ = buyer_page.locator("#f-price_adjustment_cap_pct")
            assert await field_.get_attribute("aria-invalid") == "true"
            assert await field_.input_value() == "two"
            await _shoot(buyer_page, "procurement", "ja", "next-version-refused")
            await _axe_clean(buyer_page, f"next version refused ({new_version}) [procurement, ja]")
            await buyer_page.fill("#f-price_adjustment", "CPI, at most 2 % a year")
            await buyer_page.fill("#f-price_adjustment_cap_pct", "2")
            await buyer_page.click("#version-form button[type=submit]")
            await buyer_page.wait_for_url(f"{base}/contracts/{cid}?done=version")
            await _shoot(buyer_page, "procurement", "ja", "version-made")
        else:
            through_api.append("next version")
            made = await stack.portal.http.post(
                f"/api/v1/renewals/{cid}/terms/1/versions",
                json={
                    "based_on_version": 1,
                    "edit": {
                        "price_adjustment": "CPI, at most 2 % a year",
                        "price_adjustment_cap_pct": "2",
                    },
                },
                headers=stack.portal.auth("procurement"),
            )
            assert made.status_code == 201, made.text
        await wait_for_draft(stack.env.client, cid, version=2)

        await legal_page.goto(f"{base}/reviews/{cid}/1/2")
        await legal_page.check("input[name=decision][value=approve]")
        await legal_page.click("#decision-form button[type=submit]")
        await legal_page.wait_for_url(f"{base}/reviews/{cid}/1/2?done=approve")

        offer = f"/contracts/{cid}/terms/1/offer"
        if route_exists(app, offer):
            await buyer_page.goto(f"{base}{offer}")
            await _axe_clean(buyer_page, f"offer ({offer}) [procurement, ja]")
            await buyer_page.click("#offer-form button[type=submit]")
            await buyer_page.wait_for_url(f"{base}/contracts/{cid}?done=offer")
            await _shoot(buyer_page, "procurement", "ja", "offer-recorded")
            await _axe_clean(buyer_page, f"contract after the offer (/contracts/{cid}) [ja]")
            status = await renewals.get_status(stack.env.client, contract_id=cid, term=1)
            assert status.stage is RenewalStage.OFFER_PRESENTED
            answer = f"/contracts/{cid}/terms/1/answer"
            if route_exists(app, answer):
                # The supplier accepts version 2, on the hash printed on its signed copy.
                await buyer_page.goto(f"{base}{answer}")
                await buyer_page.check("#answer-form input[name=answer][value=accepted]")
                await buyer_page.fill("#f-content_hash", status.drafts[1].content_hash)
                await buyer_page.fill("#f-confirmed_by", "Sato, Tokyo Packaging")
                await buyer_page.fill("#f-reference", "signed copy")
                await _axe_clean(buyer_page, f"answer ({answer}) [procurement, ja]")
                await buyer_page.click("#answer-form button[type=submit]")
                await buyer_page.wait_for_url(f"{base}/contracts/{cid}?done=answer")
                await _shoot(buyer_page, "procurement", "ja", "answer-accepted")
                status = await renewals.get_status(stack.env.client, contract_id=cid, term=1)
                assert status.stage is RenewalStage.AGREED
            else:
                through_api.append("answer")
        else:
            through_api.append("offer")
    finally:
        await lawyer.close()
        await buyer.close()
    status = await renewals.get_status(stack.env.client, contract_id=cid, term=1)
    assert [d.version for d in status.drafts] == [1, 2]
    assert [(r.decision.value, r.draft_version) for r in status.decisions] == [
        ("request_changes", 1),
        ("approve", 2),
    ]
    print(f"\nsteps through the API (their page has not landed): {through_api or 'none'}")


async def test_account_language_is_the_users_choice(stack: Stack) -> None:
    """The buyer chooses Japanese on /account: an English browser then gets Japanese pages,
    until the choice is set back to the browser's."""
    if not route_exists(stack.portal.app, "/account", "POST") and not route_exists(
        stack.portal.app, "/account/language", "POST"
    ):
        pytest.skip("/account has not landed")
    context = await _context(stack, "en")
    page = await context.new_page()
    try:
        await _sign_in(page, stack.base, "procurement")
        await page.goto(f"{stack.base}/account")
        await page.check("#language-form input[name=language][value=ja]")
        await page.click("#language-form button[type=submit]")
        await page.wait_for_load_state("load")
        assert await page.get_attribute("html", "lang") == "ja"
        await page.goto(f"{stack.base}/dashboard")
        assert await page.get_attribute("html", "lang") == "ja"
        await page.goto(f"{stack.base}/account")
        await _shoot(page, "procurement", "ja", "account-chosen")
        await _axe_clean(page, "account, Japanese chosen (/account) [procurement, en browser]")
        await page.check("#language-form input[name=language][value='']")
        await page.click("#language-form button[type=submit]")
        await page.wait_for_load_state("load")
        assert await page.get_attribute("html", "lang") == "en"
    finally:
        await context.close()


async def test_import_dry_run_then_confirm(stack: Stack, tmp_path: Path) -> None:
    if not route_exists(stack.portal.app, "/imports/confirm", "POST"):
        pytest.skip("/imports has not landed")
    supplier = f"S-IMP-{uuid.uuid4().hex[:6].upper()}"
    upload = tmp_path / "suppliers.csv"
    upload.write_text(f"id,name,category,country\n{supplier},Imported Ltd.,printing,JP\n")
    context = await _context(stack, "en")
    page = await context.new_page()
    try:
        await _sign_in(page, stack.base, "procurement")
        await page.goto(f"{stack.base}/imports")
        await page.select_option("#kind", "suppliers")
        await page.set_input_files("#file", str(upload))
        await page.click("form.upload button[type=submit]")
        await page.wait_for_load_state("load")
        # A suppliers file has no plans to preview: the dry run says all rows pass.
        assert await page.locator("form.confirm").count() == 1
        await _shoot(page, "procurement", "en", "import-dry-run")
        await _axe_clean(page, "import dry run (/imports) [procurement, en]")
        await page.click("form.confirm button[type=submit]")
        await page.wait_for_load_state("load")
        await _shoot(page, "procurement", "en", "import-confirmed")
        await _axe_clean(page, "import confirmed (/imports/confirm) [procurement, en]")
    finally:
        await context.close()
    listed = await stack.portal.http.get(
        f"/api/v1/suppliers/{supplier}", headers=stack.portal.auth("procurement")
    )
    assert listed.status_code == 200, listed.text


async def test_keyboard_reaches_the_content_with_focus_shown(stack: Stack) -> None:
    """The first Tab shows the skip link on screen; every control reached by Tab has a
    visible focus outline."""
    context = await _context(stack, "en")
    page = await context.new_page()
    try:
        await _sign_in(page, stack.base, "procurement")
        for url in ("/pipeline", f"/contracts/{stack.review_cid}/amend"):
            if not route_exists(stack.portal.app, url):
                continue
            await page.goto(f"{stack.base}{url}")
            await page.keyboard.press("Tab")
            skip = await page.evaluate(
                """() => { const e = document.activeElement, r = e.getBoundingClientRect();
                   return {cls: e.className, left: r.left, width: r.width,
                           outline: getComputedStyle(e).outlineStyle}; }"""
            )
            assert skip["cls"] == "skip" and skip["left"] >= 0 and skip["width"] > 0, skip
            assert skip["outline"] != "none", skip
            unseen = []
            for _ in range(25):
                await page.keyboard.press("Tab")
                shown = await page.evaluate(
                    """() => { const e = document.activeElement;
                       if (e === document.body) return "body";
                       const s = getComputedStyle(e);
                       // Tab moves between a date field's parts, and Chromium drops
                       // :focus-visible after the first; the part shown selected is the focus.
                       if (e === window.__lastFocus) return "";
                       window.__lastFocus = e;
                       return (s.outlineStyle !== "none" && s.outlineWidth !== "0px")
                         || s.boxShadow !== "none" ? "" : e.outerHTML.slice(0, 120); }"""
                )
                if shown == "body":
                    break
                if shown:
                    unseen.append(shown)
            assert not unseen, f"{url}: focus not visible on {unseen}"
    finally:
        await context.close()


async def test_buyer_records_a_follow_up_review_in_japanese(stack: Stack) -> None:
    """From the contract page's follow-up section, the buyer opens the form in Japanese, types
    a CSAT out of range (refused next to its field, what was typed kept, nothing recorded),
    corrects it and records the review with an action; the API reads it back."""
    today = date.today()
    cid = f"C-FU-{uuid.uuid4().hex[:6].upper()}"
    with transaction(stack.portal.sessions) as s:
        register(
            s,
            id=cid,
            supplier_id=SUPPLIER,
            title="Corrugated boxes",
            owner=PEOPLE["procurement"][0],
            start_date=today - relativedelta(months=4),
            end_date=today + relativedelta(months=20),
        )
    context = await _context(stack, "ja")
    page = await context.new_page()
    try:
        await _sign_in(page, stack.base, "procurement")
        await page.goto(f"{stack.base}/contracts/{cid}")
        await page.click("#followup-record")
        await page.wait_for_url(f"{stack.base}/contracts/{cid}/followups/new")
        await _axe_clean(page, f"follow-up form (/contracts/{cid}/followups/new) [procurement, ja]")
        await page.fill("#f-csat", "7")
        await page.fill("#f-nps", "8")
        await page.check("#followup-form input[name=supplier_continue][value=yes]")
        await page.fill("#f-supplier_continue_on", "現行の数量で")
        await page.fill("#f-feedback", "納期遅延が1回ありましたが、対策の説明がありました。")
        await page.fill("#f-action-1-description", "繁忙期の納品枠を合意する")
        await page.fill("#f-action-1-owner", "購買 佐藤")
        await page.fill("#f-action-1-due", (today + relativedelta(months=1)).isoformat())
        await page.click("#followup-form button[type=submit]")
        await page.wait_for_load_state("load")
        csat = page.locator("#f-csat")
        assert await csat.get_attribute("aria-invalid") == "true"
        assert await csat.input_value() == "7"
        assert await page.locator("#f-action-1-owner").input_value() == "購買 佐藤"
        assert "1から5まで" in await page.locator("#err-csat").inner_text()
        typed = [cid, "Corrugated boxes", "購買 佐藤", *_test_data(stack)]
        html = await page.content()
        main = html[html.index('<main id="main">') : html.index("</main>")]
        assert english_left(main, allowed=typed) == []
        await _shoot(page, "procurement", "ja", "followup-refused")
        shots = Path("/tmp/shots")
        shots.mkdir(exist_ok=True)
        await page.screenshot(path=str(shots / "followup-refused-ja.png"), full_page=True)
        await _axe_clean(page, f"follow-up refused (/contracts/{cid}/followups) [procurement, ja]")
        await page.fill("#f-csat", "4")
        await page.click("#followup-form button[type=submit]")
        await page.wait_for_url(f"{stack.base}/contracts/{cid}?done=followup")
        await _shoot(page, "procurement", "ja", "followup-recorded")
        await _axe_clean(page, f"contract after the follow-up (/contracts/{cid}) [ja]")
        assert await page.locator("#followup-actions button[type=submit]").count() == 1
    finally:
        await context.close()
    listed = await stack.portal.http.get(
        f"/api/v1/contracts/{cid}/followups", headers=stack.portal.auth("legal")
    )
    assert listed.status_code == 200, listed.text
    [review] = [f for f in listed.json()["followups"] if f["state"] == "recorded"]
    assert (review["sequence"], review["csat"], review["nps"]) == (1, 4, 8)
    assert review["actions"][0]["owner"] == "購買 佐藤"
