"""Supplier performance records: deliveries, service tickets and price history.

They are what the scorecard is computed from, so a record that cannot be true (delivered before
it was ordered, resolved before it was opened, a negative quantity) is refused with the name of
the field at fault instead of quietly skewing a KPI.
"""

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, tzinfo
from decimal import Decimal
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
)

from models.contract import Currency
from models.errors import FieldError
from models.numbers import DbInt, UnsignedZero
from models.text import Identifier, ShortText

_ISO_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_SLASH_DATE = re.compile(r"^(\d{4})/(\d{1,2})/(\d{1,2})$")  # what Excel writes in Japan


def parse_calendar_date(value: Any) -> date:
    """A date as YYYY-MM-DD (or YYYY/MM/DD). Nothing else: pydantic would read ``20260301`` as
    a Unix timestamp, and 01/02/2026 means two different days on two sides of the world."""
    if isinstance(value, datetime):
        raise ValueError(f"{value.isoformat()} is a date and time; expected a date")
    if isinstance(value, date):
        return value
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not a date (expected YYYY-MM-DD)")
    text = value.strip()
    match = _ISO_DATE.match(text) or _SLASH_DATE.match(text)
    if match is None:
        raise ValueError(f"{text!r} is not a date (expected YYYY-MM-DD)")
    try:
        return date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError as exc:
        raise ValueError(f"{text!r} is not a valid date ({exc})") from None


CalendarDate = Annotated[date, BeforeValidator(parse_calendar_date)]


def parse_timestamp(value: Any, info: ValidationInfo) -> datetime:
    """An ISO 8601 date and time, stored in UTC. A time without offset is read in the timezone
    the caller passes as ``context={"default_tz": ...}`` (an import's --timezone); without one it
    is refused, because guessing would shift SLA times by hours."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        text = value.strip()
        head, sep, tail = text.partition(" ") if "T" not in text else text.partition("T")
        if _SLASH_DATE.match(head):
            y, m, d = head.split("/")
            head = f"{int(y):04d}-{int(m):02d}-{int(d):02d}"
        try:
            parsed = datetime.fromisoformat(f"{head}{'T' if sep else ''}{tail}")
        except ValueError:
            raise ValueError(
                f"{text!r} is not a date and time (expected e.g. 2026-03-01T09:30+09:00)"
            ) from None
    else:
        raise ValueError(f"{value!r} is not a date and time")
    if parsed.tzinfo is None:
        default_tz: tzinfo | None = (info.context or {}).get("default_tz")
        if default_tz is None:
            raise ValueError(
                f"{parsed.isoformat()} has no UTC offset (write e.g. 2026-03-01T09:30+09:00)"
            )
        parsed = parsed.replace(tzinfo=default_tz)
    return parsed.astimezone(UTC)


Timestamp = Annotated[datetime, BeforeValidator(parse_timestamp)]

Quantity = Annotated[
    Decimal, Field(ge=0, max_digits=18, decimal_places=4, allow_inf_nan=False), UnsignedZero
]
PositiveQuantity = Annotated[
    Decimal, Field(gt=0, max_digits=18, decimal_places=4, allow_inf_nan=False)
]
UnitPrice = Annotated[Decimal, Field(gt=0, max_digits=18, decimal_places=4, allow_inf_nan=False)]


class PerformanceRecord(BaseModel):
    """A record about one supplier under one contract."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    supplier_id: Identifier
    contract_id: Identifier


class DeliveryCreate(PerformanceRecord):
    """One delivery: what was ordered, promised, delivered and accepted."""

    reference: ShortText | None = None  # delivery note number; unique per contract when given
    order_date: CalendarDate
    promised_date: CalendarDate
    delivered_date: CalendarDate
    quantity_ordered: PositiveQuantity
    quantity_accepted: Quantity
    quantity_returned: Quantity = Decimal(0)  # returned after acceptance (defects found in use)
    defects: DbInt = 0  # defective units found at inspection

    @field_validator("promised_date")
    @classmethod
    def _promised_after_order(cls, v: date, info: ValidationInfo) -> date:
        ordered = info.data.get("order_date")
        if ordered is not None and v < ordered:
            raise ValueError(f"{v.isoformat()} is before the order date {ordered.isoformat()}")
        return v

    @field_validator("delivered_date")
    @classmethod
    def _delivered_after_order(cls, v: date, info: ValidationInfo) -> date:
        ordered = info.data.get("order_date")
        if ordered is not None and v < ordered:
            raise ValueError(
                f"delivered {v.isoformat()}, before it was ordered on {ordered.isoformat()}"
            )
        return v

    @field_validator("quantity_accepted")
    @classmethod
    def _accepted_within_ordered(cls, v: Decimal, info: ValidationInfo) -> Decimal:
        ordered = info.data.get("quantity_ordered")
        if ordered is not None and v > ordered:
            raise ValueError(f"{v} accepted is more than the {ordered} ordered")
        return v

    @field_validator("quantity_returned")
    @classmethod
    def _returned_within_accepted(cls, v: Decimal, info: ValidationInfo) -> Decimal:
        accepted = info.data.get("quantity_accepted")
        if accepted is not None and v > accepted:
            raise ValueError(f"{v} returned is more than the {accepted} accepted")
        return v

    @field_validator("defects")
    @classmethod
    def _defects_within_ordered(cls, v: int, info: ValidationInfo) -> int:
        ordered = info.data.get("quantity_ordered")
        if ordered is not None and v > ordered:
            raise ValueError(f"{v} defective units is more than the {ordered} ordered")
        return v


SlaMinutes = Annotated[int, Field(ge=1, le=525_600)]  # at most a year


class ServiceTicketCreate(PerformanceRecord):
    """One request to the supplier (a complaint, an incident, a question) and how it was handled.

    A ticket resolved without a separate first response counts its resolution as the response.
    """

    reference: ShortText  # the ticket number; unique per contract
    severity: ShortText | None = None
    opened_at: Timestamp
    first_response_at: Timestamp | None = None
    resolved_at: Timestamp | None = None
    response_sla_minutes: SlaMinutes
    resolution_sla_minutes: SlaMinutes

    @field_validator("first_response_at")
    @classmethod
    def _response_after_opening(cls, v: datetime | None, info: ValidationInfo) -> datetime | None:
        opened = info.data.get("opened_at")
        if v is not None and opened is not None and v < opened:
            raise ValueError(
                f"{v.isoformat()} is before the ticket was opened ({opened.isoformat()})"
            )
        return v

    @field_validator("resolved_at")
    @classmethod
    def _resolved_after_opening(cls, v: datetime | None, info: ValidationInfo) -> datetime | None:
        if v is None:
            return v
        opened = info.data.get("opened_at")
        if opened is not None and v < opened:
            raise ValueError(
                f"{v.isoformat()} is before the ticket was opened ({opened.isoformat()})"
            )
        responded = info.data.get("first_response_at")
        if responded is not None and v < responded:
            raise ValueError(
                f"{v.isoformat()} is before the first response ({responded.isoformat()})"
            )
        return v


class PriceObservation(PerformanceRecord):
    """The contract's unit price in force from ``effective_date``."""

    effective_date: CalendarDate
    unit_price: UnitPrice
    currency: Currency


@dataclass(frozen=True, slots=True)
class ImportReport:
    """What an import did. ``skipped_rows`` and ``errors`` are filled only when the caller asked
    to import the valid rows of a file with errors; otherwise such a file imports nothing and
    raises :class:`models.errors.InvalidInput` with the same errors."""

    file: str
    kind: str
    rows_read: int
    inserted: int
    updated: int = 0
    skipped_rows: tuple[int, ...] = ()
    errors: tuple[FieldError, ...] = ()
    warnings: tuple[str, ...] = ()

    @property
    def stored(self) -> int:
        return self.inserted + self.updated


__all__ = [
    "CalendarDate",
    "DeliveryCreate",
    "ImportReport",
    "PerformanceRecord",
    "PriceObservation",
    "ServiceTicketCreate",
    "Timestamp",
    "parse_calendar_date",
    "parse_timestamp",
]
