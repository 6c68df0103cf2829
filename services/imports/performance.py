"""Importing performance records and market indicators, as ``renewals data import-*`` does.

    import_deliveries(session, path)                    # all rows, or nothing
    import_deliveries(session, path, skip_invalid=True)  # the valid rows; the report lists the rest

The reading, checking and storing are :func:`services.imports.import_records`, shared with the
API and the supplier and contract imports.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, tzinfo
from pathlib import Path

from sqlalchemy.orm import Session

from models.imports import ImportKind
from models.performance import ImportReport
from models.users import CurrentUser
from services.imports._formats import detect_format
from services.imports._importing import import_records
from store.records import BATCH


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
        user: CurrentUser | None = None,  # who imports: only their own contracts' records
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
            user=user,
        )


import_deliveries = PerformanceImport(ImportKind.DELIVERIES)
import_tickets = PerformanceImport(ImportKind.SERVICE_TICKETS)
import_prices = PerformanceImport(ImportKind.PRICE_HISTORY)
import_market = PerformanceImport(ImportKind.MARKET_INDICATORS)

IMPORTERS: dict[str, Callable[..., ImportReport]] = {
    "deliveries": import_deliveries,
    "tickets": import_tickets,
    "prices": import_prices,
    "market": import_market,
}

__all__ = [
    "IMPORTERS",
    "PerformanceImport",
    "import_deliveries",
    "import_market",
    "import_prices",
    "import_tickets",
]
