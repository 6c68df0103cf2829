"""Files people bring in: contracts, suppliers, deliveries, tickets, prices and market data,
as CSV or JSON, for the CLI and the API alike. Every row is checked before anything is stored.

    import_records(session, kind=ImportKind.DELIVERIES, source=path_or_bytes, ...)
    export_csv(session, kind=...) / export_json(session, kind=...)

This package is the one place for reading a file (:mod:`._formats`), the columns of each kind
(:mod:`.layouts`), checking its rows (:mod:`._validate`, then the database checks of
:mod:`store.records`), storing it (:mod:`store.records`; :mod:`._importing` runs the steps) and
exporting it again (:mod:`.export`). ``cli/`` and ``api/`` only parse arguments, show progress
and print or answer, and import what they use from here.

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
    (:func:`store.audit.spreadsheet_safe`) and CSV imports remove exactly that apostrophe,
    so an exported file imports back unchanged.

Scale
    A file is read as a stream of rows and checked a chunk (1,000 rows) at a time: the model,
    repeats within the file (across chunks too), then the database and ownership checks with
    one query per check and chunk. Only compact rows of what will be stored are kept, nothing
    once a row is refused, and everything is checked before the first write. Contracts are
    then written in batches: COPY on PostgreSQL, multi-row INSERTs on SQLite. 100,000
    contracts take about 10 s and 300 MiB on either (bench/import_bench.py).

Storing
    Suppliers are inserted or updated; contracts are registered (an id already registered is an
    error); deliveries and tickets with a reference already stored for the contract are errors
    (a file imported twice is caught); prices and market indicators are time series, so a row
    for a date or period already stored updates it (market rows update only the indicators they
    give), and the report counts the updates.
"""

from models.imports import ImportKind, Valid
from services.imports._formats import (
    MAX_BYTES,
    MAX_CELL_CHARS,
    MAX_ERRORS,
    MAX_ROWS,
    FileFormat,
    FileProblem,
    ParsedFile,
    Record,
    decode,
    detect_format,
    read_csv,
    read_file,
    read_json,
)
from services.imports._importing import ImportProgress, import_records
from services.imports._validate import parse_model, sort_errors, validate_records
from services.imports.export import export_csv, export_json
from services.imports.layouts import (
    CONTRACT_LAYOUT,
    LAYOUTS,
    SUPPLIER_LAYOUT,
    TERM_COLUMNS,
    Layout,
)
from services.imports.performance import (
    import_deliveries,
    import_market,
    import_prices,
    import_tickets,
)

__all__ = [
    "CONTRACT_LAYOUT",
    "LAYOUTS",
    "MAX_BYTES",
    "MAX_CELL_CHARS",
    "MAX_ERRORS",
    "MAX_ROWS",
    "SUPPLIER_LAYOUT",
    "TERM_COLUMNS",
    "FileFormat",
    "FileProblem",
    "ImportKind",
    "ImportProgress",
    "Layout",
    "ParsedFile",
    "Record",
    "Valid",
    "decode",
    "detect_format",
    "export_csv",
    "export_json",
    "import_deliveries",
    "import_market",
    "import_prices",
    "import_records",
    "import_tickets",
    "parse_model",
    "read_csv",
    "read_file",
    "read_json",
    "sort_errors",
    "validate_records",
]
