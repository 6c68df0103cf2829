"""The database side of imports and exports: the checks only stored records can answer (an id
already registered, an unknown supplier or contract, a delivery note or ticket imported before)
and the writes, a batch at a time.

Suppliers are inserted or updated; contracts are registered (an id already registered is an
error); deliveries and tickets are inserted; prices and market indicators are time series, so
a row for a date or period already stored updates it (market rows update only the indicators
they give), and :class:`Stored` counts the updates. :func:`read` gives the stored records
back for an export. Reading and checking the file itself is :mod:`services.imports`.
"""

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import insert, select, tuple_
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from models.contract import SupplierCreate
from models.errors import DuplicateContract, FieldError, InvalidInput
from models.imports import ImportKind, Valid
from models.market import MarketIndicatorCreate
from models.performance import PriceObservation
from models.tables import (
    ContractRow,
    DeliveryRow,
    MarketIndicatorRow,
    PriceHistoryRow,
    ServiceTicketRow,
    SupplierRow,
)
from models.team_tables import TeamRow
from store.contracts import CONTRACT_COLUMNS, contract_tuple, insert_contracts, to_read
from store.db import violation

BATCH = 500  # rows per IN (...) query and per insert
CONTRACT_BATCH = 1000  # contracts per multi-row INSERT (the driver splits it further)
ALREADY_STORED = "{reference!r} is already stored for contract {contract!r} (imported before?)"


# ---------------------------------------------------------------------------- database checks


def _chunks(items: Sequence[Any], size: int = BATCH) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _existing(session: Session, column: Any, values: Iterable[Any]) -> set[Any]:
    found: set[Any] = set()
    for chunk in _chunks(sorted(set(values))):
        found.update(session.scalars(select(column).where(column.in_(chunk))))
    return found


def _existing_pairs(session: Session, a: Any, b: Any, pairs: Iterable[tuple[Any, Any]]) -> set[Any]:
    found: set[Any] = set()
    for chunk in _chunks(sorted(set(pairs))):
        found.update(
            (x, y) for x, y in session.execute(select(a, b).where(tuple_(a, b).in_(chunk))).all()
        )
    return found


@dataclass(slots=True)
class Check:
    """Problems only the database (or the clock) can see, for the rows valid so far."""

    session: Session
    file: str | None
    now: datetime
    errors: list[FieldError] = field(default_factory=list)
    bad: set[int] = field(default_factory=set)

    def error(self, row: int, name: str, reason: str) -> None:
        self.errors.append(FieldError(name, reason, row=row, file=self.file))
        self.bad.add(row)

    def contracts(self, valid: Sequence[Valid[Any]]) -> None:
        taken = _existing(self.session, ContractRow.id, (v.value.id for v in valid))
        suppliers = _existing(self.session, SupplierRow.id, (v.value.supplier_id for v in valid))
        teams = _existing(self.session, TeamRow.name, (v.value.team for v in valid if v.value.team))
        for v in valid:
            if v.value.id in taken:
                self.error(v.row, "id", f"contract {v.value.id!r} already exists")
            if v.value.supplier_id not in suppliers:
                self.error(
                    v.row,
                    "supplier_id",
                    f"unknown supplier {v.value.supplier_id!r} (import suppliers first)",
                )
            if v.value.team is not None and v.value.team not in teams:
                self.error(v.row, "team", f"unknown team {v.value.team!r} (create it first)")

    def parties(self, valid: Sequence[Valid[Any]]) -> dict[str, tuple[str, str]]:
        """Each row's supplier and contract exist, and the contract is with that supplier.
        Returns {contract id: (supplier id, currency)}."""
        suppliers = _existing(self.session, SupplierRow.id, (v.value.supplier_id for v in valid))
        contracts: dict[str, tuple[str, str]] = {}
        for chunk in _chunks(sorted({v.value.contract_id for v in valid})):
            query = select(ContractRow.id, ContractRow.supplier_id, ContractRow.currency)
            for contract_id, supplier_id, currency in self.session.execute(
                query.where(ContractRow.id.in_(chunk))
            ):
                contracts[contract_id] = (supplier_id, currency)
        for v in valid:
            supplier_id, contract_id = v.value.supplier_id, v.value.contract_id
            known_supplier = supplier_id in suppliers
            if not known_supplier:
                self.error(v.row, "supplier_id", f"unknown supplier {supplier_id!r}")
            contract = contracts.get(contract_id)
            if contract is None:
                self.error(v.row, "contract_id", f"unknown contract {contract_id!r}")
            elif known_supplier and contract[0] != supplier_id:
                self.error(
                    v.row,
                    "contract_id",
                    f"contract {contract_id!r} is with supplier {contract[0]!r}, "
                    f"not {supplier_id!r}",
                )
        return contracts

    def not_future(self, row: int, name: str, value: date | datetime | None) -> None:
        if value is None:
            return
        late = value > self.now if isinstance(value, datetime) else value > self.now.date()
        if late:
            self.error(row, name, f"{value.isoformat()} is in the future")

    def new_references(
        self, valid: Sequence[Valid[Any]], table: type[DeliveryRow] | type[ServiceTicketRow]
    ) -> None:
        keyed = [
            (v.row, (v.value.contract_id, v.value.reference))
            for v in valid
            if v.value.reference and v.row not in self.bad
        ]
        stored = _existing_pairs(
            self.session, table.contract_id, table.reference, (k for _, k in keyed)
        )
        for row, (contract_id, reference) in keyed:
            if (contract_id, reference) in stored:
                reason = ALREADY_STORED.format(reference=reference, contract=contract_id)
                self.error(row, "reference", reason)


def database_checks(check: Check, kind: ImportKind, valid: Sequence[Valid[Any]]) -> None:
    """The checks of ``kind`` for rows valid so far; problems are collected in ``check``."""
    if kind is ImportKind.CONTRACTS:
        check.contracts(valid)
    elif kind is ImportKind.DELIVERIES:
        check.parties(valid)
        for v in valid:
            check.not_future(v.row, "delivered_date", v.value.delivered_date)
        check.new_references(valid, DeliveryRow)
    elif kind is ImportKind.SERVICE_TICKETS:
        check.parties(valid)
        for v in valid:
            for name in ("opened_at", "first_response_at", "resolved_at"):
                check.not_future(v.row, name, getattr(v.value, name))
        check.new_references(valid, ServiceTicketRow)
    elif kind is ImportKind.PRICE_HISTORY:
        contracts = check.parties(valid)
        for v in valid:
            contract = contracts.get(v.value.contract_id)
            if v.row not in check.bad and contract and contract[1] != v.value.currency:
                check.error(
                    v.row,
                    "currency",
                    f"{v.value.currency} differs from the contract's currency {contract[1]}",
                )


# ---------------------------------------------------------------------------- storing


@dataclass(slots=True)
class Stored:
    inserted: int = 0
    updated: int = 0
    warnings: list[str] = field(default_factory=list)


def _store_suppliers(session: Session, valid: Sequence[Valid[SupplierCreate]]) -> Stored:
    out = Stored()
    existing = {
        r.id: r
        for chunk in _chunks([v.value.id for v in valid])
        for r in session.scalars(select(SupplierRow).where(SupplierRow.id.in_(chunk)))
    }
    for item in valid:
        v = item.value
        row = existing.get(v.id)
        if row is None:
            session.add(SupplierRow(id=v.id, name=v.name, category=v.category, country=v.country))
            out.inserted += 1
        else:
            row.name, row.category, row.country = v.name, v.category, v.country
            out.updated += 1
    return out


def store_contracts(
    session: Session,
    rows: Sequence[tuple[int, tuple[Any, ...]]],
    advance: Callable[[int], None],
    *,
    file: str | None = None,
) -> Stored:
    """Register checked contracts, ``rows`` of (the file's row, its :func:`contract_tuple`),
    CONTRACT_BATCH at a time in multi-row INSERTs. A constraint broken since the checks looked
    (an id registered or a supplier removed meanwhile) raises InvalidInput naming the rows."""
    for batch in _chunks(rows, CONTRACT_BATCH):
        try:
            insert_contracts(session, [values for _, values in batch])
        except IntegrityError as exc:
            raise InvalidInput(_raced(session, exc, batch, file)) from None
        advance(len(batch))
    return Stored(inserted=len(rows))


def _raced(
    session: Session,
    exc: IntegrityError,
    batch: Sequence[tuple[int, tuple[Any, ...]]],
    file: str | None,
) -> list[FieldError]:
    """The rows of ``batch`` a concurrent change made wrong, read on a connection of its own
    (the import's transaction has failed; what changed is committed)."""
    row_of = {values[0]: row for row, values in batch}
    supplier = CONTRACT_COLUMNS.index("supplier_id")
    errors: list[FieldError] = []
    with session.get_bind().engine.connect() as conn:
        taken = set(conn.scalars(select(ContractRow.id).where(ContractRow.id.in_(row_of))))
        wanted = {values[supplier] for _, values in batch}
        known = set(conn.scalars(select(SupplierRow.id).where(SupplierRow.id.in_(wanted))))
    for row, values in batch:
        if values[0] in taken:
            errors.append(DuplicateContract(values[0], row=row).error)
        if values[supplier] not in known:
            reason = f"supplier {values[supplier]!r} was removed while the contract was stored"
            errors.append(FieldError("supplier_id", reason, row=row))
    if not errors:  # a team removed meanwhile, or what the database alone knows
        first, last = batch[0][0], batch[-1][0]
        reason = f"the database refused rows {first}-{last}: {violation(exc)} ({exc.orig})"
        errors.append(FieldError("(row)", reason, row=first))
    return [FieldError(e.field, e.reason, row=e.row, file=file) for e in errors]


def _store_events(
    session: Session, table: type[DeliveryRow] | type[ServiceTicketRow], valid: Sequence[Valid[Any]]
) -> Stored:
    for batch in _chunks(valid):
        session.execute(insert(table), [v.value.model_dump() for v in batch])
    return Stored(inserted=len(valid))


def _store_prices(session: Session, valid: Sequence[Valid[PriceObservation]]) -> Stored:
    out = Stored()
    for item in valid:
        price = item.value
        existing = session.scalar(
            select(PriceHistoryRow).where(
                PriceHistoryRow.contract_id == price.contract_id,
                PriceHistoryRow.effective_date == price.effective_date,
            )
        )
        if existing is None:
            session.add(PriceHistoryRow(**price.model_dump()))
            out.inserted += 1
        else:
            existing.unit_price = price.unit_price
            existing.currency = price.currency
            out.updated += 1
    return out


_INDICATORS = ("price_index", "demand_index", "competitor_count", "new_entrants")


def _store_market(session: Session, valid: Sequence[Valid[MarketIndicatorCreate]]) -> Stored:
    """A row for a period already stored updates the indicators the row gives and keeps the
    others, so separate files may carry separate series (a monthly price index, a yearly
    competitor survey)."""
    out = Stored()
    known = set(session.scalars(select(SupplierRow.category).distinct()))
    for category in sorted({v.value.category for v in valid} - known):
        out.warnings.append(
            f"no supplier is in category {category!r}: its rows are stored, but no "
            "scorecard uses them until a supplier has that category"
        )
    for item in valid:
        m = item.value
        existing = session.scalar(
            select(MarketIndicatorRow).where(
                MarketIndicatorRow.category == m.category, MarketIndicatorRow.period == m.period
            )
        )
        if existing is None:
            session.add(MarketIndicatorRow(**m.model_dump()))
            out.inserted += 1
            continue
        for indicator in _INDICATORS:
            value = getattr(m, indicator)
            if value is not None:
                setattr(existing, indicator, value)
        if m.source:
            existing.source = m.source
        out.updated += 1
    return out


def write(
    session: Session,
    kind: ImportKind,
    valid: Sequence[Valid[Any]],
    advance: Callable[[int], None],
) -> Stored:
    """Store the checked rows of ``kind``; ``advance(n)`` as rows are written."""
    if kind is ImportKind.SUPPLIERS:
        out = _store_suppliers(session, valid)
    elif kind is ImportKind.CONTRACTS:
        rows = [(v.row, contract_tuple(v.value)) for v in valid]
        return store_contracts(session, rows, advance)
    elif kind is ImportKind.DELIVERIES:
        out = _store_events(session, DeliveryRow, valid)
    elif kind is ImportKind.SERVICE_TICKETS:
        out = _store_events(session, ServiceTicketRow, valid)
    elif kind is ImportKind.PRICE_HISTORY:
        out = _store_prices(session, valid)
    else:
        out = _store_market(session, valid)
    session.flush()
    advance(len(valid))
    return out


# ---------------------------------------------------------------------------- export


def read(session: Session, kind: ImportKind, columns: Sequence[str]) -> Iterator[dict[str, Any]]:
    """The stored records of ``kind`` in id order, for an export: a supplier's fields, a
    contract with its terms as plain columns, and the ``columns`` of the other tables."""
    if kind is ImportKind.SUPPLIERS:
        for s in session.scalars(select(SupplierRow).order_by(SupplierRow.id)):
            yield {"id": s.id, "name": s.name, "category": s.category, "country": s.country}
    elif kind is ImportKind.CONTRACTS:
        for c in session.scalars(select(ContractRow).order_by(ContractRow.id)):
            fields = to_read(c).model_dump(mode="python")
            terms = fields.pop("terms")
            yield {**fields, **terms}
    else:
        table: Any = {
            ImportKind.DELIVERIES: DeliveryRow,
            ImportKind.SERVICE_TICKETS: ServiceTicketRow,
            ImportKind.PRICE_HISTORY: PriceHistoryRow,
            ImportKind.MARKET_INDICATORS: MarketIndicatorRow,
        }[kind]
        for r in session.scalars(select(table).order_by(table.id)).yield_per(1000):
            yield {c: getattr(r, c) for c in columns}


__all__ = [
    "ALREADY_STORED",
    "BATCH",
    "CONTRACT_BATCH",
    "Check",
    "Stored",
    "database_checks",
    "read",
    "store_contracts",
    "write",
]
