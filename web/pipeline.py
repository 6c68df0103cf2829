"""The buyers' pipeline and exposure pages (issue 16): every contract with its stage, next
milestone, dates, score and value, filtered, sorted and paged; the same view as CSV; and what
is expiring, about to roll over or lapsed.

Filters people type (stage, supplier, owner, team, ends within N days) are checked: a bad value
gives the page again with the field's reason next to it and what was typed kept, status 422,
and no rows. The navigation values the page's own links carry (sort column, direction, page
cursor) fall back to the default with a notice when they are not ones the page makes.

Every date comes from the term's stored plan, or a preview made by the workflow's own plan
function, labelled as such (renewal-semantics.md §1).
"""

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import partial
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response, StreamingResponse

from auth.roles import Permission
from models.users import WebSession
from portal.deps import SessionDep, StateDep, require_web
from store.reads import exposure as exposure_reads
from store.reads import pipeline as reads
from store.reads import pipeline_pages as pages
from web.i18n import Translator
from web.pages import Notice, render, translator_for

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 50
MAX_DAYS = 36_500  # a hundred years: anything longer is a typing slip
_MAX_TEXT = 200
# The columns a header link sorts by, and the direction each starts in when first chosen.
_FIRST_DIRECTION = {
    "end_date": "asc",
    "send_by": "asc",
    "notice_deadline": "asc",
    "score": "desc",
    "annual_value": "desc",
    "contract_id": "asc",
}


@dataclass
class Filters:
    """The filter form as typed (kept on the page) and, once checked, the read model's filter."""

    stage: str = ""
    supplier: str = ""
    owner: str = ""
    team: str = ""
    ends_within: str = ""
    needs: bool = False
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def active(self) -> bool:
        return bool(
            self.stage or self.supplier or self.owner or self.team or self.ends_within or self.needs
        )

    def params(self) -> dict[str, str]:
        """The filters as query parameters, empty ones left out."""
        found = {
            "stage": self.stage,
            "supplier": self.supplier,
            "owner": self.owner,
            "team": self.team,
            "ends_within": self.ends_within,
        }
        out = {k: v for k, v in found.items() if v}
        if self.needs:
            out["needs"] = "1"
        return out


def _text(value: str | None) -> str:
    return (value or "").strip()


def _filters(request: Request, t: Translator, teams: list[str]) -> Filters:
    """The filter form as typed, with a reason for each field that is not acceptable."""
    q = request.query_params
    f = Filters(
        stage=_text(q.get("stage")),
        supplier=_text(q.get("supplier")),
        owner=_text(q.get("owner")),
        team=_text(q.get("team")),
        ends_within=_text(q.get("ends_within")),
        needs=q.get("needs") in {"1", "on", "true"},
    )
    if f.stage and f.stage not in reads.stage_names():
        f.errors["stage"] = t.gettext("Choose a stage from the list.")
    if f.team and f.team not in teams:
        f.errors["team"] = t.gettext("There is no team of that name; choose one from the list.")
    for name in ("supplier", "owner"):
        if len(getattr(f, name)) > _MAX_TEXT:
            f.errors[name] = t.gettext("At most %(n)s characters.", n=_MAX_TEXT)
    if f.ends_within:
        try:
            days = int(f.ends_within)
        except ValueError:
            f.errors["ends_within"] = t.gettext("Enter a whole number of days, such as 90.")
        else:
            if days < 0:
                f.errors["ends_within"] = t.gettext("Enter 0 or more days.")
            elif days > MAX_DAYS:
                f.errors["ends_within"] = t.gettext(
                    "Enter at most %(n)s days.", n=t.number(MAX_DAYS)
                )
    return f


@dataclass(frozen=True, slots=True)
class Navigation:
    sort: str
    descending: bool
    after: str | None
    before: str | None
    last: bool
    ignored: bool  # a value the page's links never make was dropped


def _navigation(request: Request) -> Navigation:
    q = request.query_params
    ignored = False
    sort = q.get("sort") or "end_date"
    if sort not in pages.SORTS:
        sort, ignored = "end_date", True
    direction = q.get("dir") or _FIRST_DIRECTION[sort]
    if direction not in {"asc", "desc"}:
        direction, ignored = _FIRST_DIRECTION[sort], True
    after, before = q.get("after") or None, q.get("before") or None
    for cursor in (after, before):
        if cursor is not None and len(cursor) > 300:
            after = before = None
            ignored = True
    return Navigation(sort, direction == "desc", after, before, q.get("page") == "last", ignored)


def _query(params: dict[str, str]) -> str:
    return "?" + urlencode(params) if params else ""


def _read_filter(state: Any, session: WebSession, f: Filters) -> reads.PipelineFilter:
    """The read model's filter of a checked form: "ends within" from today, "needs me" for the
    signed-in person."""
    days = int(f.ends_within) if f.ends_within else None
    return reads.PipelineFilter(
        stage=f.stage or None,
        supplier_id=f.supplier or None,
        owner=f.owner or None,
        team=f.team or None,
        ends_to=None if days is None else state.today() + timedelta(days=days),
        needs=session.user.username if f.needs else None,
    )


def _sort_links(f: Filters, nav: Navigation) -> dict[str, dict[str, str]]:
    """Each sortable header's link and ``aria-sort``: a click on the sorted column turns it
    round, a click on another sorts by it in its natural direction, from the first page."""
    links = {}
    for column, first in _FIRST_DIRECTION.items():
        current = column == nav.sort
        if current:
            direction = "asc" if nav.descending else "desc"
            aria = "descending" if nav.descending else "ascending"
        else:
            direction, aria = first, "none"
        href = "/pipeline" + _query({**f.params(), "sort": column, "dir": direction})
        links[column] = {"href": href, "aria": aria, "current": "1" if current else ""}
    return links


@router.get("/pipeline")
def pipeline_page(
    request: Request,
    db: SessionDep,
    state: StateDep,
    session: Annotated[WebSession, require_web(Permission.CONTRACTS_READ)],
) -> HTMLResponse:
    t = translator_for(request, session, "pipeline")
    teams = reads.team_names(db)
    f = _filters(request, t, teams)
    nav = _navigation(request)
    notice = None
    if nav.ignored:
        notice = Notice("error", t.gettext("The sort or page asked for was not understood."))
    page = None
    view = {**f.params(), "sort": nav.sort, "dir": "desc" if nav.descending else "asc"}
    if not f.errors:
        read = partial(
            pages.pipeline_page,
            db,
            today=state.today(),
            policy=state.settings.renewal_policy,
            cfg=state.settings.calendar_settings,
            flt=_read_filter(state, session, f),
            sort=nav.sort,
            descending=nav.descending,
            limit=PAGE_SIZE,
        )
        try:
            page = read(after=nav.after, before=nav.before, last=nav.last)
        except ValueError:  # a cursor of another sort, or one edited by hand: the first page
            notice = Notice("error", t.gettext("The sort or page asked for was not understood."))
            page = read()
    links: dict[str, str | None] = {"first": None, "prev": None, "next": None, "last": None}
    if page is not None:
        if page.prev_cursor is not None:
            links["first"] = "/pipeline" + _query(view)
            links["prev"] = "/pipeline" + _query({**view, "before": page.prev_cursor})
        if page.next_cursor is not None:
            links["next"] = "/pipeline" + _query({**view, "after": page.next_cursor})
            links["last"] = "/pipeline" + _query({**view, "page": "last"})
    return render(
        request,
        "pipeline/pipeline.html",
        {
            "f": f,
            "page": page,
            "teams": teams,
            "stages": reads.stage_names(),
            "sort_links": _sort_links(f, nav),
            "links": links,
            "csv_href": "/pipeline.csv" + _query(view),
            "may_export": session.user.can(Permission.EXPORT),
            "notice": notice,
            "today": state.today(),
            "needs_days": reads.NEEDS_ME_DAYS,
            "waits": reads.WAITS_ON_PROCUREMENT,
        },
        session=session,
        status_code=422 if f.errors else 200,
    )


# ---------------------------------------------------------------------------- CSV


def csv_header(t: Translator) -> list[str]:
    return [
        t.gettext("Contract"),
        t.gettext("Title"),
        t.gettext("Supplier ID"),
        t.gettext("Supplier"),
        t.gettext("Owner"),
        t.gettext("Team"),
        t.gettext("Stage"),
        t.gettext("Next milestone"),
        t.gettext("Next milestone date"),
        t.gettext("Days left"),
        t.label("send_by").capitalize(),
        t.label("notice_deadline").capitalize(),
        t.label("expiry").capitalize(),
        t.gettext("Score"),
        t.gettext("Grade"),
        t.gettext("Recommendation"),
        t.gettext("Annual value"),
        t.gettext("Currency"),
        t.gettext("Preview dates"),
    ]


def csv_row(t: Translator, row: pages.PipelineRow) -> list[str]:
    i = row.item
    nxt = i.next_milestone

    def iso(d: date | None) -> str:
        return d.isoformat() if d else ""

    return [
        i.contract_id,
        i.title,
        i.supplier_id,
        i.supplier_name,
        i.owner,
        row.team or "",
        t.stage(i.stage),
        t.label(nxt.kind) if nxt else "",
        iso(nxt.due) if nxt else "",
        str(nxt.days_left) if nxt else "",
        iso(i.send_by),
        iso(i.notice_deadline),
        iso(i.end_date),
        "" if i.score is None else format(i.score.normalize(), "f"),
        i.grade or "",
        t.label(i.recommendation) if i.recommendation else "",
        format(row.annual_value.normalize(), "f"),
        row.currency,
        t.gettext("yes") if i.plan_preview else t.gettext("no"),
    ]


def _csv_lines(
    state: Any, t: Translator, flt: reads.PipelineFilter, nav: Navigation
) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")

    def flush() -> bytes:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text.encode("utf-8")

    # The byte-order mark tells Excel the file is UTF-8: without it Japanese reads as mojibake.
    writer.writerow(csv_header(t))
    yield b"\xef\xbb\xbf" + flush()
    with state.sessions() as db:
        for n, row in enumerate(
            pages.iter_pipeline(
                db,
                today=state.today(),
                policy=state.settings.renewal_policy,
                cfg=state.settings.calendar_settings,
                flt=flt,
                sort=nav.sort,
                descending=nav.descending,
            ),
            start=1,
        ):
            writer.writerow(csv_row(t, row))
            if n % 500 == 0:
                yield flush()
    yield flush()


@router.get("/pipeline.csv")
def pipeline_csv(
    request: Request,
    db: SessionDep,
    state: StateDep,
    session: Annotated[WebSession, require_web(Permission.EXPORT)],
) -> Response:
    """The pipeline as the page shows it, every matching row. Export is its own permission
    (buyers and administrators have it; legal and readers read the page but take no copy)."""
    t = translator_for(request, session, "pipeline")
    teams = reads.team_names(db)
    f = _filters(request, t, teams)
    if f.errors:
        return pipeline_page(request, db, state, session)
    nav = _navigation(request)
    name = f"pipeline-{state.today().isoformat()}.csv"
    return StreamingResponse(
        _csv_lines(state, t, _read_filter(state, session, f), nav),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Content-Language": t.language,
            "Vary": "Accept-Language, Cookie",
        },
    )


# ---------------------------------------------------------------------------- exposure


@router.get("/exposure")
def exposure_page(
    request: Request,
    db: SessionDep,
    state: StateDep,
    session: Annotated[WebSession, require_web(Permission.CONTRACTS_READ)],
) -> HTMLResponse:
    data = exposure_reads.exposure(
        db,
        today=state.today(),
        policy=state.settings.renewal_policy,
        cfg=state.settings.calendar_settings,
    )
    currencies = sorted({c for e in data.expiring for c in e.by_currency})
    return render(
        request,
        "pipeline/exposure.html",
        {
            "data": data,
            "currencies": currencies,
            "roll_over_days": exposure_reads.ROLL_OVER_DAYS,
        },
        session=session,
    )
