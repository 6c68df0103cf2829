"""Renew as is, renegotiate, re-tender or terminate: the recommendation and every reason for it.

Pure function over the scored KPIs and the market assessment; thresholds come from
:class:`models.scorecard.RecommendationThresholds`. The rules, in order:

1. no weighted total (too little data)      -> renegotiate, asking for performance evidence;
2. total below ``retender_min_total``       -> terminate;
3. total below ``renegotiate_min_total``    -> re-tender;
4. total below ``renew_min_total``          -> renegotiate, or re-tender when the total is also
   below ``retender_with_alternatives_below`` and the market offers alternatives (competition
   intensifying or new entrants);
5. otherwise renew as is, unless a KPI is below ``kpi_floor``, the total fell by
   ``decline_alert_points`` or more against the previous window, or a market signal calls for
   new terms: then renegotiate.

Every reason is a :class:`~models.scorecard.Finding` with its figure, in both languages.
"""

from collections.abc import Sequence
from decimal import Decimal

from domain.phrases import bilingual, finding, quantize
from models.scorecard import (
    Finding,
    KpiScore,
    MarketAssessment,
    MarketSignalKind,
    Recommendation,
    ScoringConfig,
)

HUNDRED = Decimal(100)

ALTERNATIVES = frozenset({MarketSignalKind.COMPETITION_INTENSIFYING, MarketSignalKind.NEW_ENTRANTS})
"""Signals that mean other suppliers could take the business."""


def _market_reasons(market: MarketAssessment | None) -> list[Finding]:
    if market is None:
        return []
    return [
        finding(
            "rec.market",
            signal=bilingual(s.kind.value),
            observation=(s.observation.en, s.observation.ja),
            implication=(s.implication.en, s.implication.ja),
        )
        for s in market.signals
    ]


def recommend(
    *,
    kpis: Sequence[KpiScore],
    total: Decimal | None,
    grade: str | None,
    coverage: Decimal,
    previous_total: Decimal | None,
    total_change: Decimal | None,
    market: MarketAssessment | None,
    cfg: ScoringConfig,
) -> tuple[Recommendation, tuple[Finding, ...]]:
    th = cfg.recommendation
    market_reasons = _market_reasons(market)

    if total is None or grade is None:
        reasons = [
            finding(
                "rec.insufficient",
                coverage=quantize(coverage * HUNDRED),
                minimum=quantize(cfg.minimum.weight_coverage * HUNDRED),
            )
        ]
        reasons += [
            finding("rec.kpi_missing", kpi=bilingual(k.name), evidence=(k.evidence, k.evidence_ja))
            for k in kpis
            if k.score is None
        ]
        return Recommendation.RENEGOTIATE, (*reasons, *market_reasons)

    floors = [
        finding("rec.kpi_floor", kpi=bilingual(k.name), score=k.score, floor=th.kpi_floor)
        for k in kpis
        if k.score is not None and k.score < th.kpi_floor
    ]
    decline: list[Finding] = []
    if (
        total_change is not None
        and previous_total is not None
        and total_change <= -th.decline_alert_points
    ):
        decline.append(
            finding(
                "rec.decline",
                points=abs(total_change),
                months=cfg.window_months,
                previous=previous_total,
                total=total,
            )
        )
    context = [*floors, *decline, *market_reasons]

    if total < th.retender_min_total:
        lead = finding(
            "rec.score.terminate", total=total, grade=grade, threshold=th.retender_min_total
        )
        return Recommendation.TERMINATE, (lead, *context)

    if total < th.renegotiate_min_total:
        lead = finding(
            "rec.score.retender",
            total=total,
            grade=grade,
            low=th.retender_min_total,
            high=th.renegotiate_min_total,
        )
        return Recommendation.RETENDER, (lead, *context)

    if total < th.renew_min_total:
        lead = finding(
            "rec.score.renegotiate",
            total=total,
            grade=grade,
            low=th.renegotiate_min_total,
            high=th.renew_min_total,
        )
        has_alternatives = market is not None and any(
            s.kind in ALTERNATIVES for s in market.signals
        )
        if has_alternatives and total < th.retender_with_alternatives_below:
            alternatives = finding(
                "rec.alternatives", total=total, threshold=th.retender_with_alternatives_below
            )
            return Recommendation.RETENDER, (lead, alternatives, *context)
        return Recommendation.RENEGOTIATE, (lead, *context)

    lead = finding("rec.score.renew", total=total, grade=grade, threshold=th.renew_min_total)
    if context:
        return Recommendation.RENEGOTIATE, (lead, *context)
    clean = finding("rec.renew_clean", floor=th.kpi_floor, points=th.decline_alert_points)
    return Recommendation.RENEW_AS_IS, (lead, clean)
