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

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from domain.term_plan import CalendarSettings
from models.milestones import RenewalPolicy
from models.tables import ContractRow, RenewalRow, ScorecardRow, SupplierRow
from store.contracts import to_read
from store.reads._stages import current_renewal, stage_expr, stage_names
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
