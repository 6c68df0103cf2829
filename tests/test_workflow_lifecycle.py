"""ContractRenewalWorkflow on the time-skipping server: months pass in milliseconds."""

import asyncio
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from dateutil.relativedelta import relativedelta
from sqlalchemy import func, select
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from clients import renewals
from domain.milestones import next_term_end
from models.contract import ContractAmendment
from models.drafts import TermsEdit
from models.milestones import MilestoneKind, MilestoneState
from models.negotiation import SupplierAnswerKind
from models.renewal import (
    DraftKind,
    OutcomeKind,
    RenewalStage,
    ReviewDecisionKind,
    ReviewSubmission,
    TerminationRequest,
)
from models.tables import ContractRow, DraftRow, RenewalEventRow, ReviewDecisionRow
from store.db import SessionFactory, transaction
from tests.factories import add_deliveries, register
from tests.identity_helpers import SIGNED
from tests.negotiation_helpers import BUYER, agree, answer, edit_version, present
from tests.workflow_helpers import result_of, save_history, skip_past, today
from workflows.contract_renewal import ContractRenewalWorkflow

OWNER = "buyer@example.com"
LEGAL = "legal@example.com"


@pytest.fixture
def cid() -> str:
    # The test server lives for the whole session: each test gets its own workflow ids.
    return f"C-{uuid.uuid4().hex[:10]}"


async def _start(client: Client, task_queue: str, contract_id: str, term: int = 1):
    result = await renewals.start_renewal(
        client, contract_id=contract_id, term=term, requested_by=OWNER, task_queue=task_queue
    )
    return result, renewals.renewal_handle(client, contract_id=contract_id, term=term)


async def test_contract_walks_every_milestone_to_renewal(
    time_skipping_env: WorkflowEnvironment,
    client: Client,
    sessions: SessionFactory,
    renewal_worker: Worker,
    task_queue: str,
    cid: str,
) -> None:
    env = time_skipping_env
    now = await today(env)
    end = now + relativedelta(months=8)
    with transaction(sessions) as s:
        register(
            s,
            id=cid,
            start_date=now - relativedelta(months=16),
            end_date=end,
            notice_period_days=30,
        )
        add_deliveries(s, contract_id=cid, supplier_id="S-1", end=now, count=20, late_every=10)

    started, handle = await _start(client, task_queue, cid)
    assert started.created

    await skip_past(env, MilestoneKind.GATHER_FACTS, end_date=end, notice_period_days=30)
    status = await handle.query(ContractRenewalWorkflow.status)
    assert status.stage is RenewalStage.FACTS_GATHERED
    assert status.scorecard is not None and status.scorecard.total is not None
    assert [m.state for m in status.milestones][:2] == [MilestoneState.DONE, MilestoneState.PENDING]

    await skip_past(env, MilestoneKind.FIRST_DISCUSSION, end_date=end, notice_period_days=30)
    status = await handle.query(ContractRenewalWorkflow.status)
    assert status.stage is RenewalStage.LEGAL_REVIEW
    assert [d.version for d in status.drafts] == [1]

    v1 = status.drafts[0]
    changes = await renewals.submit_review(
        client,
        signer=SIGNED,
        contract_id=cid,
        term=1,
        submission=ReviewSubmission(
            decision=ReviewDecisionKind.REQUEST_CHANGES,
            reviewer="legal-a@example.com",
            draft_version=1,
            comment="Cap the price adjustment at 2 % and say so in clause 1.",
        ),
    )
    # Legal's comment is procurement's to answer: no version re-rendered on the same terms.
    assert changes.new_draft is None and changes.stage is RenewalStage.CHANGES_REQUESTED
    waiting = await handle.query(ContractRenewalWorkflow.negotiation)
    assert waiting.active and waiting.awaiting_revision == 1
    assert waiting.plan is not None and waiting.plan.term_for("unit_price") is not None

    # Procurement makes version 2 by editing the terms; its maker is procurement.
    assert v1.terms is not None
    v2 = await edit_version(
        handle,
        based_on=1,
        edit=TermsEdit(price_adjustment="CPI, at most 2 % per year", price_adjustment_cap_pct=2),
    )
    assert v2.version == 2 and v2.requested_by == BUYER and v2.terms is not None
    assert v2.terms["price_adjustment_cap_pct"] == "2"
    # The lawyer who asked for the change is the checker, not the maker: they may approve it.
    await renewals.submit_review(
        client,
        signer=SIGNED,
        contract_id=cid,
        term=1,
        submission=ReviewSubmission(
            decision=ReviewDecisionKind.APPROVE,
            reviewer="legal-a@example.com",
            draft_version=2,
            content_hash=v2.content_hash,
        ),
    )
    on = await today(env)
    await present(handle, v2, on=on)
    # The supplier counters with a higher price: its terms are version 3, for legal again.
    countered = await answer(
        handle,
        v2,
        SupplierAnswerKind.COUNTERED,
        on=on,
        counter=TermsEdit(unit_price=Decimal(v1.terms["unit_price"]) + Decimal("25")),
        note="Supplier asks for +25 on the unit price to cover freight.",
    )
    v3 = countered.drafts[-1]
    assert v3.version == 3 and countered.stage is RenewalStage.LEGAL_REVIEW
    assert v3.terms is not None and v3.terms["price_adjustment_cap_pct"] == "2"
    # The person who entered the counter-offer made version 3: they cannot approve it.
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await renewals.submit_review(
            client,
            signer=SIGNED,
            contract_id=cid,
            term=1,
            submission=ReviewSubmission(
                decision=ReviewDecisionKind.APPROVE, reviewer=BUYER, draft_version=3
            ),
        )
    assert "segregation of duties" in str(refused.value.cause)
    approved = await renewals.submit_review(
        client,
        signer=SIGNED,
        contract_id=cid,
        term=1,
        submission=ReviewSubmission(
            decision=ReviewDecisionKind.APPROVE,
            reviewer="legal-b@example.com",
            draft_version=3,
            content_hash=v3.content_hash,
        ),
    )
    assert approved.stage is RenewalStage.APPROVED
    agreed = await agree(handle, v3, on=await today(env))
    assert agreed.stage is RenewalStage.AGREED
    view = await handle.query(ContractRenewalWorkflow.negotiation)
    assert view.state.agreed is not None and view.state.agreed.version == 3
    assert view.state.agreed.content_hash == v3.content_hash

    outcome = await result_of(env, handle)
    assert outcome.kind is OutcomeKind.RENEWED
    assert outcome.approved_version == 3
    assert outcome.new_end_date == next_term_end(end, 12)
    assert outcome.next_workflow_id == f"renewal/{cid}/term-2"

    final = await handle.query(ContractRenewalWorkflow.status)
    assert [m.state for m in final.milestones] == [MilestoneState.DONE] * 4
    with transaction(sessions) as s:
        contract = s.get(ContractRow, cid)
        assert contract is not None
        assert contract.end_date == next_term_end(end, 12)
        assert contract.current_term == 2
        drafts = s.scalars(select(DraftRow).order_by(DraftRow.version)).all()
        assert [(d.kind, d.version) for d in drafts] == [
            ("renegotiation", 1),
            ("renegotiation", 2),
            ("renegotiation", 3),
        ]
        assert [d.requested_by for d in drafts[1:]] == [BUYER, BUYER]
        assert "Cap the price adjustment at 2 %" in drafts[1].body
        assert "freight" in drafts[2].body
        # The version approved and accepted is the contract's terms for term 2.
        terms = drafts[2].proposed_terms
        assert contract.unit_price == Decimal(terms["unit_price"])
        assert contract.unit_price == Decimal(v1.terms["unit_price"]) + Decimal("25")
        assert contract.price_adjustment == terms["price_adjustment"]
        assert contract.price_adjustment_cap_pct == Decimal("2")  # legal's change, agreed
        assert contract.notice_period_days == terms["notice_period_days"]
        assert s.scalar(select(func.count()).select_from(ReviewDecisionRow)) == 3
        kinds = set(s.scalars(select(RenewalEventRow.kind)))
        assert {
            "negotiation_plan",
            "changes_requested",
            "approved",
            "offer_presented",
            "supplier_answered",
            "final_terms_issued",
            "outcome",
        } <= kinds

    next_term = client.get_workflow_handle(outcome.next_workflow_id)
    assert (await next_term.describe()).status == WorkflowExecutionStatus.RUNNING
    await next_term.terminate("test over")
    await save_history(handle, "contract_walks_every_milestone_to_renewal")


async def test_expiry_without_approval_drafts_interim_extension(
    time_skipping_env: WorkflowEnvironment,
    client: Client,
    sessions: SessionFactory,
    renewal_worker: Worker,
    task_queue: str,
    cid: str,
) -> None:
    now = await today(time_skipping_env)
    end = now + relativedelta(months=7)
    with transaction(sessions) as s:
        register(s, id=cid, start_date=now - relativedelta(months=5), end_date=end, language="ja")

    _, handle = await _start(client, task_queue, cid)
    await time_skipping_env.sleep(end + timedelta(days=2) - now)
    status = await handle.query(ContractRenewalWorkflow.status)
    for _ in range(200):
        if status.lapsed_on is not None and len(status.escalations) >= 3:
            break
        await asyncio.sleep(0.05)
        status = await handle.query(ContractRenewalWorkflow.status)
    # The review waited 2 x 5 business days, then nothing was approved at final terms, and the
    # fixed term lapsed at expiry: no extension is recorded that nobody approved.
    assert [e.split(" ")[0] for e in status.escalations][:3] == ["draft", "no", "the"]
    assert "10 business days" in status.escalations[0]
    assert status.outcome is None and status.lapsed_on == end
    interim_ref = status.drafts[-1]
    assert interim_ref.kind is DraftKind.INTERIM_EXTENSION and interim_ref.version == 2
    with transaction(sessions) as s:
        interim = s.scalar(select(DraftRow).where(DraftRow.kind == "interim_extension"))
        assert interim is not None and "暫定契約" in interim.body
        assert s.get(ContractRow, cid).current_term == 1  # type: ignore[union-attr]

    # The interim extension is a version like any other: legal approves it and the supplier
    # accepts it, then it holds (approved alone is not agreed).
    await renewals.submit_review(
        client,
        signer=SIGNED,
        contract_id=cid,
        term=1,
        submission=ReviewSubmission(
            decision=ReviewDecisionKind.APPROVE, reviewer=LEGAL, draft_version=2
        ),
    )
    still = await handle.query(ContractRenewalWorkflow.status)
    assert still.outcome is None and still.stage is RenewalStage.LAPSED
    await agree(handle, interim_ref, on=await today(time_skipping_env))
    outcome = await result_of(time_skipping_env, handle)
    assert outcome.kind is OutcomeKind.INTERIM_EXTENSION
    assert outcome.new_end_date == end + relativedelta(months=3)
    with transaction(sessions) as s:
        assert s.get(ContractRow, cid).current_term == 2  # type: ignore[union-attr]
    await client.get_workflow_handle(outcome.next_workflow_id or "").terminate("test over")
    await save_history(handle, "expiry_without_approval_drafts_interim_extension")


async def test_termination_ends_the_chain(
    time_skipping_env: WorkflowEnvironment,
    client: Client,
    sessions: SessionFactory,
    renewal_worker: Worker,
    task_queue: str,
    cid: str,
) -> None:
    now = await today(time_skipping_env)
    end = now + relativedelta(months=9)
    with transaction(sessions) as s:
        register(s, id=cid, start_date=now - relativedelta(months=3), end_date=end)

    _, handle = await _start(client, task_queue, cid)
    await skip_past(
        time_skipping_env, MilestoneKind.GATHER_FACTS, end_date=end, notice_period_days=30
    )
    status = await renewals.terminate_renewal(
        client,
        signer=SIGNED,
        contract_id=cid,
        term=1,
        request=TerminationRequest(requested_by=OWNER, reason="Supplier is exiting the market"),
    )
    assert status.stage is RenewalStage.TERMINATION_PENDING

    outcome = await result_of(time_skipping_env, handle)
    assert outcome.kind is OutcomeKind.TERMINATED
    assert outcome.next_workflow_id is None
    final = await handle.query(ContractRenewalWorkflow.status)
    states = {m.kind: m.state for m in final.milestones}
    assert states[MilestoneKind.GATHER_FACTS] is MilestoneState.DONE
    assert states[MilestoneKind.FIRST_DISCUSSION] is MilestoneState.SKIPPED
    assert states[MilestoneKind.EXPIRY] is MilestoneState.DONE
    with transaction(sessions) as s:
        assert s.get(ContractRow, cid).status == "terminated"  # type: ignore[union-attr]
        assert s.scalar(select(func.count()).select_from(DraftRow)) == 0
    await save_history(handle, "termination_ends_the_chain")


async def test_late_registration_runs_overdue_milestones_at_once(
    time_skipping_env: WorkflowEnvironment,
    client: Client,
    sessions: SessionFactory,
    renewal_worker: Worker,
    task_queue: str,
    cid: str,
) -> None:
    now = await today(time_skipping_env)
    end = now + relativedelta(months=2)  # inside the 6- and 3-month windows already
    with transaction(sessions) as s:
        register(
            s, id=cid, start_date=now - relativedelta(months=10), end_date=end, notice_period_days=0
        )

    _, handle = await _start(client, task_queue, cid)
    for _ in range(600):  # up to 30 s: CI machines are small and busy
        status = await handle.query(ContractRenewalWorkflow.status)
        states = {m.kind: m.state for m in status.milestones}
        if states.get(MilestoneKind.FIRST_DISCUSSION, MilestoneState.PENDING) is not (
            MilestoneState.PENDING
        ):
            break
        await asyncio.sleep(0.05)
    assert states[MilestoneKind.GATHER_FACTS] is MilestoneState.DONE_LATE
    assert states[MilestoneKind.FIRST_DISCUSSION] is MilestoneState.DONE_LATE
    assert states[MilestoneKind.FINAL_TERMS] is MilestoneState.PENDING
    assert status.stage is RenewalStage.LEGAL_REVIEW
    await handle.terminate("test over")
    await save_history(handle, "late_registration_runs_overdue_milestones_at_once")


async def test_already_expired_contract_goes_straight_to_expiry(
    time_skipping_env: WorkflowEnvironment,
    client: Client,
    sessions: SessionFactory,
    renewal_worker: Worker,
    task_queue: str,
    cid: str,
) -> None:
    now = await today(time_skipping_env)
    with transaction(sessions) as s:
        register(
            s, id=cid, start_date=now - relativedelta(years=1), end_date=now - timedelta(days=3)
        )

    _, handle = await _start(client, task_queue, cid)
    status = await handle.query(ContractRenewalWorkflow.status)
    for _ in range(200):
        if status.lapsed_on is not None and status.milestones[-1].state is not (
            MilestoneState.PENDING
        ):
            break
        await asyncio.sleep(0.05)
        status = await handle.query(ContractRenewalWorkflow.status)
    # A fixed term registered after its end date lapsed at once (renewal-semantics.md §5).
    assert status.lapsed_on == now - timedelta(days=3)
    assert [m.state for m in status.milestones] == [MilestoneState.SKIPPED] * 3 + [
        MilestoneState.DONE_LATE
    ]
    await handle.terminate("test over")
    await save_history(handle, "already_expired_contract_goes_straight_to_expiry")


async def test_amendment_mid_flight_replans_remaining_timers(
    time_skipping_env: WorkflowEnvironment,
    client: Client,
    sessions: SessionFactory,
    renewal_worker: Worker,
    task_queue: str,
    cid: str,
) -> None:
    env = time_skipping_env
    now = await today(env)
    end = now + relativedelta(months=8)
    with transaction(sessions) as s:
        register(
            s, id=cid, start_date=now - relativedelta(months=4), end_date=end, notice_period_days=30
        )

    _, handle = await _start(client, task_queue, cid)
    await skip_past(env, MilestoneKind.GATHER_FACTS, end_date=end, notice_period_days=30)
    before = await handle.query(ContractRenewalWorkflow.status)

    new_end = end + relativedelta(months=6)
    status = await renewals.amend_renewal(
        client,
        signer=SIGNED,
        contract_id=cid,
        term=1,
        amendment=ContractAmendment(end_date=new_end, notice_period_days=90, amended_by=OWNER),
    )
    assert status.end_date == new_end
    due_before = {m.kind: m.due for m in before.milestones}
    due_after = {m.kind: m.due for m in status.milestones}
    assert due_after[MilestoneKind.EXPIRY] == new_end
    # The notice binds: final terms on the send-by date, which is on or before the deadline.
    assert status.notice_deadline is not None and status.send_by is not None
    assert status.notice_deadline <= new_end - timedelta(days=90)
    assert due_after[MilestoneKind.FINAL_TERMS] == status.send_by < status.notice_deadline
    assert due_after[MilestoneKind.FIRST_DISCUSSION] > due_before[MilestoneKind.FIRST_DISCUSSION]
    # The 6-month milestone already ran and is not run again.
    assert {m.kind: m.state for m in status.milestones}[MilestoneKind.GATHER_FACTS] is (
        MilestoneState.DONE
    )

    # Past the old first-discussion date nothing has fired; the new timer fires on the new date.
    await skip_past(env, MilestoneKind.FIRST_DISCUSSION, end_date=end, notice_period_days=30)
    assert not (await handle.query(ContractRenewalWorkflow.status)).drafts
    await skip_past(env, MilestoneKind.FIRST_DISCUSSION, end_date=new_end, notice_period_days=90)
    assert len((await handle.query(ContractRenewalWorkflow.status)).drafts) == 1
    with transaction(sessions) as s:
        assert s.get(ContractRow, cid).end_date == new_end  # type: ignore[union-attr]
    await handle.terminate("test over")
    await save_history(handle, "amendment_mid_flight_replans_remaining_timers")


async def test_duplicate_start_is_a_no_op(
    time_skipping_env: WorkflowEnvironment,
    client: Client,
    sessions: SessionFactory,
    renewal_worker: Worker,
    task_queue: str,
    cid: str,
) -> None:
    now = await today(time_skipping_env)
    with transaction(sessions) as s:
        register(
            s,
            id=cid,
            start_date=now - relativedelta(months=3),
            end_date=now + relativedelta(months=9),
        )

    first, handle = await _start(client, task_queue, cid)
    second, _ = await _start(client, task_queue, cid)
    both = await asyncio.gather(_start(client, task_queue, cid), _start(client, task_queue, cid))
    assert first.created and not second.created
    assert second.run_id == first.run_id
    assert all(not r.created and r.run_id == first.run_id for r, _ in both)
    await handle.terminate("test over")
    await save_history(handle, "duplicate_start_is_a_no_op")


async def test_review_update_rejected_by_validator(
    time_skipping_env: WorkflowEnvironment,
    client: Client,
    sessions: SessionFactory,
    renewal_worker: Worker,
    task_queue: str,
    cid: str,
) -> None:
    now = await today(time_skipping_env)
    end = now + relativedelta(months=2)
    with transaction(sessions) as s:
        register(
            s, id=cid, start_date=now - relativedelta(months=10), end_date=end, notice_period_days=0
        )

    _, handle = await _start(client, task_queue, cid)
    for _ in range(600):  # up to 30 s: CI machines are small and busy
        if (await handle.query(ContractRenewalWorkflow.status)).drafts:
            break
        await asyncio.sleep(0.05)

    async def review(**kw: object) -> None:
        await renewals.submit_review(
            client,
            signer=SIGNED,
            contract_id=cid,
            term=1,
            submission=ReviewSubmission.model_validate(kw),
        )

    cases = [
        (
            {"decision": "approve", "reviewer": "legal@example.com", "draft_version": 7},
            "draft_version",
        ),
        (
            {
                "decision": "approve",
                "reviewer": "legal@example.com",
                "draft_version": 1,
                "content_hash": "0" * 64,
            },
            "content_hash",
        ),
        ({"decision": "approve", "reviewer": OWNER, "draft_version": 1}, "segregation of duties"),
        ({"decision": "reject", "reviewer": "legal@example.com", "draft_version": 1}, "comment"),
    ]
    for submission, expected in cases:
        with pytest.raises(WorkflowUpdateFailedError) as err:
            await review(**submission)
        assert expected in str(err.value.cause), submission

    # Rejected updates leave no trace in the history or the database.
    status = await handle.query(ContractRenewalWorkflow.status)
    assert status.decisions == () and status.stage is RenewalStage.LEGAL_REVIEW
    with transaction(sessions) as s:
        assert s.scalar(select(func.count()).select_from(ReviewDecisionRow)) == 0
    await handle.terminate("test over")
    await save_history(handle, "review_update_rejected_by_validator")
