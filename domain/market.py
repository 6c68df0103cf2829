"""Market assessment: what moved in the supplier's category, and what it means for the terms.

Pure functions on aggregates (the database finds each series' value at the start and end of the
window, see :mod:`activities.aggregates`). The signals and their meaning are the renewal
playbook's market table:

    競争が激化 (competition intensifying)  -> review price and service levels
    需要の減少 (demand falling)            -> reduce the committed volume
    新規参入者の出現 (new entrants)        -> re-evaluate exclusivity
    price index up / down                 -> price adjustment, indexation clause with a cap

A change is measured only between two different periods: one value says nothing about a trend,
and the assessment says so instead of reporting 0 %.
"""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from domain.phrases import bilingual, finding, period_text, quantize, signed, suppliers
from domain.scoring import Point
from models.scorecard import (
    Finding,
    MarketAssessment,
    MarketSignal,
    MarketSignalKind,
    MarketThresholds,
)

HUNDRED = Decimal(100)


@dataclass(frozen=True, slots=True)
class SeriesEnds:
    """One indicator's value at the window's start (the last one on or before it, else the
    first inside the window) and at its end (the last one on or before it)."""

    start: Point | None
    end: Point | None

    @property
    def measurable(self) -> bool:
        return self.start is not None and self.end is not None and self.start.on < self.end.on


NO_SERIES = SeriesEnds(None, None)


@dataclass(frozen=True, slots=True)
class MarketAggregates:
    category: str
    period_start: date  # exclusive
    period_end: date
    observations: int  # indicator rows inside the window
    price_index: SeriesEnds = NO_SERIES
    demand_index: SeriesEnds = NO_SERIES
    competitors: SeriesEnds = NO_SERIES
    new_entrants: int | None = None  # summed over the window; None: never reported


def change_pct(series: SeriesEnds) -> Decimal | None:
    if not series.measurable or series.start is None or series.end is None:
        return None
    if series.start.value == 0:
        return None
    return quantize(HUNDRED * (series.end.value - series.start.value) / series.start.value)


def _ends(series: SeriesEnds) -> tuple[Decimal | None, Decimal | None]:
    return (
        series.start.value if series.start else None,
        series.end.value if series.end else None,
    )


def _int(value: Decimal | None) -> int | None:
    return int(value) if value is not None else None


def _signal(
    kind: MarketSignalKind, figure: Decimal, observation: Finding, implication_code: str
) -> MarketSignal:
    return MarketSignal(
        kind=kind,
        figure=figure,
        observation=observation,
        implication=finding(implication_code),
    )


def assess_market(agg: MarketAggregates, thresholds: MarketThresholds) -> MarketAssessment:
    period = period_text(agg.period_start, agg.period_end)
    category = agg.category
    signals: list[MarketSignal] = []
    notes: list[Finding] = []
    if agg.observations == 0 and not (
        agg.price_index.start or agg.demand_index.start or agg.competitors.start
    ):
        notes.append(finding("market.none", category=category, period=period))

    price_change = change_pct(agg.price_index)
    demand_change = change_pct(agg.demand_index)
    competitor_change = change_pct(agg.competitors)

    if competitor_change is not None and competitor_change >= thresholds.competition_increase_pct:
        c = agg.competitors
        assert c.start is not None and c.end is not None
        signals.append(
            _signal(
                MarketSignalKind.COMPETITION_INTENSIFYING,
                competitor_change,
                finding(
                    "market.competition",
                    category=category,
                    start=int(c.start.value),
                    end=int(c.end.value),
                    change=signed(competitor_change),
                    from_date=c.start.on,
                    to_date=c.end.on,
                ),
                "market.competition.implication",
            )
        )
    elif (
        agg.competitors.measurable
        and agg.competitors.start is not None
        and agg.competitors.end is not None
        and agg.competitors.start.value == 0
        and agg.competitors.end.value > 0
    ):
        c = agg.competitors
        assert c.start is not None and c.end is not None
        signals.append(
            _signal(
                MarketSignalKind.COMPETITION_INTENSIFYING,
                c.end.value,
                finding(
                    "market.competition.from_none",
                    category=category,
                    end=int(c.end.value),
                    from_date=c.start.on,
                    to_date=c.end.on,
                ),
                "market.competition.implication",
            )
        )

    if demand_change is not None and demand_change <= -thresholds.demand_fall_pct:
        d = agg.demand_index
        assert d.start is not None and d.end is not None
        signals.append(
            _signal(
                MarketSignalKind.DEMAND_FALLING,
                demand_change,
                finding(
                    "market.demand",
                    category=category,
                    change=abs(demand_change),
                    start=d.start.value,
                    end=d.end.value,
                    from_date=d.start.on,
                    to_date=d.end.on,
                ),
                "market.demand.implication",
            )
        )

    if agg.new_entrants is not None and agg.new_entrants >= thresholds.new_entrants_min:
        signals.append(
            _signal(
                MarketSignalKind.NEW_ENTRANTS,
                Decimal(agg.new_entrants),
                finding(
                    "market.entrants",
                    count=agg.new_entrants,
                    suppliers=suppliers(agg.new_entrants),
                    category=category,
                    period=period,
                ),
                "market.entrants.implication",
            )
        )

    if price_change is not None and abs(price_change) >= thresholds.price_index_move_pct:
        p = agg.price_index
        assert p.start is not None and p.end is not None
        up = price_change > 0
        signals.append(
            _signal(
                MarketSignalKind.PRICE_INDEX_UP if up else MarketSignalKind.PRICE_INDEX_DOWN,
                price_change,
                finding(
                    "market.price_up" if up else "market.price_down",
                    category=category,
                    change=abs(price_change),
                    start=p.start.value,
                    end=p.end.value,
                    from_date=p.start.on,
                    to_date=p.end.on,
                ),
                "market.price_up.implication" if up else "market.price_down.implication",
            )
        )

    if not notes:
        for key, series in (
            ("price_index", agg.price_index),
            ("demand_index", agg.demand_index),
            ("competitor_count", agg.competitors),
        ):
            if not series.measurable:
                notes.append(
                    finding("market.series_short", indicator=bilingual(key), period=period)
                )

    price_start, price_end = _ends(agg.price_index)
    demand_start, demand_end = _ends(agg.demand_index)
    comp_start, comp_end = _ends(agg.competitors)
    return MarketAssessment(
        category=category,
        period_start=agg.period_start,
        period_end=agg.period_end,
        observations=agg.observations,
        price_index_start=price_start,
        price_index_end=price_end,
        price_index_change_pct=price_change,
        demand_index_start=demand_start,
        demand_index_end=demand_end,
        demand_change_pct=demand_change,
        competitors_start=_int(comp_start),
        competitors_end=_int(comp_end),
        competitor_change_pct=competitor_change,
        new_entrants=agg.new_entrants,
        signals=tuple(signals),
        notes=tuple(notes),
    )
