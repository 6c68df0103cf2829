"""the sign-in throttle: one counter row per user name and client address

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 10:00:00

Failed sign-ins used to be counted from the audit trail, one entry per failure: concurrent
guesses all read the same count before any was written, an outsider could keep anyone locked
out, and the trail grew with every guess. They are now counted in one row per (name, client
address), claimed atomically before the password is checked; the trail gets one entry per
lockout. Counts from before the upgrade are not carried over (they lived in a window of
minutes).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sign_in_throttle",
        sa.Column("username", sa.String(length=200), nullable=False),
        sa.Column("client", sa.String(length=64), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lockouts", sa.Integer(), nullable=False),
        sa.Column("lockout_audited", sa.Boolean(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("username", "client", name=op.f("pk_sign_in_throttle")),
    )
    op.create_index(
        op.f("ix_sign_in_throttle_expires_at"), "sign_in_throttle", ["expires_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_sign_in_throttle_expires_at"), table_name="sign_in_throttle")
    op.drop_table("sign_in_throttle")
