"""Imports (CSV or JSON, all or nothing) and exports (CSV or JSON) of procurement records."""

import functools
import logging
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, tzinfo
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from api.schemas import ImportOut
from auth.roles import Permission
from models.errors import FieldError, InvalidInput, NotFound
from models.users import CurrentUser
from portal.deps import SessionDep, StateDep, require
from portal.problems import INTERNAL_ERROR, Problem, to_problem
from portal.state import AppState
from services import audit
from services import imports as file_import
from services.imports import ImportKind
from services.imports import jobs as import_jobs

router = APIRouter(tags=["imports"])
_log = logging.getLogger(__name__)

Writer = Annotated[CurrentUser, require(Permission.CONTRACTS_WRITE)]
Exporter = Annotated[CurrentUser, require(Permission.EXPORT)]

_CSV_TYPES = ("text/csv", "application/csv", "text/plain")


def _format(content_type: str) -> file_import.FileFormat:
    media = content_type.split(";")[0].strip().lower()
    if media in _CSV_TYPES:
        return "csv"
    if media == "application/json":
        return "json"
    raise Problem(
        415,
        "Unsupported media type",
        f"send text/csv or application/json, not {media or 'nothing'}",
        [FieldError("content-type", "must be text/csv or application/json")],
    )


# A file bigger than this is imported as a job (202 Accepted, its progress at the Location
# given); smaller ones are answered when they are done, as a client asking "respond-async" in
# a Prefer header (RFC 7240) can have any file imported as a job.
ASYNC_BYTES = 1024 * 1024
JOB_WORKERS = 2  # imports running at once as jobs; more wait their turn


class ImportJobOut(BaseModel):
    """An import running off the request: its progress, then its result or its problems."""

    id: str
    kind: str
    format: str
    dry_run: bool
    state: Literal["queued", "running", "succeeded", "failed"]
    stage: Literal["queued", "checking", "storing", "done"]
    rows_checked: int
    rows_stored: int
    rows_estimate: int  # about how many rows the file has, exact once all are read
    started_at: datetime
    finished_at: datetime | None = None
    result: ImportOut | None = None  # state "succeeded"
    status: int | None = None  # state "failed": the status the import would have answered
    problem: dict[str, Any] | None = None  # state "failed": the problem (errors with rows)


def _job_out(view: import_jobs.JobView) -> ImportJobOut:
    return ImportJobOut(
        id=view.id,
        kind=view.kind,
        format=view.format,
        dry_run=view.dry_run,
        state=view.state,
        stage=view.stage,  # queued, checking, storing or done
        rows_checked=view.rows_checked,
        rows_stored=view.rows_stored,
        rows_estimate=view.rows_estimate,
        started_at=view.started_at,
        finished_at=view.finished_at,
        result=ImportOut.model_validate(view.result) if view.result is not None else None,
        status=view.status,
        problem=dict(view.problem) if view.problem is not None else None,
    )


_JOBS_LOCK = threading.Lock()


def _jobs(request: Request, state: AppState) -> import_jobs.ImportJobs:
    """This app's import jobs (one set per process, on the shared database)."""
    with _JOBS_LOCK:
        jobs: import_jobs.ImportJobs | None = getattr(request.app.state, "import_jobs", None)
        if jobs is None:
            jobs = import_jobs.ImportJobs(state.sessions, workers=JOB_WORKERS)
            request.app.state.import_jobs = jobs
        return jobs


def _run_import(
    state: AppState,
    user: CurrentUser,
    *,
    kind: ImportKind,
    body: bytes,
    file_format: file_import.FileFormat,
    dry_run: bool,
    zone: tzinfo | None,
    counts: file_import.ImportProgress,
    job: tuple[import_jobs.ImportJobs, str] | None = None,
) -> ImportOut:
    """The whole import in the calling (worker) thread, in a session and transaction of its
    own: checked, stored with its audit entry and committed, or nothing stored. As a ``job``,
    its end is written in the same transaction."""
    with state.sessions() as session:
        result = file_import.import_records(
            session,
            kind=kind,
            source=body,
            file_format=file_format,
            dry_run=dry_run,
            default_tz=zone,
            user=user,
            counts=counts,
        )
        if not dry_run:
            audit.record(
                session,
                actor=user.username,
                action=audit.AuditAction.IMPORT,
                subject_type=kind.value,
                subject_id=f"{result.rows_read} rows",
                detail={
                    "format": file_format,
                    "rows": result.rows_read,
                    "inserted": result.inserted,
                    "updated": result.updated,
                },
            )
        out = ImportOut(
            kind=kind.value,
            format=file_format,
            rows_read=result.rows_read,
            inserted=result.inserted,
            updated=result.updated,
            dry_run=dry_run,
        )
        if job is not None:
            jobs, job_id = job
            jobs.record_success(
                session, job_id=job_id, result=out.model_dump(mode="json"), counts=counts
            )
        session.commit()
    return out


def _job_work(run: Callable[..., ImportOut], jobs: import_jobs.ImportJobs) -> import_jobs.Work:
    """The job's work: the import, then its result or the problem the request would have had."""

    def work(job_id: str, counts: file_import.ImportProgress) -> import_jobs.Outcome:
        try:
            out = run(counts=counts, job=(jobs, job_id))
        except Exception as exc:
            try:
                problem = to_problem(exc)
            except Exception:
                _log.exception("import job %s failed", job_id)
                problem = INTERNAL_ERROR
            return import_jobs.Outcome("failed", status=problem.status, problem=problem.body())
        return import_jobs.Outcome("succeeded", result=out.model_dump(mode="json"))

    return work


def _wants_job(request: Request, size: int) -> bool:
    prefer = request.headers.get("prefer", "").lower()
    return size > ASYNC_BYTES or "respond-async" in prefer


@router.post(
    "/imports/{kind}",
    response_model=ImportOut,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "text/csv": {"schema": {"type": "string"}},
                "application/json": {"schema": {"type": "array", "items": {"type": "object"}}},
            },
        }
    },
    responses={
        202: {
            "model": ImportJobOut,
            "description": "A big file (or Prefer: respond-async): imported as a job, whose "
            "progress and result are at the Location given",
        }
    },
)
async def import_records(
    kind: ImportKind,
    request: Request,
    state: StateDep,
    user: Writer,
    dry_run: Annotated[bool, Query(description="check only; store nothing")] = False,
    timezone: Annotated[
        str | None, Query(description="IANA zone for times without an offset")
    ] = None,
) -> Any:
    """Check every row and store the file, or store nothing and answer 422 with every problem
    (row, field, reason). The import runs in a worker thread, so the app keeps answering
    other requests meanwhile. A file over 1 MiB, or any file sent with ``Prefer:
    respond-async``, is answered at once with 202 Accepted and the Location of its job
    (``GET /api/v1/imports/jobs/{job_id}``: rows checked and stored, then the result or the
    problem the import would have answered)."""
    file_format = _format(request.headers.get("content-type", ""))
    declared = int(request.headers.get("content-length") or 0)
    limit = state.web.max_upload_bytes
    if declared > limit:
        raise Problem(413, "Too large", f"at most {limit} bytes are accepted")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise Problem(413, "Too large", f"at most {limit} bytes are accepted")
        chunks.append(chunk)
    zone = None
    if timezone:
        try:
            zone = ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise InvalidInput(
                [FieldError("timezone", f"unknown time zone {timezone!r}")]
            ) from None
    body = b"".join(chunks)
    del chunks
    run = functools.partial(
        _run_import,
        state,
        user,
        kind=kind,
        body=body,
        file_format=file_format,
        dry_run=dry_run,
        zone=zone,
    )
    if not _wants_job(request, size):
        return await run_in_threadpool(run, counts=file_import.ImportProgress())
    jobs = _jobs(request, state)
    view = await run_in_threadpool(
        functools.partial(
            jobs.submit,
            owner=user.username,
            kind=kind.value,
            file_format=file_format,
            dry_run=dry_run,
            work=_job_work(run, jobs),
        )
    )
    location = str(request.url_for("import_job", job_id=view.id).path)
    return JSONResponse(
        _job_out(view).model_dump(mode="json"), status_code=202, headers={"Location": location}
    )


@router.get("/imports/jobs/{job_id}", name="import_job")
def import_job(job_id: str, request: Request, state: StateDep, user: Writer) -> ImportJobOut:
    """An import job's progress (rows checked, then stored), then its result (``state``
    succeeded) or the problem the import answered (``state`` failed: ``status`` 422 with every
    row, field and reason, nothing stored; or 403; or 503 when the server running it stopped
    before it finished, nothing stored). Any of the app's processes answers it; only whoever
    started it sees it; jobs are forgotten a day after they end."""
    view = _jobs(request, state).get(job_id, owner=user.username)
    if view is None:
        raise NotFound(f"no import job {job_id!r}")
    return _job_out(view)


@router.get(
    "/exports/{kind}",
    responses={200: {"content": {"text/csv": {}, "application/json": {}}}},
)
def export_records(
    kind: ImportKind,
    db: SessionDep,
    state: StateDep,
    user: Exporter,
    format: Annotated[file_import.FileFormat, Query()] = "csv",
) -> Any:
    """Every record of the kind, in the import layout; CSV cells are safe to open in a
    spreadsheet (formula-like text is prefixed with an apostrophe)."""
    audit.record(
        db,
        actor=user.username,
        action=audit.AuditAction.EXPORT,
        subject_type=kind.value,
        subject_id=format,
    )
    db.commit()
    if format == "json":
        return file_import.export_json(db, kind=kind)
    stamp = datetime.now(UTC).strftime("%Y%m%d")

    def stream() -> Iterator[str]:
        # Its own session: the request's session may be closed before streaming ends.
        with state.sessions() as session:
            yield from file_import.export_csv(session, kind=kind)

    return StreamingResponse(
        stream(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{kind.value}-{stamp}.csv"'},
    )
