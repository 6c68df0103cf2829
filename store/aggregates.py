"""The figures behind the scorecard and the market assessment.

Deliveries and tickets, the tables that grow with the business, are counted by the database:
each function returns a handful of numbers however many rows the window holds (the benchmark
runs a million deliveries). Deliveries are summed from the index on (contract_id,
delivered_date, ...the aggregated columns) alone; tickets use (contract_id, opened_at). Prices
and market indicators are small series (a row per price change, a row per month), read once
per scorecard through (contract_id, effective_date) and (category, period) into a
:class:`Series` that both windows ask. Amounts are NUMERIC on PostgreSQL and exact text on
SQLite, where they are cast to REAL inside the aggregate: the sums feed ratios rounded to one
decimal, and the totals are rounded back to the column's four places.

Windows are half-open, (start, end], like the scorecard's period: a delivery on the start date
belongs to the window before.
"""

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, literal, not_, or_, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import DateTime, Float

from domain.phrases import plain
from domain.scoring import (
    DeliveryAggregates,
    Point,
    TicketAggregates,
)
from domain.series import MarketSeries, Series
from models.tables import (
    DeliveryRow,
    MarketIndicatorRow,
    PriceHistoryRow,
    ServiceTicketRow,
)

_FOUR_PLACES = Decimal("0.0001")


# ---------------------------------------------------------------------------- portable SQL


class as_number(FunctionElement[Any]):
    """An ExactDecimal column as a number: itself on PostgreSQL, CAST(... AS REAL) on SQLite."""

    type = Float()
    inherit_cache = True
    name = "as_number"


@compiles(as_number)
def _as_number_default(element: as_number, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.clauses, **kw)


@compiles(as_number, "sqlite")
def _as_number_sqlite(element: as_number, compiler: SQLCompiler, **kw: Any) -> str:
    return f"CAST({compiler.process(element.clauses, **kw)} AS REAL)"


class seconds_between(FunctionElement[Any]):
    """Seconds from the first timestamp to the second."""

    type = Float()
    inherit_cache = True
    name = "seconds_between"


def _two(element: FunctionElement[Any], compiler: SQLCompiler, **kw: Any) -> tuple[str, str]:
    first, second = list(element.clauses)
    return compiler.process(first, **kw), compiler.process(second, **kw)


@compiles(seconds_between)
def _seconds_default(element: seconds_between, compiler: SQLCompiler, **kw: Any) -> str:
    a, b = _two(element, compiler, **kw)
    return f"EXTRACT(EPOCH FROM ({b} - {a}))"


@compiles(seconds_between, "sqlite")
def _seconds_sqlite(element: seconds_between, compiler: SQLCompiler, **kw: Any) -> str:
    a, b = _two(element, compiler, **kw)
    # julianday() is a double: round so that exactly 4 h does not come out as 14399.99 s.
    return f"ROUND((julianday({b}) - julianday({a})) * 86400.0)"


class days_between(FunctionElement[Any]):
    """Days from the first date to the second."""

    type = Float()
    inherit_cache = True
    name = "days_between"


@compiles(days_between)
def _days_default(element: days_between, compiler: SQLCompiler, **kw: Any) -> str:
    a, b = _two(element, compiler, **kw)
    return f"({b} - {a})"


@compiles(days_between, "sqlite")
def _days_sqlite(element: days_between, compiler: SQLCompiler, **kw: Any) -> str:
    a, b = _two(element, compiler, **kw)
    return f"(julianday({b}) - julianday({a}))"


class plus_days(FunctionElement[Any]):
    """A date column plus a whole number of days (a literal, not a bound value)."""

    inherit_cache = True
    name = "plus_days"


@compiles(plus_days)
def _plus_days_default(element: plus_days, compiler: SQLCompiler, **kw: Any) -> str:
    column, days = _two(element, compiler, **{**kw, "literal_binds": True})
    return f"({column} + {days})"


@compiles(plus_days, "sqlite")
def _plus_days_sqlite(element: plus_days, compiler: SQLCompiler, **kw: Any) -> str:
    column, days = _two(element, compiler, **{**kw, "literal_binds": True})
    return f"date({column}, '+' || {days} || ' days')"


def _decimal(value: Any) -> Decimal:
    if value is None:
        return Decimal(0)
    if isinstance(value, Decimal):
        return plain(value)
    # SQLite hands back a double: go through repr, then drop the float noise below the
    # column's four places.
    return plain(Decimal(repr(value)).quantize(_FOUR_PLACES))


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


def window_timestamps(period_start: date, period_end: date) -> tuple[datetime, datetime]:
    """The (start, end] window of dates as [from, to) instants in UTC."""
    return _start_of(period_start + timedelta(days=1)), _start_of(period_end + timedelta(days=1))


# ---------------------------------------------------------------------------- deliveries


def delivery_aggregates(
    session: Session,
    *,
    contract_id: str,
    period_start: date,
    period_end: date,
    grace_days: int = 0,
) -> DeliveryAggregates:
    d = DeliveryRow
    on_time: ColumnElement[bool] = (
        d.delivered_date <= plus_days(d.promised_date, grace_days)
        if grace_days
        else d.delivered_date <= d.promised_date
    )
    stmt = select(
        func.count(),
        func.sum(case((on_time, 1), else_=0)),
        func.sum(case((on_time, 0), else_=days_between(d.promised_date, d.delivered_date))),
        func.sum(as_number(d.quantity_ordered)),
        func.sum(as_number(d.quantity_accepted)),
        func.sum(as_number(d.quantity_returned)),
        func.sum(d.defects),
    ).where(
        d.contract_id == contract_id,
        d.delivered_date > period_start,
        d.delivered_date <= period_end,
    )
    count, on_time_count, days_late, ordered, accepted, returned, defects = session.execute(
        stmt
    ).one()
    return DeliveryAggregates(
        deliveries=int(count),
        on_time=int(on_time_count or 0),
        days_late=_decimal(days_late),
        quantity_ordered=_decimal(ordered),
        quantity_accepted=_decimal(accepted),
        quantity_returned=_decimal(returned),
        defects=int(defects or 0),
    )


# ---------------------------------------------------------------------------- service tickets


def ticket_aggregates(
    session: Session,
    *,
    contract_id: str,
    period_start: date,
    period_end: date,
    as_of: datetime,
) -> TicketAggregates:
    """Tickets opened in the window, judged on what is known at ``as_of`` (the scoring time):
    a ticket resolved since the window closed is judged on its resolution, one still open past
    its resolution SLA has missed it, one still open within its SLA is not judged yet."""
    t = ServiceTicketRow
    opened_from, opened_to = window_timestamps(period_start, period_end)
    at = literal(as_of, DateTime(timezone=True))
    in_window = and_(
        t.contract_id == contract_id, t.opened_at >= opened_from, t.opened_at < opened_to
    )
    resolved = and_(t.resolved_at.is_not(None), t.resolved_at <= at)
    # A resolution without a separate first response answered the ticket too.
    responded_at = func.coalesce(t.first_response_at, t.resolved_at)
    responded = and_(responded_at.is_not(None), responded_at <= at)
    overdue = and_(
        not_(resolved), seconds_between(t.opened_at, at) >= t.resolution_sla_minutes * 60
    )
    judged = or_(resolved, overdue)
    met = and_(
        resolved,
        responded,
        seconds_between(t.opened_at, responded_at) <= t.response_sla_minutes * 60,
        seconds_between(t.opened_at, t.resolved_at) <= t.resolution_sla_minutes * 60,
    )
    opened, judged_count, met_count = session.execute(
        select(
            func.count(),
            func.sum(case((judged, 1), else_=0)),
            func.sum(case((met, 1), else_=0)),
        ).where(in_window)
    ).one()
    opened = int(opened)
    judged_count = int(judged_count or 0)
    return TicketAggregates(
        opened=opened,
        judged=judged_count,
        met=int(met_count or 0),
        open_within_sla=opened - judged_count,
        median_first_response_minutes=_median_first_response(
            session, in_window=in_window, responded=responded, responded_at=responded_at, at=at
        ),
    )


def _median_first_response(
    session: Session,
    *,
    in_window: ColumnElement[bool],
    responded: ColumnElement[bool],
    responded_at: ColumnElement[Any],
    at: ColumnElement[Any],
) -> Decimal | None:
    # The middle one or two values by ORDER BY ... LIMIT/OFFSET: the same SQL on both
    # databases (SQLite has no percentile function), and only two rows leave the database.
    t = ServiceTicketRow
    n = session.scalar(select(func.count()).where(in_window, responded)) or 0
    if n == 0:
        return None
    seconds = seconds_between(t.opened_at, responded_at)
    middle = session.scalars(
        select(seconds)
        .where(in_window, responded)
        .order_by(seconds)
        .limit(1 if n % 2 else 2)
        .offset((n - 1) // 2)
    ).all()
    values = [_decimal(v) for v in middle]
    return sum(values, Decimal(0)) / len(values) / 60


# ---------------------------------------------------------------------------- prices and indexes


def _point(on: date, value: Any) -> Point:
    # Normalised so that PostgreSQL's NUMERIC(22, 4) and SQLite's text give the same figures.
    return Point(on=on, value=plain(Decimal(value)))


def price_series(session: Session, *, contract_id: str, upto: date) -> Series:
    p = PriceHistoryRow
    rows = session.execute(
        select(p.effective_date, p.unit_price)
        .where(p.contract_id == contract_id, p.effective_date <= upto)
        .order_by(p.effective_date)
    )
    return Series(tuple(_point(on, value) for on, value in rows))


def market_series(session: Session, *, category: str, upto: date) -> MarketSeries:
    m = MarketIndicatorRow
    rows = session.execute(
        select(m.period, m.price_index, m.demand_index, m.competitor_count, m.new_entrants)
        .where(m.category == category, m.period <= upto)
        .order_by(m.period)
    ).all()

    def series(column: int) -> Series:
        return Series(tuple(_point(r[0], r[column]) for r in rows if r[column] is not None))

    return MarketSeries(
        price_index=series(1),
        demand_index=series(2),
        competitors=series(3),
        periods=tuple(r[0] for r in rows),
        new_entrants=tuple((r[0], int(r[4])) for r in rows if r[4] is not None),
    )
