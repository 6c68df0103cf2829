"""Worker memory with many renewals waiting on timers.

    .venv/bin/python bench/worker_memory_bench.py                  # 10,000 renewals
    .venv/bin/python bench/worker_memory_bench.py --renewals 2000  # smoke run

The worker runs as its own process, exactly as deployed: ``python worker.py``, configured through
the environment (TEMPORAL_ADDRESS, TEMPORAL_TASK_QUEUE, DATABASE_URL, RENEWALS_DATA_DIR; see
config/settings.py), in a temporary working directory so that no ``.env`` is read. Its resident
set size (VmRSS in /proc/<pid>/status) is sampled throughout:

* idle: polling, before any renewal exists;
* peak: the highest sample while ``--renewals`` renewals are started and each runs its first
  workflow tasks (load the contract, plan, open the term) and settles on its first milestone
  timer (the contracts end 12-18 months away, so that timer is months off); VmHWM, the kernel's
  own high-water mark, is reported too;
* settled: after every renewal has opened its term (its ``renewals`` row exists) and has no
  pending workflow task or activity, plus ``--settle-seconds`` of quiet.

The worker's sticky cache holds ``--max-cached-workflows`` workflows (WORKER_MAX_CACHED_WORKFLOWS,
default 1,000, temporalio's own default); once more renewals exist than that, the cache is full
and evicts: memory is bounded by the cache size, not by the number of renewals.
"""

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from _common import (
    ROOT,
    BenchDatabase,
    Figures,
    add_common_args,
    bench_database,
    contract_row,
    count_renewal_rows,
    cpu_seconds,
    dev_server,
    dev_server_pid,
    git_revision,
    insert_contracts,
    insert_suppliers,
    load_average,
    log,
    machine_line,
    mib,
    proc_status_kib,
    today_utc,
    wait_until,
)
from dateutil.relativedelta import relativedelta
from temporalio.client import Client

from clients import renewals
from config.settings import Settings
from workflows.ids import renewal_workflow_id

SUPPLIERS = 100
OWNER = "buyer@example.com"


def _seed(db: BenchDatabase, ids: list[str]) -> float:
    today = today_utc()
    suppliers = [f"S-MEM-{i:03d}" for i in range(SUPPLIERS)]
    rows = [
        contract_row(
            cid,
            supplier_id=suppliers[i % SUPPLIERS],
            start_date=today - relativedelta(months=6),
            end_date=today + relativedelta(months=12, days=i % 180),
            notice_period_days=30,
            owner=OWNER,
        )
        for i, cid in enumerate(ids)
    ]
    t = time.monotonic()
    insert_suppliers(db.engine, suppliers)
    insert_contracts(db.engine, rows)
    return time.monotonic() - t


@dataclass
class RssSampler:
    """VmRSS of one process every ``interval`` seconds, in KiB."""

    pid: int
    interval: float = 0.5
    samples: list[tuple[float, int]] = field(default_factory=list)

    async def run(self) -> None:
        while True:
            rss = proc_status_kib(self.pid, "VmRSS")
            if rss:
                self.samples.append((time.monotonic(), rss))
            await asyncio.sleep(self.interval)

    def latest(self) -> int:
        return self.samples[-1][1] if self.samples else 0

    def peak_since(self, t: float) -> int:
        return max((rss for at, rss in self.samples if at >= t), default=0)

    def timeline(self, t0: float, points: int = 8) -> str:
        """RSS at ``points`` evenly spaced moments since ``t0``, in MiB."""
        window = [(at - t0, rss) for at, rss in self.samples if at >= t0]
        if not window:
            return ""
        step = max(1, len(window) // points)
        picked = [*window[::step][: points - 1], window[-1]]
        return ", ".join(f"{at:.0f}s {rss / 1024:.0f}" for at, rss in picked)

    def mean_since(self, t: float) -> int:
        window = [rss for at, rss in self.samples if at >= t]
        return sum(window) // len(window) if window else 0


def _spawn_worker(
    address: str,
    task_queue: str,
    database_url: str,
    workdir: Path,
    max_activities: int,
    max_cached: int,
) -> tuple[subprocess.Popen[bytes], Path]:
    log_path = workdir / "worker.log"
    # The bench's client uses the plain pydantic converter: no payload encryption either side.
    inherited = {k: v for k, v in os.environ.items() if not k.upper().startswith("PAYLOAD_")}
    env = {
        **inherited,
        "TEMPORAL_ADDRESS": address,
        "TEMPORAL_NAMESPACE": "default",
        "TEMPORAL_TASK_QUEUE": task_queue,
        "DATABASE_URL": database_url,
        "RENEWALS_DATA_DIR": str(workdir),
        "WORKER_MAX_CONCURRENT_ACTIVITIES": str(max_activities),
        "WORKER_MAX_CACHED_WORKFLOWS": str(max_cached),
        "PYTHONUNBUFFERED": "1",
    }
    with log_path.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, str(ROOT / "worker.py")],
            env=env,
            cwd=workdir,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    return proc, log_path


async def _stop_worker(proc: subprocess.Popen[bytes]) -> str:
    if proc.poll() is not None:
        return f"had already exited with {proc.returncode}"
    proc.send_signal(signal.SIGTERM)
    t = time.monotonic()
    while proc.poll() is None and time.monotonic() - t < 60:
        await asyncio.sleep(0.2)
    if proc.poll() is None:
        proc.kill()
        proc.wait(timeout=10)
        return "did not stop within 60 s of SIGTERM; killed"
    return f"stopped on SIGTERM in {time.monotonic() - t:.1f} s, exit code {proc.returncode}"


async def _start_all(client: Client, ids: list[str], task_queue: str, in_flight: int) -> float:
    gate = asyncio.Semaphore(in_flight)

    async def one(cid: str) -> None:
        async with gate:
            await renewals.start_renewal(
                client,
                contract_id=cid,
                term=1,
                requested_by=OWNER,
                task_queue=task_queue,
                search_attributes=True,
            )

    t = time.monotonic()
    await asyncio.gather(*(one(c) for c in ids))
    return time.monotonic() - t


async def _unsettled(client: Client, ids: list[str], in_flight: int = 50) -> list[str]:
    """Renewals that still have a workflow task or an activity pending."""
    gate = asyncio.Semaphore(in_flight)
    busy: list[str] = []

    async def one(cid: str) -> None:
        async with gate:
            handle = client.get_workflow_handle(renewal_workflow_id(cid, 1))
            raw = (await handle.describe()).raw_description
            if raw.HasField("pending_workflow_task") or raw.pending_activities:
                busy.append(cid)

    await asyncio.gather(*(one(c) for c in ids))
    return busy


def _log_problems(log_path: Path) -> tuple[int, str]:
    """Warning and error lines in the worker's log: how many, and the first."""
    lines = [
        line
        for line in log_path.read_text(errors="replace").splitlines()
        if " WARNING " in line or " ERROR " in line or " WARN " in line or "Traceback" in line
    ]
    return len(lines), (lines[0][:200] if lines else "none")


async def bench(args: argparse.Namespace) -> Figures:
    n: int = args.renewals
    run_id = uuid.uuid4().hex[:6]
    ids = [f"MEM{run_id}-{i:06d}" for i in range(n)]
    tq = f"mem-bench-{run_id}"
    fig = Figures(f"Worker memory benchmark: {n:,} renewals waiting on timers")
    fig.section("setup")
    fig.add("machine", machine_line())
    fig.add("load average at start", load_average(), "1/5/15 min; the box may be shared")
    fig.add("code", git_revision())
    fig.add(
        "worker",
        "python worker.py (separate process)",
        f"WORKER_MAX_CONCURRENT_ACTIVITIES={args.max_concurrent_activities}",
    )
    fig.add(
        "max_cached_workflows",
        args.max_cached_workflows,
        "WORKER_MAX_CACHED_WORKFLOWS (Settings default: "
        f"{Settings.model_fields['worker_max_cached_workflows'].default:,})",
    )
    with (
        bench_database(args.database_url) as db,
        tempfile.TemporaryDirectory(prefix="renewals-worker-") as tmp,
    ):
        seeded = _seed(db, ids)
        fig.add("database", db.label)
        fig.add("contracts seeded", n, f"{seeded:.1f} s")
        async with dev_server() as env:
            address = env.client.service_client.config.target_host
            proc, log_path = _spawn_worker(
                address,
                tq,
                db.url,
                Path(tmp),
                args.max_concurrent_activities,
                args.max_cached_workflows,
            )
            sampler = RssSampler(proc.pid)
            sampling = asyncio.create_task(sampler.run())
            try:

                async def polling() -> bool:
                    if proc.poll() is not None:
                        raise SystemExit(
                            f"worker exited with {proc.returncode}:\n{log_path.read_text()[-3000:]}"
                        )
                    return "worker polling" in log_path.read_text(errors="replace")

                await wait_until(polling, timeout=120, interval=0.2, what="worker polling")
                await asyncio.sleep(args.idle_seconds)
                t_idle = time.monotonic() - args.idle_seconds / 2
                idle = sampler.mean_since(t_idle)
                cpu0 = cpu_seconds(proc.pid)
                log(f"worker idle at {mib(idle)}; starting {n} renewals")

                t_start = time.monotonic()
                start_wall = await _start_all(env.client, ids, tq, args.in_flight)
                log(f"started {n} in {start_wall:.1f} s; waiting for every term to open")

                async def all_opened() -> bool:
                    return await asyncio.to_thread(count_renewal_rows, db.engine) >= n

                await wait_until(all_opened, timeout=args.timeout, interval=2.0, what="opened")
                opened = time.monotonic() - t_start
                busy = ids
                deadline = time.monotonic() + args.timeout
                while busy and time.monotonic() < deadline:
                    busy = await _unsettled(env.client, busy)
                    if busy:
                        log(f"{len(busy)} renewals still have pending tasks")
                        await asyncio.sleep(2)
                settled_at = time.monotonic() - t_start
                peak = sampler.peak_since(t_start)
                worker_cpu = cpu_seconds(proc.pid) - cpu0
                log(f"all settled after {settled_at:.0f} s; quiet for {args.settle_seconds} s")
                t_quiet = time.monotonic()
                await asyncio.sleep(args.settle_seconds)
                settled = sampler.mean_since(t_quiet + args.settle_seconds / 2)
                hwm = proc_status_kib(proc.pid, "VmHWM")
                server_pid = dev_server_pid()
                server_rss = proc_status_kib(server_pid, "VmRSS") if server_pid else 0
                rss_timeline = sampler.timeline(t_start)
                problems, first_problem = _log_problems(log_path)
                running = (
                    await env.client.count_workflows(
                        f"TaskQueue = '{tq}' AND ExecutionStatus = 'Running'"
                    )
                ).count
            finally:
                sampling.cancel()
                stopped = await _stop_worker(proc)

    cache_size: int = args.max_cached_workflows
    cached = max(min(n, cache_size), 1)
    fig.section("timeline")
    fig.add("renewals started", f"{start_wall:.1f} s", f"{n / start_wall:,.0f} starts/s")
    fig.add("all terms opened", f"{opened:.1f} s", "renewals rows written (open_renewal done)")
    fig.add("all settled", f"{settled_at:.1f} s", "no pending workflow task or activity")
    fig.add("renewals running at the end", running, "each waiting on its first milestone timer")
    fig.add(
        "worker CPU while starting",
        f"{worker_cpu:.0f} s",
        f"{worker_cpu / n * 1000:.1f} ms per renewal",
    )
    fig.section("worker RSS (VmRSS)")
    fig.add("idle, polling", mib(idle))
    fig.add("peak while starting", mib(peak), f"kernel high-water mark VmHWM {mib(hwm)}")
    fig.add("settled", mib(settled), f"after {args.settle_seconds:.0f} s quiet")
    fig.add(
        "settled - idle",
        mib(settled - idle),
        f"~{(settled - idle) / cached:,.0f} KiB per cached workflow ({cached:,} cached at most)",
    )
    if n < cache_size:
        fig.add(
            "projection at the cache limit",
            mib(idle + (settled - idle) * cache_size // cached),
            f"idle + {cache_size:,} cached workflows (linear guess); more are evicted",
        )
    fig.add("RSS over time (MiB)", rss_timeline, "seconds since the first start")
    fig.add("worker log warnings/errors", problems, first_problem)
    fig.add("dev server RSS at the end", mib(server_rss))
    fig.add("worker shutdown", stopped)
    fig.add("load average at end", load_average())
    return fig


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--renewals", type=int, default=10_000)
    parser.add_argument("--in-flight", type=int, default=100, help="concurrent start requests")
    parser.add_argument("--idle-seconds", type=float, default=10.0)
    parser.add_argument("--settle-seconds", type=float, default=60.0)
    parser.add_argument(
        "--max-cached-workflows",
        type=int,
        default=Settings.model_fields["worker_max_cached_workflows"].default,
        help="the worker's sticky cache size (WORKER_MAX_CACHED_WORKFLOWS)",
    )
    add_common_args(parser)
    args = parser.parse_args()
    if args.renewals < 1:
        parser.error("--renewals must be at least 1")
    t = time.monotonic()
    fig = asyncio.run(bench(args))
    fig.add("benchmark run time", f"{time.monotonic() - t:.0f} s")
    fig.print()


if __name__ == "__main__":
    main()
