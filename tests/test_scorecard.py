"""Supplier scorecard: hand-computed KPIs (see tests/performance_data.py for the working), the
same numbers from SQL aggregates on SQLite and PostgreSQL, and what too little data looks like.
"""

import uuid
from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import Engine, event

from domain.scoring import (
    DeliveryAggregates,
    TicketAggregates,
    WindowAggregates,
    build_scorecard,
    grade_for,
    score_windows,
    trend_of,
)
from domain.series import cost_from
from models.scorecard import (
    GradeBounds,
    KpiName,
    KpiWeights,
    MinimumData,
    Recommendation,
    ScoringConfig,
    Trend,
)
from store import aggregates
from store.assessment import assess_contract
from store.db import SessionFactory, make_session_factory, transaction
from tests.factories import add_deliveries, register
from tests.performance_data import (
    AS_OF,
    CURRENT_START,
    EXPECTED_CURRENT,
    EXPECTED_PREVIOUS,
    JUDGED_AT,
    PREVIOUS_START,
    insert_golden,
    pg_sessions_fixture,  # noqa: F401 - the pg_sessions fixture
)

D = Decimal
CFG = ScoringConfig()


def scores(window: WindowAggregates, cfg: ScoringConfig = CFG) -> dict[str, Decimal | None]:
    return {k.name: k.score for k in score_windows(window, None, cfg).kpis}


# ---------------------------------------------------------------------------- pure, golden


def test_golden_kpis_hand_computed() -> None:
    assert scores(EXPECTED_CURRENT) == {
        "on_time_delivery": D("75.0"),
        "quality": D("97.5"),
        "responsiveness": D("50.0"),
        "cost_performance": D("68.0"),
    }
    assert scores(EXPECTED_PREVIOUS) == {
        "on_time_delivery": D("100.0"),
        "quality": D("100.0"),
        "responsiveness": D("100.0"),
        "cost_performance": D("88.0"),
    }


def test_golden_scorecard_total_grade_trend_and_evidence() -> None:
    card = build_scorecard(
        contract_id="C-G",
        term=1,
        current=EXPECTED_CURRENT,
        previous=EXPECTED_PREVIOUS,
        market=None,
        cfg=CFG,
    )
    assert card.total == D("75.7")  # 26.25 + 29.25 + 10 + 10.2
    assert card.grade == "B"
    assert card.weight_coverage == 1
    assert card.previous_total == D("98.2")  # 35 + 30 + 20 + 13.2
    assert card.total_change == D("-22.5")
    assert card.trend is Trend.DECLINING
    assert (card.period_start, card.period_end) == (CURRENT_START, AS_OF)
    assert card.previous_period_start == PREVIOUS_START

    on_time = card.kpi(KpiName.ON_TIME_DELIVERY)
    assert on_time is not None
    assert on_time.records == 8
    assert on_time.previous_score == D("100.0") and on_time.change == D("-25.0")
    assert on_time.figures["late"] == "2" and on_time.figures["avg_days_late"] == "3.5"
    assert on_time.evidence == (
        "6 of 8 deliveries arrived on or before the promised date (75.0 %); 2 late, by 3.5 days "
        "on average; 2025-07-01 to 2026-06-30"
    )
    assert on_time.evidence_ja == (
        "2025年7月1日〜2026年6月30日の納品 8 件のうち 6 件が納期どおり（遵守率 75.0 %）。"
        "遅延 2 件、平均 3.5 日の遅れ"
    )
    quality = card.kpi(KpiName.QUALITY)
    assert quality is not None
    assert quality.figures["accepted_pct"] == "98.3" and quality.figures["defect_pct"] == "3.3"
    assert "885 of 900 units accepted (98.3 %)" in quality.evidence
    responsiveness = card.kpi(KpiName.RESPONSIVENESS)
    assert responsiveness is not None
    assert responsiveness.records == 7
    assert responsiveness.figures["median_first_response_hours"] == "2.0"
    assert "3 of 6 tickets" in responsiveness.evidence
    assert "1 still open within their SLA and not counted" in responsiveness.evidence
    cost = card.kpi(KpiName.COST_PERFORMANCE)
    assert cost is not None
    assert cost.figures["price_change_pct"] == "5.0"
    assert cost.figures["index_change_pct"] == "2.0"
    assert cost.figures["gap_points"] == "3.0"
    assert "3.0 points above the market" in cost.evidence
    assert "市場より 3.0 ポイント割高に推移" in cost.evidence_ja


def test_quality_weight_is_configurable() -> None:
    # Accepted share only: 885 / 900 = 98.3.
    cfg = ScoringConfig(quality_accepted_weight=D(1))
    assert scores(EXPECTED_CURRENT, cfg)["quality"] == D("98.3")
    # Defect rate only: 1 - 30 / 900 = 96.7.
    cfg = ScoringConfig(quality_accepted_weight=D(0))
    assert scores(EXPECTED_CURRENT, cfg)["quality"] == D("96.7")


def test_weights_and_grades_are_configurable() -> None:
    cfg = ScoringConfig(
        weights=KpiWeights(
            on_time_delivery=D("0.5"),
            quality=D("0.5"),
            responsiveness=D(0),
            cost_performance=D(0),
        ),
        grades=GradeBounds(a=D(90), b=D(86), c=D(80)),
    )
    card = build_scorecard(
        contract_id="C", term=1, current=EXPECTED_CURRENT, previous=None, market=None, cfg=cfg
    )
    assert card.total == D("86.3")  # (75.0 + 97.5) / 2 = 86.25
    assert card.grade == "B"


def test_weights_must_add_up_to_one() -> None:
    with pytest.raises(ValueError, match="add up to 1"):
        KpiWeights(on_time_delivery=D("0.5"))


def test_grade_bounds() -> None:
    assert [grade_for(D(x)) for x in ("85", "84.9", "70", "69.9", "55", "54.9", "0")] == [
        "A",
        "B",
        "B",
        "C",
        "C",
        "D",
        "D",
    ]


def test_trend_band() -> None:
    assert trend_of(D("2.0"), D(2)) is Trend.STABLE
    assert trend_of(D("2.1"), D(2)) is Trend.IMPROVING
    assert trend_of(D("-2.1"), D(2)) is Trend.DECLINING
    assert trend_of(None, D(2)) is None


# ---------------------------------------------------------------------------- too little data


NO_TICKETS = TicketAggregates(0, 0, 0, 0, None)


def test_too_few_deliveries_say_so_with_the_count() -> None:
    window = replace(
        EXPECTED_CURRENT,
        deliveries=DeliveryAggregates(4, 4, D(400), D(400)),
        tickets=NO_TICKETS,
    )
    result = score_windows(window, None, CFG)
    on_time, quality, responsiveness, _ = result.kpis
    for kpi in (on_time, quality):
        assert kpi.score is None  # not 0, not 100
        assert kpi.evidence.startswith("insufficient data: 4 deliveries in 2025-07-01 to")
        assert "at least 5 needed" in kpi.evidence
        assert kpi.evidence_ja.startswith("データ不足")
    assert responsiveness.score is None
    assert "0 tickets with a known outcome" in responsiveness.evidence


def test_total_over_the_kpis_with_data_when_they_carry_enough_weight() -> None:
    # No tickets and no prices: on-time and quality carry 0.65 of the weight, more than 0.5.
    window = replace(
        EXPECTED_CURRENT,
        tickets=NO_TICKETS,
        cost=replace(EXPECTED_CURRENT.cost, price_start=None, price_end=None),
    )
    card = build_scorecard(
        contract_id="C", term=1, current=window, previous=None, market=None, cfg=CFG
    )
    assert card.weight_coverage == D("0.65")
    assert card.total == D("85.4")  # (75.0 x .35 + 97.5 x .30) / .65 = 55.5 / .65 = 85.38
    cost = card.kpi(KpiName.COST_PERFORMANCE)
    assert cost is not None and cost.score is None
    assert cost.evidence == "insufficient data: no unit price recorded up to 2026-06-30"


def test_no_total_below_the_weight_coverage_minimum() -> None:
    window = replace(
        EXPECTED_CURRENT,
        deliveries=DeliveryAggregates(2, 2, D(10), D(10)),
    )
    card = build_scorecard(
        contract_id="C", term=1, current=window, previous=None, market=None, cfg=CFG
    )
    assert card.weight_coverage == D("0.35")  # responsiveness and cost only
    assert card.total is None and card.grade is None
    assert card.recommendation is Recommendation.RENEGOTIATE
    assert card.reasons[0].startswith("insufficient data for a weighted score: KPIs with enough")
    assert any("2 deliveries" in r for r in card.reasons)


def test_index_with_one_period_is_insufficient() -> None:
    cost = replace(
        EXPECTED_CURRENT.cost, index_end=EXPECTED_CURRENT.cost.index_start, index_points=1
    )
    result = score_windows(replace(EXPECTED_CURRENT, cost=cost), None, CFG)
    assert result.kpis[3].score is None
    assert "two different periods are needed" in result.kpis[3].evidence


def test_no_trend_when_the_windows_scored_different_kpis() -> None:
    previous = replace(EXPECTED_PREVIOUS, tickets=NO_TICKETS)
    card = build_scorecard(
        contract_id="C",
        term=1,
        current=EXPECTED_CURRENT,
        previous=previous,
        market=None,
        cfg=CFG,
    )
    assert card.previous_total is not None
    assert card.total_change is None and card.trend is None


def test_minimums_are_configurable() -> None:
    cfg = ScoringConfig(minimum=MinimumData(deliveries=9))
    assert scores(EXPECTED_CURRENT, cfg)["on_time_delivery"] is None


# ---------------------------------------------------------------------------- SQL aggregates


def _window_from_db(session, contract_id: str, start: date, end: date, category: str):
    return WindowAggregates(
        period_start=start,
        period_end=end,
        deliveries=aggregates.delivery_aggregates(
            session, contract_id=contract_id, period_start=start, period_end=end
        ),
        tickets=aggregates.ticket_aggregates(
            session, contract_id=contract_id, period_start=start, period_end=end, as_of=JUDGED_AT
        ),
        # Read up to the scoring day, as assess_contract does for both windows.
        cost=cost_from(
            aggregates.price_series(session, contract_id=contract_id, upto=AS_OF),
            aggregates.market_series(session, category=category, upto=AS_OF).price_index,
            category=category,
            currency="JPY",
            period_start=start,
            period_end=end,
        ),
    )


def check_golden_aggregates(sessions: SessionFactory, suffix: str) -> None:
    contract_id, supplier_id, category = f"C-G{suffix}", f"S-G{suffix}", f"golden{suffix}"
    with transaction(sessions) as s:
        insert_golden(s, contract_id=contract_id, supplier_id=supplier_id, category=category)
    with transaction(sessions) as s:
        current = _window_from_db(s, contract_id, CURRENT_START, AS_OF, category)
        previous = _window_from_db(s, contract_id, PREVIOUS_START, CURRENT_START, category)
        card = assess_contract(s, contract_id=contract_id, term=1, as_of=AS_OF, cfg=CFG)
    expected_cost = replace(EXPECTED_CURRENT.cost, category=category)
    assert current == replace(EXPECTED_CURRENT, cost=expected_cost)
    assert previous == replace(
        EXPECTED_PREVIOUS, cost=replace(EXPECTED_PREVIOUS.cost, category=category)
    )
    assert card.total == D("75.7") and card.previous_total == D("98.2")
    assert card.recommendation is Recommendation.RENEGOTIATE
    # No follow-up review in the term: the relationship KPI is listed without a score, and the
    # total, coverage and trend are those of the four performance KPIs, as before it existed.
    relationship = card.kpi(KpiName.RELATIONSHIP)
    assert relationship is not None and relationship.score is None
    assert relationship.evidence_ja.startswith("データ不足")
    assert card.weight_coverage == 1 and card.total_change == D("-22.5")
    assert [f.code for f in card.findings][-2:] == ["rec.relationship.none", "rec.repeat_rate.none"]


def test_golden_aggregates_on_sqlite(sessions: SessionFactory) -> None:
    check_golden_aggregates(sessions, "")


@pytest.mark.postgres
def test_golden_aggregates_on_postgres(pg_sessions: SessionFactory) -> None:
    check_golden_aggregates(pg_sessions, f"-{uuid.uuid4().hex[:8]}")


def test_grace_days_count_slightly_late_deliveries_as_on_time(sessions: SessionFactory) -> None:
    with transaction(sessions) as s:
        insert_golden(s)
    with transaction(sessions) as s:
        agg = aggregates.delivery_aggregates(
            s, contract_id="C-G", period_start=CURRENT_START, period_end=AS_OF, grace_days=2
        )
    assert (agg.on_time, agg.days_late) == (7, D(5))  # 2 days late is on time with 2 days' grace


def test_the_aggregate_query_is_one_statement_over_the_index(sqlite_engine: Engine) -> None:
    """The window is summed by the database in one query, whatever its size: no rows are
    loaded, and SQLite walks the (contract_id, delivered_date) index."""
    sessions = make_session_factory(sqlite_engine)
    with transaction(sessions) as s:
        register(s, id="C-IX")
        add_deliveries(s, contract_id="C-IX", supplier_id="S-1", end=AS_OF, count=50)
    statements: list[tuple[str, tuple[object, ...]]] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        statements.append((statement, parameters))

    event.listen(sqlite_engine, "before_cursor_execute", record)
    try:
        with transaction(sessions) as s:
            agg = aggregates.delivery_aggregates(
                s, contract_id="C-IX", period_start=CURRENT_START, period_end=AS_OF
            )
            queries = [(st, p) for st, p in statements if "deliveries" in st]
            plan = (
                s.connection()
                .exec_driver_sql("EXPLAIN QUERY PLAN " + queries[0][0], queries[0][1])
                .all()
            )
    finally:
        event.remove(sqlite_engine, "before_cursor_execute", record)
    assert agg.deliveries == 50
    assert len(queries) == 1
    assert "COVERING INDEX ix_deliveries_scorecard" in " ".join(str(r) for r in plan)
