"""The kinds of file people import (and export), and a checked row of one.

Shared by :mod:`services.imports` (reading and checking files) and :mod:`store.records` (the
database checks and writes of an import), so both speak of the same kinds and rows.
"""

from dataclasses import dataclass
from enum import StrEnum
from typing import Generic, TypeVar

from pydantic import BaseModel

M = TypeVar("M", bound=BaseModel)


class ImportKind(StrEnum):
    SUPPLIERS = "suppliers"
    CONTRACTS = "contracts"
    DELIVERIES = "deliveries"
    SERVICE_TICKETS = "service-tickets"
    PRICE_HISTORY = "price-history"
    MARKET_INDICATORS = "market-indicators"


@dataclass(frozen=True, slots=True)
class Valid(Generic[M]):
    """A record that passed its model's checks, with the row of the file it came from."""

    row: int
    value: M


__all__ = ["ImportKind", "Valid"]
