"""The pipeline page's sorted pages: one visible column, then the contract id, paged by keyset
(the last row's sort value and id), so that a late page costs what the first does where OFFSET
would read and drop every row before it; and the whole sorted view for the CSV export.

The rows are :mod:`store.reads.pipeline`'s items, with the same filters and the same dates
(the term's stored plan, else a labelled preview)."""

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Float, cast, func, literal, select, tuple_
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from domain.term_plan import CalendarSettings
from models.milestones import RenewalPolicy
from models.tables import (
    ContractRow,
    RenewalRow,
    ScorecardRow,
    TermPlanRow,
)
from store.reads._stages import (
    current_renewal,
)
from store.reads.pipeline import (
    PipelineFilter,
    PipelineItem,
    current_plan,
    filtered_query,
    items_for,
    lean_query,
    notice_deadline_key,
    owner_spellings,
    pipeline_query,
    send_by_key,
)

__all__ = [
    "SLACK_DAYS",
    "SORTS",
    "PipelinePage",
    "PipelineRow",
    "iter_pipeline",
    "pipeline_page",
    "reach",
]

# The pipeline page sorts by one visible column, then the contract id, and pages by keyset
# (the last row's sort value and id): a late page costs what the first does, where OFFSET
# would read and drop every row before it.

SORTS: tuple[str, ...] = (
    "end_date",
    "send_by",
    "notice_deadline",
    "score",
    "annual_value",
    "contract_id",
)
_NO_SCORE_LAST = {False: 1000.0, True: -1.0}  # scores are 0 to 100; none sorts after them


@dataclass(frozen=True, slots=True)
class PipelineRow:
    """A pipeline item with what the page shows besides: value, currency, team, and its
    position in the sort order (``cursor``)."""

    item: PipelineItem
    annual_value: Decimal
    currency: str
    team: str | None
    cursor: str


@dataclass(frozen=True, slots=True)
class PipelinePage:
    rows: list[PipelineRow]
    total: int
    next_cursor: str | None  # None: this is the last page
    prev_cursor: str | None  # None: this is the first page


def _sort_key(sort: str, descending: bool) -> ColumnElement[Any]:
    if sort == "end_date":
        return ContractRow.end_date.expression
    if sort == "send_by":
        return send_by_key()
    if sort == "notice_deadline":
        return notice_deadline_key()
    if sort == "score":
        return func.coalesce(cast(ScorecardRow.total, Float), _NO_SCORE_LAST[descending])
    if sort == "annual_value":
        return cast(ContractRow.annual_value, Float)
    if sort == "contract_id":
        return ContractRow.id.expression
    raise ValueError(f"unknown sort {sort!r}")


def _encode(sort: str, value: Any, contract_id: str) -> str:
    if sort in {"end_date", "send_by", "notice_deadline"}:
        text = value.isoformat() if isinstance(value, date) else str(value)
    elif sort in {"score", "annual_value"}:
        text = repr(float(value))
    else:
        text = ""
    return f"{text}~{contract_id}"


def _decode(sort: str, cursor: str) -> tuple[Any, str]:
    """The sort value and id of a cursor; ValueError when it is not one of this sort's."""
    text, sep, contract_id = cursor.partition("~")
    if not sep or not contract_id:
        raise ValueError("not a cursor")
    if sort in {"end_date", "send_by", "notice_deadline"}:
        return date.fromisoformat(text), contract_id
    if sort in {"score", "annual_value"}:
        return float(text), contract_id
    return contract_id, contract_id


# The dates sorted by an expression no index has; each is at most a bounded number of days
# before the end date, which has one (see _windowed).
_BY_END_DATE = frozenset({"send_by", "notice_deadline"})
_SORTED_APART = _BY_END_DATE | {"score"}  # read by their own functions, not one ordered query
# Weekends, holidays and the year-end closure move a deadline back at most this many days, and
# a transit buffer of N business days spans at most N + this many calendar days more
# (tests/test_web_pipeline.py holds the plan function to it).
SLACK_DAYS = 15


def reach(sort: str, cfg: CalendarSettings) -> ColumnElement[int]:
    """How many days before a contract's end date its ``sort`` date can be, at most."""
    slack = SLACK_DAYS + len(cfg.closure_days)  # a run of company closures moves it further
    if sort == "send_by":
        return ContractRow.notice_period_days + 2 * ContractRow.transit_buffer_days + slack
    return ContractRow.notice_period_days + slack


def _windowed(
    session: Session,
    query: Any,
    sort: str,
    *,
    up: bool,
    start: date | None,
    size: int,
    cfg: CalendarSettings,
) -> list[Any]:
    """``size + 1`` rows of ``query`` (ordered by a date at most ``reach`` days before the end
    date) read through the end-date index: a window of end dates, widened until no contract
    outside it could sort among the rows found. Sorting the whole table by the expression
    reads 100,000 rows for 50."""
    bounds = session.execute(
        select(
            func.min(ContractRow.end_date),
            func.max(ContractRow.end_date),
            func.max(reach(sort, cfg)),
        )
    ).one()
    first_end, last_end, longest = bounds
    if first_end is None:
        return []
    longest = int(longest)
    step = timedelta(days=longest + 60)
    if up:
        # A date on or after ``start`` belongs to an end date on or after it.
        low = max(first_end, start) if start else first_end
        high = low + step
        while True:
            if high >= last_end:
                return list(
                    session.execute(query.where(ContractRow.end_date >= low).limit(size + 1)).all()
                )
            rows = list(
                session.execute(
                    query.where(ContractRow.end_date >= low, ContractRow.end_date <= high).limit(
                        size + 1
                    )
                ).all()
            )
            # A contract ending after ``high`` has its date after ``high - longest``.
            if len(rows) > size and rows[-1][1] < high - timedelta(days=longest):
                return rows
            step *= 2
            high = low + step
    # Downwards: a date on or before ``start`` belongs to an end date at most ``longest`` later.
    high = min(last_end, start + timedelta(days=longest)) if start else last_end
    low = high - step
    while True:
        if low <= first_end:
            return list(
                session.execute(query.where(ContractRow.end_date <= high).limit(size + 1)).all()
            )
        rows = list(
            session.execute(
                query.where(ContractRow.end_date >= low, ContractRow.end_date <= high).limit(
                    size + 1
                )
            ).all()
        )
        # A contract ending before ``low`` has its date before ``low``.
        if len(rows) > size and rows[-1][1] > low:
            return rows
        step *= 2
        low = high - step


def _by_score(
    session: Session,
    flt: PipelineFilter,
    *,
    today: date,
    policy: RenewalPolicy,
    up: bool,
    descending: bool,
    cursor: tuple[Any, str] | None,
    size: int,
    spellings: Mapping[str, Sequence[str]],
) -> list[Any]:
    """``size + 1`` rows in score order: the scored contracts sorted (the scorecards are few),
    and the ones without a score, after them in either direction, by id through the primary
    key. One sort of every contract by a joined column is what this avoids."""
    no_score = _NO_SCORE_LAST[descending]
    total = cast(ScorecardRow.total, Float)
    # From the scorecards to their contracts: the database reads the few scored ones only.
    scored = (
        select(ContractRow.id, total.label("sort_key"))
        .select_from(ScorecardRow)
        .join(RenewalRow, RenewalRow.id == ScorecardRow.renewal_id)
        .join(ContractRow, current_renewal())
        .where(ScorecardRow.total.is_not(None))
    )
    if flt.needs:
        scored = scored.outerjoin(TermPlanRow, current_plan())
    scored = filtered_query(scored, flt, today=today, policy=policy, spellings=spellings)
    unscored = lean_query(
        [ContractRow.id, literal(no_score, Float).label("sort_key")],
        flt,
        today=today,
        policy=policy,
        score=True,
        spellings=spellings,
    ).where(ScorecardRow.total.is_(None))
    past_scored = cursor is not None and cursor[0] == no_score
    if cursor is not None:
        if past_scored:
            unscored = unscored.where(
                ContractRow.id > cursor[1] if up else ContractRow.id < cursor[1]
            )
        else:
            scored = scored.where(_beyond(total, cursor[0], cursor[1], up=up))
    scored = scored.order_by(
        *((total.asc(), ContractRow.id.asc()) if up else (total.desc(), ContractRow.id.desc()))
    )
    unscored = unscored.order_by(ContractRow.id.asc() if up else ContractRow.id.desc())
    # Read in the scan's direction: scored first unless reading back towards them.
    scored_first = up != descending
    phases = [(scored, True), (unscored, False)]
    if not scored_first:
        phases.reverse()
    rows: list[Any] = []
    for query, is_scored in phases:
        if cursor is not None and scored_first and is_scored and past_scored:
            continue  # the cursor is beyond every scored contract already
        if cursor is not None and not scored_first and not is_scored and not past_scored:
            continue  # reading back from a scored contract: every unscored one is behind
        rows += session.execute(query.limit(size + 1 - len(rows))).all()
        if len(rows) > size:
            break
    return rows


def _beyond(key: ColumnElement[Any], value: Any, contract_id: str, *, up: bool) -> Any:
    """The rows after (``up``) or before a cursor in (key, id) order, as one row-value
    comparison: the same rows as ``key > v OR (key = v AND id > c)``, NULLs alike, but
    PostgreSQL reads it as a range of the (key, id) index, where the OR walked the index from
    its start (87 ms for the CSV's second batch of 500, 100,000 contracts)."""
    row = tuple_(key, ContractRow.id)
    cursor = tuple_(literal(value, key.type), literal(contract_id, ContractRow.id.type))
    return row > cursor if up else row < cursor


def pipeline_page(
    session: Session,
    *,
    today: date,
    policy: RenewalPolicy,
    cfg: CalendarSettings,
    flt: PipelineFilter | None = None,
    sort: str = "end_date",
    descending: bool = False,
    after: str | None = None,
    before: str | None = None,
    last: bool = False,
    limit: int = 50,
    count: bool = True,
) -> PipelinePage:
    """One page of the filtered pipeline in ``sort`` order (then by contract id): the first,
    the one ``after`` or ``before`` a row's cursor, or the ``last``. ValueError for an unknown
    sort or a cursor that is not one of this sort's."""
    flt = flt or PipelineFilter()
    key = _sort_key(sort, descending)
    # Sort the ids and keys alone, with the joins the sort and the filter need, then read the
    # page's rows in full: a sort carrying every column of 100,000 rows is several times
    # slower.
    spellings = {name: owner_spellings(session, name) for name in (flt.owner, flt.needs) if name}
    query = lean_query(
        [ContractRow.id, key.label("sort_key")],
        flt,
        today=today,
        policy=policy,
        plan=sort in {"send_by", "notice_deadline"},
        score=sort == "score",
        spellings=spellings,
    )
    # Read backwards for a page before a cursor and for the last page, then turn it round.
    backwards = before is not None or last
    up = descending == backwards
    cursor = before if before is not None else after
    start: date | None = None
    if cursor is not None and not last:
        value, contract_id = _decode(sort, cursor)
        query = query.where(_beyond(key, value, contract_id, up=up))
        start = value if isinstance(value, date) else None
    order = (key.asc(), ContractRow.id.asc()) if up else (key.desc(), ContractRow.id.desc())
    total = 0
    # "Needs me" reads every one of the owner's contracts (and their renewals and plans) to
    # count them, and the sort cannot stop early either: the first page counts in the same
    # read (a window over the filtered rows, before the limit) instead of reading them twice.
    counted_with_keys = (
        count and bool(flt.needs) and cursor is None and not last and sort not in _SORTED_APART
    )
    if count and not counted_with_keys:
        counted = lean_query([func.count()], flt, today=today, policy=policy, spellings=spellings)
        total = session.scalar(counted) or 0
    size = limit
    if last and total:
        # The pages' boundaries as read forwards from the first: the last holds the remainder.
        size = total % limit or limit
    if sort == "score":
        keys = _by_score(
            session,
            flt,
            today=today,
            policy=policy,
            up=up,
            descending=descending,
            cursor=_decode(sort, cursor) if cursor is not None and not last else None,
            size=size,
            spellings=spellings,
        )
    elif sort in _BY_END_DATE:
        keys = _windowed(
            session, query.order_by(*order), sort, up=up, start=start, size=size, cfg=cfg
        )
    elif counted_with_keys:
        # Counted in a subquery, sorted outside it: with the window and the ORDER BY in one
        # query PostgreSQL walked the whole end-date index for the first 51 rows.
        inner = query.add_columns(func.count().over().label("total")).subquery()
        turned = (inner.c.sort_key, inner.c.id)
        found = session.execute(
            select(inner).order_by(*(c.asc() if up else c.desc() for c in turned)).limit(size + 1)
        ).all()
        total = found[0][2] if found else 0
        keys = [(k[0], k[1]) for k in found]
    else:
        keys = list(session.execute(query.order_by(*order).limit(size + 1)).all())
    more = len(keys) > size
    keys = keys[:size]
    if backwards:
        keys.reverse()
    ids = [k[0] for k in keys]
    full = {
        row[0].id: row
        for row in session.execute(
            pipeline_query(PipelineFilter(), today=today, policy=policy).where(
                ContractRow.id.in_(ids)
            )
        ).all()
    }
    rows = [(*full[k[0]], k[1]) for k in keys]
    items = items_for(session, rows, today=today, policy=policy, cfg=cfg)
    shown = [
        PipelineRow(
            item=item,
            annual_value=row[0].annual_value,
            currency=row[0].currency,
            team=row[0].team,
            cursor=_encode(sort, row[-1], item.contract_id),
        )
        for item, row in zip(items, rows, strict=True)
    ]
    if backwards:
        has_prev, has_next = more, bool(shown) and not last
    else:
        has_prev, has_next = after is not None and bool(shown), more
    return PipelinePage(
        rows=shown,
        total=total,
        next_cursor=shown[-1].cursor if has_next and shown else None,
        prev_cursor=shown[0].cursor if has_prev and shown else None,
    )


def iter_pipeline(
    session: Session,
    *,
    today: date,
    policy: RenewalPolicy,
    cfg: CalendarSettings,
    flt: PipelineFilter | None = None,
    sort: str = "end_date",
    descending: bool = False,
    batch: int = 500,
) -> Iterator[PipelineRow]:
    """Every row of the filtered pipeline in ``sort`` order, read a batch at a time."""
    after: str | None = None
    while True:
        page = pipeline_page(
            session,
            today=today,
            policy=policy,
            cfg=cfg,
            flt=flt,
            sort=sort,
            descending=descending,
            after=after,
            limit=batch,
            count=False,
        )
        yield from page.rows
        if page.next_cursor is None:
            return
        after = page.next_cursor
