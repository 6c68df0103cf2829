"""Supplier scorecard, market assessment and renewal recommendation, and the configuration that
drives them.

These types travel in workflow payloads (the ``score_renewal`` activity result, draft requests,
the ``status`` query), so they hold no I/O. Fields added after the first release all have
defaults: histories recorded by older workers must still decode.

Every statement the engine makes about a supplier is a :class:`Finding`: a stable code, the
figures behind it, and the sentence in English and in Japanese, so drafts in either language
quote the same facts.
"""

from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

Percent = Annotated[Decimal, Field(ge=0, le=100, allow_inf_nan=False)]
Points = Annotated[Decimal, Field(ge=0, le=100, allow_inf_nan=False)]
Share = Annotated[Decimal, Field(ge=0, le=1, allow_inf_nan=False)]


class KpiName(StrEnum):
    ON_TIME_DELIVERY = "on_time_delivery"  # 納期の遵守率
    QUALITY = "quality"  # 品質管理の状況
    RESPONSIVENESS = "responsiveness"  # 顧客対応のスピードと質
    COST_PERFORMANCE = "cost_performance"  # コストパフォーマンスの変化
    RELATIONSHIP = "relationship"  # 取引関係（満足度・継続意向・課題対応）


OPTIONAL_KPIS: frozenset[KpiName] = frozenset({KpiName.RELATIONSHIP})
"""KPIs whose records are not kept for every contract (follow-up reviews): without enough data
they leave the weight coverage's base, so a contract without them is judged as before."""


class Trend(StrEnum):
    IMPROVING = "improving"
    STABLE = "stable"
    DECLINING = "declining"


class Recommendation(StrEnum):
    RENEW_AS_IS = "renew_as_is"
    RENEGOTIATE = "renegotiate"
    RETENDER = "retender"
    TERMINATE = "terminate"


class Finding(BaseModel):
    """One statement in plain words with the figures it rests on, in both languages."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    code: str
    figures: dict[str, str] = {}
    en: str
    ja: str

    def text(self, language: str) -> str:
        return self.ja if language == "ja" else self.en


class KpiScore(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    score: Decimal | None  # None: insufficient data, never a made-up 0 or 100
    weight: Decimal
    evidence: str
    evidence_ja: str = ""
    records: int = 0  # how many stored records the score rests on
    period_start: date | None = None  # exclusive, like the scorecard's period
    period_end: date | None = None
    figures: dict[str, str] = {}
    previous_score: Decimal | None = None  # same KPI over the window before
    change: Decimal | None = None  # score - previous_score, in points

    @property
    def insufficient(self) -> bool:
        return self.score is None


class MarketSignalKind(StrEnum):
    COMPETITION_INTENSIFYING = "competition_intensifying"  # 競争が激化
    DEMAND_FALLING = "demand_falling"  # 需要の減少
    NEW_ENTRANTS = "new_entrants"  # 新規参入者の出現
    PRICE_INDEX_UP = "price_index_up"
    PRICE_INDEX_DOWN = "price_index_down"


class MarketSignal(BaseModel):
    """A market movement and what the renewal playbook says it means for the new terms."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: MarketSignalKind
    figure: Decimal  # the change that raised it: percent, or a count for new entrants
    observation: Finding
    implication: Finding


class MarketAssessment(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    category: str
    period_start: date
    period_end: date
    observations: int  # indicator rows in the window
    price_index_start: Decimal | None = None
    price_index_end: Decimal | None = None
    price_index_change_pct: Decimal | None = None
    demand_index_start: Decimal | None = None
    demand_index_end: Decimal | None = None
    demand_change_pct: Decimal | None = None
    competitors_start: int | None = None
    competitors_end: int | None = None
    competitor_change_pct: Decimal | None = None
    new_entrants: int | None = None
    signals: tuple[MarketSignal, ...] = ()
    notes: tuple[Finding, ...] = ()  # what could not be assessed, and why

    def signal(self, kind: MarketSignalKind) -> MarketSignal | None:
        for s in self.signals:
            if s.kind is kind:
                return s
        return None


class Scorecard(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    contract_id: str
    term: int
    period_start: date  # exclusive: the window is (period_start, period_end]
    period_end: date
    kpis: tuple[KpiScore, ...]
    total: Decimal | None
    grade: str | None
    recommendation: Recommendation
    reasons: tuple[str, ...]  # the findings below in English, for lists and logs
    findings: tuple[Finding, ...] = ()
    weight_coverage: Decimal | None = None  # share of the KPI weight that had enough data
    previous_period_start: date | None = None
    previous_total: Decimal | None = None
    total_change: Decimal | None = None
    trend: Trend | None = None
    market: MarketAssessment | None = None

    def kpi(self, name: KpiName | str) -> KpiScore | None:
        for k in self.kpis:
            if k.name == name:
                return k
        return None


# ---------------------------------------------------------------------------- configuration


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class KpiWeights(_Config):
    """The KPIs' weights, adding up to 1. The relationship KPI (follow-up reviews) came later:
    the defaults are the first four's old weights (0.35 / 0.30 / 0.20 / 0.15) scaled by 0.9,
    and 0.10 for the relationship, so a scorecard without follow-up reviews totals as before
    (:func:`domain.scoring.weighted_total` re-scales over the KPIs with data). Settings that
    name some weights but not the relationship's (written before it existed) give it 0."""

    on_time_delivery: Share = Decimal("0.315")
    quality: Share = Decimal("0.27")
    responsiveness: Share = Decimal("0.18")
    cost_performance: Share = Decimal("0.135")
    relationship: Share = Decimal("0.10")

    @model_validator(mode="before")
    @classmethod
    def _older_settings(cls, data: Any) -> Any:
        if isinstance(data, dict) and data and "relationship" not in data:
            return {**data, "relationship": Decimal(0)}
        return data

    @model_validator(mode="after")
    def _add_up_to_one(self) -> "KpiWeights":
        total = sum(self.as_dict().values(), Decimal(0))
        if total != 1:
            raise ValueError(f"KPI weights must add up to 1 (they add up to {total})")
        return self

    def as_dict(self) -> dict[KpiName, Decimal]:
        return {
            KpiName.ON_TIME_DELIVERY: self.on_time_delivery,
            KpiName.QUALITY: self.quality,
            KpiName.RESPONSIVENESS: self.responsiveness,
            KpiName.COST_PERFORMANCE: self.cost_performance,
            KpiName.RELATIONSHIP: self.relationship,
        }


class GradeBounds(_Config):
    """Lowest weighted total for each grade; anything below ``c`` is D."""

    a: Points = Decimal(85)
    b: Points = Decimal(70)
    c: Points = Decimal(55)

    @model_validator(mode="after")
    def _decreasing(self) -> "GradeBounds":
        if not self.a > self.b > self.c:
            raise ValueError(f"grade bounds must fall from A to C, got {self.a}/{self.b}/{self.c}")
        return self


class MinimumData(_Config):
    """Below these counts a KPI says "insufficient data" instead of a score."""

    deliveries: Annotated[int, Field(ge=1)] = 5
    tickets: Annotated[int, Field(ge=1)] = 3
    price_observations: Annotated[int, Field(ge=1)] = 1
    market_observations: Annotated[int, Field(ge=2)] = 2
    follow_ups: Annotated[int, Field(ge=1)] = 2  # recorded follow-up reviews in the term
    weight_coverage: Share = Decimal("0.5")  # a total needs KPIs worth at least this weight


class CostScoring(_Config):
    """Cost performance = neutral_score - points_per_pct x (price change - index change), clamped
    to 0..100: a supplier whose price followed the market scores ``neutral_score``."""

    neutral_score: Points = Decimal(80)
    points_per_pct: Annotated[Decimal, Field(gt=0, le=100)] = Decimal(4)


class RelationshipScoring(_Config):
    """Relationship = the weighted mean of satisfaction (CSAT 1-5 as 0..100), willingness to
    continue (0-10 as 0..100) and issue resolution (the share of judged issues closed within
    ``resolution_target_days``), over the term's follow-up reviews."""

    csat_weight: Share = Decimal("0.4")
    nps_weight: Share = Decimal("0.4")
    resolution_weight: Share = Decimal("0.2")
    resolution_target_days: Annotated[int, Field(ge=1, le=3650)] = 30
    decline_alert_points: Annotated[Decimal, Field(gt=0, le=100)] = Decimal(10)

    @model_validator(mode="after")
    def _add_up_to_one(self) -> "RelationshipScoring":
        total = self.csat_weight + self.nps_weight + self.resolution_weight
        if total != 1:
            raise ValueError(f"relationship weights must add up to 1 (they add up to {total})")
        return self


class RecommendationThresholds(_Config):
    renew_min_total: Points = Decimal(85)
    renegotiate_min_total: Points = Decimal(60)
    retender_min_total: Points = Decimal(40)  # below: terminate
    kpi_floor: Points = Decimal(50)  # any KPI below this rules out renewing as is
    retender_with_alternatives_below: Points = Decimal(70)  # and the market offers alternatives
    decline_alert_points: Annotated[Decimal, Field(gt=0, le=100)] = Decimal(10)

    @model_validator(mode="after")
    def _ordered(self) -> "RecommendationThresholds":
        if not self.renew_min_total > self.renegotiate_min_total > self.retender_min_total:
            raise ValueError(
                "thresholds must fall from renew to renegotiate to re-tender, got "
                f"{self.renew_min_total}/{self.renegotiate_min_total}/{self.retender_min_total}"
            )
        return self


class MarketThresholds(_Config):
    competition_increase_pct: Annotated[Decimal, Field(gt=0)] = Decimal(20)
    demand_fall_pct: Annotated[Decimal, Field(gt=0, le=100)] = Decimal(5)
    new_entrants_min: Annotated[int, Field(ge=1)] = 1
    price_index_move_pct: Annotated[Decimal, Field(gt=0)] = Decimal(3)


class TermsPolicy(_Config):
    """How scorecard and market findings turn into proposed terms."""

    renegotiation_price_cut_pct: Percent = Decimal(3)
    competition_price_cut_pct: Percent = Decimal(2)
    max_price_cut_pct: Percent = Decimal(10)
    price_adjustment_cap_pct: Annotated[Decimal, Field(gt=0, le=100)] = Decimal(5)
    price_review_months: Annotated[int, Field(ge=1, le=60)] = 12
    max_volume_cut_pct: Percent = Decimal(30)
    retender_bridge_months: Annotated[int, Field(ge=1, le=60)] = 6
    terminate_transition_months: Annotated[int, Field(ge=1, le=60)] = 3
    bridge_notice_days: Annotated[int, Field(ge=0, le=3650)] = 30
    on_time_target_pct: Percent = Decimal(95)
    sla_attainment_target_pct: Percent = Decimal(90)
    first_response_hours: Annotated[int, Field(ge=1, le=720)] = 24
    resolution_hours: Annotated[int, Field(ge=1, le=8760)] = 72


class ScoringConfig(_Config):
    window_months: Annotated[int, Field(ge=1, le=60)] = 12
    on_time_grace_days: Annotated[int, Field(ge=0, le=60)] = 0
    quality_accepted_weight: Share = Decimal("0.5")  # the rest goes to (1 - defect rate)
    trend_stable_points: Annotated[Decimal, Field(ge=0, le=100)] = Decimal(2)
    weights: KpiWeights = KpiWeights()
    grades: GradeBounds = GradeBounds()
    minimum: MinimumData = MinimumData()
    cost: CostScoring = CostScoring()
    relationship: RelationshipScoring = RelationshipScoring()
    recommendation: RecommendationThresholds = RecommendationThresholds()
    market: MarketThresholds = MarketThresholds()
    terms: TermsPolicy = TermsPolicy()


__all__ = [
    "OPTIONAL_KPIS",
    "CostScoring",
    "Finding",
    "GradeBounds",
    "KpiName",
    "KpiScore",
    "KpiWeights",
    "MarketAssessment",
    "MarketSignal",
    "MarketSignalKind",
    "MarketThresholds",
    "MinimumData",
    "Recommendation",
    "RecommendationThresholds",
    "RelationshipScoring",
    "Scorecard",
    "ScoringConfig",
    "TermsPolicy",
    "Trend",
]
