"""Importing and exporting the records procurement keeps outside the engine, for the CLI and the
API alike: suppliers, contracts, deliveries, service tickets, price history and market
indicators, as CSV or JSON.

    import_records(session, kind=ImportKind.DELIVERIES, source=path_or_bytes, ...)
    export_csv(session, kind=...) / export_json(session, kind=...)

This is the one place for reading a file (:func:`read_records`), checking its rows
(:func:`validate_records` and the database checks), storing each kind of record and exporting
it again. ``cli/`` and ``api/`` only parse arguments, show progress and print or answer.

Files
    UTF-8, with or without the byte order mark Excel writes ("CSV UTF-8"). UTF-16 (named as
    such, with or without its byte order mark), undecodable bytes (with the line of the first
    bad byte; a Shift_JIS file, Excel's "CSV" in Japan, is named as such) and NUL characters are
    refused. Files, rows and cells have upper bounds (:data:`MAX_BYTES`, :data:`MAX_ROWS`,
    :data:`MAX_CELL_CHARS`); the model types bound each value further and refuse bidirectional
    and other control characters (:mod:`models.text`).

Rows and columns
    CSV rows are numbered as a spreadsheet shows them: the header is the first non-blank row
    (row 1 in any sensible file) and blank rows are skipped but counted. JSON rows are the
    position in the top-level list, from 1. Columns are the model's fields, matched
    case-insensitively with surrounding spaces ignored; the commercial terms of a contract are
    plain columns (``unit_price`` or ``terms.unit_price``). An unknown, unnamed or repeated
    column, a missing required column, and a row with more or fewer cells than the header are
    errors; an empty cell means "not given". Yes/no columns take true/false, yes/no, 1/0 in any
    case (Excel writes TRUE/FALSE).

Errors
    Every problem is a :class:`~models.errors.FieldError` with the row, the field, the reason and
    (when the data came from a named file) the file. Problems with the file as a whole (its
    encoding, size, header, CSV syntax, JSON structure) raise :class:`FileProblem` whatever the
    mode. Problems with rows: by default the whole file is refused (``InvalidInput`` with every
    error, at most :data:`MAX_ERRORS`, nothing stored); with ``skip_invalid=True`` the valid rows
    are stored and the report lists the skipped rows and why. Every row is checked before
    anything is written, so a refused file writes nothing even outside a transaction.

Formulas
    Exports prefix cells starting with ``= + - @`` with an apostrophe
    (:func:`activities.audit.spreadsheet_safe`) and CSV imports remove exactly that apostrophe,
    so an exported file imports back unchanged.

Storing
    Suppliers are inserted or updated; contracts are registered (an id already registered is an
    error); deliveries and tickets with a reference already stored for the contract are errors
    (a file imported twice is caught); prices and market indicators are time series, so a row
    for a date or period already stored updates it (market rows update only the indicators they
    give), and the report counts the updates.
"""

import csv
import io
import json
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, tzinfo
from decimal import Decimal
from enum import Enum, StrEnum
from pathlib import Path
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ValidationError
from sqlalchemy import insert, select, tuple_
from sqlalchemy.orm import Session

from models.contract import ContractCreate, SupplierCreate
from models.errors import DuplicateContract, FieldError, InvalidInput
from models.market import MarketIndicatorCreate
from models.performance import (
    DeliveryCreate,
    ImportReport,
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
from store.audit import spreadsheet_safe, unescape_spreadsheet
from store.contracts import register_contracts, to_read

MAX_BYTES = 20 * 1024 * 1024
MAX_ROWS = 100_000
MAX_CELL_CHARS = 10_000
MAX_ERRORS = 1000  # reported; a file with more is wrong throughout and the rest adds nothing
BATCH = 500  # rows per IN (...) query and per insert
FILE = "(file)"
ROW = "(row)"

FileFormat = Literal["csv", "json"]
M = TypeVar("M", bound=BaseModel)
Progress = Callable[[int, int], None]  # (done, total)


def _no_progress(_done: int, _total: int) -> None:
    return None


def _no_advance(_n: int) -> None:
    return None


class ImportKind(StrEnum):
    SUPPLIERS = "suppliers"
    CONTRACTS = "contracts"
    DELIVERIES = "deliveries"
    SERVICE_TICKETS = "service-tickets"
    PRICE_HISTORY = "price-history"
    MARKET_INDICATORS = "market-indicators"


class FileProblem(InvalidInput):
    """The file as a whole cannot be read: no row-level report is possible."""


# ---------------------------------------------------------------------------- messages

# File-level messages, the same for the CLI and the API.
RAGGED = "has {cells} cells, the header has {columns}"
COLUMN_TWICE = "column appears twice"
COLUMN_MISSING = "required column is missing"
EMPTY_FILE = "the file is empty; the first row must name the columns: {columns}"
ALREADY_STORED = "{reference!r} is already stored for contract {contract!r} (imported before?)"


# ---------------------------------------------------------------------------- layouts


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


@dataclass(frozen=True, slots=True)
class Record:
    row: int
    data: dict[str, Any]


@dataclass(slots=True)
class ParsedFile:
    format: FileFormat
    records: list[Record]
    errors: list[FieldError]  # row-level problems (a ragged row, a JSON item not an object)
    rows: int = 0  # non-blank rows read, records and rows in error alike
    file: str | None = None


@dataclass(frozen=True, slots=True)
class Valid(Generic[M]):
    row: int
    value: M


# ---------------------------------------------------------------------------- reading


def detect_format(
    path: Path | str | None, explicit: str | None = None, *, default: FileFormat | None = None
) -> FileFormat:
    """The format named, or the one the file name says; ``default`` for any other name."""
    suffix = Path(path).suffix.lstrip(".") if path is not None else ""
    choice = (explicit or suffix).lower()
    if choice in ("csv", "json"):
        return "csv" if choice == "csv" else "json"
    if default is not None and not explicit:
        return default
    raise FileProblem(
        [
            FieldError(
                FILE,
                "cannot tell the format from the name; use a .csv or .json file",
                file=str(path) if path is not None else None,
            )
        ]
    )


def read_bytes(path: Path) -> bytes:
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise FileProblem([_too_big(size, path.name)])
        return path.read_bytes()
    except OSError as exc:
        raise FileProblem([FieldError(FILE, exc.strerror or str(exc), file=path.name)]) from None


def _too_big(size: int, file: str | None) -> FieldError:
    return FieldError(FILE, f"is {size} bytes; at most {MAX_BYTES} are accepted", file=file)


def decode(raw: bytes | Path, *, file: str | None = None) -> str:
    """UTF-8 text (a leading BOM dropped), or FileProblem saying what the file seems to be."""
    if isinstance(raw, Path):
        file = file or raw.name
        raw = read_bytes(raw)
    if len(raw) > MAX_BYTES:
        raise FileProblem([_too_big(len(raw), file)])
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise FileProblem(
            [FieldError(FILE, "is UTF-16; save it as UTF-8 (Excel: 'CSV UTF-8')", row=1, file=file)]
        )
    # Before the UTF-8 attempt: UTF-16 text that is all ASCII is valid UTF-8 (and would only
    # be "a NUL character"), and other UTF-16 text would be taken for Shift_JIS.
    byte_order = _utf16_without_bom(raw) if b"\x00" in raw else None
    if byte_order is not None:
        reason = (
            f"is UTF-16 ({byte_order} without a byte order mark, hence the NUL bytes between "
            "its characters); save it as UTF-8 (Excel: 'CSV UTF-8')"
        )
        raise FileProblem([FieldError(FILE, reason, row=1, file=file)])
    try:
        text = raw.decode("utf-8-sig")  # strips the BOM Excel writes
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        try:
            raw.decode("cp932")
            hint = (
                "; it looks like Shift_JIS (cp932), which Excel writes for 'CSV' in Japan: "
                "save it as 'CSV UTF-8' and import it again"
            )
        except UnicodeDecodeError:
            hint = "; save it as UTF-8 (Excel: 'CSV UTF-8') and import it again"
        raise FileProblem(
            [
                FieldError(
                    FILE,
                    f"not UTF-8 text (first bad byte on line {line}): byte "
                    f"0x{raw[exc.start]:02X} at position {exc.start}{hint}",
                    row=line,
                    file=file,
                )
            ]
        ) from None
    if "\x00" in text:
        line = text.count("\n", 0, text.index("\x00")) + 1
        raise FileProblem([FieldError(FILE, "contains a NUL character", row=line, file=file)])
    return text


_UTF16_SAMPLE = 4096  # bytes looked at: the header and first rows are enough to tell


def _utf16_without_bom(raw: bytes) -> str | None:
    """The byte order ("little-endian" or "big-endian") when ``raw`` reads as UTF-16 with no
    byte order mark, else None. CSV and JSON are mostly ASCII (delimiters, digits, column names,
    keys), which UTF-16 writes as a NUL byte beside each character: NULs in one of the two byte
    positions and hardly any in the other tell such a file from UTF-8 with a stray NUL in it."""
    sample = raw[: min(len(raw), _UTF16_SAMPLE) // 2 * 2]
    even, odd = sample[0::2].count(0), sample[1::2].count(0)
    if odd >= even:
        high, low, codec, order = odd, even, "utf-16-le", "little-endian"
    else:
        high, low, codec, order = even, odd, "utf-16-be", "big-endian"
    if high < max(2, len(sample) // 8) or low * 8 > high:
        return None
    try:
        raw.decode(codec)  # an odd length or an unpaired surrogate: not UTF-16 after all
    except UnicodeDecodeError:
        return None
    return order


def read_records(
    raw: bytes,
    layout: Layout,
    *,
    file_format: FileFormat,
    file: str | None = None,
) -> ParsedFile:
    """The file's records; problems with the file as a whole raise :class:`FileProblem`."""
    text = decode(raw, file=file)
    if file_format == "csv":
        return _read_csv(text, layout, file=file)
    return _read_json(text, layout, file=file)


def read_file(path: Path, layout: Layout, *, fmt: str | None = None) -> ParsedFile:
    file_format = detect_format(path, fmt)
    return read_records(read_bytes(path), layout, file_format=file_format, file=path.name)


def _column_key(name: str, layout: Layout) -> str:
    key = name.strip().lower()
    for parent in layout.parents:
        key = key.removeprefix(f"{parent}.")
    return key


def _check_header(
    header: Sequence[str], layout: Layout, *, row: int, file: str | None
) -> tuple[list[str], list[FieldError]]:
    keys = [_column_key(name, layout) for name in header]
    errors: list[FieldError] = []
    seen: set[str] = set()
    for position, (name, key) in enumerate(zip(header, keys, strict=True), start=1):
        if not key:
            errors.append(FieldError(f"column {position}", "has no name", row=row, file=file))
        elif key not in layout.columns:
            errors.append(
                FieldError(
                    name.strip()[:100],
                    f"unknown column (known: {', '.join(layout.columns)})",
                    row=row,
                    file=file,
                )
            )
        elif key in seen:
            errors.append(FieldError(name.strip(), COLUMN_TWICE, row=row, file=file))
        seen.add(key)
    for missing in sorted(layout.required - seen, key=layout.columns.index):
        errors.append(FieldError(missing, COLUMN_MISSING, row=row, file=file))
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


_TRUE = frozenset({"true", "t", "yes", "y", "1", "on"})
_FALSE = frozenset({"false", "f", "no", "n", "0", "off"})


def _cell(key: str, cell: str, layout: Layout) -> str:
    # Spreadsheets write TRUE/FALSE, people write yes/no: one spelling for the model, whose
    # checks (auto_renewal -> term_model) compare the exact word.
    if key not in layout.booleans:
        return unescape_spreadsheet(cell)
    word = cell.strip().lower()
    if word in _TRUE:
        return "true"
    if word in _FALSE:
        return "false"
    return cell


def read_csv(
    text: str, layout: Layout, *, file: str | None = None
) -> tuple[list[Record], list[FieldError]]:
    """Records and every problem, header problems included (then there are no records)."""
    try:
        parsed = _read_csv(text, layout, file=file)
    except FileProblem as exc:
        return [], list(exc.errors)
    return parsed.records, parsed.errors


def _read_csv(text: str, layout: Layout, *, file: str | None) -> ParsedFile:
    # The cell bound is enforced below with a row and field; the csv module's own limit is
    # raised above it so the error is ours, not "field larger than field limit".
    csv.field_size_limit(max(csv.field_size_limit(), MAX_CELL_CHARS * 4))
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    parsed = ParsedFile("csv", [], [], file=file)
    keys: list[str] | None = None
    row = 0
    try:
        for row, cells in enumerate(reader, start=1):
            if not any(cell.strip() for cell in cells):
                continue  # a blank line: counted, not read
            if keys is None:
                keys, header_errors = _check_header(cells, layout, row=row, file=file)
                if header_errors:
                    raise FileProblem(header_errors)
                continue
            if parsed.rows >= MAX_ROWS:
                raise FileProblem(
                    [FieldError(FILE, f"has more than {MAX_ROWS} rows", row=row, file=file)]
                )
            parsed.rows += 1
            if len(cells) > len(keys) and not any(c.strip() for c in cells[len(keys) :]):
                cells = cells[: len(keys)]  # trailing empty cells some spreadsheets write
            if len(cells) != len(keys):
                reason = RAGGED.format(cells=len(cells), columns=len(keys))
                parsed.errors.append(FieldError(ROW, reason, row=row, file=file))
                continue
            flat: dict[str, Any] = {}
            too_long = False
            for key, cell in zip(keys, cells, strict=True):
                if len(cell) > MAX_CELL_CHARS:
                    parsed.errors.append(_cell_too_long(key, cell, row, file))
                    too_long = True
                elif cell.strip() != "":
                    flat[key] = _cell(key, cell, layout)
            if not too_long:
                parsed.records.append(Record(row, _nest(flat, layout)))
    except csv.Error as exc:
        raise FileProblem(
            [FieldError(FILE, f"malformed CSV: {exc}", row=row + 1, file=file)]
        ) from None
    if keys is None:
        raise FileProblem(
            [
                FieldError(
                    "(header)",
                    EMPTY_FILE.format(columns=",".join(layout.columns)),
                    row=1,
                    file=file,
                )
            ]
        )
    return parsed


def _cell_too_long(name: str, value: str, row: int, file: str | None) -> FieldError:
    return FieldError(
        name,
        f"is {len(value)} characters long; at most {MAX_CELL_CHARS} are accepted",
        row=row,
        file=file,
    )


def _json_value_ok(
    value: Any, path: str, row: int, file: str | None, errors: list[FieldError]
) -> None:
    if isinstance(value, str) and len(value) > MAX_CELL_CHARS:
        errors.append(_cell_too_long(path, value, row, file))
    elif isinstance(value, dict):
        for k, v in value.items():
            _json_value_ok(v, f"{path}.{k}", row, file, errors)


def read_json(
    text: str, layout: Layout, *, name: str | None = None, file: str | None = None
) -> tuple[list[Record], list[FieldError]]:
    """Records and the row problems; a file that is not a JSON list raises FileProblem."""
    parsed = _read_json(text, layout, file=file or name)
    return parsed.records, parsed.errors


def _read_json(text: str, layout: Layout, *, file: str | None) -> ParsedFile:
    try:
        value = json.loads(text, parse_float=Decimal)  # exact amounts, never binary floats
    except json.JSONDecodeError as exc:
        raise FileProblem(
            [
                FieldError(
                    FILE,
                    f"not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}",
                    file=file,
                )
            ]
        ) from None
    if not isinstance(value, list):
        raise FileProblem(
            [FieldError(FILE, f"expected a JSON list of {layout.kind} objects", file=file)]
        )
    if len(value) > MAX_ROWS:
        raise FileProblem([FieldError(FILE, f"has more than {MAX_ROWS} records", file=file)])
    parsed = ParsedFile("json", [], [], rows=len(value), file=file)
    for row, item in enumerate(value, start=1):
        if not isinstance(item, dict):
            parsed.errors.append(FieldError("(record)", "expected an object", row=row, file=file))
            continue
        data = dict(item)
        before = len(parsed.errors)
        for key, v in data.items():
            _json_value_ok(v, str(key), row, file, parsed.errors)
        if len(parsed.errors) > before:
            continue
        # Flat term keys are accepted too, as in the CSV layout.
        for key in [k for k in data if k in layout.nested]:
            parent = layout.nested[key]
            if parent in data and not isinstance(data[parent], dict):
                parsed.errors.append(FieldError(parent, "expected an object", row=row, file=file))
                break
            data.setdefault(parent, {})[key] = data.pop(key)
        else:
            parsed.records.append(Record(row, data))
    return parsed


# ---------------------------------------------------------------------------- validation


@dataclass(frozen=True, slots=True)
class Unique:
    """What must not repeat within a file, and how a repeat is reported."""

    field: str
    key: Callable[[Any], Hashable | None]  # None: nothing to compare
    repeated: Callable[[Any, int], str]  # (value, row it first appears on) -> reason


BY_ID = Unique(
    "id",
    lambda v: getattr(v, "id", None),
    lambda v, first: f"{str(v.id)!r} is also on row {first}",
)


def validate_records(
    records: Sequence[Record],
    parse: Callable[[Mapping[str, Any], int], M],
    *,
    file_format: FileFormat,
    advance: Callable[[int], None] = _no_advance,
    unique: Unique | None = BY_ID,
    file: str | None = None,
) -> tuple[list[Valid[M]], list[FieldError]]:
    """Validate every record; collect all errors (never stop at the first) and flag records
    that repeat an earlier one's key (the later ones are errors)."""
    valid: list[Valid[M]] = []
    errors: list[FieldError] = []
    first_row: dict[Hashable, int] = {}
    for record in records:
        try:
            value = parse(record.data, record.row)
        except InvalidInput as exc:
            errors.extend(_for_file(e, file_format, file) for e in exc.errors)
        else:
            key = unique.key(value) if unique is not None else None
            if unique is not None and key is not None and key in first_row:
                reason = unique.repeated(value, first_row[key])
                errors.append(FieldError(unique.field, reason, row=record.row, file=file))
            else:
                if key is not None:
                    first_row[key] = record.row
                valid.append(Valid(record.row, value))
        advance(1)
    return valid, errors


def _for_file(error: FieldError, file_format: FileFormat, file: str | None) -> FieldError:
    # In a CSV the terms are plain columns: name the column the user sees.
    name = error.field
    if file_format == "csv" and name.startswith("terms."):
        name = name.removeprefix("terms.")
    return FieldError(name, error.reason, row=error.row, file=error.file or file)


def parse_model(
    model: type[M], *, default_tz: tzinfo | None = None
) -> Callable[[Mapping[str, Any], int], M]:
    """A parser for a record type: its model, times without an offset read in ``default_tz``."""

    def parse(data: Mapping[str, Any], row: int) -> M:
        try:
            return model.model_validate(data, context={"default_tz": default_tz})
        except ValidationError as exc:
            raise InvalidInput.from_validation_error(exc, row=row) from None

    return parse


def sort_errors(errors: Iterable[FieldError]) -> list[FieldError]:
    """In the order of the file; stable, so a row's problems keep the order they were found."""
    return sorted(errors, key=lambda e: e.row if e.row is not None else 0)


_UNIQUE: dict[ImportKind, Unique] = {
    ImportKind.SUPPLIERS: BY_ID,
    ImportKind.CONTRACTS: BY_ID,
    ImportKind.DELIVERIES: Unique(
        "reference",
        lambda v: (v.contract_id, v.reference) if v.reference else None,
        lambda v, first: f"{v.reference!r} already appears in row {first}",
    ),
    ImportKind.SERVICE_TICKETS: Unique(
        "reference",
        lambda v: (v.contract_id, v.reference),
        lambda v, first: f"{v.reference!r} already appears in row {first}",
    ),
    ImportKind.PRICE_HISTORY: Unique(
        "effective_date",
        lambda v: (v.contract_id, v.effective_date),
        lambda v, first: (
            f"{v.effective_date.isoformat()} already appears for contract "
            f"{v.contract_id!r} in row {first}"
        ),
    ),
    ImportKind.MARKET_INDICATORS: Unique(
        "period",
        lambda v: (v.category, v.period),
        lambda v, first: (
            f"{v.period.isoformat()} already appears for category {v.category!r} in row {first}"
        ),
    ),
}


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
class _Check:
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
        for v in valid:
            if v.value.id in taken:
                self.error(v.row, "id", f"contract {v.value.id!r} already exists")
            if v.value.supplier_id not in suppliers:
                self.error(
                    v.row,
                    "supplier_id",
                    f"unknown supplier {v.value.supplier_id!r} (import suppliers first)",
                )

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


def _database_checks(check: _Check, kind: ImportKind, valid: Sequence[Valid[Any]]) -> None:
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
class _Stored:
    inserted: int = 0
    updated: int = 0
    warnings: list[str] = field(default_factory=list)


def _store_suppliers(session: Session, valid: Sequence[Valid[SupplierCreate]]) -> _Stored:
    out = _Stored()
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


def _store_contracts(
    session: Session, valid: Sequence[Valid[ContractCreate]], advance: Callable[[int], None]
) -> _Stored:
    for batch in _chunks(valid):
        try:
            register_contracts(session, contracts=[v.value for v in batch])
        except DuplicateContract as exc:  # registered concurrently since the checks looked
            raise InvalidInput([_file_row(exc.error, batch)]) from None
        except InvalidInput as exc:
            raise InvalidInput([_file_row(e, batch) for e in exc.errors]) from None
        advance(len(batch))
    return _Stored(inserted=len(valid))


def _file_row(error: FieldError, batch: Sequence[Valid[Any]]) -> FieldError:
    # register_contracts numbers the contracts of its batch from 1; say the file's row instead.
    row = batch[error.row - 1].row if error.row is not None else None
    return FieldError(error.field, error.reason, row=row)


def _store_events(
    session: Session, table: type[DeliveryRow] | type[ServiceTicketRow], valid: Sequence[Valid[Any]]
) -> _Stored:
    for batch in _chunks(valid):
        session.execute(insert(table), [v.value.model_dump() for v in batch])
    return _Stored(inserted=len(valid))


def _store_prices(session: Session, valid: Sequence[Valid[PriceObservation]]) -> _Stored:
    out = _Stored()
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


def _store_market(session: Session, valid: Sequence[Valid[MarketIndicatorCreate]]) -> _Stored:
    """A row for a period already stored updates the indicators the row gives and keeps the
    others, so separate files may carry separate series (a monthly price index, a yearly
    competitor survey)."""
    out = _Stored()
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


def _store(
    session: Session,
    kind: ImportKind,
    valid: Sequence[Valid[Any]],
    advance: Callable[[int], None],
) -> _Stored:
    if kind is ImportKind.SUPPLIERS:
        out = _store_suppliers(session, valid)
    elif kind is ImportKind.CONTRACTS:
        return _store_contracts(session, valid, advance)
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


# ---------------------------------------------------------------------------- importing


def import_records(
    session: Session,
    *,
    kind: ImportKind,
    source: Path | bytes,
    file_format: FileFormat | None = None,
    file: str | None = None,
    dry_run: bool = False,
    skip_invalid: bool = False,
    default_tz: tzinfo | None = None,
    now: datetime | None = None,
    progress: Progress = _no_progress,
) -> ImportReport:
    """Check a whole file, then store it (or with ``skip_invalid`` its valid rows), or raise
    InvalidInput listing every problem (nothing is stored then). ``file`` names the file in
    errors (a path names itself); ``progress(done, total)`` is called as rows are checked and
    stored. ``default_tz`` reads times written without an offset; without it they are errors."""
    if isinstance(source, Path):
        file = file or source.name
        file_format = file_format or detect_format(source)
        raw = read_bytes(source)
    else:
        file_format = file_format or detect_format(file, default="csv")
        raw = source
    layout = LAYOUTS[kind]
    parsed = read_records(raw, layout, file_format=file_format, file=file)
    total = len(parsed.records) * 2
    done = 0

    def advance(n: int) -> None:
        nonlocal done
        done += n
        progress(done, total)

    valid, value_errors = validate_records(
        parsed.records,
        parse_model(layout.model, default_tz=default_tz),
        file_format=file_format,
        advance=advance,
        unique=_UNIQUE[kind],
        file=file,
    )
    check = _Check(session, file, now or datetime.now(UTC))
    if valid:
        _database_checks(check, kind, valid)
    errors = sort_errors([*parsed.errors, *value_errors, *check.errors])
    if errors and not skip_invalid:
        raise InvalidInput(errors[:MAX_ERRORS])
    keep = [v for v in valid if v.row not in check.bad]
    stored = _Stored()
    if not dry_run and keep:
        stored = _store(session, kind, keep, advance)
    progress(total, total)
    return ImportReport(
        file=file or "(upload)",
        kind=kind.value,
        rows_read=parsed.rows,
        inserted=stored.inserted,
        updated=stored.updated,
        skipped_rows=tuple(sorted({e.row for e in errors if e.row is not None})),
        errors=tuple(errors),
        warnings=tuple(stored.warnings),
    )


@dataclass(frozen=True, slots=True)
class PerformanceImport:
    """``renewals data import-*``: all rows of a CSV file (a .json name: JSON), or with
    ``skip_invalid`` the valid ones; a path or bytes, the file named in every error."""

    kind: ImportKind

    def __call__(
        self,
        session: Session,
        source: Path | bytes,
        *,
        skip_invalid: bool = False,
        file: str | None = None,
        default_tz: tzinfo | None = None,
        now: datetime | None = None,
        batch_size: int = BATCH,  # kept for callers; rows are written BATCH at a time
    ) -> ImportReport:
        del batch_size
        name = file or (source.name if isinstance(source, Path) else "(data)")
        return import_records(
            session,
            kind=self.kind,
            source=source,
            file_format=detect_format(name, default="csv"),
            file=name,
            skip_invalid=skip_invalid,
            default_tz=default_tz,
            now=now,
        )


import_deliveries = PerformanceImport(ImportKind.DELIVERIES)
import_tickets = PerformanceImport(ImportKind.SERVICE_TICKETS)
import_prices = PerformanceImport(ImportKind.PRICE_HISTORY)
import_market = PerformanceImport(ImportKind.MARKET_INDICATORS)


# ---------------------------------------------------------------------------- export


def _export_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Enum):
        return str(value.value)
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
        writer.writerow(spreadsheet_safe(_export_cell(record.get(c))) for c in columns)
        if buffer.tell() > 64 * 1024:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def export_json(session: Session, *, kind: ImportKind) -> list[dict[str, Any]]:
    columns = LAYOUTS[kind].columns
    return [
        {c: _json_value(record.get(c)) for c in columns if c in record}
        for record in _rows(session, kind)
    ]


def _json_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    return value
