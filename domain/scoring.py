"""Supplier scorecard: KPI scores, weighted total, grade and trend, from aggregates.

Pure functions only. The database computes the aggregates (see :mod:`activities.aggregates`);
everything here is arithmetic on a handful of numbers, which the tests pin with hand-computed
cases. The rules:

* on-time delivery = 100 x on-time deliveries / deliveries (納期の遵守率);
* quality = 100 x (w x accepted share + (1 - w) x (1 - defect rate)), where accepted share =
  units accepted / ordered, defect rate = (defective + returned units) / ordered and w is
  ``quality_accepted_weight`` (品質管理の状況);
* responsiveness = 100 x tickets answered and resolved within their SLA / tickets whose outcome
  is known; a ticket still open but not yet past its resolution SLA is not counted either way
  (顧客対応のスピードと質);
* cost performance = neutral - slope x (unit price change % - market price index change %) over
  the same period, clamped to 0..100 (コストパフォーマンスの変化).

* relationship = satisfaction, willingness to continue and issue resolution from the term's
  follow-up reviews (取引関係（満足度・継続意向・課題対応）; the rule is in
  :mod:`domain.relationship`).

Each KPI score is rounded to one decimal, and the weighted total is computed from the rounded
scores, so anyone can redo the sum from the figures on the page. A KPI without enough records
has no score; the total is taken over the KPIs that have one, with their weights re-scaled, and
only when those carry at least ``minimum.weight_coverage`` of the weight. The relationship KPI
is optional (:data:`models.scorecard.OPTIONAL_KPIS`): without enough follow-up reviews its
weight leaves the coverage's base too, so a contract without them gets the total, coverage and
recommendation it had before the KPI existed. A scorecard built without relationship facts at
all (``relationship=None``: nothing read them) does not list the KPI, and shows the other
KPIs' weights re-scaled to add up to 1 (:mod:`domain.weighting`).
"""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from domain.phrases import Bilingual, money, period_text, phrase_pair, plain, quantize, signed
from domain.recommendation import recommend
from domain.relationship import (
    RelationshipInput,
    RelationshipSummary,
    RepeatRate,
    relationship_kpi_parts,
    repeat_finding,
    summarise,
)
from domain.weighting import (
    WeightedTotal,
    compare_totals,
    grade_for,
    kpi_weights,
    trend_of,
    weighted_total,
)
from models.scorecard import (
    KpiName,
    KpiScore,
    MarketAssessment,
    Scorecard,
    ScoringConfig,
    Trend,
)

HUNDRED = Decimal(100)
ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class DeliveryAggregates:
    deliveries: int
    on_time: int
    quantity_ordered: Decimal
    quantity_accepted: Decimal
    quantity_returned: Decimal = ZERO
    defects: int = 0
    days_late: Decimal = ZERO  # summed over the late deliveries


@dataclass(frozen=True, slots=True)
class TicketAggregates:
    opened: int  # opened in the window
    judged: int  # resolved, or open past the resolution SLA: the outcome is known
    met: int  # first response and resolution both within their SLA
    open_within_sla: int
    median_first_response_minutes: Decimal | None


@dataclass(frozen=True, slots=True)
class Point:
    """A value of a series and the date it applies from."""

    on: date
    value: Decimal


@dataclass(frozen=True, slots=True)
class CostAggregates:
    category: str
    currency: str
    price_start: Point | None  # the price in force at the window's start (or its first)
    price_end: Point | None  # the price in force at the window's end
    price_observations: int
    index_start: Point | None  # the category price index at price_start's date
    index_end: Point | None
    index_points: int


@dataclass(frozen=True, slots=True)
class WindowAggregates:
    period_start: date  # exclusive
    period_end: date
    deliveries: DeliveryAggregates
    tickets: TicketAggregates
    cost: CostAggregates


@dataclass(frozen=True, slots=True)
class KpiResult:
    """A KPI for one window, before it is compared with the previous one."""

    name: KpiName
    score: Decimal | None
    records: int
    figures: dict[str, str]
    evidence: Bilingual


def _pct(part: Decimal | int, whole: Decimal | int) -> Decimal:
    return quantize(HUNDRED * Decimal(part) / Decimal(whole))


def _clamp(value: Decimal) -> Decimal:
    return max(ZERO, min(HUNDRED, value))


def on_time_kpi(agg: DeliveryAggregates, cfg: ScoringConfig, period: Bilingual) -> KpiResult:
    minimum = cfg.minimum.deliveries
    if agg.deliveries < minimum:
        return KpiResult(
            KpiName.ON_TIME_DELIVERY,
            None,
            agg.deliveries,
            {"deliveries": str(agg.deliveries), "minimum": str(minimum)},
            phrase_pair(
                "kpi.insufficient.deliveries",
                {"count": agg.deliveries, "period": period, "minimum": minimum},
            ),
        )
    late = agg.deliveries - agg.on_time
    rate = _pct(agg.on_time, agg.deliveries)
    avg_late = quantize(agg.days_late / late) if late else ZERO.quantize(Decimal("0.1"))
    grace: Bilingual = ("", "")
    if cfg.on_time_grace_days:
        grace = phrase_pair("kpi.on_time.grace", {"days": cfg.on_time_grace_days})
    return KpiResult(
        KpiName.ON_TIME_DELIVERY,
        rate,
        agg.deliveries,
        {
            "deliveries": str(agg.deliveries),
            "on_time": str(agg.on_time),
            "late": str(late),
            "avg_days_late": str(avg_late),
            "rate_pct": str(rate),
        },
        phrase_pair(
            "kpi.on_time",
            {
                "on_time": agg.on_time,
                "deliveries": agg.deliveries,
                "grace": grace,
                "rate": rate,
                "late": late,
                "avg_days_late": avg_late,
                "period": period,
            },
        ),
    )


def quality_kpi(agg: DeliveryAggregates, cfg: ScoringConfig, period: Bilingual) -> KpiResult:
    minimum = cfg.minimum.deliveries
    if agg.deliveries < minimum or agg.quantity_ordered <= 0:
        return KpiResult(
            KpiName.QUALITY,
            None,
            agg.deliveries,
            {"deliveries": str(agg.deliveries), "minimum": str(minimum)},
            phrase_pair(
                "kpi.insufficient.deliveries",
                {"count": agg.deliveries, "period": period, "minimum": minimum},
            ),
        )
    accepted_share = agg.quantity_accepted / agg.quantity_ordered
    defect_rate = min(Decimal(1), (agg.defects + agg.quantity_returned) / agg.quantity_ordered)
    w = cfg.quality_accepted_weight
    score = quantize(_clamp(HUNDRED * (w * accepted_share + (1 - w) * (1 - defect_rate))))
    accepted_pct = quantize(HUNDRED * accepted_share)
    defect_pct = quantize(HUNDRED * defect_rate)
    return KpiResult(
        KpiName.QUALITY,
        score,
        agg.deliveries,
        {
            "deliveries": str(agg.deliveries),
            "ordered": str(plain(agg.quantity_ordered)),
            "accepted": str(plain(agg.quantity_accepted)),
            "returned": str(plain(agg.quantity_returned)),
            "defects": str(agg.defects),
            "accepted_pct": str(accepted_pct),
            "defect_pct": str(defect_pct),
        },
        phrase_pair(
            "kpi.quality",
            {
                "accepted": plain(agg.quantity_accepted),
                "ordered": plain(agg.quantity_ordered),
                "accepted_pct": accepted_pct,
                "defects": agg.defects,
                "returned": plain(agg.quantity_returned),
                "defect_pct": defect_pct,
                "deliveries": agg.deliveries,
                "period": period,
            },
        ),
    )


def responsiveness_kpi(agg: TicketAggregates, cfg: ScoringConfig, period: Bilingual) -> KpiResult:
    minimum = cfg.minimum.tickets
    if agg.judged < minimum:
        return KpiResult(
            KpiName.RESPONSIVENESS,
            None,
            agg.opened,
            {"judged": str(agg.judged), "opened": str(agg.opened), "minimum": str(minimum)},
            phrase_pair(
                "kpi.insufficient.tickets",
                {"count": agg.judged, "opened": agg.opened, "period": period, "minimum": minimum},
            ),
        )
    rate = _pct(agg.met, agg.judged)
    median_hours = (
        quantize(agg.median_first_response_minutes / 60)
        if agg.median_first_response_minutes is not None
        else None
    )
    return KpiResult(
        KpiName.RESPONSIVENESS,
        rate,
        agg.opened,
        {
            "opened": str(agg.opened),
            "judged": str(agg.judged),
            "met": str(agg.met),
            "open_within_sla": str(agg.open_within_sla),
            "rate_pct": str(rate),
            "median_first_response_hours": str(median_hours) if median_hours is not None else "",
        },
        phrase_pair(
            "kpi.responsiveness",
            {
                "met": agg.met,
                "due": agg.judged,
                "rate": rate,
                "median_hours": median_hours if median_hours is not None else "-",
                "open_within_sla": agg.open_within_sla,
                "period": period,
            },
        ),
    )


def _change_pct(start: Decimal, end: Decimal) -> Decimal:
    return quantize(HUNDRED * (end - start) / start)


def cost_kpi(
    agg: CostAggregates, cfg: ScoringConfig, period_start: date, period_end: date
) -> KpiResult:
    records = agg.price_observations + agg.index_points
    if agg.price_start is None or agg.price_end is None:
        return KpiResult(
            KpiName.COST_PERFORMANCE,
            None,
            records,
            {"price_observations": str(agg.price_observations)},
            phrase_pair("kpi.insufficient.prices", {"date": period_end}),
        )
    from_date = max(agg.price_start.on, period_start)
    if agg.index_start is None or agg.index_end is None or agg.index_start.on >= agg.index_end.on:
        return KpiResult(
            KpiName.COST_PERFORMANCE,
            None,
            records,
            {"index_points": str(agg.index_points), "category": agg.category},
            phrase_pair(
                "kpi.insufficient.index",
                {
                    "count": agg.index_points,
                    "category": agg.category,
                    "from_date": from_date,
                    "date": period_end,
                },
            ),
        )
    price_change = _change_pct(agg.price_start.value, agg.price_end.value)
    index_change = _change_pct(agg.index_start.value, agg.index_end.value)
    gap = price_change - index_change
    score = quantize(_clamp(cfg.cost.neutral_score - cfg.cost.points_per_pct * gap))
    relation_code = (
        "kpi.cost.above" if gap > 0 else "kpi.cost.below" if gap < 0 else "kpi.cost.level"
    )
    relation = phrase_pair(relation_code, {"gap": abs(gap)})
    return KpiResult(
        KpiName.COST_PERFORMANCE,
        score,
        records,
        {
            "price_start": str(plain(agg.price_start.value)),
            "price_end": str(plain(agg.price_end.value)),
            "price_change_pct": str(price_change),
            "index_start": str(plain(agg.index_start.value)),
            "index_end": str(plain(agg.index_end.value)),
            "index_change_pct": str(index_change),
            "gap_points": str(gap),
            "from_date": from_date.isoformat(),
            "category": agg.category,
        },
        phrase_pair(
            "kpi.cost",
            {
                "price_start": money(agg.price_start.value),
                "price_end": money(agg.price_end.value),
                "currency": agg.currency,
                "price_change": signed(price_change),
                "from_date": from_date,
                "category": agg.category,
                "index_start": plain(agg.index_start.value),
                "index_end": plain(agg.index_end.value),
                "index_change": signed(index_change),
                "relation": relation,
            },
        ),
    )


def relationship_kpi(summary: RelationshipSummary, cfg: ScoringConfig) -> KpiResult:
    period = period_text(summary.period_start, summary.period_end)
    score, records, figures, evidence = relationship_kpi_parts(summary, cfg, period)
    return KpiResult(KpiName.RELATIONSHIP, score, records, figures, evidence)


def window_kpis(
    agg: WindowAggregates, cfg: ScoringConfig, relationship: RelationshipSummary | None = None
) -> tuple[KpiResult, ...]:
    period = period_text(agg.period_start, agg.period_end)
    performance = (
        on_time_kpi(agg.deliveries, cfg, period),
        quality_kpi(agg.deliveries, cfg, period),
        responsiveness_kpi(agg.tickets, cfg, period),
        cost_kpi(agg.cost, cfg, agg.period_start, agg.period_end),
    )
    if relationship is None:
        return performance
    return (*performance, relationship_kpi(relationship, cfg))


@dataclass(frozen=True, slots=True)
class ScoredWindows:
    kpis: tuple[KpiScore, ...]
    current: WeightedTotal
    previous: WeightedTotal | None
    total_change: Decimal | None
    trend: Trend | None
    compared_total: Decimal | None = None  # the current total the change was measured from


def score_windows(
    current: WindowAggregates,
    previous: WindowAggregates | None,
    cfg: ScoringConfig,
    relationship: RelationshipSummary | None = None,
) -> ScoredWindows:
    """KPIs and totals for the window and, when given, the window before it. The totals are
    compared only when the same KPIs were scored in both: a total over different KPIs is a
    different measure, and its difference would not be a trend (the relationship, scored now
    only, is left out of the comparison). The relationship KPI is the term's, scored for the
    current window only."""
    now = window_kpis(current, cfg, relationship)
    weights = kpi_weights(cfg, frozenset(k.name for k in now))
    before = window_kpis(previous, cfg) if previous is not None else None
    before_scores = {k.name: k.score for k in before} if before is not None else {}
    kpis: list[KpiScore] = []
    for k in now:
        prev_score = before_scores.get(k.name)
        start, end = (
            (relationship.period_start, relationship.period_end)
            if relationship is not None and k.name is KpiName.RELATIONSHIP
            else (current.period_start, current.period_end)
        )
        kpis.append(
            KpiScore(
                name=k.name.value,
                score=k.score,
                weight=weights[k.name],
                evidence=k.evidence[0],
                evidence_ja=k.evidence[1],
                records=k.records,
                period_start=start,
                period_end=end,
                figures=k.figures,
                previous_score=prev_score,
                change=(
                    k.score - prev_score if k.score is not None and prev_score is not None else None
                ),
            )
        )
    total_now = weighted_total(now, cfg)
    total_before = weighted_total(before, cfg) if before is not None else None
    change, compared = compare_totals(now, before, total_now, total_before, cfg)
    return ScoredWindows(
        kpis=tuple(kpis),
        current=total_now,
        previous=total_before,
        total_change=change,
        trend=trend_of(change, cfg.trend_stable_points),
        compared_total=compared,
    )


def build_scorecard(
    *,
    contract_id: str,
    term: int,
    current: WindowAggregates,
    previous: WindowAggregates | None,
    market: MarketAssessment | None,
    cfg: ScoringConfig,
    relationship: RelationshipInput | None = None,
    repeat: RepeatRate | None = None,
) -> Scorecard:
    """The whole scorecard, recommendation included, from the aggregates of two windows, the
    term's follow-up facts (the relationship KPI and its reasons; None: not read, the KPI is
    not listed) and the supplier's repeat rate (a finding in the evidence, no weight)."""
    summary = summarise(relationship, cfg) if relationship is not None else None
    scored = score_windows(current, previous, cfg, summary)
    total = scored.current.total
    grade = grade_for(total, cfg.grades) if total is not None else None
    recommendation, findings = recommend(
        kpis=scored.kpis,
        total=total,
        grade=grade,
        coverage=scored.current.coverage,
        previous_total=scored.previous.total if scored.previous else None,
        total_change=scored.total_change,
        market=market,
        cfg=cfg,
        relationship=summary,
        compared_total=scored.compared_total,
    )
    if repeat is not None:
        findings = (*findings, repeat_finding(repeat))
    return Scorecard(
        contract_id=contract_id,
        term=term,
        period_start=current.period_start,
        period_end=current.period_end,
        kpis=scored.kpis,
        total=total,
        grade=grade,
        recommendation=recommendation,
        reasons=tuple(f.en for f in findings),
        findings=findings,
        weight_coverage=scored.current.coverage,
        previous_period_start=previous.period_start if previous is not None else None,
        previous_total=scored.previous.total if scored.previous else None,
        total_change=scored.total_change,
        trend=scored.trend,
        market=market,
    )


__all__ = [
    "CostAggregates",
    "DeliveryAggregates",
    "KpiResult",
    "Point",
    "TicketAggregates",
    "WindowAggregates",
    "build_scorecard",
    "grade_for",
    "kpi_weights",
    "relationship_kpi",
    "score_windows",
    "trend_of",
    "weighted_total",
]
