"""Import jobs' rows (models/job_tables.py): created when the API accepts a job, beaten while
it runs, ended once, read by whichever process a poll reaches."""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, update
from sqlalchemy.orm import Session

from models.job_tables import ImportJobRow

__all__ = ["Counts", "beat", "begin", "create", "end", "forget_before", "get"]

_OPEN = ("queued", "running")


@dataclass(frozen=True, slots=True)
class Counts:
    stage: str
    rows_checked: int
    rows_stored: int
    rows_estimate: int

    def values(self) -> dict[str, Any]:
        return {
            "stage": self.stage,
            "rows_checked": self.rows_checked,
            "rows_stored": self.rows_stored,
            "rows_estimate": self.rows_estimate,
        }


def create(
    session: Session,
    *,
    job_id: str,
    owner: str,
    kind: str,
    file_format: str,
    dry_run: bool,
    runner: str,
    now: datetime,
) -> ImportJobRow:
    row = ImportJobRow(
        id=job_id,
        owner=owner,
        kind=kind,
        format=file_format,
        dry_run=dry_run,
        state="queued",
        stage="queued",
        rows_checked=0,
        rows_stored=0,
        rows_estimate=0,
        runner=runner,
        started_at=now,
        beat_at=now,
    )
    session.add(row)
    session.flush()
    return row


def begin(session: Session, *, job_id: str, now: datetime) -> None:
    session.execute(
        update(ImportJobRow)
        .where(ImportJobRow.id == job_id, ImportJobRow.state == "queued")
        .values(state="running", stage="checking", beat_at=now)
    )


def beat(session: Session, *, job_id: str, counts: Counts, now: datetime) -> None:
    """The job's progress and a sign that its process lives; nothing once it has ended."""
    session.execute(
        update(ImportJobRow)
        .where(ImportJobRow.id == job_id, ImportJobRow.state.in_(_OPEN))
        .values(beat_at=now, **counts.values())
    )


def end(
    session: Session,
    *,
    job_id: str,
    state: str,
    counts: Counts,
    now: datetime,
    result: Mapping[str, Any] | None = None,
    status: int | None = None,
    problem: Mapping[str, Any] | None = None,
) -> None:
    """The job's end, written once: a job already ended keeps its first end."""
    session.execute(
        update(ImportJobRow)
        .where(ImportJobRow.id == job_id, ImportJobRow.state.in_(_OPEN))
        .values(
            state=state,
            finished_at=now,
            beat_at=now,
            result=dict(result) if result is not None else None,
            status=status,
            problem=dict(problem) if problem is not None else None,
            **counts.values(),
        )
    )


def get(session: Session, *, job_id: str) -> ImportJobRow | None:
    return session.get(ImportJobRow, job_id)


def forget_before(session: Session, *, finished_before: datetime, started_before: datetime) -> int:
    """Delete jobs that ended before ``finished_before``, and jobs started before
    ``started_before`` that never ended (their process stopped long ago)."""
    ended = delete(ImportJobRow).where(
        ImportJobRow.finished_at.is_not(None), ImportJobRow.finished_at < finished_before
    )
    lost = delete(ImportJobRow).where(
        ImportJobRow.finished_at.is_(None), ImportJobRow.started_at < started_before
    )
    n = session.execute(ended).rowcount or 0  # type: ignore[attr-defined]
    n += session.execute(lost).rowcount or 0  # type: ignore[attr-defined]
    return int(n)
