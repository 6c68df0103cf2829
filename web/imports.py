"""The imports pages of the buyers' workspace (issue 16): upload a CSV or JSON file of any
import kind, see its dry run (every contract's preview calendar and every problem as row, field
and reason), then confirm to store all rows or none.

The confirm step carries the file itself, without JavaScript and without a table of pending
uploads: its bytes travel base64 in a hidden field, with their SHA-256 (shown to the person)
and a seal, an HMAC of the hash, kind, format and time zone keyed by the session's CSRF token.
A confirm whose content, hash or settings differ from what the dry run showed is refused, and
the confirm checks the whole file again through the same service the API's import calls
(:func:`services.imports.import_records`), so a file that went bad meanwhile (a contract id
registered since) is refused too, with nothing stored.
"""

import base64
import binascii
import hashlib
import hmac
from dataclasses import dataclass, field
from datetime import tzinfo
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile

from auth.roles import Permission
from models.contract import ContractCreate
from models.errors import Conflict, FieldError, InvalidInput, NotAllowed
from models.users import WebSession
from portal.deps import SessionDep, StateDep, require_web, web_session
from portal.problems import Forbidden
from services import audit
from services import imports as file_import
from services.imports import ImportKind
from services.plans import PlannedContract, as_read, plan_contracts
from web.i18n import Translator
from web.imports_reasons import explain
from web.pages import render, same_origin, translator_for

__all__ = ["KIND_NAMES", "Upload", "router", "seal", "verified_upload"]

router = APIRouter(include_in_schema=False)

Writer = Annotated[WebSession, require_web(Permission.CONTRACTS_WRITE)]


def N_(message: str) -> str:
    """A message marked for the catalog, translated where it is shown."""
    return message


KIND_NAMES: dict[ImportKind, str] = {
    ImportKind.CONTRACTS: N_("Contracts (with their terms)"),
    ImportKind.SUPPLIERS: N_("Suppliers"),
    ImportKind.DELIVERIES: N_("Deliveries"),
    ImportKind.SERVICE_TICKETS: N_("Service tickets"),
    ImportKind.PRICE_HISTORY: N_("Price history"),
    ImportKind.MARKET_INDICATORS: N_("Market indicators"),
}
_MEDIA_JSON = ("application/json",)
_FILE = "(file)"  # the field of a problem with the file as a whole (services.imports)


# ---------------------------------------------------------------------------- the posted form


@dataclass(slots=True)
class Upload:
    """The CSRF-checked multipart form; ``too_large``: the body was refused unread."""

    form: FormData | None
    too_large: bool = False

    def text(self, name: str) -> str:
        value = self.form.get(name) if self.form is not None else None
        return value if isinstance(value, str) else ""

    def file(self, name: str) -> UploadFile | None:
        value = self.form.get(name) if self.form is not None else None
        return value if isinstance(value, UploadFile) else None


def _ceiling(limit: int) -> int:
    # The confirm step posts the file base64 (4 bytes for every 3) beside a few short fields.
    return limit * 4 // 3 + 64 * 1024


async def verified_upload(
    request: Request,
    state: StateDep,
    session: Annotated[WebSession, Depends(web_session)],
) -> Upload:
    """The posted multipart form, once its CSRF token matched the session's, as
    :func:`web.pages.verified_form` checks it; a body declared larger than the upload limit
    allows is not read at all."""
    ceiling = _ceiling(state.web.max_upload_bytes)
    try:
        declared = int(request.headers.get("content-length") or 0)
    except ValueError:
        declared = 0
    if declared > ceiling:
        return Upload(None, too_large=True)
    form = await request.form(max_files=1, max_fields=20, max_part_size=ceiling)
    token = form.get("csrf_token")
    if (
        not isinstance(token, str)
        or not hmac.compare_digest(token, session.csrf_token)
        or not same_origin(request)
    ):
        await form.close()
        raise Forbidden("the form's security token is missing or stale; reload the page")
    return Upload(form)


UploadDep = Annotated[Upload, Depends(verified_upload)]


def seal(session: WebSession, *, digest: str, kind: str, file_format: str, zone: str) -> str:
    """What ties a dry run's hidden fields together, for this session only."""
    message = "\n".join((digest, kind, file_format, zone)).encode()
    return hmac.new(session.csrf_token.encode(), message, hashlib.sha256).hexdigest()


# ---------------------------------------------------------------------------- the dry run


@dataclass(slots=True)
class Checked:
    """What the page shows of a file: its plans, its row problems, or why it cannot be read."""

    kind: ImportKind
    file_name: str
    file_format: file_import.FileFormat
    zone: str
    raw: bytes
    rows_read: int = 0
    errors: list[FieldError] = field(default_factory=list)
    file_errors: list[FieldError] = field(default_factory=list)  # the file as a whole
    plans: list[tuple[int, PlannedContract]] = field(default_factory=list)
    planned_of: int = 0  # valid contract rows: the preview shows the first PREVIEW_ROWS
    refused: bool = False  # rows the person may not write (ownership)
    stored: tuple[int, int] | None = None  # confirmed: (inserted, updated)

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.raw).hexdigest()

    @property
    def content(self) -> str:
        return base64.b64encode(self.raw).decode("ascii")

    @property
    def confirmable(self) -> bool:
        return not self.errors and not self.file_errors


def _zone(name: str) -> tzinfo | None:
    return ZoneInfo(name) if name else None


def _records(checked: Checked) -> tuple[list[file_import.Record], list[FieldError]]:
    """The file's records as the import service reads them (only for a file it could read)."""
    text = file_import.decode(checked.raw, file=checked.file_name)
    reader = file_import.read_csv if checked.file_format == "csv" else file_import.read_json
    return reader(text, file_import.LAYOUTS[checked.kind], file=checked.file_name)


def _rows_read(checked: Checked) -> int:
    """Non-blank rows, records and rows that are not records alike (a ragged row, a JSON
    item that is not an object), as the service's report counts them."""
    records, problems = _records(checked)
    return len(records) + len({e.row for e in problems if e.row is not None})


# A page of a whole 100,000-row file's calendars would be too long to read and to make; every
# row is checked whatever the file's size, the preview shows the first of them.
PREVIEW_ROWS = 500


def _preview(
    checked: Checked, *, state: Any, default_tz: tzinfo | None
) -> list[tuple[int, PlannedContract]]:
    """The first :data:`PREVIEW_ROWS` valid contract rows with the plan their renewal's
    workflow would make today, as ``POST /api/v1/plans/preview`` plans it (nothing is stored);
    ``checked.planned_of`` counts them all."""
    records, _ = _records(checked)
    valid, _ = file_import.validate_records(
        records,
        file_import.parse_model(ContractCreate, default_tz=default_tz),
        file_format=checked.file_format,
        file=checked.file_name,
    )
    checked.planned_of = len(valid)
    valid = valid[:PREVIEW_ROWS]
    today = state.today()
    planned = plan_contracts(
        [as_read(v.value, today=today) for v in valid],
        today=today,
        cfg=state.settings.calendar_settings,
        policy=state.settings.renewal_policy,
    )
    return [(v.row, p) for v, p in zip(valid, planned, strict=True)]


def _check(
    db: Session,
    checked: Checked,
    *,
    state: Any,
    session: WebSession,
    store: bool,
) -> Checked:
    """Every row checked by the import service; stored only when ``store`` and clean."""
    try:
        default_tz = _zone(checked.zone)
    except (ZoneInfoNotFoundError, ValueError):
        checked.file_errors = [FieldError("time_zone", f"unknown time zone {checked.zone!r}")]
        return checked
    try:
        report = file_import.import_records(
            db,
            kind=checked.kind,
            source=checked.raw,
            file_format=checked.file_format,
            file=checked.file_name,
            dry_run=not store,
            default_tz=default_tz,
            user=session.user,
        )
    except file_import.FileProblem as exc:
        db.rollback()
        checked.file_errors = list(exc.errors)
        return checked
    except InvalidInput as exc:
        db.rollback()
        checked.errors = list(exc.errors)
    except Conflict as exc:  # a row stored by someone else while this file was being written
        db.rollback()
        found = getattr(exc, "error", None)  # DuplicateContract names its row and field
        checked.errors = [found if isinstance(found, FieldError) else FieldError(_FILE, str(exc))]
    except NotAllowed as exc:
        db.rollback()
        checked.refused = True
        checked.errors = list(getattr(exc, "errors", ())) or [FieldError("owner", str(exc))]
    else:
        checked.rows_read = report.rows_read
        if store:
            audit.record(
                db,
                actor=session.user.username,
                action=audit.AuditAction.IMPORT,
                subject_type=checked.kind.value,
                subject_id=f"{report.rows_read} rows",
                detail={
                    "format": checked.file_format,
                    "rows": report.rows_read,
                    "inserted": report.inserted,
                    "updated": report.updated,
                    "via": "web",
                },
            )
            db.commit()
            checked.stored = (report.inserted, report.updated)
            return checked
        db.rollback()  # a dry run writes nothing; nothing it read is kept either
    if checked.kind is ImportKind.CONTRACTS:
        checked.plans = _preview(checked, state=state, default_tz=default_tz)
    if checked.errors:  # refused: the service reports no count, the file still has its rows
        checked.rows_read = _rows_read(checked)
    return checked


# ---------------------------------------------------------------------------- pages


def _page(
    request: Request,
    session: WebSession,
    *,
    kind: str = ImportKind.CONTRACTS.value,
    zone: str = "",
    field_errors: dict[str, list[str]] | None = None,
    checked: Checked | None = None,
    refusal: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    t = translator_for(request, session, "imports")
    return render(
        request,
        "imports/page.html",
        {
            "explain": lambda reason: explain(reason, t),
            "kinds": KIND_NAMES,
            "layouts": {k: file_import.LAYOUTS[k] for k in KIND_NAMES},
            "kind": kind,
            "zone": zone,
            "field_errors": field_errors or {},
            "checked": checked,
            "refusal": refusal,
            "seal": (
                seal(
                    session,
                    digest=checked.digest,
                    kind=checked.kind.value,
                    file_format=checked.file_format,
                    zone=checked.zone,
                )
                if checked is not None and checked.confirmable
                else ""
            ),
        },
        session=session,
        status_code=status_code,
    )


@router.get("/imports")
def imports_page(request: Request, session: Writer) -> HTMLResponse:
    return _page(request, session)


def _file_format(upload: UploadFile) -> file_import.FileFormat | None:
    name = (upload.filename or "").lower()
    if name.endswith(".csv"):
        return "csv"
    if name.endswith(".json"):
        return "json"
    media = (upload.content_type or "").split(";")[0].strip().lower()
    if media in _MEDIA_JSON:
        return "json"
    if media in ("text/csv", "application/csv"):
        return "csv"
    return None


def _kind(value: str) -> ImportKind | None:
    try:
        return ImportKind(value)
    except ValueError:
        return None


@router.post("/imports")
async def dry_run(
    request: Request,
    db: SessionDep,
    state: StateDep,
    session: Writer,
    upload: UploadDep,
) -> HTMLResponse:
    t = translator_for(request, session, "imports")
    limit = state.web.max_upload_bytes
    too_big = t.gettext(
        "The file is larger than the %(limit)s bytes accepted.", limit=t.number(limit)
    )
    if upload.too_large:
        return _page(request, session, field_errors={"file": [too_big]}, status_code=422)
    kind_value, zone = upload.text("kind"), upload.text("time_zone").strip()
    errors: dict[str, list[str]] = {}
    kind = _kind(kind_value)
    if kind is None:
        errors["kind"] = [t.gettext("Choose what the file holds.")]
    file = upload.file("file")
    raw = b""
    file_format: file_import.FileFormat | None = None
    if file is None or not file.filename:
        errors["file"] = [t.gettext("Choose a CSV or JSON file.")]
    else:
        raw = await file.read(limit + 1)
        file_format = _file_format(file)
        if len(raw) > limit:
            errors["file"] = [too_big]
        elif file_format is None:
            errors["file"] = [t.gettext("Only .csv and .json files can be imported.")]
    if zone:
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            errors["time_zone"] = [
                t.gettext("%(zone)s is not a time zone (for example Asia/Tokyo).", zone=zone)
            ]
    if upload.form is not None:
        await upload.form.close()
    if errors or kind is None or file is None or file_format is None:
        return _page(
            request, session, kind=kind_value, zone=zone, field_errors=errors, status_code=422
        )
    checked = Checked(kind, file.filename or "upload", file_format, zone, raw)
    # The check reads the whole file and the database: off the event loop, so that other
    # requests are answered meanwhile.
    return await run_in_threadpool(_result, request, db, state, session, checked, store=False)


def _result(
    request: Request,
    db: Session,
    state: Any,
    session: WebSession,
    checked: Checked,
    *,
    store: bool,
    refusal: str | None = None,
) -> HTMLResponse:
    checked = _check(db, checked, state=state, session=session, store=store)
    if checked.stored is not None:
        return render(
            request, "imports/done.html", {"checked": checked, "kinds": KIND_NAMES}, session=session
        )
    field_errors: dict[str, list[str]] = {}
    if checked.file_errors:
        target = "time_zone" if checked.file_errors[0].field == "time_zone" else "file"
        t = translator_for(request, session, "imports")
        field_errors[target] = [_file_error(e, t) for e in checked.file_errors]
    return _page(
        request,
        session,
        kind=checked.kind.value,
        zone=checked.zone,
        field_errors=field_errors,
        checked=None if checked.file_errors else checked,
        refusal=refusal,
        status_code=422 if (checked.file_errors or checked.errors) else 200,
    )


def _file_error(e: FieldError, t: Translator) -> str:
    where = f"{e.field}: " if e.field not in (_FILE, "time_zone") else ""
    return f"{where}{explain(e.reason, t).text}"


@router.post("/imports/confirm")
async def confirm(
    request: Request,
    db: SessionDep,
    state: StateDep,
    session: Writer,
    upload: UploadDep,
) -> HTMLResponse:
    t = translator_for(request, session, "imports")
    if upload.too_large:
        return _page(
            request,
            session,
            refusal=t.gettext("The confirmed file is too large; upload it again."),
            status_code=422,
        )
    kind = _kind(upload.text("kind"))
    file_format = upload.text("file_format")
    zone = upload.text("time_zone")
    digest = upload.text("sha256")
    stale = t.gettext(
        "The file to confirm is not the one its dry run checked (it was changed on the way); "
        "nothing was stored. Upload the file again."
    )
    try:
        raw = base64.b64decode(upload.text("content"), validate=True)
    except (binascii.Error, ValueError):
        raw = None
    expected = seal(
        session, digest=digest, kind=kind.value if kind else "", file_format=file_format, zone=zone
    )
    if (
        kind is None
        or file_format not in ("csv", "json")
        or raw is None
        or not hmac.compare_digest(hashlib.sha256(raw).hexdigest(), digest)
        or not hmac.compare_digest(expected, upload.text("seal"))
    ):
        return _page(request, session, refusal=stale, status_code=422)
    name = upload.text("file_name")[:200] or "upload"
    checked = Checked(kind, name, "csv" if file_format == "csv" else "json", zone, raw)
    return await run_in_threadpool(
        _result,
        request,
        db,
        state,
        session,
        checked,
        store=True,
        refusal=t.gettext(
            "The file no longer passes its checks (the stored data changed since its dry run); "
            "nothing was stored."
        ),
    )
