"""Bulk import and export for the API: now :mod:`activities.file_import`.

Kept so existing imports keep working: :func:`import_records` answers with the
:class:`ImportResult` the API has always used; everything else is re-exported.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import tzinfo

from sqlalchemy.orm import Session

from services.imports.files import (
    LAYOUTS,
    MAX_BYTES,
    MAX_CELL_CHARS,
    MAX_ERRORS,
    MAX_ROWS,
    FileFormat,
    ImportKind,
    Layout,
    Record,
    decode,
    export_csv,
    export_json,
    read_csv,
    read_json,
)
from services.imports.files import import_records as _import_records


@dataclass(frozen=True, slots=True)
class ImportResult:
    kind: ImportKind
    format: FileFormat
    rows_read: int
    inserted: int
    updated: int
    dry_run: bool


def import_records(
    session: Session,
    *,
    kind: ImportKind,
    raw: bytes,
    file_format: FileFormat,
    dry_run: bool = False,
    default_tz: tzinfo | None = None,
    progress: Callable[[int, int], None] = lambda _done, _total: None,
) -> ImportResult:
    """Check a whole upload and store it, or raise InvalidInput listing every problem."""
    report = _import_records(
        session,
        kind=kind,
        source=raw,
        file_format=file_format,
        dry_run=dry_run,
        default_tz=default_tz,
        progress=progress,
    )
    return ImportResult(
        kind, file_format, report.rows_read, report.inserted, report.updated, dry_run
    )


__all__ = [
    "LAYOUTS",
    "MAX_BYTES",
    "MAX_CELL_CHARS",
    "MAX_ERRORS",
    "MAX_ROWS",
    "FileFormat",
    "ImportKind",
    "ImportResult",
    "Layout",
    "Record",
    "decode",
    "export_csv",
    "export_json",
    "import_records",
    "read_csv",
    "read_json",
]
