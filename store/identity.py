"""Identity assertions already spent: one row per nonce, so a signed decision counts once."""

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.account_tables import SpentAssertionRow
from store.db import insert_if_absent

__all__ = ["spend_assertion"]


def spend_assertion(
    session: Session,
    *,
    nonce: str,
    workflow_id: str,
    update_id: str,
    username: str,
    action: str,
    now: datetime,
) -> bool:
    """Record ``nonce`` as spent by this update; False when another update spent it first (a
    replay). The same update asking again (a retried activity) is not a replay."""
    inserted = insert_if_absent(
        session,
        SpentAssertionRow,
        {
            "nonce": nonce,
            "workflow_id": workflow_id,
            "update_id": update_id,
            "username": username,
            "action": action,
            "spent_at": now,
        },
        key="nonce",
    )
    if inserted:
        return True
    spent_by = session.scalar(
        select(SpentAssertionRow.update_id).where(SpentAssertionRow.nonce == nonce)
    )
    return spent_by == update_id
