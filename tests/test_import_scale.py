"""Contract imports at scale (issue 18), on SQLite and PostgreSQL: files read and checked a
chunk at a time still refuse the whole file with every row's problems (repeats and stored ids
found across chunks), store all of a good one with one audit entry, and the API answers other
requests while an import runs, with a job to poll for big files."""

import asyncio
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import func, select

from api.routers import imports as import_router
from models.errors import InvalidInput
from models.tables import AuditLogRow, ContractRow
from services import imports as file_import
from services.imports import ImportKind, ImportProgress, import_records
from services.imports._importing import CHUNK
from store import records, users
from store.contracts import contract_tuple, parse_contract
from store.db import SessionFactory, transaction
from tests.portal_fixtures import *  # noqa: F403
from tests.portal_fixtures import Portal

HEADER = "id,title,supplier_id,owner,start_date,end_date,notice_period_days,currency,annual_value"
HEADER += ",unit_price\n"


def _lines(prefix: str, count: int, supplier: str, owner: str) -> list[str]:
    return [
        f"{prefix}-{i:05d},Contract {i},{supplier},{owner},2026-01-01,2027-01-01,30,JPY,1000,10"
        for i in range(count)
    ]


OWNER = "scale-owner@example.com"


def _supplier(sessions: SessionFactory) -> str:
    """A new supplier, and the account OWNER (the PostgreSQL schema is shared by the tests,
    so it may have accounts: then a contract's owner must be one)."""
    sid = f"S-{uuid.uuid4().hex[:8]}"
    with transaction(sessions) as s:
        if not users.account_exists(s, username=OWNER):
            users.create_user(s, username=OWNER, display_name="Owner", roles="procurement")
    with transaction(sessions) as s:
        import_records(s, kind=ImportKind.SUPPLIERS, source=f"id,name\n{sid},Paper\n".encode())
    return sid


def _count(sessions: SessionFactory, prefix: str) -> int:
    with transaction(sessions) as s:
        query = select(func.count()).select_from(ContractRow)
        return s.scalar(query.where(ContractRow.id.like(f"{prefix}-%"))) or 0


def _imports(sessions: SessionFactory) -> int:
    with transaction(sessions) as s:
        query = select(func.count()).select_from(AuditLogRow)
        return s.scalar(query.where(AuditLogRow.action == "import")) or 0


def test_problems_in_every_chunk_refuse_the_whole_file(db_sessions: SessionFactory) -> None:
    sid = _supplier(db_sessions)
    prefix = f"K{uuid.uuid4().hex[:6]}"
    with transaction(db_sessions) as s:
        stored = "\n".join(_lines(f"{prefix}-OLD", 1, sid, OWNER))
        import_records(s, kind=ImportKind.CONTRACTS, source=(HEADER + stored + "\n").encode())
    lines = _lines(prefix, 3 * CHUNK, sid, OWNER)
    # Row numbers: the header is row 1, so lines[i] is row i + 2.
    lines[2 * CHUNK + 10] = lines[5].replace("Contract 5", "Again")  # a repeat, chunks apart
    lines[CHUNK + 3] = lines[CHUNK + 3].replace(sid, "S-NOPE")  # an unknown supplier
    lines[CHUNK + 4] = f"{prefix}-OLD-00000" + lines[CHUNK + 4][len(prefix) + 6 :]  # stored
    lines[3 * CHUNK - 1] = lines[3 * CHUNK - 1].replace("2027-01-01", "2025-01-01")  # end < start
    lines[7] = lines[7] + ",extra"  # ragged
    with transaction(db_sessions) as s, pytest.raises(InvalidInput) as caught:
        import_records(
            s, kind=ImportKind.CONTRACTS, source=(HEADER + "\n".join(lines) + "\n").encode()
        )
    found = [(e.row, e.field, e.reason) for e in caught.value.errors]
    assert [(row, name) for row, name, _ in found] == [
        (9, "(row)"),
        (CHUNK + 5, "supplier_id"),
        (CHUNK + 6, "id"),
        (2 * CHUNK + 12, "id"),
        (3 * CHUNK + 1, "end_date"),
    ]
    assert found[1][2] == "unknown supplier 'S-NOPE' (import suppliers first)"
    assert found[2][2] == f"contract '{prefix}-OLD-00000' already exists"
    assert found[3][2] == f"'{prefix}-00005' is also on row 7"
    assert _count(db_sessions, prefix) == 1  # only the one stored before


def test_a_big_file_is_stored_whole_with_progress(db_sessions: SessionFactory) -> None:
    sid = _supplier(db_sessions)
    prefix = f"B{uuid.uuid4().hex[:6]}"
    rows = 2 * CHUNK + 500
    body = HEADER + "\n".join(_lines(prefix, rows, sid, OWNER)) + "\n\n"
    counts = ImportProgress()
    seen: list[tuple[int, int]] = []
    with transaction(db_sessions) as s:
        report = import_records(
            s,
            kind=ImportKind.CONTRACTS,
            source=body.encode(),
            counts=counts,
            progress=lambda done, total: seen.append((done, total)),
        )
    assert (report.rows_read, report.inserted) == (rows, rows)
    assert (counts.stage, counts.rows_checked, counts.rows_stored) == ("done", rows, rows)
    assert counts.estimate == rows
    assert seen[-1] == (2 * rows, 2 * rows)
    assert all(done < total for done, total in seen[:-1])  # never "finished" before the end
    assert _count(db_sessions, prefix) == rows


def test_skip_invalid_stores_the_good_rows_of_every_chunk(db_sessions: SessionFactory) -> None:
    sid = _supplier(db_sessions)
    prefix = f"V{uuid.uuid4().hex[:6]}"
    lines = _lines(prefix, 2 * CHUNK, sid, OWNER)
    lines[3] = lines[3].replace(sid, "S-NOPE")
    lines[CHUNK + 3] = lines[0]  # a repeat of row 2 in the next chunk
    with transaction(db_sessions) as s:
        report = import_records(
            s,
            kind=ImportKind.CONTRACTS,
            source=(HEADER + "\n".join(lines) + "\n").encode(),
            skip_invalid=True,
        )
    assert report.skipped_rows == (5, CHUNK + 5)
    assert report.inserted == 2 * CHUNK - 2
    assert _count(db_sessions, prefix) == 2 * CHUNK - 2


def test_json_rows_are_checked_as_a_stream_too(db_sessions: SessionFactory) -> None:
    sid = _supplier(db_sessions)
    item = (
        '{{"id": "J-{i}", "title": "T", "supplier_id": "{sid}", "owner": "{owner}", '
        '"start_date": "2026-01-01", "end_date": "2027-01-01", "currency": "JPY", '
        '"annual_value": 10, "unit_price": 1.5}}'
    )
    items = [item.format(i=i, sid=sid, owner=OWNER) for i in range(CHUNK + 2)]
    items[CHUNK + 1] = items[0]
    items[3] = "7"
    with transaction(db_sessions) as s, pytest.raises(InvalidInput) as caught:
        import_records(
            s, kind=ImportKind.CONTRACTS, source=f"[{','.join(items)}]".encode(), file="c.json"
        )
    assert [(e.row, e.field) for e in caught.value.errors] == [
        (4, "(record)"),
        (CHUNK + 2, "id"),
    ]


# ---------------------------------------------------------------------------- the API


async def _post(p: Portal, body: str, **headers: str) -> Any:
    return await p.http.post(
        "/api/v1/imports/contracts",
        content=body.encode(),
        headers={**p.auth("procurement"), "content-type": "text/csv", **headers},
    )


async def _wait(p: Portal, location: str, who: str = "procurement") -> dict[str, Any]:
    for _ in range(600):
        job = await p.http.get(location, headers=p.auth(who))
        assert job.status_code == 200, job.text
        if job.json()["state"] in ("succeeded", "failed"):
            return dict(job.json())
        await asyncio.sleep(0.05)
    raise AssertionError("the job did not finish")


async def test_a_job_reports_progress_then_its_result(db_portal: Portal) -> None:
    p = db_portal
    sid = _supplier(p.sessions)
    prefix = f"A{uuid.uuid4().hex[:6]}"
    before = _imports(p.sessions)
    body = HEADER + "\n".join(_lines(prefix, 1500, sid, p.username("procurement"))) + "\n"
    started = await _post(p, body, prefer="respond-async")
    assert started.status_code == 202, started.text
    location = started.headers["location"]
    assert location == f"/api/v1/imports/jobs/{started.json()['id']}"
    assert started.json()["state"] in ("queued", "running", "succeeded")
    job = await _wait(p, location)
    assert job["state"] == "succeeded", job
    assert job["result"]["inserted"] == 1500
    assert (job["rows_checked"], job["rows_stored"]) == (1500, 1500)
    assert _count(p.sessions, prefix) == 1500
    assert _imports(p.sessions) == before + 1  # one audit entry for the import
    # Nobody else sees it; legal may not import, nor ask.
    other = f"buyer-{uuid.uuid4().hex[:6]}@example.com"
    with transaction(p.sessions) as s:
        users.create_user(s, username=other, display_name="Two", roles="procurement")
        p.tokens["other"] = users.issue_token(s, username=other, name="t").secret
    assert (await p.http.get(location, headers=p.auth("other"))).status_code == 404
    assert (await p.http.get(location, headers=p.auth("legal"))).status_code == 403


async def test_a_refused_job_keeps_the_rows_problems(db_portal: Portal) -> None:
    p = db_portal
    sid = _supplier(p.sessions)
    prefix = f"R{uuid.uuid4().hex[:6]}"
    lines = _lines(prefix, 1200, sid, p.username("procurement"))
    lines[1100] = lines[1100].replace("JPY", "XXX")
    body = HEADER + "\n".join(lines) + "\n"
    # The same file, answered at once and as a job: the same 422 problem.
    direct = await _post(p, body)
    assert direct.status_code == 422
    started = await _post(p, body, prefer="respond-async")
    assert started.status_code == 202
    job = await _wait(p, started.headers["location"])
    assert job["state"] == "failed"
    assert job["status"] == 422
    assert job["problem"]["errors"] == direct.json()["errors"]
    assert job["problem"]["errors"][0]["row"] == 1102
    assert job["problem"]["errors"][0]["field"] == "currency"
    assert _count(p.sessions, prefix) == 0


async def test_a_big_file_is_a_job_without_asking(
    db_portal: Portal, monkeypatch: pytest.MonkeyPatch
) -> None:
    p = db_portal
    monkeypatch.setattr(import_router, "ASYNC_BYTES", 1000)
    sid = _supplier(p.sessions)
    body = HEADER + "\n".join(_lines(f"G{uuid.uuid4().hex[:6]}", 30, sid, "x@example.com"))
    started = await _post(p, body + "\n")
    assert started.status_code == 202
    job = await _wait(p, started.headers["location"])
    assert (job["state"], job["status"]) == ("failed", 422)  # x@example.com is no account
    assert {e["field"] for e in job["problem"]["errors"]} == {"owner"}


@pytest.fixture
def held_import(
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[tuple[threading.Event, threading.Event]]:
    """The import blocks (in whichever thread runs it) until released."""
    entered, release = threading.Event(), threading.Event()
    real = file_import.import_records

    def held(*args: Any, **kwargs: Any) -> Any:
        entered.set()
        assert release.wait(30)
        return real(*args, **kwargs)

    monkeypatch.setattr(file_import, "import_records", held)
    yield entered, release
    release.set()


async def test_other_requests_are_answered_during_an_import(
    db_portal: Portal, held_import: tuple[threading.Event, threading.Event]
) -> None:
    p = db_portal
    entered, release = held_import
    sid = _supplier(p.sessions)
    prefix = f"H{uuid.uuid4().hex[:6]}"
    body = HEADER + "\n".join(_lines(prefix, 3, sid, p.username("procurement"))) + "\n"
    importing = asyncio.create_task(_post(p, body))
    for _ in range(200):
        if entered.is_set():
            break
        await asyncio.sleep(0.01)
    assert entered.is_set()
    # The import is under way (held): the app still answers.
    me = await asyncio.wait_for(p.http.get("/api/v1/me", headers=p.auth("legal")), 10)
    assert me.status_code == 200
    assert not importing.done()
    release.set()
    answer = await asyncio.wait_for(importing, 30)
    assert answer.status_code == 200, answer.text
    assert answer.json()["inserted"] == 3


def test_an_id_registered_since_the_checks_names_its_row(db_sessions: SessionFactory) -> None:
    """A contract registered by someone else between the checks and the writes: the batch's
    INSERT (COPY on PostgreSQL) fails, and the error names the file's row, nothing stored."""
    sid = _supplier(db_sessions)
    prefix = f"Z{uuid.uuid4().hex[:6]}"
    lines = _lines(prefix, 3, sid, OWNER)
    with transaction(db_sessions) as s:
        import_records(s, kind=ImportKind.CONTRACTS, source=(HEADER + lines[1] + "\n").encode())
    rows = []
    for i, line in enumerate(lines):
        values = dict(zip(HEADER.strip().split(","), line.split(","), strict=True))
        terms = {"unit_price": values.pop("unit_price")}
        contract = parse_contract({**values, "terms": terms})
        rows.append((i + 2, contract_tuple(contract)))
    with pytest.raises(InvalidInput) as caught, transaction(db_sessions) as s:
        records.store_contracts(s, rows, lambda _n: None, file="late.csv")
    assert [(e.row, e.field, e.reason, e.file) for e in caught.value.errors] == [
        (3, "id", f"contract '{prefix}-00001' already exists", "late.csv")
    ]
    assert _count(db_sessions, prefix) == 1


def test_old_mac_line_ends_are_counted_for_progress(db_sessions: SessionFactory) -> None:
    sid = _supplier(db_sessions)
    prefix = f"M{uuid.uuid4().hex[:6]}"
    body = "\r".join([HEADER.strip(), *_lines(prefix, 300, sid, OWNER)]) + "\r"
    seen: list[tuple[int, int]] = []
    with transaction(db_sessions) as s:
        report = import_records(
            s,
            kind=ImportKind.CONTRACTS,
            source=body.encode(),
            progress=lambda done, total: seen.append((done, total)),
        )
    assert report.inserted == 300
    assert all(0 <= done < total for done, total in seen[:-1])
    assert seen[-1] == (600, 600)
