"""indexes the dashboard and exposure read alone: contracts by status and end date, totals

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02 06:40:00

With 100,000 contracts (issue 16) the dashboard counts contracts by status and those ending
within 30 / 90 / 180 days, and exposure sums their annual values per currency, from
``ix_contracts_status_end_date`` (status, end date, currency, annual value) without reading the
table; the dashboard reads each scorecard's total from ``ix_scorecards_renewal_id_total``
without its body (on SQLite the scorecards' rows are kilobytes each).
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_contracts_status_end_date",
        "contracts",
        ["status", "end_date", "currency", "annual_value"],
        unique=False,
    )
    op.create_index(
        "ix_scorecards_renewal_id_total", "scorecards", ["renewal_id", "total"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_scorecards_renewal_id_total", table_name="scorecards")
    op.drop_index("ix_contracts_status_end_date", table_name="contracts")
