"""Exporting records in the import layout, as CSV or JSON, so an export imports back unchanged:
CSV cells starting with ``= + - @`` get an apostrophe (:func:`store.audit.spreadsheet_safe`),
which a CSV import removes again."""

import csv
import io
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from sqlalchemy.orm import Session

from models.imports import ImportKind
from services.imports.layouts import LAYOUTS
from store import records
from store.audit import spreadsheet_safe


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


def export_csv(session: Session, *, kind: ImportKind) -> Iterator[str]:
    """The records as CSV in the import layout (so an export imports back), a line at a time,
    every text cell made safe for spreadsheets."""
    columns = LAYOUTS[kind].columns
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(columns)
    for record in records.read(session, kind, columns):
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
        for record in records.read(session, kind, columns)
    ]


def _json_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    return value


__all__ = ["export_csv", "export_json"]
