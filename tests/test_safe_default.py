"""The safe default at the send-by date, on the time-skipping server."""

import asyncio
import uuid
from datetime import UTC, datetime, time, timedelta

from dateutil.relativedelta import relativedelta
from sqlalchemy import select
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from clients import renewals
from models.contract import ContractAmendment
from models.milestones import MilestoneKind, MilestoneState
from models.renewal import (
    MilestoneStatus,
    OutcomeKind,
    RenewalStatus,
    ReviewDecisionKind,
    ReviewSubmission,
)
from models.tables import ContractRow, DraftRow, RenewalEventRow
from store.db import SessionFactory, transaction
from tests.factories import register
from tests.identity_helpers import SIGNED
from tests.negotiation_helpers import agree
from tests.workflow_helpers import result_of, today
from workflows.contract_renewal import ContractRenewalWorkflow

OWNER = "buyer@example.com"


async def _start(
    env: WorkflowEnvironment,
    client: Client,
    sessions: SessionFactory,
    task_queue: str,
    **contract: object,
) -> tuple[str, RenewalStatus]:
    cid = f"A-{uuid.uuid4().hex[:8]}"
    now = await today(env)
    with transaction(sessions) as s:
        register(
            s,
            id=cid,
            owner=OWNER,
            start_date=now - relativedelta(months=5),
            end_date=now + relativedelta(months=8),
            notice_period_days=60,
            term_model="auto_renewing",
            **contract,
        )
    await renewals.start_renewal(
        client, contract_id=cid, term=1, requested_by=OWNER, task_queue=task_queue
    )
    handle = renewals.renewal_handle(client, contract_id=cid, term=1)
    for _ in range(600):  # up to 30 s: CI machines are small and busy
        status = await handle.query(ContractRenewalWorkflow.status)
        if status.milestones:
            return cid, status
        await asyncio.sleep(0.05)
    raise AssertionError("no plan")


async def _skip_to(env: WorkflowEnvironment, instant: datetime) -> None:
    delta = instant - await env.get_current_time()
    if delta > timedelta(0):
        await env.sleep(delta)


def _due(status: RenewalStatus, kind: MilestoneKind) -> MilestoneStatus:
    return next(m for m in status.milestones if m.kind is kind)


async def test_send_by_without_decision_drafts_a_non_renewal_notice_and_escalates(
    time_skipping_env: WorkflowEnvironment,
    client: Client,
    sessions: SessionFactory,
    renewal_worker: Worker,
    task_queue: str,
) -> None:
    env = time_skipping_env
    cid, status = await _start(env, client, sessions, task_queue)
    assert status.send_by is not None and status.notice_deadline is not None
    assert status.send_by < status.notice_deadline  # the transit buffer
    assert _due(status, MilestoneKind.SEND_BY).due == status.send_by

    handle = renewals.renewal_handle(client, contract_id=cid, term=1)
    # The day before the send-by date: nothing has happened yet.
    await _skip_to(env, datetime.combine(status.send_by - timedelta(days=1), time(0), UTC))
    before = await handle.query(ContractRenewalWorkflow.status)
    assert _due(before, MilestoneKind.SEND_BY).state is MilestoneState.PENDING

    outcome = await result_of(env, handle)
    final = await handle.query(ContractRenewalWorkflow.status)
    assert _due(final, MilestoneKind.SEND_BY).state is MilestoneState.DONE
    assert any("non-renewal notice is in legal review" in e for e in final.escalations)
    # A drafted notice is not a notice given: nobody approved or sent it, so the contract
    # rolled over by its own terms, and the record says so (renewal-semantics.md §4).
    assert outcome.kind is OutcomeKind.ROLLED_OVER
    assert "rolled over by its terms" in outcome.reason
    with transaction(sessions) as s:
        notice = s.scalar(select(DraftRow).where(DraftRow.kind == "non_renewal_notice"))
        assert notice is not None
        assert "will not be renewed" in notice.body
        escalation = s.scalar(
            select(RenewalEventRow).where(RenewalEventRow.key.like("%escalation:send_by"))
        )
        assert escalation is not None
    await client.get_workflow_handle(outcome.next_workflow_id or "").terminate("test over")


async def test_an_approval_the_day_before_prevents_the_safe_default(
    time_skipping_env: WorkflowEnvironment,
    client: Client,
    sessions: SessionFactory,
    renewal_worker: Worker,
    task_queue: str,
) -> None:
    env = time_skipping_env
    cid, status = await _start(env, client, sessions, task_queue)
    assert status.send_by is not None
    handle = renewals.renewal_handle(client, contract_id=cid, term=1)
    await _skip_to(env, datetime.combine(status.send_by - timedelta(days=1), time(0), UTC))
    await renewals.submit_review(
        client,
        signer=SIGNED,
        contract_id=cid,
        term=1,
        submission=ReviewSubmission(
            decision=ReviewDecisionKind.APPROVE, reviewer="legal@example.com", draft_version=1
        ),
    )
    # Approved and accepted before the send-by date: nothing rolls over, nothing is noticed.
    approved = await handle.query(ContractRenewalWorkflow.status)
    await agree(handle, approved.drafts[0], on=await today(env))
    outcome = await result_of(env, handle)
    assert outcome.kind is OutcomeKind.RENEWED
    with transaction(sessions) as s:
        assert s.scalar(select(DraftRow).where(DraftRow.kind == "non_renewal_notice")) is None
        contract = s.get(ContractRow, cid)
        # Renewed on newly agreed terms: not one of the renewals its own clause allows.
        assert contract is not None and contract.renewals_used == 0 and contract.current_term == 2
    final = await handle.query(ContractRenewalWorkflow.status)
    assert not any("send-by" in e for e in final.escalations)
    await client.get_workflow_handle(outcome.next_workflow_id or "").terminate("test over")


async def test_renew_as_is_chosen_explicitly_rolls_over_and_says_so(
    time_skipping_env: WorkflowEnvironment,
    client: Client,
    sessions: SessionFactory,
    renewal_worker: Worker,
    task_queue: str,
) -> None:
    env = time_skipping_env
    cid, _ = await _start(env, client, sessions, task_queue, default_action="renew_as_is")
    handle = renewals.renewal_handle(client, contract_id=cid, term=1)
    outcome = await result_of(env, handle)
    assert outcome.kind is OutcomeKind.ROLLED_OVER
    assert "renew as is" in outcome.reason
    with transaction(sessions) as s:
        assert s.scalar(select(DraftRow).where(DraftRow.kind == "non_renewal_notice")) is None
        said = s.scalar(
            select(RenewalEventRow).where(RenewalEventRow.kind == "default_renew_as_is")
        )
        assert said is not None
    await client.get_workflow_handle(outcome.next_workflow_id or "").terminate("test over")


async def test_amendment_after_the_first_milestone_moves_every_remaining_date(
    time_skipping_env: WorkflowEnvironment,
    client: Client,
    sessions: SessionFactory,
    renewal_worker: Worker,
    task_queue: str,
) -> None:
    env = time_skipping_env
    cid, status = await _start(env, client, sessions, task_queue)
    gather = _due(status, MilestoneKind.GATHER_FACTS)
    await _skip_to(env, datetime.combine(gather.due + timedelta(days=1), time(0), UTC))
    handle = renewals.renewal_handle(client, contract_id=cid, term=1)
    before = await handle.query(ContractRenewalWorkflow.status)
    assert _due(before, MilestoneKind.GATHER_FACTS).state in (
        MilestoneState.DONE,
        MilestoneState.DONE_LATE,
    )
    new_end = before.end_date + relativedelta(months=4)  # type: ignore[operator]
    after = await renewals.amend_renewal(
        client,
        signer=SIGNED,
        contract_id=cid,
        term=1,
        amendment=ContractAmendment(end_date=new_end, notice_period_days=30, amended_by=OWNER),
    )
    moved = {m.kind: (m.due, m.state) for m in after.milestones}
    was = {m.kind: m.due for m in before.milestones}
    for kind in (
        MilestoneKind.FIRST_DISCUSSION,
        MilestoneKind.FINAL_TERMS,
        MilestoneKind.SEND_BY,
        MilestoneKind.EXPIRY,
    ):
        assert moved[kind][0] > was[kind], kind
        assert moved[kind][1] is MilestoneState.PENDING
    assert moved[MilestoneKind.GATHER_FACTS][1] is not MilestoneState.PENDING  # not run again
    assert after.send_by is not None and after.send_by > before.send_by  # type: ignore[operator]
    await handle.terminate("test over")


async def test_evergreen_review_starts_the_next_review_period(
    time_skipping_env: WorkflowEnvironment,
    client: Client,
    sessions: SessionFactory,
    renewal_worker: Worker,
    task_queue: str,
) -> None:
    env = time_skipping_env
    cid = f"E-{uuid.uuid4().hex[:8]}"
    now = await today(env)
    start = now - relativedelta(months=8)
    with transaction(sessions) as s:
        # No end date: the next review (start + 12 months) is computed on registration.
        register(
            s,
            id=cid,
            owner=OWNER,
            start_date=start,
            end_date=None,
            term_model="evergreen",
            review_period_months=12,
            notice_period_days=30,
        )
        contract = s.get(ContractRow, cid)
        assert contract is not None and contract.end_date == start + relativedelta(months=12)
    await renewals.start_renewal(
        client, contract_id=cid, term=1, requested_by=OWNER, task_queue=task_queue
    )
    handle = renewals.renewal_handle(client, contract_id=cid, term=1)
    outcome = await result_of(env, handle)
    assert outcome.kind is OutcomeKind.ROLLED_OVER  # it continues by its nature
    assert outcome.new_end_date == start + relativedelta(months=24)
    assert "evergreen" in outcome.reason
    final = await handle.query(ContractRenewalWorkflow.status)
    # At the send-by date the owner hears that ending it at this review is no longer possible;
    # no non-renewal notice is drafted for a contract whose nature is to continue.
    assert any("continues after its review" in e for e in final.escalations)
    with transaction(sessions) as s:
        assert s.scalar(select(DraftRow).where(DraftRow.kind == "non_renewal_notice")) is None
    await client.get_workflow_handle(outcome.next_workflow_id or "").terminate("test over")
