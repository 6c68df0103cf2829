"""follow-up reviews during a term (issue 17): reviews, their issues and actions, and the
contract's own review interval

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02 20:00:00

``followups`` holds one row per contract, term and sequence (the workflow opens it when it is
due; a person records it); ``followup_actions`` the open issues and actions each with owner, due
date and state (escalated once, when overdue); ``contract_followup_settings`` the contract's
own interval in months (none: the setting ``FOLLOWUP_INTERVAL_MONTHS``).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "contract_followup_settings",
        sa.Column("contract_id", sa.String(64), nullable=False),
        sa.Column("interval_months", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["contract_id"],
            ["contracts.id"],
            name="fk_contract_followup_settings_contract_id_contracts",
        ),
        sa.PrimaryKeyConstraint("contract_id", name="pk_contract_followup_settings"),
    )
    op.create_table(
        "followups",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("contract_id", sa.String(64), nullable=False),
        sa.Column("term", sa.Integer(), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("due", sa.Date(), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reminded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("recorded_by", sa.String(200), nullable=True),
        sa.Column("scorecard", sa.JSON(), nullable=True),
        sa.Column("feedback", sa.Text(), nullable=False, server_default=""),
        sa.Column("csat", sa.Integer(), nullable=True),
        sa.Column("nps", sa.Integer(), nullable=True),
        sa.Column("supplier_continue", sa.String(20), nullable=True),
        sa.Column("supplier_continue_on", sa.Text(), nullable=False, server_default=""),
        sa.ForeignKeyConstraint(
            ["contract_id"], ["contracts.id"], name="fk_followups_contract_id_contracts"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_followups"),
        sa.UniqueConstraint(
            "contract_id", "term", "sequence", name="uq_followups_contract_id_term_sequence"
        ),
    )
    op.create_index("ix_followups_contract_id", "followups", ["contract_id"], unique=False)
    op.create_table(
        "followup_actions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("followup_id", sa.Integer(), nullable=False),
        sa.Column("contract_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("owner", sa.String(200), nullable=False),
        sa.Column("due", sa.Date(), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("escalated_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["followup_id"], ["followups.id"], name="fk_followup_actions_followup_id_followups"
        ),
        sa.ForeignKeyConstraint(
            ["contract_id"], ["contracts.id"], name="fk_followup_actions_contract_id_contracts"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_followup_actions"),
    )
    op.create_index(
        "ix_followup_actions_followup_id", "followup_actions", ["followup_id"], unique=False
    )
    op.create_index(
        "ix_followup_actions_contract_id", "followup_actions", ["contract_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_followup_actions_contract_id", table_name="followup_actions")
    op.drop_index("ix_followup_actions_followup_id", table_name="followup_actions")
    op.drop_table("followup_actions")
    op.drop_index("ix_followups_contract_id", table_name="followups")
    op.drop_table("followups")
    op.drop_table("contract_followup_settings")
