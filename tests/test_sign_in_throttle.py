"""Signing in: the form throttles password guessing per user name and client address, counted
atomically (concurrent guesses get no more password checks than sequential ones), without
letting an outsider lock a person out, and without growing the audit trail per guess; expired
browser sessions do not pile up.

The throttle is checked on SQLite and PostgreSQL (the ``database`` fixture), where the
claim's locking differs (the database's write lock against a row lock), also end to end: the
real app served by uvicorn, 30 browsers on one loopback address posting a wrong password at
once, and the person signing in from another address afterwards.
"""

import itertools
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy import func, select

import store.users as user_store
from api.app import create_app
from auth import passwords
from auth.passwords import verify_password
from config.settings import Settings
from models.account_tables import SignInThrottleRow, WebSessionRow
from models.tables import AuditLogRow
from portal.config import WebSettings
from portal.deps import SESSION_COOKIE
from services import users as user_service
from store import audit, users
from store.db import SessionFactory, transaction
from tests.portal_fixtures import *  # noqa: F403
from web.routes import LOGIN_CSRF_COOKIE

PASSWORD = "correct horse battery staple"
# In the past: sign-ins drop sessions that expired before "now", and the PostgreSQL schema is
# shared with other tests' sessions.
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
MAX, MINUTES = 5, 15


@pytest.fixture
def count_checks(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[], int]]:
    """Counts the password checks (scrypt runs) that sign-ins make."""
    counter = itertools.count()
    calls: list[int] = []
    lock = threading.Lock()

    def spy(password: str, stored: str) -> bool:
        with lock:
            calls.append(next(counter))
        return verify_password(password, stored)

    monkeypatch.setattr(user_store, "verify_password", spy)
    yield lambda: len(calls)


@pytest.fixture
def real_cost(monkeypatch: pytest.MonkeyPatch) -> None:
    """scrypt at the production cost (the suite runs at a test cost, tests/conftest.py): slow
    checks are what give concurrent guesses the chance to overlap."""
    monkeypatch.setattr(passwords, "CURRENT", passwords.RECOMMENDED)


def _new_user(sessions: SessionFactory, roles: str = "legal") -> str:
    name = f"u-{uuid.uuid4().hex[:10]}@example.com"
    with transaction(sessions) as s:
        users.create_user(s, username=name, display_name=name, roles=roles, password=PASSWORD)
    return name


def _attempt(
    sessions: SessionFactory,
    name: str,
    password: str,
    *,
    client: str = "192.0.2.1",
    now: datetime = NOW,
) -> str:
    """One sign-in as the web form makes it: "ok", "wrong" or "throttled"."""
    with sessions() as s:
        try:
            user_service.sign_in(
                s,
                username=name,
                password=password,
                client=client,
                now=now,
                max_failures=MAX,
                lockout_minutes=MINUTES,
                session_hours=8,
            )
        except user_service.SignInRefused as refused:
            s.commit()
            return "throttled" if refused.throttled else "wrong"
        s.commit()
        return "ok"


def _lockout_entries(sessions: SessionFactory, name: str) -> list[audit.AuditEntry]:
    with sessions() as s:
        trail, _ = audit.list_entries(s, actor=name, action="sign_in_failed", limit=1000)
    return trail


# ---------------------------------------------------------------------------- atomic counting


@pytest.mark.usefixtures("real_cost")
def test_thirty_simultaneous_guesses_get_five_password_checks(
    db_sessions: SessionFactory, count_checks: Callable[[], int]
) -> None:
    name = _new_user(db_sessions)
    start = threading.Barrier(30)

    def guess(i: int) -> str:
        start.wait()  # all 30 at once, each on its own connection
        return _attempt(db_sessions, name, f"wrong password {i}")

    with ThreadPoolExecutor(max_workers=30) as pool:
        outcomes = list(pool.map(guess, range(30)))
    assert count_checks() == MAX
    assert outcomes.count("wrong") == MAX and outcomes.count("throttled") == 30 - MAX
    # One entry for the lockout, not one per guess.
    (entry,) = _lockout_entries(db_sessions, name)
    assert entry.detail["throttled"] is True and entry.detail["client"] == "192.0.2.1"
    with db_sessions() as s:
        row = s.get(SignInThrottleRow, (name, "192.0.2.1"))
        assert row is not None and row.attempts == MAX and row.lockouts == 1


def test_the_right_password_is_not_checked_while_locked(
    db_sessions: SessionFactory, count_checks: Callable[[], int]
) -> None:
    name = _new_user(db_sessions)
    assert [_attempt(db_sessions, name, "nope nope nope") for _ in range(MAX)] == ["wrong"] * MAX
    assert _attempt(db_sessions, name, PASSWORD, now=NOW + timedelta(minutes=14)) == "throttled"
    assert count_checks() == MAX
    # The lockout ends: the count starts again, and a success forgets every failure.
    assert _attempt(db_sessions, name, PASSWORD, now=NOW + timedelta(minutes=15)) == "ok"
    with db_sessions() as s:
        assert s.get(SignInThrottleRow, (name, "192.0.2.1")) is None


# ---------------------------------------------------------------------------- lockout keying


def test_an_outsider_cannot_lock_the_owner_out(db_sessions: SessionFactory) -> None:
    name = _new_user(db_sessions)
    outsider, owner = "203.0.113.9", "198.51.100.7"
    for _ in range(3 * MAX):
        _attempt(db_sessions, name, "guess guess guess", client=outsider)
    assert _attempt(db_sessions, name, PASSWORD, client=outsider) == "throttled"
    # The person, from their own address, signs in as usual...
    assert _attempt(db_sessions, name, PASSWORD, client=owner) == "ok"
    # ... and that does not unlock the outsider's address.
    assert _attempt(db_sessions, name, PASSWORD, client=outsider) == "throttled"


def test_each_lockout_in_a_row_lasts_twice_as_long(db_sessions: SessionFactory) -> None:
    name = _new_user(db_sessions)
    at = NOW
    lengths = []
    for _ in range(3):
        for _ in range(MAX):
            assert _attempt(db_sessions, name, "wrong wrong wrong", now=at) == "wrong"
        with db_sessions() as s:
            row = s.get(SignInThrottleRow, (name, "192.0.2.1"))
            assert row is not None and row.locked_until is not None
            until = users.utc(row.locked_until)
        lengths.append(until - at)
        assert (
            _attempt(db_sessions, name, PASSWORD, now=until - timedelta(seconds=1)) == "throttled"
        )
        at = until
    assert lengths == [timedelta(minutes=MINUTES * 2**i) for i in range(3)]
    # A day after the last lockout ended, the address starts again from one lockout period.
    at += timedelta(hours=24, minutes=1)
    for _ in range(MAX):
        _attempt(db_sessions, name, "wrong wrong wrong", now=at)
    with db_sessions() as s:
        row = s.get(SignInThrottleRow, (name, "192.0.2.1"))
        assert row is not None and row.locked_until is not None
        assert users.utc(row.locked_until) - at == timedelta(minutes=MINUTES)
        assert row.lockouts == 1


# ---------------------------------------------------------------------------- bounded trail


def test_guessing_does_not_grow_the_audit_trail(db_sessions: SessionFactory) -> None:
    name = _new_user(db_sessions)
    for i in range(40):  # two lockouts' worth of guesses, and more while locked
        _attempt(db_sessions, name, "wrong wrong wrong", now=NOW + timedelta(minutes=i))
    entries = _lockout_entries(db_sessions, name)
    assert len(entries) == 2  # one per lockout (15 and then 30 minutes)
    assert [e.detail["lockout"] for e in entries] == [1, 2]
    # Names that are no account leave no entry at all, only a throttle row that is pruned.
    ghost = f"ghost-{uuid.uuid4().hex[:8]}@example.com"
    for _ in range(3 * MAX):
        _attempt(db_sessions, ghost, "wrong wrong wrong")
    assert _lockout_entries(db_sessions, ghost) == []
    # A success says how many failures from that address came before it.
    other = _new_user(db_sessions)
    for _ in range(2):
        _attempt(db_sessions, other, "wrong wrong wrong")
    assert _attempt(db_sessions, other, PASSWORD) == "ok"
    with db_sessions() as s:
        (signed_in,), _ = audit.list_entries(s, actor=other, action="sign_in")
        assert signed_in.detail == {"client": "192.0.2.1", "failures_before": 2}


def test_throttle_rows_that_mean_nothing_are_dropped(sessions: SessionFactory) -> None:
    # SQLite only: signing in days later also drops the sessions that expired meanwhile.
    name = _new_user(sessions)
    for _ in range(2 * MAX):
        _attempt(sessions, name, "wrong wrong wrong")
    for i in range(50):  # a spray of names that are no account
        _attempt(sessions, f"nobody-{i}@example.com", "wrong wrong wrong")
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(SignInThrottleRow)) == 51
    # A day after the lockout ended, the next successful sign-in drops them all.
    assert (
        _attempt(sessions, name, PASSWORD, client="198.51.100.7", now=NOW + timedelta(days=2))
        == "ok"
    )
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(SignInThrottleRow)) == 0


# ---------------------------------------------------------------------------- the web form


def _web(sessions: SessionFactory, url: str, client: str, **web: Any) -> httpx.AsyncClient:
    app = create_app(
        Settings(database_url=url, temporal_search_attributes=False),
        web_settings=WebSettings(sign_in_max_failures=3, sign_in_lockout_minutes=15, **web),
        sessions=sessions,
    )
    transport = httpx.ASGITransport(app=app, client=(client, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


async def _sign_in(
    http: httpx.AsyncClient, username: str, password: str, headers: dict[str, str] | None = None
) -> httpx.Response:
    form = await http.get("/login")
    token = form.cookies[LOGIN_CSRF_COOKIE]
    return await http.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": token, "next": "/"},
        headers=headers,
    )


async def test_the_form_locks_a_name_for_the_guessing_address_only(
    sqlite_url: str, sessions: SessionFactory
) -> None:
    name, other = _new_user(sessions), _new_user(sessions)
    async with _web(sessions, sqlite_url, "203.0.113.9") as outsider:
        for _ in range(3):
            wrong = await _sign_in(outsider, name, "not the password")
            assert wrong.status_code == 401, wrong.text
        # The right password no longer helps from that address while the name is locked.
        locked = await _sign_in(outsider, name.upper(), PASSWORD)
        assert locked.status_code == 429, locked.text
        assert "Too many failed sign-ins" in locked.text and "15 minutes" in locked.text
        assert SESSION_COOKIE not in locked.cookies
        # Other people sign in as usual.
        ok = await _sign_in(outsider, other, PASSWORD)
        assert ok.status_code == 303 and SESSION_COOKIE in ok.cookies
    async with _web(sessions, sqlite_url, "198.51.100.7") as owner:
        mine = await _sign_in(owner, name, PASSWORD)
        assert mine.status_code == 303 and SESSION_COOKIE in mine.cookies
    (entry,) = _lockout_entries(sessions, name)
    assert entry.detail["client"] == "203.0.113.9"


async def test_a_trusted_proxy_names_the_client(sqlite_url: str, sessions: SessionFactory) -> None:
    name = _new_user(sessions)
    # Untrusted, X-Forwarded-For is the client's own claim: ignored (else every guess would
    # come from a new address).
    async with _web(sessions, sqlite_url, "10.0.0.2") as direct:
        for i in range(4):
            spoofed = {"X-Forwarded-For": f"198.51.100.{i}"}
            await _sign_in(direct, name, "not the password", headers=spoofed)
        last = await _sign_in(direct, name, PASSWORD, headers={"X-Forwarded-For": "192.0.2.99"})
        assert last.status_code == 429
    async with _web(sessions, sqlite_url, "10.0.0.2", trust_proxy=True) as proxied:
        # Behind a proxy, the address it appended is the client's, the rest is the client's say.
        behind = {"X-Forwarded-For": "10.0.0.2, 192.0.2.50", "X-Forwarded-Proto": "https"}
        ok = await _sign_in(proxied, name, PASSWORD, headers=behind)
        assert ok.status_code == 303, ok.text
        assert "secure" in ok.headers["set-cookie"].lower()
    with sessions() as s:
        (entry,), _ = audit.list_entries(s, actor=name, action="sign_in")
    assert entry.detail["client"] == "192.0.2.50"


def test_signing_in_drops_expired_sessions(sessions: SessionFactory) -> None:
    now = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    with transaction(sessions) as s:
        user = users.create_user(
            s, username="night@example.com", display_name="N", roles="legal", password=None
        )
        stale, _ = users.start_session(s, user=user, hours=8, now=now - timedelta(days=2))
        live, _ = users.start_session(s, user=user, hours=8, now=now - timedelta(hours=1))
    with transaction(sessions) as s:
        fresh, _ = users.start_session(s, user=user, hours=8, now=now)
        assert s.scalar(select(func.count()).select_from(WebSessionRow)) == 2
        assert users.resolve_session(s, secret=stale, now=now) is None
        assert users.resolve_session(s, secret=live, now=now) is not None
        assert users.resolve_session(s, secret=fresh, now=now) is not None


# ---------------------------------------------------------------------------- over HTTP

OUTSIDER_ADDRESS, OWNER_ADDRESS = "127.0.0.2", "127.0.0.3"  # loopback: any 127/8 address


@contextmanager
def _served(app: Any) -> Iterator[str]:
    """The app served by uvicorn on 127.0.0.1 from a thread of its own; yields its URL."""
    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, lifespan="off", log_level="critical", access_log=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="throttle-http", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def _browser(url: str, address: str) -> httpx.Client:
    """A client whose connections come from ``address``: the app sees it as the client's."""
    transport = httpx.HTTPTransport(local_address=address)
    return httpx.Client(base_url=url, transport=transport, timeout=120)


def _post_sign_in(http: httpx.Client, username: str, password: str, token: str) -> httpx.Response:
    return http.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": token, "next": "/"},
    )


def _audit_rows(sessions: SessionFactory) -> int:
    with sessions() as s:
        return s.scalar(select(func.count()).select_from(AuditLogRow)) or 0


@pytest.mark.usefixtures("real_cost")
def test_thirty_simultaneous_wrong_passwords_through_the_served_app(
    database: tuple[str, Any],
    db_sessions: SessionFactory,
    count_checks: Callable[[], int],
    tmp_path: Path,
) -> None:
    """The web form served by uvicorn (the real app) on SQLite and PostgreSQL: 30 browsers at
    one address post a wrong password at once. At most MAX password checks run; the person
    then signs in from another address; the audit trail gains one entry for the lockout and
    one for the sign-in, not one per guess."""
    name = _new_user(db_sessions)
    settings = Settings(database_url=database[0], temporal_search_attributes=False)
    app = create_app(
        settings.model_copy(update={"data_dir": tmp_path}),
        web_settings=WebSettings(sign_in_max_failures=MAX, sign_in_lockout_minutes=MINUTES),
        sessions=db_sessions,
    )
    trail_before = _audit_rows(db_sessions)
    start = threading.Barrier(30)

    with _served(app) as url:

        def guess(i: int) -> int:
            with _browser(url, OUTSIDER_ADDRESS) as http:
                token = http.get("/login").cookies[LOGIN_CSRF_COOKIE]
                start.wait(timeout=60)  # every form loaded: all 30 posts at once
                return _post_sign_in(http, name, f"wrong password {i}", token).status_code

        with ThreadPoolExecutor(max_workers=30) as pool:
            statuses = list(pool.map(guess, range(30)))
        checks = count_checks()
        assert checks <= MAX, statuses
        assert statuses.count(401) == checks and statuses.count(429) == 30 - checks, statuses

        # The right password from the guessing address is refused without a check...
        with _browser(url, OUTSIDER_ADDRESS) as http:
            token = http.get("/login").cookies[LOGIN_CSRF_COOKIE]
            locked = _post_sign_in(http, name, PASSWORD, token)
        assert locked.status_code == 429 and SESSION_COOKIE not in locked.cookies
        assert count_checks() == checks
        # ... while the person, from their own address, signs in.
        with _browser(url, OWNER_ADDRESS) as http:
            token = http.get("/login").cookies[LOGIN_CSRF_COOKIE]
            mine = _post_sign_in(http, name, PASSWORD, token)
            assert mine.status_code == 303, mine.text[:300]
            assert SESSION_COOKIE in mine.cookies
            assert http.get("/reviews").status_code == 200  # signed in (a legal user)

    # 32 attempts, two entries: the lockout (naming the guessing address) and the sign-in.
    assert _audit_rows(db_sessions) - trail_before == 2
    (lockout,) = _lockout_entries(db_sessions, name)
    assert lockout.detail["client"] == OUTSIDER_ADDRESS and lockout.detail["lockout"] == 1
    with db_sessions() as s:
        (signed_in,), _ = audit.list_entries(s, actor=name, action="sign_in")
        assert signed_in.detail == {"client": OWNER_ADDRESS}
        row = s.get(SignInThrottleRow, (name, OUTSIDER_ADDRESS))
        assert row is not None and row.attempts == MAX and row.lockouts == 1
