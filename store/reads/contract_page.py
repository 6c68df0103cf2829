"""What the contract page reads that no service gives: the audit entries about one contract,
whichever subject they name (the contract itself for imports and amendments, the workflow of
each of its terms for the renewal's actions), newest first."""

from collections.abc import Sequence
from datetime import UTC

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models.tables import AuditLogRow
from store.audit import AuditEntry

__all__ = ["contract_audit"]


def contract_audit(
    session: Session, *, subject_ids: Sequence[str], limit: int, offset: int
) -> tuple[list[AuditEntry], int]:
    """A page of the entries naming any of ``subject_ids``, newest first, and their count."""
    where = AuditLogRow.subject_id.in_(list(subject_ids))
    total = session.scalar(select(func.count()).select_from(AuditLogRow).where(where)) or 0
    rows = session.scalars(
        select(AuditLogRow).where(where).order_by(AuditLogRow.id.desc()).limit(limit).offset(offset)
    )
    return [
        AuditEntry(
            id=r.id,
            occurred_at=r.occurred_at
            if r.occurred_at.tzinfo
            else r.occurred_at.replace(tzinfo=UTC),
            actor=r.actor,
            action=r.action,
            subject_type=r.subject_type,
            subject_id=r.subject_id,
            content_hash=r.content_hash,
            detail=dict(r.detail),
        )
        for r in rows
    ], total
