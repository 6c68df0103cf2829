"""Market indicators per supplier category: the facts behind the market assessment.

One row per category and period (a month, usually): the category's price index, its demand
index, how many suppliers compete in it and how many entered it in that period. A row may carry
only some of them (a price index published monthly, a competitor count surveyed yearly).
"""

import re
from datetime import date
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from models.performance import parse_calendar_date
from models.text import LongText, ShortText

_MONTH = re.compile(r"^(\d{4})[-/](\d{1,2})$")


def parse_period(value: Any) -> date:
    """A period as YYYY-MM (its first day) or a full date."""
    if isinstance(value, str):
        match = _MONTH.match(value.strip())
        if match is not None:
            month = int(match[2])
            if not 1 <= month <= 12:
                raise ValueError(f"{value.strip()!r} is not a valid month")
            return date(int(match[1]), month, 1)
    try:
        return parse_calendar_date(value)
    except ValueError:
        raise ValueError(f"{value!r} is not a period (expected YYYY-MM or YYYY-MM-DD)") from None


Period = Annotated[date, BeforeValidator(parse_period)]

IndexValue = Annotated[Decimal, Field(gt=0, max_digits=18, decimal_places=4, allow_inf_nan=False)]


class MarketIndicatorCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    category: ShortText
    period: Period
    price_index: IndexValue | None = None
    demand_index: IndexValue | None = None
    competitor_count: Annotated[int, Field(ge=0, le=1_000_000)] | None = None
    new_entrants: Annotated[int, Field(ge=0, le=1_000_000)] | None = None
    source: LongText = ""

    @model_validator(mode="after")
    def _says_something(self) -> "MarketIndicatorCreate":
        if (
            self.price_index is None
            and self.demand_index is None
            and self.competitor_count is None
            and self.new_entrants is None
        ):
            raise ValueError(
                "a row needs at least one of price_index, demand_index, competitor_count, "
                "new_entrants"
            )
        return self


__all__ = ["MarketIndicatorCreate", "Period", "parse_period"]
