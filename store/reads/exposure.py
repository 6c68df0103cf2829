"""Exposure: what the buyer stands to lose or to be bound to if nobody acts.

* value expiring: the annual value of active contracts whose end date falls within 30, 90 or
  180 days, summed per currency (amounts in different currencies are never added together);
* roll-overs: auto-renewing contracts whose send-by date (the last day to post a notice that
  still arrives in time) is within 30 days, dates from the term's stored plan or, before its
  renewal starts, the preview the workflow's own plan function makes
  (renewal-semantics.md §1);
* lapsed: fixed terms that ended with nothing agreed (stage ``lapsed``): supply at risk.

Amounts are summed exactly (SQLite keeps them as text and would add them as floats).
"""

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, Final

from sqlalchemy import Integer, String, and_, case, cast, func, literal, or_, select, type_coerce
from sqlalchemy.orm import Session

from domain.calendars import BusinessCalendar
from domain.milestones import notice_deadline
from domain.term_plan import CalendarSettings
from models.contract import TermModel
from models.milestones import RenewalPolicy
from models.tables import ContractRow, RenewalRow, SupplierRow, TermPlanRow
from store.reads._stages import current_renewal
from store.reads.pipeline import current_plan, days_before, send_by_key, stage_is
from store.reads.pipeline_pages import reach

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
LIST_LIMIT: Final = 50  # contracts listed per section; the count says how many there are
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


def _amount_sums(session: Session) -> tuple[Any, ...]:
    """SUM of the annual values, exact: NUMERIC on PostgreSQL; on SQLite, where they are text
    (at most 4 decimal places, models.contract.Amount), the whole units and the ten-thousandths
    summed apart as integers, since SQLite would add the text as floats."""
    value = ContractRow.annual_value
    if session.get_bind().dialect.name != "sqlite":
        return (func.sum(value),)
    text = type_coerce(value, String())
    dot = func.instr(text, ".")
    fraction = case(
        (dot > 0, cast(func.substr(text + "0000", dot + 1, 4), Integer)),
        else_=literal(0),
    )
    return (func.sum(cast(text, Integer)), func.sum(fraction))


def _expiring(session: Session, *, today: date) -> list[Expiring]:
    bounds = [(days, today + timedelta(days=days)) for days in WINDOWS]
    window = case(*((ContractRow.end_date <= last, literal(days)) for days, last in bounds))
    rows = session.execute(
        select(ContractRow.currency, window, func.count(), *_amount_sums(session))
        .where(
            ContractRow.status == "active",
            ContractRow.end_date >= today,
            ContractRow.end_date <= bounds[-1][1],
        )
        .group_by(ContractRow.currency, window)
    ).all()
    found = []
    for days in WINDOWS:
        sums: dict[str, Decimal] = defaultdict(Decimal)
        counts: dict[str, int] = defaultdict(int)
        for currency, bucket, n, *parts in rows:
            if bucket <= days:  # a contract ending within 30 days ends within 90 too
                whole = Decimal(parts[0] or 0)
                sums[currency] += (
                    whole + Decimal(parts[1] or 0) / 10_000 if len(parts) > 1 else whole
                )
                counts[currency] += n
        found.append(Expiring(days, {c: (sums[c], counts[c]) for c in sorted(sums)}))
    return found


def _calendar(jurisdiction: str, cfg: CalendarSettings) -> BusinessCalendar:
    # domain.term_plan.calendar_for, from the one column it reads: building a ContractRead for
    # each of a thousand candidates would cost more than the whole page may.
    return BusinessCalendar.for_jurisdiction(
        jurisdiction,
        closures=cfg.closure_days,
        year_end_closure=cfg.jp_year_end_closure if jurisdiction.startswith("JP") else False,
    )


def preview_send_by(
    *,
    end_date: date,
    notice_period_days: int,
    transit_buffer_days: int,
    jurisdiction: str,
    cfg: CalendarSettings,
) -> date:
    """The send-by date the preview plan has (:func:`domain.milestones.plan_milestones`: the
    notice deadline rolled back to a business day, then the transit buffer in business days),
    without planning the milestones (tests/test_web_pipeline.py checks they agree)."""
    calendar = _calendar(jurisdiction, cfg)
    deadline, _ = calendar.on_or_before(notice_deadline(end_date, notice_period_days))
    if transit_buffer_days == 0:
        return deadline
    return calendar.business_days_before(deadline, transit_buffer_days)


def _rolling_over(
    session: Session, *, today: date, policy: RenewalPolicy, cfg: CalendarSettings
) -> tuple[list[ExposedContract], int]:
    last = today + timedelta(days=ROLL_OVER_DAYS)
    auto = TermModel.AUTO_RENEWING.value
    stored = TermPlanRow.contract_id.is_not(None)
    # A preview's send-by date is never after its nominal one (end date - notice period -
    # transit buffer in calendar days): weekends and holidays only move it earlier, by at most
    # store.reads.pipeline.reach.
    preview_window = and_(
        TermPlanRow.contract_id.is_(None),
        ContractRow.term_model == auto,
        # With no renewals left the plan treats it as fixed (domain.term_plan).
        or_(
            ContractRow.max_renewals.is_(None),
            ContractRow.renewals_used < ContractRow.max_renewals,
        ),
        send_by_key() >= today,
        days_before(ContractRow.end_date, reach("send_by", cfg)) <= last,
    )
    stored_window = and_(
        stored,
        TermPlanRow.term_model == auto,
        TermPlanRow.send_by >= today,
        TermPlanRow.send_by <= last,
    )
    # The longest notice period and transit buffer bound how far past the window an end date
    # can be: the end-date index then reads a few weeks of contracts, not all of them.
    longest = session.scalar(
        select(func.max(reach("send_by", cfg))).where(
            ContractRow.status == "active", ContractRow.term_model == auto
        )
    )
    if longest is None:
        return [], 0
    ends_by = last + timedelta(days=int(longest))
    candidates = session.execute(
        select(
            ContractRow.id,
            ContractRow.end_date,
            ContractRow.notice_period_days,
            ContractRow.transit_buffer_days,
            ContractRow.jurisdiction,
            TermPlanRow.send_by,
            stored,
        )
        .select_from(ContractRow)
        .outerjoin(RenewalRow, current_renewal())
        .outerjoin(TermPlanRow, current_plan())
        .where(
            ContractRow.status == "active",
            ContractRow.end_date >= today,
            ContractRow.end_date <= ends_by,
            or_(RenewalRow.id.is_(None), RenewalRow.stage.not_in(_ACTED)),
            or_(preview_window, stored_window),
        )
    ).all()
    due: list[tuple[date, str]] = []
    for cid, end, notice, buffer, jurisdiction, send_by, is_stored in candidates:
        if not is_stored:
            send_by = preview_send_by(
                end_date=end,
                notice_period_days=notice,
                transit_buffer_days=buffer,
                jurisdiction=jurisdiction,
                cfg=cfg,
            )
        if send_by is not None and today <= send_by <= last:
            due.append((send_by, cid))
    due.sort()
    listed = due[:LIST_LIMIT]
    # The dates shown are the plan's: the stored one, or the preview's send-by date (the same
    # rule as the plan function, held to it by a test), so no plan is made here.
    rows = session.execute(
        select(
            ContractRow.id,
            ContractRow.title,
            ContractRow.owner,
            ContractRow.end_date,
            ContractRow.annual_value,
            ContractRow.currency,
            SupplierRow.name,
            TermPlanRow.contract_id.is_(None),
        )
        .join(SupplierRow, SupplierRow.id == ContractRow.supplier_id)
        .outerjoin(TermPlanRow, current_plan())
        .where(ContractRow.id.in_([cid for _, cid in listed]))
    ).all()
    by_id = {r[0]: r for r in rows}
    found = []
    for send_by, cid in listed:
        _, title, owner, end_date, value, currency, supplier_name, preview = by_id[cid]
        found.append(
            ExposedContract(
                contract_id=cid,
                title=title,
                supplier_name=supplier_name,
                owner=owner,
                end_date=end_date,
                annual_value=value,
                currency=currency,
                due=send_by,
                days_left=(send_by - today).days,
                plan_preview=bool(preview),
            )
        )
    return found, len(due)


def _lapsed(session: Session) -> tuple[list[ExposedContract], int]:
    query = (
        select(ContractRow, SupplierRow.name)
        .join(SupplierRow, SupplierRow.id == ContractRow.supplier_id)
        .join(RenewalRow, current_renewal())
        .where(stage_is("lapsed"))
    )
    total = (
        session.scalar(
            select(func.count())
            .select_from(ContractRow)
            .join(RenewalRow, current_renewal())
            .where(stage_is("lapsed"))
        )
        or 0
    )
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
