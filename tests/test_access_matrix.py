"""Access control: every route against every role (deny by default), CSRF on every form, and
self-approval refused through the web page, the API and the CLI."""

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from typer.testing import CliRunner

from cli import renewal_commands
from config.settings import get_settings
from migrations.runner import upgrade
from portal.deps import SESSION_COOKIE, api_routes, check_every_route_is_guarded
from store import users
from store.db import make_engine, make_session_factory, transaction
from tests.portal_fixtures import *  # noqa: F403
from tests.portal_fixtures import (
    PASSWORD,
    Portal,
    build_portal,
    contract_in_review_window,
    wait_for_draft,
)

P, L, A = "procurement", "legal", "admin"
ROLES = [None, P, L, A]  # None: anonymous
ALL = {P, L, A}
READ = {P, L, A}

C = "/api/v1/renewals/C-1/terms/1"
# (method, path as the app declares it, concrete path, allowed roles, request keywords)
MATRIX: list[tuple[str, str, str, set[str], dict[str, Any]]] = [
    ("GET", "/api/v1/me", "/api/v1/me", ALL, {}),
    ("GET", "/api/v1/users", "/api/v1/users", {A}, {}),
    (
        "POST",
        "/api/v1/users",
        "/api/v1/users",
        {A},
        {"json": {"username": "x", "roles": ["bogus"]}},
    ),
    (
        "POST",
        "/api/v1/users/{username}/tokens",
        "/api/v1/users/nobody/tokens",
        {A},
        {"json": {"name": "t"}},
    ),
    ("GET", "/api/v1/suppliers", "/api/v1/suppliers", READ, {}),
    ("POST", "/api/v1/plans/preview", "/api/v1/plans/preview", READ, {"json": []}),
    ("GET", "/api/v1/calendar.ics", "/api/v1/calendar.ics", READ, {}),
    ("GET", "/api/v1/suppliers/{supplier_id}", "/api/v1/suppliers/S-1", READ, {}),
    ("GET", "/api/v1/contracts", "/api/v1/contracts", READ, {}),
    ("GET", "/api/v1/contracts/{contract_id}", "/api/v1/contracts/C-1", READ, {}),
    (
        "POST",
        "/api/v1/contracts/{contract_id}/amendments",
        "/api/v1/contracts/C-1/amendments",
        {P},
        {"json": {"notice_period_days": 10}},
    ),
    (
        "POST",
        "/api/v1/imports/{kind}",
        "/api/v1/imports/suppliers",
        {P},
        {"content": b"id,name\n", "headers": {"content-type": "text/csv"}},
    ),
    ("GET", "/api/v1/exports/{kind}", "/api/v1/exports/suppliers", {P, A}, {}),
    ("POST", "/api/v1/renewals", "/api/v1/renewals", {P}, {"json": {"contract_id": "C-1"}}),
    ("GET", "/api/v1/renewals", "/api/v1/renewals", READ, {}),
    ("GET", "/api/v1/renewals/{contract_id}/terms/{term}", C, READ, {}),
    (
        "POST",
        "/api/v1/renewals/{contract_id}/terms/{term}/cancellation",
        f"{C}/cancellation",
        {P},
        {"json": {"reason": "r"}},
    ),
    (
        "POST",
        "/api/v1/renewals/{contract_id}/terms/{term}/redrafts",
        f"{C}/redrafts",
        {P},
        {"json": {"reason": "r"}},
    ),
    (
        "POST",
        "/api/v1/renewals/{contract_id}/terms/{term}/dispatches",
        f"{C}/dispatches",
        {P},
        {
            "json": {
                "draft_version": 2,
                "dispatched_on": "2026-01-05",
                "channel": "post",
                "reference": "JP-REG-1",
            }
        },
    ),
    ("GET", "/api/v1/renewals/{contract_id}/terms/{term}/drafts", f"{C}/drafts", READ, {}),
    (
        "GET",
        "/api/v1/renewals/{contract_id}/terms/{term}/drafts/{version}",
        f"{C}/drafts/1",
        READ,
        {},
    ),
    (
        "GET",
        "/api/v1/renewals/{contract_id}/terms/{term}/drafts/{version}/diff",
        f"{C}/drafts/2/diff",
        READ,
        {},
    ),
    (
        "POST",
        "/api/v1/renewals/{contract_id}/terms/{term}/decisions",
        f"{C}/decisions",
        {L},
        {"json": {"decision": "approve", "draft_version": 1}},
    ),
    ("GET", "/api/v1/review-queue", "/api/v1/review-queue", {L}, {}),
    ("GET", "/api/v1/dashboard", "/api/v1/dashboard", {P, A}, {}),
    ("GET", "/api/v1/audit", "/api/v1/audit", {A}, {}),
    ("GET", "/api/v1/audit/export", "/api/v1/audit/export", {A}, {}),
    # web pages (session cookie; forms carry the CSRF token)
    ("GET", "/", "/", ALL, {}),
    ("POST", "/logout", "/logout", ALL, {"form": True}),
    ("GET", "/reviews", "/reviews", {L}, {}),
    ("GET", "/reviews/{contract_id}/{term}/{version}", "/reviews/C-1/1/1", {L}, {}),
    (
        "POST",
        "/reviews/{contract_id}/{term}/{version}/decision",
        "/reviews/C-1/1/1/decision",
        {L},
        {"form": True, "data": {"decision": "approve"}},
    ),
    ("GET", "/dashboard", "/dashboard", {P, A}, {}),
]
PUBLIC = {("GET", "/login"), ("POST", "/login"), ("GET", "/healthz")}


@pytest_asyncio.fixture(scope="module")
async def matrix_portal(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Portal]:
    """One app for the whole matrix (access does not depend on the database engine). Temporal
    is unreachable on purpose: an allowed call may fail with 503, never with 401/403."""
    url = f"sqlite:///{tmp_path_factory.mktemp('matrix') / 'renewals.db'}"
    engine = make_engine(url)
    upgrade(engine)
    p = await build_portal(
        database_url=url, sessions=make_session_factory(engine), client=None, task_queue="tq"
    )
    p.app.state.portal.settings = p.app.state.portal.settings.model_copy(
        update={"temporal_address": "127.0.0.1:1"}
    )
    p.app.state.portal.temporal._settings = p.app.state.portal.settings
    yield p
    await p.http.aclose()
    engine.dispose()


def _declared(app: FastAPI) -> set[tuple[str, str]]:
    return {(method, route.path) for route in api_routes(app) for method in route.methods}


def test_the_matrix_covers_every_route(matrix_portal: Portal) -> None:
    """Deny by default: a new route fails this test until its access is decided here."""
    listed = {(m, path) for m, path, *_ in MATRIX} | PUBLIC
    assert _declared(matrix_portal.app) == listed


def test_an_unguarded_route_stops_the_app() -> None:
    app = FastAPI()

    @app.get("/api/v1/leak")
    def leak() -> dict[str, str]:
        return {}

    with pytest.raises(RuntimeError, match="/api/v1/leak"):
        check_every_route_is_guarded(app)


async def _session_for(p: Portal, who: str) -> tuple[str, str]:
    with transaction(p.sessions) as s:
        user = users.get_user(s, username=p.username(who))
        secret, web = users.start_session(s, user=user)
    return secret, web.csrf_token


@pytest.mark.parametrize("who", ROLES, ids=lambda w: w or "anonymous")
@pytest.mark.parametrize(
    ("method", "declared", "path", "allowed", "kwargs"),
    MATRIX,
    ids=[f"{m} {d}" for m, d, *_ in MATRIX],
)
async def test_access(
    matrix_portal: Portal,
    who: str | None,
    method: str,
    declared: str,
    path: str,
    allowed: set[str],
    kwargs: dict[str, Any],
) -> None:
    p = matrix_portal
    web = not declared.startswith("/api/")
    request: dict[str, Any] = {k: v for k, v in kwargs.items() if k not in ("form", "data")}
    cookies: dict[str, str] = {}
    if web:
        if who is not None:
            # A fresh session per case: signing out must not end the session of other cases.
            secret, csrf = await _session_for(p, who)
            cookies[SESSION_COOKIE] = secret
            if kwargs.get("form"):
                request["data"] = {"csrf_token": csrf, **kwargs.get("data", {})}
        elif kwargs.get("form"):
            request["data"] = {"csrf_token": "x", **kwargs.get("data", {})}
    else:
        request["headers"] = {**request.get("headers", {}), **p.auth(who)}
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=p.app), base_url="http://testserver", cookies=cookies
    ) as http:
        response = await http.request(method, path, **request)
    status = response.status_code
    if who is None:
        if web:
            assert status == 303 and response.headers["location"].startswith("/login"), status
        else:
            assert status == 401, response.text
            assert response.headers["content-type"].startswith("application/problem+json")
    elif who in allowed:
        assert status not in (401, 403), response.text
        if web and status == 303:
            # Signing out lands on the sign-in page; anything else going there means "refused".
            expected_login = declared == "/logout"
            assert (response.headers["location"] == "/login") is expected_login
    else:
        assert status == 403, response.text


# ---------------------------------------------------------------------------- CSRF


async def test_form_posts_without_a_valid_csrf_token_are_refused(matrix_portal: Portal) -> None:
    p = matrix_portal
    secret, csrf = await _session_for(p, L)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=p.app),
        base_url="http://testserver",
        cookies={SESSION_COOKIE: secret},
    ) as http:
        for data, headers in (
            ({"decision": "approve"}, {}),
            ({"decision": "approve", "csrf_token": "forged"}, {}),
            ({"decision": "approve", "csrf_token": csrf}, {"origin": "https://evil.example"}),
        ):
            r = await http.post("/reviews/C-1/1/1/decision", data=data, headers=headers)
            assert r.status_code == 403, (data, headers, r.status_code)
            assert "security token" in r.text
        r = await http.post("/logout", data={})
        assert r.status_code == 403
        # The session survived the forged sign-out.
        assert (await http.get("/reviews")).status_code == 200

    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=p.app), base_url="http://testserver"
    ) as http:
        # Sign-in without the form's double-submit cookie (a cross-site login attempt).
        r = await http.post(
            "/login",
            data={"username": p.username(L), "password": PASSWORD, "csrf_token": "x"},
        )
        assert r.status_code == 403
        page = await http.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert token is not None
        bad = await http.post(
            "/login",
            data={"username": p.username(L), "password": "wrong password!", "csrf_token": token[1]},
        )
        assert bad.status_code == 401 and "wrong password" in bad.text
        ok = await http.post(
            "/login",
            data={
                "username": p.username(L),
                "password": PASSWORD,
                "csrf_token": token[1],
                "next": "//evil.example/",
            },
        )
        assert ok.status_code == 303 and ok.headers["location"] == "/"
        assert SESSION_COOKIE in ok.cookies or SESSION_COOKIE in http.cookies


# ---------------------------------------------------------------------------- self-approval


async def test_self_approval_is_refused_through_web_api_and_cli(
    portal: Portal, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """both@example.com holds procurement and legal: they may start a renewal and review
    drafts, but never approve a renewal they asked for."""
    env = portal.extra["env"]
    cid = await contract_in_review_window(env, portal.sessions)
    started = await portal.http.post(
        "/api/v1/renewals", json={"contract_id": cid}, headers=portal.auth("buyer_lawyer")
    )
    assert started.status_code == 201
    await wait_for_draft(portal.client, cid)  # type: ignore[arg-type]

    api = await portal.http.post(
        f"/api/v1/renewals/{cid}/terms/1/decisions",
        json={"decision": "approve", "draft_version": 1},
        headers=portal.auth("buyer_lawyer"),
    )
    assert api.status_code == 403 and "segregation of duties" in api.json()["detail"]

    secret, csrf = portal.cookies["buyer_lawyer"]
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=portal.app),
        base_url="http://testserver",
        cookies={SESSION_COOKIE: secret},
    ) as http:
        page = await http.get(f"/reviews/{cid}/1/1")
        assert page.status_code == 200
        assert 'value="approve" disabled' in page.text
        web = await http.post(
            f"/reviews/{cid}/1/1/decision",
            data={"csrf_token": csrf, "decision": "approve", "request_id": "r1"},
        )
        assert web.status_code == 403 and "segregation of duties" in web.text

    # The CLI acts for its token's owner; the workflow itself refuses the requester.
    monkeypatch.setenv("RENEWALS_API_TOKEN", portal.tokens["buyer_lawyer"])
    monkeypatch.setenv("DATABASE_URL", portal.database_url)
    monkeypatch.setenv("TEMPORAL_ADDRESS", env.client.service_client.config.target_host)
    monkeypatch.setenv("RENEWALS_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    try:
        result = await asyncio.to_thread(
            CliRunner().invoke,
            renewal_commands.app,
            [
                "review",
                cid,
                "--version",
                "1",
                "--decision",
                "approve",
                "--reviewer",
                "both@example.com",
            ],
        )
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 1, result.output
    assert "segregation of duties" in result.output

    # Naming someone else than the token's owner is refused before the workflow is asked, and
    # without a token a database with users refuses the CLI altogether (deny by default).
    impersonate = await asyncio.to_thread(
        CliRunner().invoke,
        renewal_commands.app,
        ["review", cid, "--version", "1", "--decision", "approve", "--reviewer", "x@example.com"],
    )
    assert impersonate.exit_code == 1
    assert "is not the owner of RENEWALS_API_TOKEN" in impersonate.output
    monkeypatch.delenv("RENEWALS_API_TOKEN")
    anonymous = await asyncio.to_thread(
        CliRunner().invoke,
        renewal_commands.app,
        ["review", cid, "--version", "1", "--decision", "approve", "--reviewer", "x@example.com"],
    )
    assert anonymous.exit_code == 1 and "set RENEWALS_API_TOKEN" in anonymous.output

    status = await portal.http.get(
        f"/api/v1/renewals/{cid}/terms/1", headers=portal.auth("procurement")
    )
    assert status.json()["decisions"] == [] and status.json()["renewal"]["stage"] == "legal_review"
    await portal.client.get_workflow_handle(f"renewal/{cid}/term-1").terminate("test over")  # type: ignore[union-attr]
