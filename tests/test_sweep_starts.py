"""On the Temporal dev server: how a sweep page starts its due renewals (issue 18).

The sweep worker's client carries a client interceptor that watches every start of a
ContractRenewalWorkflow the page makes (the real ``client.start_workflow`` calls, to the real
server): how many are in flight at once, and, for the retry test, one start that fails on the
page's first attempt. No renewal worker runs: the started renewals wait on their queue and are
terminated at the end.
"""

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import date

import pytest
import pytest_asyncio
from dateutil.relativedelta import relativedelta
from temporalio import activity
from temporalio.api.enums.v1 import EventType
from temporalio.client import (
    Client,
    DescribeWorkflowInput,
    Interceptor,
    OutboundInterceptor,
    StartWorkflowInput,
    WorkflowExecutionDescription,
    WorkflowHandle,
)
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.sweep_activities import SweepActivities
from models.sweep import SweepInput, SweepTotals
from store.db import SessionFactory, transaction
from tests.factories import register
from workflows.sandbox import workflow_runner
from workflows.sweep import RenewalSweepWorkflow

pytestmark = pytest.mark.devserver


@dataclass
class StartWatch:
    """What the sweep's starts of renewals did, seen from the client."""

    delay: float = 0.05  # seconds each start is held in flight before it is sent
    fail_call: int | None = None  # this call (1-based) of the first attempt raises instead
    in_flight: int = 0
    max_in_flight: int = 0
    calls: int = 0
    created: list[str] = field(default_factory=list)
    already: list[str] = field(default_factory=list)
    attempts: set[int] = field(default_factory=set)
    start_delays: dict[str, float] = field(default_factory=dict)  # asked of each call, seconds
    describes: int = 0  # describe calls the sweep made


class _Watching(OutboundInterceptor):
    def __init__(self, next: OutboundInterceptor, watch: StartWatch) -> None:
        super().__init__(next)
        self._watch = watch

    async def start_workflow(self, input: StartWorkflowInput) -> WorkflowHandle[object, object]:
        w = self._watch
        if input.workflow != "ContractRenewalWorkflow":
            return await super().start_workflow(input)
        w.calls += 1
        w.start_delays[input.id] = input.start_delay.total_seconds() if input.start_delay else 0.0
        attempt = activity.info().attempt
        w.attempts.add(attempt)
        if attempt == 1 and w.calls == w.fail_call:
            raise RuntimeError("start refused (injected by the test)")
        w.in_flight += 1
        w.max_in_flight = max(w.max_in_flight, w.in_flight)
        try:
            await asyncio.sleep(w.delay)
            handle = await super().start_workflow(input)
        except WorkflowAlreadyStartedError:
            w.already.append(input.id)
            raise
        finally:
            w.in_flight -= 1
        w.created.append(input.id)
        return handle

    async def describe_workflow(self, input: DescribeWorkflowInput) -> WorkflowExecutionDescription:
        self._watch.describes += 1
        return await super().describe_workflow(input)


class _Watch(Interceptor):
    def __init__(self, watch: StartWatch) -> None:
        self._watch = watch

    def intercept_client(self, next: OutboundInterceptor) -> OutboundInterceptor:
        return _Watching(next, self._watch)


def _prefix() -> str:
    return f"C{uuid.uuid4().hex[:6]}"


def _register_due(sessions: SessionFactory, prefix: str, n: int) -> list[str]:
    now = date.today()
    ids = [f"{prefix}-{i:02d}" for i in range(n)]
    with transaction(sessions) as s:
        for i, cid in enumerate(ids):
            register(
                s,
                id=cid,
                start_date=now - relativedelta(months=9),
                end_date=now + relativedelta(months=4, days=i),
            )
    return ids


@pytest_asyncio.fixture
async def terminate_after(dev_env: WorkflowEnvironment) -> AsyncIterator[list[str]]:
    prefixes: list[str] = []
    yield prefixes
    client = dev_env.client
    for p in prefixes:
        async for w in client.list_workflows(f"WorkflowId STARTS_WITH 'renewal/{p}'"):
            if w.status is not None and w.status.name == "RUNNING":
                await client.get_workflow_handle(w.id).terminate("test over")


async def _sweep(
    dev_env: WorkflowEnvironment,
    sessions: SessionFactory,
    watch: StartWatch,
    *,
    start_concurrency: int,
    inp: SweepInput,
    prefix: str,
    open_rate: float = 1000.0,
) -> tuple[SweepTotals, str]:
    config = dev_env.client.config()
    config["interceptors"] = [_Watch(watch)]
    watched = Client(**config)
    tq = f"sweep-starts-{uuid.uuid4().hex[:8]}"
    sweep = SweepActivities(
        sessions,
        watched,
        task_queue=f"{tq}-renewals",  # no worker: the renewals wait, started
        search_attributes=True,
        start_concurrency=start_concurrency,
        open_rate=open_rate,
    )
    async with Worker(
        watched,
        task_queue=tq,
        workflows=[RenewalSweepWorkflow],
        activities=[sweep.start_due_renewals],
        workflow_runner=workflow_runner(),
        max_concurrent_activities=4,
    ):
        wid = f"sweep-{prefix}"
        totals: SweepTotals = await watched.execute_workflow(
            RenewalSweepWorkflow.run, inp, id=wid, task_queue=tq
        )
    return totals, wid


async def _renewal_ids(client: Client, prefix: str) -> list[str]:
    return [w.id async for w in client.list_workflows(f"WorkflowId STARTS_WITH 'renewal/{prefix}'")]


async def test_a_page_starts_at_most_start_concurrency_renewals_at_once(
    dev_env: WorkflowEnvironment, sessions: SessionFactory, terminate_after: list[str]
) -> None:
    p = _prefix()
    terminate_after.append(p)
    ids = _register_due(sessions, p, 20)
    watch = StartWatch()
    totals, _ = await _sweep(
        dev_env, sessions, watch, start_concurrency=3, inp=SweepInput(batch_size=50), prefix=p
    )
    assert (totals.examined, totals.due, totals.started, totals.already) == (20, 20, 20, 0)
    assert totals.batches == 1
    # Concurrent, and never more than the bound: each start is held 50 ms in flight, so the
    # three slots fill while the page has renewals left to start.
    assert watch.max_in_flight == 3
    assert sorted(watch.created) == sorted(f"renewal/{cid}/term-1" for cid in ids)


async def test_a_retried_page_starts_nothing_twice_and_counts_each_renewal_once(
    dev_env: WorkflowEnvironment, sessions: SessionFactory, terminate_after: list[str]
) -> None:
    p = _prefix()
    terminate_after.append(p)
    ids = _register_due(sessions, p, 12)
    # The 7th start of the page's first attempt fails: the starts in flight finish, the page
    # starts no more and fails; its retry re-reads the same page.
    watch = StartWatch(fail_call=7)
    totals, wid = await _sweep(
        dev_env, sessions, watch, start_concurrency=2, inp=SweepInput(batch_size=50), prefix=p
    )
    assert watch.attempts == {1, 2}
    expected = sorted(f"renewal/{cid}/term-1" for cid in ids)
    # Each renewal was created once, by one attempt or the other; the retry found the first
    # attempt's renewals started and counted them as this page's, not as "already".
    assert sorted(watch.created) == expected
    first_attempt = set(watch.already)
    assert first_attempt and len(first_attempt) < len(ids)
    assert (totals.examined, totals.due, totals.started, totals.already) == (12, 12, 12, 0)
    assert sorted(await _renewal_ids(dev_env.client, p)) == expected
    # The page activity ran twice (one retry) in the one sweep run.
    history = await dev_env.client.get_workflow_handle(wid).fetch_history()
    started = [
        e for e in history.events if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED
    ]
    assert [e.activity_task_started_event_attributes.attempt for e in started] == [2]


async def test_a_sweep_spreads_the_opening_of_its_renewals_across_its_pages(
    dev_env: WorkflowEnvironment, sessions: SessionFactory, terminate_after: list[str]
) -> None:
    """The n-th renewal a sweep starts (in id order, across pages and continue-as-new) waits
    n / open_rate seconds for its first task; the server keeps that as the start's backoff."""
    p = _prefix()
    terminate_after.append(p)
    ids = _register_due(sessions, p, 7)
    watch = StartWatch(delay=0.0)
    inp = SweepInput(batch_size=3, batches_per_run=2)  # pages of 3, 3 | 1 after continue-as-new
    totals, _ = await _sweep(
        dev_env, sessions, watch, start_concurrency=2, inp=inp, prefix=p, open_rate=4.0
    )
    assert (totals.due, totals.started, totals.batches) == (7, 7, 3)
    wids = [f"renewal/{cid}/term-1" for cid in ids]
    assert [watch.start_delays[w] for w in wids] == [0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5]
    history = await dev_env.client.get_workflow_handle(wids[-1]).fetch_history()
    started = history.events[0].workflow_execution_started_event_attributes
    assert started.first_workflow_task_backoff.ToTimedelta().total_seconds() == 1.5


async def test_a_retried_page_gives_each_renewal_the_same_place_in_the_spread(
    dev_env: WorkflowEnvironment, sessions: SessionFactory, terminate_after: list[str]
) -> None:
    p = _prefix()
    terminate_after.append(p)
    ids = _register_due(sessions, p, 6)
    watch = StartWatch(delay=0.0, fail_call=4)
    totals, _ = await _sweep(
        dev_env,
        sessions,
        watch,
        start_concurrency=1,
        inp=SweepInput(batch_size=50),
        prefix=p,
        open_rate=2.0,
    )
    assert watch.attempts == {1, 2}
    assert totals.started == 6
    wids = [f"renewal/{cid}/term-1" for cid in ids]
    assert [watch.start_delays[w] for w in wids] == [0.0, 0.5, 1.0, 1.5, 2.0, 2.5]


async def test_a_sweep_during_a_catch_up_counts_waiting_renewals_without_asking_each(
    dev_env: WorkflowEnvironment, sessions: SessionFactory, terminate_after: list[str]
) -> None:
    """Renewals started but still waiting for their first task have no renewal row yet, so the
    next sweep finds them again: it counts each as already started from the server's refusal
    alone, without a describe call per renewal."""
    p = _prefix()
    terminate_after.append(p)
    _register_due(sessions, p, 5)
    first = StartWatch(delay=0.0)
    totals, _ = await _sweep(
        dev_env, sessions, first, start_concurrency=2, inp=SweepInput(), prefix=p
    )
    assert totals.started == 5
    again = StartWatch(delay=0.0)
    totals, _ = await _sweep(
        dev_env, sessions, again, start_concurrency=2, inp=SweepInput(), prefix=f"{p}-again"
    )
    assert (totals.due, totals.started, totals.already) == (5, 0, 5)
    assert len(again.already) == 5
    assert again.describes == 0
