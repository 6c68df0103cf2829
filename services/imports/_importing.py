"""One import from start to end: read the file, check every row (the model, repeats within
the file, then the database), and store it all, its valid rows, or nothing."""

from collections.abc import Callable
from datetime import UTC, datetime, tzinfo
from pathlib import Path

from sqlalchemy.orm import Session

from models.errors import InvalidInput
from models.imports import ImportKind
from models.performance import ImportReport
from models.users import CurrentUser
from services import ownership
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
    user: CurrentUser | None = None,
) -> ImportReport:
    """Check a whole file, then store it (or with ``skip_invalid`` its valid rows), or raise
    InvalidInput listing every problem (nothing is stored then). ``file`` names the file in
    errors (a path names itself); ``progress(done, total)`` is called as rows are checked and
    stored. ``default_tz`` reads times written without an offset; without it they are errors.

    Ownership (:mod:`services.ownership`): once the database has accounts, a contract's owner
    must be an active user (an error of its row, field ``owner``), and rows ``user`` may not
    write (a contract that is not theirs or their team's, a supplier of nobody's contract of
    theirs, deliveries, tickets or prices of someone else's contract) make the whole file
    refused with NotAllowed, every refused row named with its field and reason, nothing stored.
    The interfaces pass the acting ``user``; None checks the owners only."""
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
    owned = ownership.import_problems(session, user=user, kind=kind, valid=valid, file=file)
    errors = sort_errors([*parsed.errors, *value_errors, *check.errors, *owned.errors])
    if owned.refusals and not skip_invalid:
        raise ownership.refused(owned.refusals[:MAX_ERRORS], errors[:MAX_ERRORS])
    if errors and not skip_invalid:
        raise InvalidInput(errors[:MAX_ERRORS])
    errors = sort_errors([*errors, *owned.refusals])
    keep = [v for v in valid if v.row not in check.bad and v.row not in owned.rows]
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
