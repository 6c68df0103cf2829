"""The weekly digest (issue 17): once per person and week across retries and re-runs, the
per-user choice of the digest only, wholly Japanese for a Japanese reader, and its Schedule's
weekday, hour and time zone on the dev server."""

import re
import uuid
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from functools import partial
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
from domain.term_plan import CalendarSettings
from models.digest import DigestInput, DigestTotals, digest_key, iso_week
from models.followup_tables import FollowUpActionRow, FollowUpRow
from models.milestones import MilestoneState, RenewalPolicy
from models.notifications import NotificationKind, NotificationRequest
from models.tables import (
    ContractRow,
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
from store.reads import digest as reads
from store.reads.reviews import review_queue
from tests.factories import register
from tests.performance_data import pg_sessions_fixture  # noqa: F401 - fixture pg_sessions
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


# ------------------------------------------------- the read model's lists, SQLite and PostgreSQL


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db(request: pytest.FixtureRequest) -> SessionFactory:
    """SQLite, then the shared PostgreSQL schema with everything rolled back at the end."""
    factory: SessionFactory = request.getfixturevalue(
        "sessions" if request.param == "sqlite" else "pg_sessions"
    )
    return factory


def plan_term(
    s: Session,
    cid: str,
    stage: str,
    *,
    as_of: date,
    requested_by: str,
    send_by: date | None,
    milestones: Sequence[tuple[str, date, str]] = (),
    outcome: str | None = None,
) -> int:
    """Term 1's renewal in ``stage`` with its stored plan: send-by, notice deadline 13 days and
    end date 20 days from ``as_of``, and ``milestones`` (kind, due, state)."""
    row = RenewalRow(
        contract_id=cid,
        term=1,
        workflow_id=f"renewal-{cid}-1",
        requested_by=requested_by,
        term_end_date=as_of + timedelta(days=20),
        stage=stage,
        outcome=outcome,
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
            send_by=send_by,
            send_by_provenance=[],
            time_zone="Asia/Tokyo",
            term_model="fixed",
            planned_on=as_of - timedelta(days=60),
        )
    )
    for position, (kind, due, state) in enumerate(milestones):
        s.add(
            PlanMilestoneRow(
                contract_id=cid,
                term=1,
                kind=kind,
                position=position,
                due=due,
                nominal=due,
                state=state,
                provenance=[],
            )
        )
    s.flush()
    return row.id


def _version(s: Session, renewal_id: int, *, by: str, language: str) -> None:
    s.add(
        DraftRow(
            renewal_id=renewal_id,
            kind="renegotiation",
            version=1,
            language=language,
            body="本文",
            proposed_terms={},
            content_hash="h" * 64,
            requested_by=by,
        )
    )


# The seeded contracts' titles and follow-up actions in each language (data, not the product's
# words).
DATA = {
    "en": ("Packaging supply", "Check the delivery records"),
    "ja": ("梱包資材の供給", "納品記録の確認"),
}


def _action(s: Session, cid: str, *, owner: str, due: date, state: str = "open") -> None:
    review = s.scalar(select(FollowUpRow).where(FollowUpRow.contract_id == cid))
    if review is None:
        review = FollowUpRow(
            contract_id=cid,
            term=1,
            sequence=1,
            due=due,
            period_start=due - timedelta(days=180),
            period_end=due,
            state="recorded",
        )
        s.add(review)
        s.flush()
    s.add(
        FollowUpActionRow(
            followup_id=review.id,
            contract_id=cid,
            kind="action",
            description=DATA[s.get_one(ContractRow, cid).language][1],
            owner=owner,
            due=due,
            state=state,
        )
    )
    s.flush()


def seed_lists(
    s: Session, *, owner: str, legal: str, as_of: date, prefix: str, language: str = "ja"
) -> dict[str, str]:
    """Contracts of ``owner`` with something in each of the digest's five lists, and rows
    just outside each list; a version ``legal`` may decide and two they may not. Contract ids
    by letter (A..M), each ``prefix`` + letter."""
    d = timedelta
    ids = {letter: f"{prefix}{letter}" for letter in "ABCDEFGHIJKLM"}
    for letter, cid in ids.items():
        register(s, id=cid, owner=owner, language=language, title=f"{DATA[language][0]} {letter}")
    s.get_one(ContractRow, ids["B"]).owner = owner.upper()  # matched whatever the case
    s.get_one(ContractRow, ids["J"]).status = "terminated"
    pending, done = MilestoneState.PENDING.value, MilestoneState.DONE.value
    plan = partial(plan_term, s, as_of=as_of, requested_by=owner)
    plan(
        ids["A"],
        "waiting",
        send_by=as_of + d(days=31),  # one day too late for "within 30 days"
        milestones=[
            ("gather_facts", as_of - d(days=3), done),
            ("first_discussion", as_of - d(days=1), pending),  # overdue
            ("final_terms", as_of, pending),  # due this week: today
        ],
    )
    plan(
        ids["B"],
        "waiting",
        send_by=as_of + d(days=30),
        milestones=[
            ("first_discussion", as_of + d(days=6), pending),  # the week's last day
            ("final_terms", as_of + d(days=7), pending),  # next week
        ],
    )
    plan(ids["C"], "waiting", send_by=as_of)
    plan(
        ids["D"],
        "waiting",
        send_by=as_of - d(days=1),  # passed: not "within 30 days"
        milestones=[("final_terms", as_of - d(days=10), MilestoneState.SKIPPED.value)],
    )
    plan(ids["E"], "offer_presented", send_by=None)
    plan(ids["F"], "changes_requested", send_by=None)
    plan(ids["G"], "escalated", send_by=None)
    plan(ids["H"], "lapsed", send_by=None)
    plan(ids["I"], "lapsed", send_by=None, outcome="lapsed")  # decided: in no list
    plan(
        ids["J"],  # terminated: in no list
        "waiting",
        send_by=as_of + d(days=1),
        milestones=[("first_discussion", as_of - d(days=1), pending)],
    )
    _version(s, plan(ids["K"], "legal_review", send_by=None), by=owner, language=language)
    # Legal made this version: another lawyer decides it (segregation of duties).
    _version(s, plan(ids["L"], "legal_review", send_by=None), by=legal, language=language)
    # Legal requested this renewal.
    _version(
        s,
        plan_term(s, ids["M"], "legal_review", as_of=as_of, requested_by=legal, send_by=None),
        by=owner,
        language=language,
    )
    # Follow-up actions on A: one overdue (the lawyer's, spelled in capitals), one closed,
    # one due today; and one overdue on the terminated J.
    _action(s, ids["A"], owner=legal.upper(), due=as_of - d(days=2))
    _action(s, ids["A"], owner=legal, due=as_of - d(days=5), state="closed")
    _action(s, ids["A"], owner=owner, due=as_of)
    _action(s, ids["J"], owner=owner, due=as_of - d(days=2))
    return ids


def _rows(person: reads.PersonDigest | None) -> dict[str, list[tuple[str, str, object]]]:
    assert person is not None
    return {
        key: [(line.contract_id, line.what, line.version or line.due) for line in lines]
        for key, lines in person.lists.items()
    }


def test_each_list_holds_its_rows_and_nothing_just_outside_it(db: SessionFactory) -> None:
    tag = uuid.uuid4().hex[:8]
    owner, legal = f"{tag}-owner@example.com", f"{tag}-legal@example.com"
    quiet, gone = f"{tag}-quiet@example.com", f"{tag}-gone@example.com"
    as_of = date(2027, 2, 1)
    d = timedelta
    with transaction(db) as s:
        user_store.create_user(s, username=owner, display_name="Owner", roles="procurement")
        user_store.create_user(s, username=legal, display_name="Legal", roles="legal")
        user_store.create_user(s, username=quiet, display_name="Quiet", roles="procurement")
        user_store.create_user(s, username=gone, display_name="Gone", roles="legal")
        user_store.get_user_row(s, username=gone).active = False
        ids = seed_lists(s, owner=owner, legal=legal, as_of=as_of, prefix=f"CD{tag}-")
        register(s, id=f"CD{tag}-Q", owner=quiet)
        s.get_one(ContractRow, f"CD{tag}-Q").status = "terminated"
    with transaction(db) as s:
        queue = [
            item
            for item in review_queue(
                s, today=as_of, policy=RenewalPolicy(), cfg=CalendarSettings(), limit=500
            )[0]
            if item.contract_id.startswith(f"CD{tag}-")  # the shared schema may hold others
        ]
        requesters = reads.renewal_requesters(s, queue)
        mine = reads.person_digest(
            s, username=owner, as_of=as_of, queue=queue, requesters=requesters
        )
        lawyer = reads.person_digest(
            s, username=legal, as_of=as_of, queue=queue, requesters=requesters
        )
        short = reads.person_digest(s, username=owner, as_of=as_of, limit=1)
        nobody = reads.person_digest(s, username=gone, as_of=as_of)
        recipients: list[str] = []
        after: str | None = None
        while page := reads.recipients_page(s, after=after, limit=2):
            recipients += page
            after = page[-1]
    a, b, c, e, f, g, h, k = (ids[x] for x in "ABCEFGHK")
    assert _rows(mine) == {
        "due_this_week": [(a, "final_terms", as_of), (b, "first_discussion", as_of + d(days=6))],
        "overdue": [
            (a, "first_discussion", as_of - d(days=1)),
            (a, "followup_action", as_of - d(days=2)),
        ],
        "awaiting": [
            (cid, stage, as_of + d(days=13))
            for cid, stage in ((e, "offer_presented"), (f, "changes_requested"), (g, "escalated"))
        ],
        "send_by_soon": [(c, "send_by", as_of), (b, "send_by", as_of + d(days=30))],
        "lapsed": [(h, "lapsed", as_of + d(days=20))],
    }
    assert mine is not None and mine.more == dict.fromkeys(reads.LISTS, 0)
    assert _rows(lawyer) == {
        "due_this_week": [],
        "overdue": [(a, "followup_action", as_of - d(days=2))],
        "awaiting": [(k, "renegotiation", 1)],
        "send_by_soon": [],
        "lapsed": [],
    }
    assert short is not None
    assert {key: len(lines) for key, lines in short.lists.items()} == {
        "due_this_week": 1,
        "overdue": 2,
        "awaiting": 1,
        "send_by_soon": 1,
        "lapsed": 1,
    }  # overdue: one milestone and one action, each list bounded on its own
    assert short.more == {
        "due_this_week": 1,
        "overdue": 0,
        "awaiting": 2,
        "send_by_soon": 1,
        "lapsed": 0,
    }
    assert nobody is None
    assert recipients == sorted(set(recipients))  # pages in order, none twice
    assert [n for n in recipients if n.startswith(tag)] == [legal, owner]
    # The outbox rows, on this database too: one per person and week, found by a second run.
    activities = DigestActivities(db, _mails(db), web_base_url=BASE)
    first = stage_for(activities, as_of=as_of, usernames=[owner, legal, quiet])
    again = stage_for(activities, as_of=as_of, usernames=[owner, legal, quiet])
    assert (first.staged, first.already, first.empty) == (2, 0, 1)
    assert (again.staged, again.already, again.empty) == (0, 2, 1)
    with transaction(db) as s:
        keys = s.scalars(select(OutboxRow.key).where(OutboxRow.key.like(f"digest:{tag}-%")))
        assert sorted(keys) == sorted(digest_key(n, iso_week(as_of)) for n in (owner, legal))
