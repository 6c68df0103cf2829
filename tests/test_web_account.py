"""The account page through the real app, on SQLite and PostgreSQL: the language choice (stored,
audited, refused with its field when unknown) and the calendar subscription link (made once,
answering with the owner's milestones only, revoked to a bare 404)."""

import re
from datetime import date

import httpx
from icalendar import Calendar
from sqlalchemy import select, update

from models.account_tables import FeedTokenRow, UserRow
from models.tables import AuditLogRow
from portal.deps import SESSION_COOKIE
from services.account_mail import MAIL_DELIVERY_CHANGED
from services.feed_tokens import LINK_CREATED, LINK_REVOKED
from services.users import LANGUAGE_CHANGED
from store.db import transaction
from tests.factories import register
from tests.portal_fixtures import *  # noqa: F403
from tests.portal_fixtures import Portal, new_contract_id
from tests.web_i18n_helpers import english_left


def _browser(p: Portal, who: str, **headers: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=p.app),
        base_url="http://testserver",
        cookies={SESSION_COOKIE: p.cookies[who][0]},
        headers=headers,
    )


def _audit(p: Portal, username: str, action: str) -> list[dict[str, object]]:
    with transaction(p.sessions) as s:
        rows = s.scalars(
            select(AuditLogRow)
            .where(AuditLogRow.subject_id == username, AuditLogRow.action == action)
            .order_by(AuditLogRow.id)
        )
        return [dict(r.detail) for r in rows]


def _language(p: Portal, username: str) -> str | None:
    with transaction(p.sessions) as s:
        return s.scalar(select(UserRow.language).where(UserRow.username == username))


async def test_language_is_stored_audited_and_refused_when_unknown(db_portal: Portal) -> None:
    p = db_portal
    name = p.username("legal2")
    csrf = p.cookies["legal2"][1]
    before = len(_audit(p, name, LANGUAGE_CHANGED))  # PostgreSQL's schema outlives one test

    def changes() -> list[dict[str, object]]:
        return _audit(p, name, LANGUAGE_CHANGED)[before:]

    async with _browser(p, "legal2", **{"Accept-Language": "en"}) as http:
        page = await http.get("/account")
        assert page.status_code == 200
        assert "My language" in page.text and name in page.text
        assert "legal" in page.text  # the role, in the glossary's words
        # Nothing chosen yet: the browser's choice is the checked one.
        assert re.search(r'value=""\s+checked', page.text)

        refused = await http.post("/account/language", data={"csrf_token": csrf, "language": "fr"})
        assert refused.status_code == 422
        assert 'id="language-error"' in refused.text and 'aria-invalid="true"' in refused.text
        assert 'aria-describedby="language-error"' in refused.text
        assert _language(p, name) is None and changes() == []

        no_token = await http.post("/account/language", data={"language": "ja"})
        assert no_token.status_code == 403 and _language(p, name) is None

        chosen = await http.post("/account/language", data={"csrf_token": csrf, "language": "ja"})
        assert chosen.status_code == 303 and chosen.headers["location"] == "/account?done=language"
        assert _language(p, name) == "ja"
        [entry] = changes()
        assert (entry["language_before"], entry["language"]) == (None, "ja")

        # The choice wins over the browser's Accept-Language.
        after = await http.get("/account?done=language")
        assert after.headers["content-language"] == "ja"
        assert "言語" in after.text and re.search(r'value="ja"\s+checked', after.text)

        # Asking again for the language held changes and audits nothing.
        same = await http.post("/account/language", data={"csrf_token": csrf, "language": "ja"})
        assert same.status_code == 303 and len(changes()) == 1

        back = await http.post("/account/language", data={"csrf_token": csrf, "language": ""})
        assert back.status_code == 303 and _language(p, name) is None
        assert [e["language"] for e in changes()] == ["ja", None]
        english = await http.get("/account")
        assert english.headers["content-language"] == "en"


async def test_calendar_link_serves_the_owners_milestones_until_revoked(db_portal: Portal) -> None:
    p = db_portal
    buyer = p.username("procurement")
    mine, theirs = new_contract_id(), new_contract_id()
    with transaction(p.sessions) as s:
        register(s, id=mine, owner=buyer, end_date=date(2031, 3, 31), title="Ink <b>bold</b>")
        register(s, id=theirs, owner="someone-else@example.com", end_date=date(2031, 3, 31))
    csrf = p.cookies["procurement"][1]
    async with _browser(p, "procurement", **{"Accept-Language": "en"}) as http:
        made = await http.post("/account/calendar", data={"csrf_token": csrf})
        assert made.status_code == 201 and made.headers["cache-control"] == "no-store"
        found = re.search(r'value="(http://testserver/calendar/(cal_[^"/]+)\.ics)"', made.text)
        assert found is not None, made.text
        url, secret = found[1], found[2]
        entry = _audit(p, buyer, LINK_CREATED)[-1]
        prefix = str(entry["prefix"])
        assert secret.startswith(prefix) and secret not in str(entry)
        with transaction(p.sessions) as s:
            row = s.scalar(select(FeedTokenRow).where(FeedTokenRow.prefix == prefix))
            assert row is not None and secret not in row.token_hash and row.last_used_at is None

        # Shown once: the page lists the link by its prefix only afterwards.
        page = await http.get("/account")
        assert prefix in page.text and secret not in page.text

    # The feed is public (a calendar client has no session) and reads the owner's contracts.
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=p.app), base_url="http://testserver"
    ) as anonymous:
        feed = await anonymous.get(url.removeprefix("http://testserver"))
        assert feed.status_code == 200, feed.text
        assert feed.headers["content-type"].startswith("text/calendar")
        assert feed.headers["cache-control"] == "private, no-store"
        cal = Calendar.from_ical(feed.content)
        uids = {str(e["UID"]) for e in cal.walk("VEVENT")}
        assert any(uid.startswith(f"{mine}-term1-") for uid in uids)
        assert not any(uid.startswith(theirs) for uid in uids)
        with transaction(p.sessions) as s:
            used = s.scalar(select(FeedTokenRow.last_used_at).where(FeedTokenRow.prefix == prefix))
        assert used is not None

        unknown = await anonymous.get("/calendar/cal_not-a-real-secret.ics")
        assert unknown.status_code == 404 and unknown.content == b""

    async with _browser(p, "procurement", **{"Accept-Language": "en"}) as http:
        other = await http.post(
            "/account/calendar/revoke", data={"csrf_token": csrf, "prefix": "cal_nothing"}
        )
        revocations = len(_audit(p, buyer, LINK_REVOKED))
        assert other.status_code == 404
        revoked = await http.post(
            "/account/calendar/revoke", data={"csrf_token": csrf, "prefix": prefix}
        )
        assert revoked.status_code == 303
        assert [e["prefix"] for e in _audit(p, buyer, LINK_REVOKED)[revocations:]] == [prefix]
        listed = await http.get("/account?done=revoked")
        assert "revoked on" in listed.text

    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=p.app), base_url="http://testserver"
    ) as anonymous:
        gone = await anonymous.get(url.removeprefix("http://testserver"))
        assert gone.status_code == 404 and gone.content == b""


async def test_a_link_reads_in_its_owners_language_and_only_its_owners(db_portal: Portal) -> None:
    p = db_portal
    lawyer = p.username("legal")
    cid = new_contract_id()
    with transaction(p.sessions) as s:
        made_contract = register(s, id=cid, owner=lawyer, end_date=date(2031, 6, 30), language="en")
    csrf = p.cookies["legal"][1]
    async with _browser(p, "legal") as http:
        await http.post("/account/language", data={"csrf_token": csrf, "language": "ja"})
        made = await http.post("/account/calendar", data={"csrf_token": csrf})
        found = re.search(r"/calendar/(cal_[^\"/]+)\.ics", made.text)
        assert found is not None
        # Another person cannot revoke it: the prefix is not theirs.
    async with _browser(p, "legal2") as other:
        refused = await other.post(
            "/account/calendar/revoke",
            data={"csrf_token": p.cookies["legal2"][1], "prefix": found[1][:12]},
        )
        assert refused.status_code == 404
        feed = await other.get(f"/calendar/{found[1]}.ics")
    assert feed.status_code == 200
    summaries = [str(e["SUMMARY"]) for e in Calendar.from_ical(feed.content).walk("VEVENT")]
    assert summaries and all(cid in s for s in summaries)
    assert any("契約満了日" in s for s in summaries)  # the owner chose Japanese
    # Where each date comes from reads in Japanese too (the feed's descriptions, unfolded).
    allowed = [cid, lawyer, str(made_contract.title), made_contract.supplier_id, "JP"]
    for event in Calendar.from_ical(feed.content).walk("VEVENT"):
        for text in (str(event["SUMMARY"]), str(event["DESCRIPTION"])):
            assert english_left(text, allowed=allowed) == [], text
    async with _browser(p, "legal") as http:
        await http.post("/account/language", data={"csrf_token": csrf, "language": ""})


def _delivery(p: Portal, username: str) -> str:
    with transaction(p.sessions) as s:
        return str(s.scalar(select(UserRow.mail_delivery).where(UserRow.username == username)))


async def test_mail_delivery_is_shown_stored_audited_and_refused_when_unknown(
    db_portal: Portal,
) -> None:
    """The account page's mail choice goes through services.account_mail, as the API's PUT
    /api/v1/me/mail-delivery does: one audit entry per change, a bad value refused naming the
    field with nothing stored; the page says escalations still come at once."""
    p = db_portal
    name = p.username("procurement")
    csrf = p.cookies["procurement"][1]
    with transaction(p.sessions) as s:  # PostgreSQL's schema outlives one test
        s.execute(update(UserRow).where(UserRow.username == name).values(mail_delivery="immediate"))
    before = len(_audit(p, name, MAIL_DELIVERY_CHANGED))

    def changes() -> list[dict[str, object]]:
        return _audit(p, name, MAIL_DELIVERY_CHANGED)[before:]

    async with _browser(p, "procurement", **{"Accept-Language": "en"}) as http:
        page = await http.get("/account")
        assert page.status_code == 200
        assert 'action="/account/mail-delivery"' in page.text
        assert re.search(r'value="immediate"\s+checked', page.text)
        assert not re.search(r'value="digest"\s+checked', page.text)
        assert "escalations and overdue follow-up reviews are still mailed" in page.text

        refused = await http.post(
            "/account/mail-delivery", data={"csrf_token": csrf, "mail_delivery": "hourly"}
        )
        assert refused.status_code == 422
        assert 'id="mail-delivery-error"' in refused.text
        assert re.search(r'name="mail_delivery" value="digest" aria-invalid="true"', refused.text)
        assert 'aria-describedby="mail-delivery-help mail-delivery-error"' in refused.text
        missing = await http.post("/account/mail-delivery", data={"csrf_token": csrf})
        assert missing.status_code == 422
        assert _delivery(p, name) == "immediate" and changes() == []

        no_token = await http.post("/account/mail-delivery", data={"mail_delivery": "digest"})
        assert no_token.status_code == 403 and _delivery(p, name) == "immediate"

        chosen = await http.post(
            "/account/mail-delivery", data={"csrf_token": csrf, "mail_delivery": "digest"}
        )
        assert chosen.status_code == 303
        assert chosen.headers["location"] == "/account?done=mail-delivery"
        assert _delivery(p, name) == "digest"
        [entry] = changes()
        assert (entry["mail_delivery_before"], entry["mail_delivery"]) == ("immediate", "digest")

        after = await http.get("/account?done=mail-delivery")
        assert re.search(r'value="digest"\s+checked', after.text)
        assert 'id="notice"' in after.text

        # Choosing what is held changes and audits nothing.
        same = await http.post(
            "/account/mail-delivery", data={"csrf_token": csrf, "mail_delivery": "digest"}
        )
        assert same.status_code == 303 and len(changes()) == 1

        # The API reads the same choice.
        api = await http.get("/api/v1/me/mail-delivery")
        if api.status_code == 200:
            assert api.json()["mail_delivery"] == "digest"

        back = await http.post(
            "/account/mail-delivery", data={"csrf_token": csrf, "mail_delivery": "immediate"}
        )
        assert back.status_code == 303 and _delivery(p, name) == "immediate"
        assert [e["mail_delivery"] for e in changes()] == ["digest", "immediate"]


async def test_the_japanese_account_page_has_no_english_left(db_portal: Portal) -> None:
    p = db_portal
    name = p.username("procurement")
    csrf = p.cookies["procurement"][1]
    with transaction(p.sessions) as s:
        display = s.scalar(select(UserRow.display_name).where(UserRow.username == name))
    allowed = [name, str(display or "")]
    async with _browser(p, "procurement", **{"Accept-Language": "ja"}) as http:
        page = await http.get("/account")
        assert page.status_code == 200 and page.headers["content-language"] == "ja"
        assert "週次のまとめのみ" in page.text and "エスカレーション" in page.text
        assert english_left(page.text, allowed=allowed) == []
        refused = await http.post(
            "/account/mail-delivery", data={"csrf_token": csrf, "mail_delivery": "hourly"}
        )
        assert refused.status_code == 422
        assert english_left(refused.text, allowed=allowed) == []
        made = await http.post("/account/calendar", data={"csrf_token": csrf})
        link = re.search(r'value="(http://testserver/calendar/[^"]+)"', made.text)
        assert link is not None
        assert english_left(made.text, allowed=[*allowed, link[1]]) == []
