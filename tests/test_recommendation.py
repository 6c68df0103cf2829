"""Renew as is / renegotiate / re-tender / terminate: every rule, its boundaries, and every
reason stated with its figure in both languages."""

from datetime import date
from decimal import Decimal

import pytest

from domain.market import MarketAggregates, SeriesEnds, assess_market
from domain.recommendation import recommend
from domain.scoring import Point
from models.scorecard import (
    Finding,
    KpiScore,
    MarketAssessment,
    Recommendation,
    RecommendationThresholds,
    ScoringConfig,
)

D = Decimal
CFG = ScoringConfig()


def kpis(*values: str | None) -> tuple[KpiScore, ...]:
    names = ("on_time_delivery", "quality", "responsiveness", "cost_performance")
    return tuple(
        KpiScore(
            name=n,
            score=D(v) if v is not None else None,
            weight=D("0.25"),
            evidence=f"{n} evidence" if v is not None else f"insufficient data for {n}",
            evidence_ja=f"{n} の根拠",
        )
        for n, v in zip(names, values, strict=True)
    )


def the_market(**kw: object) -> MarketAssessment:
    base: dict[str, object] = {
        "category": "resin",
        "period_start": date(2025, 6, 30),
        "period_end": date(2026, 6, 30),
        "observations": 12,
    }
    base.update(kw)
    return assess_market(MarketAggregates(**base), CFG.market)  # type: ignore[arg-type]


def run(
    total: str | None,
    *,
    scores: tuple[KpiScore, ...] | None = None,
    grade: str | None = "X",
    previous: str | None = None,
    change: str | None = None,
    market: MarketAssessment | None = None,
    coverage: str = "1",
    cfg: ScoringConfig = CFG,
) -> tuple[Recommendation, tuple[Finding, ...]]:
    return recommend(
        kpis=scores if scores is not None else kpis("90", "90", "90", "90"),
        total=D(total) if total is not None else None,
        grade=grade if total is not None else None,
        coverage=D(coverage),
        previous_total=D(previous) if previous is not None else None,
        total_change=D(change) if change is not None else None,
        market=market,
        cfg=cfg,
    )


def codes(findings: tuple[Finding, ...]) -> list[str]:
    return [f.code for f in findings]


def test_renew_as_is_with_every_reason() -> None:
    rec, reasons = run("88.0", grade="A")
    assert rec is Recommendation.RENEW_AS_IS
    assert [r.en for r in reasons] == [
        "weighted score 88.0 (grade A) is at least 85",
        "no KPI below 50, no fall of 10 points or more, and no market signal that calls for new "
        "terms",
    ]
    assert reasons[0].ja == "総合評価 88.0 点（A 評価）が基準の 85 点以上"
    assert reasons[0].figures == {"total": "88.0", "grade": "A", "threshold": "85"}


def test_renegotiate_on_the_score() -> None:
    rec, reasons = run("72.0", grade="B")
    assert rec is Recommendation.RENEGOTIATE
    assert reasons[0].en == (
        "weighted score 72.0 (grade B) is at least 60 but below 85: renew on renegotiated terms"
    )
    assert reasons[0].ja == (
        "総合評価 72.0 点（B 評価）は 60 点以上 85 点未満のため、条件を見直したうえで更新します"
    )


def test_retender_on_the_score() -> None:
    rec, reasons = run("50.0", grade="D")
    assert rec is Recommendation.RETENDER
    assert reasons[0].en == (
        "weighted score 50.0 (grade D) is at least 40 but below 60: invite competing offers"
    )


def test_terminate_on_the_score() -> None:
    rec, reasons = run("35.0", grade="D")
    assert rec is Recommendation.TERMINATE
    assert reasons[0].en == "weighted score 35.0 (grade D) is below 40: do not renew"
    assert reasons[0].ja == "総合評価 35.0 点（D 評価）が 40 点未満のため、更新しません"


@pytest.mark.parametrize(
    ("total", "expected"),
    [
        ("85.0", Recommendation.RENEW_AS_IS),
        ("84.9", Recommendation.RENEGOTIATE),
        ("60.0", Recommendation.RENEGOTIATE),
        ("59.9", Recommendation.RETENDER),
        ("40.0", Recommendation.RETENDER),
        ("39.9", Recommendation.TERMINATE),
    ],
)
def test_boundaries(total: str, expected: Recommendation) -> None:
    assert run(total)[0] is expected


def test_thresholds_are_configurable() -> None:
    cfg = ScoringConfig(
        recommendation=RecommendationThresholds(
            renew_min_total=D(80), renegotiate_min_total=D(50), retender_min_total=D(30)
        )
    )
    assert run("82.0", cfg=cfg)[0] is Recommendation.RENEW_AS_IS
    assert run("55.0", cfg=cfg)[0] is Recommendation.RENEGOTIATE
    assert run("35.0", cfg=cfg)[0] is Recommendation.RETENDER
    with pytest.raises(ValueError, match="must fall"):
        RecommendationThresholds(renew_min_total=D(50), renegotiate_min_total=D(60))


def test_a_kpi_below_the_floor_rules_out_renewing_as_is() -> None:
    rec, reasons = run("88.0", scores=kpis("95", "95", "45.0", "95"))
    assert rec is Recommendation.RENEGOTIATE
    assert reasons[1].en == "Responsiveness scored 45.0, below the floor of 50"
    assert reasons[1].ja == "顧客対応のスピードと質が 45.0 点で、最低基準の 50 点を下回っています"


def test_a_decline_rules_out_renewing_as_is() -> None:
    rec, reasons = run("86.0", previous="97.0", change="-11.0")
    assert rec is Recommendation.RENEGOTIATE
    assert reasons[1].en == (
        "the weighted score fell 11.0 points against the previous 12 months (97.0 → 86.0)"
    )
    assert reasons[1].ja == "総合評価が前の12ヶ月と比べて 11.0 点低下（97.0 → 86.0）"
    # 9.9 points is within the alert band.
    assert run("86.0", previous="95.9", change="-9.9")[0] is Recommendation.RENEW_AS_IS


def test_a_market_signal_rules_out_renewing_as_is() -> None:
    falling = SeriesEnds(Point(date(2025, 6, 1), D(100)), Point(date(2026, 6, 1), D(90)))
    rec, reasons = run("90.0", market=the_market(demand_index=falling))
    assert rec is Recommendation.RENEGOTIATE
    assert reasons[1].en == (
        "market, demand falling: demand in resin fell 10.0 % (demand index 100 → 90, 2025-06-01 "
        "to 2026-06-01); so reduce the committed volume"
    )
    assert reasons[1].ja.startswith("市場の状況（需要の減少）：resinの需要が 10.0 % 減少")
    assert reasons[1].ja.endswith("。このため契約のボリュームを縮小する")


def test_alternatives_in_the_market_turn_a_weak_renegotiation_into_a_retender() -> None:
    market = the_market(new_entrants=3)
    rec, reasons = run("65.0", grade="C", market=market)
    assert rec is Recommendation.RETENDER
    assert codes(reasons) == ["rec.score.renegotiate", "rec.alternatives", "rec.market"]
    assert reasons[1].en == (
        "the market offers alternatives and the weighted score 65.0 is below 70: re-tender "
        "rather than renegotiate"
    )
    # At 70 the supplier keeps its chance to renegotiate.
    assert run("70.0", market=market)[0] is Recommendation.RENEGOTIATE
    # Demand falling is no alternative supplier.
    falling = SeriesEnds(Point(date(2025, 6, 1), D(100)), Point(date(2026, 6, 1), D(90)))
    assert run("65.0", market=the_market(demand_index=falling))[0] is Recommendation.RENEGOTIATE


def test_insufficient_data_renegotiates_and_asks_for_evidence() -> None:
    rec, reasons = run(None, scores=kpis(None, None, "90", None), coverage="0.25")
    assert rec is Recommendation.RENEGOTIATE
    assert reasons[0].en == (
        "insufficient data for a weighted score: KPIs with enough data carry 25.0 % of the weight "
        "and at least 50.0 % is needed; renegotiate and ask the supplier for performance evidence"
    )
    assert reasons[0].ja.startswith("データ不足のため総合評価を算出できません")
    assert [r.en for r in reasons[1:]] == [
        "On-time delivery: insufficient data for on_time_delivery",
        "Quality: insufficient data for quality",
        "Cost performance: insufficient data for cost_performance",
    ]


def test_every_reason_carries_its_figures_in_both_languages() -> None:
    market = the_market(
        new_entrants=1,
        price_index=SeriesEnds(Point(date(2025, 6, 1), D(100)), Point(date(2026, 6, 1), D(105))),
    )
    _, reasons = run(
        "62.5",
        scores=kpis("40.0", "90", "90", "90"),
        previous="80.0",
        change="-17.5",
        market=market,
    )
    assert codes(reasons) == [
        "rec.score.renegotiate",
        "rec.alternatives",
        "rec.kpi_floor",
        "rec.decline",
        "rec.market",
        "rec.market",
    ]
    for reason in reasons:
        assert reason.en and reason.ja and reason.en != reason.ja
        for figure in ("62.5", "40.0", "17.5", "5.0"):
            if figure in reason.en:
                assert figure in reason.ja
