"""The workspace's pages with 100,000 contracts stored (issue 16: p95 <= 150 ms on SQLite and
PostgreSQL).

Seeds a migrated database (temporary SQLite, or a private PostgreSQL schema with
``--database-url``) with ``--contracts`` contracts over 1,000 suppliers, then runs ONE real
renewal on the Temporal dev server with the real worker until its draft is in legal review: its
rows (renewal, stored plan and milestones, scorecard, draft, events) are what the workflow
writes, and they are cloned, dates shifted to each contract's end date, onto ``--renewals``
other contracts with a spread of stages, so every page reads rows of the shape production
writes. Then every page is requested ``--requests`` times through the real app in-process
(httpx ASGITransport), signed in, and p50 / p95 / max are printed against the target.

A page whose route does not exist yet is reported as missing, never faked.

    .venv/bin/python bench/web_pages_bench.py
    .venv/bin/python bench/web_pages_bench.py --database-url postgresql://postgres@127.0.0.1:5432/test
"""

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from _common import (
    DEFAULT_POSTGRES_URL,
    ROOT,
    Figures,
    bench_database,
    bulk_insert_deliveries,
    contract_row,
    dev_server,
    insert_contracts,
    insert_rows,
    insert_suppliers,
    log,
    machine_line,
    percentile,
    spread_deliveries,
    today_utc,
)
from dateutil.relativedelta import relativedelta
from sqlalchemy import Engine, select, text
from starlette.routing import Match

from api.app import create_app
from clients import renewals
from config.identity import IdentityKeys
from config.settings import Settings
from migrations.runner import upgrade
from models.tables import (
    DraftRow,
    PlanMilestoneRow,
    RenewalEventRow,
    RenewalRow,
    ScorecardRow,
    TermPlanRow,
)
from portal.config import WebSettings
from portal.deps import SESSION_COOKIE
from store import users
from store.db import make_engine, make_session_factory, transaction
from worker import build_worker
from workflows.contract_renewal import ContractRenewalWorkflow

TARGET_P95_MS = 150.0
IDENTITY = IdentityKeys.generate()
PASSWORD = "bench password, long enough"
BUYER = "buyer@example.com"
LAWYER = "legal@example.com"
ADMIN = "admin@example.com"
SUPPLIERS = 1_000
TEMPLATE_ID = "C-TEMPLATE"

# Stages of the cloned renewals, as a share of them: most terms wait on timers, a tenth are
# with legal, fewer further on.
STAGE_MIX: tuple[tuple[str, float], ...] = (
    ("waiting", 0.45),
    ("facts_gathered", 0.10),
    ("legal_review", 0.12),
    ("changes_requested", 0.05),
    ("approved", 0.08),
    ("offer_presented", 0.06),
    ("escalated", 0.04),
    ("final_terms_issued", 0.04),
    ("agreed", 0.04),
    ("lapsed", 0.02),
)
WITH_DRAFT = {
    "legal_review",
    "changes_requested",
    "approved",
    "offer_presented",
    "escalated",
    "final_terms_issued",
    "agreed",
    "lapsed",
}


def _args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database-url",
        default=None,
        help=f"PostgreSQL server URL (e.g. {DEFAULT_POSTGRES_URL}); a private schema is created "
        "and dropped. Default: a temporary SQLite file.",
    )
    parser.add_argument("--contracts", type=int, default=100_000)
    parser.add_argument(
        "--renewals", type=int, default=20_000, help="contracts with a renewal (cloned rows)"
    )
    parser.add_argument("--requests", type=int, default=30, help="requests per page")
    parser.add_argument("--csv-rows", type=int, default=1_000, help="CSV rows read per request")
    parser.add_argument(
        "--deliveries",
        type=int,
        default=1_000_000,
        help="delivery rows (supplier performance data) spread over the contracts (issue 18)",
    )
    parser.add_argument("--timeout", type=float, default=300.0, help="wait for the real draft")
    parser.add_argument(
        "--save",
        metavar="STATE.json",
        default=None,
        help="keep the seeded database (SQLite: copied next to STATE.json; PostgreSQL: the "
        "schema is not dropped) and write what --reuse needs into STATE.json",
    )
    parser.add_argument(
        "--reuse",
        metavar="STATE.json",
        default=None,
        help="measure a database seeded earlier with --save, without seeding again",
    )
    parser.add_argument(
        "--only", default=None, help="measure only the pages whose label contains this text"
    )
    parser.add_argument(
        "--skip", default=None, help="leave out the pages whose label contains this text"
    )
    return parser.parse_args()


# ------------------------------------------------------------------ seeding


def _seed_contracts(engine: Engine, count: int, today: date) -> list[str]:
    """``count`` contracts ending over the next three years, owners and suppliers spread."""
    insert_suppliers(engine, [f"S-{i:04d}" for i in range(SUPPLIERS)])
    rows = []
    ids = []
    for i in range(count):
        cid = f"C-{i:06d}"
        end = today + timedelta(days=20 + (i * 7919) % 1_095)
        row = contract_row(
            cid,
            supplier_id=f"S-{i % SUPPLIERS:04d}",
            start_date=end - relativedelta(years=1),
            end_date=end,
            notice_period_days=(30, 60, 90, 0)[i % 4],
            owner=BUYER if i % 10 == 0 else f"buyer{i % 50}@example.com",
        )
        row["auto_renewal"] = i % 3 == 0
        row["term_model"] = "auto_renewing" if i % 3 == 0 else "fixed"
        row["currency"] = ("JPY", "USD", "EUR")[i % 3]
        rows.append(row)
        ids.append(cid)
    insert_contracts(engine, rows)
    return ids


def _seed_deliveries(engine: Engine, count: int, today: date) -> int:
    """``count`` deliveries spread over every contract (its supplier's), weekly back from
    today: COPY on PostgreSQL, executemany on SQLite."""
    with engine.connect() as conn:
        pairs = [
            (str(c), str(s))
            for c, s in conn.execute(text("SELECT id, supplier_id FROM contracts ORDER BY id"))
        ]
    return bulk_insert_deliveries(engine, spread_deliveries(pairs, count, today=today))


def _seed_people(engine: Engine) -> tuple[dict[str, str], str, dict[str, str]]:
    """A session cookie for each of the buyer, the lawyer and the administrator, the buyer's
    API token (for the real renewal) and an API token for each of them."""
    sessions = make_session_factory(engine)
    cookies = {}
    tokens = {}
    with transaction(sessions) as s:
        for who, name, roles in (
            ("procurement", BUYER, "procurement"),
            ("legal", LAWYER, "legal"),
            ("admin", ADMIN, "admin"),
        ):
            user = users.create_user(
                s, username=name, display_name=who.title(), roles=roles, password=PASSWORD
            )
            secret, _web = users.start_session(s, user=user, hours=24)
            cookies[who] = secret
            tokens[who] = users.issue_token(s, username=name, name="bench api").secret
        token = users.issue_token(s, username=BUYER, name="bench").secret
    return cookies, token, tokens


async def _real_renewal(engine: Engine, url: str, token: str, timeout: float) -> None:
    """One renewal by the product: started through the API, run by the real worker on the dev
    server until its first draft is in legal review, then terminated so its rows stay put."""
    today = today_utc()
    insert_contracts(
        engine,
        [
            contract_row(
                TEMPLATE_ID,
                supplier_id="S-0000",
                start_date=today - relativedelta(months=10),
                end_date=today + relativedelta(months=2),
                notice_period_days=0,
                owner=BUYER,
            )
        ],
    )
    queue = f"bench-web-{uuid.uuid4().hex[:6]}"
    async with dev_server() as env:
        settings = Settings(
            database_url=url,
            temporal_task_queue=queue,
            temporal_search_attributes=True,
            temporal_address=env.client.service_client.config.target_host,
        )
        with ThreadPoolExecutor(max_workers=8) as executor:
            worker = build_worker(
                env.client,
                identity_keys=IDENTITY,
                task_queue=queue,
                database_url=url,
                executor=executor,
                max_concurrent_activities=8,
            )
            async with worker:
                app = create_app(
                    settings,
                    web_settings=WebSettings(),
                    sessions=make_session_factory(engine),
                    temporal_client=env.client,
                    identity=IDENTITY,
                )
                async with httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=app), base_url="http://bench"
                ) as http:
                    started = await http.post(
                        "/api/v1/renewals",
                        json={"contract_id": TEMPLATE_ID},
                        headers={"Authorization": f"Bearer {token}"},
                    )
                    started.raise_for_status()
                handle = renewals.renewal_handle(env.client, contract_id=TEMPLATE_ID, term=1)
                deadline = time.monotonic() + timeout
                while True:
                    status = await handle.query(ContractRenewalWorkflow.status)
                    if status.drafts and status.stage.value == "legal_review":
                        break
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"no draft in legal review: {status.stage}")
                    await asyncio.sleep(0.25)
                await handle.terminate("bench: the rows are the template")


def _rows(engine: Engine, table: Any, where: Any) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(select(table).where(where))]


def _swap(value: Any, old: str, new: str, delta: timedelta) -> Any:
    """A template value for another contract: its id substituted, its dates shifted."""
    if isinstance(value, str):
        return value.replace(old, new)
    if isinstance(value, datetime):
        return value + delta
    if isinstance(value, date):
        return value + delta
    if isinstance(value, list):
        return [_swap(v, old, new, delta) for v in value]
    if isinstance(value, dict):
        return {k: _swap(v, old, new, delta) for k, v in value.items()}
    return value


def _clone_renewals(engine: Engine, contract_ids: list[str], count: int, today: date) -> int:
    """The template renewal's rows onto ``count`` contracts ending within the next 9 months."""
    tpl_renewal = _rows(engine, RenewalRow, RenewalRow.contract_id == TEMPLATE_ID)[0]
    rid = tpl_renewal["id"]
    tpl = {
        "plan": _rows(engine, TermPlanRow, TermPlanRow.contract_id == TEMPLATE_ID),
        "milestones": _rows(engine, PlanMilestoneRow, PlanMilestoneRow.contract_id == TEMPLATE_ID),
        "scorecard": _rows(engine, ScorecardRow, ScorecardRow.renewal_id == rid),
        "drafts": _rows(engine, DraftRow, DraftRow.renewal_id == rid),
        "events": _rows(engine, RenewalEventRow, RenewalEventRow.renewal_id == rid),
    }
    tpl_end = tpl_renewal["term_end_date"]
    with engine.connect() as conn:
        ends: dict[str, Any] = dict(
            conn.execute(
                text("SELECT id, end_date FROM contracts WHERE end_date <= :d"),
                {"d": today + timedelta(days=270)},
            ).all()
        )
        next_id = int(conn.scalar(text("SELECT max(id) FROM renewals")) or 0) + 1
    chosen = [c for c in contract_ids if c in ends][:count]
    stages = [s for s, share in STAGE_MIX for _ in range(round(share * 100))]
    out: dict[str, list[dict[str, Any]]] = {k: [] for k in ("r", "p", "m", "s", "d", "e")}
    for n, cid in enumerate(chosen):
        end = ends[cid]
        end = end if isinstance(end, date) else date.fromisoformat(str(end))
        delta = end - tpl_end
        stage = stages[n % len(stages)]
        new_id = next_id + n
        r = _swap({k: v for k, v in tpl_renewal.items()}, TEMPLATE_ID, cid, delta)
        r.update(id=new_id, stage=stage)
        r.pop("created_at", None)
        r.pop("updated_at", None)
        out["r"].append(r)
        for row in tpl["plan"]:
            p = _swap(row, TEMPLATE_ID, cid, delta)
            p.pop("updated_at", None)
            out["p"].append(p)
        for row in tpl["milestones"]:
            m = _swap(row, TEMPLATE_ID, cid, delta)
            m.pop("id", None)
            out["m"].append(m)
        for row in tpl["scorecard"]:
            s = _swap(row, TEMPLATE_ID, cid, delta)
            s.pop("id", None)
            s.pop("created_at", None)
            s["renewal_id"] = new_id
            out["s"].append(s)
        if stage in WITH_DRAFT:
            for row in tpl["drafts"]:
                d = _swap(row, TEMPLATE_ID, cid, delta)
                d.pop("id", None)
                d.pop("created_at", None)
                d["renewal_id"] = new_id
                out["d"].append(d)
        for row in tpl["events"]:
            e = _swap(row, TEMPLATE_ID, cid, delta)
            e.pop("id", None)
            e.pop("created_at", None)
            e["renewal_id"] = new_id
            out["e"].append(e)
    for key, table in (
        ("r", RenewalRow),
        ("p", TermPlanRow),
        ("m", PlanMilestoneRow),
        ("s", ScorecardRow),
        ("d", DraftRow),
        ("e", RenewalEventRow),
    ):
        if out[key]:
            insert_rows(engine, table, out[key], chunk=5_000)
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(
                text(
                    "SELECT setval(pg_get_serial_sequence('renewals', 'id'), max(id)) FROM renewals"
                )
            )
        # VACUUM as autovacuum would after a bulk load: it sets the visibility map, without
        # which PostgreSQL cannot read an index alone (and runs outside a transaction).
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    else:
        with engine.begin() as conn:
            conn.execute(text("ANALYZE"))
    return len(chosen)


# ------------------------------------------------------------------ measuring


@dataclass(frozen=True)
class PageCase:
    label: str
    who: str
    url: str


def _cases(clone_cid: str, bare_cid: str, late_cursor_page: str) -> list[PageCase]:
    t = TEMPLATE_ID
    return [
        PageCase("pipeline, first page", "procurement", "/pipeline"),
        PageCase("pipeline, last page", "procurement", late_cursor_page),
        PageCase("pipeline, filtered (supplier)", "procurement", "/pipeline?supplier=S-0042"),
        PageCase("pipeline, filtered (stage)", "procurement", "/pipeline?stage=legal_review"),
        PageCase("pipeline, ends within 90 days", "procurement", "/pipeline?ends_within=90"),
        PageCase("pipeline, needs me", "procurement", "/pipeline?needs=1"),
        PageCase(
            "pipeline, sorted by value", "procurement", "/pipeline?sort=annual_value&dir=desc"
        ),
        PageCase("pipeline, sorted by score", "procurement", "/pipeline?sort=score&dir=desc"),
        PageCase("pipeline.csv, first rows", "procurement", "/pipeline.csv"),
        PageCase("exposure", "procurement", "/exposure"),
        PageCase("contract (real renewal)", "procurement", f"/contracts/{t}"),
        PageCase("contract (cloned renewal)", "procurement", f"/contracts/{clone_cid}"),
        PageCase("contract, no renewal", "procurement", f"/contracts/{bare_cid}"),
        PageCase(
            "next version form", "procurement", f"/contracts/{t}/terms/1/versions/new?based_on=1"
        ),
        PageCase("amend form", "procurement", f"/contracts/{t}/amend"),
        PageCase("imports", "procurement", "/imports"),
        PageCase("suppliers", "procurement", "/suppliers"),
        PageCase("supplier", "procurement", "/suppliers/S-0000"),
        PageCase("review queue", "legal", "/reviews"),
        PageCase("draft page", "legal", f"/reviews/{t}/1/1"),
        PageCase("dashboard (buyer)", "procurement", "/dashboard"),
        PageCase("dashboard (admin)", "admin", "/dashboard"),
        PageCase("account", "procurement", "/account"),
        # The API's GET endpoints people's tools page through (issue 18), with a bearer token.
        PageCase("API contracts, first page", "api-procurement", "/api/v1/contracts"),
        PageCase("API contracts, deep page", "api-procurement", "/api/v1/contracts?offset=99900"),
        PageCase("API renewals (pipeline)", "api-procurement", "/api/v1/renewals"),
        PageCase("API renewals, deep page", "api-procurement", "/api/v1/renewals?offset=99900"),
        PageCase("API review queue", "api-legal", "/api/v1/review-queue"),
        PageCase("API dashboard", "api-procurement", "/api/v1/dashboard"),
        PageCase("API suppliers", "api-procurement", "/api/v1/suppliers"),
        PageCase("API supplier", "api-procurement", "/api/v1/suppliers/S-0000"),
        PageCase(
            "API calendar feed (buyer's)",
            "api-procurement",
            f"/api/v1/calendar.ics?owner={BUYER}",
        ),
        PageCase("API audit", "api-admin", "/api/v1/audit"),
        PageCase("pipeline, deep page (page=1900)", "procurement", "/pipeline?page=1900"),
    ]


def _exists(app: Any, url: str) -> bool:
    scope = {
        "type": "http",
        "path": url.split("?", 1)[0],
        "method": "GET",
        "root_path": "",
        "path_params": {},
        "headers": [],
    }
    return any(route.matches(scope)[0] is Match.FULL for route in app.routes)


async def _first_rows(app: Any, cookie: str, url: str, rows: int) -> tuple[float, int]:
    """Time to the first ``rows`` lines of a streamed response, as a person opening the
    download waits for them. httpx's ASGITransport reads a whole body before it returns, so the
    app is called as the server would call it, and cancelled once the lines are in."""
    path, _, query = url.partition("?")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": query.encode(),
        "headers": [
            (b"host", b"bench"),
            (b"cookie", f"{SESSION_COOKIE}={cookie}".encode()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("bench", 80),
    }
    status = 0
    lines = 0
    enough = asyncio.Event()

    requested = False

    async def receive() -> dict[str, Any]:
        nonlocal requested
        if not requested:  # the (empty) request body first, then the client leaves when done
            requested = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await enough.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status, lines
        if message["type"] == "http.response.start":
            status = int(message["status"])
        elif message["type"] == "http.response.body":
            lines += bytes(message.get("body", b"")).count(b"\n")
            if lines > rows or not message.get("more_body", False):
                enough.set()

    start = time.perf_counter()
    task = asyncio.create_task(app(scope, receive, send))
    waiter = asyncio.create_task(enough.wait())
    await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
    elapsed = (time.perf_counter() - start) * 1000
    for pending in (task, waiter):
        pending.cancel()
    await asyncio.gather(task, waiter, return_exceptions=True)
    return elapsed, status


async def _timed(
    http: httpx.AsyncClient, app: Any, cookie: str, url: str, csv_rows: int
) -> tuple[float, int]:
    if url.startswith("/pipeline.csv"):
        return await _first_rows(app, cookie, url, csv_rows)
    start = time.perf_counter()
    response = await http.get(url)
    return (time.perf_counter() - start) * 1000, response.status_code


def _load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min) on {os.cpu_count()} CPUs"


def _commit() -> str:
    """HEAD of the checkout; BENCH_COMMIT names it for a tree exported with ``git archive``."""
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


async def _measure(
    engine: Engine,
    url: str,
    cookies: dict[str, str],
    tokens: dict[str, str],
    cids: tuple[str, str],
    args: argparse.Namespace,
) -> Figures:
    clone_cid, bare_cid = cids
    settings = Settings(database_url=url, temporal_search_attributes=False)
    app = create_app(
        settings,
        web_settings=WebSettings(),
        sessions=make_session_factory(engine),
        identity=IDENTITY,
    )
    figures = Figures(f"Workspace pages, {args.contracts:,} contracts ({engine.dialect.name})")
    figures.section("setup")
    figures.add("machine", machine_line())
    figures.add("commit", _commit())
    figures.add("load before", _load())
    figures.section(f"pages: {args.requests} requests each; target p95 <= {TARGET_P95_MS:.0f} ms")
    clients = {
        who: httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://bench",
            cookies={SESSION_COOKIE: secret},
            timeout=120,
        )
        for who, secret in cookies.items()
    }
    for who, secret in tokens.items():
        clients[f"api-{who}"] = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://bench",
            headers={"Authorization": f"Bearer {secret}"},
            timeout=120,
        )
    # The server's startup (api.app's lifespan: settle_heap) runs as uvicorn would run it;
    # ASGITransport sends no lifespan events of its own.
    lifespan = app.router.lifespan_context(app)
    await lifespan.__aenter__()
    try:
        last_page = "/pipeline?page=last"
        for case in _cases(clone_cid, bare_cid, last_page):
            if (args.only and args.only not in case.label) or (
                args.skip and args.skip in case.label
            ):
                continue
            if not _exists(app, case.url):
                figures.add(case.label, "missing", f"{case.url}: no route yet")
                continue
            http = clients[case.who]
            log(f"{case.label}: {case.url}")
            # The first request warms the caches (templates, catalogs, SQL statements).
            warm_ms, status = await _timed(
                http, app, cookies.get(case.who, ""), case.url, args.csv_rows
            )
            if status != 200:
                figures.add(case.label, f"HTTP {status}", case.url)
                continue
            times = [
                (await _timed(http, app, cookies.get(case.who, ""), case.url, args.csv_rows))[0]
                for _ in range(args.requests)
            ]
            p95 = percentile(times, 95)
            verdict = "ok" if p95 <= TARGET_P95_MS else "OVER TARGET"
            log(f"  p95 {p95:,.0f} ms, p50 {statistics.median(times):,.0f} ms: {verdict}")
            figures.add(
                case.label,
                f"{p95:,.0f} ms",
                f"p50 {statistics.median(times):,.0f} / max {max(times):,.0f} ms; first "
                f"{warm_ms:,.0f} ms; {verdict}   {case.url}",
            )
    finally:
        for http in clients.values():
            await http.aclose()
        await lifespan.__aexit__(None, None, None)
    figures.section("after")
    figures.add("load after", _load())
    return figures


@dataclass
class Seeded:
    """What the measurement needs from a seeded database, saved by --save for --reuse."""

    url: str
    label: str
    cookies: dict[str, str]
    tokens: dict[str, str]
    clone_cid: str
    bare_cid: str
    counts: dict[str, int]


async def _seed(db: Any, args: argparse.Namespace, today: date) -> Seeded:
    log(f"seeding {args.contracts:,} contracts into {db.label}")
    t0 = time.monotonic()
    ids = _seed_contracts(db.engine, args.contracts, today)
    cookies, token, tokens = _seed_people(db.engine)
    log(f"contracts seeded in {time.monotonic() - t0:.1f} s; {args.deliveries:,} deliveries")
    t0 = time.monotonic()
    delivered = _seed_deliveries(db.engine, args.deliveries, today)
    log(f"{delivered:,} deliveries seeded in {time.monotonic() - t0:.1f} s; one real renewal")
    await _real_renewal(db.engine, db.url, token, args.timeout)
    t1 = time.monotonic()
    cloned = _clone_renewals(db.engine, ids, args.renewals, today)
    log(f"{cloned:,} renewals cloned in {time.monotonic() - t1:.1f} s; measuring")
    clone_cid = next(c for c in ids if c != TEMPLATE_ID)
    with db.engine.connect() as conn:
        clone_cid = str(
            conn.scalar(
                text("SELECT contract_id FROM renewals WHERE contract_id <> :t LIMIT 1"),
                {"t": TEMPLATE_ID},
            )
            or clone_cid
        )
        counts = {
            name: int(conn.scalar(text(f"SELECT count(*) FROM {name}")) or 0)
            for name in (
                "contracts",
                "renewals",
                "term_plans",
                "plan_milestones",
                "scorecards",
                "drafts",
                "renewal_events",
                "deliveries",
            )
        }
        bare_cid = str(
            conn.scalar(
                text(
                    "SELECT c.id FROM contracts c LEFT JOIN renewals r ON r.contract_id = c.id"
                    " WHERE r.id IS NULL ORDER BY c.end_date DESC LIMIT 1"
                )
            )
        )
    return Seeded(db.url, db.label, cookies, tokens, clone_cid, bare_cid, counts)


def _save(db: Any, seeded: Seeded, state: Path) -> None:
    """Keep the seeded database for --reuse: a copy of the SQLite file beside ``state`` (the
    temporary one goes away), or the PostgreSQL schema left in place."""
    if db.engine.dialect.name == "sqlite":
        copy = state.with_suffix(".db").resolve()
        copy.unlink(missing_ok=True)
        with db.engine.connect() as conn:
            conn.exec_driver_sql(f"VACUUM INTO '{copy}'")
        seeded = Seeded(**{**asdict(seeded), "url": f"sqlite:///{copy}", "label": str(copy)})
    else:
        db.keep = True
    state.write_text(json.dumps(asdict(seeded), indent=1), encoding="utf-8")
    log(f"seeded database kept: {seeded.label}; --reuse {state}")


async def main() -> None:
    args = _args()
    today = today_utc()
    if args.reuse:
        seeded = Seeded(**json.loads(Path(args.reuse).read_text(encoding="utf-8")))
        engine = make_engine(seeded.url)
        upgrade(engine)  # a database saved before the newest migrations gets them
        try:
            figures = await _measure(
                engine,
                seeded.url,
                seeded.cookies,
                seeded.tokens,
                (seeded.clone_cid, seeded.bare_cid),
                args,
            )
        finally:
            engine.dispose()
    else:
        with bench_database(args.database_url) as db:
            seeded = await _seed(db, args, today)
            if args.save:
                _save(db, seeded, Path(args.save))
            figures = await _measure(
                db.engine,
                db.url,
                seeded.cookies,
                seeded.tokens,
                (seeded.clone_cid, seeded.bare_cid),
                args,
            )
    figures.section("rows stored")
    for name, n in seeded.counts.items():
        figures.add(name, n)
    figures.print()


if __name__ == "__main__":
    asyncio.run(main())
