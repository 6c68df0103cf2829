"""Business-day calendars: public holidays of a jurisdiction, its weekend, and closures.

Public holidays come from the maintained ``holidays`` library (it knows Japan's 振替休日 and
国民の休日, US federal and state holidays, and the EU countries with their regions). On top of it:
the Japanese year-end closure (12/29-1/3), which most Japanese companies observe although it is
not a public holiday, and closure days an organisation configures.

A calendar is built in an activity (the holiday tables are data that may change between library
releases) and the workflow only ever sees the dates computed from it.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cache
from typing import Any

import holidays

from models.jurisdictions import split_jurisdiction, validate_jurisdiction


@cache
def _holidays(country: str, subdivision: str | None) -> Any:
    return holidays.country_holidays(country, subdiv=subdivision)


@dataclass(frozen=True)
class BusinessCalendar:
    jurisdiction: str
    closures: frozenset[date] = frozenset()
    year_end_closure: bool = False  # 12/29-1/3, Japan's 年末年始
    _table: Any = field(default=None, compare=False, repr=False)

    @classmethod
    def for_jurisdiction(
        cls,
        jurisdiction: str,
        *,
        closures: Iterable[date] = (),
        year_end_closure: bool | None = None,
    ) -> "BusinessCalendar":
        code = validate_jurisdiction(jurisdiction)
        country, subdivision = split_jurisdiction(code)
        return cls(
            jurisdiction=code,
            closures=frozenset(closures),
            year_end_closure=(country == "JP") if year_end_closure is None else year_end_closure,
            _table=_holidays(country, subdivision),
        )

    def why_closed(self, day: date) -> str | None:
        """The reason ``day`` is not a business day, or None when it is one."""
        if day.weekday() in getattr(self._table, "weekend", {5, 6}):
            return day.strftime("%A")
        name = self._table.get(day) if self._table is not None else None
        if name:
            return f"public holiday: {name}"
        if self.year_end_closure and (
            (day.month == 12 and day.day >= 29) or (day.month == 1 and day.day <= 3)
        ):
            return "year-end closure"
        if day in self.closures:
            return "organisation closure day"
        return None

    def is_business_day(self, day: date) -> bool:
        return self.why_closed(day) is None

    def on_or_before(self, day: date) -> tuple[date, list[str]]:
        """The last business day on or before ``day``, and why each skipped day was skipped."""
        skipped: list[str] = []
        while (reason := self.why_closed(day)) is not None:
            skipped.append(f"{day.isoformat()} {reason}")
            day -= timedelta(days=1)
        return day, skipped

    def business_days_before(self, day: date, count: int) -> date:
        """The business day ``count`` business days before ``day`` (``day`` itself excluded)."""
        while count > 0:
            day -= timedelta(days=1)
            if self.is_business_day(day):
                count -= 1
        return day

    def business_days_after(self, day: date, count: int) -> date:
        while count > 0:
            day += timedelta(days=1)
            if self.is_business_day(day):
                count -= 1
        return day
