"""One import from start to end: read the file, check every row (the model, repeats within
the file, then the database), and store it all, its valid rows, or nothing."""

from collections.abc import Callable
from datetime import UTC, datetime, tzinfo
from pathlib import Path

from sqlalchemy.orm import Session

from models.errors import InvalidInput
from models.imports import ImportKind
from models.performance import ImportReport
from services.imports._formats import (
    MAX_ERRORS,
    FileFormat,
    detect_format,
    read_bytes,
    read_records,
)
from services.imports._validate import UNIQUE, parse_model, sort_errors, validate_records
from services.imports.layouts import LAYOUTS
from store import records

Progress = Callable[[int, int], None]  # (done, total)


def _no_progress(_done: int, _total: int) -> None:
    return None


def import_records(
    session: Session,
    *,
    kind: ImportKind,
    source: Path | bytes,
    file_format: FileFormat | None = None,
    file: str | None = None,
    dry_run: bool = False,
    skip_invalid: bool = False,
    default_tz: tzinfo | None = None,
    now: datetime | None = None,
    progress: Progress = _no_progress,
) -> ImportReport:
    """Check a whole file, then store it (or with ``skip_invalid`` its valid rows), or raise
    InvalidInput listing every problem (nothing is stored then). ``file`` names the file in
    errors (a path names itself); ``progress(done, total)`` is called as rows are checked and
    stored. ``default_tz`` reads times written without an offset; without it they are errors."""
    if isinstance(source, Path):
        file = file or source.name
        file_format = file_format or detect_format(source)
        raw = read_bytes(source)
    else:
        file_format = file_format or detect_format(file, default="csv")
        raw = source
    layout = LAYOUTS[kind]
    parsed = read_records(raw, layout, file_format=file_format, file=file)
    total = len(parsed.records) * 2
    done = 0

    def advance(n: int) -> None:
        nonlocal done
        done += n
        progress(done, total)

    valid, value_errors = validate_records(
        parsed.records,
        parse_model(layout.model, default_tz=default_tz),
        file_format=file_format,
        advance=advance,
        unique=UNIQUE[kind],
        file=file,
    )
    check = records.Check(session, file, now or datetime.now(UTC))
    if valid:
        records.database_checks(check, kind, valid)
    errors = sort_errors([*parsed.errors, *value_errors, *check.errors])
    if errors and not skip_invalid:
        raise InvalidInput(errors[:MAX_ERRORS])
    keep = [v for v in valid if v.row not in check.bad]
    stored = records.Stored()
    if not dry_run and keep:
        stored = records.write(session, kind, keep, advance)
    progress(total, total)
    return ImportReport(
        file=file or "(upload)",
        kind=kind.value,
        rows_read=parsed.rows,
        inserted=stored.inserted,
        updated=stored.updated,
        skipped_rows=tuple(sorted({e.row for e in errors if e.row is not None})),
        errors=tuple(errors),
        warnings=tuple(stored.warnings),
    )


__all__ = ["Progress", "import_records"]
