"""teams of users, and the team a contract may have (the ownership of contracts)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 10:00:00

A contract's owner is a user (the account named by the owner's address); it may also name a
team, whose members act on it as its owner does. Every contract from before the upgrade has no
team, so only its owner (and a procurement lead) may change it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "teams",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_teams")),
    )
    op.create_table(
        "team_members",
        sa.Column("team", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column(
            "added_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.ForeignKeyConstraint(["team"], ["teams.name"], name=op.f("fk_team_members_team_teams")),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_team_members_user_id_users")
        ),
        sa.PrimaryKeyConstraint("team", "user_id", name=op.f("pk_team_members")),
    )
    op.create_index(op.f("ix_team_members_user_id"), "team_members", ["user_id"], unique=False)
    # A plain ADD COLUMN, not a batch rebuild: SQLite cannot drop a table that deliveries,
    # renewals and the rest refer to (as in 0004). SQLite takes the reference inline.
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE contracts ADD COLUMN team VARCHAR(64) REFERENCES teams (name)")
    else:
        op.add_column("contracts", sa.Column("team", sa.String(length=64), nullable=True))
        op.create_foreign_key(
            op.f("fk_contracts_team_teams"), "contracts", "teams", ["team"], ["name"]
        )
    op.create_index(op.f("ix_contracts_team"), "contracts", ["team"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_contracts_team"), table_name="contracts")
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE contracts DROP COLUMN team")  # in place, SQLite 3.35+
    else:
        op.drop_constraint(op.f("fk_contracts_team_teams"), "contracts", type_="foreignkey")
        op.drop_column("contracts", "team")
    op.drop_index(op.f("ix_team_members_user_id"), table_name="team_members")
    op.drop_table("team_members")
    op.drop_table("teams")
