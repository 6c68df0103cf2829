"""service accounts, and a change counter on every account

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05 10:00:00

``kind`` says whether an account is a person's (``person``) or an integration's
(``service``): an administrator may issue API tokens for service accounts and for nobody
else, and a service account never holds a role that approves. Every account from before the
upgrade is a person's.

``revision`` counts the changes made to an account (roles, deactivation, tokens issued and
revoked); each change's audit entry and its mail to the legal lead are keyed by the account
and that number, so a retried change lands once. Accounts start at 0.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(
            sa.Column("kind", sa.String(length=20), server_default="person", nullable=False)
        )
        batch.add_column(sa.Column("revision", sa.Integer(), server_default="0", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("revision")
        batch.drop_column("kind")
