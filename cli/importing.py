"""Reading supplier and contract files (CSV or JSON) into validated records, with every problem
reported against the row a person can find in the file.

Row numbers
    CSV: the line number a spreadsheet shows. The header is row 1 and the first data row is
    row 2; blank rows are skipped but still counted, so the numbers match the spreadsheet.
    JSON: the position of the object in the top-level list, counting from 1.

Columns (CSV)
    The model's fields (``ContractCreate``, ``SupplierCreate``); the commercial terms are plain
    columns, ``unit_price`` or ``terms.unit_price``, nested under ``terms`` for the model. Names
    are matched case-insensitively, surrounding spaces ignored. A column the file does not know,
    a column given twice, a required column missing and a row with more or fewer cells than the
    header are all errors. An optional column may be left out; an empty cell means "not given"
    (the default applies, or the field is reported as required). Yes/no columns take
    true/false, yes/no, 1/0 in any case (Excel writes TRUE/FALSE).

Encoding
    UTF-8, with or without the byte order mark Excel writes ("CSV UTF-8").

Nothing here touches the database: the commands check ids against it and store the records.
"""

import contextlib
import csv
import io
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from models.contract import ContractCreate, SupplierCreate
from models.errors import FieldError, InvalidInput

FileFormat = Literal["csv", "json"]
M = TypeVar("M", bound=BaseModel)

# Files with at least this many records show a progress bar (on a terminal only).
PROGRESS_THRESHOLD = 200


@dataclass(frozen=True, slots=True)
class Layout:
    """The columns of one kind of file."""

    kind: str  # "contract", "supplier": used in messages
    columns: tuple[str, ...]  # in the order the example files use
    required: frozenset[str]
    nested: Mapping[str, str] = field(default_factory=dict)  # column -> parent object
    booleans: frozenset[str] = frozenset()  # yes/no columns: TRUE/FALSE from Excel accepted

    @property
    def parents(self) -> frozenset[str]:
        return frozenset(self.nested.values())


# The columns of the contract file in the order the example files use; fields the model gains
# later (term model, jurisdiction, ...) are accepted too, after these.
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


def _model_layout(kind: str, model: type[BaseModel], order: Sequence[str] = ()) -> Layout:
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
        nested=nested,
        booleans=frozenset(booleans),
    )


CONTRACT_LAYOUT = _model_layout("contract", ContractCreate, _CONTRACT_ORDER)
TERM_COLUMNS = tuple(c for c, parent in CONTRACT_LAYOUT.nested.items() if parent == "terms")

SUPPLIER_LAYOUT = _model_layout("supplier", SupplierCreate, ("id", "name", "category", "country"))


class FileProblem(Exception):
    """The file as a whole cannot be read: no row-level report is possible."""


@dataclass(frozen=True, slots=True)
class Record:
    row: int
    data: dict[str, Any]


@dataclass(slots=True)
class ParsedFile:
    format: FileFormat
    records: list[Record]
    errors: list[FieldError]


@dataclass(frozen=True, slots=True)
class Valid(Generic[M]):
    row: int
    value: M


# ---------------------------------------------------------------------------- reading


def detect_format(path: Path, explicit: str | None = None) -> FileFormat:
    choice = (explicit or path.suffix.lstrip(".")).lower()
    if choice == "csv":
        return "csv"
    if choice == "json":
        return "json"
    raise FileProblem(f"{path}: cannot tell the format from the name; use a .csv or .json file")


def decode(path: Path) -> str:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise FileProblem(f"{path}: {exc.strerror or exc}") from None
    try:
        return raw.decode("utf-8-sig")  # strips the BOM when there is one
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise FileProblem(
            f"{path}: not UTF-8 text (first bad byte on line {line}); "
            "save it as UTF-8 (Excel: 'CSV UTF-8')"
        ) from None


def read_file(path: Path, layout: Layout, *, fmt: str | None = None) -> ParsedFile:
    file_format = detect_format(path, fmt)
    text = decode(path)
    if file_format == "csv":
        records, errors = read_csv(text, layout)
    else:
        records, errors = read_json(text, layout, name=str(path))
    return ParsedFile(file_format, records, errors)


def _column_key(name: str, layout: Layout) -> str:
    key = name.strip().lower()
    for parent in layout.parents:
        key = key.removeprefix(f"{parent}.")
    return key


def _check_header(header: Sequence[str], layout: Layout) -> tuple[list[str], list[FieldError]]:
    keys = [_column_key(name, layout) for name in header]
    errors: list[FieldError] = []
    seen: set[str] = set()
    known = set(layout.columns)
    for position, (name, key) in enumerate(zip(header, keys, strict=True), start=1):
        if not key:
            errors.append(FieldError(f"column {position}", "has no name", row=1))
        elif key not in known:
            errors.append(
                FieldError(
                    name.strip(),
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
    data: dict[str, Any] = {parent: {} for parent in layout.parents}
    for key, value in flat.items():
        parent = layout.nested.get(key)
        if parent is None:
            data[key] = value
        else:
            data[parent][key] = value
    return data


_TRUE = frozenset({"true", "t", "yes", "y", "1", "on"})
_FALSE = frozenset({"false", "f", "no", "n", "0", "off"})


def _cell(key: str, cell: str, layout: Layout) -> str:
    # Spreadsheets write TRUE/FALSE, people write yes/no: one spelling for the model, whose
    # checks (auto_renewal -> term_model) compare the exact word.
    if key not in layout.booleans:
        return cell
    word = cell.strip().lower()
    if word in _TRUE:
        return "true"
    if word in _FALSE:
        return "false"
    return cell


def read_csv(text: str, layout: Layout) -> tuple[list[Record], list[FieldError]]:
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
                continue  # a blank line: counted, not read
            if len(cells) > len(keys) and not any(c.strip() for c in cells[len(keys) :]):
                cells = cells[: len(keys)]  # trailing empty cells some spreadsheets write
            if len(cells) != len(keys):
                errors.append(
                    FieldError(
                        "columns",
                        f"the row has {len(cells)} cells, the header has {len(keys)}",
                        row=row,
                    )
                )
                continue
            flat = {
                key: _cell(key, cell, layout)
                for key, cell in zip(keys, cells, strict=True)
                if cell.strip() != ""
            }
            records.append(Record(row, _nest(flat, layout)))
    except csv.Error as exc:
        errors.append(FieldError("(file)", f"unreadable CSV: {exc}", row=row + 1))
    if keys is None:
        errors.append(
            FieldError(
                "(header)",
                "the file is empty; the first row must name the columns: "
                + ",".join(layout.columns),
                row=1,
            )
        )
    return records, errors


def read_json(text: str, layout: Layout, *, name: str) -> tuple[list[Record], list[FieldError]]:
    try:
        value = json.loads(text, parse_float=Decimal)  # exact amounts, never binary floats
    except json.JSONDecodeError as exc:
        raise FileProblem(
            f"{name}: not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})"
        ) from None
    if not isinstance(value, list):
        raise FileProblem(f"{name}: expected a JSON list of {layout.kind} objects")
    records: list[Record] = []
    errors: list[FieldError] = []
    for row, item in enumerate(value, start=1):
        if not isinstance(item, dict):
            errors.append(FieldError("(record)", "expected an object", row=row))
            continue
        data = dict(item)
        # Flat term keys are accepted too, as in the CSV layout.
        flat_terms = {k: data.pop(k) for k in list(data) if k in layout.nested}
        for key, term_value in flat_terms.items():
            parent = layout.nested[key]
            if parent in data and not isinstance(data[parent], dict):
                errors.append(FieldError(parent, "expected an object", row=row))
                break
            data.setdefault(parent, {})[key] = term_value
        records.append(Record(row, data))
    return records, errors


# ---------------------------------------------------------------------------- validation


def validate_records(
    records: Sequence[Record],
    parse: Callable[[Mapping[str, Any], int], M],
    *,
    file_format: FileFormat,
    advance: Callable[[int], None] = lambda _n: None,
) -> tuple[list[Valid[M]], list[FieldError]]:
    """Validate every record; collect all errors (never stop at the first), then flag ids that
    appear twice in the file."""
    valid: list[Valid[M]] = []
    errors: list[FieldError] = []
    first_row: dict[str, int] = {}
    for record in records:
        try:
            value = parse(record.data, record.row)
        except InvalidInput as exc:
            errors.extend(_for_file(e, file_format) for e in exc.errors)
        else:
            key = str(getattr(value, "id", ""))
            if key in first_row:
                errors.append(
                    FieldError("id", f"{key!r} is also on row {first_row[key]}", row=record.row)
                )
            else:
                first_row[key] = record.row
                valid.append(Valid(record.row, value))
        advance(1)
    return valid, errors


def _for_file(error: FieldError, file_format: FileFormat) -> FieldError:
    # In a CSV the terms are plain columns: name the column the user sees.
    if file_format == "csv" and error.field.startswith("terms."):
        return FieldError(error.field.removeprefix("terms."), error.reason, row=error.row)
    return error


def parse_model(model: type[M]) -> Callable[[Mapping[str, Any], int], M]:
    """A parser for a record type that has no service-layer parse function of its own."""

    def parse(data: Mapping[str, Any], row: int) -> M:
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            raise InvalidInput.from_validation_error(exc, row=row) from None

    return parse


def sort_errors(errors: Sequence[FieldError]) -> list[FieldError]:
    return sorted(errors, key=lambda e: e.row if e.row is not None else 0)


# ---------------------------------------------------------------------------- progress


@contextlib.contextmanager
def progress_bar(total: int, description: str) -> Iterator[Callable[[int], None]]:
    """``advance(n)`` for a bar on standard error: shown only for big files on a terminal."""
    console = Console(stderr=True)
    if total < PROGRESS_THRESHOLD or not console.is_terminal:
        yield lambda _n: None
        return
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task(description, total=total)
        yield lambda n: progress.advance(task, n)
