"""Imports (CSV or JSON, all or nothing) and exports (CSV or JSON) of procurement records."""

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from api.schemas import ImportOut
from auth.roles import Permission
from models.errors import FieldError, InvalidInput
from models.users import CurrentUser
from portal.deps import SessionDep, StateDep, require
from portal.problems import Problem
from services import audit
from services import imports as file_import
from services.imports import ImportKind

router = APIRouter(tags=["imports"])

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


@router.post(
    "/imports/{kind}",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "text/csv": {"schema": {"type": "string"}},
                "application/json": {"schema": {"type": "array", "items": {"type": "object"}}},
            },
        }
    },
)
async def import_records(
    kind: ImportKind,
    request: Request,
    db: SessionDep,
    state: StateDep,
    user: Writer,
    dry_run: Annotated[bool, Query(description="check only; store nothing")] = False,
    timezone: Annotated[
        str | None, Query(description="IANA zone for times without an offset")
    ] = None,
) -> ImportOut:
    """Check every row and store the file, or store nothing and answer 422 with every problem
    (row, field, reason)."""
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
    result = file_import.import_records(
        db,
        kind=kind,
        source=b"".join(chunks),
        file_format=file_format,
        dry_run=dry_run,
        default_tz=zone,
        user=user,
    )
    if not dry_run:
        audit.record(
            db,
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
        db.commit()
    return ImportOut(
        kind=kind.value,
        format=file_format,
        rows_read=result.rows_read,
        inserted=result.inserted,
        updated=result.updated,
        dry_run=dry_run,
    )


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
