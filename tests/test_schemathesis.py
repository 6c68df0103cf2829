"""Schemathesis against the API's OpenAPI schema: every operation, as an admin, a procurement
and a legal user, with generated inputs (valid and invalid); no input may make the server
answer 5xx.

The app is the real one (api.app.create_app) over a migrated SQLite database, with a Temporal
client on the time-skipping test server and a real worker (worker.build_worker), served by
uvicorn on the loopback interface from an event loop on a background thread that also holds
the environment and the worker; the generated requests go to it over HTTP. A few contracts are
seeded, one with a renewal waiting in legal review, and generated path parameters and bodies
name them some of the time, so that the workflow-touching endpoints (decisions, redrafts,
cancellations, amendments, starts) reach a real workflow rather than only answering 404.

The schema is taken from the app itself at import time (only ``/api/`` operations: the web
pages are not in it, and are excluded should they ever be).
"""

import asyncio
import threading
import uuid
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
import schemathesis
import uvicorn
from dateutil.relativedelta import relativedelta
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from api.app import create_app
from clients import renewals
from config.binaries import temporal_test_server
from config.settings import Settings
from migrations.runner import upgrade
from portal.config import WebSettings
from store.db import make_engine, make_session_factory, transaction
from tests.factories import register
from tests.portal_fixtures import PEOPLE, seed_people, settings_for
from worker import build_worker
from workflows.contract_renewal import ContractRenewalWorkflow

T = TypeVar("T")
ROLES = ("admin", "procurement", "legal")
IN_REVIEW = "ST-REVIEW"  # a renewal with draft version 1 awaiting legal review
PLAIN = "ST-PLAIN"  # registered, no renewal yet
SUPPLIER = "S-ST"
# Values the generated requests use some of the time instead of random ones.
KNOWN: dict[str, list[Any]] = {
    "contract_id": [IN_REVIEW, PLAIN],
    "supplier_id": [SUPPLIER],
    "term": [1],
    "version": [1, 2],
    "kind": ["contracts", "suppliers", "deliveries"],
    "username": [name for name, _ in PEOPLE.values()],
}


def _schema_app() -> FastAPI:
    """The app, only to read its schema: nothing is connected or queried."""
    engine = make_engine("sqlite://")
    return create_app(
        Settings(
            database_url="sqlite://",
            temporal_task_queue="schema",
            temporal_search_attributes=False,
        ),
        sessions=make_session_factory(engine),
    )


def _load() -> Any:
    loaded = schemathesis.openapi.from_dict(_schema_app().openapi()).include(path_regex=r"^/api/")
    loaded.config.generation.update(modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
    return loaded


# The CI run fuzzes (and runs the schema's examples); the soak run also walks the coverage
# phase (boundary values of every parameter), which alone sends some hundred requests per
# operation.
schema = _load()
schema.config.phases.update(phases=["examples", "fuzzing"])
soak_schema = _load()


def flatmap_path_parameters(context: Any, path_parameters: dict[str, Any]) -> Any:
    """Half the time, the ids of the seeded records instead of random ones."""
    path_parameters = dict(path_parameters or {})
    known = {k: KNOWN[k] for k in path_parameters if k in KNOWN}
    if not known:
        return st.just(path_parameters)
    seeded = st.fixed_dictionaries({k: st.sampled_from(v) for k, v in known.items()}).map(
        lambda chosen: {**path_parameters, **chosen}
    )
    return st.one_of(st.just(path_parameters), seeded)


def flatmap_body(context: Any, body: Any) -> Any:
    """A body naming a contract names a seeded one half the time."""
    if isinstance(body, dict) and "contract_id" in body:
        return st.one_of(
            st.just(body),
            st.sampled_from(KNOWN["contract_id"]).map(lambda cid: {**body, "contract_id": cid}),
        )
    return st.just(body)


for _schema in (schema, soak_schema):
    for _hook in (flatmap_path_parameters, flatmap_body):
        _schema.hook(_hook)


# ---------------------------------------------------------------------------- the server


class Server:
    """uvicorn serving the real app on 127.0.0.1, on an event loop of its own thread that also
    holds the time-skipping environment and the worker."""

    def __init__(self, database_url: str) -> None:
        engine = make_engine(database_url)
        upgrade(engine)
        self.engine = engine
        self.sessions = make_session_factory(engine)
        self.task_queue = f"st-{uuid.uuid4().hex[:8]}"
        self.tokens, _ = seed_people(self.sessions)
        self.executor = ThreadPoolExecutor(max_workers=8, thread_name_prefix="st-activity")
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="st-loop", daemon=True)
        self.thread.start()
        self.database_url = database_url
        self.base_url = self.run(self._start())

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 120) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    async def _start(self) -> str:
        self.env = await WorkflowEnvironment.start_time_skipping(
            data_converter=pydantic_data_converter,
            test_server_existing_path=temporal_test_server(),
        )
        self.worker: Worker = build_worker(
            self.env.client,
            task_queue=self.task_queue,
            database_url=self.database_url,
            executor=self.executor,
            max_concurrent_activities=8,
        )
        self.worker_task = asyncio.create_task(self.worker.run())
        await self._seed()
        app = create_app(
            settings_for(self.database_url, self.task_queue),
            web_settings=WebSettings(),
            sessions=self.sessions,
            temporal_client=self.env.client,
        )
        config = uvicorn.Config(
            app, host="127.0.0.1", port=0, lifespan="off", log_level="critical", access_log=False
        )
        self.http = uvicorn.Server(config)
        self.http_task = asyncio.create_task(self.http.serve())
        while not self.http.started:
            if self.http_task.done():
                self.http_task.result()
            await asyncio.sleep(0.01)
        port = self.http.servers[0].sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    async def _seed(self) -> None:
        now = (await self.env.get_current_time()).date()
        with transaction(self.sessions) as s:
            register(
                s,
                id=IN_REVIEW,
                supplier_id=SUPPLIER,
                start_date=now - relativedelta(months=10),
                end_date=now + relativedelta(months=2),
                notice_period_days=0,
            )
            register(
                s,
                id=PLAIN,
                supplier_id=SUPPLIER,
                start_date=now - relativedelta(months=2),
                end_date=now + relativedelta(months=22),
            )
        await renewals.start_renewal(
            self.env.client,
            contract_id=IN_REVIEW,
            term=1,
            requested_by=PEOPLE["procurement"][0],
            task_queue=self.task_queue,
        )
        handle = renewals.renewal_handle(self.env.client, contract_id=IN_REVIEW, term=1)
        for _ in range(600):
            if (await handle.query(ContractRenewalWorkflow.status)).drafts:
                return
            await asyncio.sleep(0.05)
        raise AssertionError("the seeded renewal made no draft")

    async def _stop(self) -> None:
        self.http.should_exit = True
        await self.http_task
        await self.worker.shutdown()
        await self.worker_task
        await self.env.shutdown()

    def close(self) -> None:
        try:
            self.run(self._stop())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(timeout=30)
            self.loop.close()
            self.executor.shutdown(wait=True)
            self.engine.dispose()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    path: Path = tmp_path_factory.mktemp("schemathesis") / "renewals.db"
    srv = Server(f"sqlite:///{path}")
    try:
        yield srv
    finally:
        srv.close()


# ---------------------------------------------------------------------------- the tests


def _call(case: schemathesis.Case[Any], server: Server, who: str) -> None:
    case.call_and_validate(
        base_url=server.base_url,
        headers={"Authorization": f"Bearer {server.tokens[who]}"},
        checks=[not_a_server_error],
        timeout=60,
    )


@schema.parametrize()
@pytest.mark.parametrize("who", ROLES)
@settings(
    max_examples=8,  # per operation and role: 24 generated requests per operation
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_no_server_error(case: schemathesis.Case[Any], who: str, server: Server) -> None:
    _call(case, server, who)


@pytest.mark.soak
@soak_schema.parametrize()
@pytest.mark.parametrize("who", ROLES)
@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_error_soak(case: schemathesis.Case[Any], who: str, server: Server) -> None:
    _call(case, server, who)


# ---------------------------------------------------------------------------- big integers

BIG = str(2**63)  # one more than SQLite's (and PostgreSQL's bigint) largest integer


@pytest.mark.parametrize(
    ("who", "method", "path", "draft_version", "field"),
    [
        ("admin", "GET", f"/api/v1/contracts?offset={BIG}", 1, "offset"),
        ("admin", "GET", f"/api/v1/suppliers?offset={BIG}", 1, "offset"),
        ("admin", "GET", f"/api/v1/renewals?offset={BIG}", 1, "offset"),
        ("legal", "GET", f"/api/v1/review-queue?offset={BIG}", 1, "offset"),
        ("admin", "GET", f"/api/v1/audit?offset={BIG}", 1, "offset"),
        ("admin", "GET", f"/api/v1/renewals/{IN_REVIEW}/terms/{BIG}/drafts", 1, "term"),
        ("admin", "GET", f"/api/v1/renewals/{IN_REVIEW}/terms/{BIG}/drafts/1", 1, "term"),
        ("admin", "GET", f"/api/v1/renewals/{IN_REVIEW}/terms/1/drafts/{BIG}", 1, "version"),
        ("admin", "GET", f"/api/v1/renewals/{IN_REVIEW}/terms/{BIG}", 1, "term"),
        (
            "admin",
            "GET",
            f"/api/v1/renewals/{IN_REVIEW}/terms/1/drafts/1/diff?against={BIG}",
            1,
            "against",
        ),
        ("legal", "POST", f"/api/v1/renewals/{IN_REVIEW}/terms/{BIG}/decisions", 1, "term"),
        (
            "legal",
            "POST",
            f"/api/v1/renewals/{IN_REVIEW}/terms/1/decisions",
            int(BIG),
            "draft_version",
        ),
    ],
)
def test_integers_beyond_64_bits_are_refused(
    server: Server, who: str, method: str, path: str, draft_version: int, field: str
) -> None:
    """Refused before they reach the database, as any other invalid input: 422 naming the
    field."""
    body = {"decision": "reject", "draft_version": draft_version, "comment": "no"}
    response = httpx.request(
        method,
        server.base_url + path,
        headers={"Authorization": f"Bearer {server.tokens[who]}"},
        json=body if method == "POST" else None,
        timeout=60,
    )
    assert response.status_code == 422, (response.status_code, response.text[:300])
    assert response.headers["content-type"].startswith("application/problem+json")
    fields = [e["field"] for e in response.json()["errors"]]
    assert fields == [field], response.text[:300]
