"""identity assertions already spent, so that a signed decision cannot be replayed

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 10:00:00

Every decision that reaches a renewal workflow carries an assertion signed by the API, web app
or CLI; the worker checks it before the decision counts and keeps its nonce here.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "spent_assertions",
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("workflow_id", sa.String(length=200), nullable=False),
        sa.Column("update_id", sa.String(length=200), nullable=False),
        sa.Column("username", sa.String(length=120), nullable=False),
        sa.Column("action", sa.String(length=60), nullable=False),
        sa.Column("spent_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("nonce", name=op.f("pk_spent_assertions")),
    )
    op.create_index(
        op.f("ix_spent_assertions_spent_at"), "spent_assertions", ["spent_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_spent_assertions_spent_at"), table_name="spent_assertions")
    op.drop_table("spent_assertions")
