"""Mails people can act on (issue 17), received by an in-process SMTP server: every mail is
multipart/alternative with a text and an HTML part from the same template, links to the page
where its reader acts (RENEWALS_WEB_BASE_URL + the path) and that link answers 200 for the
signed-in recipient; each recipient reads it in their language (users.language, else the
contract's), one outbox row per language (and, for a review request, per audience: legal
reviewers and the owner), sent once across retries."""

import re
import socket
from collections.abc import Iterator
from dataclasses import replace
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
from models.contract import SupplierCreate
from models.notifications import NotificationKind, NotificationRequest
from models.tables import OutboxRow
from portal.deps import SESSION_COOKIE
from store import contracts as contract_store
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
        assert len(inbox.messages) == 3

        with transaction(portal.sessions) as s:
            rows = list(
                s.scalars(select(OutboxRow).where(OutboxRow.key.like(f"mail-test:{cid}:review:1%")))
            )
        by_key = {row.key: row for row in rows}
        # The contract's language and legal's audience keep the key; the owner, who is no
        # legal reviewer, has a row of their own.
        assert set(by_key) == {review.key, f"{review.key}:ja", f"{review.key}:owner"}
        assert by_key[review.key].recipients == LEGAL_EN
        assert by_key[f"{review.key}:ja"].recipients == LEGAL_JA
        assert by_key[f"{review.key}:owner"].recipients == OWNER
        assert all(row.body_html and row.sent_at is not None for row in rows)

        review_link = f"{BASE_URL}/reviews/{quote(cid, safe='')}/1/1"
        contract_link = f"{BASE_URL}/contracts/{quote(cid, safe='')}"
        english = next(m for m in inbox.messages if m["To"] == LEGAL_EN)
        japanese = next(m for m in inbox.messages if m["To"] == LEGAL_JA)
        for message in (english, japanese):
            text, html = _parts(message)
            assert _links(text, html) == ([review_link], [review_link]), (text, html)
        # The owner's copy says the version went to legal review and links to the contract's
        # page (the review page answers 403 to anyone without legal's permission).
        owners = next(m for m in inbox.messages if m["To"] == OWNER)
        owner_text, owner_html = _parts(owners)
        assert _links(owner_text, owner_html) == ([contract_link], [contract_link])
        assert str(owners["Subject"]).startswith("Sent to legal review:"), owners["Subject"]
        assert "was sent to legal review" in owner_text, owner_text
        assert "please review" not in owner_text.casefold(), owner_text
        assert "Open the contract's page" in unescape(owner_html)
        assert "Review this version" not in owner_html
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

        # Each legal reviewer, signed in, opens the review page the mail links to; the owner,
        # signed in, opens the contract's page theirs links to (the review page would refuse).
        for who in ("legal", "legal2"):
            async with _browser(portal, who) as http:
                page = await http.get(review_link)
            assert page.status_code == 200, (who, page.status_code, page.text[:500])
            assert f"<title>{cid} v1 " in page.text, page.text[:500]  # the version's own page
        async with _browser(portal, "procurement") as http:
            assert (await http.get(review_link)).status_code == 403
            page = await http.get(contract_link)
        assert page.status_code == 200, page.text[:500]

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
        assert len(inbox.messages) == 4
        message = inbox.messages[-1]
        assert message["To"] == OWNER
        text, html = _parts(message)
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
    assert len(inbox.messages) == 3  # the review request: legal's and the owner's
    for message in inbox.messages:
        text, html = _parts(message)
        assert "http" not in text and "<a " not in html, (text, html)
        assert "画面を開く" not in text + html and "この版をレビューする" not in text + html
        assert "解約予告期限：" in text and "解約予告期限" in html


def test_the_owner_of_a_review_request_reads_it_in_an_owners_words_in_japanese(
    sessions: SessionFactory, smtp: tuple[Inbox, int]
) -> None:
    """Audiences by role: the legal team's mailbox (no account) and an account holding the
    legal role are reviewers; the owner (procurement only) reads that the version went to
    legal review, wholly in Japanese, with the contract's page as the link."""
    inbox, port = smtp
    with transaction(sessions) as s:
        contract_store.upsert_supplier(s, supplier=SupplierCreate(id="S-AUD", name="東京包装"))
        register(
            s,
            id="C-AUD",
            language="ja",
            owner="buyer@example.com",
            title="梱包資材の供給契約",
            supplier_id="S-AUD",
        )
        user_store.create_user(
            s, username="buyer@example.com", display_name="Buyer", roles="procurement"
        )
        user_store.create_user(
            s, username="both@example.com", display_name="Both", roles="procurement,legal"
        )
    team = replace(_mail(port), legal_team="legal@example.com, both@example.com")
    mails = NotificationActivities(sessions, make_environment(), team, web_base_url=BASE_URL)
    request = NotificationRequest(
        contract_id="C-AUD",
        term=1,
        workflow_id="wf",
        kind=NotificationKind.REVIEW_REQUESTED,
        key="wf:aud:review:2",
        facts={"version": "2", "outside_limits": "2", "answers": "独占条件を削除しました"},
    )
    assert mails.send_notification(request) == "sent"
    assert mails.send_notification(request) == "already sent"
    with transaction(sessions) as s:
        rows = {r.key: r.recipients for r in s.scalars(select(OutboxRow))}
    assert rows == {
        request.key: "legal@example.com, both@example.com",
        f"{request.key}:owner": "buyer@example.com",
    }
    owners = next(m for m in inbox.messages if m["To"] == "buyer@example.com")
    text, html = _parts(owners)
    assert str(owners["Subject"]).startswith("【法務レビューに回付】")
    assert "法務レビュー（契約書のレビュー）に回しました" in text, text
    assert "妥協点を超える条件が 2 件あります。" in text and "レビュー画面" not in text, text
    assert "お願いします" not in text and "この版をレビューする" not in html, text
    assert _links(text, html) == ([f"{BASE_URL}/contracts/C-AUD"], [f"{BASE_URL}/contracts/C-AUD"])
    prose = re.sub(r"https?://\S+|C-AUD", "", text + unescape(re.sub(r"<[^>]+>", " ", html)))
    assert not re.search(r"[A-Za-z]{2,}", prose), prose  # nothing English but the id and link
    reviewers = next(m for m in inbox.messages if m["To"] != "buyer@example.com")
    text, html = _parts(reviewers)
    assert "契約書のレビューをお願いします" in text and "この版をレビューする" in html
    assert _links(text, html)[0] == [f"{BASE_URL}/reviews/C-AUD/1/2"]
