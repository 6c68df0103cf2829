"""Small dated series (prices of a contract, a category's market indicators) and the window
figures the scorecard asks of them. :mod:`store.aggregates` reads the rows once per scorecard;
everything asked of them afterwards is answered here, in memory, with bisect.

Windows are half-open, (start, end], like the scorecard's period.
"""

from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import date

from domain.market import MarketAggregates, SeriesEnds
from domain.scoring import CostAggregates, Point


@dataclass(frozen=True, slots=True)
class Series:
    """A dated series in date order. Prices and market indicators are small (a row per price
    change, a row per month), so a scorecard reads each once, up to its last day, and asks
    both of its windows here instead of sending a query per question."""

    points: tuple[Point, ...] = ()
    dates: tuple[date, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "dates", tuple(p.on for p in self.points))

    def at(self, on: date) -> Point | None:
        """The value in force on ``on``: the last one dated on or before it."""
        i = bisect_right(self.dates, on)
        return self.points[i - 1] if i else None

    def first_after(self, after: date, upto: date) -> Point | None:
        i = bisect_right(self.dates, after)
        if i < len(self.points) and self.points[i].on <= upto:
            return self.points[i]
        return None

    def count_between(self, after: date, upto: date) -> int:
        """Points in (after, upto]."""
        return max(0, bisect_right(self.dates, upto) - bisect_right(self.dates, after))

    def ends(self, period_start: date, period_end: date) -> SeriesEnds:
        """The value at the window's start (the last on or before it, else the first inside
        it) and at its end (the last on or before it)."""
        return SeriesEnds(
            start=self.at(period_start) or self.first_after(period_start, period_end),
            end=self.at(period_end),
        )


@dataclass(frozen=True, slots=True)
class MarketSeries:
    """A category's indicators up to a day: one series per indicator (its reported values
    only), and the rows themselves for the window counts."""

    price_index: Series
    demand_index: Series
    competitors: Series
    periods: tuple[date, ...]  # every row, reported values or not
    new_entrants: tuple[tuple[date, int], ...]  # rows that reported it


def cost_from(
    prices: Series,
    index: Series,
    *,
    category: str,
    currency: str,
    period_start: date,
    period_end: date,
) -> CostAggregates:
    start = prices.at(period_start) or prices.first_after(period_start, period_end)
    observations = prices.count_between(period_start, period_end) + (
        1 if start is not None and start.on <= period_start else 0
    )
    # The index is compared over the same span as the price: from the day the first price of
    # the window applies.
    from_date = max(start.on, period_start) if start is not None else period_start
    index_ends = index.ends(from_date, period_end)
    index_points = index.count_between(from_date, period_end) + (
        1 if index_ends.start is not None and index_ends.start.on <= from_date else 0
    )
    return CostAggregates(
        category=category,
        currency=currency,
        price_start=start,
        price_end=prices.at(period_end),
        price_observations=observations,
        index_start=index_ends.start,
        index_end=index_ends.end,
        index_points=index_points,
    )


def market_from(
    market: MarketSeries, *, category: str, period_start: date, period_end: date
) -> MarketAggregates:
    observations = bisect_right(market.periods, period_end) - bisect_right(
        market.periods, period_start
    )
    entrants = [n for on, n in market.new_entrants if period_start < on <= period_end]
    return MarketAggregates(
        category=category,
        period_start=period_start,
        period_end=period_end,
        observations=max(0, observations),
        price_index=market.price_index.ends(period_start, period_end),
        demand_index=market.demand_index.ends(period_start, period_end),
        competitors=market.competitors.ends(period_start, period_end),
        new_entrants=sum(entrants) if entrants else None,
    )
