"""The negotiation on the time-skipping server (renewal-semantics.md §2, §3, §6): what a version
made by a person, an offer, a supplier's answer and an amendment do to a running renewal, and
the bad input each refuses with nothing stored. The whole loop (v1 -> changes -> v2 -> offer ->
counter-offer -> v3 -> agreed -> renewed on v3) is tests/test_workflow_lifecycle.py's first test.
"""

import asyncio
import uuid
from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from dateutil.relativedelta import relativedelta
from sqlalchemy import func, select
from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from clients import renewals
from domain.term_plan import CalendarSettings
from models.contract import ContractAmendment
from models.drafts import TermsEdit
from models.milestones import MilestoneKind, RenewalPolicy
from models.negotiation import AnswerRecord, SupplierAnswerKind
from models.renewal import (
    AmendmentRequest,
    DraftRef,
    OutcomeKind,
    RenewalStage,
    RenewalStatus,
    ReviewDecisionKind,
    ReviewSubmission,
)
from models.tables import ContractRow, DraftRow, RenewalEventRow
from store.db import SessionFactory, transaction
from store.reads import reviews as review_reads
from tests.factories import register
from tests.identity_helpers import SIGNED
from tests.negotiation_helpers import (
    BUYER,
    agree,
    answer,
    edit_version,
    present,
    signed,
)
from tests.workflow_helpers import result_of, save_history, skip_past, today
from workflows.contract_renewal import ContractRenewalWorkflow

LAWYER = "legal@example.com"


@pytest.fixture
def cid() -> str:
    return f"C-{uuid.uuid4().hex[:10]}"


async def _started(
    env: WorkflowEnvironment,
    client: Client,
    sessions: SessionFactory,
    task_queue: str,
    cid: str,
    *,
    months: int = 8,
    **contract: Any,
) -> tuple[WorkflowHandle[Any, Any], date, DraftRef]:
    """A renewal whose v1 is in legal review (the first discussion has run)."""
    now = await today(env)
    end = now + relativedelta(months=months)
    with transaction(sessions) as s:
        register(s, id=cid, start_date=now - relativedelta(months=16), end_date=end, **contract)
    await renewals.start_renewal(
        client, contract_id=cid, term=1, requested_by=BUYER, task_queue=task_queue
    )
    handle = renewals.renewal_handle(client, contract_id=cid, term=1)
    await skip_past(env, MilestoneKind.FIRST_DISCUSSION, end_date=end, notice_period_days=30)
    status = await _until(handle, lambda st: bool(st.drafts))
    return handle, end, status.drafts[-1]


async def _until(
    handle: WorkflowHandle[Any, Any], ready: Callable[[RenewalStatus], bool]
) -> RenewalStatus:
    status: RenewalStatus = await handle.query(ContractRenewalWorkflow.status)
    for _ in range(200):
        if ready(status):
            return status
        await asyncio.sleep(0.05)
        status = await handle.query(ContractRenewalWorkflow.status)
    raise AssertionError(f"not reached: {status}")


async def _decide(
    client: Client,
    cid: str,
    draft: DraftRef,
    decision: ReviewDecisionKind = ReviewDecisionKind.APPROVE,
    *,
    reviewer: str = LAWYER,
    comment: str = "",
) -> None:
    await renewals.submit_review(
        client,
        signer=SIGNED,
        contract_id=cid,
        term=1,
        submission=ReviewSubmission(
            decision=decision,
            reviewer=reviewer,
            draft_version=draft.version,
            content_hash=draft.content_hash,
            comment=comment,
        ),
    )


def _refusal(caught: pytest.ExceptionInfo[WorkflowUpdateFailedError]) -> ApplicationError:
    cause = caught.value.cause
    assert isinstance(cause, ApplicationError), cause
    return cause


def _fields(cause: ApplicationError) -> dict[str, str]:
    details = cause.details[0] if cause.details else []
    return {d["field"]: d["reason"] for d in details}


def _drafts_stored(sessions: SessionFactory) -> int:
    with transaction(sessions) as s:
        return s.scalar(select(func.count()).select_from(DraftRow)) or 0


async def test_request_changes_waits_for_procurement_and_never_repeats_the_terms(
    time_skipping_env: WorkflowEnvironment,
    client: Client,
    sessions: SessionFactory,
    renewal_worker: Worker,
    task_queue: str,
    cid: str,
) -> None:
    env = time_skipping_env
    handle, _, v1 = await _started(env, client, sessions, task_queue, cid)
    await _decide(
        client, cid, v1, ReviewDecisionKind.REQUEST_CHANGES, comment="Cap the adjustment at 2 %."
    )
    # Waiting: no new version, legal cannot decide v1 again, procurement is reminded.
    status = await handle.query(ContractRenewalWorkflow.status)
    assert [d.version for d in status.drafts] == [1]
    assert status.stage is RenewalStage.CHANGES_REQUESTED
    with pytest.raises(WorkflowUpdateFailedError) as caught:
        await _decide(client, cid, v1)
    assert "waits for procurement's next version" in str(_refusal(caught))
    await env.sleep(timedelta(days=9))
    with transaction(sessions) as s:
        kinds = list(s.scalars(select(RenewalEventRow.kind)))
    assert "changes_requested" in kinds
    assert _drafts_stored(sessions) == 1


@pytest.mark.parametrize(
    ("edit", "field", "words"),
    [
        (TermsEdit(unit_price=Decimal("-1")), "unit_price", "greater than 0"),
        (TermsEdit(currency="ZZZ"), "currency", "unknown currency"),
        (TermsEdit(notice_period_days=400), "notice_period_days", "longer than the term"),
        (TermsEdit(), "terms", "changes nothing"),
    ],
)
async def test_bad_edits_are_refused_with_the_field_and_nothing_is_stored(
    time_skipping_env: WorkflowEnvironment,
    client: Client,
    sessions: SessionFactory,
    renewal_worker: Worker,
    task_queue: str,
    cid: str,
    edit: TermsEdit,
    field: str,
    words: str,
) -> None:
    handle, _, v1 = await _started(time_skipping_env, client, sessions, task_queue, cid)
    await _decide(client, cid, v1, ReviewDecisionKind.REQUEST_CHANGES, comment="Revise.")
    with pytest.raises(WorkflowUpdateFailedError) as caught:
        await edit_version(handle, based_on=1, edit=edit)
    cause = _refusal(caught)
    assert cause.type == "InvalidVersion"
    assert words in _fields(cause)[field], cause
    # A stale form (made on another version) is refused too, as a conflict.
    with pytest.raises(WorkflowUpdateFailedError) as stale:
        await edit_version(handle, based_on=2, edit=TermsEdit(unit_price=Decimal("1200")))
    assert _refusal(stale).type == "VersionConflict"
    status = await handle.query(ContractRenewalWorkflow.status)
    assert [d.version for d in status.drafts] == [1] and _drafts_stored(sessions) == 1


async def test_answers_need_a_presented_current_version(
    time_skipping_env: WorkflowEnvironment,
    client: Client,
    sessions: SessionFactory,
    renewal_worker: Worker,
    task_queue: str,
    cid: str,
) -> None:
    env = time_skipping_env
    handle, _, v1 = await _started(env, client, sessions, task_queue, cid)
    on = await today(env)
    # Not approved: it cannot be presented.
    with pytest.raises(WorkflowUpdateFailedError) as caught:
        await present(handle, v1, on=on)
    assert "legal has not approved it" in _fields(_refusal(caught))["draft_version"]
    await _decide(client, cid, v1)
    # Approved, never presented: no answer can be recorded.
    with pytest.raises(WorkflowUpdateFailedError) as caught:
        await answer(handle, v1, SupplierAnswerKind.ACCEPTED, on=on)
    refused = _refusal(caught)
    assert refused.type == "InvalidAnswer"
    assert "never presented" in _fields(refused)["draft_version"]
    await present(handle, v1, on=on)
    with pytest.raises(WorkflowUpdateFailedError) as caught:  # once per approval
        await present(handle, v1, on=on, by="other@example.com")
    assert "was presented on" in _fields(_refusal(caught))["draft_version"]
    # A counter-offer without its terms, an acceptance without evidence: refused by field.
    with pytest.raises(WorkflowUpdateFailedError) as caught:
        await answer(handle, v1, SupplierAnswerKind.COUNTERED, on=on)
    assert "needs its terms" in _fields(_refusal(caught))["counter_terms"]
    bare = AnswerRecord(
        draft_version=1,
        answer=SupplierAnswerKind.ACCEPTED,
        answered_on=on,
        recorded_by=BUYER,
        content_hash=v1.content_hash,
    )
    with pytest.raises(WorkflowUpdateFailedError) as caught:
        await signed(
            handle,
            ContractRenewalWorkflow.record_answer,
            bare,
            action="record_answer",
            draft_version=1,
            content_hash=v1.content_hash,
        )
    assert "who signed or confirmed" in _fields(_refusal(caught))["confirmed_by"]
    with pytest.raises(WorkflowUpdateFailedError) as caught:
        await answer(handle, v1, SupplierAnswerKind.DECLINED, on=on + timedelta(days=3))
    assert "in the future" in _fields(_refusal(caught))["answered_on"]
    # The supplier counters: v2 supersedes v1, and v1 can no longer be accepted.
    countered = await answer(
        handle,
        v1,
        SupplierAnswerKind.COUNTERED,
        on=on,
        counter=TermsEdit(term_months=24),
        note="Two years, same price.",
    )
    v2 = countered.drafts[-1]
    assert v2.version == 2 and v2.requested_by == BUYER
    assert v2.terms is not None and v2.terms["term_months"] == 24
    with pytest.raises(WorkflowUpdateFailedError) as caught:
        await answer(handle, v1, SupplierAnswerKind.ACCEPTED, on=on)
    assert "superseded by version 2" in _fields(_refusal(caught))["draft_version"]
    view = await handle.query(ContractRenewalWorkflow.negotiation)
    assert [e.kind for e in view.events] == ["approved", "presented", "answered", "superseded"]
    assert view.state.agreed is None
    await handle.terminate("test over")
    await save_history(handle, "answers_need_a_presented_current_version")


async def test_approved_alone_is_not_renewed_and_final_terms_escalate(
    time_skipping_env: WorkflowEnvironment,
    client: Client,
    sessions: SessionFactory,
    renewal_worker: Worker,
    task_queue: str,
    cid: str,
) -> None:
    env = time_skipping_env
    handle, end, v1 = await _started(env, client, sessions, task_queue, cid)
    await _decide(client, cid, v1)
    await skip_past(env, MilestoneKind.FINAL_TERMS, end_date=end, notice_period_days=30)
    status = await _until(handle, lambda st: bool(st.escalations))
    assert "no version is both approved by legal and presented" in status.escalations[-1]
    # Presented after the milestone: the supplier's silence escalates again.
    await present(handle, v1, on=await today(env))
    await env.sleep(timedelta(days=9))
    status = await _until(handle, lambda st: len(st.escalations) >= 2)
    assert "has not answered" in status.escalations[-1]
    # At the end date nothing is agreed: a fixed term lapses; the approved terms are not
    # written into the contract.
    await env.sleep(end + timedelta(days=2) - await today(env))
    status = await _until(handle, lambda st: st.lapsed_on is not None)
    assert status.outcome is None and status.stage is RenewalStage.LAPSED
    with transaction(sessions) as s:
        row = s.get(ContractRow, cid)
        assert row is not None and row.current_term == 1 and row.end_date == end
    await handle.terminate("test over")
    await save_history(handle, "approved_alone_is_not_renewed_and_final_terms_escalate")


async def test_declined_goes_back_to_the_recommendation_and_a_new_version_may_follow(
    time_skipping_env: WorkflowEnvironment,
    client: Client,
    sessions: SessionFactory,
    renewal_worker: Worker,
    task_queue: str,
    cid: str,
) -> None:
    env = time_skipping_env
    handle, _, v1 = await _started(env, client, sessions, task_queue, cid)
    await _decide(client, cid, v1)
    on = await today(env)
    await present(handle, v1, on=on)
    status = await answer(
        handle, v1, SupplierAnswerKind.DECLINED, on=on, note="Price too low for us."
    )
    assert "the supplier declined version 1 (Price too low for us.)" in status.escalations[-1]
    assert "back to the recommendation" in status.escalations[-1]
    v2 = await edit_version(handle, based_on=1, edit=TermsEdit(unit_price=Decimal("1300")))
    assert v2.version == 2
    await handle.terminate("test over")
    await save_history(handle, "declined_goes_back_to_the_recommendation")


async def test_an_amendment_after_approval_withdraws_the_contradicted_approval(
    time_skipping_env: WorkflowEnvironment,
    client: Client,
    sessions: SessionFactory,
    renewal_worker: Worker,
    task_queue: str,
    cid: str,
) -> None:
    env = time_skipping_env
    handle, end, v1 = await _started(env, client, sessions, task_queue, cid)
    await _decide(client, cid, v1)
    on = await today(env)
    await present(handle, v1, on=on)
    new_end = end + relativedelta(months=5)
    amendment = AmendmentRequest(
        amendment=ContractAmendment(
            end_date=new_end,
            notice_period_days=90,
            amended_by=BUYER,
            reason="supplier's letter of 1 May",
        )
    )
    await signed(handle, ContractRenewalWorkflow.amend, amendment, action="amend")
    status = await handle.query(ContractRenewalWorkflow.status)
    assert status.stage is RenewalStage.LEGAL_REVIEW and status.end_date == new_end
    view = await handle.query(ContractRenewalWorkflow.negotiation)
    withdrawn = view.events[-1]
    assert withdrawn.kind == "approval_withdrawn"
    assert "notice" in withdrawn.reason and "supplier's letter" in withdrawn.reason
    v1_state = view.state.status(1)
    assert v1_state is not None and v1_state.withdrawn and v1_state.presented_on is None
    # The version is back in legal's queue, and its withdrawn offer cannot be answered.
    with transaction(sessions) as s:
        queue, _ = review_reads.review_queue(
            s, today=on, policy=RenewalPolicy(), cfg=CalendarSettings()
        )
    assert [(q.contract_id, q.version) for q in queue if q.contract_id == cid] == [(cid, 1)]
    with pytest.raises(WorkflowUpdateFailedError) as caught:
        await answer(handle, v1, SupplierAnswerKind.ACCEPTED, on=on)
    assert "withdrawn" in _fields(_refusal(caught))["draft_version"]
    # Approving it again unchanged would agree on an end date the contract no longer gives.
    with pytest.raises(WorkflowUpdateFailedError) as caught:
        await _decide(client, cid, v1)
    assert f"its term ends on {(new_end + relativedelta(months=12)).isoformat()}" in str(
        _refusal(caught)
    )
    await _decide(
        client, cid, v1, ReviewDecisionKind.REQUEST_CHANGES, comment="Follow the amendment."
    )
    v2 = await edit_version(handle, based_on=1, edit=TermsEdit(notice_period_days=90))
    assert v2.terms is not None
    assert v2.terms["new_end_date"] == (new_end + relativedelta(months=12)).isoformat()
    await _decide(client, cid, v2)
    await agree(handle, v2, on=await today(env))
    # Once agreed, an amendment that contradicts the agreement is refused.
    later = AmendmentRequest(
        amendment=ContractAmendment(notice_period_days=60, amended_by=BUYER, reason="again")
    )
    with pytest.raises(WorkflowUpdateFailedError) as caught:
        await signed(handle, ContractRenewalWorkflow.amend, later, action="amend")
    refused = _refusal(caught)
    assert refused.type == "InvalidAmendment" and "accepted" in str(refused)
    outcome = await result_of(env, handle)
    assert outcome.kind is OutcomeKind.RENEWED and outcome.approved_version == 2
    assert outcome.new_end_date == new_end + relativedelta(months=12)
    with transaction(sessions) as s:
        row = s.get(ContractRow, cid)
        assert row is not None and row.notice_period_days == 90
    await client.get_workflow_handle(outcome.next_workflow_id or "").terminate("test over")
    await save_history(handle, "an_amendment_after_approval_withdraws_the_contradicted_approval")


async def test_a_tampered_agreed_version_is_refused_and_escalated(
    time_skipping_env: WorkflowEnvironment,
    client: Client,
    sessions: SessionFactory,
    renewal_worker: Worker,
    task_queue: str,
    cid: str,
) -> None:
    env = time_skipping_env
    handle, end, v1 = await _started(env, client, sessions, task_queue, cid)
    await _decide(client, cid, v1)
    await agree(handle, v1, on=await today(env))
    # Someone edits the agreed price in the database: the hash column is left as it was.
    with transaction(sessions) as s:
        row = s.scalar(select(DraftRow).where(DraftRow.version == 1))
        assert row is not None
        row.proposed_terms = {**row.proposed_terms, "unit_price": "1.00"}
    await env.sleep(end + timedelta(days=2) - await today(env))
    status = await _until(handle, lambda st: st.lapsed_on is not None)
    refused = [e for e in status.escalations if "not put into force" in e]
    assert refused and "version 1 was approved and accepted" in refused[0]
    # Said by the refusal's type (Conflict), not by the activity's technical message.
    assert "the stored version changed after its approval" in refused[0], refused
    assert "content_hash" not in refused[0] and "hashes to" not in refused[0], refused
    assert status.outcome is None and status.stage is RenewalStage.LAPSED
    with transaction(sessions) as s:
        contract = s.get(ContractRow, cid)
        assert contract is not None
        assert contract.unit_price == Decimal("1250.50") and contract.current_term == 1
    await handle.terminate("test over")
    await save_history(handle, "a_tampered_agreed_version_is_refused_and_escalated")
