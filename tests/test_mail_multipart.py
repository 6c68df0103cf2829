"""Mails people can act on (issue 17), received by an in-process SMTP server: every mail is
multipart/alternative with a text and an HTML part from the same template, links to the page
where its reader acts (RENEWALS_WEB_BASE_URL + the path) and that link answers 200 for the
signed-in recipient; each recipient reads it in their language (users.language, else the
contract's), one outbox row per language, sent once across retries."""

import re
import socket
from collections.abc import Iterator
from email import message_from_bytes
from email.message import EmailMessage, Message
from email.policy import default as default_policy
from html import unescape
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from activities.drafting import make_environment
from activities.notifications import NotificationActivities
from config.mail import MailSettings
from models.notifications import NotificationKind, NotificationRequest
from models.tables import OutboxRow
from portal.deps import SESSION_COOKIE
from store import users as user_store
from store.db import SessionFactory, transaction
from tests.factories import register
from tests.portal_fixtures import *  # noqa: F403
from tests.portal_fixtures import PEOPLE, Portal, contract_in_review_window, wait_for_draft

BASE_URL = "http://testserver"  # the app's origin in these tests (httpx.ASGITransport)
LEGAL_EN, LEGAL_JA = PEOPLE["legal"][0], PEOPLE["legal2"][0]
OWNER = PEOPLE["procurement"][0]


class Inbox:
    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.content, policy=default_policy))
        return "250 Message accepted for delivery"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def _mail(port: int) -> MailSettings:
    return MailSettings(
        host="127.0.0.1",
        port=port,
        starttls=False,
        use_ssl=False,
        username=None,
        password=None,
        sender="renewals@example.com",
        legal_team=f"{LEGAL_EN}, {LEGAL_JA}",
        escalation="",
    )


def _parts(message: Message) -> tuple[str, str]:
    """The text and the HTML of a multipart/alternative mail."""
    assert isinstance(message, EmailMessage)
    assert message.get_content_type() == "multipart/alternative", message
    types = [part.get_content_type() for part in message.iter_parts()]
    assert types == ["text/plain", "text/html"], types
    text, html = message.get_body(("plain",)), message.get_body(("html",))
    assert text is not None and html is not None
    # SMTP carries CRLF line ends; compare with the lines the templates wrote.
    return (
        str(text.get_content()).replace("\r\n", "\n"),
        str(html.get_content()).replace("\r\n", "\n"),
    )


def _links(text: str, html: str) -> tuple[list[str], list[str]]:
    in_text = re.findall(r"https?://\S+", text)
    in_html = [unescape(h) for h in re.findall(r'<a href="([^"]+)"', html)]
    return in_text, in_html


def _browser(p: Portal, who: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=p.app),
        base_url=BASE_URL,
        cookies={SESSION_COOKIE: p.cookies[who][0]},
    )


def _choose_language(sessions: SessionFactory, username: str, language: str | None) -> None:
    with transaction(sessions) as s:
        user_store.get_user_row(s, username=username).language = language


async def test_review_request_and_owner_mail_link_to_pages_that_answer(
    portal: Portal, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    env = portal.extra["env"]
    cid = await contract_in_review_window(env, portal.sessions, language="en")
    r = await portal.http.post(
        "/api/v1/renewals", json={"contract_id": cid}, headers=portal.auth("procurement")
    )
    assert r.status_code == 201, r.text
    await wait_for_draft(portal.client, cid)  # type: ignore[arg-type]
    # One legal reviewer reads Japanese, the other and the owner chose nothing: the English
    # contract's language.
    _choose_language(portal.sessions, LEGAL_JA, "ja")
    _choose_language(portal.sessions, LEGAL_EN, None)
    try:
        mails = NotificationActivities(
            portal.sessions, make_environment(), _mail(port), web_base_url=BASE_URL + "/"
        )
        review = NotificationRequest(
            contract_id=cid,
            term=1,
            workflow_id="wf-mail-test",
            kind=NotificationKind.REVIEW_REQUESTED,
            key=f"mail-test:{cid}:review:1",
            facts={"version": "1"},
        )
        assert mails.send_notification(review) == "sent"
        assert mails.send_notification(review) == "already sent"  # a retry: nothing more
        assert len(inbox.messages) == 2

        with transaction(portal.sessions) as s:
            rows = list(
                s.scalars(select(OutboxRow).where(OutboxRow.key.like(f"mail-test:{cid}:review:1%")))
            )
        by_key = {row.key: row for row in rows}
        assert set(by_key) == {review.key, f"{review.key}:ja"}  # the contract's language keeps
        assert by_key[review.key].recipients == f"{LEGAL_EN}, {OWNER}"
        assert by_key[f"{review.key}:ja"].recipients == LEGAL_JA
        assert all(row.body_html and row.sent_at is not None for row in rows)

        review_link = f"{BASE_URL}/reviews/{quote(cid, safe='')}/1/1"
        english = next(m for m in inbox.messages if m["To"] == f"{LEGAL_EN}, {OWNER}")
        japanese = next(m for m in inbox.messages if m["To"] == LEGAL_JA)
        for message in (english, japanese):
            text, html = _parts(message)
            assert _links(text, html) == ([review_link], [review_link]), (text, html)
        # The English reader's mail is English, the Japanese reader's Japanese, the dates
        # formatted for each.
        en_text, en_html = _parts(english)
        assert str(english["Subject"]).startswith("Legal review requested:")
        assert "awaits legal review" in en_text and "Review this version" in en_html
        assert re.search(r"Notice deadline: \d{1,2} [A-Z][a-z]+ \d{4}\n", en_text), en_text
        assert re.search(r"End date: \d{1,2} [A-Z][a-z]+ \d{4}\n", en_text), en_text
        assert '<html lang="en">' in en_html
        ja_text, ja_html = _parts(japanese)
        assert str(japanese["Subject"]).startswith("【法務レビュー依頼】")
        assert "契約書のレビューをお願いします" in ja_text and "この版をレビューする" in ja_html
        assert re.search(r"解約予告期限：\d{4}年\d{1,2}月\d{1,2}日\n", ja_text), ja_text
        assert re.search(r"契約満了日：\d{4}年\d{1,2}月\d{1,2}日\n", ja_text), ja_text
        assert '<html lang="ja">' in ja_html

        # Each legal reviewer, signed in, opens the review page the mail links to.
        for who in ("legal", "legal2"):
            async with _browser(portal, who) as http:
                page = await http.get(review_link)
            assert page.status_code == 200, (who, page.status_code, page.text[:500])
            assert f"<title>{cid} v1 " in page.text, page.text[:500]  # the version's own page

        # The owner's mail links to the contract's page, which answers the owner.
        owner_mail = NotificationRequest(
            contract_id=cid,
            term=1,
            workflow_id="wf-mail-test",
            kind=NotificationKind.MILESTONE_REMINDER,
            key=f"mail-test:{cid}:gather_facts",
            facts={"milestone": "gather_facts", "recommendation": "renegotiate", "score": "72"},
        )
        assert mails.send_notification(owner_mail) == "sent"
        assert len(inbox.messages) == 3
        message = inbox.messages[-1]
        assert message["To"] == OWNER
        text, html = _parts(message)
        contract_link = f"{BASE_URL}/contracts/{quote(cid, safe='')}"
        assert _links(text, html) == ([contract_link], [contract_link]), (text, html)
        assert "has reached its milestone: gather facts and score." in text, text
        assert "Recommendation from the scorecard: renegotiate (score 72)." in text, text
        assert "gather_facts" not in text + html
        async with _browser(portal, "procurement") as http:
            page = await http.get(contract_link)
        assert page.status_code == 200, page.text[:500]
    finally:
        _choose_language(portal.sessions, LEGAL_JA, None)


def test_without_a_base_url_a_mail_has_no_link_and_says_nothing_of_one(
    sessions: SessionFactory, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    with transaction(sessions) as s:
        register(s, id="C-NOLINK", language="ja", owner="buyer@example.com")
    mails = NotificationActivities(sessions, make_environment(), _mail(port))
    for kind, facts in (
        (NotificationKind.REVIEW_REQUESTED, {"version": "1"}),
        (NotificationKind.ESCALATION, {"reason": "最終条件の承認がありません"}),
    ):
        request = NotificationRequest(
            contract_id="C-NOLINK",
            term=1,
            workflow_id="wf",
            kind=kind,
            key=f"wf:mail:{kind.value}",
            facts=facts,
        )
        assert mails.send_notification(request) == "sent"
    assert len(inbox.messages) == 2
    for message in inbox.messages:
        text, html = _parts(message)
        assert "http" not in text and "<a " not in html, (text, html)
        assert "画面を開く" not in text + html and "この版をレビューする" not in text + html
        assert "解約予告期限：" in text and "解約予告期限" in html
