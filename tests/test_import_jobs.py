"""API import jobs stored in the database (migration 0020), on SQLite and PostgreSQL: a poll
reaching another process of the app is answered, a job whose process stopped says so with
nothing stored, and "succeeded" is stored in the import's own transaction."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import func, select

from api.app import create_app
from models.job_tables import ImportJobRow
from models.tables import ContractRow
from portal.config import WebSettings
from services import audit
from services.imports import ImportKind, import_records
from services.imports import jobs as import_jobs
from store.db import SessionFactory, transaction
from tests.identity_helpers import TEST_IDENTITY_KEYS
from tests.portal_fixtures import *  # noqa: F403
from tests.portal_fixtures import Portal, settings_for

HEADER = "id,title,supplier_id,owner,start_date,end_date,notice_period_days,currency,annual_value"
HEADER += ",unit_price\n"


def _file(prefix: str, count: int, supplier: str, owner: str) -> bytes:
    lines = [
        f"{prefix}-{i:05d},Contract {i},{supplier},{owner},2026-01-01,2027-01-01,30,JPY,1000,10"
        for i in range(count)
    ]
    return (HEADER + "\n".join(lines) + "\n").encode()


def _supplier(sessions: SessionFactory) -> str:
    sid = f"S-J{uuid.uuid4().hex[:6]}"
    with transaction(sessions) as s:
        import_records(s, kind=ImportKind.SUPPLIERS, source=f"id,name\n{sid},Paper\n".encode())
    return sid


def _count(sessions: SessionFactory, prefix: str) -> int:
    with sessions() as s:
        return int(s.scalar(select(func.count()).where(ContractRow.id.like(f"{prefix}-%"))) or 0)


@pytest_asyncio.fixture
async def other_process(db_portal: Portal) -> AsyncIterator[httpx.AsyncClient]:
    """A second app on the same database, as a second API process behind a load balancer:
    its own import jobs object, nothing shared in memory."""
    app = create_app(
        settings_for(db_portal.database_url, db_portal.task_queue),
        web_settings=WebSettings(),
        sessions=db_portal.sessions,
        temporal_client=None,
        identity=TEST_IDENTITY_KEYS,
    )
    http = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver", timeout=60
    )
    yield http
    await http.aclose()


async def _start(p: Portal, body: bytes) -> str:
    started = await p.http.post(
        "/api/v1/imports/contracts",
        content=body,
        headers={**p.auth("procurement"), "content-type": "text/csv", "prefer": "respond-async"},
    )
    assert started.status_code == 202, started.text
    return str(started.headers["location"])


async def _until_done(http: httpx.AsyncClient, location: str, auth: dict[str, str]) -> Any:
    for _ in range(600):
        job = await http.get(location, headers=auth)
        assert job.status_code == 200, job.text
        if job.json()["state"] in ("succeeded", "failed"):
            return job.json()
        await asyncio.sleep(0.05)
    raise AssertionError("the job did not end")


async def test_another_process_answers_the_poll(
    db_portal: Portal, other_process: httpx.AsyncClient
) -> None:
    p = db_portal
    prefix = f"J{uuid.uuid4().hex[:6]}"
    location = await _start(p, _file(prefix, 300, _supplier(p.sessions), p.username("procurement")))
    # Polled only through the other process, which never ran it.
    job = await _until_done(other_process, location, p.auth("procurement"))
    assert job["state"] == "succeeded", job
    assert job["result"]["inserted"] == 300
    assert (job["rows_checked"], job["rows_stored"]) == (300, 300)
    assert _count(p.sessions, prefix) == 300
    # Nobody else sees it there either.
    assert (await other_process.get(location, headers=p.auth("legal"))).status_code == 403
    unknown = location.rsplit("/", 1)[0] + "/nope"
    assert (await other_process.get(unknown, headers=p.auth("procurement"))).status_code == 404


async def test_a_refused_job_is_read_the_same_from_either_process(
    db_portal: Portal, other_process: httpx.AsyncClient
) -> None:
    p = db_portal
    prefix = f"K{uuid.uuid4().hex[:6]}"
    body = _file(prefix, 50, _supplier(p.sessions), p.username("procurement"))
    body = body.replace(b"JPY", b"XXX", 1)
    location = await _start(p, body)
    here = await _until_done(p.http, location, p.auth("procurement"))
    there = await _until_done(other_process, location, p.auth("procurement"))
    assert here == there
    assert (here["state"], here["status"]) == ("failed", 422)
    assert here["problem"]["errors"][0]["field"] == "currency"
    assert _count(p.sessions, prefix) == 0


async def test_a_job_whose_process_stopped_says_so(db_portal: Portal) -> None:
    p = db_portal
    job_id = f"lost-{uuid.uuid4().hex[:8]}"
    long_ago = datetime.now(UTC) - import_jobs.LOST_AFTER - timedelta(minutes=1)
    with transaction(p.sessions) as s:
        s.add(
            ImportJobRow(
                id=job_id,
                owner=p.username("procurement"),
                kind="contracts",
                format="csv",
                dry_run=False,
                state="running",
                stage="storing",
                rows_checked=5000,
                rows_stored=1000,
                rows_estimate=5000,
                runner="gone:1:abcd",
                started_at=long_ago,
                beat_at=long_ago,
            )
        )
    job = await p.http.get(f"/api/v1/imports/jobs/{job_id}", headers=p.auth("procurement"))
    assert job.status_code == 200
    body = job.json()
    assert (body["state"], body["status"]) == ("failed", 503)
    assert "nothing was stored" in body["problem"]["detail"]
    # A job that beat recently is still running, wherever it runs.
    with transaction(p.sessions) as s:
        row = s.get(ImportJobRow, job_id)
        assert row is not None
        row.beat_at = datetime.now(UTC)
    job = await p.http.get(f"/api/v1/imports/jobs/{job_id}", headers=p.auth("procurement"))
    assert (job.json()["state"], job.json()["rows_checked"]) == ("running", 5000)


async def test_success_is_stored_with_the_records_or_not_at_all(
    db_portal: Portal, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The audit entry fails after the rows were written, inside the import's transaction:
    nothing is stored, and the job does not say it succeeded."""
    p = db_portal
    prefix = f"L{uuid.uuid4().hex[:6]}"

    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("audit store unavailable")

    monkeypatch.setattr(audit, "record", broken)
    location = await _start(p, _file(prefix, 40, _supplier(p.sessions), p.username("procurement")))
    job = await _until_done(p.http, location, p.auth("procurement"))
    assert (job["state"], job["status"]) == ("failed", 500)
    assert job["result"] is None
    assert _count(p.sessions, prefix) == 0
    with p.sessions() as s:
        row = s.get(ImportJobRow, location.rsplit("/", 1)[1])
        assert row is not None and row.state == "failed" and row.finished_at is not None
