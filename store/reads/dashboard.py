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

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from domain.term_plan import CalendarSettings
from models.milestones import RenewalPolicy
from models.tables import ContractRow, RenewalRow, ScorecardRow, SupplierRow
from store.contracts import to_read
from store.reads._stages import (
    CONTRACT_TERMINATED,
    NOT_STARTED,
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
    # The stages without joining every contract to its renewal: the contracts counted by
    # status (an index-only read), then the renewals of the current terms by stage (below);
    # the other contracts are not started.
    terminated = 0
    not_terminated = 0
    for status, n in session.execute(
        select(ContractRow.status, func.count()).group_by(ContractRow.status)
    ):
        if status == "terminated":
            terminated += int(n)
        else:
            not_terminated += int(n)
    # Every renewal once, with its contract and its scorecard's total: the current terms'
    # stages are counted from it, and each contract's newest scorecard (its latest renewal
    # that has one) picked, without the database's grouped self-join.
    counted: dict[str, int] = {}
    newest: dict[str, tuple[int, str, Decimal | None]] = {}
    for (
        contract_id,
        term,
        stage_name,
        current_term,
        status,
        supplier_id,
        card,
        total,
    ) in session.connection().execute(  # plain rows: ORM row loading doubled the read
        select(
            RenewalRow.contract_id,
            RenewalRow.term,
            RenewalRow.stage,
            ContractRow.current_term,
            ContractRow.status,
            ContractRow.supplier_id,
            ScorecardRow.renewal_id,
            ScorecardRow.total,
        )
        .select_from(RenewalRow)
        .join(ContractRow, ContractRow.id == RenewalRow.contract_id)
        .outerjoin(ScorecardRow, ScorecardRow.renewal_id == RenewalRow.id)
    ):
        # A renewal without a stage counts as not started, as a term without a renewal does.
        if term == current_term and status != "terminated" and stage_name is not None:
            counted[str(stage_name)] = counted.get(str(stage_name), 0) + 1
        if card is not None:
            held = newest.get(contract_id)
            if held is None or term > held[0]:
                newest[contract_id] = (term, supplier_id, total)
    counted[NOT_STARTED] = not_terminated - sum(counted.values())
    counted[CONTRACT_TERMINATED] = terminated
    by_stage = {name: n for name, n in sorted(counted.items()) if n > 0}
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
    names = dict(
        session.execute(
            select(SupplierRow.id, SupplierRow.name).where(
                SupplierRow.id.in_({supplier_id for _, supplier_id, _ in newest.values()})
            )
        ).all()
        if newest
        else []
    )
    grouped: dict[str, tuple[str, list[Decimal]]] = {}
    counts: dict[str, int] = {}
    for _, supplier_id, total in newest.values():
        entry = grouped.setdefault(supplier_id, (names[supplier_id], []))
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
