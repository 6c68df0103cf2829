"""The supplier pages of the buyers' workspace (issue 16): the list of suppliers with their
contracts count and latest score, and one supplier's page with its scorecard history across
terms (a server-rendered SVG chart and the same figures in a table), the KPIs with their
evidence (the relationship KPI among them), its repeat rate (terms renewed / terms ended), its
contracts and its follow-up actions."""

from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from auth.roles import Permission
from models.errors import NotFound
from models.numbers import DbInt
from models.scorecard import KpiName
from models.users import WebSession
from portal.deps import SessionDep, require_web
from portal.problems import Problem
from store.reads import supplier_page as reads
from web.pages import render, translator_for

__all__ = ["CHART", "Bar", "Chart", "router", "score_chart"]

router = APIRouter(include_in_schema=False)

Reader = Annotated[WebSession, require_web(Permission.CONTRACTS_READ)]
PAGE_SIZE = 50
# The series of each scorecard, in the chart's and the table's order: the weighted total first.
SERIES: tuple[str, ...] = ("total", *(k.value for k in KpiName))


@dataclass(frozen=True, slots=True)
class Bar:
    series: str
    x: int
    y: int
    height: int
    score: Decimal


@dataclass(frozen=True, slots=True)
class Group:
    x: int  # the centre of the group, where its label goes
    label: str
    sublabel: str
    bars: list[Bar]


@dataclass(frozen=True, slots=True)
class Chart:
    width: int
    height: int
    top: int
    bottom: int  # the y of score 0
    left: int
    ticks: list[tuple[int, int]]  # (score, y)
    groups: list[Group]


@dataclass(frozen=True, slots=True)
class _Geometry:
    bar: int = 18
    gap: int = 36
    left: int = 44
    top: int = 12
    plot: int = 200  # the height of scores 0..100
    labels: int = 44


CHART = _Geometry()


def score_chart(cards: list[reads.SupplierScorecard], *, term_label: str) -> Chart:
    """Bars of the total and each KPI for each scorecard, oldest first; a KPI with
    insufficient data has no bar (the table says so), never a bar of 0.

    ``term_label`` is a format with ``{n}``: the group's label in the reader's language."""
    g = CHART
    group_width = g.bar * len(SERIES) + g.gap
    bottom = g.top + g.plot
    groups: list[Group] = []
    for i, card in enumerate(cards):
        start = g.left + g.gap // 2 + i * group_width
        bars = []
        for j, series in enumerate(SERIES):
            score = card.total if series == "total" else _kpi_score(card, series)
            if score is None:
                continue
            height = int((Decimal(score) * g.plot / 100).to_integral_value())
            bars.append(Bar(series, start + j * g.bar, bottom - height, height, Decimal(score)))
        groups.append(
            Group(
                x=start + g.bar * len(SERIES) // 2,
                label=term_label.format(n=card.term),
                sublabel=card.contract_id,
                bars=bars,
            )
        )
    width = g.left + max(1, len(cards)) * group_width + g.gap // 2
    ticks = [(s, bottom - s * g.plot // 100) for s in (0, 25, 50, 75, 100)]
    return Chart(width, bottom + g.labels, g.top, bottom, g.left, ticks, groups)


def _kpi_score(card: reads.SupplierScorecard, name: str) -> Decimal | None:
    for kpi in card.kpis:
        if kpi.name == name:
            return kpi.score
    return None


def _kpi_listed(card: reads.SupplierScorecard, name: str) -> bool:
    """Whether the scorecard has the KPI at all: one stored before the relationship KPI
    existed does not, and says so rather than "insufficient data"."""
    return any(kpi.name == name for kpi in card.kpis)


@router.get("/suppliers")
def suppliers(request: Request, db: SessionDep, session: Reader, offset: DbInt = 0) -> HTMLResponse:
    items, total = reads.list_suppliers(db, limit=PAGE_SIZE, offset=offset)
    return render(
        request,
        "supplier/list.html",
        {"items": items, "total": total, "offset": offset, "limit": PAGE_SIZE},
        session=session,
    )


@router.get("/suppliers/{supplier_id}")
def supplier(request: Request, db: SessionDep, session: Reader, supplier_id: str) -> HTMLResponse:
    try:
        page = reads.supplier_page(db, supplier_id=supplier_id)
    except NotFound:
        raise Problem(404, "Not found", f"supplier {supplier_id!r} does not exist") from None
    t = translator_for(request, session, "supplier")
    chart = score_chart(page.scorecards, term_label=t.gettext("Term %(n)s", n="{n}"))
    return render(
        request,
        "supplier/page.html",
        {
            "page": page,
            "chart": chart,
            "series": SERIES,
            "kpi_score": _kpi_score,
            "kpi_listed": _kpi_listed,
            "bar_width": CHART.bar - 2,
        },
        session=session,
    )
