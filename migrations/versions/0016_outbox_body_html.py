"""outbox.body_html: the HTML part of a mail

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03 09:40:00

Every renewal mail now has a text and an HTML part rendered from the same templates (issue 17).
The HTML is stored with the text, so a retried activity sends the same two parts. NULL for rows
written before (and for mails other code writes as text only): those are sent as text alone.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("outbox", sa.Column("body_html", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("outbox", "body_html")
