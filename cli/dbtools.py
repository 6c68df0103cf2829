"""The few queries the CLI needs that activities/contract_store.py does not offer (yet).

This is the only module in cli/ that touches the tables; everything else goes through the
service functions. Candidates to move into activities/ as service functions.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models.tables import ContractRow, DeliveryRow, SupplierRow

_CHUNK = 500  # ids per IN (...) query: well under SQLite's bound-parameter limit


def supplier_names(session: Session) -> dict[str, str]:
    rows = session.execute(select(SupplierRow.id, SupplierRow.name))
    return {supplier_id: name for supplier_id, name in rows}


def count_contracts(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(ContractRow)) or 0


@dataclass(frozen=True, slots=True)
class Delivery:
    contract_id: str
    supplier_id: str
    order_date: date
    promised_date: date
    delivered_date: date
    quantity_ordered: Decimal
    quantity_accepted: Decimal
    defects: int = 0


def add_deliveries(session: Session, deliveries: Sequence[Delivery]) -> int:
    session.add_all(
        DeliveryRow(
            supplier_id=d.supplier_id,
            contract_id=d.contract_id,
            order_date=d.order_date,
            promised_date=d.promised_date,
            delivered_date=d.delivered_date,
            quantity_ordered=d.quantity_ordered,
            quantity_accepted=d.quantity_accepted,
            defects=d.defects,
        )
        for d in deliveries
    )
    session.flush()
    return len(deliveries)
