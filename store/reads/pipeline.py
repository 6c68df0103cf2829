"""The renewal pipeline: every contract with its stage, next milestone, notice deadline,
send-by date, score and recommendation, answered from the database (never from a workflow).

Stages are kept current by the activities (``renewals.stage``), scores come from
``scorecards``, and the dates and next milestone are the term's stored plan (renewal-semantics.md
§1), read in the page's own query; a term whose renewal has not started shows the preview the
workflow's own plan function makes, and says so (``plan_preview``).
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from dateutil.relativedelta import relativedelta
from sqlalchemy import Date, and_, func, or_, select, type_coerce
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement

from domain.term_plan import CalendarSettings
from models.milestones import MilestoneKind, MilestoneState, RenewalPolicy
from models.plans import StoredMilestone, StoredPlan
from models.tables import (
    ContractRow,
    PlanMilestoneRow,
    RenewalRow,
    ScorecardRow,
    SupplierRow,
    TermPlanRow,
)
from models.team_tables import TeamRow
from store.contracts import to_read
from store.reads._stages import (
    CONTRACT_TERMINATED,
    NOT_STARTED,
    current_renewal,
    stage_expr,
    stage_names,
)
from store.reads.owners import owner_spellings
from store.reads.previews import previews_for

__all__ = [
    "CONTRACT_TERMINATED",
    "NEEDS_ME_DAYS",
    "NOT_STARTED",
    "WAITS_ON_PROCUREMENT",
    "NextMilestone",
    "PipelineFilter",
    "PipelineItem",
    "count_contracts",
    "current_plan",
    "days_before",
    "distinct_owners",
    "filtered_query",
    "items_for",
    "lean_query",
    "needs_me",
    "next_milestone",
    "notice_deadline_key",
    "owned_by",
    "owner_spellings",
    "pipeline",
    "pipeline_query",
    "send_by_key",
    "stage_is",
    "stage_names",
    "team_names",
]


@dataclass(frozen=True, slots=True)
class NextMilestone:
    kind: str
    due: date
    days_left: int  # negative: overdue


@dataclass(frozen=True, slots=True)
class PipelineItem:
    contract_id: str
    title: str
    supplier_id: str
    supplier_name: str
    owner: str
    term: int
    end_date: date
    days_to_expiry: int
    notice_deadline: date
    send_by: date | None  # last business day to post a notice so that it arrives in time
    stage: str
    workflow_id: str | None
    next_milestone: NextMilestone | None
    score: Decimal | None
    grade: str | None
    recommendation: str | None
    # True: no stored plan for this term (its renewal has not started), so the dates are a
    # preview made by the workflow's plan function; False: the running renewal's stored plan.
    plan_preview: bool


@dataclass(frozen=True, slots=True)
class PipelineFilter:
    stage: str | None = None
    supplier_id: str | None = None
    owner: str | None = None
    ends_from: date | None = None
    ends_to: date | None = None
    team: str | None = None
    # "Needs me": the contracts this user owns that wait on them (see :func:`needs_me`).
    needs: str | None = None


# What the renewal waits on procurement for: legal asked for changes, it was escalated, the
# term lapsed, or an offer is with the supplier and nobody has recorded the answer yet.
WAITS_ON_PROCUREMENT: tuple[str, ...] = (
    "changes_requested",
    "escalated",
    "lapsed",
    "offer_presented",
)
NEEDS_ME_DAYS = 14  # a next milestone due within this many days (or overdue) needs its owner
_OVER = ("completed", CONTRACT_TERMINATED)


class days_before(FunctionElement[date]):
    """``day - days`` as a date, on SQLite and PostgreSQL."""

    type = Date()
    inherit_cache = True


@compiles(days_before)
def _days_before_pg(element: days_before, compiler: Any, **kw: Any) -> str:
    day, days = list(element.clauses)
    return f"({compiler.process(day, **kw)} - ({compiler.process(days, **kw)}))"


@compiles(days_before, "sqlite")
def _days_before_sqlite(element: days_before, compiler: Any, **kw: Any) -> str:
    day, days = list(element.clauses)
    return (
        f"date({compiler.process(day, **kw)}, '-' || ({compiler.process(days, **kw)}) || ' days')"
    )


def current_plan() -> ColumnElement[bool]:
    return and_(
        TermPlanRow.contract_id == ContractRow.id, TermPlanRow.term == ContractRow.current_term
    )


def notice_deadline_key() -> ColumnElement[date]:
    """What the notice-deadline column sorts by: the stored plan's date; for a term whose
    renewal has not started, the end date minus the notice period before business days (the
    page shows the preview's exact date; sorting on it would mean planning every contract)."""
    nominal = days_before(ContractRow.end_date, ContractRow.notice_period_days)
    return type_coerce(func.coalesce(TermPlanRow.notice_deadline, nominal), Date())


def send_by_key() -> ColumnElement[date]:
    """The send-by column's sort key, as :func:`notice_deadline_key` (the transit buffer as
    calendar days for a preview)."""
    nominal = days_before(
        ContractRow.end_date, ContractRow.notice_period_days + ContractRow.transit_buffer_days
    )
    return type_coerce(func.coalesce(TermPlanRow.send_by, nominal), Date())


def owned_by(owner: str) -> ColumnElement[bool]:
    """Owned by ``owner``, whatever the case of the stored address. The spellings in use are
    found first (from the owner index alone), so that the contracts are then read through it:
    ``lower(owner) = ...`` would read every contract."""
    spelled = aliased(ContractRow)
    return ContractRow.owner.in_(
        select(spelled.owner).where(func.lower(spelled.owner) == owner.strip().lower()).distinct()
    )


def needs_me(
    username: str,
    *,
    today: date,
    policy: RenewalPolicy,
    spellings: Sequence[str] | None = None,
) -> ColumnElement[bool]:
    """The contracts ``username`` owns, still open, whose renewal waits on procurement
    (:data:`WAITS_ON_PROCUREMENT`) or whose next milestone is overdue or due within
    :data:`NEEDS_ME_DAYS` days: a pending milestone of the stored plan, or, for a renewal not
    started, its preparation (the first milestone, end date minus the policy's first offset)."""
    soon = today + timedelta(days=NEEDS_ME_DAYS)
    live = ContractRow.status != "terminated"
    pending_soon = (
        select(PlanMilestoneRow.id)
        .where(
            PlanMilestoneRow.contract_id == ContractRow.id,
            PlanMilestoneRow.term == ContractRow.current_term,
            PlanMilestoneRow.state == MilestoneState.PENDING.value,
            PlanMilestoneRow.due <= soon,
        )
        .exists()
    )
    first, final = policy.offsets_months[0], policy.offsets_months[-1]
    preparation_due = or_(
        ContractRow.end_date <= soon + relativedelta(months=first),
        # Moved earlier to keep the final terms before the notice deadline.
        notice_deadline_key() <= soon + relativedelta(months=first - final),
    )
    return and_(
        owned_by(username) if spellings is None else ContractRow.owner.in_(spellings),
        live,
        or_(RenewalRow.id.is_(None), RenewalRow.stage != "completed"),
        or_(
            RenewalRow.stage.in_(WAITS_ON_PROCUREMENT),
            and_(TermPlanRow.contract_id.is_not(None), pending_soon),
            and_(TermPlanRow.contract_id.is_(None), RenewalRow.id.is_(None), preparation_due),
        ),
    )


def stage_is(stage: str) -> ColumnElement[bool]:
    """``stage_expr() == stage`` written so that the database can use the renewal's columns
    (a CASE hides them: every contract would be read to find a dozen in legal review)."""
    if stage == CONTRACT_TERMINATED:
        return ContractRow.status == "terminated"
    live = ContractRow.status != "terminated"
    if stage == NOT_STARTED:
        return and_(live, RenewalRow.id.is_(None))
    return and_(live, RenewalRow.stage == stage)


def filtered_query(
    query: Any,
    flt: PipelineFilter,
    *,
    today: date | None,
    policy: RenewalPolicy | None,
    spellings: Mapping[str, Sequence[str]] | None = None,
) -> Any:
    """``query`` (over contracts joined to their current renewal and stored plan) narrowed by
    ``flt``."""
    if flt.stage:
        query = query.where(stage_is(flt.stage))
    if flt.supplier_id:
        query = query.where(ContractRow.supplier_id == flt.supplier_id)
    if flt.owner:
        query = query.where(
            ContractRow.owner.in_(spellings[flt.owner]) if spellings else owned_by(flt.owner)
        )
    if flt.ends_from:
        query = query.where(ContractRow.end_date >= flt.ends_from)
    if flt.ends_to:
        query = query.where(ContractRow.end_date <= flt.ends_to)
    if flt.team:
        query = query.where(ContractRow.team == flt.team)
    if flt.needs:
        if today is None:
            raise ValueError("the needs-me filter needs today's date")
        query = query.where(
            needs_me(
                flt.needs,
                today=today,
                policy=policy or RenewalPolicy(),
                spellings=spellings[flt.needs] if spellings else None,
            )
        )
    return query


def _first_pending(column: Any) -> Any:
    """``column`` of the current term's first pending milestone of the stored plan (in plan
    order): what :meth:`models.plans.StoredPlan.next_open` picks, read in the page's query. A
    correlated subquery per column: as a join PostgreSQL hashed every milestone stored."""
    return (
        select(column)
        .where(
            PlanMilestoneRow.contract_id == ContractRow.id,
            PlanMilestoneRow.term == ContractRow.current_term,
            PlanMilestoneRow.state == MilestoneState.PENDING.value,
        )
        .order_by(PlanMilestoneRow.position)
        .limit(1)
        .correlate(ContractRow)
        .scalar_subquery()
    )


def pipeline_query(
    flt: PipelineFilter, *, today: date | None = None, policy: RenewalPolicy | None = None
) -> Any:
    """Every column a pipeline row shows: the contract, its supplier, its current renewal and
    scorecard, and its term's stored plan (the three dates and the first pending milestone;
    NULL where no plan is stored, and :func:`items_for` makes the preview)."""
    stage = stage_expr().label("stage")
    query = (
        select(
            ContractRow,
            SupplierRow.name,
            SupplierRow.category,
            RenewalRow.workflow_id,
            stage,
            ScorecardRow.total,
            ScorecardRow.grade,
            ScorecardRow.recommendation,
            TermPlanRow.contract_id.is_not(None),
            TermPlanRow.end_date,
            TermPlanRow.notice_deadline,
            TermPlanRow.send_by,
            _first_pending(PlanMilestoneRow.kind),
            type_coerce(_first_pending(PlanMilestoneRow.due), Date()),
        )
        .join(SupplierRow, SupplierRow.id == ContractRow.supplier_id)
        .outerjoin(RenewalRow, current_renewal())
        .outerjoin(ScorecardRow, ScorecardRow.renewal_id == RenewalRow.id)
        .outerjoin(TermPlanRow, current_plan())
    )
    return filtered_query(query, flt, today=today, policy=policy)


def lean_query(
    columns: Sequence[Any],
    flt: PipelineFilter,
    *,
    today: date | None,
    policy: RenewalPolicy | None,
    plan: bool = False,
    score: bool = False,
    spellings: Mapping[str, Sequence[str]] | None = None,
) -> Any:
    """``columns`` of the filtered contracts with only the joins the filter and the sort need:
    what a count and a sort read over every matching row (the page's rows are read in full
    afterwards, 50 of them). Every contract has its supplier (a foreign key): no join."""
    query = select(*columns).select_from(ContractRow)
    if flt.stage or flt.needs or score:
        query = query.outerjoin(RenewalRow, current_renewal())
    if score:
        query = query.outerjoin(ScorecardRow, ScorecardRow.renewal_id == RenewalRow.id)
    if plan or flt.needs:
        query = query.outerjoin(TermPlanRow, current_plan())
    return filtered_query(query, flt, today=today, policy=policy, spellings=spellings)


def next_milestone(plan: StoredPlan, *, stage: str, today: date) -> NextMilestone | None:
    """The first milestone of ``plan`` the renewal has not passed (None once it is over).

    For a stored plan that is the first one still pending in the states the workflow stored:
    a milestone whose date is behind but that has not run is shown, overdue, not skipped. A
    preview of a term whose renewal has not started begins with its first milestone."""
    if stage in {"completed", CONTRACT_TERMINATED}:
        return None
    if plan.preview and stage != NOT_STARTED:
        return _from_stage(plan, stage=stage, today=today)
    nxt = plan.next_open()
    return None if nxt is None else _next(nxt, today)


def _next(m: StoredMilestone, today: date) -> NextMilestone:
    return NextMilestone(m.kind.value, m.due, (m.due - today).days)


def _from_stage(plan: StoredPlan, *, stage: str, today: date) -> NextMilestone | None:
    """A renewal started before plans were stored that has neither re-planned nor been
    backfilled yet (`renewals plans backfill`): its milestones' states are not stored, so the
    stage tells which have run. Labelled a preview like any plan that is not stored."""
    done: set[MilestoneKind] = set()
    if stage != "waiting":
        done.add(MilestoneKind.GATHER_FACTS)
    if stage in {"legal_review", "approved", "escalated", "final_terms_issued"}:
        done.add(MilestoneKind.FIRST_DISCUSSION)
    if stage in {"final_terms_issued"}:
        done.add(MilestoneKind.FINAL_TERMS)
    for m in plan.milestones:
        if m.kind in done:
            continue
        if m.kind is MilestoneKind.EXPIRY or m.due >= today:
            return _next(m, today)
    expiry = plan.get(MilestoneKind.EXPIRY)
    return None if expiry is None else _next(expiry, today)


def pipeline(
    session: Session,
    *,
    today: date,
    policy: RenewalPolicy,
    cfg: CalendarSettings,
    flt: PipelineFilter | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[PipelineItem], int]:
    """A page of contracts, soonest expiry first, and how many match the filter.

    The count and the page's ids are read over the ids alone, with only the joins the filter
    needs, and the page's rows in full afterwards: skipping 99,900 rows that carry every
    column and join costs half a second, skipping their ids through the end-date index a few
    milliseconds."""
    flt = flt or PipelineFilter()
    spellings = {name: owner_spellings(session, name) for name in (flt.owner, flt.needs) if name}
    counted = lean_query([func.count()], flt, today=today, policy=policy, spellings=spellings)
    total = session.scalar(counted) or 0
    ids = list(
        session.scalars(
            lean_query([ContractRow.id], flt, today=today, policy=policy, spellings=spellings)
            .order_by(ContractRow.end_date, ContractRow.id)
            .limit(limit)
            .offset(offset)
        )
    )
    if not ids:
        return [], total
    rows = session.execute(
        pipeline_query(PipelineFilter(), today=today, policy=policy)
        .where(ContractRow.id.in_(ids))
        .order_by(ContractRow.end_date, ContractRow.id)
    ).all()
    return items_for(session, rows, today=today, policy=policy, cfg=cfg), total


def items_for(
    session: Session,
    rows: Sequence[Any],
    *,
    today: date,
    policy: RenewalPolicy,
    cfg: CalendarSettings,
) -> list[PipelineItem]:
    """The items of rows of :func:`pipeline_query`. A term with a stored plan shows that plan's
    dates and first pending milestone, read with the row (a 1,000-row export built each whole
    plan for three dates and one milestone); the others get the preview the workflow's plan
    function makes, as every view does (renewal-semantics.md §1)."""
    previews = previews_for(  # no stored plan (row[8]): plans_for would find none either
        [(to_read(row[0]), row[2]) for row in rows if not row[8]],
        today=today,
        policy=policy,
        cfg=cfg,
    )
    items = []
    for row in rows:
        contract, supplier_name, _, workflow_id, stage, total_score, grade, rec = row[:8]
        stored, end_date, notice_deadline, send_by, pending_kind, pending_due = row[8:14]
        if stored:
            nxt = (
                None
                if stage in _OVER or pending_kind is None
                else NextMilestone(pending_kind, pending_due, (pending_due - today).days)
            )
        else:
            plan = previews[contract.id]
            end_date, notice_deadline, send_by = plan.end_date, plan.notice_deadline, plan.send_by
            nxt = next_milestone(plan, stage=stage, today=today)
        items.append(
            PipelineItem(
                contract_id=contract.id,
                title=contract.title,
                supplier_id=contract.supplier_id,
                supplier_name=supplier_name,
                owner=contract.owner,
                term=contract.current_term,
                end_date=end_date,
                days_to_expiry=(end_date - today).days,
                notice_deadline=notice_deadline,
                send_by=send_by,
                stage=stage,
                workflow_id=workflow_id,
                next_milestone=nxt,
                score=total_score,
                grade=grade,
                recommendation=rec,
                plan_preview=not stored,
            )
        )
    return items


def team_names(session: Session) -> list[str]:
    return list(session.scalars(select(TeamRow.name).order_by(TeamRow.name)))


def distinct_owners(session: Session) -> list[str]:
    return list(session.scalars(select(ContractRow.owner).distinct().order_by(ContractRow.owner)))


def count_contracts(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(ContractRow)) or 0
