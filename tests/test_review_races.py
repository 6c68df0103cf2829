"""Review decisions that arrive twice or together are applied once."""

import asyncio
import uuid

from dateutil.relativedelta import relativedelta
from sqlalchemy import func, select
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from clients import renewals
from models.renewal import RenewalStage, ReviewDecisionKind, ReviewResult, ReviewSubmission
from models.tables import ReviewDecisionRow
from store.db import SessionFactory, transaction
from tests.factories import register
from tests.identity_helpers import SIGNED
from tests.workflow_helpers import today
from workflows.contract_renewal import ContractRenewalWorkflow

OWNER = "buyer@example.com"


async def _renewal_in_review(
    env: WorkflowEnvironment, client: Client, sessions: SessionFactory, task_queue: str
) -> str:
    cid = f"C-{uuid.uuid4().hex[:10]}"
    now = await today(env)
    with transaction(sessions) as s:
        # Registered inside the 3-month window: the first draft is made at once.
        register(
            s,
            id=cid,
            start_date=now - relativedelta(months=10),
            end_date=now + relativedelta(months=2),
            notice_period_days=0,
        )
    await renewals.start_renewal(
        client, contract_id=cid, term=1, requested_by=OWNER, task_queue=task_queue
    )
    handle = renewals.renewal_handle(client, contract_id=cid, term=1)
    for _ in range(600):  # up to 30 s: CI machines are small and busy
        if (await handle.query(ContractRenewalWorkflow.status)).drafts:
            return cid
        await asyncio.sleep(0.05)
    raise AssertionError("no draft was made")


async def test_same_decision_sent_twice_is_applied_once(
    time_skipping_env: WorkflowEnvironment,
    client: Client,
    sessions: SessionFactory,
    renewal_worker: Worker,
    task_queue: str,
) -> None:
    cid = await _renewal_in_review(time_skipping_env, client, sessions, task_queue)
    submission = ReviewSubmission(
        decision=ReviewDecisionKind.APPROVE, reviewer="legal@example.com", draft_version=1
    )
    first = await renewals.submit_review(
        client,
        signer=SIGNED,
        contract_id=cid,
        term=1,
        submission=submission,
        request_id="form-post-42",
    )
    again = await renewals.submit_review(
        client,
        signer=SIGNED,
        contract_id=cid,
        term=1,
        submission=submission,
        request_id="form-post-42",
    )
    assert again == first
    status = await renewals.get_status(client, contract_id=cid, term=1)
    assert len(status.decisions) == 1 and status.stage is RenewalStage.APPROVED
    with transaction(sessions) as s:
        assert s.scalar(select(func.count()).select_from(ReviewDecisionRow)) == 1
    await renewals.renewal_handle(client, contract_id=cid, term=1).terminate("test over")


async def test_approve_and_reject_together_one_wins(
    time_skipping_env: WorkflowEnvironment,
    client: Client,
    sessions: SessionFactory,
    renewal_worker: Worker,
    task_queue: str,
) -> None:
    cid = await _renewal_in_review(time_skipping_env, client, sessions, task_queue)
    approve = ReviewSubmission(
        decision=ReviewDecisionKind.APPROVE, reviewer="legal-a@example.com", draft_version=1
    )
    reject = ReviewSubmission(
        decision=ReviewDecisionKind.REJECT,
        reviewer="legal-b@example.com",
        draft_version=1,
        comment="Liability cap missing",
    )
    results = await asyncio.gather(
        renewals.submit_review(client, signer=SIGNED, contract_id=cid, term=1, submission=approve),
        renewals.submit_review(client, signer=SIGNED, contract_id=cid, term=1, submission=reject),
        return_exceptions=True,
    )
    wins = [r for r in results if isinstance(r, ReviewResult)]
    losses = [r for r in results if isinstance(r, WorkflowUpdateFailedError)]
    assert len(wins) == 1 and len(losses) == 1, results
    message = str(losses[0].cause)
    assert "already approved" in message or "was rejected" in message, message
    status = await renewals.get_status(client, contract_id=cid, term=1)
    assert len(status.decisions) == 1
    with transaction(sessions) as s:
        assert s.scalar(select(func.count()).select_from(ReviewDecisionRow)) == 1
    await renewals.renewal_handle(client, contract_id=cid, term=1).terminate("test over")
