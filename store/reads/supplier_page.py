"""Suppliers as the buyers' workspace shows them: the list with each supplier's contracts and
latest score, and one supplier's page (its contracts and the scorecards of every term).

Scorecards are those the renewals stored at their gather-facts milestone (the ``scorecards``
table, one per renewal, its body the whole :class:`~models.scorecard.Scorecard`), so the
history across terms is what the renewals decided on, never a score recomputed today.
"""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from domain.relationship import RepeatRate, repeat_rate
from models.contract import SupplierRead
from models.errors import NotFound
from models.scorecard import KpiScore, Scorecard
from models.tables import ContractRow, RenewalRow, ScorecardRow, SupplierRow

__all__ = [
    "CONTRACTS_LISTED",
    "SupplierContract",
    "SupplierPage",
    "SupplierScorecard",
    "SupplierSummary",
    "list_suppliers",
    "supplier_page",
    "supplier_repeat_rate",
]


@dataclass(frozen=True, slots=True)
class SupplierSummary:
    id: str
    name: str
    category: str
    country: str
    contracts: int
    latest_score: Decimal | None  # the total of the newest stored scorecard, None: none yet
    latest_grade: str | None


@dataclass(frozen=True, slots=True)
class SupplierContract:
    id: str
    title: str
    status: str
    current_term: int
    end_date: date
    owner: str


@dataclass(frozen=True, slots=True)
class SupplierScorecard:
    contract_id: str
    contract_title: str
    term: int
    period_start: date
    period_end: date
    total: Decimal | None
    grade: str | None
    recommendation: str
    trend: str | None
    kpis: tuple[KpiScore, ...]


@dataclass(frozen=True, slots=True)
class SupplierPage:
    supplier: SupplierRead
    contracts: list[SupplierContract]  # the first CONTRACTS_LISTED
    contract_count: int
    scorecards: list[SupplierScorecard]  # oldest first: the order of the chart
    repeat: RepeatRate  # terms renewed / terms ended


def list_suppliers(
    session: Session, *, limit: int = 50, offset: int = 0
) -> tuple[list[SupplierSummary], int]:
    """A page of suppliers by id, with their contracts count and newest scorecard."""
    total = session.scalar(select(func.count()).select_from(SupplierRow)) or 0
    page = list(
        session.scalars(select(SupplierRow).order_by(SupplierRow.id).limit(limit).offset(offset))
    )
    ids = [r.id for r in page]
    # Counted for the page's suppliers only (the contracts' supplier_id index), never grouped
    # over every contract.
    counts: dict[str, int] = {}
    if ids:
        counts = {
            sid: int(n)
            for sid, n in session.execute(
                select(ContractRow.supplier_id, func.count())
                .where(ContractRow.supplier_id.in_(ids))
                .group_by(ContractRow.supplier_id)
            ).all()
        }
    latest: dict[str, tuple[Decimal | None, str | None]] = {}
    if ids:
        # Newest first; the first seen per supplier is its latest score. Bounded by the page.
        scored = session.execute(
            select(ContractRow.supplier_id, ScorecardRow.total, ScorecardRow.grade)
            .join(RenewalRow, RenewalRow.contract_id == ContractRow.id)
            .join(ScorecardRow, ScorecardRow.renewal_id == RenewalRow.id)
            .where(ContractRow.supplier_id.in_(ids))
            .order_by(ScorecardRow.created_at.desc(), ScorecardRow.id.desc())
        ).all()
        for supplier_id, score, grade in scored:
            latest.setdefault(supplier_id, (Decimal(score) if score is not None else None, grade))
    items = [
        SupplierSummary(
            id=row.id,
            name=row.name,
            category=row.category,
            country=row.country,
            contracts=counts.get(row.id, 0),
            latest_score=latest.get(row.id, (None, None))[0],
            latest_grade=latest.get(row.id, (None, None))[1],
        )
        for row in page
    ]
    return items, total


CONTRACTS_LISTED = 200


def supplier_repeat_rate(session: Session, *, supplier_id: str) -> RepeatRate:
    """Terms renewed / terms ended over the supplier's contracts' renewals (the rule, which
    outcome counts as what, is :mod:`domain.relationship`'s). One grouped count."""
    rows = session.execute(
        select(RenewalRow.outcome, func.count())
        .join(ContractRow, ContractRow.id == RenewalRow.contract_id)
        .where(ContractRow.supplier_id == supplier_id, RenewalRow.outcome.is_not(None))
        .group_by(RenewalRow.outcome)
    ).all()
    return repeat_rate(outcome for outcome, n in rows for _ in range(int(n)))


def supplier_page(session: Session, *, supplier_id: str) -> SupplierPage:
    """One supplier with its first :data:`CONTRACTS_LISTED` contracts (by id; the count says
    how many there are) and every stored scorecard; NotFound names the id."""
    row = session.get(SupplierRow, supplier_id)
    if row is None:
        raise NotFound(f"supplier {supplier_id!r} does not exist")
    contracts = [
        SupplierContract(
            id=c.id,
            title=c.title,
            status=c.status,
            current_term=c.current_term,
            end_date=c.end_date,
            owner=c.owner,
        )
        for c in session.scalars(
            select(ContractRow)
            .where(ContractRow.supplier_id == supplier_id)
            .order_by(ContractRow.id)
            .limit(CONTRACTS_LISTED)
        )
    ]
    contract_count = (
        session.scalar(
            select(func.count())
            .select_from(ContractRow)
            .where(ContractRow.supplier_id == supplier_id)
        )
        or 0
    )
    scored = session.execute(
        select(ContractRow.id, ContractRow.title, RenewalRow.term, ScorecardRow.body)
        .join(RenewalRow, RenewalRow.contract_id == ContractRow.id)
        .join(ScorecardRow, ScorecardRow.renewal_id == RenewalRow.id)
        .where(ContractRow.supplier_id == supplier_id)
        .order_by(RenewalRow.term, ContractRow.id)
    ).all()
    cards = []
    for contract_id, title, term, body in scored:
        card = Scorecard.model_validate(body)
        cards.append(
            SupplierScorecard(
                contract_id=contract_id,
                contract_title=title,
                term=term,
                period_start=card.period_start,
                period_end=card.period_end,
                total=card.total,
                grade=card.grade,
                recommendation=card.recommendation.value,
                trend=card.trend.value if card.trend else None,
                kpis=card.kpis,
            )
        )
    cards.sort(key=lambda c: (c.period_end, c.term, c.contract_id))
    return SupplierPage(
        supplier=SupplierRead.model_validate(row),
        contracts=contracts,
        contract_count=contract_count,
        scorecards=cards,
        repeat=supplier_repeat_rate(session, supplier_id=supplier_id),
    )
