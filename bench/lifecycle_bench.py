"""Renewals completed per second on the dev server: the real ContractRenewalWorkflow against a
bare workflow of the same shape.

    .venv/bin/python bench/lifecycle_bench.py --contracts 500
    .venv/bin/python bench/lifecycle_bench.py --contracts 1000 --database-url \
        postgresql://postgres@127.0.0.1:5432/test

How a real renewal runs in seconds on a real-time server (see workflows/contract_renewal.py):

* each contract is auto-renewing and ends a little more than a month from today, so when its
  workflow plans, the gather-facts and first-discussion milestones are already overdue and run
  at once (recorded late): score, mail, first draft, review request; the final-terms milestone
  is still weeks away, so the workflow then waits in legal review;
* the driver polls the ``status`` query until a draft is under review, approves it
  (clients.renewals.submit_review, a reviewer other than the requester), then amends the
  contract's end date to today (clients.renewals.amend_renewal). The re-plan makes final terms
  overdue and the expiry due at ``fire_hour_utc`` = 0 today, which has passed; with no notice on
  record the term continues by its own terms (outcome ``rolled_over``) and starts the next
  term's workflow, besides the term's follow-up reviews.

Why not a negotiated renewal (presented, accepted, then ``renewed``): only an agreed version is
put into force, and once the supplier has accepted a version the end date it was agreed on can
no longer be amended (the amendment is refused as contradicting it); without the amendment the
expiry is a month away on a real-time server. Until the negotiation (9929076, workflow.patched
"negotiation") an approved draft alone renewed the term and the bench drove that; since then the
calibration renewal lapsed and the bench stopped there; figures before 2026-12-03 are of the
older shape.

Next-term workflows would run on the same task queue (the workflow starts its child there) and
add their own activities to the measurement. A worker interceptor, installed through the client
(temporalio hands client interceptors that are also worker interceptors to the worker), moves
child starts to a parking task queue that no worker polls; they vanish with the dev server.

The bare baseline is BareRenewalWorkflow below: no-op activities, as many as the real history
scheduled (counted from a calibration run), the same four updates, the same status polling and as
many child starts, on the same worker settings. real/bare is the share of the framework's throughput
that the renewal logic, its database work and its search attributes keep (target >= 0.8).

The hollow phase (HollowActivities below) runs the real workflow once more, with every activity
returning what the same call returned in the calibration run instead of doing its work:
hollow/bare is the most real/bare could reach if the activities cost nothing.
"""

import asyncio
from dataclasses import dataclass, field
from typing import Any, TypeVar

from temporalio import activity, workflow

# The workflow below runs in the sandbox, which re-imports this file: everything else passes
# through, like the product's workflow modules do.
with workflow.unsafe.imports_passed_through():
    import argparse
    import functools
    import inspect
    import threading
    import time
    import uuid
    from collections.abc import Awaitable, Callable, Sequence
    from concurrent.futures import ThreadPoolExecutor
    from datetime import date, timedelta
    from pathlib import Path

    from _common import (
        HISTORY_BYTES_WARN,
        HISTORY_EVENT_LIMIT,
        HISTORY_EVENT_WARN,
        BenchDatabase,
        CpuMeter,
        Figures,
        HistorySummary,
        TaskTimes,
        add_common_args,
        bench_database,
        contract_row,
        delivery_rows,
        dev_server,
        dev_server_pid,
        git_revision,
        insert_contracts,
        insert_deliveries,
        insert_suppliers,
        load_average,
        log,
        machine_line,
        percentile,
        sample_task_times,
        summarize_history,
        today_utc,
    )
    from dateutil.relativedelta import relativedelta
    from pydantic import BaseModel, ConfigDict
    from sqlalchemy import Engine, event, func, select
    from temporalio import activity as activity_api
    from temporalio.api.enums.v1 import EventType
    from temporalio.client import Client, WorkflowHistory, WorkflowQueryFailedError
    from temporalio.client import Interceptor as ClientInterceptor
    from temporalio.contrib.pydantic import pydantic_data_converter
    from temporalio.exceptions import ApplicationError
    from temporalio.service import RPCError
    from temporalio.worker import (
        ActivityInboundInterceptor,
        ExecuteActivityInput,
        Interceptor,
        Replayer,
        StartChildWorkflowInput,
        Worker,
        WorkflowInboundInterceptor,
        WorkflowInterceptorClassInput,
        WorkflowOutboundInterceptor,
    )

    from clients import renewals
    from config.identity import IdentityKeys
    from models.contract import ContractAmendment
    from models.milestones import RenewalPolicy
    from models.renewal import (
        OutcomeKind,
        RenewalStage,
        RenewalStatus,
        ReviewDecisionKind,
        ReviewSubmission,
    )
    from models.tables import ContractRow
    from worker import build_worker
    from workflows.activity_calls import RETRY, SCHEDULE_TO_CLOSE, START_TO_CLOSE
    from workflows.contract_renewal import ContractRenewalWorkflow
    from workflows.ids import renewal_workflow_id

OWNER = "buyer@example.com"
REVIEWER = "legal-bench@example.com"  # not the requester: segregation of duties holds
# The bench signs its decisions as the API would; its worker checks them.
IDENTITY = IdentityKeys.generate()
SUPPLIERS = 20
T = TypeVar("T")


def _policy() -> RenewalPolicy:
    """Timers at 00:00 so that "the end date is today" has already fired. Calendar-aware plans
    (when the tree has them) fire at ``fire_hour_local`` in the contract's zone: 0 too."""
    hours: dict[str, Any] = {"fire_hour_utc": 0}
    if "fire_hour_local" in RenewalPolicy.model_fields:
        hours["fire_hour_local"] = 0
    return RenewalPolicy.model_validate(hours)


# ------------------------------------------------------------------ parking next terms


class _ParkOutbound(WorkflowOutboundInterceptor):
    park_queue = ""  # set on the subclass made per run

    def start_child_workflow(self, input: StartChildWorkflowInput) -> Any:
        input.task_queue = self.park_queue
        return super().start_child_workflow(input)


class _ParkInbound(WorkflowInboundInterceptor):
    outbound_class: type[_ParkOutbound] = _ParkOutbound

    def init(self, outbound: WorkflowOutboundInterceptor) -> None:
        super().init(self.outbound_class(outbound))


class ParkNextTerms(ClientInterceptor, Interceptor):
    """Client + worker interceptor: every child workflow starts on ``park_queue``."""

    def __init__(self, park_queue: str) -> None:
        outbound = type("ParkOutbound", (_ParkOutbound,), {"park_queue": park_queue})
        self._inbound = type("ParkInbound", (_ParkInbound,), {"outbound_class": outbound})

    def workflow_interceptor_class(
        self, input: WorkflowInterceptorClassInput
    ) -> type[WorkflowInboundInterceptor] | None:
        return self._inbound


_sql = threading.local()  # statements sent by this thread, counted by the listener below


def _count_statement(*_: Any) -> None:
    _sql.count = getattr(_sql, "count", 0) + 1


class _MeterInbound(ActivityInboundInterceptor):
    def __init__(self, next: ActivityInboundInterceptor, meter: "ActivityCpuMeter") -> None:
        super().__init__(next)
        self._meter = meter

    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        into = self._meter.into
        fn = input.fn
        if into is not None and not inspect.iscoroutinefunction(fn):
            name = activity_api.info().activity_type

            statements = self._meter.statements

            # Runs in the executor thread: thread CPU is the body's own, whatever else runs.
            def timed(*args: Any, **kwargs: Any) -> Any:
                started = time.thread_time()
                sent = getattr(_sql, "count", 0)
                try:
                    return fn(*args, **kwargs)
                finally:
                    into.setdefault(name, []).append(time.thread_time() - started)
                    statements.setdefault(name, []).append(getattr(_sql, "count", 0) - sent)

            input.fn = timed
        return await self.next.execute_activity(input)


class ActivityCpuMeter(ClientInterceptor, Interceptor):
    """Client + worker interceptor: the thread CPU of every synchronous activity body, by
    activity type, into ``into`` while it is set (the real phase's RunStats)."""

    def __init__(self) -> None:
        self.into: dict[str, list[float]] | None = None
        self.statements: dict[str, list[int]] = {}  # SQL statements per call, while ``into``
        if not event.contains(Engine, "before_cursor_execute", _count_statement):
            event.listen(Engine, "before_cursor_execute", _count_statement)

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _MeterInbound(next, self)


class _HollowInbound(ActivityInboundInterceptor):
    def __init__(self, next: ActivityInboundInterceptor, hollow: "HollowActivities") -> None:
        super().__init__(next)
        self._hollow = hollow

    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        h = self._hollow
        info = activity_api.info()
        key = (info.workflow_id or "", info.activity_type)
        nth = h.calls.get(key, 0)
        h.calls[key] = nth + 1
        if h.record_from is not None and info.workflow_id == h.record_from[1]:
            result = await self.next.execute_activity(input)
            h.recorded[(info.activity_type, nth)] = (
                type(result),
                result.model_dump_json() if isinstance(result, BaseModel) else result,
            )
            return result
        found = h.recorded.get((info.activity_type, nth)) if h.replaying else None
        if found is None:
            if h.replaying:
                h.fallbacks += 1
            return await self.next.execute_activity(input)
        result_type, recorded = found
        first = input.args[0] if input.args else None
        contract_id = first if isinstance(first, str) else getattr(first, "contract_id", "")
        calibration_id = h.record_from[0] if h.record_from else ""

        # Sync and on the executor, like a real body and like the bare no-op: only the body's
        # work is gone, not the thread hop or the payload conversion around it.
        def hollow_body(*args: Any, **kwargs: Any) -> Any:
            if isinstance(recorded, str) and issubclass(result_type, BaseModel):
                return result_type.model_validate_json(
                    recorded.replace(calibration_id, contract_id)
                )
            return recorded

        input.fn = hollow_body
        return await self.next.execute_activity(input)


class HollowActivities(ClientInterceptor, Interceptor):
    """Client + worker interceptor for the "hollow" phase: the real workflow, whose activities
    return what the same call returned in the calibration run (contract id substituted) instead
    of doing their work. No database, no templates: what is left of real/bare is what the
    workflow's own shape costs (payloads, search attributes, timers, the status it answers),
    i.e. the ceiling that no activity optimisation can pass."""

    def __init__(self) -> None:
        self.record_from: tuple[str, str] | None = None  # (contract id, workflow id)
        self.replaying = False
        self.recorded: dict[tuple[str, int], tuple[type, Any]] = {}
        self.calls: dict[tuple[str, str], int] = {}
        self.fallbacks = 0  # calls with nothing recorded, run for real

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _HollowInbound(next, self)


# ------------------------------------------------------------------ the bare baseline


class BareInput(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    before_review: int  # activities the main path runs before a draft is under review
    in_updates: tuple[int, ...]  # run by each update, in UPDATES order
    after_amend: int  # run by the main path once every update is in
    children: int  # child workflows started at the end (the follow-ups, the next term)


# The real renewal's updates in the order the driver sends them: legal's approval, the offer
# presented to the supplier, its acceptance, then the end date amended to today.
UPDATES = ("review", "amend")


NOOP = "bench_noop"


@activity.defn(name=NOOP)
def noop_activity(step: str) -> None:
    """Sync like the real activities: it runs on the same kind of thread pool."""
    return None


@workflow.defn
class BareRenewalWorkflow:
    """The same shape as one renewal term, nothing else: no-op activities, the four updates of
    a negotiated renewal (each under the one lock, like the real handlers, and in the same
    order), a status query and the child starts."""

    @workflow.init
    def __init__(self, input: BareInput) -> None:
        self._input = input
        self._ready = False
        self._done: list[str] = []
        self._lock = asyncio.Lock()

    async def _noops(self, count: int, step: str) -> None:
        for i in range(count):
            await workflow.execute_activity(
                NOOP,
                f"{step}:{i}",
                start_to_close_timeout=START_TO_CLOSE,
                schedule_to_close_timeout=SCHEDULE_TO_CLOSE,
                retry_policy=RETRY,
            )

    @workflow.run
    async def run(self, input: BareInput) -> str:
        async with self._lock:
            await self._noops(input.before_review, "before")
            self._ready = True
        await workflow.wait_condition(lambda: len(self._done) == len(UPDATES))
        async with self._lock:
            await self._noops(input.after_amend, "after")
            for n in range(input.children):
                await workflow.start_child_workflow(
                    BareRenewalWorkflow.run,
                    BareInput(
                        before_review=0,
                        in_updates=(0,) * len(UPDATES),
                        after_amend=0,
                        children=0,
                    ),
                    id=f"{workflow.info().workflow_id}/child-{n}",
                    task_queue=workflow.info().task_queue,
                    parent_close_policy=workflow.ParentClosePolicy.ABANDON,
                )
        await workflow.wait_condition(workflow.all_handlers_finished)
        return "renewed"

    @workflow.query
    def status(self) -> str:
        return "legal_review" if self._ready else "waiting"

    @workflow.update
    async def step(self, name: str) -> str:
        async with self._lock:
            await self._noops(self._input.in_updates[UPDATES.index(name)], name)
            self._done.append(name)
            return name

    @step.validator
    def _validate_step(self, name: str) -> None:
        expected = UPDATES[len(self._done)] if len(self._done) < len(UPDATES) else None
        if not self._ready or name != expected:
            raise ApplicationError(f"{name} is not the next step", non_retryable=True)


# ------------------------------------------------------------------ shape of a real term


@dataclass(frozen=True)
class Shape:
    """Activities of one real renewal term by phase: before the first update is accepted, then
    after each update (UPDATES order) until the next one; and its child starts."""

    before_review: int
    after_updates: tuple[int, ...]
    children: int

    @property
    def activities(self) -> int:
        return self.before_review + sum(self.after_updates)

    def bare_input(self) -> BareInput:
        # What follows an update up to the next one runs in that update's handler; after the
        # last (the amendment), one activity in its handler and the rest on the main path, as
        # the real workflow re-plans in the handler and finishes the term in its run method.
        *middle, last = self.after_updates
        in_amend = min(1, last)
        return BareInput(
            before_review=self.before_review,
            in_updates=(*middle, in_amend),
            after_amend=last - in_amend,
            children=self.children,
        )

    def phases(self) -> str:
        parts = [f"{self.before_review} before review"] + [
            f"{n} after {name}" for name, n in zip(UPDATES, self.after_updates, strict=True)
        ]
        return " + ".join(parts) + f" = {self.activities}"


def largest_payloads(events: Sequence[Any], top: int = 6) -> str:
    """Bytes of one term's history by what carries them: each activity type's scheduled and
    completed events (its input and its result), and the other event types, largest first."""
    scheduled: dict[int, str] = {}
    sizes: dict[str, int] = {}
    for e in events:
        size = e.ByteSize()
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            name = e.activity_task_scheduled_event_attributes.activity_type.name
            scheduled[e.event_id] = name
            what = f"{name} in"
        elif e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
            sched_id = e.activity_task_completed_event_attributes.scheduled_event_id
            what = f"{scheduled.get(sched_id, '?')} out"
        else:
            what = EventType.Name(e.event_type).removeprefix("EVENT_TYPE_").lower()
        sizes[what] = sizes.get(what, 0) + size
    ranked = sorted(sizes.items(), key=lambda kv: -kv[1])[:top]
    return ", ".join(f"{what} {n / 1024:.1f}" for what, n in ranked) + " (KiB)"


def shape_of(events: Sequence[Any]) -> Shape:
    counts = [0] * (len(UPDATES) + 1)
    phase = 0
    children = 0
    for e in events:
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
            phase = min(phase + 1, len(UPDATES))
        elif e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            counts[phase] += 1
        elif e.event_type == EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED:
            children += 1
    return Shape(counts[0], tuple(counts[1:]), children)


# ------------------------------------------------------------------ drivers


@dataclass
class RunStats:
    """One measured kind of run (bare or real), added up over its rounds."""

    label: str
    count: int = 0
    polls: int = 0
    latencies: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    cpu: CpuMeter = field(default_factory=lambda: CpuMeter(None))
    task_times: TaskTimes = field(default_factory=TaskTimes)
    activity_cpu: dict[str, list[float]] = field(default_factory=dict)
    activity_statements: dict[str, list[int]] = field(default_factory=dict)

    @property
    def completed(self) -> int:
        return len(self.latencies)

    @property
    def wall(self) -> float:
        return self.cpu.wall

    @property
    def rate(self) -> float:
        return self.completed / self.wall if self.wall > 0 else 0.0


class DriverError(RuntimeError):
    pass


async def poll_until(
    fetch: Callable[[], Awaitable[T]],
    ready: Callable[[T], bool],
    *,
    interval: float,
    timeout: float,
    stats: RunStats,
    what: str,
) -> T:
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        stats.polls += 1
        try:
            value = await fetch()
        except (WorkflowQueryFailedError, RPCError) as exc:  # not started yet, say
            last = exc
        else:
            if ready(value):
                return value
            last = value
        await asyncio.sleep(interval)
    raise DriverError(f"{what}: not reached within {timeout:.0f} s (last: {last!r:.300})")


@dataclass(frozen=True)
class DriveConfig:
    client: Client
    task_queue: str
    end_today: date
    poll_interval: float
    renewal_timeout: float


def _legal_review(status: RenewalStatus) -> bool:
    if status.stage in (RenewalStage.ESCALATED, RenewalStage.COMPLETED):
        raise DriverError(f"renewal went to {status.stage.value} instead of legal review")
    return status.stage is RenewalStage.LEGAL_REVIEW and bool(status.drafts)


async def drive_real(cfg: DriveConfig, contract_id: str, stats: RunStats) -> None:
    """One contract through every milestone and a review decision (see the module docstring)."""
    client = cfg.client
    started = await renewals.start_renewal(
        client,
        contract_id=contract_id,
        term=1,
        requested_by=OWNER,
        task_queue=cfg.task_queue,
        policy=_policy(),
        search_attributes=True,
    )
    if not started.created:
        raise DriverError(f"{contract_id}: a term-1 workflow already existed")
    status = await poll_until(
        lambda: renewals.get_status(client, contract_id=contract_id, term=1),
        _legal_review,
        interval=cfg.poll_interval,
        timeout=cfg.renewal_timeout,
        stats=stats,
        what=f"{contract_id} in legal review",
    )
    draft = status.drafts[-1]
    await renewals.submit_review(
        client,
        signer=IDENTITY.signer(subject=REVIEWER, roles=("legal",)),
        contract_id=contract_id,
        term=1,
        submission=ReviewSubmission(
            decision=ReviewDecisionKind.APPROVE,
            reviewer=REVIEWER,
            draft_version=draft.version,
            content_hash=draft.content_hash,
        ),
    )
    buyer = IDENTITY.signer(subject=OWNER, roles=("procurement",))
    await renewals.amend_renewal(
        client,
        signer=buyer,
        contract_id=contract_id,
        term=1,
        amendment=ContractAmendment(
            end_date=cfg.end_today, amended_by=OWNER, reason="bench: the term ends today"
        ),
    )
    handle = renewals.renewal_handle(client, contract_id=contract_id, term=1)
    outcome = await asyncio.wait_for(handle.result(), cfg.renewal_timeout)
    kind = getattr(outcome, "kind", None)
    if kind not in (OutcomeKind.RENEWED, OutcomeKind.ROLLED_OVER):
        raise DriverError(f"{contract_id}: outcome {kind!r}, expected renewed or rolled over")


async def drive_bare(cfg: DriveConfig, workflow_id: str, bare: BareInput, stats: RunStats) -> None:
    client = cfg.client
    handle = await client.start_workflow(
        BareRenewalWorkflow.run, bare, id=workflow_id, task_queue=cfg.task_queue
    )
    await poll_until(
        lambda: handle.query(BareRenewalWorkflow.status),
        lambda s: s == "legal_review",
        interval=cfg.poll_interval,
        timeout=cfg.renewal_timeout,
        stats=stats,
        what=f"{workflow_id} in review",
    )
    for name in UPDATES:
        await handle.execute_update(BareRenewalWorkflow.step, name)
    result = await asyncio.wait_for(handle.result(), cfg.renewal_timeout)
    if result != "renewed":
        raise DriverError(f"{workflow_id}: {result!r}")


async def run_many(
    stats: RunStats,
    jobs: Sequence[Callable[[RunStats], Awaitable[None]]],
    *,
    in_flight: int,
    timeout: float,
) -> RunStats:
    """All ``jobs``, at most ``in_flight`` at a time, added to ``stats``; wall time from the first
    start to the last completion. Bounded by ``timeout``: what is left then counts as failed."""
    gate = asyncio.Semaphore(in_flight)
    stats.count += len(jobs)

    async def one(job: Callable[[RunStats], Awaitable[None]]) -> None:
        async with gate:
            t = time.monotonic()
            try:
                await job(stats)
            except Exception as exc:
                # An update's refusal says why in its cause, not in its own message.
                cause = f" ({exc.__cause__})" if exc.__cause__ is not None else ""
                stats.failures.append(f"{type(exc).__name__}: {exc}{cause}")
                return
            stats.latencies.append(time.monotonic() - t)

    stats.cpu.server_pid = dev_server_pid()
    stats.cpu.start()
    tasks = [asyncio.create_task(one(j)) for j in jobs]
    progress = asyncio.create_task(_report_progress(stats))
    try:
        _, pending = await asyncio.wait(tasks, timeout=timeout)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
            stats.failures.append(f"{len(pending)} renewal(s) unfinished after {timeout:.0f} s")
    finally:
        progress.cancel()
        stats.cpu.stop()
    return stats


async def _report_progress(stats: RunStats) -> None:
    t0 = time.monotonic()
    while True:
        await asyncio.sleep(10)
        log(
            f"{stats.label}: {stats.completed}/{stats.count} done, {len(stats.failures)} failed, "
            f"{time.monotonic() - t0:.0f} s into this round"
        )


async def replay_ms(workflow_cls: type, history: WorkflowHistory, times: int) -> float:
    """Milliseconds of worker CPU to run one whole term's workflow code (sandbox included), from
    replaying its history: the workflow side of the cost, without server or activities."""
    replayer = Replayer(workflows=[workflow_cls], data_converter=pydantic_data_converter)
    await replayer.replay_workflow(history)  # warm: imports, sandbox validation
    t = time.process_time()
    for _ in range(times):
        await replayer.replay_workflow(history)
    return (time.process_time() - t) / times * 1000


# ------------------------------------------------------------------ the benchmark


def _bare_worker(
    client: Client, task_queue: str, executor: ThreadPoolExecutor, max_activities: int
) -> Worker:
    # The settings build_worker gives the real worker, minus the real workflows and activities.
    return Worker(
        client,
        task_queue=task_queue,
        workflows=[BareRenewalWorkflow],
        activities=[noop_activity],
        activity_executor=executor,
        max_concurrent_activities=max_activities,
        graceful_shutdown_timeout=timedelta(seconds=30),
    )


def _real_worker(
    cfg: DriveConfig, database_url: str, executor: ThreadPoolExecutor, max_activities: int
) -> Worker:
    """The real worker as build_worker makes it, with the Renewal* search attributes kept."""
    return build_worker(
        cfg.client,
        identity_keys=IDENTITY,
        task_queue=cfg.task_queue,
        database_url=database_url,
        executor=executor,
        max_concurrent_activities=max_activities,
        search_attributes=True,
    )


def _seed(db: BenchDatabase, ids: Sequence[str], deliveries: int) -> float:
    today = today_utc()
    start = today - relativedelta(months=11)
    end = today + relativedelta(months=1, days=5)
    t = time.monotonic()
    suppliers = [f"S-LC-{i:02d}" for i in range(SUPPLIERS)]
    insert_suppliers(db.engine, suppliers)
    rows = [
        {
            **contract_row(
                cid,
                supplier_id=suppliers[i % SUPPLIERS],
                start_date=start,
                end_date=end,
                notice_period_days=0,
                owner=OWNER,
            ),
            "auto_renewal": True,
            "term_model": "auto_renewing",
        }
        for i, cid in enumerate(ids)
    ]
    insert_contracts(db.engine, rows)
    if deliveries:
        drows = [
            r
            for i, cid in enumerate(ids)
            for r in delivery_rows(cid, suppliers[i % SUPPLIERS], end=today, count=deliveries)
        ]
        insert_deliveries(db.engine, drows)
    return time.monotonic() - t


def _history_rows(fig: Figures, label: str, h: HistorySummary) -> None:
    fig.add(f"{label}: history events", h.events, h.verdict())
    fig.add(
        f"{label}: history size",
        f"{h.size_bytes / 1024:,.1f} KiB",
        f"{h.size_bytes / HISTORY_BYTES_WARN:.2%} of the 10 MiB size warning",
    )
    fig.add(
        f"{label}: activities / updates / children",
        f"{h.activities} / {h.updates} / {h.children}",
        f"timers {h.timers}, search-attribute upserts {h.upserts}, workflow tasks "
        f"{h.workflow_tasks}",
    )


def _run_rows(fig: Figures, stats: RunStats) -> None:
    fig.add(f"{stats.label}: completed", f"{stats.completed} of {stats.count}")
    fig.add(f"{stats.label}: measured wall time", f"{stats.wall:.1f} s")
    fig.add(f"{stats.label}: renewals/s", stats.rate)
    fig.add(
        f"{stats.label}: latency p50 / p95",
        f"{percentile(stats.latencies, 50):.2f} / {percentile(stats.latencies, 95):.2f} s",
        "start to result, per renewal",
    )
    fig.add(f"{stats.label}: status polls per renewal", stats.polls / max(stats.count, 1))
    fig.add(f"{stats.label}: CPU used", stats.cpu.describe())
    done = max(stats.completed, 1)
    fig.add(
        f"{stats.label}: CPU per renewal",
        f"{stats.cpu.self_cpu / done * 1000:,.0f} + {stats.cpu.server_cpu / done * 1000:,.0f} ms",
        "bench process (worker + driver) + dev server",
    )
    fig.add(f"{stats.label}: activity tasks", stats.task_times.describe("activity"))
    fig.add(f"{stats.label}: workflow tasks", stats.task_times.describe("workflow"))
    if stats.label != "bare":
        fig.add(
            f"{stats.label}: slowest activities (p50 run)",
            stats.task_times.slowest_activities(),
        )
    if stats.activity_cpu:
        per_type = sorted(stats.activity_cpu.items(), key=lambda kv: -sum(kv[1]))
        total = sum(sum(v) for _, v in per_type)
        fig.add(
            f"{stats.label}: activity bodies' CPU per renewal",
            f"{total / done * 1000:.1f} ms",
            "thread CPU inside the activity functions; "
            + ", ".join(
                f"{name} {sum(v) / done * 1000:.1f} ms ({len(v) / done:.0f}x)"
                for name, v in per_type[:6]
            ),
        )
    if stats.activity_statements:
        per_type_n = sorted(stats.activity_statements.items(), key=lambda kv: -sum(kv[1]))
        fig.add(
            f"{stats.label}: SQL statements per renewal",
            f"{sum(sum(v) for _, v in per_type_n) / done:.1f}",
            "sent by the activity bodies (BEGIN and COMMIT not counted); "
            + ", ".join(f"{name} {sum(v) / done:.1f}" for name, v in per_type_n[:8]),
        )
    retried = stats.task_times.retried
    fig.add(
        f"{stats.label}: retried activities (sample)",
        len(retried),
        retried[0] if retried else "in the sampled histories",
    )
    if stats.failures:
        fig.add(f"{stats.label}: FAILURES", len(stats.failures), stats.failures[0][:200])


@dataclass
class Calibration:
    shape: Shape
    real_history: HistorySummary
    bare_history: HistorySummary
    real_replay_ms: float
    bare_replay_ms: float
    idle_times: TaskTimes
    real_payloads: str


async def _calibrate(
    client: Client,
    db: BenchDatabase,
    executor: ThreadPoolExecutor,
    args: argparse.Namespace,
    real_cfg: DriveConfig,
    bare_cfg: DriveConfig,
    calibration_id: str,
    run_id: str,
) -> Calibration:
    """One real renewal on an idle worker: its shape (from its history), then one bare workflow
    of that shape; and what replaying each costs."""
    mca = args.max_concurrent_activities
    log("calibration: one real renewal")
    async with _real_worker(real_cfg, db.url, executor, mca):
        cal = await run_many(
            RunStats("calibration"),
            [functools.partial(drive_real, real_cfg, calibration_id)],
            in_flight=1,
            timeout=min(args.timeout, 120),
        )
        if cal.failures:
            raise SystemExit(f"calibration renewal failed: {cal.failures[0]}")
        real_wh = await renewals.renewal_handle(
            client, contract_id=calibration_id, term=1
        ).fetch_history()
    events = list(real_wh.events)
    shape = shape_of(events)
    idle_times = TaskTimes()
    idle_times.add_history(events)
    log(f"real shape: {shape}")
    if args.save_history:
        Path(args.save_history).write_text(real_wh.to_json(), encoding="utf-8")
        log(f"calibration history saved to {args.save_history}")
    async with _bare_worker(client, bare_cfg.task_queue, executor, mca):
        wid = f"bare-{run_id}-calibration"
        warm = await run_many(
            RunStats("bare calibration"),
            [functools.partial(drive_bare, bare_cfg, wid, shape.bare_input())],
            in_flight=1,
            timeout=60,
        )
        if warm.failures:
            raise SystemExit(f"bare calibration failed: {warm.failures[0]}")
        bare_wh = await client.get_workflow_handle(wid).fetch_history()
    bare_history = summarize_history(list(bare_wh.events))
    if bare_history.activities != shape.activities:
        raise SystemExit(
            f"bare workflow ran {bare_history.activities} activities, the real one "
            f"{shape.activities}"
        )
    return Calibration(
        shape=shape,
        real_history=summarize_history(events),
        bare_history=bare_history,
        real_replay_ms=await replay_ms(ContractRenewalWorkflow, real_wh, 20),
        bare_replay_ms=await replay_ms(BareRenewalWorkflow, bare_wh, 20),
        idle_times=idle_times,
        real_payloads=largest_payloads(events),
    )


async def bench(args: argparse.Namespace) -> Figures:
    n = args.contracts
    run_id = uuid.uuid4().hex[:6]
    ids = [f"LC{run_id}-{i:06d}" for i in range(n)]
    bare_ids = [f"bare-{run_id}-{i:06d}" for i in range(n)]
    calibration_id = f"LC{run_id}-calibration"
    end_today = today_utc()
    rounds = max(1, min(args.rounds, n))
    chunks = [range(r * n // rounds, (r + 1) * n // rounds) for r in range(rounds)]
    mca = args.max_concurrent_activities

    fig = Figures(f"Lifecycle benchmark: {n} renewals, real workflow vs bare baseline")
    fig.section("setup")
    fig.add("machine", machine_line())
    fig.add("load average at start", load_average(), "1/5/15 min; the box may be shared")
    fig.add("code", git_revision())

    bare = RunStats("bare")
    real = RunStats("real")
    hollow = RunStats("hollow")
    hollow_ids = [f"LH{run_id}-{i:06d}" for i in range(n)]  # not in the database: not needed
    with bench_database(args.database_url) as db:
        seeded = _seed(db, [calibration_id, *ids], args.deliveries)
        fig.add("database", db.label)
        fig.add("contracts seeded", n + 1, f"{seeded:.1f} s, {args.deliveries} deliveries each")
        fig.add(
            "worker",
            f"build_worker(max_concurrent_activities={mca}), {mca} executor threads",
            "other Worker options: temporalio defaults; in-process with the driver",
        )
        fig.add(
            "driving",
            f"{args.in_flight} in flight, {rounds} round(s)",
            f"status polled every {args.poll_interval} s; bare then real in each round",
        )
        meter = ActivityCpuMeter()
        hollowing = HollowActivities()
        hollowing.record_from = (calibration_id, renewal_workflow_id(calibration_id, 1))
        async with dev_server() as env:
            park = f"park-{run_id}"
            client = Client(
                env.client.service_client,
                namespace=env.client.namespace,
                data_converter=env.client.data_converter,
                interceptors=[ParkNextTerms(park), meter, hollowing],
            )
            real_cfg = DriveConfig(
                client, f"lc-real-{run_id}", end_today, args.poll_interval, args.timeout
            )
            bare_cfg = DriveConfig(
                client, f"lc-bare-{run_id}", end_today, args.poll_interval, args.timeout
            )
            with ThreadPoolExecutor(max_workers=mca, thread_name_prefix="activity") as executor:

                async def drive_real_worker(stats: RunStats, contract_ids: list[str]) -> None:
                    # The phase (real or hollow) is set on the interceptors around the call.
                    async with _real_worker(real_cfg, db.url, executor, mca):
                        await run_many(
                            stats,
                            [functools.partial(drive_real, real_cfg, c) for c in contract_ids],
                            in_flight=args.in_flight,
                            timeout=args.timeout,
                        )

                cal = await _calibrate(
                    client, db, executor, args, real_cfg, bare_cfg, calibration_id, run_id
                )
                bare_input = cal.shape.bare_input()
                # Rounds alternate bare and real, so that a change in the machine's background
                # load during the run (a shared box) weighs on both alike.
                for r, chunk in enumerate(chunks, start=1):
                    if "bare" in args.phases:
                        log(f"round {r}/{rounds}: {len(chunk)} bare workflows")
                        async with _bare_worker(client, bare_cfg.task_queue, executor, mca):
                            await run_many(
                                bare,
                                [
                                    functools.partial(drive_bare, bare_cfg, bare_ids[i], bare_input)
                                    for i in chunk
                                ],
                                in_flight=args.in_flight,
                                timeout=args.timeout,
                            )
                    if "real" in args.phases:
                        log(f"round {r}/{rounds}: {len(chunk)} real renewals")
                        meter.into = real.activity_cpu
                        meter.statements = real.activity_statements
                        await drive_real_worker(real, [ids[i] for i in chunk])
                        meter.into = None
                    if "hollow" in args.phases:
                        log(f"round {r}/{rounds}: {len(chunk)} hollow renewals")
                        hollowing.replaying = True
                        await drive_real_worker(hollow, [hollow_ids[i] for i in chunk])
                        hollowing.replaying = False
            sample_history: HistorySummary | None = None
            if real.count:
                real.task_times = await sample_task_times(
                    client, [renewal_workflow_id(cid, 1) for cid in ids]
                )
                last = renewals.renewal_handle(client, contract_id=ids[-1], term=1)
                sample_history = summarize_history(list((await last.fetch_history()).events))
            if bare.count:
                bare.task_times = await sample_task_times(client, bare_ids)
            parked = await client.count_workflows(f"TaskQueue = '{park}'")
        with db.engine.connect() as conn:
            renewed_rows = conn.scalar(
                select(func.count())
                .select_from(ContractRow)
                .where(ContractRow.id.in_(ids), ContractRow.current_term == 2)
            )

    shape = cal.shape
    fig.section("one renewal term (calibration run on an idle worker)")
    fig.add(
        "activities by phase",
        shape.phases(),
        "before the first update, then after each until the next",
    )
    _history_rows(fig, "real", cal.real_history)
    fig.add("real: history bytes by carrier", cal.real_payloads, "an activity's in / out events")
    if sample_history is not None:
        _history_rows(fig, "real, last measured", sample_history)
    _history_rows(fig, "bare", cal.bare_history)
    fig.add(
        "events per term vs limits",
        f"{cal.real_history.events} / {HISTORY_EVENT_WARN:,} / {HISTORY_EVENT_LIMIT:,}",
        f"~{HISTORY_EVENT_WARN // max(cal.real_history.events, 1)} terms' worth before the "
        "warning; each term is its own workflow",
    )
    fig.add(
        "workflow code per term (replay)",
        f"{cal.real_replay_ms:.0f} ms real / {cal.bare_replay_ms:.0f} ms bare",
        "worker CPU to run every workflow task of one term, sandbox included",
    )
    fig.add("activities, idle worker (p50 run)", cal.idle_times.slowest_activities(top=6))

    fig.section("throughput")
    for stats in (bare, real, hollow):
        if stats.count:
            _run_rows(fig, stats)
    if bare.count and real.count:
        ratio = real.rate / bare.rate if bare.rate else 0.0
        fig.add(
            "real / bare",
            f"{ratio:.2f}",
            "target >= 0.80: " + ("met" if ratio >= 0.8 else "NOT met"),
        )

        def per_renewal(st: RunStats) -> float:
            return (st.cpu.self_cpu + st.cpu.server_cpu) / max(st.completed, 1)

        fig.add(
            "bare / real CPU per renewal",
            f"{per_renewal(bare) / per_renewal(real):.2f}",
            "the throughput ratio to expect where CPU is the limit and nobody else uses it",
        )
    if bare.count and hollow.count:
        ceiling = hollow.rate / bare.rate if bare.rate else 0.0
        fig.add(
            "hollow / bare",
            f"{ceiling:.2f}",
            "the ceiling of real / bare: the real workflow with activities that do no work "
            f"({hollowing.fallbacks} call(s) had no recorded result and ran for real)",
        )
    if real.count:
        fig.add(
            "real renewals written to the database", f"{renewed_rows} of {n}", "current_term = 2"
        )
    fig.add(
        "next-term workflows parked",
        parked.count,
        f"real + bare + calibration, on {park} (no worker); gone with the dev server",
    )
    fig.add("load average at end", load_average())
    return fig


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--contracts", type=int, default=500)
    parser.add_argument(
        "--in-flight", type=int, default=100, help="renewals driven concurrently (default 100)"
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=2,
        help="alternate bare and real in this many rounds of contracts/rounds each (default 2)",
    )
    parser.add_argument("--poll-interval", type=float, default=0.25)
    parser.add_argument(
        "--deliveries", type=int, default=12, help="delivery rows per contract (scoring input)"
    )
    parser.add_argument(
        "--phases",
        type=lambda v: set(v.split(",")),
        default={"bare", "real", "hollow"},
        help="measured phases, comma-separated: bare,real,hollow (the calibration always runs)",
    )
    parser.add_argument(
        "--save-history",
        metavar="PATH",
        help="write the calibration renewal's history (JSON, as WorkflowHistory.to_json) here",
    )
    add_common_args(parser)
    args = parser.parse_args()
    if args.contracts < 1:
        parser.error("--contracts must be at least 1")
    t = time.monotonic()
    fig = asyncio.run(bench(args))
    fig.add("benchmark run time", f"{time.monotonic() - t:.0f} s")
    fig.print()


if __name__ == "__main__":
    main()
