"""drafts by renewal, version, kind and creation: legal's queue from the index alone

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-03 14:45:00

The review queue finds each open renewal's newest version ("no newer version of the same
renewal") and orders by when it was made. On SQLite ``drafts.created_at`` sits after the draft's
body (~3.5 KB), so reading it for 3,600 candidates walked overflow pages; with these four
columns in one index the queue's main query reads no draft row (36 to 18 ms p50 with 100,000
contracts and 9,000 drafts). PostgreSQL keeps its plan through ``ix_drafts_renewal_id``.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_drafts_renewal_id_version_kind_created_at",
        "drafts",
        ["renewal_id", "version", "kind", "created_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_drafts_renewal_id_version_kind_created_at", table_name="drafts")
