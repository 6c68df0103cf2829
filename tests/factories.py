"""Builders for test data: a valid contract, with any field overridden."""

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from models.contract import ContractCreate, SupplierCreate
from models.tables import DeliveryRow, SupplierRow
from store import contracts as contract_store


def contract_data(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": "C-1001",
        "title": "Packaging materials",
        "supplier_id": "S-1",
        "owner": "procurement@example.com",
        "start_date": date(2026, 1, 1),
        "end_date": date(2027, 12, 31),
        "notice_period_days": 30,
        "renewal_term_months": 12,
        "currency": "JPY",
        "annual_value": Decimal("12000000"),
        "terms": {
            "unit_price": Decimal("1250.50"),
            "annual_volume": Decimal("9600"),
            "exclusivity": True,
            "payment_terms": "Net 60",
        },
        "language": "en",
    }
    data.update(overrides)
    return data


def make_contract(**overrides: Any) -> ContractCreate:
    return ContractCreate.model_validate(contract_data(**overrides))


def register(session: Session, **overrides: Any) -> ContractCreate:
    contract = make_contract(**overrides)
    if session.get(SupplierRow, contract.supplier_id) is None:
        contract_store.upsert_supplier(
            session, supplier=SupplierCreate(id=contract.supplier_id, name="Tokyo Packaging K.K.")
        )
    contract_store.create_contract(session, contract=contract)
    return contract


def add_deliveries(
    session: Session,
    *,
    contract_id: str,
    supplier_id: str,
    end: date,
    count: int,
    late_every: int = 0,
) -> None:
    """``count`` deliveries over the months before ``end``; every ``late_every``-th one is late."""
    for i in range(count):
        delivered = end - timedelta(days=7 * (i + 1))
        promised = (
            delivered if not (late_every and i % late_every == 0) else delivered - timedelta(days=2)
        )
        session.add(
            DeliveryRow(
                supplier_id=supplier_id,
                contract_id=contract_id,
                order_date=delivered - timedelta(days=14),
                promised_date=promised,
                delivered_date=delivered,
                quantity_ordered=Decimal(100),
                quantity_accepted=Decimal(98),
                defects=2,
            )
        )
    session.flush()
