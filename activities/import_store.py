"""Bulk import and export of the records procurement keeps outside the engine: suppliers,
contracts, performance records (deliveries, service tickets, price history) and market
indicators, as CSV or JSON.

An import is all or nothing. Every row is checked first (the file's structure, each value, ids
repeated in the file, references to what the database holds) and every problem is reported
with its row, field and reason; only a file without a single problem is written, in the
caller's one transaction.

Deliberate choices about bad input:

* encoding: UTF-8 only, with or without the BOM Excel writes; UTF-16 and undecodable bytes are
  refused with the line of the first bad byte, NUL characters are refused;
* structure: unknown, unnamed, repeated or missing required columns are errors on row 1; a row
  with more or fewer cells than the header (a ragged row) is an error on that row;
* size: files, rows and cells have upper bounds (:data:`MAX_BYTES`, :data:`MAX_ROWS`,
  :data:`MAX_CELL_CHARS`); the field validators bound each value further;
* text: bidirectional controls and other control characters are refused by the model types
  (:mod:`models.text`);
* formulas: exports prefix cells starting with ``= + - @`` with an apostrophe
  (:func:`activities.audit.spreadsheet_safe`), and imports remove exactly that apostrophe, so a
  file round-trips.

Row numbers: CSV rows count as a spreadsheet shows them (header = row 1); JSON rows are the
position in the top-level list, from 1.
"""

import csv
import io
import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo
from decimal import Decimal
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ValidationError
from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from activities.audit import spreadsheet_safe, unescape_spreadsheet
from activities.contract_store import to_read
from models.contract import ContractCreate, SupplierCreate
from models.errors import FieldError, InvalidInput
from models.market import MarketIndicatorCreate
from models.performance import DeliveryCreate, PriceObservation, ServiceTicketCreate
from models.tables import (
    ContractRow,
    DeliveryRow,
    MarketIndicatorRow,
    PriceHistoryRow,
    ServiceTicketRow,
    SupplierRow,
)

MAX_BYTES = 20 * 1024 * 1024
MAX_ROWS = 100_000
MAX_CELL_CHARS = 10_000
MAX_ERRORS = 1000  # reported; a file with more is wrong throughout and the rest adds nothing
_CHUNK = 500

FileFormat = Literal["csv", "json"]


class ImportKind(StrEnum):
    SUPPLIERS = "suppliers"
    CONTRACTS = "contracts"
    DELIVERIES = "deliveries"
    SERVICE_TICKETS = "service-tickets"
    PRICE_HISTORY = "price-history"
    MARKET_INDICATORS = "market-indicators"


@dataclass(frozen=True, slots=True)
class Layout:
    columns: tuple[str, ...]
    required: frozenset[str]
    model: type[BaseModel]
    nested: Mapping[str, str] = field(default_factory=dict)  # column -> parent object


_TERMS = (
    "unit_price",
    "annual_volume",
    "exclusivity",
    "payment_terms",
    "price_adjustment",
    "service_levels",
)

LAYOUTS: dict[ImportKind, Layout] = {
    ImportKind.SUPPLIERS: Layout(
        ("id", "name", "category", "country"), frozenset({"id", "name"}), SupplierCreate
    ),
    ImportKind.CONTRACTS: Layout(
        (
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
            *_TERMS,
            "language",
        ),
        frozenset(
            {
                "id",
                "title",
                "supplier_id",
                "owner",
                "start_date",
                "end_date",
                "currency",
                "annual_value",
                "unit_price",
            }
        ),
        ContractCreate,
        dict.fromkeys(_TERMS, "terms"),
    ),
    ImportKind.DELIVERIES: Layout(
        (
            "supplier_id",
            "contract_id",
            "reference",
            "order_date",
            "promised_date",
            "delivered_date",
            "quantity_ordered",
            "quantity_accepted",
            "quantity_returned",
            "defects",
        ),
        frozenset(
            {
                "supplier_id",
                "contract_id",
                "order_date",
                "promised_date",
                "delivered_date",
                "quantity_ordered",
                "quantity_accepted",
            }
        ),
        DeliveryCreate,
    ),
    ImportKind.SERVICE_TICKETS: Layout(
        (
            "supplier_id",
            "contract_id",
            "reference",
            "severity",
            "opened_at",
            "first_response_at",
            "resolved_at",
            "response_sla_minutes",
            "resolution_sla_minutes",
        ),
        frozenset(
            {
                "supplier_id",
                "contract_id",
                "reference",
                "opened_at",
                "response_sla_minutes",
                "resolution_sla_minutes",
            }
        ),
        ServiceTicketCreate,
    ),
    ImportKind.PRICE_HISTORY: Layout(
        ("supplier_id", "contract_id", "effective_date", "unit_price", "currency"),
        frozenset({"supplier_id", "contract_id", "effective_date", "unit_price", "currency"}),
        PriceObservation,
    ),
    ImportKind.MARKET_INDICATORS: Layout(
        (
            "category",
            "period",
            "price_index",
            "demand_index",
            "competitor_count",
            "new_entrants",
            "source",
        ),
        frozenset({"category", "period"}),
        MarketIndicatorCreate,
    ),
}


@dataclass(frozen=True, slots=True)
class Record:
    row: int
    data: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ImportResult:
    kind: ImportKind
    format: FileFormat
    rows_read: int
    inserted: int
    updated: int
    dry_run: bool


# ---------------------------------------------------------------------------- reading


def decode(raw: bytes) -> str:
    if len(raw) > MAX_BYTES:
        raise InvalidInput(
            [FieldError("(file)", f"is {len(raw)} bytes; at most {MAX_BYTES} are accepted")]
        )
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise InvalidInput(
            [FieldError("(file)", "is UTF-16; save it as UTF-8 (Excel: 'CSV UTF-8')", row=1)]
        )
    try:
        text = raw.decode("utf-8-sig")  # strips the BOM Excel writes
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise InvalidInput(
            [
                FieldError(
                    "(file)",
                    f"is not UTF-8 (byte 0x{raw[exc.start]:02X} at position {exc.start}); "
                    "save it as UTF-8 (Excel: 'CSV UTF-8')",
                    row=line,
                )
            ]
        ) from None
    if "\x00" in text:
        line = text[: text.index("\x00")].count("\n") + 1
        raise InvalidInput([FieldError("(file)", "contains a NUL character", row=line)])
    return text


def _column_key(name: str, layout: Layout) -> str:
    key = name.strip().lower()
    for parent in set(layout.nested.values()):
        key = key.removeprefix(f"{parent}.")
    return key


def _check_header(header: Sequence[str], layout: Layout) -> tuple[list[str], list[FieldError]]:
    keys = [_column_key(name, layout) for name in header]
    errors: list[FieldError] = []
    seen: set[str] = set()
    for position, (name, key) in enumerate(zip(header, keys, strict=True), start=1):
        if not key:
            errors.append(FieldError(f"column {position}", "has no name", row=1))
        elif key not in layout.columns:
            errors.append(
                FieldError(
                    name.strip()[:100],
                    f"unknown column (known: {', '.join(layout.columns)})",
                    row=1,
                )
            )
        elif key in seen:
            errors.append(FieldError(name.strip(), "column appears twice", row=1))
        seen.add(key)
    for missing in sorted(layout.required - seen, key=layout.columns.index):
        errors.append(FieldError(missing, "required column is missing", row=1))
    return keys, errors


def _nest(flat: Mapping[str, Any], layout: Layout) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for key, value in flat.items():
        parent = layout.nested.get(key)
        if parent is None:
            data[key] = value
        else:
            data.setdefault(parent, {})[key] = value
    return data


def read_csv(text: str, layout: Layout) -> tuple[list[Record], list[FieldError]]:
    # The cell bound is enforced below with a row and field; the csv module's own limit is
    # raised above it so the error is ours, not "field larger than field limit".
    csv.field_size_limit(max(csv.field_size_limit(), MAX_CELL_CHARS * 4))
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    records: list[Record] = []
    errors: list[FieldError] = []
    keys: list[str] | None = None
    row = 0
    try:
        for row, cells in enumerate(reader, start=1):
            if keys is None:
                keys, header_errors = _check_header(cells, layout)
                if header_errors:
                    return [], header_errors
                continue
            if not any(cell.strip() for cell in cells):
                continue  # blank line: counted, not read
            if len(records) >= MAX_ROWS:
                errors.append(FieldError("(file)", f"has more than {MAX_ROWS} rows", row=row))
                break
            if len(cells) > len(keys) and not any(c.strip() for c in cells[len(keys) :]):
                cells = cells[: len(keys)]  # trailing empty cells some spreadsheets write
            if len(cells) != len(keys):
                errors.append(
                    FieldError(
                        "(row)",
                        f"has {len(cells)} cells but the header has {len(keys)} columns",
                        row=row,
                    )
                )
                continue
            flat: dict[str, Any] = {}
            for key, cell in zip(keys, cells, strict=True):
                if len(cell) > MAX_CELL_CHARS:
                    errors.append(
                        FieldError(
                            key,
                            f"is {len(cell)} characters long; at most {MAX_CELL_CHARS} "
                            "are accepted",
                            row=row,
                        )
                    )
                    continue
                if cell.strip() != "":
                    flat[key] = unescape_spreadsheet(cell)
            records.append(Record(row, _nest(flat, layout)))
    except csv.Error as exc:
        errors.append(FieldError("(file)", f"malformed CSV: {exc}", row=row + 1))
    if keys is None:
        errors.append(
            FieldError(
                "(header)",
                f"the file is empty; the first row must name the columns: "
                f"{','.join(layout.columns)}",
                row=1,
            )
        )
    return records, errors


def _json_value_ok(value: Any, path: str, row: int, errors: list[FieldError]) -> None:
    if isinstance(value, str) and len(value) > MAX_CELL_CHARS:
        errors.append(
            FieldError(
                path,
                f"is {len(value)} characters long; at most {MAX_CELL_CHARS} are accepted",
                row=row,
            )
        )
    elif isinstance(value, dict):
        for k, v in value.items():
            _json_value_ok(v, f"{path}.{k}", row, errors)


def read_json(text: str, layout: Layout) -> tuple[list[Record], list[FieldError]]:
    try:
        value = json.loads(text, parse_float=Decimal)  # exact amounts, never binary floats
    except json.JSONDecodeError as exc:
        raise InvalidInput(
            [
                FieldError(
                    "(file)", f"not valid JSON: {exc.msg} at column {exc.colno}", row=exc.lineno
                )
            ]
        ) from None
    if not isinstance(value, list):
        raise InvalidInput([FieldError("(file)", "expected a JSON list of objects")])
    if len(value) > MAX_ROWS:
        raise InvalidInput([FieldError("(file)", f"has more than {MAX_ROWS} records")])
    records: list[Record] = []
    errors: list[FieldError] = []
    for row, item in enumerate(value, start=1):
        if not isinstance(item, dict):
            errors.append(FieldError("(record)", "expected an object", row=row))
            continue
        data = dict(item)
        before = len(errors)
        for key, v in data.items():
            _json_value_ok(v, str(key), row, errors)
        if len(errors) > before:
            continue
        # Flat term keys are accepted too, as in the CSV layout.
        for key in [k for k in data if k in layout.nested]:
            parent = layout.nested[key]
            if parent in data and not isinstance(data[parent], dict):
                errors.append(FieldError(parent, "expected an object", row=row))
                break
            data.setdefault(parent, {})[key] = data.pop(key)
        records.append(Record(row, data))
    return records, errors


def read_records(
    raw: bytes, *, kind: ImportKind, file_format: FileFormat
) -> tuple[list[Record], list[FieldError]]:
    text = decode(raw)
    layout = LAYOUTS[kind]
    return read_csv(text, layout) if file_format == "csv" else read_json(text, layout)


# ---------------------------------------------------------------------------- validation


def _validate(
    records: Sequence[Record], kind: ImportKind, *, default_tz: tzinfo | None
) -> tuple[list[tuple[int, BaseModel]], list[FieldError]]:
    model = LAYOUTS[kind].model
    valid: list[tuple[int, BaseModel]] = []
    errors: list[FieldError] = []
    first_row: dict[tuple[Any, ...], int] = {}
    for record in records:
        try:
            value = model.model_validate(record.data, context={"default_tz": default_tz})
        except ValidationError as exc:
            for err in InvalidInput.from_validation_error(exc, row=record.row).errors:
                # In a CSV the terms are plain columns: name the column the user sees.
                errors.append(FieldError(err.field.removeprefix("terms."), err.reason, row=err.row))
            continue
        key = natural_key(kind, value)
        if key is not None and key in first_row:
            errors.append(
                FieldError(
                    key_field(kind),
                    f"{', '.join(map(str, key))} is also on row {first_row[key]}",
                    row=record.row,
                )
            )
            continue
        if key is not None:
            first_row[key] = record.row
        valid.append((record.row, value))
    return valid, errors


def key_field(kind: ImportKind) -> str:
    return {
        ImportKind.SUPPLIERS: "id",
        ImportKind.CONTRACTS: "id",
        ImportKind.DELIVERIES: "reference",
        ImportKind.SERVICE_TICKETS: "reference",
        ImportKind.PRICE_HISTORY: "effective_date",
        ImportKind.MARKET_INDICATORS: "period",
    }[kind]


def natural_key(kind: ImportKind, value: Any) -> tuple[Any, ...] | None:
    """What makes a record unique; None: the record has nothing that must be unique."""
    if kind in (ImportKind.SUPPLIERS, ImportKind.CONTRACTS):
        return (value.id,)
    if kind in (ImportKind.DELIVERIES, ImportKind.SERVICE_TICKETS):
        return (value.contract_id, value.reference) if value.reference else None
    if kind is ImportKind.PRICE_HISTORY:
        return (value.contract_id, value.effective_date)
    return (value.category, value.period)


def _chunks(items: Sequence[Any]) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


def _existing(session: Session, column: Any, values: Iterable[Any]) -> set[Any]:
    wanted = sorted(set(values))
    found: set[Any] = set()
    for chunk in _chunks(wanted):
        found.update(session.scalars(select(column).where(column.in_(chunk))))
    return found


def _existing_pairs(session: Session, a: Any, b: Any, pairs: Iterable[tuple[Any, Any]]) -> set[Any]:
    wanted = sorted(set(pairs))
    found: set[Any] = set()
    for chunk in _chunks(wanted):
        found.update(
            (x, y) for x, y in session.execute(select(a, b).where(tuple_(a, b).in_(chunk))).all()
        )
    return found


def _database_checks(
    session: Session, kind: ImportKind, valid: Sequence[tuple[int, Any]]
) -> list[FieldError]:
    """Problems only the database can see."""
    errors: list[FieldError] = []
    if kind is ImportKind.CONTRACTS:
        taken = _existing(session, ContractRow.id, (v.id for _, v in valid))
        suppliers = _existing(session, SupplierRow.id, (v.supplier_id for _, v in valid))
        for row, v in valid:
            if v.id in taken:
                errors.append(FieldError("id", f"contract {v.id!r} already exists", row=row))
            if v.supplier_id not in suppliers:
                errors.append(
                    FieldError(
                        "supplier_id",
                        f"unknown supplier {v.supplier_id!r} (import suppliers first)",
                        row=row,
                    )
                )
    elif kind in (ImportKind.DELIVERIES, ImportKind.SERVICE_TICKETS, ImportKind.PRICE_HISTORY):
        owners: dict[str, str] = {}
        for chunk in _chunks(sorted({v.contract_id for _, v in valid})):
            for contract_id, supplier_id in session.execute(
                select(ContractRow.id, ContractRow.supplier_id).where(ContractRow.id.in_(chunk))
            ):
                owners[contract_id] = supplier_id
        for row, v in valid:
            owner = owners.get(v.contract_id)
            if owner is None:
                errors.append(
                    FieldError("contract_id", f"unknown contract {v.contract_id!r}", row=row)
                )
            elif owner != v.supplier_id:
                errors.append(
                    FieldError(
                        "supplier_id",
                        f"contract {v.contract_id!r} is with supplier {owner!r}, "
                        f"not {v.supplier_id!r}",
                        row=row,
                    )
                )
        table: Any = {
            ImportKind.DELIVERIES: DeliveryRow,
            ImportKind.SERVICE_TICKETS: ServiceTicketRow,
            ImportKind.PRICE_HISTORY: PriceHistoryRow,
        }[kind]
        second = table.effective_date if kind is ImportKind.PRICE_HISTORY else table.reference
        keyed = [(row, natural_key(kind, v)) for row, v in valid]
        present = _existing_pairs(
            session, table.contract_id, second, (k for _, k in keyed if k is not None)
        )
        for row, k in keyed:
            if k is not None and k in present:
                errors.append(
                    FieldError(
                        key_field(kind),
                        f"{k[1]} is already recorded for contract {k[0]!r}",
                        row=row,
                    )
                )
    return errors


# ---------------------------------------------------------------------------- storing


def _store(session: Session, kind: ImportKind, valid: Sequence[tuple[int, Any]]) -> tuple[int, int]:
    inserted = updated = 0
    if kind is ImportKind.SUPPLIERS:
        existing = {
            r.id: r
            for chunk in _chunks([v.id for _, v in valid])
            for r in session.scalars(select(SupplierRow).where(SupplierRow.id.in_(chunk)))
        }
        for _, v in valid:
            row = existing.get(v.id)
            if row is None:
                session.add(
                    SupplierRow(id=v.id, name=v.name, category=v.category, country=v.country)
                )
                inserted += 1
            else:
                row.name, row.category, row.country = v.name, v.category, v.country
                updated += 1
    elif kind is ImportKind.CONTRACTS:
        for _, c in valid:
            session.add(
                ContractRow(
                    id=c.id,
                    title=c.title,
                    supplier_id=c.supplier_id,
                    owner=c.owner,
                    start_date=c.start_date,
                    end_date=c.end_date,
                    auto_renewal=c.auto_renewal,
                    notice_period_days=c.notice_period_days,
                    renewal_term_months=c.renewal_term_months,
                    currency=c.currency,
                    annual_value=c.annual_value,
                    unit_price=c.terms.unit_price,
                    annual_volume=c.terms.annual_volume,
                    exclusivity=c.terms.exclusivity,
                    payment_terms=c.terms.payment_terms,
                    price_adjustment=c.terms.price_adjustment,
                    service_levels=c.terms.service_levels,
                    language=c.language,
                    current_term=1,
                    status="active",
                )
            )
            inserted += 1
    elif kind is ImportKind.MARKET_INDICATORS:
        for _, m in valid:
            indicator = session.scalar(
                select(MarketIndicatorRow).where(
                    MarketIndicatorRow.category == m.category, MarketIndicatorRow.period == m.period
                )
            )
            fields = m.model_dump()
            if indicator is None:
                session.add(MarketIndicatorRow(**fields))
                inserted += 1
            else:
                for name, value in fields.items():
                    setattr(indicator, name, value)
                updated += 1
    else:
        table: Any = {
            ImportKind.DELIVERIES: DeliveryRow,
            ImportKind.SERVICE_TICKETS: ServiceTicketRow,
            ImportKind.PRICE_HISTORY: PriceHistoryRow,
        }[kind]
        for _, v in valid:
            session.add(table(**v.model_dump()))
            inserted += 1
    session.flush()
    return inserted, updated


def import_records(
    session: Session,
    *,
    kind: ImportKind,
    raw: bytes,
    file_format: FileFormat,
    dry_run: bool = False,
    default_tz: tzinfo | None = None,
    progress: Callable[[int, int], None] = lambda _done, _total: None,
) -> ImportResult:
    """Check a whole file and store it, or raise InvalidInput listing every problem (nothing
    is stored then). ``progress(done, total)`` is called as rows are checked and stored."""
    records, errors = read_records(raw, kind=kind, file_format=file_format)
    total = len(records)
    valid, value_errors = _validate(records, kind, default_tz=default_tz)
    errors.extend(value_errors)
    progress(total // 2, total)
    if valid:
        errors.extend(_database_checks(session, kind, valid))
    if errors:
        errors.sort(key=lambda e: (e.row or 0, e.field))
        raise InvalidInput(errors[:MAX_ERRORS])
    if not records:
        raise InvalidInput([FieldError("(file)", "contains no records")])
    inserted = updated = 0
    if not dry_run:
        inserted, updated = _store(session, kind, valid)
    progress(total, total)
    return ImportResult(
        kind=kind,
        format=file_format,
        rows_read=total,
        inserted=inserted,
        updated=updated,
        dry_run=dry_run,
    )


# ---------------------------------------------------------------------------- export


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def _rows(session: Session, kind: ImportKind) -> Iterator[dict[str, Any]]:
    if kind is ImportKind.SUPPLIERS:
        for s in session.scalars(select(SupplierRow).order_by(SupplierRow.id)):
            yield {"id": s.id, "name": s.name, "category": s.category, "country": s.country}
    elif kind is ImportKind.CONTRACTS:
        for c in session.scalars(select(ContractRow).order_by(ContractRow.id)):
            read = to_read(c).model_dump(mode="python")
            terms = read.pop("terms")
            yield {**read, **terms}
    else:
        table: Any = {
            ImportKind.DELIVERIES: DeliveryRow,
            ImportKind.SERVICE_TICKETS: ServiceTicketRow,
            ImportKind.PRICE_HISTORY: PriceHistoryRow,
            ImportKind.MARKET_INDICATORS: MarketIndicatorRow,
        }[kind]
        for r in session.scalars(select(table).order_by(table.id)).yield_per(1000):
            yield {c: getattr(r, c) for c in LAYOUTS[kind].columns}


def export_csv(session: Session, *, kind: ImportKind) -> Iterator[str]:
    """The records as CSV in the import layout (so an export imports back), a line at a time,
    every text cell made safe for spreadsheets."""
    columns = LAYOUTS[kind].columns
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(columns)
    for record in _rows(session, kind):
        writer.writerow(spreadsheet_safe(_cell(record.get(c))) for c in columns)
        if buffer.tell() > 64 * 1024:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def export_json(session: Session, *, kind: ImportKind) -> list[dict[str, Any]]:
    columns = LAYOUTS[kind].columns
    out = []
    for record in _rows(session, kind):
        out.append({c: _json_value(record.get(c)) for c in columns if c in record})
    return out


def _json_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value
