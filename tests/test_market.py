"""Market assessment: each signal of the renewal playbook's market table, at and just short of
its threshold, what it says in both languages, and the SQL that finds each series' ends."""

import uuid
from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from domain.market import MarketAggregates, SeriesEnds, assess_market
from domain.scoring import Point
from domain.series import Series, market_from
from models.scorecard import MarketSignalKind, MarketThresholds
from store import aggregates
from store.db import SessionFactory, transaction
from tests.performance_data import (
    AS_OF,
    CURRENT_START,
    EXPECTED_MARKET,
    MARKET,
    insert_market,
    pg_sessions_fixture,  # noqa: F401 - the pg_sessions fixture
)

D = Decimal
TH = MarketThresholds()
START, END = date(2025, 6, 1), date(2026, 6, 1)


def series(start: str, end: str) -> SeriesEnds:
    return SeriesEnds(Point(START, D(start)), Point(END, D(end)))


def market(**kw: object) -> MarketAggregates:
    base: dict[str, object] = {
        "category": "resin",
        "period_start": CURRENT_START,
        "period_end": AS_OF,
        "observations": 12,
    }
    base.update(kw)
    return MarketAggregates(**base)  # type: ignore[arg-type]


def kinds(agg: MarketAggregates, th: MarketThresholds = TH) -> list[MarketSignalKind]:
    return [s.kind for s in assess_market(agg, th).signals]


def test_competition_intensifying_means_review_price_and_service() -> None:
    a = assess_market(market(competitors=series("10", "12")), TH)  # +20.0 %: the threshold
    (signal,) = a.signals
    assert signal.kind is MarketSignalKind.COMPETITION_INTENSIFYING
    assert signal.figure == D("20.0")
    assert a.competitors_start == 10 and a.competitors_end == 12
    assert signal.observation.en == (
        "competing suppliers in resin went from 10 to 12 (+20.0 %) between 2025-06-01 and "
        "2026-06-01"
    )
    assert signal.observation.ja == (
        "resinの競合サプライヤーが 10 社から 12 社に増加（+20.0 %、2025年6月1日〜2026年6月1日）"
    )
    assert signal.implication.en == "review price and service levels"
    assert signal.implication.ja == "価格やサービスの条件を見直す"
    # 10 -> 11 is +10 %: no signal.
    assert kinds(market(competitors=series("10", "11"))) == []


def test_competition_from_no_competitor_at_all() -> None:
    (signal,) = assess_market(market(competitors=series("0", "3")), TH).signals
    assert signal.kind is MarketSignalKind.COMPETITION_INTENSIFYING
    assert signal.figure == 3
    assert "from none to 3" in signal.observation.en


def test_demand_falling_means_reduce_volume() -> None:
    a = assess_market(market(demand_index=series("100", "95")), TH)  # -5.0 %: the threshold
    (signal,) = a.signals
    assert signal.kind is MarketSignalKind.DEMAND_FALLING
    assert signal.figure == D("-5.0")
    assert a.demand_change_pct == D("-5.0")
    assert signal.observation.en.startswith("demand in resin fell 5.0 % (demand index 100 → 95")
    assert signal.observation.ja.startswith("resinの需要が 5.0 % 減少")
    assert signal.implication.en == "reduce the committed volume"
    assert signal.implication.ja == "契約のボリュームを縮小する"
    assert kinds(market(demand_index=series("100", "95.1"))) == []  # -4.9 %
    assert kinds(market(demand_index=series("100", "120"))) == []  # rising demand


def test_new_entrants_mean_reevaluate_exclusivity() -> None:
    (signal,) = assess_market(market(new_entrants=2), TH).signals
    assert signal.kind is MarketSignalKind.NEW_ENTRANTS
    assert signal.figure == 2
    assert signal.observation.en == "2 new suppliers entered resin from 2025-07-01 to 2026-06-30"
    assert signal.observation.ja == "2025年7月1日〜2026年6月30日にresinへ 2 社が新たに参入"
    assert signal.implication.en == "re-evaluate exclusivity"
    assert signal.implication.ja == "契約の独占条件を再評価する"
    assert kinds(market(new_entrants=0)) == []
    assert kinds(market(new_entrants=2), MarketThresholds(new_entrants_min=3)) == []


def test_price_index_up_means_indexation_with_a_cap() -> None:
    a = assess_market(market(price_index=series("100", "103")), TH)  # +3.0 %
    (signal,) = a.signals
    assert signal.kind is MarketSignalKind.PRICE_INDEX_UP
    assert signal.figure == D("3.0")
    assert signal.implication.en == (
        "agree a price adjustment clause that follows the index, with a cap"
    )
    assert signal.implication.ja == "指数に連動し、上限を設けた価格調整条項を定める"
    assert kinds(market(price_index=series("100", "102.9"))) == []


def test_price_index_down_means_pass_the_fall_on() -> None:
    (signal,) = assess_market(market(price_index=series("200", "190")), TH).signals  # -5.0 %
    assert signal.kind is MarketSignalKind.PRICE_INDEX_DOWN
    assert signal.figure == D("-5.0")
    assert signal.observation.en.startswith("the resin price index fell 5.0 % (200 → 190")
    assert signal.implication.ja == "下落分を単価に反映し、以後は上限付きで指数に連動させる"


def test_all_signals_together_in_playbook_order() -> None:
    agg = market(
        competitors=series("8", "11"),
        demand_index=series("100", "92"),
        new_entrants=2,
        price_index=series("100", "104"),
    )
    assert kinds(agg) == [
        MarketSignalKind.COMPETITION_INTENSIFYING,
        MarketSignalKind.DEMAND_FALLING,
        MarketSignalKind.NEW_ENTRANTS,
        MarketSignalKind.PRICE_INDEX_UP,
    ]


def test_thresholds_are_configurable() -> None:
    th = MarketThresholds(
        competition_increase_pct=D(5), demand_fall_pct=D(1), price_index_move_pct=D(1)
    )
    agg = market(
        competitors=series("10", "11"),
        demand_index=series("100", "98"),
        price_index=series("100", "101"),
    )
    assert len(kinds(agg, th)) == 3


def test_no_data_is_said_not_scored() -> None:
    a = assess_market(market(observations=0), TH)
    assert a.signals == ()
    (note,) = a.notes
    assert note.en == (
        "no market indicators for resin in 2025-07-01 to 2026-06-30: the market was not assessed"
    )
    assert note.ja.startswith("2025年7月1日〜2026年6月30日のresinの市場データがないため")
    assert a.price_index_change_pct is None  # not 0 %


def test_a_single_value_measures_no_change() -> None:
    one = SeriesEnds(Point(END, D(100)), Point(END, D(100)))
    a = assess_market(market(observations=1, price_index=one), TH)
    assert a.price_index_change_pct is None
    assert [n.figures["indicator"] for n in a.notes] == [
        "price index",
        "demand index",
        "competing suppliers",
    ]
    assert "fewer than two periods" in a.notes[0].en


# ---------------------------------------------------------------------------- SQL


def check_market_sql(sessions: SessionFactory, category: str) -> None:
    with transaction(sessions) as s:
        insert_market(s, category=category, rows=MARKET)
        # Another category's rows must not leak in.
        insert_market(s, category=f"{category}-other", rows=[("2026-01-01", "500", "1", 99, 9)])
    with transaction(sessions) as s:
        agg = market_from(
            aggregates.market_series(s, category=category, upto=AS_OF),
            category=category,
            period_start=CURRENT_START,
            period_end=AS_OF,
        )
    assert agg == replace(EXPECTED_MARKET, category=category)
    assessment = assess_market(agg, TH)
    assert [s.kind for s in assessment.signals] == [MarketSignalKind.NEW_ENTRANTS]
    assert assessment.competitor_change_pct == D("10.0")
    assert assessment.demand_change_pct == D("-4.0")
    assert assessment.price_index_change_pct == D("2.0")


def test_market_aggregates_on_sqlite(sessions: SessionFactory) -> None:
    check_market_sql(sessions, "golden")


@pytest.mark.postgres
def test_market_aggregates_on_postgres(pg_sessions: SessionFactory) -> None:
    check_market_sql(pg_sessions, f"golden-{uuid.uuid4().hex[:8]}")


def test_series_start_falls_back_to_the_first_value_in_the_window(
    sessions: SessionFactory,
) -> None:
    with transaction(sessions) as s:
        insert_market(
            s,
            category="late",
            rows=[("2025-09-01", "100", None, None, None), ("2026-03-01", "110", None, None, None)],
        )
    with transaction(sessions) as s:
        agg = market_from(
            aggregates.market_series(s, category="late", upto=AS_OF),
            category="late",
            period_start=CURRENT_START,
            period_end=AS_OF,
        )
    assert agg.price_index == SeriesEnds(
        Point(date(2025, 9, 1), D(100)), Point(date(2026, 3, 1), D(110))
    )
    assert agg.demand_index == SeriesEnds(None, None)
    assert agg.new_entrants is None  # never reported, which is not "none entered"


def test_series_answers_like_the_queries_it_replaces() -> None:
    """A Series is asked what the per-window queries used to ask: the value in force on a
    day, the first one inside (after, upto], how many fall there, and a window's two ends."""
    pts = tuple(Point(date(2026, m, 1), D(100 + m)) for m in (2, 4, 6))
    s = Series(pts)
    assert s.at(date(2026, 1, 31)) is None
    assert s.at(date(2026, 2, 1)) == pts[0]  # on the day: in force
    assert s.at(date(2026, 5, 31)) == pts[1]
    assert s.at(date(2030, 1, 1)) == pts[2]
    assert s.first_after(date(2026, 2, 1), date(2026, 3, 31)) is None  # (after, upto] is empty
    assert s.first_after(date(2026, 2, 1), date(2026, 4, 1)) == pts[1]
    assert s.count_between(date(2026, 2, 1), date(2026, 6, 1)) == 2  # the start is excluded
    assert s.count_between(date(2026, 6, 1), date(2026, 2, 1)) == 0
    assert s.ends(date(2026, 1, 1), date(2026, 5, 1)) == SeriesEnds(pts[0], pts[1])
    assert Series().ends(date(2026, 1, 1), date(2026, 5, 1)) == SeriesEnds(None, None)
