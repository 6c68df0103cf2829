"""The contract page (issue 16): terms, the term's timeline from the stored plan, events,
versions, decisions, offers and answers, notices, audit entries and the actions, driven through
a renewal on the time-skipping server, in English and Japanese."""

import re
from datetime import date

import httpx
from dateutil.relativedelta import relativedelta
from markupsafe import escape

from auth.roles import Role
from clients import renewals
from config.settings import Settings
from domain.calendars import BusinessCalendar
from domain.milestones import plan_milestones
from models.renewal import OutcomeKind
from models.users import CurrentUser, WebSession
from portal.deps import SESSION_COOKIE, web_session
from services import followups
from store.db import transaction
from tests.factories import register
from tests.portal_fixtures import *  # noqa: F403
from tests.portal_fixtures import (
    Portal,
    contract_in_review_window,
    new_contract_id,
    wait_for_draft,
)
from tests.web_i18n_helpers import english_left
from tests.workflow_helpers import result_of, today
from web.contract_provenance import provenance_text
from web.i18n import translator

EVIL = '<img src=x onerror="alert(1)">'
SUPPLIER_NAME = "Tokyo Packaging K.K."


def _browser(p: Portal, who: str, language: str = "en") -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=p.app),
        base_url="http://testserver",
        cookies={SESSION_COOKIE: p.cookies[who][0]},
        headers={"Accept-Language": language},
    )


def _dates_on_page(html: str) -> dict[str, str]:
    """Each timeline row's id (milestone-<kind>) and the ISO date of its first <time>."""
    rows = re.findall(
        r'<tr id="milestone-([a-z_]+)"[^>]*>.*?<time datetime="([0-9-]+)"', html, re.S
    )
    return dict(rows)


def _main(html: str) -> str:
    """The page's own content: the header and navigation are common's (its catalog)."""
    return html.split('<main id="main">', 1)[1].split("</main>", 1)[0]


def _actions(html: str) -> list[str]:
    section = html.split('id="actions-title"', 1)[1].split("</section>", 1)[0]
    return re.findall(r'<a class="button" href="([^"]+)"', section)


async def test_contract_page_through_a_renewal(portal: Portal) -> None:
    env = portal.extra["env"]
    cid = await contract_in_review_window(env, portal.sessions, title=f"Ink {EVIL}", language="ja")
    title = f"Ink {EVIL}"

    async with _browser(portal, "procurement") as http:
        before = await http.get(f"/contracts/{cid}")
        assert before.status_code == 200, before.text
        assert EVIL not in before.text and "&lt;img src=x" in before.text
        assert 'id="preview"' in before.text  # no renewal yet: the plan is a preview
        assert f"/contracts/{cid}/start" in _actions(before.text)
        assert "/suppliers/S-1" in before.text
        assert "1,250.50 JPY" in before.text  # the stored price, not rounded to yen

    r = await portal.http.post(
        "/api/v1/renewals", json={"contract_id": cid}, headers=portal.auth("procurement")
    )
    assert r.status_code == 201, r.text
    await wait_for_draft(portal.client, cid)  # type: ignore[arg-type]

    detail = await portal.http.get(
        f"/api/v1/renewals/{cid}/terms/1", headers=portal.auth("procurement")
    )
    assert detail.status_code == 200, detail.text
    plan = detail.json()["plan"]
    assert plan is not None and plan["preview"] is False
    version = detail.json()["drafts"][0]

    async with _browser(portal, "procurement") as http:
        page = await http.get(f"/contracts/{cid}")
        assert page.status_code == 200
        html = page.text
    assert 'id="preview"' not in html
    shown = _dates_on_page(html)
    expected = {m["kind"]: m["due"] for m in plan["milestones"]}
    if plan["term_model"] != "fixed":
        expected["notice_deadline"] = plan["notice_deadline"]
    assert shown == expected  # every date of the stored plan, exactly
    for m in plan["milestones"]:  # and the nominal date a moved one comes from
        row = html.split(f'id="milestone-{m["kind"]}"', 1)[1].split("</tr>", 1)[0]
        moved = re.findall(r'class="nominal" data-date="([0-9-]+)"', row)
        assert moved == ([m["nominal"]] if m["nominal"] != m["due"] else []), m
    assert 'id="version-1"' in html and version["content_hash"][:12] in html
    assert 'id="letter-1"' in html
    # The letter in full, escaped as text.
    first_line = version["body"].splitlines()[0]
    assert str(escape(first_line)) in html
    assert str(escape(version["body"].splitlines()[-1])) in html
    assert f"/contracts/{cid}/start" not in _actions(html)
    assert f"/contracts/{cid}/terms/1/terminate" in _actions(html)
    assert EVIL not in html

    # legal asks for changes: the version awaits procurement's revision.
    decided = await portal.http.post(
        f"/api/v1/renewals/{cid}/terms/1/decisions",
        json={
            "decision": "request_changes",
            "draft_version": 1,
            "comment": "価格調整の上限を明記してください",
        },
        headers=portal.auth("legal"),
    )
    assert decided.status_code in (200, 201), decided.text

    async with _browser(portal, "procurement") as http:
        html = (await http.get(f"/contracts/{cid}")).text
    assert 'data-kind="changes_requested"' in html
    assert "Legal requested changes" in html
    assert "価格調整の上限を明記してください" in html
    assert f"/contracts/{cid}/terms/1/versions/new?based_on=1" in _actions(html)
    assert 'id="awaiting"' in html

    # Legal may read the page but has no procurement action on it.
    async with _browser(portal, "legal") as http:
        page = await http.get(f"/contracts/{cid}")
        assert page.status_code == 200
        assert _actions(page.text) == []
        assert "The audit trail is for those who may read it." in page.text
        assert f'href="/reviews/{cid}/1/1"' in page.text  # to the version's review page
    # A buyer who neither owns the contract nor is in its team reads it but acts on nothing.
    async with _browser(portal, "buyer_lawyer") as http:
        page = await http.get(f"/contracts/{cid}")
        assert page.status_code == 200 and _actions(page.text) == []

    # The administrator reads the audit entries: the start and the decision.
    async with _browser(portal, "admin") as http:
        page = await http.get(f"/contracts/{cid}")
        assert page.status_code == 200
        audit = page.text.split('id="audit"', 1)[1].split("</table>", 1)[0]
        assert "Renewal started" in audit and "Legal decision" in audit

    # In Japanese: nothing left in English but the test's data.
    allowed = [
        cid,
        title,
        SUPPLIER_NAME,
        "S-1",
        "Net 60",
        *(portal.username(w) for w in ("procurement", "legal", "admin")),
        "Procurement",
        "Legal",
    ]
    async with _browser(portal, "procurement", "ja") as http:
        page = await http.get(f"/contracts/{cid}")
        assert page.status_code == 200
        assert page.headers["content-language"] == "ja"
        assert english_left(_main(page.text), allowed=allowed) == []
        assert "修正依頼" in page.text
        assert _dates_on_page(page.text) == expected
        missing = await http.get(f"/contracts/{cid}?term=7")
        assert missing.status_code == 404
        assert english_left(_main(missing.text), allowed=allowed) == []
        unknown = await http.get("/contracts/C-nope")
        assert unknown.status_code == 404
        assert english_left(_main(unknown.text), allowed=[*allowed, "C-nope"]) == []


async def test_unknown_contract_and_term_are_404_in_english(portal: Portal) -> None:
    env = portal.extra["env"]
    cid = await contract_in_review_window(env, portal.sessions)
    async with _browser(portal, "procurement") as http:
        assert (await http.get("/contracts/C-missing")).status_code == 404
        page = await http.get(f"/contracts/{cid}?term=2")
        assert page.status_code == 404
        assert "has no term 2" in page.text


async def test_reader_without_permission_is_refused(portal: Portal) -> None:
    """Every role reads contracts, so the person without the permission is made here: a
    session whose account holds no role at all (the database refuses to store one)."""
    env = portal.extra["env"]
    cid = await contract_in_review_window(env, portal.sessions)
    nobody = WebSession(
        user=CurrentUser(
            id=0, username="nobody@example.com", display_name="Nobody", roles=frozenset()
        ),
        csrf_token="x",
    )
    portal.app.dependency_overrides[web_session] = lambda: nobody
    try:
        async with _browser(portal, "procurement") as http:
            page = await http.get(f"/contracts/{cid}")
        assert page.status_code == 403
        assert "Ink" not in page.text and cid not in page.text
    finally:
        portal.app.dependency_overrides.pop(web_session, None)
    # Signed out: to the sign-in page, and back here after it.
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=portal.app), base_url="http://testserver"
    ) as anonymous:
        page = await anonymous.get(f"/contracts/{cid}")
    assert page.status_code == 303 and page.headers["location"].startswith("/login?next=")


async def test_earlier_term_after_a_negotiated_renewal(portal: Portal) -> None:
    """Changes requested, v2 made by procurement, approved, presented and accepted: each step
    shows its action, and once renewed the page of term 1 is an earlier term with its versions
    (v1 superseded by v2, the diff), the offer and the supplier's answer."""
    env = portal.extra["env"]
    http = portal.http
    buyer, lawyer = portal.auth("procurement"), portal.auth("legal")
    cid = await contract_in_review_window(env, portal.sessions, language="ja")
    base = f"/api/v1/renewals/{cid}/terms/1"
    started = await http.post("/api/v1/renewals", json={"contract_id": cid}, headers=buyer)
    assert started.status_code == 201, started.text
    assert portal.client is not None
    await wait_for_draft(portal.client, cid)
    day = await today(env)
    portal.app.state.portal.today = lambda: day

    changes = await http.post(
        f"{base}/decisions",
        json={"decision": "request_changes", "draft_version": 1, "comment": "上限を2%に"},
        headers=lawyer,
    )
    assert changes.status_code == 200, changes.text
    made = await http.post(
        f"{base}/versions",
        json={
            "based_on_version": 1,
            "edit": {
                "price_adjustment": "CPI連動（年2%まで）",
                "price_adjustment_cap_pct": "2",
                "unit_price": "99999",  # far above the plan's limit: a flag, not a refusal
            },
        },
        headers=buyer,
    )
    assert made.status_code == 201, made.text
    v2 = made.json()
    approved = await http.post(
        f"{base}/decisions",
        json={"decision": "approve", "draft_version": 2, "content_hash": v2["content_hash"]},
        headers=lawyer,
    )
    assert approved.status_code == 200, approved.text
    async with _browser(portal, "procurement") as page:
        html = (await page.get(f"/contracts/{cid}")).text
    breaches = html.split('id="breaches"', 1)[1].split("</table>", 1)[0]
    assert "Unit price" in breaches and "99,999" in breaches
    assert f"/contracts/{cid}/terms/1/offer" in _actions(html)
    assert f"/contracts/{cid}/terms/1/answer" not in _actions(html)

    offered = await http.post(
        f"{base}/offers",
        json={"draft_version": 2, "presented_on": day.isoformat()},
        headers=buyer,
    )
    assert offered.status_code == 201, offered.text
    async with _browser(portal, "procurement") as page:
        html = (await page.get(f"/contracts/{cid}")).text
    assert f"/contracts/{cid}/terms/1/answer" in _actions(html)
    assert f"/contracts/{cid}/terms/1/offer" not in _actions(html)

    accepted = await http.post(
        f"{base}/answers",
        json={
            "draft_version": 2,
            "answer": "accepted",
            "answered_on": day.isoformat(),
            "content_hash": v2["content_hash"],
            "confirmed_by": "営業部長",
            "reference": "署名済み PDF 117",
        },
        headers=buyer,
    )
    assert accepted.status_code == 201, accepted.text
    outcome = await result_of(env, renewals.renewal_handle(portal.client, contract_id=cid, term=1))
    assert outcome.kind is OutcomeKind.RENEWED

    try:
        async with _browser(portal, "procurement") as page:
            now = await page.get(f"/contracts/{cid}")
            assert now.status_code == 200
            assert f'href="/contracts/{cid}?term=1"' in now.text  # the earlier term, linked
            earlier = await page.get(f"/contracts/{cid}?term=1")
            assert earlier.status_code == 200
            html = earlier.text
        assert _actions(html) == []  # nothing is done on an earlier term
        assert 'data-kind="supplier_answered"' in html and 'data-kind="outcome"' in html
        assert "superseded by version 2" in html and "Changes from version 1" in html
        offers = html.split('id="offers"', 1)[1].split("</table>", 1)[0]
        assert "営業部長" in offers and "accepted" in offers
        assert 'id="outcome"' in html
        async with _browser(portal, "procurement", "ja") as page:
            ja = (await page.get(f"/contracts/{cid}?term=1")).text
        allowed = [
            cid,
            "Packaging materials",
            SUPPLIER_NAME,
            "S-1",
            "Net 60",
            *(portal.username(w) for w in ("procurement", "legal")),
        ]
        assert english_left(_main(ja), allowed=allowed) == []
    finally:
        await portal.client.get_workflow_handle(f"renewal/{cid}/term-2").terminate("test over")


def _stored_steps() -> list[str]:
    """Every kind of provenance step domain.milestones writes: business days rolled back past
    weekends, a public holiday, the year-end closure and an organisation's closure day, the
    transit buffer in business and in calendar days, the re-anchoring on the send-by date."""
    steps: list[str] = []
    calendar = BusinessCalendar.for_jurisdiction("JP", closures=[date(2026, 12, 28)])
    for end, notice, cal, buffer in (
        (date(2027, 2, 2), 30, calendar, 3),
        (date(2027, 3, 31), 75, calendar, 3),
        (date(2027, 3, 31), 45, None, 2),
        (date(2027, 1, 4), 0, calendar, 0),
    ):
        plan = plan_milestones(
            end_date=end,
            notice_period_days=notice,
            today=date(2026, 1, 1),
            calendar=cal,
            transit_buffer_days=buffer,
            safe_default=True,
        )
        steps += [*plan.notice_provenance, *plan.send_by_provenance]
        for m in plan.milestones:
            steps += m.provenance
    return sorted(set(steps))


def test_every_stored_provenance_step_reads_in_both_languages() -> None:
    steps = _stored_steps()
    kinds = " ".join(steps)
    for expected in ("rolled back past", "public holiday", "year-end closure"):
        assert expected in kinds
    assert "organisation closure day" in kinds and "moved to" in kinds
    assert "business day(s)" in kinds and " day(s) for the notice" in kinds
    en, ja = translator("en"), translator("ja")
    for step in steps:
        assert provenance_text(en, step, "JP") != step, step  # every step is recognised
        japanese = provenance_text(ja, step, "JP")
        assert english_left(japanese, allowed=["JP"]) == [], (step, japanese)
    new_year = "rolled back past 2027-01-01 public holiday: New Year's Day"
    assert "元日" in provenance_text(ja, new_year, "JP")
    assert "New Year's Day" in provenance_text(en, new_year, "JP")
    # A step a newer worker writes is shown as stored, never guessed at.
    assert provenance_text(ja, "something new", "JP") == "something new"


async def test_a_notice_to_dispatch_and_its_dispatch(portal: Portal) -> None:
    """An auto-renewing contract its owner does not renew: the approved notice offers "record
    a notice's dispatch"; once recorded the dispatch is listed (in time) and the action goes.
    The timeline has the notice deadline and the send-by date, as the stored plan has them."""
    env = portal.extra["env"]
    buyer = portal.auth("procurement")
    now = await today(env)
    cid = new_contract_id()
    with transaction(portal.sessions) as s:
        register(
            s,
            id=cid,
            owner=portal.username("procurement"),
            start_date=now - relativedelta(months=10),
            end_date=now + relativedelta(months=2),
            notice_period_days=30,
            term_model="auto_renewing",
            language="ja",
        )
    started = await portal.http.post("/api/v1/renewals", json={"contract_id": cid}, headers=buyer)
    assert started.status_code == 201, started.text
    assert portal.client is not None
    handle = renewals.renewal_handle(portal.client, contract_id=cid, term=1)
    try:
        await wait_for_draft(portal.client, cid)
        base = f"/api/v1/renewals/{cid}/terms/1"
        cancelled = await portal.http.post(
            f"{base}/cancellation", json={"reason": "取引先の集約"}, headers=buyer
        )
        assert cancelled.status_code == 200, cancelled.text
        await wait_for_draft(portal.client, cid, version=2)
        approved = await portal.http.post(
            f"{base}/decisions",
            json={"decision": "approve", "draft_version": 2},
            headers=portal.auth("legal"),
        )
        assert approved.status_code == 200, approved.text
        async with _browser(portal, "procurement") as http:
            html = (await http.get(f"/contracts/{cid}")).text
        assert f"/contracts/{cid}/terms/1/notices" in _actions(html)
        assert f"/contracts/{cid}/terms/1/terminate" not in _actions(html)  # already asked
        event = html.split('data-kind="termination_requested"', 1)[1].split("</li>", 1)[0]
        assert "取引先の集約" in event  # the reason the owner typed

        plan = (await portal.http.get(base, headers=buyer)).json()["plan"]
        expected = {m["kind"]: m["due"] for m in plan["milestones"]}
        expected["notice_deadline"] = plan["notice_deadline"]
        assert "send_by" in expected
        assert _dates_on_page(html) == expected

        sent = await portal.http.post(
            f"{base}/dispatches",
            json={
                "draft_version": 2,
                "dispatched_on": now.isoformat(),
                "channel": "post",
                "reference": "JP-REG-123",
            },
            headers=buyer,
        )
        assert sent.status_code == 201, sent.text
        async with _browser(portal, "procurement") as http:
            html = (await http.get(f"/contracts/{cid}")).text
        assert f"/contracts/{cid}/terms/1/notices" not in _actions(html)
        async with _browser(portal, "procurement", "ja") as http:
            back = (await http.get(f"/contracts/{cid}?done=notice")).text
            odd = (await http.get(f"/contracts/{cid}?done=<b>x</b>")).text
        assert 'id="notice"' in back and "通知の発送を記録しました" in back  # from the action page
        assert 'id="notice"' not in odd and "<b>x" not in odd
        dispatches = html.split('id="dispatches"', 1)[1].split("</table>", 1)[0]
        assert "JP-REG-123" in dispatches and "in time" in dispatches
        assert "registered post" in dispatches

        async with _browser(portal, "admin", "ja") as http:
            page = await http.get(f"/contracts/{cid}")
            older = await http.get(f"/contracts/{cid}?term=1&audit_offset=1")
        allowed = [cid, "Packaging materials", SUPPLIER_NAME, "S-1", "Net 60", "JP-REG-123"]
        allowed += [portal.username(w) for w in ("procurement", "legal", "admin")]
        allowed += ["workflow"]  # the audit trail's actor for what the renewal recorded
        assert english_left(_main(page.text), allowed=allowed) == []
        assert "通知の発送を記録" in page.text  # the audit entry of the dispatch
        assert older.status_code == 200 and "2〜" in older.text
    finally:
        await handle.terminate("test over")


async def test_without_temporal_the_page_shows_the_database_and_a_preview(
    db_portal: Portal,
) -> None:
    """The workflow service unreachable: the page still answers from the database, for each
    term model, in both languages; the plan is a labelled preview made by the plan function."""
    today_ = date.today()
    ids = {}
    with transaction(db_portal.sessions) as s:
        for model in ("fixed", "auto_renewing", "evergreen"):
            cid = new_contract_id()
            register(
                s,
                id=cid,
                owner=db_portal.username("procurement"),
                start_date=today_ - relativedelta(months=10),
                end_date=None if model == "evergreen" else today_ + relativedelta(months=5),
                term_model=model,
                title=f"Model {model}",
            )
            ids[model] = cid
    for model, cid in ids.items():
        for language in ("en", "ja"):
            async with _browser(db_portal, "procurement", language) as http:
                page = await http.get(f"/contracts/{cid}")
            assert page.status_code == 200, (model, page.text)
            assert 'id="preview"' in page.text and 'id="milestone-expiry"' in page.text
            assert f"/contracts/{cid}/start" in _actions(page.text)
            if language == "ja":
                allowed = [cid, f"Model {model}", SUPPLIER_NAME, "S-1", "Net 60"]
                allowed.append(db_portal.username("procurement"))
                assert english_left(_main(page.text), allowed=allowed) == [], model
        assert ('id="milestone-notice_deadline"' in page.text) is (model != "fixed")


async def test_the_terms_follow_up_reviews_and_open_actions_in_both_languages(
    db_portal: Portal,
) -> None:
    """The contract page's follow-up section reads the stored reviews: what was recorded at each
    scheduled review, the supplier's view, and the open actions (overdue marked)."""
    p = db_portal
    cid = new_contract_id()
    owner = p.username("procurement")
    with transaction(p.sessions) as s:
        register(s, id=cid, owner=owner, start_date=date(2026, 1, 1), end_date=date(2027, 12, 31))
    p.app.state.portal.today = lambda: date(2026, 7, 15)
    user = CurrentUser(
        id=0, username=owner, display_name="Buyer", roles=frozenset({Role.PROCUREMENT})
    )
    followups.record(
        sessions=p.sessions,
        settings=Settings(),
        user=user,
        contract_id=cid,
        data={
            "sequence": 1,
            "csat": 2,
            "nps": 3,
            "supplier_continue": "no",
            "supplier_continue_on": "only with a price rise",
            "feedback": "Two late deliveries",
            "actions": [
                {"description": "Fix the delivery window", "owner": owner, "due": "2026-05-01"}
            ],
        },
        today=date(2026, 4, 2),
    )
    pages = {}
    for language in ("en", "ja"):
        async with _browser(p, "procurement", language) as http:
            page = await http.get(f"/contracts/{cid}")
        assert page.status_code == 200, page.text
        pages[language] = page.text.split('id="followups-title"', 1)[1].split("</section>", 1)[0]
    en, ja = pages["en"], pages["ja"]
    assert "2 / 5" in en and "3 / 10" in en and "does not want to continue" in en
    assert "Due: not recorded yet" in en  # the second review, due 2026-07-01
    assert "Fix the delivery window" in en and "overdue since" in en
    assert "顧客満足度（CSAT）" in ja and "継続を希望しない" in ja and "期限超過" in ja
    assert (
        english_left(
            ja,
            allowed=(
                "Fix the delivery window",
                "Two late deliveries",
                owner,
                "only with a price rise",
            ),
        )
        == []
    )
