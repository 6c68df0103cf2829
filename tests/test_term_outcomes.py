"""Golden workflow tests of renewal-semantics.md §4 (one per row of the outcome table) and §5
(catch-up of late registration), on the time-skipping server: the recorded outcome, the new end
date (or none), renewals_used, the versions drafted and the escalations."""

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import pytest
import pytest_asyncio
from dateutil.relativedelta import relativedelta
from sqlalchemy import func, select
from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from clients import renewals
from models.milestones import MilestoneKind, MilestoneState
from models.notices import DispatchChannel, NoticeDispatch
from models.renewal import (
    DraftKind,
    OutcomeKind,
    RedraftRequest,
    RenewalStage,
    RenewalStatus,
    ReviewDecisionKind,
    ReviewSubmission,
    TerminationRequest,
    TermOutcome,
)
from models.scorecard import MinimumData, RecommendationThresholds, ScoringConfig
from models.tables import ContractRow, DraftRow, OutboxRow, RenewalEventRow, RenewalRow
from store import plans
from store.db import SessionFactory, transaction
from tests.factories import add_deliveries, register
from tests.identity_helpers import SIGNED, TEST_IDENTITY_KEYS
from tests.negotiation_helpers import agree
from tests.workflow_helpers import result_of, save_history, today
from worker import build_worker
from workflows.contract_renewal import ContractRenewalWorkflow

OWNER = "buyer@example.com"
LAWYER = "legal@example.com"

Handle = WorkflowHandle[ContractRenewalWorkflow, object]


@pytest.fixture
def cid() -> str:
    return f"T-{uuid.uuid4().hex[:8]}"


async def _start(client: Client, task_queue: str, cid: str, term: int = 1) -> Handle:
    await renewals.start_renewal(
        client, contract_id=cid, term=term, requested_by=OWNER, task_queue=task_queue
    )
    return renewals.renewal_handle(client, contract_id=cid, term=term)


async def _status(handle: Handle) -> RenewalStatus:
    return await handle.query(ContractRenewalWorkflow.status)


async def _until(
    env: WorkflowEnvironment, handle: Handle, check: Callable[[RenewalStatus], bool]
) -> RenewalStatus:
    """Poll the status (the worker works in real time between skips) until ``check`` holds."""
    for _ in range(600):
        status = await _status(handle)
        if check(status):
            return status
        await asyncio.sleep(0.05)
    raise AssertionError(f"never reached: {await _status(handle)}")


async def _skip_to(env: WorkflowEnvironment, day: date, hour: int = 12) -> None:
    delta = datetime.combine(day, time(hour), UTC) - await env.get_current_time()
    if delta > timedelta(0):
        await env.sleep(delta)


async def _approve(client: Client, cid: str, version: int, term: int = 1) -> None:
    await renewals.submit_review(
        client,
        signer=SIGNED,
        contract_id=cid,
        term=term,
        submission=ReviewSubmission(
            decision=ReviewDecisionKind.APPROVE, reviewer=LAWYER, draft_version=version
        ),
    )


def _contract(sessions: SessionFactory, cid: str) -> ContractRow:
    with transaction(sessions) as s:
        row = s.get(ContractRow, cid)
        assert row is not None
        s.expunge(row)
        return row


def _events(sessions: SessionFactory, cid: str, kind: str) -> list[dict[str, Any]]:
    with transaction(sessions) as s:
        rows = s.scalars(
            select(RenewalEventRow)
            .join(RenewalRow, RenewalRow.id == RenewalEventRow.renewal_id)
            .where(RenewalRow.contract_id == cid, RenewalEventRow.kind == kind)
            .order_by(RenewalEventRow.id)
        )
        return [r.detail for r in rows]


async def _end(client: Client, outcome: TermOutcome) -> None:
    if outcome.next_workflow_id:
        await client.get_workflow_handle(outcome.next_workflow_id).terminate("test over")


# ---------------------------------------------------------------------------- §4


async def test_fixed_term_with_nothing_agreed_lapses_without_a_new_end_date(
    time_skipping_env: WorkflowEnvironment,
    client: Client,
    sessions: SessionFactory,
    renewal_worker: Worker,
    task_queue: str,
    cid: str,
) -> None:
    env = time_skipping_env
    now = await today(env)
    end = now + relativedelta(months=7)
    with transaction(sessions) as s:
        register(s, id=cid, owner=OWNER, start_date=now - relativedelta(months=5), end_date=end)
    handle = await _start(client, task_queue, cid)

    await _skip_to(env, end + timedelta(days=1))
    status = await _until(
        env, handle, lambda st: st.lapsed_on is not None and len(st.escalations) > 0
    )
    assert status.outcome is None  # nothing was agreed: no outcome is invented
    assert status.lapsed_on == end and status.stage is RenewalStage.LAPSED
    assert status.drafts[-1].kind is DraftKind.INTERIM_EXTENSION  # in legal review
    assert any("supply is at risk" in e for e in status.escalations)
    contract = _contract(sessions, cid)
    assert contract.end_date == end and contract.current_term == 1  # no new end date

    # The escalation repeats every N business days until somebody acts.
    before = len(status.escalations)
    await env.sleep(timedelta(days=15))
    status = await _until(env, handle, lambda st: len(st.escalations) > before)
    assert "still at risk" in status.escalations[-1]

    # Legal approves the interim extension and the supplier accepts it: now, and only now,
    # the term is extended.
    await _approve(client, cid, status.drafts[-1].version)
    await agree(handle, status.drafts[-1], on=await today(env))
    outcome = await result_of(env, handle)
    assert outcome.kind is OutcomeKind.INTERIM_EXTENSION
    assert outcome.new_end_date == end + relativedelta(months=3)
    contract = _contract(sessions, cid)
    assert contract.end_date == end + relativedelta(months=3) and contract.current_term == 2
    await _end(client, outcome)
    await save_history(handle, "lapsed_then_interim_extension_approved")


async def test_a_lapsed_term_ends_when_procurement_records_what_happened(
    time_skipping_env: WorkflowEnvironment,
    client: Client,
    sessions: SessionFactory,
    renewal_worker: Worker,
    task_queue: str,
    cid: str,
) -> None:
    env = time_skipping_env
    now = await today(env)
    end = now - timedelta(days=20)  # registered after its end: lapsed at once (§5, fixed)
    with transaction(sessions) as s:
        register(s, id=cid, owner=OWNER, start_date=now - relativedelta(years=1), end_date=end)
    handle = await _start(client, task_queue, cid)
    status = await _until(
        env, handle, lambda st: st.lapsed_on is not None and len(st.escalations) > 0
    )
    assert status.lapsed_on == end
    assert [m.state for m in status.milestones][:3] == [MilestoneState.SKIPPED] * 3
    assert [d.kind for d in status.drafts] == [DraftKind.INTERIM_EXTENSION]

    await renewals.terminate_renewal(
        client,
        signer=SIGNED,
        contract_id=cid,
        term=1,
        request=TerminationRequest(requested_by=OWNER, reason="Moved to another supplier"),
    )
    outcome = await result_of(env, handle)
    assert outcome.kind is OutcomeKind.LAPSED and outcome.new_end_date is None
    assert outcome.next_workflow_id is None
    assert _contract(sessions, cid).status == "terminated"
    await save_history(handle, "registered_late_fixed_lapsed_then_recorded")


async def test_auto_renewing_without_an_effective_notice_rolls_over_and_says_so(
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
            owner=OWNER,
            start_date=now - relativedelta(months=4),
            end_date=end,
            notice_period_days=60,
            term_model="auto_renewing",
            renewal_term_months=12,
        )
    handle = await _start(client, task_queue, cid)
    outcome = await result_of(env, handle)
    assert outcome.kind is OutcomeKind.ROLLED_OVER
    assert outcome.new_end_date == end + relativedelta(months=12)
    assert "rolled over by its terms" in outcome.reason
    status = await _status(handle)
    # At the send-by date a notice went to legal as a version of its own; nobody approved it.
    assert DraftKind.NON_RENEWAL_NOTICE in [d.kind for d in status.drafts]
    assert any("non-renewal notice is in legal review" in e for e in status.escalations)
    assert any("nobody decided" in e for e in status.escalations)
    contract = _contract(sessions, cid)
    assert contract.renewals_used == 1 and contract.current_term == 2
    assert contract.end_date == end + relativedelta(months=12)
    await _end(client, outcome)
    await save_history(handle, "auto_renewing_rolled_over_without_notice")


async def _auto_renewing_notice_approved(
    env: WorkflowEnvironment,
    client: Client,
    sessions: SessionFactory,
    task_queue: str,
    cid: str,
    *,
    approve: bool = True,
) -> tuple[Handle, RenewalStatus, date]:
    """An auto-renewing contract whose owner decided not to renew: the notice is version 2
    (after the renegotiation proposal) and legal approved it."""
    now = await today(env)
    end = now + relativedelta(months=8)
    with transaction(sessions) as s:
        register(
            s,
            id=cid,
            owner=OWNER,
            start_date=now - relativedelta(months=4),
            end_date=end,
            notice_period_days=60,
            term_model="auto_renewing",
        )
    handle = await _start(client, task_queue, cid)
    status = await _until(env, handle, lambda st: bool(st.milestones))
    first = next(m for m in status.milestones if m.kind is MilestoneKind.FIRST_DISCUSSION)
    await _skip_to(env, first.due + timedelta(days=1))
    await _until(env, handle, lambda st: len(st.drafts) == 1)
    await renewals.terminate_renewal(
        client,
        signer=SIGNED,
        contract_id=cid,
        term=1,
        request=TerminationRequest(requested_by=OWNER, reason="Consolidating suppliers"),
    )
    status = await _until(env, handle, lambda st: len(st.drafts) == 2)
    notice = status.drafts[-1]
    assert notice.kind is DraftKind.NON_RENEWAL_NOTICE and notice.version == 2
    if approve:
        await _approve(client, cid, notice.version)
    return handle, await _status(handle), end


async def test_auto_renewing_with_a_notice_dispatched_in_time_is_not_renewed(
    time_skipping_env: WorkflowEnvironment,
    client: Client,
    sessions: SessionFactory,
    renewal_worker: Worker,
    task_queue: str,
    cid: str,
) -> None:
    env = time_skipping_env
    handle, status, _end_date = await _auto_renewing_notice_approved(
        env, client, sessions, task_queue, cid
    )
    sent_on = await today(env)
    after = await renewals.record_dispatch(
        client,
        signer=SIGNED,
        contract_id=cid,
        term=1,
        dispatch=NoticeDispatch(
            draft_version=2,
            dispatched_on=sent_on,
            channel=DispatchChannel.POST,
            reference="JP-REG-123",
            recorded_by=OWNER,
        ),
    )
    assert after.dispatches[0].late is False
    assert after.dispatches[0].notice_deadline == status.notice_deadline
    outcome = await result_of(env, handle)
    assert outcome.kind is OutcomeKind.NOT_RENEWED
    assert outcome.new_end_date is None and outcome.next_workflow_id is None
    assert outcome.approved_version is None  # a notice is not the terms of a next term
    contract = _contract(sessions, cid)
    assert contract.status == "terminated" and contract.renewals_used == 0
    assert _events(sessions, cid, "notice_dispatched")[0]["reference"] == "JP-REG-123"
    await save_history(handle, "notice_dispatched_in_time_not_renewed")


async def test_a_dispatch_after_the_notice_deadline_is_late_and_the_contract_rolls_over(
    time_skipping_env: WorkflowEnvironment,
    client: Client,
    sessions: SessionFactory,
    renewal_worker: Worker,
    task_queue: str,
    cid: str,
) -> None:
    env = time_skipping_env
    handle, status, end = await _auto_renewing_notice_approved(
        env, client, sessions, task_queue, cid
    )
    assert status.notice_deadline is not None
    late_day = status.notice_deadline + timedelta(days=2)
    await _skip_to(env, late_day)
    after = await renewals.record_dispatch(
        client,
        signer=SIGNED,
        contract_id=cid,
        term=1,
        dispatch=NoticeDispatch(
            draft_version=2,
            dispatched_on=late_day,
            channel=DispatchChannel.COURIER,
            reference="DHL 1234",
            recorded_by=OWNER,
        ),
    )
    assert after.dispatches[0].late is True
    assert "does not stop the contract rolling over" in after.escalations[-1]
    outcome = await result_of(env, handle)
    assert outcome.kind is OutcomeKind.ROLLED_OVER
    assert outcome.new_end_date == end + relativedelta(months=12)
    await _end(client, outcome)


async def test_dispatches_that_cannot_be_true_are_refused_with_the_field(
    time_skipping_env: WorkflowEnvironment,
    client: Client,
    sessions: SessionFactory,
    renewal_worker: Worker,
    task_queue: str,
    cid: str,
) -> None:
    env = time_skipping_env
    handle, _status_now, _end_date = await _auto_renewing_notice_approved(
        env, client, sessions, task_queue, cid
    )
    now = await today(env)

    async def dispatch(version: int, on: date) -> str:
        with pytest.raises(WorkflowUpdateFailedError) as err:
            await renewals.record_dispatch(
                client,
                signer=SIGNED,
                contract_id=cid,
                term=1,
                dispatch=NoticeDispatch(
                    draft_version=version,
                    dispatched_on=on,
                    channel=DispatchChannel.EMAIL,
                    reference="msg-1",
                    recorded_by=OWNER,
                ),
            )
        return str(getattr(err.value.cause, "message", err.value.cause))

    assert dispatch_msg_starts(await dispatch(2, now + timedelta(days=1)), "dispatched_on:")
    assert dispatch_msg_starts(await dispatch(1, now), "draft_version:")  # not a notice
    assert dispatch_msg_starts(await dispatch(9, now), "draft_version:")
    assert (await _status(handle)).dispatches == ()
    assert _events(sessions, cid, "notice_dispatched") == []
    await handle.terminate("test over")


def dispatch_msg_starts(message: str, field: str) -> bool:
    return message.startswith(field)


async def test_a_fixed_term_takes_no_notice_dispatch(
    time_skipping_env: WorkflowEnvironment,
    client: Client,
    sessions: SessionFactory,
    renewal_worker: Worker,
    task_queue: str,
    cid: str,
) -> None:
    env = time_skipping_env
    now = await today(env)
    with transaction(sessions) as s:
        register(
            s,
            id=cid,
            owner=OWNER,
            start_date=now - relativedelta(months=4),
            end_date=now + relativedelta(months=8),
        )
    handle = await _start(client, task_queue, cid)
    await _until(env, handle, lambda st: bool(st.milestones))
    with pytest.raises(WorkflowUpdateFailedError) as err:
        await renewals.record_dispatch(
            client,
            signer=SIGNED,
            contract_id=cid,
            term=1,
            dispatch=NoticeDispatch(
                draft_version=1,
                dispatched_on=now,
                channel=DispatchChannel.POST,
                reference="x",
                recorded_by=OWNER,
            ),
        )
    assert "fixed-term contract" in str(err.value.cause)
    await handle.terminate("test over")


async def test_evergreen_continues_into_its_next_review_period(
    time_skipping_env: WorkflowEnvironment,
    client: Client,
    sessions: SessionFactory,
    renewal_worker: Worker,
    task_queue: str,
    cid: str,
) -> None:
    env = time_skipping_env
    now = await today(env)
    start = now - relativedelta(months=5)
    with transaction(sessions) as s:
        register(
            s,
            id=cid,
            owner=OWNER,
            start_date=start,
            end_date=None,
            term_model="evergreen",
            review_period_months=12,
        )
    handle = await _start(client, task_queue, cid)
    outcome = await result_of(env, handle)
    assert outcome.kind is OutcomeKind.ROLLED_OVER
    assert "next review period" in outcome.reason
    assert outcome.new_end_date == start + relativedelta(months=24)
    await _end(client, outcome)


@pytest_asyncio.fixture
async def leaving_worker(
    time_skipping_env: WorkflowEnvironment,
    sqlite_url: str,
    sqlite_engine: Any,
    task_queue: str,
    activity_executor: ThreadPoolExecutor,
) -> AsyncIterator[Worker]:
    """A worker whose scoring recommends terminating any supplier that is not near-perfect,
    on delivery data alone."""
    scoring = ScoringConfig(
        minimum=MinimumData(weight_coverage=Decimal("0.2")),
        recommendation=RecommendationThresholds(
            renew_min_total=Decimal(99),
            renegotiate_min_total=Decimal(98),
            retender_min_total=Decimal(97),
        ),
    )
    worker = build_worker(
        time_skipping_env.client,
        identity_keys=TEST_IDENTITY_KEYS,
        task_queue=task_queue,
        database_url=sqlite_url,
        executor=activity_executor,
        max_concurrent_activities=16,
        scoring=scoring,
    )
    async with worker:
        yield worker


@pytest.mark.parametrize(
    ("term_model", "first_kind", "outcome_kind"),
    [
        ("auto_renewing", DraftKind.NON_RENEWAL_NOTICE, OutcomeKind.ROLLED_OVER),
        ("fixed", DraftKind.TRANSITION_PLAN, OutcomeKind.NOT_RENEWED),
    ],
)
async def test_a_recommendation_to_leave_makes_v1_a_notice_or_a_transition_plan(
    time_skipping_env: WorkflowEnvironment,
    client: Client,
    sessions: SessionFactory,
    leaving_worker: Worker,
    task_queue: str,
    cid: str,
    term_model: str,
    first_kind: DraftKind,
    outcome_kind: OutcomeKind,
) -> None:
    env = time_skipping_env
    now = await today(env)
    end = now + relativedelta(months=7)
    with transaction(sessions) as s:
        register(
            s,
            id=cid,
            owner=OWNER,
            start_date=now - relativedelta(months=18),
            end_date=end,
            notice_period_days=60,
            term_model=term_model,
        )
        add_deliveries(
            s, contract_id=cid, supplier_id="S-1", end=now + relativedelta(months=1), count=30,
            late_every=2,
        )  # fmt: skip
    handle = await _start(client, task_queue, cid)
    status = await _until(env, handle, lambda st: bool(st.milestones))
    first = next(m for m in status.milestones if m.kind is MilestoneKind.FIRST_DISCUSSION)
    await _skip_to(env, first.due + timedelta(days=1))
    status = await _until(env, handle, lambda st: bool(st.drafts))
    assert status.scorecard is not None
    assert status.scorecard.recommendation.value in {"terminate", "retender"}
    v1 = status.drafts[0]
    assert v1.kind is first_kind
    await _approve(client, cid, v1.version)
    outcome = await result_of(env, handle)
    # Approving a notice or a transition plan never reads as renewed; an approved notice that
    # was not dispatched does not stop the roll-over.
    assert outcome.kind is outcome_kind
    assert outcome.kind is not OutcomeKind.RENEWED
    await _end(client, outcome)


# ---------------------------------------------------------------------------- §5


async def test_the_runaway_case_is_one_catch_up_to_the_present_term(
    time_skipping_env: WorkflowEnvironment,
    client: Client,
    sessions: SessionFactory,
    renewal_worker: Worker,
    task_queue: str,
    cid: str,
) -> None:
    env = time_skipping_env
    now = await today(env)
    # Registered two years (and ten days) after its end date.
    end = now - relativedelta(years=2) - timedelta(days=10)
    with transaction(sessions) as s:
        register(
            s,
            id=cid,
            owner=OWNER,
            start_date=end - relativedelta(years=1),
            end_date=end,
            term_model="auto_renewing",
            renewal_term_months=12,
        )
    handle = await _start(client, task_queue, cid)
    outcome = await result_of(env, handle)
    assert outcome.kind is OutcomeKind.ROLLED_OVER
    assert outcome.new_end_date == end + relativedelta(months=12)
    present_end = end + relativedelta(months=36)
    assert present_end >= now
    assert outcome.next_workflow_id == f"renewal/{cid}/term-4"
    contract = _contract(sessions, cid)
    assert contract.current_term == 4 and contract.end_date == present_end
    assert contract.renewals_used == 3
    with transaction(sessions) as s:
        terms = s.execute(
            select(RenewalRow.term, RenewalRow.outcome)
            .where(RenewalRow.contract_id == cid, RenewalRow.term < 4)
            .order_by(RenewalRow.term)
        ).all()
        assert [tuple(t) for t in terms] == [
            (1, "rolled_over"),
            (2, "rolled_over"),
            (3, "rolled_over"),
        ]
        drafts = s.scalar(
            select(func.count())
            .select_from(DraftRow)
            .join(RenewalRow, RenewalRow.id == DraftRow.renewal_id)
            .where(RenewalRow.contract_id == cid)
        )
        assert drafts == 0  # no interim extensions invented
    # The present term plans normally, and its stored plan is the one every view reads.
    present = renewals.renewal_handle(client, contract_id=cid, term=4)
    present_status = await _until(env, present, lambda st: bool(st.milestones))
    assert present_status.end_date == present_end
    with transaction(sessions) as s:
        stored = plans.read_plan(s, contract_id=cid, term=4)
        assert stored is not None and stored.end_date == present_end
        mails = s.scalar(
            select(func.count()).select_from(OutboxRow).where(OutboxRow.contract_id == cid)
        )
    assert mails is not None and mails <= 3
    await save_history(handle, "runaway_catch_up_to_present_term")
    await present.terminate("test over")


async def test_a_cleaning_contract_forty_days_late_rolled_over_for_its_renewal_term(
    time_skipping_env: WorkflowEnvironment,
    client: Client,
    sessions: SessionFactory,
    renewal_worker: Worker,
    task_queue: str,
    cid: str,
) -> None:
    env = time_skipping_env
    now = await today(env)
    end = now - timedelta(days=40)
    with transaction(sessions) as s:
        register(
            s,
            id=cid,
            owner=OWNER,
            title="Office cleaning",
            start_date=end - relativedelta(years=1),
            end_date=end,
            term_model="auto_renewing",
            renewal_term_months=12,
        )
    handle = await _start(client, task_queue, cid)
    outcome = await result_of(env, handle)
    assert outcome.kind is OutcomeKind.ROLLED_OVER
    assert outcome.new_end_date == end + relativedelta(months=12)  # not a 3-month extension
    contract = _contract(sessions, cid)
    assert contract.current_term == 2 and contract.end_date == end + relativedelta(months=12)
    status = await _status(handle)
    assert "registered after its end date" in outcome.reason
    assert any("rolled over by its terms 1 time" in e for e in status.escalations)
    await _end(client, outcome)


async def test_overdue_milestones_of_a_late_registration_run_at_once_marked_late(
    time_skipping_env: WorkflowEnvironment,
    client: Client,
    sessions: SessionFactory,
    renewal_worker: Worker,
    task_queue: str,
    cid: str,
) -> None:
    env = time_skipping_env
    now = await today(env)
    end = now + relativedelta(months=2)  # gather facts and first discussion are behind
    with transaction(sessions) as s:
        register(s, id=cid, owner=OWNER, start_date=now - relativedelta(months=10), end_date=end)
    handle = await _start(client, task_queue, cid)
    status = await _until(
        env,
        handle,
        lambda st: any(
            m.kind is MilestoneKind.FIRST_DISCUSSION and m.state is not MilestoneState.PENDING
            for m in st.milestones
        ),
    )
    states = {m.kind: m.state for m in status.milestones}
    assert states[MilestoneKind.GATHER_FACTS] is MilestoneState.DONE_LATE
    assert states[MilestoneKind.FIRST_DISCUSSION] is MilestoneState.DONE_LATE
    with transaction(sessions) as s:
        stored = plans.read_plan(s, contract_id=cid, term=1)
    assert stored is not None
    by_kind = {m.kind: m for m in stored.milestones}
    assert by_kind[MilestoneKind.GATHER_FACTS].state is MilestoneState.DONE_LATE
    assert by_kind[MilestoneKind.GATHER_FACTS].late is True
    # Dates are never moved to make them look on time.
    assert by_kind[MilestoneKind.GATHER_FACTS].due < now
    await handle.terminate("test over")


async def test_terminating_after_an_approval_withdraws_it_and_the_term_ends_as_decided(
    time_skipping_env: WorkflowEnvironment,
    client: Client,
    sessions: SessionFactory,
    renewal_worker: Worker,
    task_queue: str,
    cid: str,
) -> None:
    env = time_skipping_env
    now = await today(env)
    with transaction(sessions) as s:
        register(
            s,
            id=cid,
            owner=OWNER,
            start_date=now - relativedelta(months=4),
            end_date=now + relativedelta(months=8),
        )
    handle = await _start(client, task_queue, cid)
    status = await _until(env, handle, lambda st: bool(st.milestones))
    first = next(m for m in status.milestones if m.kind is MilestoneKind.FIRST_DISCUSSION)
    await _skip_to(env, first.due + timedelta(days=1))
    await _until(env, handle, lambda st: len(st.drafts) == 1)
    await _approve(client, cid, 1)
    await renewals.terminate_renewal(
        client,
        signer=SIGNED,
        contract_id=cid,
        term=1,
        request=TerminationRequest(requested_by=OWNER, reason="The site closes"),
    )
    assert _events(sessions, cid, "approval_withdrawn")[0]["version"] == 1
    outcome = await result_of(env, handle)
    assert outcome.kind is OutcomeKind.TERMINATED  # not "renewed" on the withdrawn approval
    assert outcome.new_end_date is None and outcome.next_workflow_id is None


async def test_a_rejected_notice_can_be_redrafted_while_termination_is_pending(
    time_skipping_env: WorkflowEnvironment,
    client: Client,
    sessions: SessionFactory,
    renewal_worker: Worker,
    task_queue: str,
    cid: str,
) -> None:
    env = time_skipping_env
    handle, _status_now, _end_date = await _auto_renewing_notice_approved(
        env, client, sessions, task_queue, cid, approve=False
    )
    await renewals.submit_review(
        client,
        signer=SIGNED,
        contract_id=cid,
        term=1,
        submission=ReviewSubmission(
            decision=ReviewDecisionKind.REJECT,
            reviewer=LAWYER,
            draft_version=2,
            comment="Cite clause 14.2 for the notice period",
        ),
    )
    redrafted = await renewals.request_redraft(
        client,
        signer=SIGNED,
        contract_id=cid,
        term=1,
        request=RedraftRequest(requested_by=OWNER, reason="Clause 14.2 cited"),
    )
    assert redrafted.kind is DraftKind.NON_RENEWAL_NOTICE and redrafted.version == 3
    await _approve(client, cid, 3)
    after = await renewals.record_dispatch(
        client,
        signer=SIGNED,
        contract_id=cid,
        term=1,
        dispatch=NoticeDispatch(
            draft_version=3,
            dispatched_on=await today(env),
            channel=DispatchChannel.EMAIL,
            reference="msg-42",
            recorded_by=OWNER,
        ),
    )
    assert after.dispatches[0].draft_version == 3
    outcome = await result_of(env, handle)
    assert outcome.kind is OutcomeKind.NOT_RENEWED
