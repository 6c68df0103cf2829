"""Hardening from issue 14, each finding with its regression test: JSON bodies too deep or with
numbers too long get a 422 naming the limit on every operation (no request answers a plain
500); scrypt at today's cost, with old hashes upgraded at sign-in; Secure cookies and HSTS
over HTTPS (also behind a trusted proxy); SQLite files readable by their owner only; no docs
pages loading scripts from a CDN; one-line titles and exactly one owner address through the
API import.

The app is the real one (api.app.create_app) over a migrated SQLite database with the users of
tests/portal_fixtures.py.
"""

import json
import os
import re
import stat
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

import auth.passwords as passwords
from api.app import CONTENT_SECURITY_POLICY, create_app
from cli.devstack import private_data_dir
from config.settings import Settings
from migrations.runner import upgrade
from models.account_tables import UserRow
from models.contract import SupplierCreate
from models.tables import ContractRow, SupplierRow
from portal.config import WebSettings
from portal.deps import SESSION_COOKIE
from portal.limits import MAX_JSON_DEPTH, MAX_NUMBER_DIGITS, json_body_problem
from services import users as user_service
from store import users
from store.contracts import upsert_supplier
from store.db import SessionFactory, make_engine, make_session_factory, transaction
from store.reads import reviews as review_reads
from tests.factories import contract_data
from tests.portal_fixtures import PASSWORD, seed_people
from web.routes import LOGIN_CSRF_COOKIE

DEEP = "[" * 100_000 + "]" * 100_000
HUGE = '{"value": ' + "9" * 5000 + "}"


@dataclass
class Stack:
    url: str
    sessions: SessionFactory
    tokens: dict[str, str]
    cookies: dict[str, tuple[str, str]]

    def app(self, **web: Any) -> Any:
        return create_app(
            Settings(database_url=self.url, temporal_search_attributes=False),
            web_settings=WebSettings(**web),
            sessions=self.sessions,
        )

    def http(
        self, *, base_url: str = "http://testserver", raise_errors: bool = True, **web: Any
    ) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=self.app(**web), raise_app_exceptions=raise_errors)
        return httpx.AsyncClient(transport=transport, base_url=base_url, timeout=60)

    def auth(self, who: str = "admin") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    url = f"sqlite:///{tmp_path_factory.mktemp('hardening') / 'renewals.db'}"
    engine = make_engine(url)
    upgrade(engine)
    sessions = make_session_factory(engine)
    tokens, cookies = seed_people(sessions)
    yield Stack(url, sessions, tokens, cookies)
    engine.dispose()


@pytest.fixture
async def http(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    async with stack.http() as client:
        yield client


def _json_operations(app: Any) -> list[tuple[str, str]]:
    """Every operation in the API's own schema that takes a JSON body, with its path
    parameters filled in."""
    found = []
    for path, item in app.openapi()["paths"].items():
        for method, operation in item.items():
            content = operation.get("requestBody", {}).get("content", {})
            if "application/json" in content:
                concrete = re.sub(r"\{(term|version)\}", "1", path)
                found.append((method.upper(), re.sub(r"\{[a-z_]+\}", "contracts", concrete)))
    return found


def _assert_refused_by_limit(response: httpx.Response, reason: str) -> None:
    assert response.status_code == 422, response.text[:300]
    assert response.headers["content-type"] == "application/problem+json"
    (error,) = response.json()["errors"]
    assert error["field"] == "(body)" and reason in error["reason"], error


# ---------------------------------------------------------------------------- input limits


async def test_every_json_operation_refuses_deep_json_and_huge_integers(
    stack: Stack, http: httpx.AsyncClient
) -> None:
    operations = _json_operations(stack.app())
    assert ("POST", "/api/v1/users") in operations
    assert ("POST", "/api/v1/imports/contracts") in operations
    assert len(operations) >= 8
    headers = {**stack.auth(), "content-type": "application/json"}
    for method, path in operations:
        deep = await http.request(method, path, content=DEEP, headers=headers)
        _assert_refused_by_limit(deep, f"nested more than {MAX_JSON_DEPTH} levels")
        huge = await http.request(method, path, content=HUGE, headers=headers)
        _assert_refused_by_limit(huge, f"a number of 5000 digits; at most {MAX_NUMBER_DIGITS}")
    # Without a content type FastAPI reads a body as JSON too: so does the check.
    bare = await http.post("/api/v1/users", content=DEEP, headers=stack.auth())
    _assert_refused_by_limit(bare, "nested more than")
    # And before authentication: nothing parses the body first.
    stranger = await http.post(
        "/api/v1/plans/preview", content=HUGE, headers={"content-type": "application/json"}
    )
    _assert_refused_by_limit(stranger, "digits")


async def test_nothing_answers_a_5xx_to_malformed_json(
    stack: Stack, http: httpx.AsyncClient
) -> None:
    bodies = [
        "[" * 100_000,  # unbalanced
        "]" * 100_000,
        '{"a": "' + "\\" * 10_001,  # an unterminated string
        '[{"id": ' + "1" * 4400 + "}]",  # over Python's own 4300-digit limit
        "[" + "1e" + "9" * 100 + "]",
        "\ufeff[]",
        "[\ud800]",
    ]
    headers = {**stack.auth(), "content-type": "application/json"}
    for path in ("/api/v1/users", "/api/v1/imports/contracts", "/api/v1/plans/preview"):
        for body in bodies:
            raw = body.encode("utf-8", "surrogatepass")
            response = await http.post(path, content=raw, headers=headers)
            assert response.status_code < 500, (path, body[:20], response.text[:300])
            if response.status_code >= 400:
                assert response.headers["content-type"] == "application/problem+json"


async def test_strings_and_ordinary_numbers_pass_the_check(
    stack: Stack, http: httpx.AsyncClient
) -> None:
    # Brackets and digits inside strings are text, not structure.
    contract = contract_data(title="[" * 150, owner="buyer@example.com")
    contract["terms"]["payment_terms"] = "9" * 150
    data = json.loads(json.dumps(contract, default=str))
    response = await http.post("/api/v1/plans/preview", json=[data], headers=stack.auth())
    assert response.status_code == 200, response.text[:500]
    # A long number within the limit reaches validation, which names the field.
    data["annual_value"] = int("1" * MAX_NUMBER_DIGITS)
    response = await http.post("/api/v1/plans/preview", json=[data], headers=stack.auth())
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["annual_value"]
    assert json_body_problem(b'{"a": [[["x"]]], "b": 12345}') is None


async def test_json_bodies_over_the_upload_limit_are_413(stack: Stack) -> None:
    body = json.dumps({"username": "x" * 3000, "roles": []}).encode()

    async def chunks() -> AsyncIterator[bytes]:  # no content-length: counted as it comes
        for i in range(0, len(body), 500):
            yield body[i : i + 500]

    async with stack.http(max_upload_bytes=2048) as http:
        headers = {**stack.auth(), "content-type": "application/json"}
        declared = await http.post("/api/v1/users", content=body, headers=headers)
        streamed = await http.post("/api/v1/users", content=chunks(), headers=headers)
    for response in (declared, streamed):
        assert response.status_code == 413, response.text[:200]
        assert response.json()["detail"] == "at most 2048 bytes are accepted"


async def test_an_unexpected_error_is_a_problem_not_a_plain_500(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError("internal detail that must not leak")

    monkeypatch.setattr(user_service, "list_users", boom)
    monkeypatch.setattr(review_reads, "review_queue", boom)
    secret, _csrf = stack.cookies["legal"]
    async with stack.http(raise_errors=False) as http:
        api = await http.get("/api/v1/users", headers=stack.auth())
        http.cookies.set(SESSION_COOKIE, secret)
        page = await http.get("/reviews")
    assert api.status_code == 500
    assert api.headers["content-type"] == "application/problem+json"
    assert api.json()["title"] == "Internal server error"
    assert page.status_code == 500 and page.headers["content-type"].startswith("text/html")
    for response in (api, page):
        assert "must not leak" not in response.text
        assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY


# ---------------------------------------------------------------------------- passwords


@pytest.fixture
def real_cost(monkeypatch: pytest.MonkeyPatch) -> None:
    """The production cost (the suite runs at a test cost, tests/conftest.py)."""
    monkeypatch.setattr(passwords, "CURRENT", passwords.RECOMMENDED)


@pytest.mark.usefixtures("real_cost")
def test_passwords_are_hashed_at_owasp_cost_and_old_hashes_still_verify() -> None:
    assert passwords.ScryptCost(n=2**17, r=8, p=1) == passwords.RECOMMENDED
    new = passwords.hash_password(PASSWORD)
    assert new.startswith("scrypt$131072$8$1$")
    assert passwords.verify_password(PASSWORD, new) and not passwords.needs_rehash(new)
    old = passwords.hash_password(PASSWORD, cost=passwords.ScryptCost(n=2**14, r=8, p=1))
    assert passwords.verify_password(PASSWORD, old)
    assert not passwords.verify_password("another password", old)
    assert passwords.needs_rehash(old)
    # A tampered row asking for a gigabyte of memory is refused without trying.
    greedy = old.replace("scrypt$16384$", f"scrypt${2**30}$")
    assert not passwords.verify_password(PASSWORD, greedy)
    assert not passwords.verify_password(PASSWORD, "scrypt$3$8$1$AAAA$AAAA")


@pytest.mark.usefixtures("real_cost")
def test_signing_in_upgrades_an_old_hash(stack: Stack) -> None:
    name = "old-hash@example.com"
    old = passwords.hash_password(PASSWORD, cost=passwords.ScryptCost(n=2**14, r=8, p=1))
    with transaction(stack.sessions) as s:
        users.create_user(s, username=name, display_name="Old", roles="legal", password=None)
        users.get_user_row(s, username=name).password_hash = old

    def sign_in(password: str) -> str:
        with stack.sessions() as s:
            try:
                user_service.sign_in(
                    s,
                    username=name,
                    password=password,
                    client="192.0.2.8",
                    now=datetime.now(UTC),
                    max_failures=5,
                    lockout_minutes=15,
                    session_hours=1,
                )
            except user_service.SignInRefused:
                s.commit()
                return "refused"
            s.commit()
        with stack.sessions() as s:
            return str(s.scalar(select(UserRow.password_hash).where(UserRow.username == name)))

    assert sign_in("not the password") == "refused"
    with stack.sessions() as s:  # a wrong password changes nothing
        assert s.scalar(select(UserRow.password_hash).where(UserRow.username == name)) == old
    upgraded = sign_in(PASSWORD)
    assert upgraded != old and upgraded.startswith("scrypt$131072$8$1$")
    assert sign_in(PASSWORD) == upgraded  # done once


# ---------------------------------------------------------------------------- HTTPS


async def _sign_in(
    http: httpx.AsyncClient, headers: dict[str, str] | None = None
) -> httpx.Response:
    form = await http.get("/login", headers=headers)
    return await http.post(
        "/login",
        data={
            "username": "legal-a@example.com",
            "password": PASSWORD,
            "csrf_token": form.cookies[LOGIN_CSRF_COOKIE],
            "next": "/",
        },
        headers=headers,
    )


def _session_cookie(response: httpx.Response) -> str:
    (cookie,) = [c for c in response.headers.get_list("set-cookie") if c.startswith(SESSION_COOKIE)]
    return cookie.lower()


async def test_https_gets_a_secure_cookie_and_hsts(stack: Stack) -> None:
    async with stack.http(base_url="https://renewals.example") as http:
        signed_in = await _sign_in(http)
    assert signed_in.status_code == 303, signed_in.text[:300]
    assert "; secure" in _session_cookie(signed_in)
    assert signed_in.headers["strict-transport-security"] == "max-age=31536000"
    async with stack.http() as http:
        plain = await _sign_in(http)
    assert plain.status_code == 303
    assert "secure" not in _session_cookie(plain)
    assert "strict-transport-security" not in plain.headers


async def test_a_proxy_says_https_only_when_trusted(stack: Stack) -> None:
    forwarded = {"X-Forwarded-Proto": "https"}
    async with stack.http() as http:
        untrusted = await _sign_in(http, forwarded)
    assert "secure" not in _session_cookie(untrusted)
    assert "strict-transport-security" not in untrusted.headers
    async with stack.http(trust_proxy=True) as http:
        trusted = await _sign_in(http, forwarded)
        health = await http.get("/healthz", headers=forwarded)
    assert "; secure" in _session_cookie(trusted)
    assert "strict-transport-security" in trusted.headers
    assert "strict-transport-security" in health.headers


async def test_cookie_secure_forces_the_flag(stack: Stack) -> None:
    async with stack.http(cookie_secure=True) as http:
        forced = await _sign_in(http)
    assert "; secure" in _session_cookie(forced)


# ---------------------------------------------------------------------------- files


@pytest.fixture
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)  # the usual umask: files 0644 unless created otherwise
    yield
    os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.usefixtures("umask_022")
def test_sqlite_files_are_private(tmp_path: Path) -> None:
    path = tmp_path / "new-data" / "renewals.db"
    engine = make_engine(f"sqlite:///{path}")
    # Created before SQLite ever opens it, so it is never readable by others.
    assert _mode(path) == 0o600 and _mode(path.parent) == 0o700
    upgrade(engine)
    with engine.connect() as conn:  # WAL mode: the -wal and -shm files exist while open
        conn.exec_driver_sql("SELECT 1")
        for suffix in ("-wal", "-shm"):
            companion = path.with_name(path.name + suffix)
            assert _mode(companion) == 0o600, suffix
    engine.dispose()
    # A file made world-readable (by an older release) is tightened when opened again.
    path.chmod(0o644)
    make_engine(f"sqlite:///{path}").dispose()
    assert _mode(path) == 0o600


@pytest.mark.usefixtures("umask_022")
def test_renewals_dev_creates_its_data_dir_private(tmp_path: Path) -> None:
    fresh = tmp_path / "data"
    private_data_dir(fresh)
    assert _mode(fresh) == 0o700
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o750)
    private_data_dir(shared)  # an existing folder is the operator's choice
    assert _mode(shared) == 0o750


# ---------------------------------------------------------------------------- docs


async def test_no_docs_pages_and_the_policy_holds_everywhere(
    stack: Stack, http: httpx.AsyncClient
) -> None:
    secret, _ = stack.cookies["legal"]
    for signed_in in (False, True):
        if signed_in:
            http.cookies.set(SESSION_COOKIE, secret)
        for path in ("/docs", "/redoc", "/docs/oauth2-redirect"):
            response = await http.get(path)
            assert response.status_code == 404, (path, signed_in)
            assert "cdn" not in response.text.lower()
    schema = await http.get("/openapi.json")
    assert schema.status_code == 200 and schema.json()["info"]["title"] == "Contract renewals"
    for response in (schema, await http.get("/login"), await http.get("/healthz")):
        assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
        assert "script-src" not in CONTENT_SECURITY_POLICY


# ---------------------------------------------------------------------------- single lines


async def test_import_refuses_multi_line_titles_and_owner_lists(
    stack: Stack, http: httpx.AsyncClient
) -> None:
    buyer = "buyer@example.com"  # an account: owners must be users (ownership, issue 14)
    rows = [
        contract_data(id="HARD-1", title="Packaging\nBcc: x@evil.example", owner=buyer),
        contract_data(id="HARD-2", owner="a@example.com, b@evil.example"),
        contract_data(id="HARD-3", owner=buyer),
    ]
    body = json.dumps(rows, default=str)
    with transaction(stack.sessions) as s:
        if s.get(SupplierRow, "S-1") is None:
            upsert_supplier(s, supplier=SupplierCreate(id="S-1", name="Tokyo Packaging K.K."))
    with stack.sessions() as s:
        before = s.scalar(select(func.count()).select_from(ContractRow))
    response = await http.post(
        "/api/v1/imports/contracts",
        content=body,
        headers={**stack.auth("procurement"), "content-type": "application/json"},
    )
    assert response.status_code == 422, response.text[:500]
    errors = {(e["row"], e["field"]): e["reason"] for e in response.json()["errors"]}
    assert set(errors) == {(1, "title"), (2, "owner")}
    assert "single line" in errors[(1, "title")]
    assert "exactly one e-mail address" in errors[(2, "owner")]
    with stack.sessions() as s:  # all or nothing: not even the good row
        assert s.scalar(select(func.count()).select_from(ContractRow)) == before
