"""Reading a file into records: its bytes decoded (UTF-8 only, with what a refused file seems
to be), its format told from the name, and CSV or JSON read into numbered records, one a row.

CSV rows are numbered as a spreadsheet shows them: the header is the first non-blank row and
blank rows are skipped but counted. JSON rows are the position in the top-level list, from 1.
Problems with the file as a whole raise :class:`FileProblem`; problems with one row (a ragged
row, a cell too long, a JSON item that is not an object) are returned with the records.
"""

import csv
import io
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from models.errors import FieldError, InvalidInput
from services.imports.layouts import Layout
from store.audit import unescape_spreadsheet

MAX_BYTES = 20 * 1024 * 1024
MAX_ROWS = 100_000
MAX_CELL_CHARS = 10_000
MAX_ERRORS = 1000  # reported; a file with more is wrong throughout and the rest adds nothing
FILE = "(file)"
ROW = "(row)"

FileFormat = Literal["csv", "json"]


class FileProblem(InvalidInput):
    """The file as a whole cannot be read: no row-level report is possible."""


# ---------------------------------------------------------------------------- messages

# File-level messages, the same for the CLI and the API.
RAGGED = "has {cells} cells, the header has {columns}"
COLUMN_TWICE = "column appears twice"
COLUMN_MISSING = "required column is missing"
EMPTY_FILE = "the file is empty; the first row must name the columns: {columns}"


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


@dataclass(slots=True)
class RecordStream:
    """A file's rows read one at a time, in the file's order: each a :class:`Record` or the
    :class:`~models.errors.FieldError` of a row that is not one (a ragged row, a cell too
    long, a JSON item that is not an object). The header is checked when the stream is opened;
    a problem with the file as a whole found further on (too many rows, broken CSV syntax)
    raises :class:`FileProblem` while it is read."""

    format: FileFormat
    file: str | None
    estimate: int  # about how many rows it has (for progress): at least as many as it has
    items: Iterator[Record | FieldError] = field(default_factory=lambda: iter(()))
    rows: int = 0  # non-blank rows read so far, records and rows in error alike

    def __iter__(self) -> Iterator[Record | FieldError]:
        return self.items


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
    return _collect(open_records(raw, layout, file_format=file_format, file=file))


def open_records(
    raw: bytes,
    layout: Layout,
    *,
    file_format: FileFormat,
    file: str | None = None,
) -> RecordStream:
    """The file's rows as a stream (its header checked); problems with the file as a whole
    raise :class:`FileProblem`, now or while the stream is read."""
    text = decode(raw, file=file)
    if file_format == "csv":
        return _csv_stream(text, layout, file=file)
    return _json_stream(text, layout, file=file)


def _collect(stream: RecordStream) -> ParsedFile:
    parsed = ParsedFile(stream.format, [], [], file=stream.file)
    for item in stream:
        if isinstance(item, Record):
            parsed.records.append(item)
        else:
            parsed.errors.append(item)
    parsed.rows = stream.rows
    return parsed


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
    return _collect(_csv_stream(text, layout, file=file))


def _csv_stream(text: str, layout: Layout, *, file: str | None) -> RecordStream:
    # The cell bound is enforced below with a row and field; the csv module's own limit is
    # raised above it so the error is ours, not "field larger than field limit".
    csv.field_size_limit(max(csv.field_size_limit(), MAX_CELL_CHARS * 4))
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    keys: list[str] | None = None
    row = 0
    try:
        for row, cells in enumerate(reader, start=1):
            if not any(cell.strip() for cell in cells):
                continue  # a blank line: counted, not read
            keys, header_errors = _check_header(cells, layout, row=row, file=file)
            if header_errors:
                raise FileProblem(header_errors)
            break
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
    # Rows end in \n, \r\n or a lone \r: there are at most as many rows as the more common.
    lines = max(text.count("\n"), text.count("\r")) + 1
    stream = RecordStream("csv", file, estimate=max(0, lines - row))
    stream.items = _csv_rows(stream, reader, keys, layout, header_row=row)
    return stream


def _csv_rows(
    stream: RecordStream,
    reader: Iterator[list[str]],
    keys: list[str],
    layout: Layout,
    *,
    header_row: int,
) -> Iterator[Record | FieldError]:
    file = stream.file
    width = len(keys)
    nested = layout.nested
    row = header_row
    try:
        for row, cells in enumerate(reader, start=header_row + 1):
            if not any(cell.strip() for cell in cells):
                continue  # a blank line: counted, not read
            if stream.rows >= MAX_ROWS:
                raise FileProblem(
                    [FieldError(FILE, f"has more than {MAX_ROWS} rows", row=row, file=file)]
                )
            stream.rows += 1
            if len(cells) > width and not any(c.strip() for c in cells[width:]):
                cells = cells[:width]  # trailing empty cells some spreadsheets write
            if len(cells) != width:
                reason = RAGGED.format(cells=len(cells), columns=width)
                yield FieldError(ROW, reason, row=row, file=file)
                continue
            data: dict[str, Any] = {}
            too_long: list[FieldError] = []
            for key, cell in zip(keys, cells, strict=True):
                if len(cell) > MAX_CELL_CHARS:
                    too_long.append(_cell_too_long(key, cell, row, file))
                elif cell.strip() != "":
                    value = _cell(key, cell, layout)
                    parent = nested.get(key)
                    if parent is None:
                        data[key] = value
                    else:
                        data.setdefault(parent, {})[key] = value
            if too_long:
                yield from too_long
            else:
                yield Record(row, data)
    except csv.Error as exc:
        raise FileProblem(
            [FieldError(FILE, f"malformed CSV: {exc}", row=row + 1, file=file)]
        ) from None


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
    return _collect(_json_stream(text, layout, file=file))


def _json_stream(text: str, layout: Layout, *, file: str | None) -> RecordStream:
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
    except RecursionError:
        raise FileProblem(
            [FieldError(FILE, "is nested too deeply to be a list of records", file=file)]
        ) from None
    except ValueError as exc:  # an integer longer than Python converts (4300 digits)
        raise FileProblem(
            [FieldError(FILE, f"has a number too long to read: {exc}", file=file)]
        ) from None
    if not isinstance(value, list):
        raise FileProblem(
            [FieldError(FILE, f"expected a JSON list of {layout.kind} objects", file=file)]
        )
    if len(value) > MAX_ROWS:
        raise FileProblem([FieldError(FILE, f"has more than {MAX_ROWS} records", file=file)])
    stream = RecordStream("json", file, estimate=len(value), rows=len(value))
    stream.items = _json_items(value, layout, file=file)
    return stream


def _json_items(
    items: list[Any], layout: Layout, *, file: str | None
) -> Iterator[Record | FieldError]:
    for index, item in enumerate(items):
        items[index] = None  # read once: what is checked need not stay in memory twice
        row = index + 1
        if not isinstance(item, dict):
            yield FieldError("(record)", "expected an object", row=row, file=file)
            continue
        data = dict(item)
        problems: list[FieldError] = []
        for key, v in data.items():
            _json_value_ok(v, str(key), row, file, problems)
        if problems:
            yield from problems
            continue
        # Flat term keys are accepted too, as in the CSV layout.
        for key in [k for k in data if k in layout.nested]:
            parent = layout.nested[key]
            if parent in data and not isinstance(data[parent], dict):
                yield FieldError(parent, "expected an object", row=row, file=file)
                break
            data.setdefault(parent, {})[key] = data.pop(key)
        else:
            yield Record(row, data)


__all__ = [
    "COLUMN_MISSING",
    "COLUMN_TWICE",
    "EMPTY_FILE",
    "FILE",
    "MAX_BYTES",
    "MAX_CELL_CHARS",
    "MAX_ERRORS",
    "MAX_ROWS",
    "RAGGED",
    "ROW",
    "FileFormat",
    "FileProblem",
    "ParsedFile",
    "Record",
    "RecordStream",
    "decode",
    "detect_format",
    "open_records",
    "read_bytes",
    "read_csv",
    "read_file",
    "read_json",
    "read_records",
]
