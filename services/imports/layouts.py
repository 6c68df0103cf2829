"""The columns of each kind of file, taken from its model.

Columns are the model's fields, in the order the example files use; a nested model's fields
(the commercial terms of a contract) become plain columns, and yes/no fields are noted so a
spreadsheet's TRUE/FALSE reads as the model expects.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from pydantic import BaseModel

from models.contract import ContractCreate, SupplierCreate
from models.imports import ImportKind
from models.market import MarketIndicatorCreate
from models.performance import DeliveryCreate, PriceObservation, ServiceTicketCreate


@dataclass(frozen=True, slots=True)
class Layout:
    """The columns of one kind of file, taken from its model."""

    kind: str  # "contract", "supplier", ...: used in messages
    columns: tuple[str, ...]  # in the order the example files use
    required: frozenset[str]
    model: type[BaseModel] = BaseModel
    nested: Mapping[str, str] = field(default_factory=dict)  # column -> parent object
    booleans: frozenset[str] = frozenset()  # yes/no columns: TRUE/FALSE from Excel accepted

    @property
    def parents(self) -> frozenset[str]:
        return frozenset(self.nested.values())


def model_layout(kind: str, model: type[BaseModel], order: Sequence[str] = ()) -> Layout:
    """Columns from the model's fields; a nested model's fields become plain columns."""
    columns: list[str] = []
    required: set[str] = set()
    nested: dict[str, str] = {}
    booleans: set[str] = set()
    for name, info in model.model_fields.items():
        annotation = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            for sub_name, sub_info in annotation.model_fields.items():
                columns.append(sub_name)
                nested[sub_name] = name
                if sub_info.is_required() and info.is_required():
                    required.add(sub_name)
                if sub_info.annotation is bool:
                    booleans.add(sub_name)
            continue
        columns.append(name)
        if info.is_required():
            required.add(name)
        if annotation is bool:
            booleans.add(name)
    first = [c for c in order if c in columns]
    return Layout(
        kind=kind,
        columns=(*first, *(c for c in columns if c not in first)),
        required=frozenset(required),
        model=model,
        nested=nested,
        booleans=frozenset(booleans),
    )


# The contract columns in the order the example files use; fields the model gains later (term
# model, jurisdiction, ...) are accepted too, after these.
_CONTRACT_ORDER = (
    "id",
    "title",
    "supplier_id",
    "owner",
    "start_date",
    "end_date",
    "auto_renewal",
    "notice_period_days",
    "renewal_term_months",
    "currency",
    "annual_value",
    "unit_price",
    "annual_volume",
    "exclusivity",
    "payment_terms",
    "price_adjustment",
    "service_levels",
    "language",
)

LAYOUTS: dict[ImportKind, Layout] = {
    ImportKind.SUPPLIERS: model_layout(
        "supplier", SupplierCreate, ("id", "name", "category", "country")
    ),
    ImportKind.CONTRACTS: model_layout("contract", ContractCreate, _CONTRACT_ORDER),
    ImportKind.DELIVERIES: model_layout("delivery", DeliveryCreate),
    ImportKind.SERVICE_TICKETS: model_layout("service ticket", ServiceTicketCreate),
    ImportKind.PRICE_HISTORY: model_layout("price", PriceObservation),
    ImportKind.MARKET_INDICATORS: model_layout("market indicator", MarketIndicatorCreate),
}
CONTRACT_LAYOUT = LAYOUTS[ImportKind.CONTRACTS]
SUPPLIER_LAYOUT = LAYOUTS[ImportKind.SUPPLIERS]
TERM_COLUMNS = tuple(c for c, parent in CONTRACT_LAYOUT.nested.items() if parent == "terms")


__all__ = [
    "CONTRACT_LAYOUT",
    "LAYOUTS",
    "SUPPLIER_LAYOUT",
    "TERM_COLUMNS",
    "Layout",
    "model_layout",
]
