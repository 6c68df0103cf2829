"""What the file import commands share: running an import in one transaction with a progress
bar for big files, and printing its problems.

Reading, checking and storing files live in :mod:`services.imports` (shared with the API).
"""

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)
from sqlalchemy.orm import Session

from auth.roles import Permission
from cli.common import db_transaction, fail, load_settings, print_field_errors
from cli.identity import acting_user, login_name
from config.settings import Settings
from models.errors import InvalidInput, NotAllowed
from models.performance import ImportReport
from models.users import CurrentUser
from services import audit
from services.imports import ImportKind, detect_format, import_records

# Files with at least this many records show a progress bar (on a terminal only).
PROGRESS_THRESHOLD = 200


def importer(settings: Settings, *, by: str | None) -> CurrentUser:
    """Who imports: the token's owner (or the operator of a database without users), allowed
    to write contracts and their records as the API's imports are; else the command stops."""
    return acting_user(
        settings, claimed=by, permission=Permission.CONTRACTS_WRITE, default=login_name()
    )


def record_import(
    session: Session, user: CurrentUser, report: ImportReport, *, file: Path, file_format: str
) -> None:
    """The import's audit entry, in the import's transaction, as the API writes it."""
    audit.record(
        session,
        actor=user.username,
        action=audit.AuditAction.IMPORT,
        subject_type=report.kind,
        subject_id=f"{report.rows_read} rows",
        detail={
            "format": file_format,
            "file": file.name,
            "rows": report.rows_read,
            "inserted": report.inserted,
            "updated": report.updated,
            "skipped": len(report.skipped_rows),
            "via": "cli",
        },
    )


def import_file(
    file: Path, *, kind: ImportKind, fmt: str | None, dry_run: bool, by: str | None = None
) -> ImportReport:
    """Import FILE all or nothing in one transaction, for the user :func:`importer` names, with
    its audit entry (none for a dry run); on problems print them and exit 1."""
    settings = load_settings()
    user = importer(settings, by=by)
    try:
        file_format = detect_format(file, fmt)
        with (
            progress_reporter(f"{kind.value} from {file.name}") as progress,
            db_transaction(settings) as session,
        ):
            report = import_records(
                session,
                kind=kind,
                source=file,
                file_format=file_format,
                dry_run=dry_run,
                progress=progress,
                user=user,
            )
            if not dry_run:
                record_import(session, user, report, file=file, file_format=file_format)
            return report
    except InvalidInput as exc:
        print_field_errors(
            exc.errors, heading=f"{file}: {len(exc.errors)} problem(s); nothing was imported"
        )
        raise typer.Exit(1) from None
    except NotAllowed as exc:  # rows about other people's contracts: nothing was imported
        fail(f"{file}: {exc}; nothing was imported")


@contextlib.contextmanager
def progress_bar(total: int, description: str) -> Iterator[Callable[[int], None]]:
    """``advance(n)`` for a bar on standard error: shown only for big files on a terminal."""
    with progress_reporter(description) as report:
        done = 0

        def advance(n: int) -> None:
            nonlocal done
            done += n
            report(done, total)

        yield advance


@contextlib.contextmanager
def progress_reporter(description: str) -> Iterator[Callable[[int, int], None]]:
    """``report(done, total)`` for a bar on standard error, started on the first report when
    the total is big enough and standard error is a terminal."""
    console = Console(stderr=True)
    with contextlib.ExitStack() as stack:
        bar: list[tuple[Progress, TaskID]] = []

        def report(done: int, total: int) -> None:
            if not bar:
                if total < PROGRESS_THRESHOLD or not console.is_terminal:
                    return
                progress = stack.enter_context(
                    Progress(
                        TextColumn("{task.description}"),
                        BarColumn(),
                        MofNCompleteColumn(),
                        TimeRemainingColumn(),
                        console=console,
                        transient=True,
                    )
                )
                bar.append((progress, progress.add_task(description, total=total)))
            progress, task = bar[0]
            progress.update(task, completed=done, total=total)

        yield report


__all__ = [
    "PROGRESS_THRESHOLD",
    "import_file",
    "importer",
    "progress_bar",
    "progress_reporter",
    "record_import",
]
