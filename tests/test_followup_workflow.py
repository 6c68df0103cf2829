"""Follow-up reviews across a whole term on the time-skipping server (renewal-semantics.md §7).

The term's renewal starts its FollowUpWorkflow; on durable timers the reviews open when they fall
due (the owner reminded once each), people record them through services.followups, an action
left open past its due date escalates once, nothing falls in the last six months, and when the
renewal's preparation runs, its scorecard is computed over the term with the follow-ups
recorded.
"""

import asyncio
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta

import pytest
from dateutil.relativedelta import relativedelta
from sqlalchemy import select
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from auth.roles import Role
from clients import renewals
from config.settings import Settings
from models.followup_tables import FollowUpActionRow, FollowUpRow
from models.followups import FollowUpState
from models.scorecard import KpiName, Scorecard
from models.tables import OutboxRow, RenewalRow, ScorecardRow
from models.users import CurrentUser
from services import followups
from store import followups as followup_store
from store.db import SessionFactory, transaction
from tests.factories import register
from tests.workflow_helpers import save_history
from workflows.contract_renewal import ContractRenewalWorkflow
from workflows.followup import followup_workflow_id

OWNER = CurrentUser(
    id=0,
    username="procurement@example.com",
    display_name="Buyer",
    roles=frozenset({Role.PROCUREMENT}),
)


async def _skip_to(env: WorkflowEnvironment, day: date, hour: int = 12) -> None:
    delta = datetime.combine(day, time(hour), UTC) - await env.get_current_time()
    if delta > timedelta(0):
        await env.sleep(delta)


async def _eventually(check: Callable[[], bool], what: str) -> None:
    for _ in range(400):
        if check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"never: {what}")


def _reviews(sessions: SessionFactory, cid: str) -> list[FollowUpRow]:
    with transaction(sessions) as s:
        rows = list(
            s.scalars(
                select(FollowUpRow)
                .where(FollowUpRow.contract_id == cid)
                .order_by(FollowUpRow.sequence)
            )
        )
        s.expunge_all()
        return rows


def _mails(sessions: SessionFactory, cid: str, kind: str) -> list[OutboxRow]:
    with transaction(sessions) as s:
        rows = list(
            s.scalars(
                select(OutboxRow)
                .where(OutboxRow.contract_id == cid, OutboxRow.kind == kind)
                .order_by(OutboxRow.id)
            )
        )
        s.expunge_all()
        return rows


def _record(
    sessions: SessionFactory,
    cid: str,
    day: date,
    *,
    csat: int,
    nps: int,
    intent: str,
    **extra: object,
) -> None:
    followups.record(
        sessions=sessions,
        settings=Settings(),
        user=OWNER,
        contract_id=cid,
        data={
            "feedback": "納期は安定しています。",
            "csat": csat,
            "nps": nps,
            "supplier_continue": intent,
            **extra,
        },
        today=day,
        now=datetime.combine(day, time(10), UTC),
    )


@pytest.mark.usefixtures("renewal_worker")
async def test_reviews_open_on_time_remind_once_escalate_overdue_actions_and_feed_the_scorecard(
    time_skipping_env: WorkflowEnvironment,
    client: Client,
    task_queue: str,
    sessions: SessionFactory,
    renewal_worker: Worker,
) -> None:
    env = time_skipping_env
    start = (await env.get_current_time()).date()
    end = start + relativedelta(months=12)
    cid = f"F-{uuid.uuid4().hex[:8]}"
    with transaction(sessions) as s:
        register(s, id=cid, start_date=start, end_date=end, notice_period_days=30, language="ja")
        followup_store.set_interval(s, contract_id=cid, months=2)
    first, second = start + relativedelta(months=2), start + relativedelta(months=4)

    await renewals.start_renewal(
        client, contract_id=cid, term=1, requested_by=OWNER.username, task_queue=task_queue
    )
    handle = renewals.renewal_handle(client, contract_id=cid, term=1)
    followup = client.get_workflow_handle(followup_workflow_id(cid, 1))
    for _ in range(100):  # the renewal starts its follow-up workflow once it has planned
        try:
            if (await followup.describe()).status is WorkflowExecutionStatus.RUNNING:
                break
        except RPCError:
            pass
        await asyncio.sleep(0.05)
    assert (await followup.describe()).status is WorkflowExecutionStatus.RUNNING
    assert _reviews(sessions, cid) == []  # nothing is due yet

    # The first review opens on its day and the owner is reminded, once.
    await _skip_to(env, first + timedelta(days=1))
    await _eventually(lambda: len(_reviews(sessions, cid)) == 1, "the first review opens")
    await _eventually(lambda: len(_mails(sessions, cid, "followup_due")) == 1, "its reminder")
    (review,) = _reviews(sessions, cid)
    assert (review.sequence, review.due, review.state) == (1, first, FollowUpState.DUE.value)
    assert "第1回" in _mails(sessions, cid, "followup_due")[0].subject

    # Recorded with an action due ten days later, which nobody closes.
    _record(
        sessions,
        cid,
        first + timedelta(days=1),
        csat=4,
        nps=9,
        intent="yes",
        actions=[
            {
                "description": "繁忙期の納品枠を合意する",
                "owner": "buyer-sato@example.com",
                "due": first + timedelta(days=10),
            }
        ],
    )
    await _skip_to(env, first + timedelta(days=20))
    await _eventually(
        lambda: len(_mails(sessions, cid, "followup_overdue")) == 1, "the overdue action escalates"
    )
    with transaction(sessions) as s:
        action = s.scalars(
            select(FollowUpActionRow).where(FollowUpActionRow.contract_id == cid)
        ).one()
        assert action.escalated_at is not None and action.state == "open"

    # The second review: recorded lower; the supplier is undecided.
    await _skip_to(env, second + timedelta(days=1))
    await _eventually(lambda: len(_reviews(sessions, cid)) == 2, "the second review opens")
    _record(sessions, cid, second + timedelta(days=1), csat=2, nps=4, intent="undecided")

    # No review in the last six months; the renewal's preparation scores the term.
    await _skip_to(env, end - relativedelta(months=6) + timedelta(days=2))
    await _eventually(lambda: _scorecard(sessions, cid) is not None, "the scorecard")
    assert len(_reviews(sessions, cid)) == 2
    assert len(_mails(sessions, cid, "followup_due")) == 2  # once per review, never again
    assert len(_mails(sessions, cid, "followup_overdue")) == 1  # once per action
    body = _scorecard(sessions, cid)
    assert body is not None
    card = Scorecard.model_validate(body)
    # The relationship KPI rests on the two reviews (satisfaction fell from 4 to 2, willingness
    # from 9 to 4) and the recommendation cites the term's follow-up trend.
    relationship = card.kpi(KpiName.RELATIONSHIP)
    assert relationship is not None and relationship.score is not None, relationship
    assert relationship.records >= 2
    assert "rec.relationship.trend" in [f.code for f in card.findings]
    status = await handle.query(ContractRenewalWorkflow.status)
    assert status.stage != "waiting"
    await handle.terminate("test over")
    await save_history(followup, "followup_whole_term")
    # Past the last review, in the months before the end, with no action left to escalate:
    # the term's follow-up is over.
    assert (await followup.describe()).status is WorkflowExecutionStatus.COMPLETED


def _scorecard(sessions: SessionFactory, cid: str) -> dict[str, object] | None:
    with transaction(sessions) as s:
        row = s.scalars(
            select(ScorecardRow)
            .join(RenewalRow, RenewalRow.id == ScorecardRow.renewal_id)
            .where(RenewalRow.contract_id == cid)
        ).first()
        return None if row is None else dict(row.body or {})
