"""The audit trail: append-only in the application and in the database (SQLite and
PostgreSQL), one entry per idempotency key, and exportable as spreadsheet-safe CSV."""

import csv
import io
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime

import pytest
import typer
from sqlalchemy import Engine, func, select, text
from sqlalchemy.exc import DBAPIError
from typer.testing import CliRunner

from cli import audit_commands
from config.settings import get_settings
from models.renewal import (
    DraftKind,
    OpenRenewal,
    RenewalEvent,
    RenewalStage,
    ReviewDecisionKind,
    ReviewRecord,
)
from models.tables import AuditLogRow
from store import audit
from store import renewals as renewal_store
from store import users as user_store
from store.db import SessionFactory, make_engine, make_session_factory, transaction
from tests.factories import register
from tests.pg_locks import wait_until_blocked
from tests.portal_fixtures import *  # noqa: F403
from tests.portal_fixtures import Portal


def _entry(sessions: SessionFactory, **overrides: object) -> str:
    key = f"test:{uuid.uuid4().hex}"
    with transaction(sessions) as s:
        audit.record(
            s,
            actor=str(overrides.get("actor", "someone@example.com")),
            action=str(overrides.get("action", "import")),
            subject_type="test",
            subject_id=str(overrides.get("subject_id", key)),
            detail={"n": 1},
            key=key,
        )
    return key


def test_database_refuses_update_and_delete(database: tuple[str, Engine]) -> None:
    engine = database[1]
    sessions = make_session_factory(engine)
    key = _entry(sessions)
    for statement in (
        "UPDATE audit_log SET actor = 'mallory' WHERE key = :key",
        "DELETE FROM audit_log WHERE key = :key",
    ):
        with pytest.raises(DBAPIError) as refused, engine.begin() as conn:
            conn.execute(text(statement), {"key": key})
        assert "append-only" in str(refused.value)
    if engine.dialect.name == "postgresql":
        with pytest.raises(DBAPIError), engine.begin() as conn:
            conn.execute(text("TRUNCATE audit_log"))
    with transaction(sessions) as s:
        row = s.scalar(select(AuditLogRow).where(AuditLogRow.key == key))
        assert row is not None and row.actor == "someone@example.com"


def test_the_orm_refuses_changes_before_sql_is_sent(db_sessions: SessionFactory) -> None:
    key = _entry(db_sessions)
    with pytest.raises(audit.AuditLogIsAppendOnly), transaction(db_sessions) as s:
        row = s.scalar(select(AuditLogRow).where(AuditLogRow.key == key))
        assert row is not None
        row.actor = "mallory"
        s.flush()
    with pytest.raises(audit.AuditLogIsAppendOnly), transaction(db_sessions) as s:
        row = s.scalar(select(AuditLogRow).where(AuditLogRow.key == key))
        s.delete(row)
        s.flush()


def test_workflow_side_writes_are_audited_once_per_key(db_sessions: SessionFactory) -> None:
    cid = f"C-{uuid.uuid4().hex[:8]}"
    wf = f"renewal/{cid}/term-1"
    with transaction(db_sessions) as s:
        register(s, id=cid)
        renewal = renewal_store.open_renewal(
            s,
            request=OpenRenewal(
                contract_id=cid,
                term=1,
                workflow_id=wf,
                requested_by="buyer@example.com",
                term_end_date=date(2027, 12, 31),
            ),
        )
        renewal_store.save_draft(
            s,
            renewal=renewal,
            kind=DraftKind.RENEGOTIATION,
            version=1,
            language="en",
            body="text",
            proposed_terms={},
            content_hash="a" * 64,
            requested_by="buyer@example.com",
            answers_comment=None,
            created_at=datetime(2026, 5, 1, tzinfo=UTC),
        )
        record = ReviewRecord(
            decision=ReviewDecisionKind.REJECT,
            reviewer="legal@example.com",
            draft_version=1,
            content_hash="a" * 64,
            comment="no",
            decided_at=datetime(2026, 5, 2, tzinfo=UTC),
            update_id="upd-1",
        )
        event = RenewalEvent(
            contract_id=cid,
            term=1,
            workflow_id=wf,
            kind="escalation",
            key=f"{wf}:escalation:x",
            detail={"reason": "late"},
            stage=RenewalStage.ESCALATED,
        )
        # A retried activity calls these again with the same keys.
        for attempt in range(2):
            renewal_store.save_review(s, renewal=renewal, record=record)
            # True only when it wrote: callers apply the event's effects on True alone.
            assert renewal_store.save_event(s, renewal=renewal, event=event) is (attempt == 0)
        assert len(renewal_store.list_events(s, renewal=renewal)) == 1
    with transaction(db_sessions) as s:
        rows = s.execute(
            select(AuditLogRow.action, AuditLogRow.actor, AuditLogRow.content_hash).where(
                AuditLogRow.subject_id == wf
            )
        ).all()
    assert sorted(tuple(r) for r in rows) == [
        ("decision", "legal@example.com", "a" * 64),
        ("draft_created", "buyer@example.com", "a" * 64),
        ("escalation", "workflow", None),
    ]


async def test_audit_api_and_csv_export(db_portal: Portal) -> None:
    p = db_portal
    subject = f"=cmd|' /C calc'!A0-{uuid.uuid4().hex[:6]}"
    _entry(p.sessions, actor="+attacker@example.com", subject_id=subject)
    page = await p.http.get(
        "/api/v1/audit", params={"subject_id": subject}, headers=p.auth("admin")
    )
    assert page.status_code == 200 and page.json()["total"] == 1
    exported = await p.http.get("/api/v1/audit/export", headers=p.auth("admin"))
    assert exported.status_code == 200
    rows = list(csv.reader(io.StringIO(exported.text)))
    assert rows[0] == list(audit.AUDIT_COLUMNS)
    mine = next(r for r in rows if r[5] == "'" + subject)
    assert mine[2] == "'+attacker@example.com"
    denied = await p.http.get("/api/v1/audit/export", headers=p.auth("procurement"))
    assert denied.status_code == 403


def test_cli_export_writes_the_trail(
    db_sessions: SessionFactory, database: tuple[str, Engine], tmp_path, monkeypatch
) -> None:
    _entry(db_sessions, actor="-negative@example.com")
    # The CLI acts for the owner of an API token allowed to read the trail (an administrator).
    auditor = f"auditor-{uuid.uuid4().hex[:8]}@example.com"
    with transaction(db_sessions) as s:
        user_store.create_user(s, username=auditor, display_name="Auditor", roles=["admin"])
        token = user_store.issue_token(s, username=auditor, name="audit", valid_days=1)
    monkeypatch.setenv("RENEWALS_API_TOKEN", token.secret)
    monkeypatch.setenv("DATABASE_URL", database[0])
    get_settings.cache_clear()
    try:
        out = tmp_path / "audit.csv"
        # Mounted as cli/main.py mounts it: `renewals audit export`.
        root = typer.Typer()
        root.add_typer(audit_commands.app, name="audit")
        result = CliRunner().invoke(root, ["audit", "export", "--out", str(out)])
        assert result.exit_code == 0, result.output
        text_out = out.read_text(encoding="utf-8")
        assert "'-negative@example.com" in text_out
        again = CliRunner().invoke(root, ["audit", "export", "--out", str(out)])
        assert again.exit_code == 1 and "--overwrite" in again.output
        with transaction(db_sessions) as s:  # reading the trail out is itself on the trail
            exports = s.scalars(
                select(AuditLogRow).where(
                    AuditLogRow.action == "export", AuditLogRow.subject_type == "audit"
                )
            ).all()
            mine = [e for e in exports if e.actor == auditor]
            assert len(mine) == 1 and mine[0].detail["rows"] >= 1
    finally:
        get_settings.cache_clear()


@pytest.mark.parametrize(
    ("value", "safe"),
    [
        ("=1+1", "'=1+1"),
        ("+SUM(A1)", "'+SUM(A1)"),
        ("-2+3", "'-2+3"),
        ("@cmd", "'@cmd"),
        ("\t=x", "'\t=x"),
        ("-5", "-5"),
        ("-1.25", "-1.25"),
        ("plain", "plain"),
        ("", ""),
    ],
)
def test_spreadsheet_safe(value: str, safe: str) -> None:
    assert audit.spreadsheet_safe(value) == safe
    if safe != value:
        assert audit.unescape_spreadsheet(safe) == value


def test_count_helper_is_consistent(db_sessions: SessionFactory) -> None:
    _entry(db_sessions, action="export")
    with transaction(db_sessions) as s:
        entries, total = audit.list_entries(s, action="export", limit=1)
        assert total == s.scalar(
            select(func.count()).select_from(AuditLogRow).where(AuditLogRow.action == "export")
        )
        assert len(entries) == 1


@pytest.mark.postgres
def test_two_transactions_writing_one_key_leave_one_entry_and_no_error(
    portal_postgres_url: str,
) -> None:
    """A retried activity racing its earlier attempt (a worker that lost the completion): the
    second INSERT waits on the first's uncommitted row, then does nothing instead of failing."""
    engine = make_engine(portal_postgres_url)
    sessions = make_session_factory(engine)
    key = f"race:{uuid.uuid4().hex}"

    def write() -> bool:
        with transaction(sessions) as s:
            return audit.record(
                s,
                actor="w",
                action="renewal_event",
                subject_type="renewal",
                subject_id="r",
                key=key,
            )

    first = sessions()
    first.begin()
    try:
        assert audit.record(
            first,
            actor="w",
            action="renewal_event",
            subject_type="renewal",
            subject_id="r",
            key=key,
        )
        with ThreadPoolExecutor(1) as pool:
            second = pool.submit(write)
            wait_until_blocked(engine, second, what="the second writer")
            first.commit()
            assert second.result(timeout=30) is False
    finally:
        first.close()
    with transaction(sessions) as s:
        assert s.scalar(select(func.count()).where(AuditLogRow.key == key)) == 1
    engine.dispose()


def test_the_same_key_twice_in_a_row_writes_once(db_sessions: SessionFactory) -> None:
    key = f"twice:{uuid.uuid4().hex}"
    for expected in (True, False):
        with transaction(db_sessions) as s:
            assert (
                audit.record(
                    s, actor="w", action="export", subject_type="t", subject_id="x", key=key
                )
                is expected
            )
    with transaction(db_sessions) as s:
        assert s.scalar(select(func.count()).where(AuditLogRow.key == key)) == 1
