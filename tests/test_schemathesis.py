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

Issue 14's input limits get their own pass over the same schema and server: every operation
with a JSON body, with bodies schemathesis generates for it carrying JSON nested 100,000 levels
or a number of 5,000 digits, and every integer path or query parameter at 5,000 digits, answer
a 422 problem (never a 5xx); a 100,000-level body written byte for byte on a socket gets its
whole answer and leaves the connection open.
"""

import asyncio
import http.client
import json
import re
import socket
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
from hypothesis import HealthCheck, assume, given, settings
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
from portal.limits import MAX_JSON_DEPTH, MAX_NUMBER_DIGITS
from store import users
from store.db import make_engine, make_session_factory, transaction
from tests.factories import register
from tests.identity_helpers import TEST_IDENTITY_KEYS
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
            identity_keys=TEST_IDENTITY_KEYS,
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
            identity=TEST_IDENTITY_KEYS,
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


# ---------------------------------------------------------------------------- input limits
#
# Issue 14: JSON nested 100,000 levels, or an integer of 5,000 digits, answered a plain-text
# 500 and reset the connection. Every operation of the schema that takes a JSON body gets
# bodies schemathesis generates for it (positive, valid per the schema, path parameters naming
# the seeded records some of the time), with one of their values replaced by such a value, sent
# over HTTP to the served app: each must be a 422 problem naming the limit. The body check runs
# before authentication and routing, so one role is enough.

DEPTH = 100_000  # Python's JSON parser recurses once per level: this exhausts its stack
DIGITS = 5_000  # over Python's own 4,300-digit limit for int(str)
PROBE = "__limit_probe__"  # where a generated body gets the oversized value
DEEP_REASON = f"is nested more than {MAX_JSON_DEPTH} levels deep; at most {MAX_JSON_DEPTH} are"
HUGE_REASON = f"has a number of {DIGITS} digits; at most {MAX_NUMBER_DIGITS} are accepted"
ATTACKS: dict[str, tuple[str, str]] = {  # name -> (JSON text put in the body, reason expected)
    "deep arrays": ("[" * DEPTH + "]" * DEPTH, DEEP_REASON),
    "deep objects": ('{"a":' * DEPTH + "0" + "}" * DEPTH, DEEP_REASON),
    "huge integer": ("9" * DIGITS, HUGE_REASON),
    "huge negative number": ("-" + "9" * DIGITS + ".5e3", HUGE_REASON),
}


def _json_body_operations() -> list[Any]:
    """Every operation of the schema with a JSON request body (from the schema itself, so a new
    one is covered without a change here)."""
    found = []
    for result in schema.get_all_operations():
        operation = result.ok()
        if any(_is_json(t) for t in operation.get_request_payload_content_types()):
            found.append(operation)
    return found


def _is_json(media_type: str | None) -> bool:
    media = (media_type or "").split(";")[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


JSON_BODY_OPERATIONS = _json_body_operations()


def _with_probe(body: Any) -> Any:
    """The generated body with one value replaced by PROBE: the first field's value of an
    object, one item more of an array, else the whole body."""
    if isinstance(body, dict):
        return {**body, next(iter(body), "probe"): PROBE}
    if isinstance(body, list):
        return [*body, PROBE]
    return PROBE


def _assert_refused_by_limit(response: httpx.Response, reason: str) -> None:
    assert response.status_code == 422, (response.status_code, response.text[:300])
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == 422 and problem["title"] == "Invalid input", problem
    (error,) = problem["errors"]
    assert error["field"] == "(body)" and reason in error["reason"], problem
    assert reason in problem["detail"], problem


@pytest.fixture(scope="module")
def own_tokens(server: Server) -> dict[str, str]:
    """Tokens of accounts of our own, one per role: the fuzzing above, as an administrator,
    may have revoked the seeded people's tokens or deactivated them (their names are among
    the values it tries)."""
    tokens = {}
    with transaction(server.sessions) as s:
        for who in ROLES:
            name = f"limits-{who}-{uuid.uuid4().hex[:8]}@example.com"
            users.create_user(s, username=name, display_name=who, roles=who)
            tokens[who] = users.issue_token(s, username=name, name="limits").secret
    return tokens


@pytest.fixture(scope="module")
def raw_http(server: Server) -> Iterator[httpx.Client]:
    """One keep-alive connection pool for the oversized bodies: a reset connection would be an
    error here, not a silent reconnect (httpx retries nothing)."""
    with httpx.Client(base_url=server.base_url, timeout=60) as client:
        yield client


def test_every_json_body_operation_is_covered() -> None:
    paths = {(op.method.upper(), op.path) for op in JSON_BODY_OPERATIONS}
    assert ("POST", "/api/v1/users") in paths
    assert ("POST", "/api/v1/imports/{kind}") in paths
    assert ("POST", "/api/v1/renewals/{contract_id}/terms/{term}/decisions") in paths
    assert len(paths) >= 10


@pytest.mark.parametrize("operation", JSON_BODY_OPERATIONS, ids=lambda op: op.label)
@settings(
    max_examples=2,  # generated bodies per operation, each sent with every attack
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
    database=None,
)
@given(data=st.data())
def test_deep_json_and_huge_integers_get_a_422_problem(
    operation: Any,
    data: st.DataObject,
    server: Server,
    raw_http: httpx.Client,
    own_tokens: dict[str, str],
) -> None:
    case = data.draw(operation.as_strategy(media_type="application/json"))
    assume(_is_json(case.media_type))  # the imports also take text/csv, whatever we ask for
    kwargs = case.as_transport_kwargs(
        base_url=server.base_url, headers={"Authorization": f"Bearer {own_tokens['admin']}"}
    )
    text = json.dumps(_with_probe(kwargs.pop("json")))
    assert text.count(f'"{PROBE}"') == 1, text[:200]
    headers = {**kwargs["headers"], "Content-Type": "application/json"}
    for name, (value, reason) in ATTACKS.items():
        response = raw_http.request(
            kwargs["method"],
            kwargs["url"],
            params=kwargs.get("params"),
            headers=headers,
            content=text.replace(f'"{PROBE}"', value).encode(),
        )
        assert response.status_code < 500, (name, response.text[:300])
        _assert_refused_by_limit(response, reason)


# ---------------------------------------------------------------------------- integer parameters


def _integer_parameters() -> list[tuple[Any, str, str]]:
    """(operation, location, name) of every integer path and query parameter in the schema."""
    found = []
    for result in schema.get_all_operations():
        operation = result.ok()
        for parameter in operation.iter_parameters():
            definition = parameter.definition.get("schema", {})
            types = {definition.get("type")} | {
                alternative.get("type") for alternative in definition.get("anyOf", [])
            }
            if "integer" in types and parameter.location.value in ("path", "query"):
                found.append((operation, parameter.location.value, parameter.name))
    return found


INTEGER_PARAMETERS = _integer_parameters()
# Path parameters that are not the one under test name a seeded record.
PATH_DEFAULTS = {"contract_id": IN_REVIEW, "supplier_id": SUPPLIER, "term": "1", "version": "1"}


@pytest.mark.parametrize(
    ("operation", "location", "name"),
    INTEGER_PARAMETERS,
    ids=[f"{op.label} {name}" for op, _, name in INTEGER_PARAMETERS],
)
def test_an_integer_parameter_of_5000_digits_is_a_422_naming_it(
    raw_http: httpx.Client, own_tokens: dict[str, str], operation: Any, location: str, name: str
) -> None:
    """For every role: the ones holding the operation's permission get a 422 naming the
    parameter, the others a 403."""
    huge = "9" * DIGITS
    path = operation.path
    for parameter in re.findall(r"\{([a-z_]+)\}", path):
        value = huge if (location, parameter) == ("path", name) else PATH_DEFAULTS[parameter]
        path = path.replace("{" + parameter + "}", value)
    named = []
    for who in ROLES:  # a role without the permission is refused first (403): no 5xx either way
        response = raw_http.request(
            operation.method.upper(),
            path,
            params={name: huge} if location == "query" else None,
            headers={"Authorization": f"Bearer {own_tokens[who]}"},
            json={} if operation.method.upper() in ("POST", "PUT") else None,
        )
        assert response.status_code in (403, 422), (who, response.status_code, response.text[:300])
        assert response.headers["content-type"] == "application/problem+json"
        if response.status_code == 422:
            named.append(name in [e["field"] for e in response.json()["errors"]])
    assert named and all(named), (named, response.text[:300])


# ---------------------------------------------------------------------------- the raw socket


def _raw_request(sock: socket.socket, head: str, body: bytes = b"") -> http.client.HTTPResponse:
    sock.sendall(head.encode("latin-1") + b"\r\n" + body)
    response = http.client.HTTPResponse(sock)
    response.begin()
    return response


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_a_100000_level_body_on_a_raw_socket_gets_its_answer(
    server: Server, own_tokens: dict[str, str], framing: str
) -> None:
    """The request as a client writes it, byte for byte: the 422 arrives in full (no reset),
    and the same connection then answers another request."""
    body = ("[" * DEPTH + "]" * DEPTH).encode()
    host, port = server.base_url.removeprefix("http://").split(":")
    common = (
        f"Host: {host}:{port}\r\nAuthorization: Bearer {own_tokens['admin']}\r\n"
        "Content-Type: application/json\r\n"
    )
    if framing == "chunked":
        size = 16_384
        pieces = [body[i : i + size] for i in range(0, len(body), size)]
        framed = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces) + b"0\r\n\r\n"
        head = f"POST /api/v1/plans/preview HTTP/1.1\r\n{common}Transfer-Encoding: chunked\r\n"
    else:
        framed = body
        head = f"POST /api/v1/plans/preview HTTP/1.1\r\n{common}Content-Length: {len(body)}\r\n"
    with socket.create_connection((host, int(port)), timeout=60) as sock:
        refused = _raw_request(sock, head, framed)
        payload = refused.read()  # ConnectionResetError or IncompleteRead if cut short
        assert refused.status == 422, payload[:300]
        assert refused.getheader("content-type") == "application/problem+json"
        assert refused.getheader("connection", "").lower() != "close"
        problem = json.loads(payload)
        assert DEEP_REASON in problem["errors"][0]["reason"], problem
        again = _raw_request(sock, f"GET /healthz HTTP/1.1\r\nHost: {host}:{port}\r\n")
        assert again.status == 200 and json.loads(again.read()) == {"status": "ok"}
