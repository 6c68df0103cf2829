"""users.mail_delivery: immediate mails or the weekly digest only

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-03 09:45:00

Each person chooses how the renewal mails reach them (issue 17): ``immediate`` (the default,
every mail as it happens, and the weekly digest) or ``digest`` (the weekly digest only;
escalations still come at once). Existing accounts keep receiving mails as before.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "users",
        sa.Column("mail_delivery", sa.String(10), nullable=False, server_default="immediate"),
    )


def downgrade() -> None:
    op.drop_column("users", "mail_delivery")
