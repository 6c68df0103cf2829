"""Import jobs (issue 18): an API import that runs off the request, its progress and its end,
stored so that whichever process a client's poll reaches answers it, and a job whose process
stopped is said to have stopped. Same metadata as :mod:`models.tables`.
"""

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from models.tables import Base


class ImportJobRow(Base):
    """One import job. ``state`` queued / running / succeeded / failed; a succeeded job's row
    is written in the import's own transaction, so "succeeded" is stored exactly when the
    records are. ``beat_at`` is the running process's last sign of life."""

    __tablename__ = "import_jobs"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    owner: Mapped[str] = mapped_column(String(200), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    format: Mapped[str] = mapped_column(String(8))
    dry_run: Mapped[bool] = mapped_column(Boolean)
    state: Mapped[str] = mapped_column(String(16))
    stage: Mapped[str] = mapped_column(String(16))
    rows_checked: Mapped[int] = mapped_column(Integer, default=0)
    rows_stored: Mapped[int] = mapped_column(Integer, default=0)
    rows_estimate: Mapped[int] = mapped_column(Integer, default=0)
    runner: Mapped[str] = mapped_column(String(200))  # the process running it
    started_at: Mapped[datetime] = mapped_column(index=True)
    beat_at: Mapped[datetime] = mapped_column()
    finished_at: Mapped[datetime | None] = mapped_column(default=None)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    status: Mapped[int | None] = mapped_column(Integer, default=None)
    problem: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
