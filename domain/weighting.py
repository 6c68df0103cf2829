"""The scorecard's weighted total: the KPIs' weights as a scorecard lists them, the total over
the KPIs with a score and the share of the weight they carry, the grade, and how two windows'
totals compare (the rules are in :mod:`domain.scoring`'s docstring). Pure arithmetic on the
KPI results."""

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from domain.phrases import quantize
from models.scorecard import OPTIONAL_KPIS, GradeBounds, KpiName, ScoringConfig, Trend

__all__ = [
    "WeightedTotal",
    "compare_totals",
    "grade_for",
    "kpi_weights",
    "trend_of",
    "weighted_total",
]

ZERO = Decimal(0)


class Scored(Protocol):
    """A KPI result: its name and its score (None: insufficient data)."""

    @property
    def name(self) -> KpiName: ...

    @property
    def score(self) -> Decimal | None: ...


def kpi_weights(cfg: ScoringConfig, names: frozenset[KpiName]) -> dict[KpiName, Decimal]:
    """The weights of the KPIs a scorecard lists: as configured when it lists them all, else
    re-scaled to add up to 1 over those it lists (0.315 of 0.9 reads as 0.35)."""
    weights = cfg.weights.as_dict()
    listed = sum((w for k, w in weights.items() if k in names), ZERO)
    if len(names) == len(weights) or listed <= 0 or listed == 1:
        return {k: w for k, w in weights.items() if k in names}
    return {k: w / listed for k, w in weights.items() if k in names}


@dataclass(frozen=True, slots=True)
class WeightedTotal:
    total: Decimal | None
    coverage: Decimal  # share of the weight carried by KPIs with a score
    scored: frozenset[KpiName]


def weighted_total(
    kpis: Sequence[Scored],
    cfg: ScoringConfig,
    *,
    leave_out: frozenset[KpiName] = frozenset(),
) -> WeightedTotal:
    """The total over the KPIs with a score (less ``leave_out``), their weights re-scaled. The
    coverage is their share of the weight; an optional KPI without a score (the relationship
    with too few reviews) is left out of the base as well as the total."""
    listed = tuple(k for k in kpis if k.name not in leave_out)
    weights = kpi_weights(cfg, frozenset(k.name for k in listed))
    scored = [(k, weights[k.name]) for k in listed if k.score is not None and weights[k.name] > 0]
    base = sum(
        (weights[k.name] for k in listed if k.score is None and k.name in OPTIONAL_KPIS), ZERO
    )
    carried = sum((w for _, w in scored), ZERO)
    whole = sum(weights.values(), ZERO) - base
    coverage = carried / whole if base and whole > 0 else carried
    names = frozenset(k.name for k, _ in scored)
    if not scored or coverage < cfg.minimum.weight_coverage:
        return WeightedTotal(None, coverage, names)
    total = sum((k.score * w for k, w in scored if k.score is not None), ZERO) / carried
    return WeightedTotal(quantize(total), coverage, names)


def grade_for(total: Decimal, bounds: GradeBounds | None = None) -> str:
    bounds = bounds or GradeBounds()
    if total >= bounds.a:
        return "A"
    if total >= bounds.b:
        return "B"
    if total >= bounds.c:
        return "C"
    return "D"


def trend_of(change: Decimal | None, stable_points: Decimal) -> Trend | None:
    if change is None:
        return None
    if change > stable_points:
        return Trend.IMPROVING
    if change < -stable_points:
        return Trend.DECLINING
    return Trend.STABLE


def compare_totals(
    now: Sequence[Scored],
    before: Sequence[Scored] | None,
    total_now: WeightedTotal,
    total_before: WeightedTotal | None,
    cfg: ScoringConfig,
) -> tuple[Decimal | None, Decimal | None]:
    """(change, the current total it was measured from), or (None, None) when the windows'
    totals are different measures."""
    if (
        before is None
        or total_before is None
        or total_now.total is None
        or total_before.total is None
    ):
        return None, None
    if total_now.scored == total_before.scored:
        return total_now.total - total_before.total, total_now.total
    if total_now.scored - OPTIONAL_KPIS == total_before.scored:
        without = weighted_total(now, cfg, leave_out=OPTIONAL_KPIS)
        if without.total is not None and without.scored == total_before.scored:
            return without.total - total_before.total, without.total
    return None, None
