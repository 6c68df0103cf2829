"""Importing performance records and market indicators: now :mod:`activities.file_import`.

    import_deliveries(session, path)                    # all rows, or nothing
    import_deliveries(session, path, skip_invalid=True)  # the valid rows; the report lists the rest

Kept so existing imports keep working; the reading, checking and storing live in
:mod:`activities.file_import`, shared with the API and the supplier and contract imports.
"""

from collections.abc import Callable

from models.performance import ImportReport
from services.imports.files import (
    BATCH,
    FILE,
    ROW,
    import_deliveries,
    import_market,
    import_prices,
    import_tickets,
)

IMPORTERS: dict[str, Callable[..., ImportReport]] = {
    "deliveries": import_deliveries,
    "tickets": import_tickets,
    "prices": import_prices,
    "market": import_market,
}

__all__ = [
    "BATCH",
    "FILE",
    "IMPORTERS",
    "ROW",
    "import_deliveries",
    "import_market",
    "import_prices",
    "import_tickets",
]
