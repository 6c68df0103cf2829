"""Import jobs: an import the API accepted (202) and runs off the request, in a worker thread
of the process that accepted it, its progress and end stored (store/import_jobs.py).

Whichever process a poll reaches answers it from the row; the process running the job adds
its live counts (on SQLite the import's own write transaction holds the database while it
stores, so the row's counts can lag by that long). A succeeded job's end is written in the
import's transaction (:meth:`ImportJobs.record_success`, before its commit): "succeeded" is
stored exactly when the records are. A job whose process stopped beating for
:data:`LOST_AFTER` is said to have been interrupted, with nothing stored, which holds because
an import stores all its rows in one transaction or none.
"""

import logging
import os
import secrets
import socket
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from models.job_tables import ImportJobRow
from services.imports._importing import ImportProgress
from store import import_jobs as store
from store.db import SessionFactory, transaction

__all__ = [
    "INTERRUPTED",
    "LOST_AFTER",
    "ImportJobs",
    "JobView",
    "Outcome",
]

_log = logging.getLogger(__name__)

BEAT_EVERY = 2.0  # seconds between a running job's progress writes
LOST_AFTER = timedelta(minutes=10)  # no beat for this long: its process stopped
KEPT_FOR = timedelta(hours=24)  # ended jobs are forgotten after this long
WORKERS = 2  # jobs running at once in one process; more wait their turn

JobState = Literal["queued", "running", "succeeded", "failed"]
_OPEN = ("queued", "running")

INTERRUPTED: Mapping[str, Any] = {
    "type": "about:blank",
    "title": "Import interrupted",
    "status": 503,
    "detail": "the server running this import stopped before it finished; nothing was "
    "stored: send the file again",
    "errors": [],
}


@dataclass(frozen=True, slots=True)
class JobView:
    id: str
    owner: str
    kind: str
    format: str
    dry_run: bool
    state: JobState
    stage: str
    rows_checked: int
    rows_stored: int
    rows_estimate: int
    started_at: datetime
    finished_at: datetime | None
    result: Mapping[str, Any] | None
    status: int | None
    problem: Mapping[str, Any] | None


@dataclass(frozen=True, slots=True)
class Outcome:
    """How a job's work ended: its result, or the status and problem body it answers."""

    state: Literal["succeeded", "failed"]
    result: Mapping[str, Any] | None = None
    status: int | None = None
    problem: Mapping[str, Any] | None = None


# The work of a job: given its id and the counts to keep current, the import's outcome.
Work = Callable[[str, ImportProgress], Outcome]


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _counts(counts: ImportProgress) -> store.Counts:
    return store.Counts(
        stage=counts.stage,
        rows_checked=counts.rows_checked,
        rows_stored=counts.rows_stored,
        rows_estimate=counts.estimate,
    )


def _view(row: ImportJobRow) -> JobView:
    state: JobState = row.state  # type: ignore[assignment]  # the column holds these four
    return JobView(
        id=row.id,
        owner=row.owner,
        kind=row.kind,
        format=row.format,
        dry_run=row.dry_run,
        state=state,
        stage=row.stage,
        rows_checked=row.rows_checked,
        rows_stored=row.rows_stored,
        rows_estimate=row.rows_estimate,
        started_at=_utc(row.started_at),
        finished_at=_utc(row.finished_at) if row.finished_at else None,
        result=row.result,
        status=row.status,
        problem=row.problem,
    )


class ImportJobs:
    """The jobs of one process (one per app), on the database all processes share. One
    thread beats for every job this process holds, queued or running."""

    def __init__(
        self,
        sessions: SessionFactory,
        *,
        workers: int = WORKERS,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.sessions = sessions
        self.runner = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        self._clock = clock or (lambda: datetime.now(UTC))
        self._executor = ThreadPoolExecutor(workers, thread_name_prefix="import-job")
        self._live: dict[str, ImportProgress] = {}
        self._lock = threading.Lock()
        self._beater: threading.Thread | None = None

    def submit(
        self, *, owner: str, kind: str, file_format: str, dry_run: bool, work: Work
    ) -> JobView:
        """Store the job (queued) and hand its work to a worker thread."""
        job_id = secrets.token_urlsafe(16)
        now = self._clock()
        with transaction(self.sessions) as s:
            store.forget_before(s, finished_before=now - KEPT_FOR, started_before=now - KEPT_FOR)
            view = _view(
                store.create(
                    s,
                    job_id=job_id,
                    owner=owner,
                    kind=kind,
                    file_format=file_format,
                    dry_run=dry_run,
                    runner=self.runner,
                    now=now,
                )
            )
        counts = ImportProgress()
        with self._lock:
            self._live[job_id] = counts
            if self._beater is None:
                self._beater = threading.Thread(
                    target=self._beat, name="import-job-beat", daemon=True
                )
                self._beater.start()
        self._executor.submit(self._run, job_id, counts, work)
        return view

    def record_success(
        self, session: Session, *, job_id: str, result: Mapping[str, Any], counts: ImportProgress
    ) -> None:
        """The job's end, in the caller's transaction: the import's, before it commits."""
        store.end(
            session,
            job_id=job_id,
            state="succeeded",
            counts=_counts(counts),
            now=self._clock(),
            result=result,
        )

    def get(self, job_id: str, *, owner: str) -> JobView | None:
        """The job as stored, with this process's live counts while it runs here; None when
        there is no such job or it is somebody else's."""
        with self.sessions() as s:
            row = store.get(s, job_id=job_id)
            if row is None or row.owner != owner:
                return None
            view = _view(row)
            beat_at = _utc(row.beat_at)
        if view.state not in _OPEN:
            return view
        with self._lock:
            live = self._live.get(job_id)
        if live is not None:
            if view.state != "running":
                return view
            return replace(
                view,
                stage=live.stage,
                rows_checked=live.rows_checked,
                rows_stored=live.rows_stored,
                rows_estimate=live.estimate,
            )
        if self._clock() - beat_at > LOST_AFTER:
            return replace(
                view, state="failed", finished_at=beat_at, status=503, problem=INTERRUPTED
            )
        return view

    def _run(self, job_id: str, counts: ImportProgress, work: Work) -> None:
        try:
            with transaction(self.sessions) as s:
                store.begin(s, job_id=job_id, now=self._clock())
            try:
                outcome = work(job_id, counts)
            except Exception:  # the work answers its own refusals; anything else is a bug
                _log.exception("import job %s failed", job_id)
                outcome = Outcome("failed", status=500, problem=_FAILED)
            # A succeeded import ended its job in its own transaction; this is then a no-op.
            with transaction(self.sessions) as s:
                store.end(
                    s,
                    job_id=job_id,
                    state=outcome.state,
                    counts=_counts(counts),
                    now=self._clock(),
                    result=outcome.result,
                    status=outcome.status,
                    problem=outcome.problem,
                )
        except Exception:  # pragma: no cover - the database went away: the job reads as lost
            _log.exception("import job %s could not record its end", job_id)
        finally:
            with self._lock:
                self._live.pop(job_id, None)

    def _beat(self) -> None:
        """Beat for this process's jobs until it holds none (the next job starts it again)."""
        while True:
            threading.Event().wait(BEAT_EVERY)
            with self._lock:
                live = list(self._live.items())
                if not live:
                    self._beater = None
                    return
            for job_id, counts in live:
                try:
                    with transaction(self.sessions) as s:
                        store.beat(s, job_id=job_id, counts=_counts(counts), now=self._clock())
                except SQLAlchemyError:  # SQLite busy with the import's own write: next beat
                    _log.debug("import job %s: progress not written", job_id, exc_info=True)


_FAILED: Mapping[str, Any] = {
    "type": "about:blank",
    "title": "Internal server error",
    "status": 500,
    "detail": "the import failed; the error is logged; nothing was stored",
    "errors": [],
}
