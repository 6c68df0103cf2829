"""The relationship with a supplier in the renewal (issue 17, renewal-semantics.md §7): the fifth
KPI from the term's follow-up reviews, and the supplier's repeat rate. Pure functions over
:class:`models.relationship.RelationshipFacts` and the renewals' outcomes.

The relationship KPI (取引関係（満足度・継続意向・課題対応）), over the reviews recorded in the
term, scored 0..100:

* satisfaction = 25 x (mean CSAT - 1): CSAT 1 is 0, CSAT 5 is 100;
* willingness to continue = 10 x mean NPS-style answer (0-10);
* issue resolution = 100 x issues closed within ``resolution_target_days`` of being raised /
  issues judged, where an issue is judged when it is closed, or still open and older than the
  target on the scoring day (an overdue one counts against); one open within the target is not
  counted either way, like a ticket within its SLA;
* the score = the weighted mean of those with data (``RelationshipScoring`` weights), from the
  components rounded to one decimal.

Fewer recorded reviews than ``minimum.follow_ups``: insufficient data (データ不足), no score.

The trend across the term compares each review's level (satisfaction and willingness, weighted
as in the score) in the later half of the reviews with the earlier half (an odd middle review
is in neither): the difference in points, improving / stable / declining by
``trend_stable_points``. With one review there is no trend.

Repeat rate (リピート率) of a supplier = terms renewed / terms ended, over its contracts'
renewals. A term counts as renewed when its outcome is ``renewed`` (agreed new terms) or
``rolled_over`` (the contract continued by its own terms: the business stayed with the
supplier). It counts as ended without renewal when its outcome is ``not_renewed`` (a notice
ended it), ``lapsed`` (a fixed term ended with nothing agreed) or ``terminated``. An
``interim_extension`` is neither: the term continues while negotiation goes on, and the
renewal that follows it decides. A term without an outcome has not ended.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from domain.phrases import Bilingual, bilingual, finding, phrase_pair, quantize, signed
from models.relationship import FollowUpObservation, RelationshipFacts
from models.scorecard import Finding, ScoringConfig, Trend

__all__ = [
    "ENDED_NOT_RENEWED",
    "RENEWED",
    "RelationshipInput",
    "RelationshipSummary",
    "RepeatRate",
    "relationship_kpi_parts",
    "repeat_finding",
    "repeat_rate",
    "summarise",
]

HUNDRED = Decimal(100)
ZERO = Decimal(0)

RENEWED = frozenset({"renewed", "rolled_over"})
ENDED_NOT_RENEWED = frozenset({"not_renewed", "lapsed", "terminated"})


@dataclass(frozen=True, slots=True)
class RelationshipInput:
    """The term's follow-up facts and the period they were read for: ``(period_start,
    period_end]``, the term's start to the scoring day."""

    period_start: date
    period_end: date
    facts: RelationshipFacts


@dataclass(frozen=True, slots=True)
class RelationshipSummary:
    """What the reviews say, before it becomes a score or a reason."""

    period_start: date
    period_end: date
    reviews: int  # recorded reviews with a CSAT or an NPS
    csat_mean: Decimal | None
    csat_first: int | None
    csat_latest: int | None
    nps_mean: Decimal | None
    nps_first: int | None
    nps_latest: int | None
    satisfaction: Decimal | None  # 0..100
    willingness: Decimal | None  # 0..100
    resolution: Decimal | None  # 0..100, None: no issue judged
    issues: int
    closed: int
    resolved_within_target: int
    open_overdue: int
    open_within_target: int
    mean_resolution_days: Decimal | None
    trend_points: Decimal | None
    trend: Trend | None
    supplier_wants_to_continue: bool | None
    latest_review_on: date | None
    score: Decimal | None  # None: insufficient data

    @property
    def judged(self) -> int:
        return self.closed + self.open_overdue


def _mean(values: list[int]) -> Decimal | None:
    return quantize(Decimal(sum(values)) / len(values)) if values else None


def _level(review: FollowUpObservation, cfg: ScoringConfig) -> Decimal | None:
    """One review's satisfaction and willingness, 0..100, weighted as in the score."""
    w = cfg.relationship
    parts: list[tuple[Decimal, Decimal]] = []
    if review.csat is not None:
        parts.append((Decimal(25) * (review.csat - 1), w.csat_weight))
    if review.nps is not None:
        parts.append((Decimal(10) * review.nps, w.nps_weight))
    weight = sum((p[1] for p in parts), ZERO)
    if not parts or weight == 0:
        return None
    return sum((v * k for v, k in parts), ZERO) / weight


def _trend(
    reviews: list[FollowUpObservation], cfg: ScoringConfig
) -> tuple[Decimal | None, Trend | None]:
    levels = [lv for lv in (_level(r, cfg) for r in reviews) if lv is not None]
    if len(levels) < 2:
        return None, None
    half = len(levels) // 2
    earlier, later = levels[:half], levels[-half:]
    points = quantize(sum(later, ZERO) / len(later) - sum(earlier, ZERO) / len(earlier))
    if points > cfg.trend_stable_points:
        return points, Trend.IMPROVING
    if points < -cfg.trend_stable_points:
        return points, Trend.DECLINING
    return points, Trend.STABLE


def summarise(given: RelationshipInput, cfg: ScoringConfig) -> RelationshipSummary:
    facts = given.facts
    as_of = given.period_end
    reviews = [r for r in facts.follow_ups if r.csat is not None or r.nps is not None]
    reviews.sort(key=lambda r: r.held_on)
    csats = [r.csat for r in reviews if r.csat is not None]
    npss = [r.nps for r in reviews if r.nps is not None]
    csat_mean, nps_mean = _mean(csats), _mean(npss)
    satisfaction = quantize(25 * (csat_mean - 1)) if csat_mean is not None else None
    willingness = quantize(10 * nps_mean) if nps_mean is not None else None

    target = cfg.relationship.resolution_target_days
    closed = within = overdue = still_open = 0
    days_total = 0
    for issue in facts.issues:
        if issue.closed_on is not None and issue.closed_on <= as_of:
            days = max(0, (issue.closed_on - issue.opened_on).days)
            closed += 1
            days_total += days
            within += days <= target
        elif (as_of - issue.opened_on).days > target:
            overdue += 1
        else:
            still_open += 1
    judged = closed + overdue
    resolution = quantize(HUNDRED * within / judged) if judged else None
    mean_days = quantize(Decimal(days_total) / closed) if closed else None

    trend_points, trend = _trend(reviews, cfg)
    w = cfg.relationship
    score: Decimal | None = None
    if len(reviews) >= cfg.minimum.follow_ups:
        parts = [
            (v, k)
            for v, k in (
                (satisfaction, w.csat_weight),
                (willingness, w.nps_weight),
                (resolution, w.resolution_weight),
            )
            if v is not None and k > 0
        ]
        weight = sum((k for _, k in parts), ZERO)
        if parts and weight > 0:
            score = quantize(max(ZERO, min(HUNDRED, sum((v * k for v, k in parts), ZERO) / weight)))
    return RelationshipSummary(
        period_start=given.period_start,
        period_end=as_of,
        reviews=len(reviews),
        csat_mean=csat_mean,
        csat_first=csats[0] if csats else None,
        csat_latest=csats[-1] if csats else None,
        nps_mean=nps_mean,
        nps_first=npss[0] if npss else None,
        nps_latest=npss[-1] if npss else None,
        satisfaction=satisfaction,
        willingness=willingness,
        resolution=resolution,
        issues=len(facts.issues),
        closed=closed,
        resolved_within_target=within,
        open_overdue=overdue,
        open_within_target=still_open,
        mean_resolution_days=mean_days,
        trend_points=trend_points,
        trend=trend,
        supplier_wants_to_continue=facts.supplier_wants_to_continue,
        latest_review_on=facts.follow_ups[-1].held_on if facts.follow_ups else None,
        score=score,
    )


def _opt(value: Decimal | int | None) -> str:
    return str(value) if value is not None else ""


def _shown(value: Decimal | int | None) -> Decimal | int | str:
    return value if value is not None else "-"


def relationship_kpi_parts(
    s: RelationshipSummary, cfg: ScoringConfig, period: Bilingual
) -> tuple[Decimal | None, int, dict[str, str], Bilingual]:
    """The KPI's score, records, figures and evidence (English, Japanese)."""
    minimum = cfg.minimum.follow_ups
    if s.score is None:
        return (
            None,
            s.reviews,
            {"follow_ups": str(s.reviews), "minimum": str(minimum)},
            phrase_pair(
                "kpi.insufficient.follow_ups",
                {"count": s.reviews, "period": period, "minimum": minimum},
            ),
        )
    target = cfg.relationship.resolution_target_days
    if s.judged:
        resolution = phrase_pair(
            "kpi.relationship.issues",
            {
                "within": s.resolved_within_target,
                "judged": s.judged,
                "target": target,
                "mean_days": _shown(s.mean_resolution_days),
                "overdue": s.open_overdue,
            },
        )
    else:
        resolution = phrase_pair(
            "kpi.relationship.no_issues", {"target": target, "open": s.open_within_target}
        )
    if s.trend is not None and s.trend_points is not None:
        trend = phrase_pair(
            "kpi.relationship.trend",
            {"trend": bilingual(s.trend.value), "points": signed(s.trend_points)},
        )
    else:
        trend = phrase_pair("kpi.relationship.no_trend", {})
    figures = {
        "follow_ups": str(s.reviews),
        "csat_mean": _opt(s.csat_mean),
        "csat_first": _opt(s.csat_first),
        "csat_latest": _opt(s.csat_latest),
        "nps_mean": _opt(s.nps_mean),
        "nps_first": _opt(s.nps_first),
        "nps_latest": _opt(s.nps_latest),
        "satisfaction_points": _opt(s.satisfaction),
        "willingness_points": _opt(s.willingness),
        "resolution_points": _opt(s.resolution),
        "issues": str(s.issues),
        "closed": str(s.closed),
        "resolved_within_target": str(s.resolved_within_target),
        "open_overdue": str(s.open_overdue),
        "open_within_target": str(s.open_within_target),
        "mean_resolution_days": _opt(s.mean_resolution_days),
        "resolution_target_days": str(target),
        "trend_points": _opt(s.trend_points),
        "trend": s.trend.value if s.trend is not None else "",
    }
    evidence = phrase_pair(
        "kpi.relationship",
        {
            "reviews": s.reviews,
            "period": period,
            "csat_mean": _shown(s.csat_mean),
            "csat_first": _shown(s.csat_first),
            "csat_latest": _shown(s.csat_latest),
            "nps_mean": _shown(s.nps_mean),
            "nps_first": _shown(s.nps_first),
            "nps_latest": _shown(s.nps_latest),
            "trend": trend,
            "resolution": resolution,
        },
    )
    return s.score, s.reviews, figures, evidence


@dataclass(frozen=True, slots=True)
class RepeatRate:
    renewed: int
    ended: int  # renewed + ended without renewal

    @property
    def rate_pct(self) -> Decimal | None:
        return quantize(HUNDRED * self.renewed / self.ended) if self.ended else None


def repeat_rate(outcomes: Iterable[str | None]) -> RepeatRate:
    """The repeat rate over terms' outcomes (the rule is the module's docstring)."""
    renewed = ended = 0
    for outcome in outcomes:
        if outcome in RENEWED:
            renewed += 1
            ended += 1
        elif outcome in ENDED_NOT_RENEWED:
            ended += 1
    return RepeatRate(renewed=renewed, ended=ended)


def repeat_finding(rate: RepeatRate) -> Finding:
    """The repeat rate as a statement in the scorecard's evidence (it carries no weight)."""
    pct = rate.rate_pct
    if pct is None:
        return finding("rec.repeat_rate.none")
    return finding("rec.repeat_rate", renewed=rate.renewed, ended=rate.ended, rate=pct)
