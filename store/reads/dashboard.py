"""The managers' dashboard: contracts by stage, how many expire soon, and suppliers' scores."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from models.tables import ContractRow, RenewalRow, ScorecardRow, SupplierRow
from store.reads._stages import current_renewal, stage_expr, stage_names

__all__ = ["EXPIRY_WINDOWS", "Dashboard", "SupplierScore", "dashboard", "stage_names"]


@dataclass(frozen=True, slots=True)
class SupplierScore:
    supplier_id: str
    supplier_name: str
    score: Decimal | None  # mean of the latest scorecards of the supplier's contracts
    contracts: int


@dataclass(frozen=True, slots=True)
class Dashboard:
    today: date
    by_stage: dict[str, int]
    expiring: dict[int, int]  # window in days -> active contracts ending within it
    supplier_scores: list[SupplierScore]


EXPIRY_WINDOWS: Sequence[int] = (30, 90, 180)


def dashboard(session: Session, *, today: date) -> Dashboard:
    stage = stage_expr()
    by_stage_rows = session.execute(
        select(stage, func.count())
        .select_from(ContractRow)
        .outerjoin(RenewalRow, current_renewal())
        .group_by(stage)
    ).all()
    by_stage = {str(s): int(n) for s, n in by_stage_rows}
    expiring: dict[int, int] = {}
    for days in EXPIRY_WINDOWS:
        expiring[days] = (
            session.scalar(
                select(func.count())
                .select_from(ContractRow)
                .where(
                    ContractRow.status == "active",
                    ContractRow.end_date >= today,
                    ContractRow.end_date <= today + timedelta(days=days),
                )
            )
            or 0
        )
    # The newest scorecard of each contract (its latest renewal that has one).
    newest = (
        select(RenewalRow.contract_id, func.max(RenewalRow.term).label("term"))
        .join(ScorecardRow, ScorecardRow.renewal_id == RenewalRow.id)
        .group_by(RenewalRow.contract_id)
        .subquery()
    )
    score_rows = session.execute(
        select(SupplierRow.id, SupplierRow.name, ScorecardRow.total)
        .join(ContractRow, ContractRow.supplier_id == SupplierRow.id)
        .join(newest, newest.c.contract_id == ContractRow.id)
        .join(
            RenewalRow,
            and_(RenewalRow.contract_id == newest.c.contract_id, RenewalRow.term == newest.c.term),
        )
        .join(ScorecardRow, ScorecardRow.renewal_id == RenewalRow.id)
        .order_by(SupplierRow.id)
    ).all()
    grouped: dict[str, tuple[str, list[Decimal]]] = {}
    counts: dict[str, int] = {}
    for supplier_id, name, total in score_rows:
        entry = grouped.setdefault(supplier_id, (name, []))
        counts[supplier_id] = counts.get(supplier_id, 0) + 1
        if total is not None:
            entry[1].append(Decimal(total))
    scores = [
        SupplierScore(
            supplier_id=sid,
            supplier_name=name,
            score=(sum(values, Decimal(0)) / len(values)).quantize(Decimal("0.1"))
            if values
            else None,
            contracts=counts[sid],
        )
        for sid, (name, values) in grouped.items()
    ]
    scores.sort(key=lambda s: (s.score is None, -(s.score or 0), s.supplier_id))
    return Dashboard(today=today, by_stage=by_stage, expiring=expiring, supplier_scores=scores)
