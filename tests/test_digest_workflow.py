"""The weekly digest (issue 17): once per person and week across retries and re-runs, the
per-user choice of the digest only, wholly Japanese for a Japanese reader, and its Schedule's
weekday, hour and time zone on the dev server."""

import re
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from html import unescape
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.digest_activities import DigestActivities, stage_for
from activities.drafting import make_environment
from activities.notifications import NotificationActivities
from clients import digest_schedule
from config.mail import MailSettings
from config.settings import Settings, get_settings
from models.digest import DigestInput, DigestTotals, digest_key, iso_week
from models.notifications import NotificationKind, NotificationRequest
from models.tables import (
    DraftRow,
    OutboxRow,
    PlanMilestoneRow,
    RenewalRow,
    TermPlanRow,
)
from services import account_mail
from store import users as user_store
from store.audit import AuditAction
from store.db import SessionFactory, transaction
from tests.factories import register
from tests.test_cli_acting_user import LAWYER as CLI_LAWYER
from tests.test_cli_acting_user import Env as CliEnv
from tests.test_cli_acting_user import env  # noqa: F401 - the CLI's env (Temporal faked)
from tests.test_japanese_templates import FORBIDDEN, JAPANESE, SNAKE
from workflows.digest import DigestWorkflow
from workflows.sandbox import workflow_runner

BUYER = "buyer@example.com"
LEGAL = "legal@example.com"
QUIET = "quiet@example.com"
BASE = "https://renewals.example.com"
TOKYO = ZoneInfo("Asia/Tokyo")


def _renewal(s: Session, cid: str, stage: str, *, as_of: date, requested_by: str = BUYER) -> int:
    row = RenewalRow(
        contract_id=cid,
        term=1,
        workflow_id=f"renewal-{cid}-1",
        requested_by=requested_by,
        term_end_date=as_of + timedelta(days=20),
        stage=stage,
    )
    s.add(row)
    s.add(
        TermPlanRow(
            contract_id=cid,
            term=1,
            workflow_id=f"renewal-{cid}-1",
            end_date=as_of + timedelta(days=20),
            notice_deadline=as_of + timedelta(days=13),
            notice_provenance=[],
            send_by=as_of + timedelta(days=10),
            send_by_provenance=[],
            time_zone="Asia/Tokyo",
            term_model="fixed",
            planned_on=as_of - timedelta(days=60),
        )
    )
    for position, (kind, days) in enumerate((("first_discussion", -5), ("final_terms", 3))):
        due = as_of + timedelta(days=days)
        s.add(
            PlanMilestoneRow(
                contract_id=cid,
                term=1,
                kind=kind,
                position=position,
                due=due,
                nominal=due,
                state="pending",
                provenance=[],
            )
        )
    s.flush()
    return row.id


def _seed(sessions: SessionFactory, as_of: date) -> None:
    with transaction(sessions) as s:
        user_store.create_user(s, username=BUYER, display_name="Buyer", roles="procurement")
        user_store.create_user(s, username=LEGAL, display_name="Legal", roles="legal")
        user_store.create_user(s, username=QUIET, display_name="Quiet", roles="procurement")
        register(s, id="C-OFFER", owner=BUYER, language="ja", title="梱包資材の供給")
        register(s, id="C-REVIEW", owner=BUYER, language="ja", title="物流業務の委託")
        register(s, id="C-QUIET", owner=QUIET, language="ja", end_date=date(2029, 3, 31))
        _renewal(s, "C-OFFER", "offer_presented", as_of=as_of)
        renewal_id = _renewal(s, "C-REVIEW", "legal_review", as_of=as_of)
        s.add(
            DraftRow(
                renewal_id=renewal_id,
                kind="renegotiation",
                version=1,
                language="ja",
                body="本文",
                proposed_terms={},
                content_hash="h" * 64,
                requested_by=BUYER,
            )
        )


def _mails(sessions: SessionFactory) -> NotificationActivities:
    return NotificationActivities(
        sessions, make_environment(), MailSettings.outbox_only(), web_base_url=BASE
    )


def _digests(sessions: SessionFactory) -> dict[str, OutboxRow]:
    with transaction(sessions) as s:
        rows = list(s.scalars(select(OutboxRow).where(OutboxRow.kind == "digest")))
        s.expunge_all()
    return {row.recipients: row for row in rows}


@pytest.fixture
def digest_activities(sessions: SessionFactory) -> Iterator[DigestActivities]:
    yield DigestActivities(sessions, _mails(sessions), web_base_url=BASE)


async def test_the_weekly_digest_is_staged_once_per_person_across_runs_and_retries(
    time_skipping_env: WorkflowEnvironment,
    sessions: SessionFactory,
    digest_activities: DigestActivities,
    activity_executor: ThreadPoolExecutor,
) -> None:
    now = await time_skipping_env.get_current_time()
    as_of = now.astimezone(TOKYO).date()
    _seed(sessions, as_of)
    queue = f"digest-{uuid.uuid4().hex[:8]}"
    async with Worker(
        time_skipping_env.client,
        task_queue=queue,
        workflows=[DigestWorkflow],
        activities=digest_activities.all(),
        activity_executor=activity_executor,
        workflow_runner=workflow_runner(),
    ):
        # Both runs in the same week (the server would otherwise skip ahead between them).
        with time_skipping_env.auto_time_skipping_disabled():
            first: DigestTotals = await time_skipping_env.client.execute_workflow(
                DigestWorkflow.run,
                DigestInput(page_size=2),  # two pages of recipients
                id=f"digest-{uuid.uuid4().hex[:6]}",
                task_queue=queue,
            )
            again: DigestTotals = await time_skipping_env.client.execute_workflow(
                DigestWorkflow.run,
                DigestInput(page_size=50),
                id=f"digest-{uuid.uuid4().hex[:6]}",
                task_queue=queue,
            )
    assert (first.recipients, first.staged, first.empty, first.already) == (3, 2, 1, 0)
    assert (again.staged, again.already, again.empty) == (0, 2, 1)
    # A retried activity (the same page called twice) finds the rows too.
    retried = stage_for(digest_activities, as_of=as_of, usernames=[BUYER, LEGAL, QUIET])
    assert (retried.staged, retried.already) == (0, 2)
    digests = _digests(sessions)
    assert set(digests) == {BUYER, LEGAL}  # the quiet owner has nothing: no digest
    week = iso_week(as_of)
    assert digests[BUYER].key == digest_key(BUYER, week)
    buyer = digests[BUYER].body
    # Due this week, overdue, awaiting (an offer), send-by within 30 days, in Japanese.
    for words in ("今週が期限", "最終条件の提示・合意", "期限を過ぎている", "最初の話し合い"):
        assert words in buyer, buyer
    assert "条件提示済み" in buyer and "解約予告の発送期限" in buyer
    assert f"{BASE}/contracts/C-OFFER" in buyer
    legal = digests[LEGAL].body
    # Legal may decide the buyer's version (neither its maker nor the contract's owner).
    assert "条件見直しの提案（第1版）" in legal and f"{BASE}/reviews/C-REVIEW/1/1" in legal
    assert "C-OFFER" not in legal


def _wholly_japanese(text: str) -> list[str]:
    found = [
        w
        for w in FORBIDDEN
        if re.search(rf"(?<![A-Za-z]){re.escape(w)}(?![A-Za-z])", text, re.IGNORECASE)
    ]
    return found + SNAKE.findall(text)


def test_a_japanese_digest_is_wholly_japanese_and_an_english_one_wholly_english(
    sessions: SessionFactory, digest_activities: DigestActivities
) -> None:
    as_of = datetime.now(TOKYO).date()
    _seed(sessions, as_of)
    with transaction(sessions) as s:
        user_store.get_user_row(s, username=LEGAL).language = "en"
    stage_for(digest_activities, as_of=as_of, usernames=[BUYER, LEGAL])
    digests = _digests(sessions)
    ja = digests[BUYER]
    ja_text = f"{ja.subject}\n{ja.body}\n{unescape(re.sub(r'<[^>]+>', ' ', ja.body_html or ''))}"
    assert not _wholly_japanese(ja_text), _wholly_japanese(ja_text)
    for words in ("解約予告の発送期限", "解約予告期限", "契約満了日", "年", "月"):
        assert words in ja_text
    en = digests[LEGAL]
    assert en.body_html and "Awaiting your decision" in en.body
    assert not JAPANESE.findall(en.subject + en.body.replace("物流業務の委託", ""))


def test_digest_only_leaves_the_person_out_of_immediate_mails_but_not_escalations(
    sessions: SessionFactory, digest_activities: DigestActivities
) -> None:
    as_of = datetime.now(TOKYO).date()
    _seed(sessions, as_of)
    with transaction(sessions) as s:
        buyer = user_store.get_user(s, username=BUYER)
        assert account_mail.set_mail_delivery(s, actor=buyer, delivery="digest") == (
            "digest",
            True,
        )
        assert account_mail.set_mail_delivery(s, actor=buyer, delivery="digest")[1] is False
    mails = _mails(sessions)
    for kind in (NotificationKind.MILESTONE_REMINDER, NotificationKind.ESCALATION):
        mails.send_notification(
            NotificationRequest(
                contract_id="C-OFFER",
                term=1,
                workflow_id="renewal-C-OFFER-1",
                kind=kind,
                key=f"t:{kind.value}",
                facts={"milestone": "final_terms", "reason": "期限超過"},
            )
        )
    with transaction(sessions) as s:
        rows = {r.kind: r.recipients for r in s.scalars(select(OutboxRow))}
    assert rows["milestone_reminder"] == ""  # nobody now: it is in the digest
    assert BUYER in rows["escalation"]
    stage_for(digest_activities, as_of=as_of, usernames=[BUYER])
    assert "最終条件の提示・合意" in _digests(sessions)[BUYER].body


def test_a_bad_mail_delivery_is_refused_with_the_field(sessions: SessionFactory) -> None:
    from models.errors import InvalidInput

    _seed(sessions, datetime.now(UTC).date())
    with transaction(sessions) as s:
        buyer = user_store.get_user(s, username=BUYER)
        with pytest.raises(InvalidInput) as err:
            account_mail.set_mail_delivery(s, actor=buyer, delivery="hourly")
    assert err.value.errors[0].field == "mail_delivery"


async def test_the_digest_schedule_runs_weekly_at_the_local_hour(
    dev_env: WorkflowEnvironment,
) -> None:
    settings = Settings(
        digest_schedule_id=f"digest-{uuid.uuid4().hex[:6]}",
        digest_weekday=0,
        digest_hour=8,
        digest_time_zone="Asia/Tokyo",
    )
    client = dev_env.client
    _, created = await digest_schedule.create_digest_schedule(client, settings=settings)
    _, again = await digest_schedule.create_digest_schedule(client, settings=settings)
    assert (created, again) == (True, False)
    try:
        info = await digest_schedule.describe_digest_schedule(client, settings=settings)
        assert (info.weekday, info.hour, info.time_zone) == (0, 8, "Asia/Tokyo")
        assert info.when == "every Monday at 08:00 Asia/Tokyo"
        for run in info.next_runs:
            local = run.astimezone(TOKYO)
            assert (local.weekday(), local.hour, local.minute) == (0, 8, 0)
    finally:
        await digest_schedule.delete_digest_schedule(client, settings=settings)


def test_digest_create_and_delete_are_audited_each_as_what_it_did(
    env: CliEnv,  # noqa: F811 - the fixture imported above
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`renewals schedule digest-create|digest-delete`: who may ask, and one audit entry each
    naming the digest's schedule: created, then deleted (not "paused")."""

    async def created(*_args: object, **_kwargs: object) -> tuple[None, bool]:
        env.temporal_calls.append("digest-create")
        return None, True

    async def deleted(*_args: object, **_kwargs: object) -> None:
        env.temporal_calls.append("digest-delete")

    monkeypatch.setattr(digest_schedule, "create_digest_schedule", created)
    monkeypatch.setattr(digest_schedule, "delete_digest_schedule", deleted)
    refused = env.invoke("schedule", "digest-delete", token=env.tokens[CLI_LAWYER])
    assert refused.exit_code == 1 and "needs renewals_write" in refused.stderr
    assert env.temporal_calls == [] and env.entries(subject_type="schedule") == []
    for command in ("digest-create", "digest-delete"):
        result = env.invoke("schedule", command, token=env.tokens[BUYER])
        assert result.exit_code == 0, result.output
    assert env.temporal_calls == ["connect", "digest-create", "connect", "digest-delete"]
    entries = [
        (e.actor, e.action, e.subject_id, e.detail) for e in env.entries(subject_type="schedule")
    ]
    s = get_settings()
    when = {"weekday": s.digest_weekday, "hour": s.digest_hour, "time_zone": s.digest_time_zone}
    assert entries == [
        (BUYER, AuditAction.SCHEDULE_CREATED.value, s.digest_schedule_id, {"via": "cli", **when}),
        (BUYER, AuditAction.SCHEDULE_DELETED.value, s.digest_schedule_id, {"via": "cli"}),
    ]
