"""the price adjustment cap and the additional clauses a contract was agreed on

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-08 10:00:00

A version made by a person may state the price adjustment's cap as a number and add clauses
(issue 15); when the supplier agrees on it, both become the contract's terms. Every contract
from before the upgrade has no cap (NULL) and no additional clauses ('[]').
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.tables

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMN (the server default fills existing rows), not a batch table rebuild:
    # SQLite cannot drop a table that deliveries, renewals and the rest refer to (as in 0004).
    op.add_column(
        "contracts",
        sa.Column(
            "price_adjustment_cap_pct",
            models.tables.ExactDecimal(precision=22, scale=4),
            nullable=True,
        ),
    )
    op.add_column(
        "contracts",
        sa.Column("additional_clauses", sa.JSON(), server_default="[]", nullable=False),
    )


def downgrade() -> None:
    # DROP COLUMN in place (SQLite 3.35+ and PostgreSQL), for the same reason as above.
    for column in ("additional_clauses", "price_adjustment_cap_pct"):
        op.execute(f"ALTER TABLE contracts DROP COLUMN {column}")
