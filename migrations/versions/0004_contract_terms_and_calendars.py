"""term models, jurisdictions, time zones and notice transit buffers on contracts

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 12:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMN (with server defaults for existing rows), not a batch table rebuild:
    # SQLite cannot drop a table that deliveries, renewals and the rest refer to.
    op.add_column(
        "contracts",
        sa.Column("term_model", sa.String(length=20), server_default="fixed", nullable=False),
    )
    op.add_column("contracts", sa.Column("max_renewals", sa.Integer(), nullable=True))
    op.add_column(
        "contracts", sa.Column("renewals_used", sa.Integer(), server_default="0", nullable=False)
    )
    op.add_column(
        "contracts",
        sa.Column("review_period_months", sa.Integer(), server_default="12", nullable=False),
    )
    op.add_column(
        "contracts",
        sa.Column("jurisdiction", sa.String(length=12), server_default="JP", nullable=False),
    )
    op.add_column("contracts", sa.Column("time_zone", sa.String(length=64), nullable=True))
    op.add_column(
        "contracts",
        sa.Column("transit_buffer_days", sa.Integer(), server_default="3", nullable=False),
    )
    op.add_column("contracts", sa.Column("default_action", sa.String(length=20), nullable=True))
    # Contracts registered before term models existed: the auto-renewal flag said it all.
    op.execute("UPDATE contracts SET term_model = 'auto_renewing' WHERE auto_renewal")


def downgrade() -> None:
    # DROP COLUMN in place (SQLite 3.35+ and PostgreSQL), for the same reason as above.
    for column in (
        "default_action",
        "transit_buffer_days",
        "time_zone",
        "jurisdiction",
        "review_period_months",
        "renewals_used",
        "max_renewals",
        "term_model",
    ):
        op.execute(f"ALTER TABLE contracts DROP COLUMN {column}")
