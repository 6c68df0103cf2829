"""The scheduled sweep at scale: how long RenewalSweepWorkflow takes to find and start the
renewals that have come due among many contracts.

    .venv/bin/python bench/sweep_bench.py                       # 100,000 contracts, 10,000 due
    .venv/bin/python bench/sweep_bench.py --contracts 10000 --due 1000   # smoke run
    .venv/bin/python bench/sweep_bench.py --database-url postgresql://postgres@127.0.0.1:5432/test

The contracts are bulk-inserted (suppliers first, then executemany in chunks): ``--due`` of them,
spread evenly over the id order, end 4-6 months from now, so their first milestone (6 months
before the end) has passed; the rest end 2-3 years away. The real workers run in-process as
``worker.run_worker`` deploys them: the renewals' worker (``build_worker``) and the sweep's
(``build_sweep_worker``, on its own task queue), sharing one database engine. The sweep reads
only candidates (contracts near their end whose term has no renewal, through the end_date
index) and starts ContractRenewalWorkflow for each due one on the renewals' queue.

Reported: the first sweep's wall time and contracts examined per second, the time until every
due renewal is visible (Temporal visibility) and has opened its term (its ``renewals`` row,
written by the open_renewal activity), a second sweep over the same contracts (nothing new to
start), the per-page activity times, and the history length of each sweep run (the sweep
continues as new every ``--batches-per-run`` pages). The sweep lets ``--open-rate`` renewals a
second begin their work (``SWEEP_OPEN_RATE``, activities/sweep_activities.py), so the time
until every renewal has opened is at least due / rate. The renewals are not waited for: a batch
job terminates them at the end, and the in-memory dev server is discarded.
"""

import argparse
import asyncio
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from _common import (
    HISTORY_EVENT_WARN,
    BenchDatabase,
    CpuMeter,
    Figures,
    TaskTimes,
    add_common_args,
    batch_terminate,
    bench_database,
    contract_row,
    count_renewal_rows,
    count_workflows,
    dev_server,
    dev_server_pid,
    git_revision,
    insert_contracts,
    insert_suppliers,
    load_average,
    log,
    machine_line,
    percentile,
    sample_task_times,
    summarize_history,
    today_utc,
    wait_until,
)
from dateutil.relativedelta import relativedelta
from temporalio.client import Client

from activities.sweep_activities import START_CONCURRENCY
from config.identity import IdentityKeys
from config.settings import Settings
from domain.sweep import is_due, reach_days
from domain.term_plan import CalendarSettings
from models.activity_names import ActivityName
from models.contract import CommercialTerms, ContractRead, ContractStatus
from models.milestones import RenewalPolicy
from models.sweep import SweepInput, SweepTotals
from store import sweep as sweep_store
from store.db import make_engine, make_session_factory
from worker import build_sweep_worker, build_worker, pool_size_for
from workflows.ids import renewal_workflow_id
from workflows.sweep import RenewalSweepWorkflow

SUPPLIERS = 1_000
NOTICE_DAYS = 30
TRANSIT_BUFFER_DAYS = 3  # the contracts table's server default


def _as_contract(row: dict[str, Any]) -> ContractRead:
    """A seeded row as the sweep reads it (server defaults: JP, a transit buffer of 3)."""
    return ContractRead(
        id=row["id"],
        title=row["title"],
        supplier_id=row["supplier_id"],
        owner=row["owner"],
        start_date=row["start_date"],
        end_date=row["end_date"],
        notice_period_days=row["notice_period_days"],
        renewal_term_months=row["renewal_term_months"],
        currency=row["currency"],
        annual_value=row["annual_value"],
        terms=CommercialTerms(unit_price=row["unit_price"], annual_volume=row["annual_volume"]),
        current_term=row["current_term"],
        status=ContractStatus(row["status"]),
        transit_buffer_days=TRANSIT_BUFFER_DAYS,
    )


def _seed(db: BenchDatabase, n: int, due: int) -> tuple[float, set[str]]:
    """``n`` contracts, ``due`` of them inside their renewal window; (seconds, due ids)."""
    today = today_utc()
    policy = RenewalPolicy()
    start = today - relativedelta(years=1)
    due_window_end = today + relativedelta(months=policy.offsets_months[0])
    due_index = {i * n // due for i in range(due)} if due else set()
    suppliers = [f"S-SW-{i:04d}" for i in range(SUPPLIERS)]
    rows: list[dict[str, Any]] = []
    due_ids: set[str] = set()
    for i in range(n):
        cid = f"SW{i:07d}"
        if i in due_index:
            # First milestone 10-69 days ago; expiry still 4-6 months away.
            end = due_window_end - relativedelta(days=10 + i % 60)
            due_ids.add(cid)
        else:
            end = today + relativedelta(years=2, days=i % 365)
        rows.append(
            contract_row(
                cid,
                supplier_id=suppliers[i % SUPPLIERS],
                start_date=start,
                end_date=end,
                notice_period_days=NOTICE_DAYS,
            )
        )
    # The bench's notion of "due" must be the sweep's own (domain.sweep.is_due).
    cfg = CalendarSettings()
    wrong = [
        r["id"]
        for r in rows
        if (r["id"] in due_ids)
        != is_due(_as_contract(r), category=None, as_of=today, policy=policy, cfg=cfg)
    ]
    if wrong:
        raise SystemExit(f"seed data disagrees with is_due for {len(wrong)} contracts: {wrong[:3]}")
    t = time.monotonic()
    insert_suppliers(db.engine, suppliers)
    insert_contracts(db.engine, rows)
    return time.monotonic() - t, due_ids


@dataclass
class SweepRun:
    workflow_id: str
    totals: SweepTotals
    wall: float
    cpu: CpuMeter
    runs: int = 0
    history_events: list[int] | None = None
    times: TaskTimes | None = None


async def _sweep(
    client: Client, task_queue: str, workflow_id: str, inp: SweepInput, timeout: float
) -> SweepRun:
    cpu = CpuMeter(dev_server_pid())
    cpu.start()
    t = time.monotonic()
    handle = await client.start_workflow(
        RenewalSweepWorkflow.run, inp, id=workflow_id, task_queue=task_queue
    )
    # result() follows the continue-as-new chain to the last run's result.
    totals = await asyncio.wait_for(handle.result(), timeout)
    wall = time.monotonic() - t
    cpu.stop()
    return SweepRun(workflow_id, totals, wall, cpu)


async def _sweep_histories(client: Client, run: SweepRun) -> None:
    """Every run of the continue-as-new chain: its event count and its page activities."""
    runs = [w async for w in client.list_workflows(f"WorkflowId = '{run.workflow_id}'")]
    times = TaskTimes()
    lengths = []
    for w in sorted(runs, key=lambda w: w.start_time):
        history = await client.get_workflow_handle(w.id, run_id=w.run_id).fetch_history()
        events = list(history.events)
        lengths.append(summarize_history(events).events)
        times.add_history(events)
    run.runs = len(runs)
    run.history_events = lengths
    run.times = times


def _sql_probe(db: BenchDatabase, inp: SweepInput) -> tuple[float, float]:
    """Milliseconds of the whole-table maximum reach (notice plus transit, read once per sweep)
    and of one candidate page (``store.sweep.candidate_page``, with that maximum known), before
    any renewal exists."""
    sessions = make_session_factory(db.engine)
    with sessions() as session:
        t = time.perf_counter()
        for _ in range(5):
            sweep_store.max_reach_days(session)
        max_ms = (time.perf_counter() - t) / 5 * 1000
    cfg = CalendarSettings()
    t = time.perf_counter()
    for _ in range(5):
        with sessions() as session:
            sweep_store.candidate_page(
                session,
                as_of=today_utc(),
                policy=inp.policy,
                cfg=cfg,
                after_id=None,
                limit=inp.batch_size,
                reach_days=reach_days(NOTICE_DAYS, TRANSIT_BUFFER_DAYS),
            )
    page_ms = (time.perf_counter() - t) / 5 * 1000
    return max_ms, page_ms


def _sweep_rows(fig: Figures, label: str, run: SweepRun, batch_size: int) -> None:
    t = run.totals
    fig.add(f"{label}: wall time", f"{run.wall:.1f} s", "start to result, all runs")
    fig.add(
        f"{label}: examined / due / started / already",
        f"{t.examined:,} / {t.due:,} / {t.started:,} / {t.already:,}",
        f"{t.batches} pages of {batch_size}",
    )
    fig.add(f"{label}: contracts examined/s", t.examined / run.wall if run.wall else 0.0)
    if t.started:
        fig.add(f"{label}: renewals started/s", t.started / run.wall)
    if run.times is not None:
        pages = run.times.run_by_activity.get(ActivityName.START_DUE_RENEWALS, [])
        fig.add(
            f"{label}: page activity run",
            f"p50 {percentile(pages, 50):.2f} s / max {max(pages, default=0):.2f} s",
            f"{len(pages)} pages, {sum(pages):.1f} s in total",
        )
        fig.add(
            f"{label}: page activity queue wait",
            f"p50 {percentile(run.times.activity_wait, 50):.2f} s / max "
            f"{max(run.times.activity_wait, default=0):.2f} s",
            f"{sum(run.times.activity_wait):.1f} s in total: slots taken by renewal activities",
        )
        fig.add(
            f"{label}: sweep workflow tasks",
            f"{sum(run.times.wft_wait):.1f} s queued + {sum(run.times.wft_run):.1f} s running",
            f"between pages; {run.times.describe('workflow')}",
        )
        if run.times.retried:
            fig.add(
                f"{label}: retried page activities", len(run.times.retried), run.times.retried[0]
            )
    if run.history_events:
        fig.add(
            f"{label}: runs (continue-as-new)",
            run.runs,
            f"history events per run: {', '.join(str(e) for e in run.history_events)} "
            f"(max {max(run.history_events) / HISTORY_EVENT_WARN:.1%} of {HISTORY_EVENT_WARN:,})",
        )
    fig.add(f"{label}: CPU used", run.cpu.describe())


async def bench(args: argparse.Namespace) -> Figures:
    n: int = args.contracts
    due: int = args.due
    run_id = uuid.uuid4().hex[:6]
    tq = f"sweep-bench-{run_id}"
    mca = args.max_concurrent_activities
    inp = SweepInput(
        batch_size=args.batch_size,
        batches_per_run=args.batches_per_run,
        requested_by="sweep-bench",
    )
    fig = Figures(f"Sweep benchmark: {n:,} contracts, {due:,} due")
    fig.section("setup")
    fig.add("machine", machine_line())
    fig.add("load average at start", load_average(), "1/5/15 min; the box may be shared")
    fig.add("code", git_revision())
    with bench_database(args.database_url) as db:
        seeded, due_ids = _seed(db, n, due)
        fig.add("database", db.label)
        fig.add("contracts inserted", n, f"{seeded:.1f} s ({n / seeded:,.0f} rows/s), executemany")
        fig.add(
            "worker",
            f"build_worker(max_concurrent_activities={mca}), {mca} executor threads; "
            f"build_sweep_worker on {tq}-sweep",
            f"sweep pages start {START_CONCURRENCY} renewals at a time (START_CONCURRENCY)",
        )
        fig.add(
            "opening rate",
            f"{args.open_rate:g} renewals/s (SWEEP_OPEN_RATE)",
            f"the n-th renewal started waits n / rate s for its first task: the last of {due:,} "
            f"at {due / args.open_rate:,.0f} s",
        )
        fig.add(
            "sweep input",
            f"batch_size={inp.batch_size}, batches_per_run={inp.batches_per_run}",
        )
        max_ms, page_ms = _sql_probe(db, inp)
        async with dev_server() as env:
            client = env.client
            renewals_query = f"WorkflowType = 'ContractRenewalWorkflow' AND TaskQueue = '{tq}'"
            with ThreadPoolExecutor(max_workers=mca, thread_name_prefix="activity") as executor:
                sessions = make_session_factory(make_engine(db.url, pool_size=pool_size_for(mca)))
                worker = build_worker(
                    client,
                    identity_keys=IdentityKeys.generate(),
                    task_queue=tq,
                    sessions=sessions,
                    executor=executor,
                    max_concurrent_activities=mca,
                    search_attributes=True,
                )
                sweep_worker = build_sweep_worker(
                    client,
                    task_queue=f"{tq}-sweep",
                    renewal_task_queue=tq,
                    sessions=sessions,
                    search_attributes=True,
                    open_rate=args.open_rate,
                )
                async with worker, sweep_worker:
                    t0 = time.monotonic()

                    async def all_visible() -> bool:
                        return await count_workflows(client, renewals_query) >= due

                    visible = asyncio.create_task(
                        wait_until(all_visible, timeout=args.timeout, interval=1.0, what="visible")
                    )
                    log("first sweep")
                    first = await _sweep(
                        client, f"{tq}-sweep", f"sweep-{run_id}-1", inp, args.timeout
                    )
                    log(f"first sweep done in {first.wall:.1f} s: {first.totals}")
                    try:
                        await visible
                        visible_at: float | None = time.monotonic() - t0
                    except TimeoutError:
                        visible_at = None
                    log("waiting for every due renewal to open its term")

                    async def all_opened() -> bool:
                        return await asyncio.to_thread(count_renewal_rows, db.engine) >= due

                    try:
                        await wait_until(
                            all_opened, timeout=args.settle_timeout, interval=2.0, what="opened"
                        )
                        opened_at: float | None = time.monotonic() - t0
                    except TimeoutError:
                        opened_at = None
                    opened_rows = count_renewal_rows(db.engine)
                    log("second sweep")
                    second = await _sweep(
                        client, f"{tq}-sweep", f"sweep-{run_id}-2", inp, args.timeout
                    )
                    log(f"second sweep done in {second.wall:.1f} s: {second.totals}")
                    # Figures from histories: a failed read costs its rows, not the run.
                    renewal_times: TaskTimes | None = None
                    try:
                        await _sweep_histories(client, first)
                        await _sweep_histories(client, second)
                        renewal_times = await sample_task_times(
                            client, [renewal_workflow_id(c, 1) for c in sorted(due_ids)]
                        )
                    except Exception as exc:
                        log(f"reading histories failed: {exc!r}")
                    try:
                        running = await count_workflows(
                            client, f"{renewals_query} AND ExecutionStatus = 'Running'"
                        )
                    except Exception as exc:
                        log(f"counting running renewals failed: {exc!r}")
                        running = -1
                    log(f"terminating {running} renewals")
                    try:
                        terminated = await batch_terminate(
                            client,
                            f"{renewals_query} AND ExecutionStatus = 'Running'",
                            reason="sweep benchmark over",
                            timeout=args.terminate_timeout,
                        )
                    except Exception as exc:  # cleanup only: keep the figures
                        terminated = f"batch terminate failed ({exc}); the dev server discards them"

    fig.section("first sweep (starts the due renewals)")
    _sweep_rows(fig, "sweep 1", first, inp.batch_size)
    fig.add(
        "all due renewals visible",
        f"{visible_at:.1f} s" if visible_at is not None else "NOT within the timeout",
        "from the sweep's start (Temporal visibility count)",
    )
    fig.add(
        "all due renewals opened",
        f"{opened_at:.1f} s" if opened_at is not None else f"NOT within {args.settle_timeout} s",
        f"{opened_rows:,} renewals rows (open_renewal activity done)",
    )
    if renewal_times is not None:
        fig.add("renewal activities (sample of 100)", renewal_times.describe("activity"))
        fig.add("renewal workflow tasks (sample)", renewal_times.describe("workflow"))
        fig.add(
            "renewal activities retried (sample)",
            len(renewal_times.retried),
            renewal_times.retried[0] if renewal_times.retried else "",
        )
    fig.section("second sweep (nothing new to start)")
    _sweep_rows(fig, "sweep 2", second, inp.batch_size)
    fig.section("sweep SQL (measured directly, before the first sweep)")
    fig.add("max reach (notice + transit), whole table", f"{max_ms:.1f} ms", "once per sweep")
    fig.add(
        "one candidate page (store.sweep.candidate_page)",
        f"{page_ms:.1f} ms",
        f"up to {inp.batch_size} candidates through the end_date index",
    )
    fig.section("cleanup")
    fig.add("renewals running at the end", running, terminated)
    fig.add("load average at end", load_average())
    return fig


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--contracts", type=int, default=100_000)
    parser.add_argument("--due", type=int, default=10_000)
    defaults = SweepInput()
    parser.add_argument("--batch-size", type=int, default=defaults.batch_size)
    parser.add_argument("--batches-per-run", type=int, default=defaults.batches_per_run)
    parser.add_argument(
        "--settle-timeout",
        type=float,
        default=900.0,
        help="upper bound in seconds for every due renewal to open its term",
    )
    parser.add_argument("--terminate-timeout", type=float, default=300.0)
    parser.add_argument(
        "--open-rate",
        type=float,
        default=Settings.model_fields["sweep_open_rate"].default,
        help="renewals per second the sweep lets begin (default: the SWEEP_OPEN_RATE default)",
    )
    add_common_args(parser)
    args = parser.parse_args()
    if not 0 <= args.due <= args.contracts:
        parser.error("--due must be between 0 and --contracts")
    t = time.monotonic()
    fig = asyncio.run(bench(args))
    fig.add("benchmark run time", f"{time.monotonic() - t:.0f} s")
    fig.print()


if __name__ == "__main__":
    main()
