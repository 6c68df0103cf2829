"""Importing performance records and market indicators from CSV files.

    import_deliveries(session, path)                    # all rows, or nothing
    import_deliveries(session, path, skip_invalid=True)  # the valid rows; the report lists the rest

Files
    UTF-8, with or without the byte order mark Excel writes ("CSV UTF-8"). Any other encoding is
    refused with the reason (a Shift_JIS file, Excel's default "CSV" in Japan, is named as such)
    rather than read as mojibake.

Rows and columns
    Row numbers are the rows a spreadsheet shows: the header is row 1, the first record row 2;
    blank rows are skipped but counted. Column names are matched case-insensitively, spaces
    around them ignored. A missing required column, an unknown or repeated column and a row with
    more or fewer cells than the header are errors; an empty cell means "not given".

Errors
    Every problem is a :class:`~models.errors.FieldError` with the file, the row and the field.
    Problems with the file itself (encoding, header) stop the import whatever the mode. Problems
    with rows: by default the whole file is refused (``InvalidInput`` with every error, nothing
    stored); with ``skip_invalid=True`` the valid rows are stored and the report lists exactly
    which rows were skipped and why. A row referring to an unknown supplier or contract, or to a
    contract of another supplier, is an error for that row.

Transactions
    Rows are written in batches through the caller's session, so a refused file relies on the
    caller's transaction rolling back on ``InvalidInput`` (:func:`activities.db.transaction`
    does). Deliveries and tickets with a reference already stored are errors (a file imported
    twice is caught); prices and market indicators are time series, so a row for a date already
    stored updates it, and the report counts the updates.
"""

import csv
import io
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, tzinfo
from pathlib import Path
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from models.errors import FieldError, InvalidInput
from models.market import MarketIndicatorCreate
from models.performance import (
    DeliveryCreate,
    ImportReport,
    PerformanceRecord,
    PriceObservation,
    ServiceTicketCreate,
)
from models.tables import (
    ContractRow,
    DeliveryRow,
    MarketIndicatorRow,
    PriceHistoryRow,
    ServiceTicketRow,
    SupplierRow,
)

M = TypeVar("M", bound=BaseModel)
E = TypeVar("E", bound=PerformanceRecord)

BATCH = 5000
FILE = "(file)"
ROW = "(row)"


# ---------------------------------------------------------------------------- reading


def decode(data: bytes, *, file: str) -> str:
    """UTF-8 text (a leading BOM dropped), or InvalidInput saying what the file seems to be."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        hint = ""
        try:
            data.decode("cp932")
            hint = (
                "; it looks like Shift_JIS (cp932), which Excel writes for 'CSV' in Japan: "
                "save it as 'CSV UTF-8' and import it again"
            )
        except UnicodeDecodeError:
            hint = "; save it as UTF-8 ('CSV UTF-8' in Excel) and import it again"
        raise InvalidInput(
            [
                FieldError(
                    FILE,
                    f"not UTF-8 text: byte 0x{data[exc.start]:02X} at line {line} cannot be "
                    f"read{hint}",
                    file=file,
                )
            ]
        ) from None


def _columns(model: type[BaseModel]) -> tuple[frozenset[str], frozenset[str]]:
    required = frozenset(n for n, f in model.model_fields.items() if f.is_required())
    return required, frozenset(model.model_fields) - required


@dataclass(frozen=True, slots=True)
class Record:
    row: int
    values: dict[str, str]


def read_records(text: str, *, model: type[BaseModel], file: str) -> Iterator[Record]:
    """The file's non-blank rows as {column: cell} with empty cells left out. Header problems
    raise InvalidInput at once; a ragged row is yielded with no values and reported by the
    caller through :func:`ragged`."""
    required, optional = _columns(model)
    reader = csv.reader(io.StringIO(text, newline=""))
    header: list[str] | None = None
    header_row = 0
    for number, cells in enumerate(reader, start=1):
        if not any(c.strip() for c in cells):
            continue
        if header is None:
            header, header_row = [c.strip().lower() for c in cells], number
            _check_header(header, required, optional, row=header_row, file=file)
            continue
        if len(cells) != len(header):
            yield Record(number, {ROW: f"has {len(cells)} cells, the header has {len(header)}"})
            continue
        yield Record(
            number,
            {name: cell.strip() for name, cell in zip(header, cells, strict=True) if cell.strip()},
        )
    if header is None:
        raise InvalidInput([FieldError(FILE, "the file is empty: no header row", file=file)])


def _check_header(
    header: Sequence[str],
    required: frozenset[str],
    optional: frozenset[str],
    *,
    row: int,
    file: str,
) -> None:
    errors: list[FieldError] = []
    seen: set[str] = set()
    for name in header:
        if not name:
            errors.append(FieldError("(header)", "a column has no name", row=row, file=file))
        elif name in seen:
            errors.append(FieldError(name, "the column appears twice", row=row, file=file))
        elif name not in required | optional:
            known = ", ".join(sorted(required | optional))
            errors.append(
                FieldError(name, f"unknown column (the columns are: {known})", row=row, file=file)
            )
        seen.add(name)
    errors += [
        FieldError(name, "required column missing", row=row, file=file)
        for name in sorted(required - seen)
    ]
    if errors:
        raise InvalidInput(errors)


def _read(source: Path | bytes, file: str | None) -> tuple[str, str]:
    if isinstance(source, Path):
        return decode(source.read_bytes(), file=file or source.name), file or source.name
    name = file or "(data)"
    return decode(source, file=name), name


# ---------------------------------------------------------------------------- the import loop


@dataclass(slots=True)
class _Run(Generic[M]):
    """One import: the rows validated so far, the errors, what was stored."""

    file: str
    kind: str
    skip_invalid: bool
    rows_read: int = 0
    inserted: int = 0
    updated: int = 0
    errors: list[FieldError] = field(default_factory=list)
    bad_rows: set[int] = field(default_factory=set)
    warnings: list[str] = field(default_factory=list)

    def error(self, row: int, field_name: str, reason: str) -> None:
        self.errors.append(FieldError(field_name, reason, row=row, file=self.file))
        self.bad_rows.add(row)

    @property
    def may_store(self) -> bool:
        # Refusing the whole file: nothing more is written once a row has failed.
        return self.skip_invalid or not self.errors

    def report(self) -> ImportReport:
        # Field errors are found as rows are read, references and duplicates batch by batch:
        # report them in the order of the file (stable within a row).
        self.errors.sort(key=lambda e: e.row or 0)
        if self.errors and not self.skip_invalid:
            raise InvalidInput(self.errors)
        return ImportReport(
            file=self.file,
            kind=self.kind,
            rows_read=self.rows_read,
            inserted=self.inserted,
            updated=self.updated,
            skipped_rows=tuple(sorted(self.bad_rows)),
            errors=tuple(self.errors),
            warnings=tuple(self.warnings),
        )


def _validated(
    run: _Run[M], records: Iterable[Record], model: type[M], context: Mapping[str, Any]
) -> Iterator[tuple[int, M]]:
    for record in records:
        run.rows_read += 1
        if ROW in record.values:
            run.error(record.row, ROW, record.values[ROW])
            continue
        try:
            yield record.row, model.model_validate(record.values, context=dict(context))
        except ValidationError as exc:
            for problem in InvalidInput.from_validation_error(exc, row=record.row).errors:
                run.error(record.row, problem.field, problem.reason)


def _batches(items: Iterable[tuple[int, M]], size: int) -> Iterator[list[tuple[int, M]]]:
    batch: list[tuple[int, M]] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


class _Parties:
    """Suppliers and contracts, looked up once each."""

    def __init__(self, session: Session) -> None:
        self._session = session
        self._suppliers: dict[str, bool] = {}
        self._contracts: dict[str, tuple[str, str] | None] = {}

    def supplier_exists(self, supplier_id: str) -> bool:
        if supplier_id not in self._suppliers:
            self._suppliers[supplier_id] = self._session.get(SupplierRow, supplier_id) is not None
        return self._suppliers[supplier_id]

    def contract(self, contract_id: str) -> tuple[str, str] | None:
        """(supplier_id, currency) of the contract, None when there is no such contract."""
        if contract_id not in self._contracts:
            row = self._session.get(ContractRow, contract_id)
            self._contracts[contract_id] = (row.supplier_id, row.currency) if row else None
        return self._contracts[contract_id]

    def check(self, run: _Run[Any], row: int, supplier_id: str, contract_id: str) -> bool:
        ok = True
        if not self.supplier_exists(supplier_id):
            run.error(row, "supplier_id", f"unknown supplier {supplier_id!r}")
            ok = False
        contract = self.contract(contract_id)
        if contract is None:
            run.error(row, "contract_id", f"unknown contract {contract_id!r}")
            return False
        if ok and contract[0] != supplier_id:
            run.error(
                row,
                "contract_id",
                f"contract {contract_id!r} is with supplier {contract[0]!r}, not {supplier_id!r}",
            )
            ok = False
        return ok


def _now() -> datetime:
    return datetime.now(UTC)


def _not_future(
    run: _Run[Any], row: int, name: str, value: date | datetime | None, now: datetime
) -> bool:
    if value is None:
        return True
    late = value > now if isinstance(value, datetime) else value > now.date()
    if late:
        run.error(row, name, f"{value.isoformat()} is in the future")
        return False
    return True


def _stored_references(
    session: Session, table: type[DeliveryRow] | type[ServiceTicketRow], pairs: set[tuple[str, str]]
) -> set[tuple[str, str]]:
    by_contract: dict[str, list[str]] = {}
    for contract_id, reference in pairs:
        by_contract.setdefault(contract_id, []).append(reference)
    found: set[tuple[str, str]] = set()
    for contract_id, refs in by_contract.items():
        for i in range(0, len(refs), 1000):
            chunk = refs[i : i + 1000]
            found |= {
                (contract_id, r)
                for r in session.scalars(
                    select(table.reference).where(
                        table.contract_id == contract_id, table.reference.in_(chunk)
                    )
                )
                if r is not None
            }
    return found


def _import_events(
    session: Session,
    *,
    run: _Run[E],
    rows: Iterable[tuple[int, E]],
    table: type[DeliveryRow] | type[ServiceTicketRow],
    reference_of: Callable[[E], str | None],
    checks: Callable[[int, E], bool],
    batch_size: int,
) -> None:
    """Deliveries and tickets: events with an optional (deliveries) or required (tickets)
    reference that must be new, per contract, in the file and in the database."""
    parties = _Parties(session)
    first_seen: dict[tuple[str, str], int] = {}
    for batch in _batches(rows, batch_size):
        keep: list[tuple[int, E, tuple[str, str] | None]] = []
        for row, record in batch:
            contract_id = record.contract_id
            ok = parties.check(run, row, record.supplier_id, contract_id)
            ok = checks(row, record) and ok
            key = None
            reference = reference_of(record)
            if reference is not None:
                key = (contract_id, reference)
                if key in first_seen:
                    run.error(
                        row, "reference", f"{reference!r} already appears in row {first_seen[key]}"
                    )
                    ok = False
                else:
                    first_seen[key] = row
            if ok:
                keep.append((row, record, key))
        stored = _stored_references(session, table, {k for _, _, k in keep if k is not None})
        values = []
        for row, record, key in keep:
            if key is not None and key in stored:
                run.error(
                    row,
                    "reference",
                    f"{key[1]!r} is already stored for contract {key[0]!r} (imported before?)",
                )
                continue
            values.append(record.model_dump())
        if values and run.may_store:
            session.execute(insert(table), values)
            run.inserted += len(values)


# ---------------------------------------------------------------------------- public imports


def import_deliveries(
    session: Session,
    source: Path | bytes,
    *,
    skip_invalid: bool = False,
    file: str | None = None,
    now: datetime | None = None,
    batch_size: int = BATCH,
) -> ImportReport:
    text, name = _read(source, file)
    run: _Run[DeliveryCreate] = _Run(name, "deliveries", skip_invalid)
    moment = now or _now()
    records = read_records(text, model=DeliveryCreate, file=name)

    def checks(row: int, d: DeliveryCreate) -> bool:
        return _not_future(run, row, "delivered_date", d.delivered_date, moment)

    _import_events(
        session,
        run=run,
        rows=_validated(run, records, DeliveryCreate, {}),
        table=DeliveryRow,
        reference_of=lambda d: d.reference,
        checks=checks,
        batch_size=batch_size,
    )
    return run.report()


def import_tickets(
    session: Session,
    source: Path | bytes,
    *,
    skip_invalid: bool = False,
    file: str | None = None,
    default_tz: tzinfo | None = None,
    now: datetime | None = None,
    batch_size: int = BATCH,
) -> ImportReport:
    """``default_tz`` reads times written without an offset; without it they are errors."""
    text, name = _read(source, file)
    run: _Run[ServiceTicketCreate] = _Run(name, "tickets", skip_invalid)
    moment = now or _now()
    records = read_records(text, model=ServiceTicketCreate, file=name)

    def checks(row: int, t: ServiceTicketCreate) -> bool:
        ok = _not_future(run, row, "opened_at", t.opened_at, moment)
        ok = _not_future(run, row, "first_response_at", t.first_response_at, moment) and ok
        return _not_future(run, row, "resolved_at", t.resolved_at, moment) and ok

    _import_events(
        session,
        run=run,
        rows=_validated(run, records, ServiceTicketCreate, {"default_tz": default_tz}),
        table=ServiceTicketRow,
        reference_of=lambda t: t.reference,
        checks=checks,
        batch_size=batch_size,
    )
    return run.report()


def import_prices(
    session: Session,
    source: Path | bytes,
    *,
    skip_invalid: bool = False,
    file: str | None = None,
) -> ImportReport:
    """Unit prices by effective date; a date already stored for the contract is updated."""
    text, name = _read(source, file)
    run: _Run[PriceObservation] = _Run(name, "prices", skip_invalid)
    parties = _Parties(session)
    first_seen: dict[tuple[str, date], int] = {}
    valid: list[tuple[int, PriceObservation]] = []
    for row, price in _validated(
        run, read_records(text, model=PriceObservation, file=name), PriceObservation, {}
    ):
        ok = parties.check(run, row, price.supplier_id, price.contract_id)
        contract = parties.contract(price.contract_id)
        if ok and contract is not None and contract[1] != price.currency:
            run.error(
                row,
                "currency",
                f"{price.currency} differs from the contract's currency {contract[1]}",
            )
            ok = False
        key = (price.contract_id, price.effective_date)
        if key in first_seen:
            run.error(
                row,
                "effective_date",
                f"{price.effective_date.isoformat()} already appears for contract "
                f"{price.contract_id!r} in row {first_seen[key]}",
            )
            ok = False
        else:
            first_seen[key] = row
        if ok:
            valid.append((row, price))
    if run.may_store:
        for _, price in valid:
            existing = session.scalar(
                select(PriceHistoryRow).where(
                    PriceHistoryRow.contract_id == price.contract_id,
                    PriceHistoryRow.effective_date == price.effective_date,
                )
            )
            if existing is None:
                session.add(PriceHistoryRow(**price.model_dump()))
                run.inserted += 1
            else:
                existing.unit_price = price.unit_price
                existing.currency = price.currency
                run.updated += 1
        session.flush()
    return run.report()


_INDICATORS = ("price_index", "demand_index", "competitor_count", "new_entrants")


def import_market(
    session: Session,
    source: Path | bytes,
    *,
    skip_invalid: bool = False,
    file: str | None = None,
) -> ImportReport:
    """Market indicators by category and period. A row for a period already stored updates the
    indicators the row gives and keeps the others, so separate files may carry separate series
    (a monthly price index, a yearly competitor survey)."""
    text, name = _read(source, file)
    run: _Run[MarketIndicatorCreate] = _Run(name, "market", skip_invalid)
    first_seen: dict[tuple[str, date], int] = {}
    valid: list[MarketIndicatorCreate] = []
    records = read_records(text, model=MarketIndicatorCreate, file=name)
    for row, m in _validated(run, records, MarketIndicatorCreate, {}):
        key = (m.category, m.period)
        if key in first_seen:
            run.error(
                row,
                "period",
                f"{m.period.isoformat()} already appears for category {m.category!r} in row "
                f"{first_seen[key]}",
            )
            continue
        first_seen[key] = row
        valid.append(m)
    if run.may_store:
        known = set(session.scalars(select(SupplierRow.category).distinct()))
        for category in sorted({m.category for m in valid} - known):
            run.warnings.append(
                f"no supplier is in category {category!r}: its rows are stored, but no "
                "scorecard uses them until a supplier has that category"
            )
        for m in valid:
            existing = session.scalar(
                select(MarketIndicatorRow).where(
                    MarketIndicatorRow.category == m.category,
                    MarketIndicatorRow.period == m.period,
                )
            )
            if existing is None:
                session.add(MarketIndicatorRow(**m.model_dump()))
                run.inserted += 1
                continue
            for indicator in _INDICATORS:
                value = getattr(m, indicator)
                if value is not None:
                    setattr(existing, indicator, value)
            if m.source:
                existing.source = m.source
            run.updated += 1
        session.flush()
    return run.report()


IMPORTERS: dict[str, Callable[..., ImportReport]] = {
    "deliveries": import_deliveries,
    "tickets": import_tickets,
    "prices": import_prices,
    "market": import_market,
}
