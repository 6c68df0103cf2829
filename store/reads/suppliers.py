"""Suppliers, as people read them."""

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models.contract import SupplierRead
from models.errors import NotFound
from models.tables import SupplierRow

__all__ = ["get_supplier", "list_suppliers"]


def list_suppliers(
    session: Session, *, limit: int = 50, offset: int = 0
) -> tuple[list[SupplierRead], int]:
    total = session.scalar(select(func.count()).select_from(SupplierRow)) or 0
    rows = session.scalars(select(SupplierRow).order_by(SupplierRow.id).limit(limit).offset(offset))
    return [SupplierRead.model_validate(r) for r in rows], total


def get_supplier(session: Session, *, supplier_id: str) -> SupplierRead:
    row = session.get(SupplierRow, supplier_id)
    if row is None:
        raise NotFound(f"supplier {supplier_id!r} does not exist")
    return SupplierRead.model_validate(row)
