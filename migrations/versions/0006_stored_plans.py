"""stored term plans: the running workflow's dates and milestone states, for every view

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 19:00:00

Renewals already running get their rows on their next plan (an amendment) or from
`renewals plans backfill [--contract ID ...]` (cli/stored_plan_commands.py,
services.plans.backfill), run once the new workers are up: it asks each running workflow for its
live status and stores its plan and milestone states, keyed by (contract, term) and (contract,
term, milestone), so a rerun changes nothing; each plan it writes is audited for the person
running it. Until then the views show those terms as previews.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "term_plans",
        sa.Column("contract_id", sa.String(length=64), nullable=False),
        sa.Column("term", sa.Integer(), nullable=False),
        sa.Column("workflow_id", sa.String(length=200), nullable=False),
        sa.Column("end_date", sa.Date(), nullable=False),
        sa.Column("notice_deadline", sa.Date(), nullable=False),
        sa.Column("notice_provenance", sa.JSON(), nullable=False),
        sa.Column("send_by", sa.Date(), nullable=True),
        sa.Column("send_by_provenance", sa.JSON(), nullable=False),
        sa.Column("time_zone", sa.String(length=64), nullable=False),
        sa.Column("term_model", sa.String(length=20), nullable=False),
        sa.Column("default_action", sa.String(length=20), nullable=True),
        sa.Column("planned_on", sa.Date(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["contract_id"], ["contracts.id"], name=op.f("fk_term_plans_contract_id_contracts")
        ),
        sa.PrimaryKeyConstraint("contract_id", "term", name=op.f("pk_term_plans")),
    )
    op.create_index(
        op.f("ix_term_plans_notice_deadline"), "term_plans", ["notice_deadline"], unique=False
    )
    op.create_index(op.f("ix_term_plans_send_by"), "term_plans", ["send_by"], unique=False)
    op.create_table(
        "plan_milestones",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("contract_id", sa.String(length=64), nullable=False),
        sa.Column("term", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("due", sa.Date(), nullable=False),
        sa.Column("nominal", sa.Date(), nullable=False),
        sa.Column("fires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("late", sa.Boolean(), nullable=False),
        sa.Column("moved_for_notice", sa.Boolean(), nullable=False),
        sa.Column("provenance", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["contract_id"],
            ["contracts.id"],
            name=op.f("fk_plan_milestones_contract_id_contracts"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plan_milestones")),
        sa.UniqueConstraint(
            "contract_id", "term", "kind", name=op.f("uq_plan_milestones_contract_id_term_kind")
        ),
    )
    op.create_index(
        op.f("ix_plan_milestones_contract_id"), "plan_milestones", ["contract_id"], unique=False
    )
    op.create_index(op.f("ix_plan_milestones_due"), "plan_milestones", ["due"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_plan_milestones_due"), table_name="plan_milestones")
    op.drop_index(op.f("ix_plan_milestones_contract_id"), table_name="plan_milestones")
    op.drop_table("plan_milestones")
    op.drop_index(op.f("ix_term_plans_send_by"), table_name="term_plans")
    op.drop_index(op.f("ix_term_plans_notice_deadline"), table_name="term_plans")
    op.drop_table("term_plans")
