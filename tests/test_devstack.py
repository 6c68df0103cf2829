"""The local stack: the CLI's Temporal commands against the real dev server, and `renewals dev`
itself as a process (start, sample renewals running, clean stop on SIGINT, restart)."""

import asyncio
import json
import os
import queue
import re
import signal
import socket
import sqlite3
import stat
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from dateutil.relativedelta import relativedelta
from sqlalchemy import Engine
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from typer.testing import CliRunner, Result

from cli import devserver, samples
from cli.main import app
from config.binaries import temporal_cli
from config.codec import KEY_FILE_NAME, EncryptionCodec, read_key_file
from config.settings import get_settings
from domain.milestones import plan_milestones
from models.milestones import MilestoneKind
from store.db import SessionFactory, transaction
from tests.factories import register
from tests.identity_helpers import TEST_IDENTITY_KEYS
from tests.test_payload_codec import blind_text, history_payloads
from worker import build_worker
from workflows import search_attributes
from workflows.ids import renewal_workflow_id

ROOT = Path(__file__).resolve().parent.parent

runner = CliRunner()


# ---------------------------------------------------------------------------- no server needed


def test_dev_server_command_uses_the_local_binary_and_keeps_state(tmp_path: Path) -> None:
    server = devserver.DevServer(
        binary=temporal_cli(),
        ip="127.0.0.1",
        port=17233,
        ui_port=18233,
        db_file=tmp_path / "temporal.db",
        log_file=tmp_path / "temporal.log",
        search_attributes=search_attributes.ALL,
    )
    cmd = server.command()
    assert Path(cmd[0]).is_file()
    assert cmd[1:3] == ["server", "start-dev"]
    assert cmd[cmd.index("--db-filename") + 1] == str(tmp_path / "temporal.db")
    assert cmd[cmd.index("--port") + 1] == "17233"
    assert cmd[cmd.index("--ui-port") + 1] == "18233"
    assert "--ui-disable-news-fetch" in cmd
    assert "RenewalExpiry=Datetime" in cmd
    assert "RenewalStage=Keyword" in cmd
    assert server.ui_url == "http://127.0.0.1:18233"


def test_samples_cover_the_stages_worth_showing() -> None:
    today = datetime.now(UTC).date()
    contracts = samples.sample_contracts(today)
    assert {c.id for c in contracts} == set(samples.SAMPLE_CONTRACT_IDS)
    assert {c.supplier_id for c in contracts} <= {s.id for s in samples.SUPPLIERS}
    assert sum(c.language == "ja" for c in contracts) >= 2

    overdue: dict[str, list[MilestoneKind]] = {}
    for c in contracts:
        assert c.end_date is not None
        plan = plan_milestones(
            end_date=c.end_date, notice_period_days=c.notice_period_days, today=today
        )
        assert not plan.expired_at_planning
        overdue[c.id] = [m.kind for m in plan.milestones if m.due < today]
    kinds = {len(v) for v in overdue.values()}
    assert {0, 1, 2, 3} <= kinds  # waiting, facts gathered, in review, past final terms

    deliveries = samples.sample_deliveries(contracts, today)
    assert all(d.delivered_date <= today for d in deliveries)
    by_contract = {c.id: c for c in contracts}
    assert all(d.delivered_date > by_contract[d.contract_id].start_date for d in deliveries)


def test_samples_load_in_one_transaction(sessions: SessionFactory) -> None:
    today = datetime.now(UTC).date()
    with transaction(sessions) as s:
        loaded = samples.load_samples(s, today=today)
    assert loaded.contracts == len(samples.SAMPLE_CONTRACT_IDS)
    assert loaded.deliveries > 50


# ---------------------------------------------------------------------------- CLI on the dev server


def _invoke(*args: str) -> Result:
    return runner.invoke(app, list(args))


async def cli(*args: str) -> Result:
    """The CLI runs its own asyncio.run: keep it off this test's event loop."""
    return await asyncio.to_thread(_invoke, *args)


@pytest_asyncio.fixture
async def cli_env(
    dev_env: WorkflowEnvironment,
    sqlite_url: str,
    sqlite_engine: Engine,
    activity_executor: ThreadPoolExecutor,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> AsyncIterator[str]:
    """A worker on the dev server, and the CLI's settings pointing at it and at the database."""
    tq = f"cli-{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    monkeypatch.setenv("RENEWALS_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("TEMPORAL_ADDRESS", dev_env.client.service_client.config.target_host)
    monkeypatch.setenv("TEMPORAL_NAMESPACE", dev_env.client.namespace)
    monkeypatch.setenv("TEMPORAL_TASK_QUEUE", tq)
    monkeypatch.setenv("TEMPORAL_SEARCH_ATTRIBUTES", "true")
    get_settings.cache_clear()
    worker = build_worker(
        dev_env.client,
        identity_keys=TEST_IDENTITY_KEYS,
        task_queue=tq,
        database_url=sqlite_url,
        executor=activity_executor,
        max_concurrent_activities=16,
        search_attributes=True,
    )
    async with worker:
        yield tq
    get_settings.cache_clear()


async def _status(cid: str) -> dict[str, Any]:
    result = await cli("status", cid, "--json")
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.stdout)
    return data


async def _until_stage(cid: str, stage: str, timeout: float = 30.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        status = await _status(cid)
        if status["stage"] == stage or time.monotonic() > deadline:
            return status
        await asyncio.sleep(0.3)


@pytest.mark.devserver
async def test_start_status_review_through_the_cli(
    cli_env: str, sessions: SessionFactory, dev_env: WorkflowEnvironment
) -> None:
    cid = f"C-{uuid.uuid4().hex[:8]}"
    today = datetime.now(UTC).date()
    with transaction(sessions) as s:
        # Gather facts and first discussion are overdue: the first draft goes to legal at once.
        register(
            s,
            id=cid,
            start_date=today - relativedelta(months=10),
            end_date=today + relativedelta(months=2, days=10),
        )

    started = await cli("start", cid, "--by", "buyer@example.com")
    assert started.exit_code == 0, started.output
    assert f"started renewal/{cid}/term-1" in started.stdout
    again = await cli("start", cid, "--by", "buyer@example.com")
    assert again.exit_code == 0, again.output
    assert f"already running: renewal/{cid}/term-1" in again.stdout

    status = await _until_stage(cid, "legal_review")
    assert status["stage"] == "legal_review", status
    # The stage turns to legal review inside the first discussion's step; the milestone is
    # marked done when that step ends (the review request and its mail sent).
    deadline = time.monotonic() + 30
    while status["milestones"][1]["state"] == "pending" and time.monotonic() < deadline:
        await asyncio.sleep(0.3)
        status = await _status(cid)
    assert [m["kind"] for m in status["milestones"]] == [
        "gather_facts",
        "first_discussion",
        "final_terms",
        "expiry",
    ]
    assert [m["state"] for m in status["milestones"]][:2] == ["done_late", "done_late"]
    assert all(m["due"] for m in status["milestones"])
    assert status["scorecard"]["recommendation"]
    assert [d["version"] for d in status["drafts"]] == [1]
    assert status["outcome"] is None

    text = await cli("status", cid)
    assert text.exit_code == 0, text.output
    assert f"renewal/{cid}/term-1: legal_review" in text.stdout
    assert "gather_facts" in text.stdout and "v1 renegotiation" in text.stdout

    changes = await cli(
        "review",
        cid,
        "--version",
        "1",
        "--decision",
        "request_changes",
        "--reviewer",
        "legal-a@example.com",
        "--comment",
        "Cap the price adjustment at 2 %.",
    )
    assert changes.exit_code == 0, changes.output
    assert "stage now changes_requested" in changes.stdout

    # Procurement makes version 2 by editing the terms.
    made = await cli(
        "version",
        "edit",
        cid,
        "--based-on",
        "1",
        "--cap-pct",
        "2",
        "--price-adjustment",
        "CPI, at most 2 % a year",
        "--by",
        "buyer@example.com",
    )
    assert made.exit_code == 0, made.output

    # Its maker may not approve it: the update's validator says why.
    refused = await cli(
        "review",
        cid,
        "--version",
        "2",
        "--decision",
        "approve",
        "--reviewer",
        "buyer@example.com",
    )
    assert refused.exit_code == 1
    assert "segregation of duties" in refused.stderr

    wrong_version = await cli(
        "review", cid, "--version", "9", "--decision", "approve", "--reviewer", "b@example.com"
    )
    assert wrong_version.exit_code == 1
    assert "draft_version" in wrong_version.stderr

    approve = [
        "review",
        cid,
        "--version",
        "2",
        "--decision",
        "approve",
        "--reviewer",
        "legal-a@example.com",  # who asked for the change is the checker, not the maker
        "--request-id",
        f"approve-{cid}",
    ]
    approved = await cli(*approve)
    assert approved.exit_code == 0, approved.output
    assert "stage now approved" in approved.stdout
    repeated = await cli(*approve)  # same request id: applied once
    assert repeated.exit_code == 0, repeated.output

    status = await _status(cid)
    assert status["stage"] == "approved"
    assert [(d["decision"], d["draft_version"]) for d in status["decisions"]] == [
        ("request_changes", 1),
        ("approve", 2),
    ]

    # A running renewal is amended through the workflow, which re-plans.
    new_end = (today + relativedelta(months=3)).isoformat()
    amended = await cli("amend", cid, "--end-date", new_end, "--by", "buyer@example.com")
    assert amended.exit_code == 0, amended.output
    assert "amended through" in amended.stdout
    after = await _status(cid)
    assert after["end_date"] == new_end
    # The new end date contradicts version 2's: its approval is withdrawn, back to review.
    assert after["stage"] == "legal_review", after

    missing = await cli("status", cid, "--term", "7")
    assert missing.exit_code == 1
    assert f"no renewal of contract {cid} term 7" in missing.stderr


@pytest.mark.devserver
async def test_amend_without_a_running_renewal_changes_the_database(
    cli_env: str, sessions: SessionFactory
) -> None:
    cid = f"C-{uuid.uuid4().hex[:8]}"
    with transaction(sessions) as s:
        register(s, id=cid)
    result = await cli("amend", cid, "--notice-days", "45", "--by", "buyer@example.com")
    assert result.exit_code == 0, result.output
    assert "no renewal running" in result.stdout
    listed = json.loads((await cli("contracts", "list", "--json")).stdout)
    assert next(c for c in listed if c["id"] == cid)["notice_period_days"] == 45


# ---------------------------------------------------------------------------- `renewals dev`


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _processes_mentioning(text: str) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if text in cmdline and "temporal" in cmdline:
            pids.append(int(entry.name))
    return pids


class DevProcess:
    """`renewals dev` as a person runs it, with its output read line by line."""

    def __init__(self, data_dir: Path, port: int, ui_port: int, web_port: int) -> None:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(
                (
                    "TEMPORAL_",
                    "DATABASE_URL",
                    "RENEWALS_",
                    "SMTP_",
                    "PAYLOAD_ENCRYPTION_",
                    "IDENTITY_SIGNING_",
                )
            )
        }
        env["PYTHONPATH"] = str(ROOT)
        env["RENEWALS_DATA_DIR"] = str(data_dir)
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "cli.main",
                "dev",
                "--port",
                str(port),
                "--ui-port",
                str(ui_port),
                "--web-port",
                str(web_port),
            ],
            cwd=data_dir.parent,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line)

    def wait_for(self, text: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.5)
            except queue.Empty:
                if self.proc.poll() is not None and self.lines.empty():
                    break
                continue
            self.seen.append(line)
            if text in line:
                return
        raise AssertionError(f"{text!r} not printed; output so far:\n{''.join(self.seen)}")

    def stop(self, timeout: float = 20.0) -> int:
        self.proc.send_signal(signal.SIGINT)
        try:
            code = self.proc.wait(timeout=timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
        self._reader.join(timeout=5)  # the pipe is at its end once the process exited
        while not self.lines.empty():
            self.seen.append(self.lines.get())
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        return code

    def output(self) -> str:
        return "".join(self.seen)


async def _sample_workflows(port: int) -> dict[str, WorkflowExecutionStatus | None]:
    client = await Client.connect(f"127.0.0.1:{port}", data_converter=pydantic_data_converter)
    out: dict[str, WorkflowExecutionStatus | None] = {}
    for cid in samples.SAMPLE_CONTRACT_IDS:
        desc = await client.get_workflow_handle(renewal_workflow_id(cid, 1)).describe()
        out[cid] = desc.status
    return out


async def _history_text(port: int, workflow_id: str, codec: EncryptionCodec) -> tuple[str, str]:
    """A workflow's history as a client without the codec sees it (JSON and payload bytes),
    and its payloads' plain text once decrypted with the key."""
    blind = await Client.connect(f"127.0.0.1:{port}", data_converter=pydantic_data_converter)
    history = await blind.get_workflow_handle(workflow_id).fetch_history()
    decoded = await codec.decode(history_payloads(history))
    return blind_text(history), "\n".join(p.data.decode("utf-8", "replace") for p in decoded)


def _cli_process(data_dir: Path, port: int, *args: str) -> subprocess.CompletedProcess[str]:
    """The CLI in another terminal, as the banner says: only RENEWALS_DATA_DIR and the address."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(
            ("TEMPORAL_", "DATABASE_URL", "RENEWALS_", "PAYLOAD_ENCRYPTION_", "IDENTITY_SIGNING_")
        )
    }
    env |= {
        "PYTHONPATH": str(ROOT),
        "RENEWALS_DATA_DIR": str(data_dir),
        "TEMPORAL_ADDRESS": f"127.0.0.1:{port}",
    }
    return subprocess.run(
        [sys.executable, "-m", "cli.main", *args],
        cwd=data_dir.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture
def dev_data_dir(tmp_path: Path) -> Iterator[Path]:
    data_dir = tmp_path / "data"
    yield data_dir
    for pid in _processes_mentioning(str(data_dir)):  # never leave a server behind
        os.kill(pid, signal.SIGKILL)


@pytest.mark.devserver
def test_renewals_dev_starts_the_stack_and_stops_cleanly(dev_data_dir: Path) -> None:
    port, ui_port, web_port = _free_port(), _free_port(), _free_port()

    first = DevProcess(dev_data_dir, port, ui_port, web_port)
    try:
        first.wait_for(f"Temporal UI:  http://127.0.0.1:{ui_port}", timeout=90)
        first.wait_for("Ctrl-C stops the worker", timeout=10)
        assert "samples loaded: 4 suppliers, 6 contracts" in first.output()
        assert f"Review app:   http://127.0.0.1:{web_port}/" in first.output()
        statuses = asyncio.run(_sample_workflows(port))
        assert set(statuses.values()) == {WorkflowExecutionStatus.RUNNING}, statuses
        # The review app is up and a sample reviewer can sign in.
        with httpx.Client(base_url=f"http://127.0.0.1:{web_port}") as web:
            assert web.get("/login").status_code == 200
            assert web.get("/api/v1/me").status_code == 401  # deny by default

        # Payload encryption is on, with a key made for this data folder (0600).
        key_path = dev_data_dir / KEY_FILE_NAME
        assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
        keys = read_key_file(key_path)
        assert f"Encryption:   key id {keys.active_key_id} (new key, {key_path})" in first.output()
        # The supplier travels by id only; its terms and the contract's title are in payloads.
        secrets = ("Brake caliper castings", "Aluminium surcharge", "S-NAGOYA-PARTS")
        deadline = time.monotonic() + 30
        while True:  # until the renewal has read the contract and its supplier
            raw, plain = asyncio.run(
                _history_text(port, renewal_workflow_id("C-PARTS-BRAKES", 1), keys.codec())
            )
            if all(s in plain for s in secrets) or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        for secret in secrets:
            assert secret in plain, secret  # in the history, but only encrypted
        # The supplier's id is also a search attribute (visibility stores them unencrypted, so
        # it is the id, never the name): the payloads themselves never show it.
        # A search attribute's payload is plain JSON, tagged with its type when it was set with
        # typed search attributes (the start of a next term, the upserts).
        attribute = re.compile(r'(json/plain (Keyword )?|Keyword json/plain )"S-NAGOYA-PARTS"')
        bare = "\n".join(line for line in raw.splitlines() if not attribute.fullmatch(line.strip()))
        for secret in secrets:
            assert secret not in bare, secret
        assert "Nagoya Precision Parts" not in raw
        assert "binary/encrypted" in raw
        # The CLI in another terminal reads the same key file and decodes the status.
        status = _cli_process(dev_data_dir, port, "status", "C-PARTS-BRAKES", "--json")
        assert status.returncode == 0, status.stderr
        assert json.loads(status.stdout)["contract_id"] == "C-PARTS-BRAKES"

    finally:
        started = time.monotonic()
        code = first.stop()
    assert code == 0, first.output()
    assert time.monotonic() - started < 20
    assert "Temporal dev server stopped" in first.output()
    assert _processes_mentioning(str(dev_data_dir)) == []
    assert not devserver.port_in_use("127.0.0.1", port)
    assert (dev_data_dir / "temporal.db").is_file()
    assert (dev_data_dir / "renewals.db").is_file()
    with sqlite3.connect(dev_data_dir / "renewals.db") as db:
        users = {row[0] for row in db.execute("SELECT username FROM users")}
    assert {name for name, _, _ in samples.SAMPLE_USERS} <= users

    # A restart keeps the renewals (state in the data dir) and loads no samples twice.
    second = DevProcess(dev_data_dir, port, ui_port, web_port)
    try:
        second.wait_for("Ctrl-C stops the worker", timeout=90)
        out = second.output()
        assert "samples loaded" not in out
        assert "running: renewal/C-PARTS-BRAKES/term-1" in out
        # The same key, not a new one: the running renewals stay readable.
        assert f"Encryption:   key id {keys.active_key_id} ({key_path})" in out
        assert read_key_file(key_path) == keys
    finally:
        code = second.stop()
    assert code == 0, second.output()
    assert _processes_mentioning(str(dev_data_dir)) == []
