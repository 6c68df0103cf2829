"""import_jobs: API import jobs stored, not kept in one process's memory

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-04 21:10:00

An import sent to the API as a job (202 Accepted) was remembered by the process that ran it:
with several API processes a poll reaching another one answered 404, and a restart forgot
every job, so a client could not tell a lost import from an unknown one. The job's progress and
end are now rows; a succeeded job's row is written in the import's own transaction.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "import_jobs",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("owner", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("format", sa.String(length=8), nullable=False),
        sa.Column("dry_run", sa.Boolean(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("stage", sa.String(length=16), nullable=False),
        sa.Column("rows_checked", sa.Integer(), nullable=False),
        sa.Column("rows_stored", sa.Integer(), nullable=False),
        sa.Column("rows_estimate", sa.Integer(), nullable=False),
        sa.Column("runner", sa.String(length=200), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("beat_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("status", sa.Integer(), nullable=True),
        sa.Column("problem", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_jobs")),
    )
    op.create_index(op.f("ix_import_jobs_owner"), "import_jobs", ["owner"], unique=False)
    op.create_index(op.f("ix_import_jobs_started_at"), "import_jobs", ["started_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_import_jobs_started_at"), table_name="import_jobs")
    op.drop_index(op.f("ix_import_jobs_owner"), table_name="import_jobs")
    op.drop_table("import_jobs")
