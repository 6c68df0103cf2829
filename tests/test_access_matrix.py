"""Access control: every route against every role (deny by default), CSRF on every form, and
self-approval refused through the web page, the API and the CLI."""

import asyncio
import contextlib
import json
import re
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from dateutil.relativedelta import relativedelta
from fastapi import FastAPI
from sqlalchemy import select
from typer.testing import CliRunner

from cli import contract_commands, renewal_commands, team_commands
from config.settings import get_settings
from migrations.runner import upgrade
from models.errors import NotFound
from models.tables import AuditLogRow, ContractRow, SupplierRow
from portal.deps import SESSION_COOKIE, api_routes, check_every_route_is_guarded
from services import contracts as contract_service
from services import teams as team_service
from store import users
from store.db import make_engine, make_session_factory, transaction
from tests.factories import register
from tests.portal_fixtures import *  # noqa: F403
from tests.portal_fixtures import (
    PASSWORD,
    Portal,
    build_portal,
    contract_in_review_window,
    new_contract_id,
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
    (
        "PUT",
        "/api/v1/users/{username}/roles",
        "/api/v1/users/nobody/roles",
        {A},
        {"json": {"roles": ["legal"]}},
    ),
    ("POST", "/api/v1/users/{username}/deactivation", "/api/v1/users/nobody/deactivation", {A}, {}),
    ("DELETE", "/api/v1/users/{username}/tokens", "/api/v1/users/nobody/tokens", {A}, {}),
    ("GET", "/api/v1/me/tokens", "/api/v1/me/tokens", ALL, {}),
    ("GET", "/api/v1/me/mail-delivery", "/api/v1/me/mail-delivery", ALL, {}),
    (
        "PUT",
        "/api/v1/me/mail-delivery",
        "/api/v1/me/mail-delivery",
        ALL,
        {"json": {"mail_delivery": "digest"}},
    ),
    ("POST", "/api/v1/me/tokens", "/api/v1/me/tokens", ALL, {"json": {"name": "t"}}),
    ("DELETE", "/api/v1/me/tokens/{prefix}", "/api/v1/me/tokens/rnw_none", ALL, {}),
    ("GET", "/api/v1/teams", "/api/v1/teams", READ, {}),
    ("GET", "/api/v1/teams/{name}", "/api/v1/teams/none", READ, {}),
    # Team changes: any signed-in caller reaches the service, which refuses all but a
    # procurement lead (not a matrix role) or an admin with 403.
    ("POST", "/api/v1/teams", "/api/v1/teams", {A}, {"json": {"name": "not a name"}}),
    (
        "POST",
        "/api/v1/teams/{name}/members",
        "/api/v1/teams/none/members",
        {A},
        {"json": {"username": "x"}},
    ),
    (
        "DELETE",
        "/api/v1/teams/{name}/members/{username}",
        "/api/v1/teams/none/members/x",
        {A},
        {},
    ),
    (
        "PUT",
        "/api/v1/contracts/{contract_id}/team",
        "/api/v1/contracts/C-1/team",
        {P},
        {"json": {"team": None}},
    ),
    ("GET", "/api/v1/suppliers", "/api/v1/suppliers", READ, {}),
    ("POST", "/api/v1/plans/preview", "/api/v1/plans/preview", READ, {"json": []}),
    ("GET", "/api/v1/calendar.ics", "/api/v1/calendar.ics", READ, {}),
    ("GET", "/api/v1/suppliers/{supplier_id}", "/api/v1/suppliers/S-1", READ, {}),
    ("GET", "/api/v1/contracts", "/api/v1/contracts", READ, {}),
    ("GET", "/api/v1/contracts/{contract_id}", "/api/v1/contracts/C-1", READ, {}),
    (
        "GET",
        "/api/v1/contracts/{contract_id}/followups",
        "/api/v1/contracts/C-1/followups",
        READ,
        {},
    ),
    (
        "POST",
        "/api/v1/contracts/{contract_id}/followups",
        "/api/v1/contracts/C-1/followups",
        {P},
        {"json": {"csat": 9, "nps": 3, "supplier_continue": "yes"}},
    ),
    (
        "POST",
        "/api/v1/contracts/{contract_id}/followups/actions/{action_id}/closure",
        "/api/v1/contracts/C-1/followups/actions/1/closure",
        {P},
        {},
    ),
    (
        "PUT",
        "/api/v1/contracts/{contract_id}/followups/interval",
        "/api/v1/contracts/C-1/followups/interval",
        {P},
        {"json": {"months": 13}},
    ),
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
    ("GET", "/api/v1/imports/jobs/{job_id}", "/api/v1/imports/jobs/x", {P}, {}),
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
    (
        "POST",
        "/api/v1/renewals/{contract_id}/terms/{term}/versions",
        f"{C}/versions",
        {P},
        {"json": {"based_on_version": 1, "edit": {"unit_price": "1200"}}},
    ),
    (
        "POST",
        "/api/v1/renewals/{contract_id}/terms/{term}/offers",
        f"{C}/offers",
        {P},
        {"json": {"draft_version": 1, "presented_on": "2026-01-05"}},
    ),
    (
        "POST",
        "/api/v1/renewals/{contract_id}/terms/{term}/answers",
        f"{C}/answers",
        {P},
        {"json": {"draft_version": 1, "answer": "declined", "answered_on": "2026-01-05"}},
    ),
    (
        "POST",
        "/api/v1/renewals/{contract_id}/terms/{term}/hearings",
        f"{C}/hearings",
        {P},
        {"json": {"held_on": "2026-01-05", "needs": "a longer term"}},
    ),
    (
        "GET",
        "/api/v1/renewals/{contract_id}/terms/{term}/negotiation",
        f"{C}/negotiation",
        READ,
        {},
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
    # the buyers' workspace (issue 16)
    ("GET", "/pipeline", "/pipeline", READ, {}),
    ("GET", "/pipeline.csv", "/pipeline.csv", {P, A}, {}),
    ("GET", "/exposure", "/exposure", READ, {}),
    ("GET", "/contracts/{contract_id}", "/contracts/C-1", READ, {}),
    ("GET", "/contracts/{contract_id}/start", "/contracts/C-1/start", {P}, {}),
    ("POST", "/contracts/{contract_id}/start", "/contracts/C-1/start", {P}, {"form": True}),
    ("GET", "/contracts/{contract_id}/amend", "/contracts/C-1/amend", {P}, {}),
    (
        "POST",
        "/contracts/{contract_id}/amend",
        "/contracts/C-1/amend",
        {P},
        {"form": True, "data": {"notice_period_days": "10"}},
    ),
    *(
        row
        for action in ("versions/new", "offer", "answer", "notices", "terminate")
        for row in (
            (
                "GET",
                f"/contracts/{{contract_id}}/terms/{{term}}/{action}",
                f"/contracts/C-1/terms/1/{action}",
                {P},
                {},
            ),
            (
                "POST",
                f"/contracts/{{contract_id}}/terms/{{term}}/{action}",
                f"/contracts/C-1/terms/1/{action}",
                {P},
                {"form": True},
            ),
        )
    ),
    # follow-up reviews (issue 17): procurement records; legal reads them on the contract page
    ("GET", "/contracts/{contract_id}/followups/new", "/contracts/C-1/followups/new", {P}, {}),
    (
        "POST",
        "/contracts/{contract_id}/followups",
        "/contracts/C-1/followups",
        {P},
        {"form": True, "data": {"csat": "4", "nps": "9", "supplier_continue": "yes"}},
    ),
    (
        "POST",
        "/contracts/{contract_id}/followups/actions/{action_id}/closure",
        "/contracts/C-1/followups/actions/1/closure",
        {P},
        {"form": True},
    ),
    (
        "POST",
        "/contracts/{contract_id}/followups/interval",
        "/contracts/C-1/followups/interval",
        {P},
        {"form": True, "data": {"interval_months": "2"}},
    ),
    ("GET", "/imports", "/imports", {P}, {}),
    ("POST", "/imports", "/imports", {P}, {"form": True}),
    ("POST", "/imports/confirm", "/imports/confirm", {P}, {"form": True}),
    ("GET", "/suppliers", "/suppliers", READ, {}),
    ("GET", "/suppliers/{supplier_id}", "/suppliers/S-1", READ, {}),
    ("GET", "/account", "/account", ALL, {}),
    (
        "POST",
        "/account/language",
        "/account/language",
        ALL,
        {"form": True, "data": {"language": "en"}},
    ),
    (
        "POST",
        "/account/mail-delivery",
        "/account/mail-delivery",
        ALL,
        {"form": True, "data": {"mail_delivery": "immediate"}},
    ),
    ("POST", "/account/calendar", "/account/calendar", ALL, {"form": True}),
    ("POST", "/account/calendar/revoke", "/account/calendar/revoke", ALL, {"form": True}),
]
# The calendar link's secret is its credential (a person's calendar client cannot sign in).
PUBLIC = {
    ("GET", "/login"),
    ("POST", "/login"),
    ("GET", "/healthz"),
    ("GET", "/calendar/{token}.ics"),
}


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


async def test_every_web_form_refuses_a_post_without_its_token(matrix_portal: Portal) -> None:
    """Every form of every page, not only the review decision: a missing, forged or
    cross-site token is refused before anything is parsed or stored."""
    p = matrix_portal
    posts = [
        (path, allowed)
        for method, declared, path, allowed, _ in MATRIX
        if method == "POST" and not declared.startswith("/api/")
    ]
    assert len(posts) >= 14
    for path, allowed in posts:
        who = sorted(allowed)[0]
        secret, csrf = await _session_for(p, who)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=p.app),
            base_url="http://testserver",
            cookies={SESSION_COOKIE: secret},
        ) as http:
            for data, headers in (
                ({}, {}),
                ({"csrf_token": "forged"}, {}),
                ({"csrf_token": csrf}, {"origin": "https://evil.example"}),
            ):
                r = await http.post(path, data=data, headers=headers)
                assert r.status_code == 403, (path, who, data, headers, r.status_code)


# ---------------------------------------------------------------------------- self-approval


async def test_self_approval_is_refused_through_web_api_and_cli(
    portal: Portal, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """both@example.com holds procurement and legal: they may start a renewal and review
    drafts, but never approve a renewal they asked for."""
    env = portal.extra["env"]
    # Theirs: a procurement user starts renewals of their own contracts only.
    cid = await contract_in_review_window(env, portal.sessions, owner="both@example.com")
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


# ---------------------------------------------------------------------------- ownership
#
# A contract's owner is a user; procurement users change their own and their team's contracts
# and renewals, a procurement lead anyone's; every role reads them (renewal-semantics.md §6).
# A is the matrix's procurement user, B another procurement user who owns the contracts.

B = "owner-b@example.com"
LEAD = "lead@example.com"


def _token_for(p: Portal, name: str, roles: str) -> dict[str, str]:
    """The Authorization header of ``name`` (created with ``roles`` on first use: the
    PostgreSQL schema is shared by the module's tests)."""
    with transaction(p.sessions) as s:
        try:
            users.get_user(s, username=name)
        except NotFound:
            users.create_user(s, username=name, display_name=name, roles=roles)
        secret = users.issue_token(s, username=name, name="ownership").secret
    return {"Authorization": f"Bearer {secret}"}


def _b_contract(p: Portal, **overrides: Any) -> str:
    """A contract of B's, two months from its end, with a supplier of its own."""
    cid = new_contract_id()
    today = date.today()
    with transaction(p.sessions) as s:
        register(
            s,
            id=cid,
            owner=B,
            supplier_id=f"S-{cid}",
            start_date=today - relativedelta(months=10),
            end_date=today + relativedelta(months=2),
            notice_period_days=0,
            **overrides,
        )
    return cid


def _team(p: Portal, *members: str) -> str:
    name = f"t-{uuid.uuid4().hex[:8]}"
    with transaction(p.sessions) as s:
        lead = users.get_user(s, username=LEAD)
        team_service.create_team(s, user=lead, name=name)
        for member in members:
            team_service.add_member(s, user=lead, team=name, username=member)
    return name


@pytest_asyncio.fixture
async def owned(db_portal: Portal) -> AsyncIterator[Portal]:
    """The app without Temporal, with B and a procurement lead."""
    db_portal.extra["b"] = _token_for(db_portal, B, "procurement")
    db_portal.extra["lead"] = _token_for(db_portal, LEAD, "procurement_lead")
    yield db_portal


@pytest_asyncio.fixture
async def owned_live(portal: Portal) -> AsyncIterator[Portal]:
    """The app with a worker on the time-skipping server, with B and a procurement lead."""
    portal.extra["b"] = _token_for(portal, B, "procurement")
    portal.extra["lead"] = _token_for(portal, LEAD, "procurement_lead")
    yield portal


async def test_every_role_reads_someone_elses_contract_and_the_teams(owned: Portal) -> None:
    p = owned
    cid = _b_contract(p)
    team = _team(p, p.username("procurement"))
    for who in (P, L, A):
        read = await p.http.get(f"/api/v1/contracts/{cid}", headers=p.auth(who))
        assert read.status_code == 200 and read.json()["owner"] == B, who
        listed = await p.http.get("/api/v1/teams", headers=p.auth(who))
        assert team in {t["name"] for t in listed.json()}, who
        one = await p.http.get(f"/api/v1/teams/{team}", headers=p.auth(who))
        assert one.json()["members"] == [p.username("procurement")]
    # The web pages each role has read alike, whoever owns what.
    for who, page in ((L, "/reviews"), (A, "/dashboard"), (P, "/dashboard")):
        secret, _ = await _session_for(p, who)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=p.app),
            base_url="http://testserver",
            cookies={SESSION_COOKIE: secret},
        ) as http:
            assert (await http.get(page)).status_code == 200, (who, page)


async def test_teams_are_managed_by_a_lead_or_an_admin_through_the_api(owned: Portal) -> None:
    p = owned
    name = f"t-{uuid.uuid4().hex[:8]}"
    for who in (P, L):
        refused = await p.http.post("/api/v1/teams", json={"name": name}, headers=p.auth(who))
        assert refused.status_code == 403 and "may not manage teams" in refused.json()["detail"]
    created = await p.http.post("/api/v1/teams", json={"name": name}, headers=p.extra["lead"])
    assert created.status_code == 201 and created.json() == {"name": name, "members": []}
    added = await p.http.post(
        f"/api/v1/teams/{name}/members", json={"username": B}, headers=p.auth(A)
    )
    assert added.status_code == 200 and added.json()["members"] == [B]
    refused = await p.http.delete(f"/api/v1/teams/{name}/members/{B}", headers=p.auth(P))
    assert refused.status_code == 403
    removed = await p.http.delete(f"/api/v1/teams/{name}/members/{B}", headers=p.extra["lead"])
    assert removed.status_code == 200 and removed.json()["members"] == []
    with transaction(p.sessions) as s:
        trail = s.scalars(
            select(AuditLogRow.action)
            .where(AuditLogRow.subject_id == name)
            .order_by(AuditLogRow.id)
        ).all()
    assert trail == ["team_created", "team_member_added", "team_member_removed"]


async def test_a_contracts_team_is_set_by_who_may_change_it_through_the_api(owned: Portal) -> None:
    p = owned
    cid = _b_contract(p)
    team = _team(p)
    path = f"/api/v1/contracts/{cid}/team"
    refused = await p.http.put(path, json={"team": team}, headers=p.auth(P))
    assert refused.status_code == 403
    assert f"belongs to {B}" in refused.json()["detail"]
    not_in_team = await p.http.put(path, json={"team": team}, headers=p.extra["b"])
    assert not_in_team.status_code == 403
    assert [e["field"] for e in not_in_team.json()["errors"]] == ["team"]
    assert (await p.http.put(path, json={"team": team}, headers=p.auth(L))).status_code == 403
    by_lead = await p.http.put(path, json={"team": team}, headers=p.extra["lead"])
    assert by_lead.status_code == 200 and by_lead.json()["team"] == team


async def test_imports_own_contracts_and_owners_must_be_users_through_the_api(
    owned: Portal,
) -> None:
    p = owned
    sid = f"S-{uuid.uuid4().hex[:8]}"
    supplier = await _post_csv(p, "suppliers", f"id,name\n{sid},Paper Co\n", p.auth(P))
    assert supplier.status_code == 200, supplier.text
    mine = new_contract_id()
    ok = await _post_csv(p, "contracts", _contract_csv(mine, sid, p.username(P)), p.auth(P))
    assert ok.status_code == 200, ok.text
    ghost = new_contract_id()
    refused = await _post_csv(
        p, "contracts", _contract_csv(ghost, sid, "ghost@example.com"), p.auth(P)
    )
    assert refused.status_code == 422
    [error] = refused.json()["errors"]
    assert (error["row"], error["field"]) == (2, "owner")
    assert "not an active user" in error["reason"]
    with transaction(p.sessions) as s:
        assert s.get(ContractRow, ghost) is None


async def test_import_over_someone_elses_contract_is_forbidden_through_the_api(
    owned: Portal,
) -> None:
    p = owned
    cid = _b_contract(p)
    sid = f"S-{cid}"
    over = await _post_csv(p, "contracts", _contract_csv(cid, sid, p.username(P)), p.auth(P))
    assert over.status_code == 403, over.text
    assert (2, "id") in {(e["row"], e["field"]) for e in over.json()["errors"]}
    assert f"belongs to {B}" in over.json()["detail"]
    for_b = await _post_csv(p, "contracts", _contract_csv(new_contract_id(), sid, B), p.auth(P))
    assert for_b.status_code == 403 and for_b.json()["errors"][0]["field"] == "owner"
    rename = await _post_csv(p, "suppliers", f"id,name\n{sid},Renamed\n", p.auth(P))
    assert rename.status_code == 403 and "only a procurement lead" in rename.json()["detail"]
    deliveries = await _post_csv(
        p,
        "deliveries",
        "supplier_id,contract_id,order_date,promised_date,delivered_date,quantity_ordered,"
        f"quantity_accepted\n{sid},{cid},2026-02-01,2026-02-10,2026-02-10,10,10\n",
        p.auth(P),
    )
    assert deliveries.status_code == 403
    by_lead = await _post_csv(
        p, "contracts", _contract_csv(new_contract_id(), sid, B), p.extra["lead"]
    )
    assert by_lead.status_code == 200, by_lead.text
    with transaction(p.sessions) as s:
        assert s.get(SupplierRow, sid).name != "Renamed"  # type: ignore[union-attr]


def _contract_csv(cid: str, sid: str, owner: str) -> str:
    return (
        "id,title,supplier_id,owner,start_date,end_date,currency,annual_value,unit_price\n"
        f"{cid},Paper,{sid},{owner},2026-01-01,2027-01-01,JPY,1000,10\n"
    )


async def _post_csv(p: Portal, kind: str, body: str, headers: dict[str, str]) -> httpx.Response:
    return await p.http.post(
        f"/api/v1/imports/{kind}",
        content=body.encode(),
        headers={**headers, "content-type": "text/csv"},
    )


async def _amend(p: Portal, cid: str, headers: dict[str, str]) -> httpx.Response:
    return await p.http.post(
        f"/api/v1/contracts/{cid}/amendments", json={"notice_period_days": 5}, headers=headers
    )


async def test_owner_team_and_lead_amend_through_the_api(owned_live: Portal) -> None:
    p = owned_live
    cid = _b_contract(p)
    assert (await _amend(p, cid, p.extra["b"])).status_code == 200
    assert (await _amend(p, cid, p.extra["lead"])).status_code == 200
    team = _team(p, p.username(P))
    with transaction(p.sessions) as s:
        lead = users.get_user(s, username=LEAD)
        contract_service.set_team(s, user=lead, contract_id=cid, team=team)
    done = await _amend(p, cid, p.auth(P))
    assert done.status_code == 200 and done.json()["notice_period_days"] == 5


async def test_another_procurement_user_cannot_amend_through_the_api(owned_live: Portal) -> None:
    p = owned_live
    cid = _b_contract(p)
    refused = await _amend(p, cid, p.auth(P))
    assert refused.status_code == 403, refused.text
    assert f"belongs to {B}" in refused.json()["detail"]


async def test_another_procurement_user_cannot_start_through_the_api(owned_live: Portal) -> None:
    p = owned_live
    cid = _b_contract(p)
    refused = await p.http.post("/api/v1/renewals", json={"contract_id": cid}, headers=p.auth(P))
    assert refused.status_code == 403, refused.text
    assert f"belongs to {B}" in refused.json()["detail"]


async def test_another_procurement_user_cannot_terminate_through_the_api(
    owned_live: Portal,
) -> None:
    p = owned_live
    cid = _b_contract(p)
    started = await p.http.post("/api/v1/renewals", json={"contract_id": cid}, headers=p.extra["b"])
    assert started.status_code == 201, started.text
    try:
        path = f"/api/v1/renewals/{cid}/terms/1/cancellation"
        refused = await p.http.post(path, json={"reason": "not mine"}, headers=p.auth(P))
        assert refused.status_code == 403, refused.text
        assert f"belongs to {B}" in refused.json()["detail"]
        by_lead = await p.http.post(path, json={"reason": "lead decides"}, headers=p.extra["lead"])
        assert by_lead.status_code == 200, by_lead.text
    finally:
        with contextlib.suppress(Exception):
            await p.client.get_workflow_handle(f"renewal/{cid}/term-1").terminate("test over")  # type: ignore[union-attr]


async def test_another_procurement_user_cannot_ask_for_a_redraft_through_the_api(
    owned_live: Portal,
) -> None:
    p = owned_live
    cid = _b_contract(p)
    refused = await p.http.post(
        f"/api/v1/renewals/{cid}/terms/1/redrafts", json={"reason": "r"}, headers=p.auth(P)
    )
    assert refused.status_code == 403, refused.text
    assert f"belongs to {B}" in refused.json()["detail"]


async def test_another_procurement_user_cannot_record_a_dispatch_through_the_api(
    owned_live: Portal,
) -> None:
    p = owned_live
    cid = _b_contract(p)
    refused = await p.http.post(
        f"/api/v1/renewals/{cid}/terms/1/dispatches",
        json={
            "draft_version": 1,
            "dispatched_on": date.today().isoformat(),
            "channel": "post",
            "reference": "JP-1",
        },
        headers=p.auth(P),
    )
    assert refused.status_code == 403, refused.text
    assert f"belongs to {B}" in refused.json()["detail"]


# ---------------------------------------------------------------------------- ownership: CLI


@contextlib.contextmanager
def _cli_as(
    p: Portal, headers: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[None]:
    monkeypatch.setenv("RENEWALS_API_TOKEN", headers["Authorization"].removeprefix("Bearer "))
    monkeypatch.setenv("DATABASE_URL", p.database_url)
    monkeypatch.setenv("RENEWALS_DATA_DIR", str(tmp_path))
    env = p.extra.get("env")
    if env is not None:
        monkeypatch.setenv("TEMPORAL_ADDRESS", env.client.service_client.config.target_host)
    get_settings.cache_clear()
    try:
        yield
    finally:
        get_settings.cache_clear()


async def _cli(app: Any, *args: str) -> Any:
    return await asyncio.to_thread(CliRunner().invoke, app, list(args))


async def test_team_commands_through_the_cli(
    owned: Portal, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    p = owned
    cid = _b_contract(p)
    name = f"t-{uuid.uuid4().hex[:8]}"
    with _cli_as(p, p.auth(P), monkeypatch, tmp_path):
        refused = await _cli(team_commands.app, "create", name)
        assert refused.exit_code == 1 and "may not manage teams" in refused.output
        not_mine = await _cli(team_commands.app, "assign", cid, "--none")
        assert not_mine.exit_code == 1 and f"belongs to {B}" in not_mine.output
    with _cli_as(p, p.extra["lead"], monkeypatch, tmp_path):
        assert (await _cli(team_commands.app, "create", name)).exit_code == 0
        added = await _cli(team_commands.app, "add-member", name, p.username(P))
        assert added.exit_code == 0 and p.username(P) in added.output
        assigned = await _cli(team_commands.app, "assign", cid, "--team", name)
        assert assigned.exit_code == 0 and f"team {name}" in assigned.output
        listed = await _cli(team_commands.app, "list", "--json")
        assert {"name": name, "members": [p.username(P)]} in json.loads(listed.output)
    with _cli_as(p, p.auth(P), monkeypatch, tmp_path):
        # A is in the contract's team now: they may take the team away again.
        assert (await _cli(team_commands.app, "assign", cid, "--none")).exit_code == 0


async def test_import_over_someone_elses_contract_is_refused_by_the_cli(
    owned: Portal, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    p = owned
    cid = _b_contract(p)
    file = tmp_path / "contracts.csv"
    file.write_text(_contract_csv(cid, f"S-{cid}", p.username(P)), encoding="utf-8")
    with _cli_as(p, p.auth(P), monkeypatch, tmp_path):
        result = await _cli(contract_commands.app, "import", str(file))
    assert result.exit_code == 1
    assert f"belongs to {B}" in result.output and "Traceback" not in result.output


async def test_another_procurement_user_cannot_amend_or_terminate_through_the_cli(
    owned_live: Portal, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    p = owned_live
    cid = _b_contract(p)
    with _cli_as(p, p.auth(P), monkeypatch, tmp_path):
        amend = await _cli(renewal_commands.app, "amend", cid, "--notice-days", "5")
        terminate = await _cli(renewal_commands.app, "terminate", cid, "--reason", "not mine")
    assert amend.exit_code == 1 and f"belongs to {B}" in amend.output, amend.output
    assert terminate.exit_code == 1 and f"belongs to {B}" in terminate.output, terminate.output
    with transaction(p.sessions) as s:
        assert s.get(ContractRow, cid).notice_period_days == 0  # type: ignore[union-attr]
