"""Contract imports at scale (issue 18: 100,000 contracts through the CLI and the API in <= 30 s,
peak RSS <= 400 MiB, other requests p95 <= 200 ms during the API import).

Seeds a migrated database (temporary SQLite, or a private PostgreSQL schema with
``--database-url``) with ``--suppliers`` suppliers and ``--owners`` buyer accounts plus a
procurement lead (who imports) and a lawyer (who reads the review queue), writes two CSV files
of ``--contracts`` contracts each, and measures, through the public doors:

* the CLI: ``renewals contracts import FILE`` as a subprocess of its own (its wall time and
  peak RSS from ``wait4``), acting for the lead through ``RENEWALS_API_TOKEN``;
* the API: ``POST /api/v1/imports/contracts`` of the second file to the app served by uvicorn
  in a subprocess of its own (its peak RSS from /proc/<pid>/status VmHWM), following a 202
  job to its end when the API answers with one, while a second client keeps asking for the
  review queue and the pipeline (``GET /api/v1/review-queue``, ``GET /api/v1/renewals``): the
  p95 of those requests during the import is the figure that says whether the app still
  answers.

    .venv/bin/python bench/import_bench.py
    .venv/bin/python bench/import_bench.py --database-url postgresql://postgres@127.0.0.1:5432/test
    BENCH_COMMIT=893c165 .venv/bin/python /tmp/before/bench/import_bench.py   # an exported tree
"""

import argparse
import asyncio
import contextlib
import csv
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
from _common import (
    DEFAULT_POSTGRES_URL,
    ROOT,
    Figures,
    bench_database,
    insert_suppliers,
    load_average,
    log,
    machine_line,
    mib,
    percentile,
    proc_status_kib,
)
from sqlalchemy import Engine, func, select

from models.tables import AuditLogRow, ContractRow
from store import users
from store.db import make_session_factory, transaction

TARGET_SECONDS = 30.0
TARGET_RSS_MIB = 400.0
TARGET_P95_MS = 200.0
LEAD = "lead@example.com"
LAWYER = "legal@example.com"
COLUMNS = (
    "id",
    "title",
    "supplier_id",
    "owner",
    "start_date",
    "end_date",
    "auto_renewal",
    "notice_period_days",
    "renewal_term_months",
    "currency",
    "annual_value",
    "unit_price",
    "annual_volume",
    "payment_terms",
    "language",
)

_SERVER = """
import sys
import uvicorn
from api.app import create_app
from config.identity import IdentityKeys
from config.settings import Settings

if sys.argv[3] == "sync":  # every file answered when done (in a worker thread), never a job
    from api.routers import imports

    imports.ASYNC_BYTES = 1 << 40
app = create_app(
    Settings(database_url=sys.argv[1], temporal_search_attributes=False),
    identity=IdentityKeys.generate(),
)
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), log_level="warning")
"""


def _args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database-url",
        default=None,
        help=f"PostgreSQL server URL (e.g. {DEFAULT_POSTGRES_URL}); a private schema is created "
        "and dropped. Default: a temporary SQLite file.",
    )
    parser.add_argument("--contracts", type=int, default=100_000, help="contracts per file")
    parser.add_argument("--suppliers", type=int, default=1_000)
    parser.add_argument("--owners", type=int, default=50, help="buyer accounts owning them")
    parser.add_argument(
        "--only", choices=("cli", "api"), default=None, help="measure one door only"
    )
    parser.add_argument(
        "--sync",
        action="store_true",
        help="the API answers every import when it is done (in a worker thread) instead of "
        "with a job for files over 1 MiB",
    )
    parser.add_argument("--timeout", type=float, default=900.0, help="upper bound per import")
    return parser.parse_args()


# ------------------------------------------------------------------ seeding


def _owner(i: int) -> str:
    return f"buyer{i}@example.com"


def _seed_people(engine: Engine, owners: int) -> dict[str, str]:
    """The owners' accounts, the lead's and the lawyer's API tokens."""
    sessions = make_session_factory(engine)
    tokens = {}
    with transaction(sessions) as s:
        for i in range(owners):
            users.create_user(s, username=_owner(i), display_name=f"Buyer {i}", roles="procurement")
        for name, role in ((LEAD, "procurement_lead"), (LAWYER, "legal")):
            users.create_user(s, username=name, display_name=role, roles=role)
            tokens[role] = users.issue_token(s, username=name, name="bench").secret
    return tokens


def write_contracts(path: Path, count: int, *, prefix: str, suppliers: int, owners: int) -> int:
    """``count`` contracts in the import layout, ending over the next three years; the size of
    the file in bytes."""
    today = date.today()
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(COLUMNS)
        for i in range(count):
            end = today + timedelta(days=20 + (i * 7919) % 1_095)
            auto = i % 3 == 0
            writer.writerow(
                (
                    f"{prefix}-{i:06d}",
                    f"Supplies contract {prefix}{i}",
                    f"S-{i % suppliers:04d}",
                    _owner(i % owners),
                    (end - timedelta(days=365)).isoformat(),
                    end.isoformat(),
                    "true" if auto else "false",
                    (30, 60, 90, 0)[i % 4],
                    12,
                    ("JPY", "USD", "EUR")[i % 3],
                    12_000_000 + i,
                    "1250.50",
                    9600,
                    "Net 60",
                    "en" if i % 2 else "ja",
                )
            )
    return path.stat().st_size


def _count(engine: Engine, prefix: str) -> int:
    with engine.connect() as conn:
        return int(
            conn.scalar(
                select(func.count())
                .select_from(ContractRow)
                .where(ContractRow.id.like(f"{prefix}-%"))
            )
            or 0
        )


def _audit_entries(engine: Engine) -> int:
    with engine.connect() as conn:
        query = select(func.count()).select_from(AuditLogRow).where(AuditLogRow.action == "import")
        return int(conn.scalar(query) or 0)


# ------------------------------------------------------------------ the CLI


def _python() -> str:
    return sys.executable


def measure_cli(url: str, token: str, path: Path, timeout: float) -> dict[str, Any]:
    """``renewals contracts import`` in a subprocess; wall time, peak RSS, exit code, output."""
    env = {**os.environ, "DATABASE_URL": url, "RENEWALS_API_TOKEN": token}
    env.pop("RENEWALS_DATA_DIR", None)
    cmd = [_python(), "-c", "from cli.main import app; app()", "contracts", "import", str(path)]
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=err)
        deadline = start + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                proc.kill()
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.05)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return {
            "wall": wall,
            "rss_kib": usage.ru_maxrss,
            "code": proc.returncode,
            "stdout": out.read().decode(errors="replace").strip(),
            "stderr": err.read().decode(errors="replace").strip()[-2000:],
        }


# ------------------------------------------------------------------ the API


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def api_server(url: str, *, sync: bool = False) -> Iterator[tuple[str, int]]:
    """The app served by uvicorn in a process of its own: (base URL, pid). ``sync``: no jobs,
    every import answered when it is done."""
    port = _free_port()
    env = {**os.environ}
    env.pop("RENEWALS_DATA_DIR", None)
    with tempfile.TemporaryDirectory(prefix="renewals-bench-api-") as data:
        env["RENEWALS_DATA_DIR"] = data
        mode = "sync" if sync else "jobs"
        proc = subprocess.Popen([_python(), "-c", _SERVER, url, str(port), mode], cwd=ROOT, env=env)
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the API server did not start")
                time.sleep(0.2)
            yield base, proc.pid
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


async def _reader(
    base: str, token: str, stop: asyncio.Event, times: list[float], codes: list[int]
) -> None:
    """Ask for the review queue and the pipeline, one after the other, until ``stop``."""
    urls = ("/api/v1/review-queue", "/api/v1/renewals?limit=50")
    async with httpx.AsyncClient(
        base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=300
    ) as http:
        n = 0
        while not stop.is_set():
            start = time.perf_counter()
            response = await http.get(urls[n % 2])
            times.append((time.perf_counter() - start) * 1000)
            codes.append(response.status_code)
            n += 1
            await asyncio.sleep(0.05)


async def _post_import(base: str, token: str, body: bytes, timeout: float) -> dict[str, Any]:
    """The import, and its job followed to the end when the API answers 202."""
    headers = {"Authorization": f"Bearer {token}", "content-type": "text/csv"}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=timeout) as http:
        start = time.perf_counter()
        response = await http.post("/api/v1/imports/contracts", content=body)
        answered = time.perf_counter() - start
        status, result, polls = response.status_code, response.json(), 0
        if status == 202:
            location = response.headers["location"]
            while True:
                await asyncio.sleep(0.25)
                job = await http.get(location)
                polls += 1
                result = job.json()
                if result.get("state") in ("succeeded", "failed"):
                    break
                if time.perf_counter() - start > timeout:
                    break
        return {
            "wall": time.perf_counter() - start,
            "answered": answered,
            "status": status,
            "result": result,
            "polls": polls,
        }


async def measure_api(
    base: str, pid: int, tokens: dict[str, str], path: Path, timeout: float
) -> dict[str, Any]:
    body = path.read_bytes()
    quiet: list[float] = []
    codes: list[int] = []
    stop = asyncio.Event()
    # The same requests on a quiet server first: what "during" is compared with.
    reader = asyncio.create_task(_reader(base, tokens["legal"], stop, quiet, codes))
    await asyncio.sleep(3)
    stop.set()
    await reader
    rss_before = proc_status_kib(pid, "VmRSS")
    during: list[float] = []
    stop = asyncio.Event()
    reader = asyncio.create_task(_reader(base, tokens["legal"], stop, during, codes))
    await asyncio.sleep(0.2)
    outcome = await _post_import(base, tokens["procurement_lead"], body, timeout)
    stop.set()
    await reader
    outcome.update(
        quiet=quiet,
        during=during,
        codes=sorted(set(codes)),
        rss_before_kib=rss_before,
        hwm_kib=proc_status_kib(pid, "VmHWM"),
    )
    return outcome


# ------------------------------------------------------------------ main


def _commit() -> str:
    if os.environ.get("BENCH_COMMIT"):
        return os.environ["BENCH_COMMIT"]
    try:
        return subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "?"


def _verdict(ok: bool) -> str:
    return "ok" if ok else "OVER TARGET"


async def main() -> None:
    args = _args()
    n = args.contracts
    with bench_database(args.database_url) as db, tempfile.TemporaryDirectory() as tmp:
        figures = Figures(f"Contract import, {n:,} contracts per file ({db.engine.dialect.name})")
        figures.section("setup")
        figures.add("machine", machine_line())
        figures.add("commit", _commit())
        figures.add("database", db.label)
        figures.add("load before", load_average())
        insert_suppliers(db.engine, [f"S-{i:04d}" for i in range(args.suppliers)])
        tokens = _seed_people(db.engine, args.owners)
        files = {}
        for prefix in ("C", "A"):
            files[prefix] = Path(tmp) / f"contracts-{prefix}.csv"
            size = write_contracts(
                files[prefix], n, prefix=prefix, suppliers=args.suppliers, owners=args.owners
            )
        figures.add("file", f"{size / 1024 / 1024:,.1f} MiB", f"{len(COLUMNS)} columns")

        if args.only in (None, "cli"):
            log(f"CLI: renewals contracts import of {n:,} contracts")
            cli = measure_cli(db.url, tokens["procurement_lead"], files["C"], args.timeout)
            stored = _count(db.engine, "C")
            figures.section(
                f"CLI: renewals contracts import (subprocess); target <= {TARGET_SECONDS:.0f} s"
            )
            figures.add(
                "wall time", f"{cli['wall']:,.1f} s", _verdict(cli["wall"] <= TARGET_SECONDS)
            )
            figures.add("rows/s", n / cli["wall"])
            rss = cli["rss_kib"] / 1024
            figures.add("peak RSS", mib(cli["rss_kib"]), _verdict(rss <= TARGET_RSS_MIB))
            figures.add("exit code", cli["code"], cli["stdout"][-100:])
            figures.add("contracts stored", stored, "ok" if stored == n else "MISSING ROWS")
            if cli["code"] != 0:
                figures.add("stderr", cli["stderr"][-300:])
            log(f"  {cli['wall']:.1f} s, {mib(cli['rss_kib'])}, exit {cli['code']}")

        if args.only in (None, "api"):
            log(f"API: POST /api/v1/imports/contracts of {n:,} contracts")
            with api_server(db.url, sync=args.sync) as (base, pid):
                api = await measure_api(base, pid, tokens, files["A"], args.timeout)
            stored = _count(db.engine, "A")
            figures.section(
                "API: POST /api/v1/imports/contracts (uvicorn subprocess"
                + (", answered when done)" if args.sync else ")")
            )
            figures.add(
                "wall time", f"{api['wall']:,.1f} s", _verdict(api["wall"] <= TARGET_SECONDS)
            )
            figures.add("rows/s", n / api["wall"])
            figures.add(
                "first answer",
                f"HTTP {api['status']} in {api['answered']:,.2f} s",
                f"{api['polls']} polls of the job" if api["status"] == 202 else "",
            )
            result = {**api["result"], **(api["result"].get("result") or {})}
            keys = ("state", "rows_read", "inserted", "rows_checked", "rows_stored")
            summary = {k: result[k] for k in keys if k in result}
            figures.add("result", str(summary or result)[:100])
            figures.add("contracts stored", stored, "ok" if stored == n else "MISSING ROWS")
            rss = api["hwm_kib"] / 1024
            figures.add(
                "server peak RSS",
                mib(api["hwm_kib"]),
                f"{_verdict(rss <= TARGET_RSS_MIB)}; {mib(api['rss_before_kib'])} before it",
            )
            quiet, during = api["quiet"], api["during"]
            figures.add(
                "GETs, quiet server, p95",
                f"{percentile(quiet, 95):,.0f} ms",
                f"p50 {percentile(quiet, 50):,.0f} ms, {len(quiet)} requests",
            )
            p95 = percentile(during, 95)
            figures.add(
                "GETs during the import, p95",
                f"{p95:,.0f} ms",
                f"{_verdict(p95 <= TARGET_P95_MS)}; p50 {percentile(during, 50):,.0f} ms, max "
                f"{max(during, default=0):,.0f} ms, {len(during)} requests, HTTP {api['codes']}",
            )
            log(f"  {api['wall']:.1f} s, {mib(api['hwm_kib'])}, GET p95 {p95:,.0f} ms")

        figures.section("after")
        figures.add("audit entries (import)", _audit_entries(db.engine), "one per stored import")
        figures.add("load after", load_average())
    figures.print()


if __name__ == "__main__":
    asyncio.run(main())
