"""Legal's pages and the common ones in both languages, through the real app on SQLite and
PostgreSQL: sign-in, review queue, draft page, dashboard, error pages and the account page read
in Japanese with no English left (the test data aside) and in English in English; the person's
language choice wins over the browser's Accept-Language; the queue flags a version outside the
negotiation plan's limits."""

from decimal import Decimal

import httpx
from dateutil.relativedelta import relativedelta

from models.milestones import MilestoneKind
from portal.deps import SESSION_COOKIE
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
from tests.workflow_helpers import skip_past, today

JA = {"Accept-Language": "ja-JP,ja;q=0.9"}
EN = {"Accept-Language": "en-GB,en;q=0.9"}
TITLE = "段ボール包装資材の供給契約"
# What people typed or imported, shown as it is whatever the page's language.
PEOPLE_DATA = [name for name, _ in PEOPLE.values()] + [w.title() for w in PEOPLE]
SUPPLIER = "Tokyo Packaging K.K."


def _browser(p: Portal, who: str | None, headers: dict[str, str]) -> httpx.AsyncClient:
    cookies = {SESSION_COOKIE: p.cookies[who][0]} if who else {}
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=p.app),
        base_url="http://testserver",
        cookies=cookies,
        headers=headers,
    )


def _japanese(html: str, *allowed: str) -> list[str]:
    return english_left(html, allowed=[*PEOPLE_DATA, SUPPLIER, TITLE, *allowed])


async def test_legal_pages_read_in_japanese_and_in_english(portal: Portal) -> None:
    env = portal.extra["env"]
    cid = await contract_in_review_window(
        env, portal.sessions, title=TITLE, language="ja", currency="JPY"
    )
    r = await portal.http.post(
        "/api/v1/renewals", json={"contract_id": cid}, headers=portal.auth("procurement")
    )
    assert r.status_code == 201, r.text
    assert portal.client is not None
    await wait_for_draft(portal.client, cid)
    # The supplier's category and the contract's payment terms are imported data too.
    ids = [cid, "v1", "general", "Net 60"]

    async with _browser(portal, "legal", JA) as http:
        queue = await http.get("/reviews")
        assert queue.status_code == 200 and queue.headers["content-language"] == "ja"
        assert cid in queue.text and "条件見直しの提案" in queue.text
        assert _japanese(queue.text, *ids) == []
        page = await http.get(f"/reviews/{cid}/1/1")
        assert page.status_code == 200 and 'id="decision-form"' in page.text
        assert "承認" in page.text and "修正依頼" in page.text and "却下" in page.text
        left = _japanese(page.text, *ids, page_hash(page.text))
        assert left == [], left
        # A refusal in Japanese: the field named, what was typed kept, nothing recorded.
        refused = await http.post(
            f"/reviews/{cid}/1/1/decision",
            data={
                "csrf_token": portal.cookies["legal"][1],
                "decision": "request_changes",
                "comment": "  ",
            },
        )
        assert refused.status_code == 422
        assert 'id="comment-error"' in refused.text and 'aria-invalid="true"' in refused.text
        assert 'value="request_changes" checked' in refused.text
        assert _japanese(refused.text, *ids, page_hash(refused.text)) == []
        # A stale form (the text it was read with is not the version's): refused, said why.
        stale = await http.post(
            f"/reviews/{cid}/1/1/decision",
            data={
                "csrf_token": portal.cookies["legal"][1],
                "decision": "reject",
                "comment": "読んだ版と違う",
                "content_hash": "0" * 64,
            },
        )
        # The workflow names the field: the hash the page was read with.
        assert stale.status_code == 422 and "再読み込み" in stale.text
        assert "読んだ版と違う" in stale.text and 'id="decision-form"' in stale.text
        assert _japanese(stale.text, *ids, page_hash(stale.text)) == []
        missing = await http.get(f"/reviews/{cid}/1/9")
        assert missing.status_code == 404 and _japanese(missing.text) == []

    async with _browser(portal, "legal", EN) as http:
        queue = await http.get("/reviews")
        assert queue.headers["content-language"] == "en"
        assert "Versions awaiting a decision" in queue.text
        assert "renegotiation proposal" in queue.text
        stale = await http.post(
            f"/reviews/{cid}/1/1/decision",
            data={
                "csrf_token": portal.cookies["legal"][1],
                "decision": "approve",
                "content_hash": "0" * 64,
            },
        )
        assert stale.status_code == 422 and "reload the draft" in stale.text
        page = await http.get(f"/reviews/{cid}/1/1")
        assert "Clause by clause, against the current terms" in page.text
        assert 'id="decision-form"' in page.text  # nothing was recorded
        assert "request changes" in page.text and ">in legal review<" in page.text

    async with _browser(portal, "admin", JA) as http:
        board = await http.get("/dashboard")
        assert board.status_code == 200 and "日以内に満了" in board.text
        assert _japanese(board.text) == []
        denied = await http.get("/reviews")
        assert denied.status_code == 403 and _japanese(denied.text) == []
    async with _browser(portal, "admin", EN) as http:
        board = await http.get("/dashboard")
        assert "expiring in 30 days" in board.text and "in legal review" in board.text

    await portal.client.get_workflow_handle(f"renewal/{cid}/term-1").terminate("test over")


def page_hash(html: str) -> str:
    """The short content hash the draft page shows (hexadecimal, the test's data)."""
    start = html.index('<code title="') + len('<code title="')
    return html[start : start + 12]


async def test_sign_in_account_and_the_language_choice(db_portal: Portal) -> None:
    p = db_portal
    async with _browser(p, None, JA) as anonymous:
        login = await anonymous.get("/login")
        assert login.status_code == 200 and "サインイン" in login.text
        assert _japanese(login.text) == []
        token = login.cookies.get("renewals_login_csrf")
        wrong = await anonymous.post(
            "/login",
            data={"username": "nobody@example.com", "password": "x", "csrf_token": token or ""},
        )
        assert wrong.status_code == 401 and "パスワードが正しくありません" in wrong.text
        assert _japanese(wrong.text) == []
    async with _browser(p, None, EN) as anonymous:
        login = await anonymous.get("/login")
        assert "Sign in" in login.text and "User name" in login.text

    async with _browser(p, "procurement", JA) as http:
        account = await http.get("/account")
        assert account.status_code == 200 and "マイアカウント" in account.text
        assert "調達" in account.text
        assert _japanese(account.text) == []
        made = await http.post(
            "/account/calendar", data={"csrf_token": p.cookies["procurement"][1]}
        )
        assert made.status_code == 201
        link = made.text.split('id="new-link-url" type="text" readonly value="')[1].split('"')[0]
        prefix = link.rsplit("/", 1)[1][:12]
        assert _japanese(made.text, link, prefix) == []
        # A buyer starts from the pipeline.
        home = await http.get("/")
        assert home.status_code == 303 and home.headers["location"] == "/pipeline"
    async with _browser(p, "procurement", EN) as http:
        account = await http.get("/account")
        assert "My calendar" in account.text and "procurement" in account.text

    # The person's choice wins over the browser's Accept-Language, both ways.
    csrf = p.cookies["legal2"][1]
    async with _browser(p, "legal2", EN) as http:
        chosen = await http.post("/account/language", data={"csrf_token": csrf, "language": "ja"})
        assert chosen.status_code == 303
        page = await http.get("/account")
        assert page.headers["content-language"] == "ja" and _japanese(page.text) == []
    async with _browser(p, "legal2", JA) as http:
        await http.post("/account/language", data={"csrf_token": csrf, "language": "en"})
        page = await http.get("/account")
        assert page.headers["content-language"] == "en" and "My language" in page.text
        await http.post("/account/language", data={"csrf_token": csrf, "language": ""})
        assert (await http.get("/account")).headers["content-language"] == "ja"


async def test_the_queue_flags_a_version_outside_the_plans_limits(portal: Portal) -> None:
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

    async with _browser(portal, "legal", EN) as browser:
        row = _row((await browser.get("/reviews")).text, cid)
        assert "data-breaches" not in row  # the workflow's own proposal is within the plan

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

    async with _browser(portal, "legal", EN) as browser:
        row = _row((await browser.get("/reviews")).text, cid)
        assert 'data-breaches="1"' in row and "1 term outside the limits" in row
    async with _browser(portal, "legal", JA) as browser:
        row = _row((await browser.get("/reviews")).text, cid)
        assert "妥協点を超える条件 1 件" in row
    await portal.client.get_workflow_handle(f"renewal/{cid}/term-1").terminate("test over")


def _row(html: str, cid: str) -> str:
    start = html.rindex("<tr", 0, html.index(cid))
    return html[start : html.index("</tr>", start)]
