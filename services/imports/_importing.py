"""One import from start to end: read the file, check every row (the model, repeats within
the file, then the database), and store it all, its valid rows, or nothing."""

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any, Literal, TypeVar, cast

from sqlalchemy.orm import Session

from models.contract import ContractCreate
from models.errors import FieldError, InvalidInput
from models.imports import ImportKind
from models.performance import ImportReport
from models.users import CurrentUser
from services import ownership
from services.imports._formats import (
    MAX_ERRORS,
    FileFormat,
    Record,
    detect_format,
    open_records,
    read_bytes,
)
from services.imports._validate import UNIQUE, Validator, parse_model, sort_errors
from services.imports.layouts import LAYOUTS
from store import records
from store.contracts import contract_tuple

T = TypeVar("T")
CHUNK = 1000  # rows checked together: one query per check and chunk, not per row

Progress = Callable[[int, int], None]  # (done, total)


@dataclass(slots=True)
class ImportProgress:
    """How far an import is, for someone polling it from another thread: the rows checked so
    far, then the rows stored; ``estimate`` is about how many rows the file has (at least as
    many as it has) until all are read, then exactly how many it has."""

    stage: Literal["checking", "storing", "done"] = "checking"
    rows_checked: int = 0
    rows_stored: int = 0
    estimate: int = 0


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
    counts: ImportProgress | None = None,
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
    stream = open_records(raw, layout, file_format=file_format, file=file)
    del raw  # the decoded text is what the stream reads
    total = stream.estimate * 2  # checked, then stored; the exact count is known at the end
    done = 0
    counts = counts if counts is not None else ImportProgress()
    counts.estimate = stream.estimate

    def advance(n: int) -> None:
        nonlocal done
        done += n
        if counts.stage == "checking":
            counts.rows_checked += n
        else:
            counts.rows_stored += n
        progress(done, max(total, done + 1))  # "finished" only once it is

    validator = Validator(
        parse_model(layout.model, default_tz=default_tz),
        file_format=file_format,
        unique=UNIQUE[kind],
        file=file,
    )
    check = records.Check(session, file, now or datetime.now(UTC))
    errors: list[FieldError] = []
    refusals: list[FieldError] = []
    keep: list[Any] = []  # what will be stored: contracts as compact rows, else checked models
    for chunk in _chunks(stream, CHUNK):
        found: list[FieldError] = [item for item in chunk if not isinstance(item, Record)]
        valid, value_errors = validator.check(
            (item for item in chunk if isinstance(item, Record)), advance
        )
        before = len(check.errors)
        if valid:
            records.database_checks(check, kind, valid)
        owned = ownership.import_problems(session, user=user, kind=kind, valid=valid, file=file)
        # A chunk's rows follow the previous chunk's, so sorting each keeps the file's order.
        errors.extend(sort_errors([*found, *value_errors, *check.errors[before:], *owned.errors]))
        refusals.extend(owned.refusals)
        if dry_run or ((errors or refusals) and not skip_invalid):
            keep.clear()  # nothing will be stored: no need to hold what would have been
            continue
        refused_rows = owned.rows
        kept = [v for v in valid if v.row not in check.bad and v.row not in refused_rows]
        if kind is ImportKind.CONTRACTS:
            keep.extend((v.row, contract_tuple(cast(ContractCreate, v.value))) for v in kept)
        else:
            keep.extend(kept)
    if refusals and not skip_invalid:
        raise ownership.refused(refusals[:MAX_ERRORS], errors[:MAX_ERRORS])
    if errors and not skip_invalid:
        raise InvalidInput(errors[:MAX_ERRORS])
    errors = sort_errors([*errors, *refusals])
    total = stream.rows * 2
    done = stream.rows
    counts.estimate = counts.rows_checked = stream.rows
    counts.stage = "storing"
    stored = records.Stored()
    if not dry_run and keep:
        if kind is ImportKind.CONTRACTS:
            stored = records.store_contracts(session, keep, advance, file=file)
        else:
            stored = records.write(session, kind, keep, advance)
    counts.stage = "done"
    progress(total, total)
    return ImportReport(
        file=file or "(upload)",
        kind=kind.value,
        rows_read=stream.rows,
        inserted=stored.inserted,
        updated=stored.updated,
        skipped_rows=tuple(sorted({e.row for e in errors if e.row is not None})),
        errors=tuple(errors),
        warnings=tuple(stored.warnings),
    )


def _chunks(items: Iterable[T], size: int) -> Iterator[list[T]]:
    chunk: list[T] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


__all__ = ["ImportProgress", "Progress", "import_records"]
