"""Exposure: what the buyer stands to lose or to be bound to if nobody acts.

* value expiring: the annual value of active contracts whose end date falls within 30, 90 or
  180 days, summed per currency (amounts in different currencies are never added together);
* roll-overs: auto-renewing contracts whose send-by date (the last day to post a notice that
  still arrives in time) is within 30 days, dates from the term's stored plan or, before its
  renewal starts, the preview the workflow's own plan function makes
  (renewal-semantics.md §1);
* lapsed: fixed terms that ended with nothing agreed (stage ``lapsed``): supply at risk.

Amounts are summed in Python: SQLite keeps them as text (exact decimals) and would add them as
floats.
"""

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Final

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from domain.term_plan import CalendarSettings
from models.contract import TermModel
from models.milestones import RenewalPolicy
from models.tables import ContractRow, RenewalRow, SupplierRow, TermPlanRow
from store.contracts import to_read
from store.reads._stages import current_renewal, stage_expr
from store.reads.pipeline import send_by_key
from store.reads.plans import plans_for

__all__ = [
    "ROLL_OVER_DAYS",
    "WINDOWS",
    "Expiring",
    "ExposedContract",
    "Exposure",
    "exposure",
]

WINDOWS: Final = (30, 90, 180)
ROLL_OVER_DAYS: Final = 30
LIST_LIMIT: Final = 200  # contracts listed per section; the count says how many there are
# A preview's send-by date is the nominal one moved back over weekends, holidays and closures:
# read this many days either side, then keep the ones the plan itself puts in the window.
_SLACK_DAYS: Final = 20
# Stages where somebody already acted: agreed, being terminated, over.
_ACTED: Final = ("agreed", "termination_pending", "completed", "contract_terminated")


@dataclass(frozen=True, slots=True)
class Expiring:
    days: int
    # currency -> (sum of annual values, number of contracts), currencies in name order
    by_currency: dict[str, tuple[Decimal, int]]


@dataclass(frozen=True, slots=True)
class ExposedContract:
    contract_id: str
    title: str
    supplier_name: str
    owner: str
    end_date: date
    annual_value: Decimal
    currency: str
    due: date | None  # the send-by date (roll-overs)
    days_left: int | None
    plan_preview: bool


@dataclass(frozen=True, slots=True)
class Exposure:
    today: date
    expiring: list[Expiring]
    rolling_over: list[ExposedContract]
    rolling_over_total: int
    lapsed: list[ExposedContract]
    lapsed_total: int


def _expiring(session: Session, *, today: date) -> list[Expiring]:
    horizon = today + timedelta(days=max(WINDOWS))
    rows = session.execute(
        select(ContractRow.end_date, ContractRow.currency, ContractRow.annual_value).where(
            ContractRow.status == "active",
            ContractRow.end_date >= today,
            ContractRow.end_date <= horizon,
        )
    ).all()
    found = []
    for days in WINDOWS:
        last = today + timedelta(days=days)
        sums: dict[str, Decimal] = defaultdict(Decimal)
        counts: dict[str, int] = defaultdict(int)
        for end_date, currency, value in rows:
            if end_date <= last:
                sums[currency] += value
                counts[currency] += 1
        found.append(Expiring(days, {c: (sums[c], counts[c]) for c in sorted(sums)}))
    return found


def _rolling_over(
    session: Session, *, today: date, policy: RenewalPolicy, cfg: CalendarSettings
) -> tuple[list[ExposedContract], int]:
    key = send_by_key()
    stage = stage_expr()
    rows = session.execute(
        select(ContractRow, SupplierRow.name, SupplierRow.category)
        .join(SupplierRow, SupplierRow.id == ContractRow.supplier_id)
        .outerjoin(RenewalRow, current_renewal())
        .outerjoin(
            TermPlanRow,
            and_(
                TermPlanRow.contract_id == ContractRow.id,
                TermPlanRow.term == ContractRow.current_term,
            ),
        )
        .where(
            ContractRow.status == "active",
            ContractRow.term_model == TermModel.AUTO_RENEWING.value,
            stage.not_in(_ACTED),
            key >= today - timedelta(days=_SLACK_DAYS),
            key <= today + timedelta(days=ROLL_OVER_DAYS + _SLACK_DAYS),
        )
        .order_by(key, ContractRow.id)
    ).all()
    contracts = [(to_read(r[0]), r[2]) for r in rows]
    plans = plans_for(session, contracts, today=today, policy=policy, cfg=cfg)
    last = today + timedelta(days=ROLL_OVER_DAYS)
    found = []
    for (contract, _), row in zip(contracts, rows, strict=True):
        plan = plans[contract.id]
        # The plan knows the term model it resolved: no renewals left plans it as fixed.
        if plan.term_model is not TermModel.AUTO_RENEWING or plan.send_by is None:
            continue
        if not today <= plan.send_by <= last:
            continue
        found.append(
            ExposedContract(
                contract_id=contract.id,
                title=contract.title,
                supplier_name=row[1],
                owner=contract.owner,
                end_date=plan.end_date,
                annual_value=contract.annual_value,
                currency=contract.currency,
                due=plan.send_by,
                days_left=(plan.send_by - today).days,
                plan_preview=plan.preview,
            )
        )
    found.sort(key=lambda c: (c.due or c.end_date, c.contract_id))
    return found[:LIST_LIMIT], len(found)


def _lapsed(session: Session) -> tuple[list[ExposedContract], int]:
    where = (stage_expr() == "lapsed",)
    query = (
        select(ContractRow, SupplierRow.name)
        .join(SupplierRow, SupplierRow.id == ContractRow.supplier_id)
        .outerjoin(RenewalRow, current_renewal())
        .where(*where)
    )
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.execute(
        query.order_by(ContractRow.end_date, ContractRow.id).limit(LIST_LIMIT)
    ).all()
    return [
        ExposedContract(
            contract_id=c.id,
            title=c.title,
            supplier_name=name,
            owner=c.owner,
            end_date=c.end_date,
            annual_value=c.annual_value,
            currency=c.currency,
            due=None,
            days_left=None,
            plan_preview=False,
        )
        for c, name in rows
    ], total


def exposure(
    session: Session, *, today: date, policy: RenewalPolicy, cfg: CalendarSettings
) -> Exposure:
    rolling, rolling_total = _rolling_over(session, today=today, policy=policy, cfg=cfg)
    lapsed, lapsed_total = _lapsed(session)
    return Exposure(
        today=today,
        expiring=_expiring(session, today=today),
        rolling_over=rolling,
        rolling_over_total=rolling_total,
        lapsed=lapsed,
        lapsed_total=lapsed_total,
    )
