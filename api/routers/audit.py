"""The audit trail, for auditors: read it page by page or export it as CSV."""

import io
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from api.schemas import AuditEntryOut, Page
from auth.roles import Permission
from models.numbers import DbInt
from models.users import CurrentUser
from portal.deps import SessionDep, StateDep, require
from services import audit

router = APIRouter(prefix="/audit", tags=["audit"])

Auditor = Annotated[CurrentUser, require(Permission.AUDIT_READ)]


@router.get("")
def list_audit(
    db: SessionDep,
    _: Auditor,
    action: Annotated[str | None, Query(max_length=60)] = None,
    actor: Annotated[str | None, Query(max_length=200)] = None,
    subject_id: Annotated[str | None, Query(max_length=200)] = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: DbInt = 0,
) -> Page[AuditEntryOut]:
    entries, total = audit.list_entries(
        db,
        action=action,
        actor=actor,
        subject_id=subject_id,
        since=since,
        until=until,
        limit=limit,
        offset=offset,
    )
    items = [AuditEntryOut.model_validate(e, from_attributes=True) for e in entries]
    return Page.of(items, total=total, limit=limit, offset=offset)


@router.get("/export", responses={200: {"content": {"text/csv": {}}}})
def export_audit(
    state: StateDep,
    _: Auditor,
    action: Annotated[str | None, Query(max_length=60)] = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> StreamingResponse:
    def stream() -> Iterator[str]:
        with state.sessions() as session:
            buffer = io.StringIO()
            audit.write_csv(
                audit.iter_entries(session, action=action, since=since, until=until), buffer
            )
            yield buffer.getvalue()

    stamp = datetime.now(UTC).strftime("%Y%m%d")
    return StreamingResponse(
        stream(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="audit-{stamp}.csv"'},
    )
