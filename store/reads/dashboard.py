"""The managers' dashboard: contracts by stage, how many expire soon (and the dates of those
that expire soonest), and suppliers' scores.

The dates are those of each term's stored plan (renewal-semantics.md §1), read in one batch by
:func:`store.reads.plans.plans_for`; a term whose renewal has not started shows a preview made
by the workflow's own plan function, labelled ``plan_preview``.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import Float, case, cast, func, select
from sqlalchemy.orm import Session, aliased

from domain.term_plan import CalendarSettings
from models.milestones import RenewalPolicy
from models.tables import (
    ContractRow,
    ContractStageCountRow,
    RenewalRow,
    ScorecardRow,
    SupplierRow,
)
from store.contracts import to_read
from store.reads._stages import (
    current_renewal,
    stage_expr,
    stage_names,
)
from store.reads.pipeline import NextMilestone, next_milestone
from store.reads.plans import plans_for

__all__ = [
    "EXPIRING_LISTED",
    "EXPIRY_WINDOWS",
    "Dashboard",
    "ExpiringContract",
    "SupplierScore",
    "dashboard",
    "stage_names",
]


@dataclass(frozen=True, slots=True)
class SupplierScore:
    supplier_id: str
    supplier_name: str
    score: Decimal | None  # mean of the latest scorecards of the supplier's contracts
    contracts: int


@dataclass(frozen=True, slots=True)
class ExpiringContract:
    """An active contract ending within the widest window, with its plan's dates."""

    contract_id: str
    title: str
    term: int
    stage: str
    end_date: date
    notice_deadline: date
    send_by: date | None  # last day to send the notice, where the plan has one
    next_milestone: NextMilestone | None
    plan_preview: bool  # no renewal running: the dates its workflow would plan today


@dataclass(frozen=True, slots=True)
class Dashboard:
    today: date
    by_stage: dict[str, int]
    expiring: dict[int, int]  # window in days -> active contracts ending within it
    supplier_scores: list[SupplierScore]
    # The soonest of them (at most EXPIRING_LISTED), with the dates of their plans.
    expiring_soon: list[ExpiringContract] = field(default_factory=list)


EXPIRY_WINDOWS: Sequence[int] = (30, 90, 180)
EXPIRING_LISTED = 20


def _expiring_soon(
    session: Session, *, today: date, policy: RenewalPolicy, cfg: CalendarSettings
) -> list[ExpiringContract]:
    stage = stage_expr().label("stage")
    rows = session.execute(
        select(ContractRow, SupplierRow.category, stage)
        .outerjoin(SupplierRow, SupplierRow.id == ContractRow.supplier_id)
        .outerjoin(RenewalRow, current_renewal())
        .where(
            ContractRow.status == "active",
            ContractRow.end_date >= today,
            ContractRow.end_date <= today + timedelta(days=max(EXPIRY_WINDOWS)),
        )
        .order_by(ContractRow.end_date, ContractRow.id)
        .limit(EXPIRING_LISTED)
    ).all()
    contracts = [(to_read(row), category) for row, category, _ in rows]
    shown = plans_for(session, contracts, today=today, policy=policy, cfg=cfg)
    listed = []
    for (contract, _), (_, _, stage_name) in zip(contracts, rows, strict=True):
        plan = shown[contract.id]
        listed.append(
            ExpiringContract(
                contract_id=contract.id,
                title=contract.title,
                term=contract.current_term,
                stage=stage_name,
                end_date=plan.end_date,
                notice_deadline=plan.notice_deadline,
                send_by=plan.send_by,
                next_milestone=next_milestone(plan, stage=stage_name, today=today),
                plan_preview=plan.preview,
            )
        )
    return listed


def _stages(session: Session) -> dict[str, int]:
    """Contracts by stage, as the database's triggers keep them (migration 0019): a read of
    a dozen rows, where counting scanned every contract on each request."""
    n = func.sum(ContractStageCountRow.contracts)
    counted = session.execute(
        select(ContractStageCountRow.stage, n).group_by(ContractStageCountRow.stage).having(n != 0)
    ).all()
    return {str(name): int(n) for name, n in sorted(counted)}


def _supplier_scores(session: Session) -> list[SupplierScore]:
    """Each supplier's mean of its contracts' newest scorecards (a contract's scorecard of its
    latest term that has one), grouped by the database. The sum is exact: NUMERIC on
    PostgreSQL; on SQLite, where totals are stored as text, a float sum of values with four
    decimal places, rounded back to four places, which is exact for any realistic count."""
    newer_term = aliased(RenewalRow)
    newer_card = aliased(ScorecardRow)
    has_newer = (
        select(newer_card.id)
        .join(newer_term, newer_term.id == newer_card.renewal_id)
        .where(
            newer_term.contract_id == RenewalRow.contract_id,
            newer_term.term > RenewalRow.term,
        )
        .exists()
    )
    sqlite = session.get_bind().dialect.name == "sqlite"
    total = cast(ScorecardRow.total, Float) if sqlite else ScorecardRow.total
    rows = session.execute(
        select(
            ContractRow.supplier_id,
            SupplierRow.name,
            func.count(),
            func.count(ScorecardRow.total),
            func.sum(total),
        )
        .select_from(ScorecardRow)
        .join(RenewalRow, RenewalRow.id == ScorecardRow.renewal_id)
        .join(ContractRow, ContractRow.id == RenewalRow.contract_id)
        .join(SupplierRow, SupplierRow.id == ContractRow.supplier_id)
        .where(~has_newer)
        .group_by(ContractRow.supplier_id, SupplierRow.name)
    ).all()
    scores = []
    for supplier_id, name, contracts, scored, summed in rows:
        score = None
        if scored:
            exact = Decimal(repr(round(summed, 4))) if sqlite else Decimal(summed)
            score = (exact / int(scored)).quantize(Decimal("0.1"))
        scores.append(
            SupplierScore(
                supplier_id=supplier_id,
                supplier_name=name,
                score=score,
                contracts=int(contracts),
            )
        )
    scores.sort(key=lambda s: (s.score is None, -(s.score or 0), s.supplier_id))
    return scores


def dashboard(
    session: Session,
    *,
    today: date,
    policy: RenewalPolicy | None = None,
    cfg: CalendarSettings | None = None,
) -> Dashboard:
    """The figures of the dashboard. ``policy`` and ``cfg`` (the settings' renewal policy and
    calendars) are what previews are planned with: without them ``expiring_soon`` is left
    empty rather than dated with rules other than the workflow's."""
    by_stage = _stages(session)
    # The expiry windows in one range read of the (status, end date) index: a contract ending
    # within 30 days ends within 90 and 180 too.
    last = today + timedelta(days=max(EXPIRY_WINDOWS))
    window_counts = session.execute(
        select(
            *(
                func.count(case((ContractRow.end_date <= today + timedelta(days=days), 1)))
                for days in EXPIRY_WINDOWS
            )
        ).where(
            ContractRow.status == "active",
            ContractRow.end_date >= today,
            ContractRow.end_date <= last,
        )
    ).one()
    expiring = {days: int(n or 0) for days, n in zip(EXPIRY_WINDOWS, window_counts, strict=True)}
    scores = _supplier_scores(session)
    soon = (
        _expiring_soon(session, today=today, policy=policy, cfg=cfg)
        if policy is not None and cfg is not None
        else []
    )
    return Dashboard(
        today=today,
        by_stage=by_stage,
        expiring=expiring,
        supplier_scores=scores,
        expiring_soon=soon,
    )
