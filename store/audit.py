"""The audit trail: who did what, when, to which subject, and the draft's content hash.

Append-only three times over: this module offers no update or delete; a session guard refuses
to flush a changed or deleted audit row; and the database triggers of migration 0005 refuse
UPDATE, DELETE (and TRUNCATE on PostgreSQL) whatever issues them.

Every entry has a unique ``key``. Writes made inside activities use a key derived from the
activity's own idempotency key, so a retried activity finds its earlier entry and writes none.
"""

import csv
import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, TextIO

from sqlalchemy import event, func, select
from sqlalchemy.orm import Session, UOWTransaction

from models.tables import AuditLogRow
from store.db import insert_if_absent


class AuditAction(StrEnum):
    IMPORT = "import"
    START = "start"
    AMEND = "amend"
    CANCEL = "cancel"
    REDRAFT_REQUESTED = "redraft_requested"
    DRAFT_CREATED = "draft_created"
    DECISION = "decision"
    DISPATCH_RECORDED = "dispatch_recorded"  # procurement: an approved notice went out
    VERSION_EDITED = "version_edited"  # procurement made the next version by editing terms
    OFFER_RECORDED = "offer_recorded"  # an approved version was presented to the supplier
    ANSWER_RECORDED = "answer_recorded"  # the supplier accepted, countered or declined
    HEARING_RECORDED = "hearing_recorded"  # the supplier's stated needs (ヒアリング)
    ESCALATION = "escalation"
    RENEWAL_EVENT = "renewal_event"  # approvals, final terms, outcomes recorded by the workflow
    EXPORT = "export"
    SIGN_IN = "sign_in"
    SIGN_IN_FAILED = "sign_in_failed"
    USER_CREATED = "user_created"
    TOKEN_ISSUED = "token_issued"  # noqa: S105 - an action name, not a secret
    TOKENS_REVOKED = "tokens_revoked"
    USER_DEACTIVATED = "user_deactivated"
    SCHEDULE_CREATED = "schedule_created"  # the daily sweep's Temporal schedule
    SCHEDULE_PAUSED = "schedule_paused"
    SCHEDULE_UNPAUSED = "schedule_unpaused"
    SCHEDULE_TRIGGERED = "schedule_triggered"  # a sweep run now
    SCHEDULE_BACKFILLED = "schedule_backfilled"  # the sweeps of a past period run now
    SCHEDULE_DELETED = "schedule_deleted"  # a schedule removed (the weekly digest's)
    DECISION_REFUSED = "decision_refused"  # a decision without a proven identity reached a renewal


class AuditLogIsAppendOnly(RuntimeError):
    pass


@event.listens_for(Session, "before_flush")
def _refuse_changes(session: Session, _flush: UOWTransaction, _instances: object) -> None:
    # Fails before any SQL is sent, with a message that names the cause; the trigger is the
    # backstop for anything that bypasses the ORM.
    for obj in (*session.dirty, *session.deleted):
        if isinstance(obj, AuditLogRow) and (obj in session.deleted or session.is_modified(obj)):
            raise AuditLogIsAppendOnly("audit_log is append-only: rows cannot change")


def record(
    session: Session,
    *,
    actor: str,
    action: AuditAction | str,
    subject_type: str,
    subject_id: str,
    detail: dict[str, Any] | None = None,
    content_hash: str | None = None,
    key: str | None = None,
    occurred_at: datetime | None = None,
) -> bool:
    """Add one entry in the caller's transaction; False when ``key`` was already recorded."""
    entry_key = key or f"{action}:{uuid.uuid4().hex}"
    return insert_if_absent(
        session,
        AuditLogRow,
        {
            "key": entry_key[:300],
            "occurred_at": occurred_at or datetime.now(UTC),
            "actor": actor[:200],
            "action": str(action)[:60],
            "subject_type": subject_type[:40],
            "subject_id": subject_id[:200],
            "content_hash": content_hash,
            "detail": detail or {},
        },
    )


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: int
    occurred_at: datetime
    actor: str
    action: str
    subject_type: str
    subject_id: str
    content_hash: str | None
    detail: dict[str, Any]


def _entry(row: AuditLogRow) -> AuditEntry:
    at = row.occurred_at if row.occurred_at.tzinfo else row.occurred_at.replace(tzinfo=UTC)
    return AuditEntry(
        id=row.id,
        occurred_at=at,
        actor=row.actor,
        action=row.action,
        subject_type=row.subject_type,
        subject_id=row.subject_id,
        content_hash=row.content_hash,
        detail=dict(row.detail),
    )


def _query(
    *,
    action: str | None,
    actor: str | None,
    subject_id: str | None,
    since: datetime | None,
    until: datetime | None,
) -> Any:
    query = select(AuditLogRow)
    if action:
        query = query.where(AuditLogRow.action == action)
    if actor:
        query = query.where(AuditLogRow.actor == actor)
    if subject_id:
        query = query.where(AuditLogRow.subject_id == subject_id)
    if since:
        query = query.where(AuditLogRow.occurred_at >= since)
    if until:
        query = query.where(AuditLogRow.occurred_at < until)
    return query


def list_entries(
    session: Session,
    *,
    action: str | None = None,
    actor: str | None = None,
    subject_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[AuditEntry], int]:
    """A page of entries in the order they were written, and how many match in total."""
    query = _query(action=action, actor=actor, subject_id=subject_id, since=since, until=until)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(AuditLogRow.id).limit(limit).offset(offset))
    return [_entry(r) for r in rows], total


def iter_entries(
    session: Session,
    *,
    action: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    batch: int = 1000,
) -> Iterator[AuditEntry]:
    """Every matching entry, oldest first, read in batches (keyset on id) for big exports."""
    last = 0
    base = _query(action=action, actor=None, subject_id=None, since=since, until=until)
    while True:
        rows = list(
            session.scalars(base.where(AuditLogRow.id > last).order_by(AuditLogRow.id).limit(batch))
        )
        if not rows:
            return
        for row in rows:
            yield _entry(row)
        last = rows[-1].id


# ---------------------------------------------------------------------------- CSV


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")
_NUMBER = re.compile(r"-?\d+(\.\d+)?")


def spreadsheet_safe(value: object) -> str:
    """A cell that a spreadsheet shows as text rather than evaluates (CSV/formula injection).

    Cells starting with ``= + - @`` (or a tab/CR, which some spreadsheets skip before one) get
    a leading apostrophe, which Excel and LibreOffice hide and treat as "this is text". Plain
    negative numbers are left alone: they evaluate to themselves."""
    text = "" if value is None else str(value)
    if text.startswith(_FORMULA_START) and not _NUMBER.fullmatch(text):
        return "'" + text
    return text


def unescape_spreadsheet(value: str) -> str:
    """Undo :func:`spreadsheet_safe` on import, so an exported file imports unchanged."""
    if len(value) > 1 and value[0] == "'" and value[1] in "=+-@\t\r\n":
        return value[1:]
    return value


AUDIT_COLUMNS = (
    "id",
    "occurred_at",
    "actor",
    "action",
    "subject_type",
    "subject_id",
    "content_hash",
    "detail",
)


def write_csv(entries: Iterator[AuditEntry], out: TextIO) -> int:
    """Write entries as CSV (UTF-8, header row, ``detail`` as JSON); how many were written."""
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(AUDIT_COLUMNS)
    count = 0
    for e in entries:
        writer.writerow(
            spreadsheet_safe(v)
            for v in (
                e.id,
                e.occurred_at.astimezone(UTC).isoformat(),
                e.actor,
                e.action,
                e.subject_type,
                e.subject_id,
                e.content_hash or "",
                json.dumps(e.detail, ensure_ascii=False, sort_keys=True),
            )
        )
        count += 1
    return count
