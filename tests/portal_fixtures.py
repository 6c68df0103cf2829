"""Fixtures for the API, web and browser tests: the real app (create_app) over a migrated
database, users of every role with API tokens and web sessions, and a real Temporal server
with a worker behind it.

Imported with ``from tests.portal_fixtures import *`` by the test modules that use them.
"""

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from dateutil.relativedelta import relativedelta
from fastapi import FastAPI
from sqlalchemy import Engine, text
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from clients import renewals
from config.settings import Settings
from migrations.runner import upgrade
from portal.config import WebSettings
from store import users
from store.db import SessionFactory, make_engine, make_session_factory, transaction
from tests.factories import register
from tests.identity_helpers import TEST_IDENTITY_KEYS
from worker import build_worker
from workflows.contract_renewal import ContractRenewalWorkflow

POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
PASSWORD = "correct horse battery staple"

# who -> (user name, roles)
PEOPLE: dict[str, tuple[str, str]] = {
    "procurement": ("buyer@example.com", "procurement"),
    "legal": ("legal-a@example.com", "legal"),
    "legal2": ("legal-b@example.com", "legal"),
    "admin": ("admin@example.com", "admin"),
    "buyer_lawyer": ("both@example.com", "procurement,legal"),
}


@dataclass
class Portal:
    app: FastAPI
    http: httpx.AsyncClient
    sessions: SessionFactory
    tokens: dict[str, str]
    cookies: dict[str, tuple[str, str]]  # who -> (session secret, csrf token)
    task_queue: str
    client: Client | None
    database_url: str
    extra: dict[str, Any] = field(default_factory=dict)

    def auth(self, who: str | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"} if who else {}

    def username(self, who: str) -> str:
        return PEOPLE[who][0]


def seed_people(sessions: SessionFactory) -> tuple[dict[str, str], dict[str, tuple[str, str]]]:
    tokens: dict[str, str] = {}
    cookies: dict[str, tuple[str, str]] = {}
    with transaction(sessions) as s:
        for who, (name, roles) in PEOPLE.items():
            try:
                user = users.get_user(s, username=name)
            except Exception:
                user = users.create_user(
                    s, username=name, display_name=who.title(), roles=roles, password=PASSWORD
                )
            tokens[who] = users.issue_token(s, username=name, name="tests").secret
            secret, web = users.start_session(s, user=user)
            cookies[who] = (secret, web.csrf_token)
    return tokens, cookies


def settings_for(database_url: str, task_queue: str, address: str = "localhost:7233") -> Settings:
    return Settings(
        database_url=database_url,
        temporal_task_queue=task_queue,
        temporal_search_attributes=False,
        temporal_address=address,
    )


async def build_portal(
    *, database_url: str, sessions: SessionFactory, client: Client | None, task_queue: str
) -> Portal:
    tokens, cookies = seed_people(sessions)
    app = create_app(
        settings_for(database_url, task_queue),
        web_settings=WebSettings(),
        sessions=sessions,
        temporal_client=client,
        identity=TEST_IDENTITY_KEYS,
    )
    http = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver", timeout=60
    )
    return Portal(app, http, sessions, tokens, cookies, task_queue, client, database_url)


# ---------------------------------------------------------------------------- databases


@pytest.fixture(scope="session")
def portal_postgres_url() -> Iterator[str]:
    """A private migrated schema for these tests: they leave rows behind (the audit trail is
    append-only), and other modules' tests expect the shared schema to stay empty."""
    schema = f"p_{uuid.uuid4().hex[:10]}"
    admin = make_engine(POSTGRES_URL)
    try:
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as exc:  # pragma: no cover - environment problem, said plainly
        pytest.fail(f"PostgreSQL at {POSTGRES_URL} is not reachable ({exc})")
    sep = "&" if "?" in POSTGRES_URL else "?"
    url = f"{POSTGRES_URL}{sep}options=-csearch_path%3D{schema}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    yield url
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest, sqlite_url: str) -> Iterator[tuple[str, Engine]]:
    """The URL and engine of a migrated database: SQLite, then PostgreSQL."""
    if request.param == "sqlite":
        engine = make_engine(sqlite_url)
        upgrade(engine)
        yield sqlite_url, engine
    else:
        url = request.getfixturevalue("portal_postgres_url")
        engine = make_engine(url)
        yield url, engine
    engine.dispose()


@pytest.fixture
def db_sessions(database: tuple[str, Engine]) -> SessionFactory:
    return make_session_factory(database[1])


# ---------------------------------------------------------------------------- app + Temporal


@pytest_asyncio.fixture
async def portal(
    database: tuple[str, Engine],
    db_sessions: SessionFactory,
    time_skipping_env: WorkflowEnvironment,
    task_queue: str,
    activity_executor: ThreadPoolExecutor,
) -> AsyncIterator[Portal]:
    """The app over SQLite or PostgreSQL, with a worker on the time-skipping test server."""
    url = database[0]
    worker = build_worker(
        time_skipping_env.client,
        identity_keys=TEST_IDENTITY_KEYS,
        task_queue=task_queue,
        database_url=url,
        executor=activity_executor,
        max_concurrent_activities=16,
    )
    async with worker:
        p = await build_portal(
            database_url=url,
            sessions=db_sessions,
            client=time_skipping_env.client,
            task_queue=task_queue,
        )
        p.extra["env"] = time_skipping_env
        try:
            yield p
        finally:
            await p.http.aclose()


@pytest_asyncio.fixture
async def db_portal(
    database: tuple[str, Engine], db_sessions: SessionFactory
) -> AsyncIterator[Portal]:
    """The app without Temporal: for imports, exports, audit and other database-only views."""
    p = await build_portal(
        database_url=database[0],
        sessions=db_sessions,
        client=None,
        task_queue=f"tq-{uuid.uuid4().hex[:8]}",
    )
    try:
        yield p
    finally:
        await p.http.aclose()


def new_contract_id() -> str:
    return f"C-{uuid.uuid4().hex[:10]}"


async def contract_in_review_window(
    env: WorkflowEnvironment, sessions: SessionFactory, **overrides: Any
) -> str:
    """A contract two months from its end: its renewal drafts at once when started."""
    cid = overrides.pop("id", None) or new_contract_id()
    now = (await env.get_current_time()).date()
    with transaction(sessions) as s:
        register(
            s,
            id=cid,
            supplier_id=overrides.pop("supplier_id", "S-1"),
            start_date=now - relativedelta(months=10),
            end_date=now + relativedelta(months=2),
            notice_period_days=0,
            # Owned by the stack's procurement user, who may then act on it (ownership).
            owner=overrides.pop("owner", PEOPLE["procurement"][0]),
            **overrides,
        )
    return cid


async def wait_for_draft(client: Client, contract_id: str, version: int = 1) -> None:
    handle = renewals.renewal_handle(client, contract_id=contract_id, term=1)
    for _ in range(400):
        status = await handle.query(ContractRenewalWorkflow.status)
        if len(status.drafts) >= version:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"draft version {version} was not made")


def csv_bytes(text: str) -> bytes:
    return text.encode("utf-8")


FIXTURE_DIR = Path(__file__).parent
