"""On the Temporal dev server: the sweep, its Schedule, and the Renewal* search attributes."""

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta

import pytest
import pytest_asyncio
from dateutil.relativedelta import relativedelta
from sqlalchemy import Engine
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment

from clients import renewals, schedules
from config.settings import Settings
from models.contract import ContractAmendment
from models.sweep import SweepInput, SweepTotals
from store.db import SessionFactory, make_session_factory, transaction
from tests.factories import register
from tests.identity_helpers import SIGNED, TEST_IDENTITY_KEYS
from tests.workflow_helpers import save_history
from worker import build_sweep_worker, build_worker
from workflows import search_attributes as sa
from workflows.sweep import RenewalSweepWorkflow

pytestmark = pytest.mark.devserver


@pytest.fixture
def tq() -> str:
    return f"sweep-{uuid.uuid4().hex[:8]}"


@pytest_asyncio.fixture
async def dev_worker(
    dev_env: WorkflowEnvironment,
    sqlite_url: str,
    sqlite_engine: Engine,
    tq: str,
    activity_executor: ThreadPoolExecutor,
) -> AsyncIterator[None]:
    worker = build_worker(
        dev_env.client,
        identity_keys=TEST_IDENTITY_KEYS,
        task_queue=tq,
        database_url=sqlite_url,
        executor=activity_executor,
        max_concurrent_activities=16,
        search_attributes=True,
    )
    # As run_worker deploys it: the scheduled sweep on its own queue, starting renewals on tq.
    sweep_worker = build_sweep_worker(
        dev_env.client,
        task_queue=f"{tq}-sweep",
        renewal_task_queue=tq,
        sessions=make_session_factory(sqlite_engine),
        search_attributes=True,
    )
    async with worker, sweep_worker:
        yield


async def _eventually(predicate: Callable[[], Awaitable[object]], timeout: float = 20.0) -> object:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await predicate()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.2)


async def _count(client: Client, query: str) -> int:
    return len([w async for w in client.list_workflows(query)])


def _prefix() -> str:
    return f"D{uuid.uuid4().hex[:6]}"


async def test_sweep_starts_due_renewals_once_and_search_attributes_find_them(
    dev_env: WorkflowEnvironment, sessions: SessionFactory, dev_worker: None, tq: str
) -> None:
    client = dev_env.client
    p = _prefix()
    now = date.today()
    with transaction(sessions) as s:
        register(
            s,
            id=f"{p}-due",
            start_date=now - relativedelta(months=9),
            end_date=now + relativedelta(months=2),
            notice_period_days=0,
        )
        register(
            s,
            id=f"{p}-notice",
            start_date=now - relativedelta(months=3),
            end_date=now + relativedelta(months=8),
            notice_period_days=120,
        )
        register(
            s,
            id=f"{p}-later",
            start_date=now - relativedelta(months=1),
            end_date=now + relativedelta(years=2),
        )

    first: SweepTotals = await client.execute_workflow(
        RenewalSweepWorkflow.run, SweepInput(batch_size=1), id=f"sweep-{p}-1", task_queue=tq
    )
    # The contract ending in two years is never read (outside the end-date horizon); the two
    # candidates take two pages of one and no empty third; the 120-day notice moves the second
    # one's first milestone into range although its end is 8 months away.
    assert (first.examined, first.due, first.started, first.batches) == (2, 2, 2, 2)

    second: SweepTotals = await client.execute_workflow(
        RenewalSweepWorkflow.run, SweepInput(batch_size=2), id=f"sweep-{p}-2", task_queue=tq
    )
    assert second.started == 0

    query = f"RenewalContractId = '{p}-due' AND RenewalStage = 'legal_review'"
    await _eventually(lambda: _count(client, query))
    in_review = [w async for w in client.list_workflows(query)]
    assert [w.id for w in in_review] == [f"renewal/{p}-due/term-1"]
    attrs = in_review[0].typed_search_attributes
    assert attrs.get(sa.SUPPLIER) == "S-1"
    # No e-mail address in the visibility store: the owner is not a search attribute.
    assert attrs.get(sa.OWNER) is None
    assert "procurement@example.com" not in repr(in_review[0].search_attributes)
    assert await _count(client, f"RenewalContractId = '{p}-later'") == 0

    # An amendment moves the expiry search attribute with the plan.
    new_end = now + relativedelta(months=3)
    await renewals.amend_renewal(
        client,
        signer=SIGNED,
        contract_id=f"{p}-due",
        term=1,
        amendment=ContractAmendment(end_date=new_end, amended_by="buyer@example.com"),
    )
    await _eventually(
        lambda: _count(
            client,
            f"RenewalContractId = '{p}-due' AND RenewalExpiry >= '{new_end.isoformat()}T00:00:00Z'",
        )
    )
    # The amendment moved the expiry alone: the stage and supplier it showed are not upserted
    # again (PATCH_CHANGED_SEARCH_ATTRIBUTES).
    handle = renewals.renewal_handle(client, contract_id=f"{p}-due", term=1)
    upserts = [
        e.upsert_workflow_search_attributes_event_attributes.search_attributes.indexed_fields
        async for e in handle.fetch_history_events()
        if e.HasField("upsert_workflow_search_attributes_event_attributes")
    ]
    renewal_upserts = [sorted(k for k in u if k.startswith("Renewal")) for u in upserts]
    assert [k for k in renewal_upserts if k][-1] == ["RenewalExpiry"]
    await save_history(handle, "search_attributes_amended_in_review")
    for w in [w async for w in client.list_workflows(f"RenewalContractId STARTS_WITH '{p}'")]:
        await client.get_workflow_handle(w.id).terminate("test over")


async def test_two_sweeps_at_once_start_one_workflow_per_term(
    dev_env: WorkflowEnvironment, sessions: SessionFactory, dev_worker: None, tq: str
) -> None:
    client = dev_env.client
    p = _prefix()
    now = date.today()
    with transaction(sessions) as s:
        for i in range(12):
            register(
                s,
                id=f"{p}-{i:02d}",
                start_date=now - relativedelta(months=9),
                end_date=now + relativedelta(months=4, days=i),
            )
    results = await asyncio.gather(
        *(
            client.execute_workflow(
                RenewalSweepWorkflow.run,
                SweepInput(batch_size=5),
                id=f"sweep-{p}-{n}",
                task_queue=tq,
            )
            for n in range(3)
        )
    )
    assert sum(r.started for r in results) == 12
    assert all(r.due == r.started + r.already for r in results)
    query = f"RenewalContractId STARTS_WITH '{p}'"
    await _eventually(lambda: _count(client, query))
    ids = [w.id async for w in client.list_workflows(query)]
    assert len(ids) == len(set(ids)) == 12
    for wid in ids:
        await client.get_workflow_handle(wid).terminate("test over")


async def test_schedule_create_describe_pause_trigger_backfill(
    dev_env: WorkflowEnvironment, sessions: SessionFactory, dev_worker: None, tq: str
) -> None:
    client = dev_env.client
    settings = Settings(
        temporal_task_queue=tq,
        sweep_schedule_id=f"sweep-{uuid.uuid4().hex[:6]}",
        sweep_time="07:30",
        sweep_time_zone="Asia/Tokyo",
    )
    handle, created = await schedules.create_schedule(client, settings=settings)
    assert created
    _, again = await schedules.create_schedule(client, settings=settings)
    assert not again

    info = await schedules.describe_schedule(client, settings=settings)
    assert info.daily_at == "07:30" and info.time_zone == "Asia/Tokyo" and not info.paused
    assert info.next_runs and all(t.astimezone().tzinfo for t in info.next_runs)
    desc = await handle.describe()
    assert desc.schedule.policy.catchup_window == schedules.CATCHUP_WINDOW

    await schedules.pause_schedule(client, settings=settings, note="quarter close")
    assert (await schedules.describe_schedule(client, settings=settings)).paused
    await schedules.unpause_schedule(client, settings=settings, note="resumed")
    assert not (await schedules.describe_schedule(client, settings=settings)).paused

    await schedules.trigger_schedule(client, settings=settings)

    async def completed_sweeps() -> int:
        q = (
            f"WorkflowType = 'RenewalSweepWorkflow' AND TaskQueue = '{tq}-sweep' "
            "AND ExecutionStatus = 'Completed'"
        )
        return await _count(client, q)

    await _eventually(completed_sweeps)

    now = (await handle.describe()).info.created_at
    await schedules.backfill_schedule(
        client, settings=settings, start_at=now - timedelta(days=3), end_at=now - timedelta(days=1)
    )

    async def two_or_more() -> bool:
        return await completed_sweeps() >= 2

    await _eventually(two_or_more, timeout=30)
    assert settings.resolved_sweep_task_queue == f"{tq}-sweep"
    runs = [w async for w in client.list_workflows(f"TaskQueue = '{tq}-sweep'")]
    assert all(w.status == WorkflowExecutionStatus.COMPLETED for w in runs)
    await handle.delete()
