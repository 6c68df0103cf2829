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
   ``decline_alert_points`` or more against the previous window, the relationship across the
   term's follow-up reviews declined by ``relationship.decline_alert_points`` or more, or a
   market signal calls for new terms: then renegotiate.

Before all of these: a supplier that said at the term's latest follow-up review that it does
not want to continue (SupplierIntent ``no``) leads to re-tender, whatever the score: renewing
with a supplier that is leaving is not on offer, and a re-tender secures the supply (the
reason says so first; the score and the other reasons follow as facts, without the verdict
the score alone would have led to).

The term's follow-up trend is cited in every recommendation made with the relationship facts
(first and latest satisfaction and willingness, the trend in points), or that no review was
recorded.

Every reason is a :class:`~models.scorecard.Finding` with its figure, in both languages.
"""

from collections.abc import Sequence
from decimal import Decimal

from domain.phrases import bilingual, finding, period_text, quantize, signed
from domain.relationship import RelationshipSummary
from models.scorecard import (
    Finding,
    KpiScore,
    MarketAssessment,
    MarketSignalKind,
    Recommendation,
    ScoringConfig,
    Trend,
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


def _show(value: Decimal | int | None) -> Decimal | int | str:
    return value if value is not None else "-"


def relationship_reason(s: RelationshipSummary) -> Finding:
    """The term's follow-up trend as a reason: what the reviews said first and last."""
    if s.reviews == 0:
        return finding("rec.relationship.none", period=period_text(s.period_start, s.period_end))
    if s.trend is None or s.trend_points is None:
        return finding(
            "rec.relationship.single",
            date=s.latest_review_on or s.period_end,
            csat=_show(s.csat_latest),
            nps=_show(s.nps_latest),
        )
    return finding(
        "rec.relationship.trend",
        reviews=s.reviews,
        csat_first=_show(s.csat_first),
        csat_latest=_show(s.csat_latest),
        nps_first=_show(s.nps_first),
        nps_latest=_show(s.nps_latest),
        trend=bilingual(s.trend.value),
        points=signed(s.trend_points),
    )


def _relationship_declined(s: RelationshipSummary | None, cfg: ScoringConfig) -> bool:
    return (
        s is not None
        and s.trend is Trend.DECLINING
        and s.trend_points is not None
        and s.trend_points <= -cfg.relationship.decline_alert_points
    )


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
    relationship: RelationshipSummary | None = None,
    compared_total: Decimal | None = None,
) -> tuple[Recommendation, tuple[Finding, ...]]:
    """The recommendation and its reasons. ``relationship`` is what the term's follow-up
    reviews said (None: not read); ``compared_total`` the current total the change was
    measured from when it differs from ``total`` (the relationship left out)."""
    recommendation, reasons = _recommend(
        kpis=kpis,
        total=total,
        grade=grade,
        coverage=coverage,
        previous_total=previous_total,
        total_change=total_change,
        market=market,
        cfg=cfg,
        relationship=relationship,
        compared_total=compared_total,
    )
    if relationship is None:
        return recommendation, reasons
    if relationship.supplier_wants_to_continue is False:
        lead = finding(
            "rec.supplier_not_continuing",
            date=relationship.latest_review_on or relationship.period_end,
        )
        return Recommendation.RETENDER, (lead, *_as_facts(reasons, total, grade, coverage, cfg))
    return recommendation, reasons


def _as_facts(
    reasons: tuple[Finding, ...],
    total: Decimal | None,
    grade: str | None,
    coverage: Decimal,
    cfg: ScoringConfig,
) -> list[Finding]:
    """The score's reasons under a re-tender the supplier's leaving decided: the score and
    the data as facts, without the verdicts they would have led to (renew, renegotiate...)."""
    kept: list[Finding] = []
    for r in reasons:
        if r.code.startswith("rec.score.") and total is not None and grade is not None:
            kept.append(finding("rec.score", total=total, grade=grade))
        elif r.code == "rec.insufficient":
            kept.append(
                finding(
                    "rec.insufficient.noted",
                    coverage=quantize(coverage * HUNDRED),
                    minimum=quantize(cfg.minimum.weight_coverage * HUNDRED),
                )
            )
        elif r.code != "rec.renew_clean":
            kept.append(r)
    return kept


def _recommend(
    *,
    kpis: Sequence[KpiScore],
    total: Decimal | None,
    grade: str | None,
    coverage: Decimal,
    previous_total: Decimal | None,
    total_change: Decimal | None,
    market: MarketAssessment | None,
    cfg: ScoringConfig,
    relationship: RelationshipSummary | None,
    compared_total: Decimal | None,
) -> tuple[Recommendation, tuple[Finding, ...]]:
    th = cfg.recommendation
    market_reasons = _market_reasons(market)
    declined = _relationship_declined(relationship, cfg)
    follow_up = [relationship_reason(relationship)] if relationship is not None else []

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
        return Recommendation.RENEGOTIATE, (*reasons, *follow_up, *market_reasons)

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
        partial = compared_total is not None and compared_total != total
        decline.append(
            finding(
                "rec.decline.performance" if partial else "rec.decline",
                points=abs(total_change),
                months=cfg.window_months,
                previous=previous_total,
                total=compared_total if partial and compared_total is not None else total,
            )
        )
    # A declining relationship is a reason against renewing as is; otherwise the follow-up
    # trend is cited after the decision's reasons.
    context = [*floors, *decline, *(follow_up if declined else []), *market_reasons]
    cited = [] if declined else follow_up

    if total < th.retender_min_total:
        lead = finding(
            "rec.score.terminate", total=total, grade=grade, threshold=th.retender_min_total
        )
        return Recommendation.TERMINATE, (lead, *context, *cited)

    if total < th.renegotiate_min_total:
        lead = finding(
            "rec.score.retender",
            total=total,
            grade=grade,
            low=th.retender_min_total,
            high=th.renegotiate_min_total,
        )
        return Recommendation.RETENDER, (lead, *context, *cited)

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
            return Recommendation.RETENDER, (lead, alternatives, *context, *cited)
        return Recommendation.RENEGOTIATE, (lead, *context, *cited)

    lead = finding("rec.score.renew", total=total, grade=grade, threshold=th.renew_min_total)
    if context:
        return Recommendation.RENEGOTIATE, (lead, *context, *cited)
    clean = finding("rec.renew_clean", floor=th.kpi_floor, points=th.decline_alert_points)
    return Recommendation.RENEW_AS_IS, (lead, clean, *cited)
