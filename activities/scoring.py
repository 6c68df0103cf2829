"""Supplier scorecard for the gather-facts milestone.

Aggregates are computed by the database (one query over the window), then turned into KPI
scores by the pure functions below, which the unit tests pin with hand-computed cases.
"""

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from dateutil.relativedelta import relativedelta
from sqlalchemy import Integer, case, func, select
from sqlalchemy.orm import Session

from models.renewal import KpiScore, Recommendation, Scorecard
from models.tables import DeliveryRow

MIN_DELIVERIES = 5
WEIGHTS = {"on_time_delivery": Decimal("0.6"), "quality": Decimal("0.4")}
GRADE_BOUNDS = ((Decimal(85), "A"), (Decimal(70), "B"), (Decimal(55), "C"))
_Q = Decimal("0.1")


@dataclass(frozen=True, slots=True)
class DeliveryAggregates:
    deliveries: int
    on_time: int
    quantity_ordered: Decimal
    quantity_accepted: Decimal


def delivery_aggregates(
    session: Session, *, contract_id: str, period_start: date, period_end: date
) -> DeliveryAggregates:
    on_time = func.sum(case((DeliveryRow.delivered_date <= DeliveryRow.promised_date, 1), else_=0))
    stmt = select(
        func.count(),
        func.coalesce(on_time, 0).cast(Integer),
        func.coalesce(func.sum(DeliveryRow.quantity_ordered), 0),
        func.coalesce(func.sum(DeliveryRow.quantity_accepted), 0),
    ).where(
        DeliveryRow.contract_id == contract_id,
        DeliveryRow.delivered_date > period_start,
        DeliveryRow.delivered_date <= period_end,
    )
    count, on_time_count, ordered, accepted = session.execute(stmt).one()
    return DeliveryAggregates(
        deliveries=int(count),
        on_time=int(on_time_count),
        quantity_ordered=Decimal(str(ordered)),
        quantity_accepted=Decimal(str(accepted)),
    )


def grade_for(total: Decimal) -> str:
    for bound, grade in GRADE_BOUNDS:
        if total >= bound:
            return grade
    return "D"


def recommend(total: Decimal | None, deliveries: int) -> tuple[Recommendation, str]:
    if total is None:
        return (
            Recommendation.RENEGOTIATE,
            f"insufficient data: {deliveries} deliveries in the window (at least {MIN_DELIVERIES} "
            "needed); renegotiate and ask the supplier for performance evidence",
        )
    if total >= 85:
        return Recommendation.RENEW_AS_IS, f"weighted score {total} is at least 85"
    if total >= 60:
        return Recommendation.RENEGOTIATE, f"weighted score {total} is between 60 and 85"
    if total >= 40:
        return Recommendation.RETENDER, f"weighted score {total} is between 40 and 60"
    return Recommendation.TERMINATE, f"weighted score {total} is below 40"


def scorecard_from(
    agg: DeliveryAggregates, *, contract_id: str, term: int, period_start: date, period_end: date
) -> Scorecard:
    period = f"{period_start.isoformat()}..{period_end.isoformat()}"
    enough = agg.deliveries >= MIN_DELIVERIES
    on_time = (
        (Decimal(100) * agg.on_time / agg.deliveries).quantize(_Q, ROUND_HALF_UP)
        if enough
        else None
    )
    quality = (
        (Decimal(100) * agg.quantity_accepted / agg.quantity_ordered).quantize(_Q, ROUND_HALF_UP)
        if enough and agg.quantity_ordered > 0
        else None
    )
    kpis = (
        KpiScore(
            name="on_time_delivery",
            score=on_time,
            weight=WEIGHTS["on_time_delivery"],
            evidence=(
                f"{agg.on_time} of {agg.deliveries} deliveries on or before the promised date, "
                f"{period}"
            ),
        ),
        KpiScore(
            name="quality",
            score=quality,
            weight=WEIGHTS["quality"],
            evidence=f"{agg.quantity_accepted} of {agg.quantity_ordered} units accepted, {period}",
        ),
    )
    total: Decimal | None = None
    if all(k.score is not None for k in kpis):
        total = sum((k.score * k.weight for k in kpis if k.score is not None), Decimal(0)).quantize(
            _Q, ROUND_HALF_UP
        )
    recommendation, reason = recommend(total, agg.deliveries)
    return Scorecard(
        contract_id=contract_id,
        term=term,
        period_start=period_start,
        period_end=period_end,
        kpis=kpis,
        total=total,
        grade=grade_for(total) if total is not None else None,
        recommendation=recommendation,
        reasons=(reason,),
    )


def score_contract(session: Session, *, contract_id: str, term: int, as_of: date) -> Scorecard:
    period_start = as_of - relativedelta(months=12)
    agg = delivery_aggregates(
        session, contract_id=contract_id, period_start=period_start, period_end=as_of
    )
    return scorecard_from(
        agg, contract_id=contract_id, term=term, period_start=period_start, period_end=as_of
    )
