"""Signing in: the form refuses a user name after repeated failures (online password
guessing), and expired browser sessions do not pile up."""

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import func, select

from api.app import create_app
from config.settings import Settings
from models.tables import WebSessionRow
from portal.config import WebSettings
from portal.deps import SESSION_COOKIE
from store import audit, users
from store.db import SessionFactory, transaction
from web.routes import LOGIN_CSRF_COOKIE

PASSWORD = "correct horse battery staple"


def _fail(sessions: SessionFactory, name: str, at: datetime) -> None:
    with transaction(sessions) as s:
        audit.record(
            s,
            actor=name,
            action=audit.AuditAction.SIGN_IN_FAILED,
            subject_type="web",
            subject_id="login",
            occurred_at=at,
        )


def test_failures_count_inside_the_window_and_since_the_last_success(
    sessions: SessionFactory,
) -> None:
    now = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    for minutes in (40, 10, 5, 1):
        _fail(sessions, "reviewer@example.com", now - timedelta(minutes=minutes))
    _fail(sessions, "someone-else@example.com", now)
    window = now - timedelta(minutes=15)
    with transaction(sessions) as s:
        # Case and spaces do not make a new name to guess under.
        assert users.failed_sign_ins(s, username=" Reviewer@Example.com", since=window) == 3
        audit.record(
            s,
            actor="reviewer@example.com",
            action=audit.AuditAction.SIGN_IN,
            subject_type="web",
            subject_id="login",
            occurred_at=now - timedelta(minutes=3),
        )
    with transaction(sessions) as s:
        assert users.failed_sign_ins(s, username="reviewer@example.com", since=window) == 1


@pytest.fixture
def web(sqlite_url: str, sessions: SessionFactory) -> httpx.AsyncClient:
    with transaction(sessions) as s:
        for name in ("legal@example.com", "other@example.com"):
            users.create_user(s, username=name, display_name=name, roles="legal", password=PASSWORD)
    app = create_app(
        Settings(database_url=sqlite_url, temporal_search_attributes=False),
        web_settings=WebSettings(sign_in_max_failures=3, sign_in_lockout_minutes=15),
        sessions=sessions,
    )
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


async def _sign_in(http: httpx.AsyncClient, username: str, password: str) -> httpx.Response:
    form = await http.get("/login")
    token = form.cookies[LOGIN_CSRF_COOKIE]
    return await http.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": token, "next": "/"},
    )


async def test_the_form_locks_a_name_after_repeated_failures(
    web: httpx.AsyncClient, sessions: SessionFactory
) -> None:
    async with web as http:
        for _ in range(3):
            wrong = await _sign_in(http, "legal@example.com", "not the password")
            assert wrong.status_code == 401, wrong.text
        # The right password no longer helps while the name is locked.
        locked = await _sign_in(http, "LEGAL@example.com", PASSWORD)
        assert locked.status_code == 429, locked.text
        assert "Too many failed sign-ins" in locked.text and "15 minutes" in locked.text
        assert SESSION_COOKIE not in locked.cookies
        # Other people sign in as usual.
        other = await _sign_in(http, "other@example.com", PASSWORD)
        assert other.status_code == 303 and SESSION_COOKIE in other.cookies
    with transaction(sessions) as s:
        trail, _ = audit.list_entries(s, actor="legal@example.com", action="sign_in_failed")
    assert len(trail) == 4 and sum(1 for e in trail if e.detail.get("throttled")) == 1


def test_signing_in_drops_expired_sessions(sessions: SessionFactory) -> None:
    now = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    with transaction(sessions) as s:
        user = users.create_user(
            s, username="night@example.com", display_name="N", roles="legal", password=PASSWORD
        )
        stale, _ = users.start_session(s, user=user, hours=8, now=now - timedelta(days=2))
        live, _ = users.start_session(s, user=user, hours=8, now=now - timedelta(hours=1))
    with transaction(sessions) as s:
        fresh, _ = users.start_session(s, user=user, hours=8, now=now)
        assert s.scalar(select(func.count()).select_from(WebSessionRow)) == 2
        assert users.resolve_session(s, secret=stale, now=now) is None
        assert users.resolve_session(s, secret=live, now=now) is not None
        assert users.resolve_session(s, secret=fresh, now=now) is not None
