"""The weekly digest as its readers receive it (issue 17), from an in-process SMTP server: one
multipart/alternative mail per person (text and HTML from the one template) in the person's
language (an English owner, a Japanese legal reviewer), each list of the issue under its
heading in the glossary's words, every link answering 200 for the signed-in recipient, and
"sent once per week and person even when retried": a second call of the week's activity, a
retry after the mail server refused one mail, and a workflow whose activity failed after the
mails left send nothing more. Another week sends again.

The SMTP server, the mail settings and the browser are tests/test_mail_multipart.py's; the
contracts and their lists are tests/test_digest_workflow.py's (:func:`seed_lists`).
"""

import re
import smtplib
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from email.message import Message
from html import escape, unescape
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from temporalio import activity
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.digest_activities import DigestActivities, stage_for
from activities.drafting import make_environment
from activities.notifications import NotificationActivities
from models.activity_names import ActivityName
from models.digest import DigestBatch, DigestInput, DigestTotals, digest_key, iso_week
from models.tables import OutboxRow
from store import users as user_store
from store.db import SessionFactory, transaction
from tests.portal_fixtures import *  # noqa: F403
from tests.portal_fixtures import PEOPLE, Portal
from tests.test_digest_workflow import _wholly_japanese, seed_lists
from tests.test_japanese_templates import JAPANESE, SNAKE
from tests.test_mail_multipart import (
    BASE_URL,
    LEGAL_EN,
    LEGAL_JA,
    OWNER,
    Inbox,
    _browser,
    _links,
    _mail,
    _parts,
    smtp,  # noqa: F401 - the in-process SMTP server fixture
)
from workflows.digest import DigestWorkflow
from workflows.sandbox import workflow_runner

AS_OF = date(2027, 2, 1)  # a Monday
TOKYO = ZoneInfo("Asia/Tokyo")
# The readers: who signs in (tests.portal_fixtures.PEOPLE), their address and language.
READERS = {"procurement": (OWNER, "en"), "legal2": (LEGAL_JA, "ja")}
# The five lists as each language heads them (activities/templates/*/mail_digest).
HEADINGS = {
    "en": (
        "Milestones due this week",
        "Overdue",
        "Awaiting your decision or answer",
        "Last day to send the notice within 30 days",
        "Lapsed",
    ),
    "ja": (
        "今週が期限のマイルストーン",
        "期限を過ぎている項目",
        "あなたの判断・対応を待っている項目",
        "30日以内に解約予告の発送期限が来る契約",
        "契約期限切れの契約",
    ),
}

# The mail tests read SQLite only: the PostgreSQL schema of the portal tests keeps other tests'
# contracts, which would be in these people's digests too (the read model's lists run on both
# databases in tests/test_digest_workflow.py).
sqlite_only = pytest.mark.parametrize("database", ["sqlite"], indirect=True)


@pytest.fixture
def mail_portal(db_portal: Portal) -> Iterator[Portal]:
    """The app over SQLite, the English owner and the Japanese legal reviewer as chosen."""
    with transaction(db_portal.sessions) as s:
        for address, language in READERS.values():
            user_store.get_user_row(s, username=address).language = language
    yield db_portal


def _activities(sessions: SessionFactory, port: int) -> DigestActivities:
    mails = NotificationActivities(
        sessions, make_environment(), _mail(port), web_base_url=BASE_URL + "/"
    )
    return DigestActivities(sessions, mails, web_base_url=BASE_URL)


def _digest_rows(sessions: SessionFactory) -> int:
    with transaction(sessions) as s:
        return s.scalar(select(func.count()).where(OutboxRow.kind == "digest")) or 0


def _as_read(html: str) -> str:
    """The HTML part's text as a reader sees it: tags gone, entities read, lines trimmed."""
    text = unescape(re.sub(r"<br>|</p>|</tr>", "\n", html))
    return "\n".join(line.strip() for line in re.sub(r"<[^>]+>", " ", text).splitlines())


def _norm(line: str) -> str:
    return " ".join(line.split())


def _one_template(message: Message, text: str, html: str) -> None:
    """The HTML part shows the text part line for line (the action line as a button and its
    link), under the subject as its title."""
    shown = {_norm(line) for line in _as_read(html).splitlines()}
    assert f"<title>{escape(str(message['Subject']))}</title>" in html
    for line in map(_norm, text.splitlines()):
        if action := re.fullmatch(r"(.+?) ?[:：] ?(https?://\S+)", line):
            assert set(action.groups()) <= shown, (line, shown)  # "Open …: <link>"
        elif line:
            assert line in shown, (line, shown)


def _by_reader(messages: list[Message]) -> dict[str, Message]:
    found = {str(m["To"]): m for m in messages}
    assert len(found) == len(messages), [m["To"] for m in messages]  # one mail per person
    return found


async def _links_answer(portal: Portal, who: str, links: list[str]) -> None:
    """Each link answers 200 for the signed-in reader, the workspace's too: it is the reader's
    own start page (the review queue, the pipeline), not ``/`` and its redirect."""
    async with _browser(portal, who) as http:
        for link in links:
            page = await http.get(link)
            assert page.status_code == 200, (who, link, page.status_code, page.text[:300])


def _seed(sessions: SessionFactory, as_of: date) -> None:
    """The owner's English contracts with a line in each list, a version the lawyer may
    decide, an overdue follow-up action of the lawyer's; and, so that the Japanese digest
    shows every list too, Japanese contracts the lawyer owns (outside counsel, say) with an
    overdue action of the owner's."""
    with transaction(sessions) as s:
        seed_lists(s, owner=OWNER, legal=LEGAL_JA, as_of=as_of, prefix="CM-", language="en")
        seed_lists(s, owner=LEGAL_JA, legal=OWNER, as_of=as_of, prefix="CJ-", language="ja")


def _contract_links(prefix: str, letters: str) -> list[str]:
    return [f"{BASE_URL}/contracts/{prefix}{letter}" for letter in letters]


# Each reader's lines link to these pages (a contract's page, or the version to decide).
LINKS = {
    OWNER: _contract_links("CM-", "ABCEFGH") + _contract_links("CJ-", "A"),
    LEGAL_JA: _contract_links("CM-", "A")
    + _contract_links("CJ-", "ABCEFGH")
    + [f"{BASE_URL}/reviews/CM-K/1/1"],
}
# The glossary's words each reader's digest says (../shared/domain/glossary.md).
WORDS = {
    "en": (
        "Final terms, due 1 February 2027",
        "First discussion, due 31 January 2027",
        "Last day to send the notice: 3 March 2027",
        "Notice deadline: 14 February 2027",
        "End date: 21 February 2027",
        "Offer presented",
        "Lapsed, due 21 February 2027",
        "Action from a follow-up review: Check the delivery records",
    ),
    "ja": (
        "最終条件の提示・合意　期限：2027年2月1日",
        "最初の話し合い　期限：2027年1月31日",
        "解約予告の発送期限：2027年3月3日",
        "解約予告期限：2027年2月14日",
        "契約満了日：2027年2月21日",
        "条件提示済み",
        "契約期限切れ　期限：2027年2月21日",
        "フォローアップ（定期レビュー）の対応事項：納品記録の確認",
        "条件見直しの提案（第1版）",
    ),
}
# Data in the Japanese reader's digest that is English because the data is (the English
# contracts' titles, the supplier's name, an English contract's action).
ENGLISH_DATA = re.compile(
    r"Packaging supply [A-M]|Tokyo Packaging K\.K\.|Check the delivery records"
    r"|\S+@\S+|https?://\S+|C[MJ]-[A-M]"
)


@sqlite_only
async def test_each_reader_gets_one_multipart_digest_in_their_language_with_links_that_answer(
    mail_portal: Portal,
    smtp: tuple[Inbox, int],  # noqa: F811 - the fixture imported above
) -> None:
    inbox, port = smtp
    _seed(mail_portal.sessions, AS_OF)
    activities = _activities(mail_portal.sessions, port)
    totals = stage_for(activities, as_of=AS_OF, usernames=[OWNER, LEGAL_JA])
    assert (totals.staged, totals.sent, totals.empty) == (2, 2, 0)
    mails = _by_reader(inbox.messages)
    assert set(mails) == {OWNER, LEGAL_JA}
    for who, (address, language) in READERS.items():
        message = mails[address]
        text, html = _parts(message)  # multipart/alternative: text/plain, then text/html
        _one_template(message, text, html)
        assert f'<html lang="{language}">' in html
        headings = [
            re.sub(r" ?[(（]\d+件?[)）]$", "", line[2:])
            for line in text.splitlines()
            if line.startswith(("* ", "■ "))
        ]
        assert headings == list(HEADINGS[language]), text  # every list of the issue, in order
        for words in WORDS[language]:
            assert words in text, (words, text)
        in_text, in_html = _links(text, html)
        home = "/reviews" if address == LEGAL_JA else "/pipeline"  # the reader's start page
        assert in_html == [f"{BASE_URL}{home}"] and in_text[-1] == in_html[0]  # the workspace
        assert sorted(set(in_text[:-1])) == sorted(LINKS[address]), in_text
        await _links_answer(mail_portal, who, sorted(set(in_text)))
        assert not SNAKE.findall(ENGLISH_DATA.sub("", text + _as_read(html))), text
    ja_text, ja_html = _parts(mails[LEGAL_JA])
    ja = ENGLISH_DATA.sub("", f"{mails[LEGAL_JA]['Subject']}\n{ja_text}\n{_as_read(ja_html)}")
    assert not _wholly_japanese(ja), _wholly_japanese(ja)
    assert str(mails[LEGAL_JA]["Subject"]).startswith("【今週の契約更新のまとめ】2027年2月1日から")
    assert str(mails[OWNER]["Subject"]).startswith("Your contract renewals this week, from 1 Feb")
    en_text, _ = _parts(mails[OWNER])
    assert not JAPANESE.findall(en_text.replace("梱包資材の供給", "").replace("納品記録の確認", ""))


def _refuse_once(inbox: Inbox, address: str) -> list[str]:
    """The mail server refuses the next mail to ``address`` once (451, try again later)."""
    refused: list[str] = []
    accept = inbox.handle_DATA

    async def handle_DATA(server: Any, session: Any, envelope: Any) -> str:
        if address in envelope.rcpt_tos and not refused:
            refused.append(address)
            return "451 4.3.0 Try again later"
        return await accept(server, session, envelope)

    inbox.handle_DATA = handle_DATA  # type: ignore[method-assign]
    return refused


@sqlite_only
async def test_a_retried_week_sends_nothing_more_and_the_next_week_sends_again(
    mail_portal: Portal,
    smtp: tuple[Inbox, int],  # noqa: F811 - the fixture imported above
) -> None:
    inbox, port = smtp
    sessions = mail_portal.sessions
    _seed(sessions, AS_OF)
    activities = _activities(sessions, port)
    people = [OWNER, LEGAL_JA]
    first = stage_for(activities, as_of=AS_OF, usernames=people)
    assert (first.staged, first.sent, len(inbox.messages), _digest_rows(sessions)) == (2, 2, 2, 2)
    # The same week again (a retried activity, a second run): the rows are found, sent.
    for day in (AS_OF, AS_OF + timedelta(days=6)):  # any day of that ISO week
        again = stage_for(activities, as_of=day, usernames=people)
        assert (again.staged, again.already, again.sent) == (0, 2, 0)
        assert (len(inbox.messages), _digest_rows(sessions)) == (2, 2)
    # The next week: the owner's mail leaves, the server refuses the lawyer's; the activity
    # fails (retryable) and its retry sends the lawyer's only.
    week2 = AS_OF + timedelta(days=7)
    refused = _refuse_once(inbox, LEGAL_JA)
    with pytest.raises(smtplib.SMTPDataError):
        stage_for(activities, as_of=week2, usernames=people)
    assert refused == [LEGAL_JA] and [m["To"] for m in inbox.messages[2:]] == [OWNER]
    retried = stage_for(activities, as_of=week2, usernames=people)
    assert (retried.staged, retried.already, retried.sent) == (0, 2, 1)
    assert [m["To"] for m in inbox.messages[2:]] == [OWNER, LEGAL_JA]
    assert _digest_rows(sessions) == 4
    with transaction(sessions) as s:
        rows = {r.key: r for r in s.scalars(select(OutboxRow).where(OutboxRow.kind == "digest"))}
    weeks = (iso_week(AS_OF), iso_week(week2))
    assert set(rows) == {digest_key(p, w) for p in people for w in weeks}
    assert all(r.sent_at is not None and r.last_error is None for r in rows.values())
    # Each mail once: one Message-ID per person and week.
    assert sorted(str(m["Message-ID"]) for m in inbox.messages) == sorted(
        r.message_id for r in rows.values()
    )


class LostAfterSending:
    """STAGE_DIGESTS whose first attempt fails after its mails left (a worker lost before it
    reported): Temporal retries it."""

    def __init__(self, activities: DigestActivities) -> None:
        self._activities = activities
        self.attempts: list[int] = []

    @activity.defn(name=ActivityName.STAGE_DIGESTS)
    def stage_digests(self, batch: DigestBatch) -> DigestTotals:
        totals = self._activities.stage_digests(batch)
        self.attempts.append(activity.info().attempt)
        if activity.info().attempt == 1:
            raise ApplicationError("the worker was lost after the mails left")
        return totals


@sqlite_only
async def test_the_digest_workflow_sends_each_person_one_mail_across_a_retry_and_a_rerun(
    mail_portal: Portal,
    smtp: tuple[Inbox, int],  # noqa: F811 - the fixture imported above
    time_skipping_env: WorkflowEnvironment,
    activity_executor: ThreadPoolExecutor,
) -> None:
    inbox, port = smtp
    sessions = mail_portal.sessions
    now = await time_skipping_env.get_current_time()
    as_of = now.astimezone(TOKYO).date()
    _seed(sessions, as_of)
    activities = _activities(sessions, port)
    lost = LostAfterSending(activities)
    queue = f"digest-mail-{uuid.uuid4().hex[:8]}"
    async with Worker(
        time_skipping_env.client,
        task_queue=queue,
        workflows=[DigestWorkflow],
        activities=[activities.digest_week, activities.digest_recipients, lost.stage_digests],
        activity_executor=activity_executor,
        workflow_runner=workflow_runner(),
    ):
        with time_skipping_env.auto_time_skipping_disabled():  # both runs in one week
            first: DigestTotals = await time_skipping_env.client.execute_workflow(
                DigestWorkflow.run,
                DigestInput(),
                id=f"digest-{uuid.uuid4().hex[:6]}",
                task_queue=queue,
            )
            sent = len(inbox.messages)
            again: DigestTotals = await time_skipping_env.client.execute_workflow(
                DigestWorkflow.run,
                DigestInput(),
                id=f"digest-{uuid.uuid4().hex[:6]}",
                task_queue=queue,
            )
    # Everyone with something to read: the owner, both lawyers, the buyer-lawyer (legal role).
    readers = {OWNER, LEGAL_JA, LEGAL_EN, PEOPLE["buyer_lawyer"][0]}
    # Each run's activity failed after its mails left and was retried: the retry found them.
    assert lost.attempts == [1, 2, 1, 2]
    assert (first.recipients, first.already, first.sent) == (4, 4, 0)
    assert (again.staged, again.already, again.sent) == (0, 4, 0)
    assert set(_by_reader(inbox.messages)) == readers and sent == len(inbox.messages) == 4
    assert _digest_rows(sessions) == 4
    for message in inbox.messages:
        _parts(message)  # each multipart/alternative
