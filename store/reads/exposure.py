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

from sqlalchemy import (
    ColumnElement,
    Date,
    FunctionElement,
    Integer,
    String,
    case,
    cast,
    func,
    literal,
    or_,
    select,
    type_coerce,
    union_all,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session, aliased

from domain.calendars import BusinessCalendar
from domain.milestones import notice_deadline
from domain.term_plan import CalendarSettings
from models.contract import TermModel
from models.milestones import RenewalPolicy
from models.tables import ContractRow, RenewalRow, SupplierRow, TermPlanRow
from store.reads._stages import current_renewal
from store.reads.pipeline import current_plan, stage_is
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
    return _send_by(_calendar(jurisdiction, cfg), end_date, notice_period_days, transit_buffer_days)


def _send_by(calendar: BusinessCalendar, end_date: date, notice: int, buffer: int) -> date:
    deadline, _ = calendar.on_or_before(notice_deadline(end_date, notice))
    if buffer == 0:
        return deadline
    return calendar.business_days_before(deadline, buffer)


class unindexed(FunctionElement[str]):
    """The column, written so that SQLite uses no index for the term (a unary ``+``, as its
    query planner documents): the status and end-date index over most of the table, then a
    table lookup per row, costs several times a plain scan."""

    type = String()
    inherit_cache = True


@compiles(unindexed)
def _unindexed(element: unindexed, compiler: Any, **kw: Any) -> str:
    return str(compiler.process(next(iter(element.clauses)), **kw))


@compiles(unindexed, "sqlite")
def _unindexed_sqlite(element: unindexed, compiler: Any, **kw: Any) -> str:
    return f"+{compiler.process(next(iter(element.clauses)), **kw)}"


# julianday('2000-01-01') - date(2000, 1, 1).toordinal(): whole days are exact in a double.
_JULIAN_OFFSET: Final = 1721424.5


def _end_on_or_before(session: Session, day: date, days: ColumnElement[int]) -> ColumnElement[bool]:
    """``end_date <= day + days`` (a column of days): date arithmetic on PostgreSQL; on SQLite
    Julian day numbers, since ``date(end_date, ...)`` on every contract costs more than the
    scan."""
    if session.get_bind().dialect.name != "sqlite":
        return ContractRow.end_date <= literal(day, Date()) + days
    return func.julianday(ContractRow.end_date) <= literal(day.toordinal() + _JULIAN_OFFSET) + days


def _end_on_or_after(session: Session, day: date, days: ColumnElement[int]) -> ColumnElement[bool]:
    """``end_date >= day + days``, as :func:`_end_on_or_before`."""
    if session.get_bind().dialect.name != "sqlite":
        return ContractRow.end_date >= literal(day, Date()) + days
    return func.julianday(ContractRow.end_date) >= literal(day.toordinal() + _JULIAN_OFFSET) + days


def _not_acted() -> ColumnElement[bool]:
    return or_(RenewalRow.id.is_(None), RenewalRow.stage.not_in(_ACTED))


def _candidates(session: Session, *, today: date, last: date, cfg: CalendarSettings) -> list[Any]:
    """The contracts whose send-by date can fall in ``today..last``, in one statement:

    * with a stored plan: the plan's send-by date in the window, read through its index;
    * without one (a preview): auto-renewing with renewals left (with none left the plan
      treats it as fixed, domain.term_plan), the nominal send-by date (end date - notice
      period - transit buffer in calendar days) not before today, and the end date at most
      store.reads.pipeline.reach days after the window (weekends and holidays only move a
      preview's date earlier, by at most that). One scan of the contracts, testing their
      own columns before any join, costs less than the longest reach found by a scan and
      then the end-date index over it with two joins per row."""
    auto = TermModel.AUTO_RENEWING.value
    stored = (
        select(
            ContractRow.id,
            ContractRow.end_date,
            ContractRow.notice_period_days,
            ContractRow.transit_buffer_days,
            ContractRow.jurisdiction,
            TermPlanRow.send_by,
            literal(True).label("stored"),
        )
        .select_from(TermPlanRow)
        .join(ContractRow, current_plan())
        .outerjoin(RenewalRow, current_renewal())
        .where(
            TermPlanRow.send_by >= today,
            TermPlanRow.send_by <= last,
            TermPlanRow.term_model == auto,
            ContractRow.status == "active",
            ContractRow.end_date >= today,
            _not_acted(),
        )
    )
    plan = aliased(TermPlanRow)
    previews = (
        select(
            ContractRow.id,
            ContractRow.end_date,
            ContractRow.notice_period_days,
            ContractRow.transit_buffer_days,
            ContractRow.jurisdiction,
            literal(None, Date()).label("send_by"),
            literal(False).label("stored"),
        )
        .select_from(ContractRow)
        .outerjoin(RenewalRow, current_renewal())
        .where(
            unindexed(ContractRow.term_model) == auto,
            unindexed(ContractRow.status) == "active",
            or_(
                ContractRow.max_renewals.is_(None),
                ContractRow.renewals_used < ContractRow.max_renewals,
            ),
            _end_on_or_after(session, today, literal(0)),
            _end_on_or_after(
                session, today, ContractRow.notice_period_days + ContractRow.transit_buffer_days
            ),
            _end_on_or_before(session, last, reach("send_by", cfg)),
            ~select(plan.contract_id)
            .where(plan.contract_id == ContractRow.id, plan.term == ContractRow.current_term)
            .exists(),
            _not_acted(),
        )
    )
    return list(session.execute(union_all(stored, previews)).all())


def _rolling_over(
    session: Session, *, today: date, policy: RenewalPolicy, cfg: CalendarSettings
) -> tuple[list[ExposedContract], int]:
    last = today + timedelta(days=ROLL_OVER_DAYS)
    calendars: dict[str, BusinessCalendar] = {}
    # Contracts ending on the same day with the same terms share a preview date.
    previews: dict[tuple[str, date, int, int], date] = {}
    due: list[tuple[date, str, bool]] = []
    for cid, end, notice, buffer, jurisdiction, send_by, is_stored in _candidates(
        session, today=today, last=last, cfg=cfg
    ):
        if not is_stored:
            key = (jurisdiction, end, notice, buffer)
            send_by = previews.get(key)
            if send_by is None:
                calendar = calendars.get(jurisdiction)
                if calendar is None:
                    calendar = calendars[jurisdiction] = _calendar(jurisdiction, cfg)
                send_by = previews[key] = _send_by(calendar, end, notice, buffer)
        if send_by is not None and today <= send_by <= last:
            due.append((send_by, cid, not is_stored))
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
        )
        .join(SupplierRow, SupplierRow.id == ContractRow.supplier_id)
        .where(ContractRow.id.in_([cid for _, cid, _ in listed]))
    ).all()
    by_id = {r[0]: r for r in rows}
    found = []
    for send_by, cid, preview in listed:
        _, title, owner, end_date, value, currency, supplier_name = by_id[cid]
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
                plan_preview=preview,
            )
        )
    return found, len(due)


def _lapsed(session: Session) -> tuple[list[ExposedContract], int]:
    """The first lapsed contracts by end date, with how many there are (a window count: the
    renewals are read once, not once for the count and once for the rows)."""
    rows = session.execute(
        select(
            ContractRow.id,
            ContractRow.title,
            SupplierRow.name,
            ContractRow.owner,
            ContractRow.end_date,
            ContractRow.annual_value,
            ContractRow.currency,
            func.count().over(),
        )
        .join(SupplierRow, SupplierRow.id == ContractRow.supplier_id)
        .join(RenewalRow, current_renewal())
        .where(stage_is("lapsed"))
        .order_by(ContractRow.end_date, ContractRow.id)
        .limit(LIST_LIMIT)
    ).all()
    return [
        ExposedContract(
            contract_id=cid,
            title=title,
            supplier_name=name,
            owner=owner,
            end_date=end_date,
            annual_value=value,
            currency=currency,
            due=None,
            days_left=None,
            plan_preview=False,
        )
        for cid, title, name, owner, end_date, value, currency, _ in rows
    ], (rows[0][-1] if rows else 0)


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
