"""performance records (tickets, price history, returns, delivery references), market
indicators, HTML renderings of drafts

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 12:00:05

The scorecard aggregates one contract over a date window, so deliveries get an index on
(contract_id, delivered_date) that also carries the aggregated columns: both databases answer
the scorecard from the index alone. It serves every lookup the old contract_id index served, so
that one is dropped to keep bulk imports fast.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.tables

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "market_indicators",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("category", sa.String(length=200), nullable=False),
        sa.Column("period", sa.Date(), nullable=False),
        sa.Column("price_index", models.tables.ExactDecimal(precision=22, scale=4), nullable=True),
        sa.Column("demand_index", models.tables.ExactDecimal(precision=22, scale=4), nullable=True),
        sa.Column("competitor_count", sa.Integer(), nullable=True),
        sa.Column("new_entrants", sa.Integer(), nullable=True),
        sa.Column("source", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_market_indicators")),
        sa.UniqueConstraint(
            "category", "period", name=op.f("uq_market_indicators_category_period")
        ),
    )
    op.create_table(
        "price_history",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("supplier_id", sa.String(length=64), nullable=False),
        sa.Column("contract_id", sa.String(length=64), nullable=False),
        sa.Column("effective_date", sa.Date(), nullable=False),
        sa.Column("unit_price", models.tables.ExactDecimal(precision=22, scale=4), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.ForeignKeyConstraint(
            ["contract_id"],
            ["contracts.id"],
            name=op.f("fk_price_history_contract_id_contracts"),
        ),
        sa.ForeignKeyConstraint(
            ["supplier_id"],
            ["suppliers.id"],
            name=op.f("fk_price_history_supplier_id_suppliers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_price_history")),
        sa.UniqueConstraint(
            "contract_id",
            "effective_date",
            name=op.f("uq_price_history_contract_id_effective_date"),
        ),
    )
    op.create_table(
        "service_tickets",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("supplier_id", sa.String(length=64), nullable=False),
        sa.Column("contract_id", sa.String(length=64), nullable=False),
        sa.Column("reference", sa.String(length=200), nullable=False),
        sa.Column("severity", sa.String(length=200), nullable=True),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("first_response_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("response_sla_minutes", sa.Integer(), nullable=False),
        sa.Column("resolution_sla_minutes", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["contract_id"],
            ["contracts.id"],
            name=op.f("fk_service_tickets_contract_id_contracts"),
        ),
        sa.ForeignKeyConstraint(
            ["supplier_id"],
            ["suppliers.id"],
            name=op.f("fk_service_tickets_supplier_id_suppliers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_service_tickets")),
        sa.UniqueConstraint(
            "contract_id", "reference", name=op.f("uq_service_tickets_contract_id_reference")
        ),
    )
    with op.batch_alter_table("service_tickets", schema=None) as batch_op:
        batch_op.create_index(
            "ix_service_tickets_contract_id_opened_at",
            ["contract_id", "opened_at"],
            unique=False,
        )

    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reference", sa.String(length=200), nullable=True))
        batch_op.add_column(
            sa.Column(
                "quantity_returned",
                models.tables.ExactDecimal(precision=22, scale=4),
                server_default="0",
                nullable=False,
            )
        )
        batch_op.drop_index(batch_op.f("ix_deliveries_contract_id"))
        batch_op.create_index(
            "ix_deliveries_scorecard",
            [
                "contract_id",
                "delivered_date",
                "promised_date",
                "quantity_ordered",
                "quantity_accepted",
                "quantity_returned",
                "defects",
            ],
            unique=False,
        )
        batch_op.create_index(
            "uq_deliveries_contract_id_reference", ["contract_id", "reference"], unique=True
        )

    with op.batch_alter_table("drafts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("body_html", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("drafts", schema=None) as batch_op:
        batch_op.drop_column("body_html")

    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_index("uq_deliveries_contract_id_reference")
        batch_op.drop_index("ix_deliveries_scorecard")
        batch_op.create_index(
            batch_op.f("ix_deliveries_contract_id"), ["contract_id"], unique=False
        )
        batch_op.drop_column("quantity_returned")
        batch_op.drop_column("reference")

    with op.batch_alter_table("service_tickets", schema=None) as batch_op:
        batch_op.drop_index("ix_service_tickets_contract_id_opened_at")

    op.drop_table("service_tickets")
    op.drop_table("price_history")
    op.drop_table("market_indicators")
