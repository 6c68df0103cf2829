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

from cli.common import db_transaction, load_settings, print_field_errors
from models.errors import InvalidInput
from models.performance import ImportReport
from services.imports import ImportKind, detect_format, import_records

# Files with at least this many records show a progress bar (on a terminal only).
PROGRESS_THRESHOLD = 200


def import_file(file: Path, *, kind: ImportKind, fmt: str | None, dry_run: bool) -> ImportReport:
    """Import FILE all or nothing in one transaction; on problems print them and exit 1."""
    settings = load_settings()
    try:
        with (
            progress_reporter(f"{kind.value} from {file.name}") as progress,
            db_transaction(settings) as session,
        ):
            return import_records(
                session,
                kind=kind,
                source=file,
                file_format=detect_format(file, fmt),
                dry_run=dry_run,
                progress=progress,
            )
    except InvalidInput as exc:
        print_field_errors(
            exc.errors, heading=f"{file}: {len(exc.errors)} problem(s); nothing was imported"
        )
        raise typer.Exit(1) from None


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


__all__ = ["PROGRESS_THRESHOLD", "import_file", "progress_bar", "progress_reporter"]
