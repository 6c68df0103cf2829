"""a person's language, and revocable calendar feed tokens

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-09 10:00:00

The web workspace (issue 16) shows every page in the person's language: ``users.language``
holds their choice (NULL: the browser's Accept-Language decides). A person may subscribe to a
calendar of their own milestones with a read-only link; ``calendar_feed_tokens`` keeps the
SHA-256 of each link's secret so that it can be revoked.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("users", sa.Column("language", sa.String(length=2), nullable=True))
    op.create_table(
        "calendar_feed_tokens",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_index(
        op.f("ix_calendar_feed_tokens_user_id"), "calendar_feed_tokens", ["user_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_calendar_feed_tokens_user_id"), table_name="calendar_feed_tokens")
    op.drop_table("calendar_feed_tokens")
    op.drop_column("users", "language")
