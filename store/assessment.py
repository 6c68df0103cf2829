"""The gather-facts milestone's work: scorecard, market assessment and recommendation for one
contract term, as of a day.

Two windows of ``window_months`` each end on ``as_of``: the current one is scored, the one
before it gives the trend. The relationship KPI reads the term's follow-up reviews, from the
term's start to ``as_of`` (:func:`store.followups.relationship_facts`), and the supplier's
repeat rate the outcomes of its contracts' renewals. The queries are in :mod:`store.aggregates`,
:mod:`store.followups` and :mod:`store.reads.supplier_page`; the arithmetic in
:mod:`domain.scoring`, :mod:`domain.relationship`, :mod:`domain.market` and
:mod:`domain.recommendation`.
"""

from datetime import UTC, date, datetime, time, timedelta

from dateutil.relativedelta import relativedelta
from sqlalchemy.orm import Session

from domain import followup as followup_rules
from domain.market import assess_market
from domain.relationship import RelationshipInput
from domain.scoring import WindowAggregates, build_scorecard
from domain.series import MarketSeries, Series, cost_from, market_from
from models.errors import NotFound
from models.scorecard import Scorecard, ScoringConfig
from models.tables import ContractRow, SupplierRow
from store import aggregates
from store.followups import relationship_facts
from store.reads.supplier_page import supplier_repeat_rate


def _window(
    session: Session,
    *,
    contract: ContractRow,
    category: str,
    prices: Series,
    market: MarketSeries,
    period_start: date,
    period_end: date,
    judged_at: datetime,
    cfg: ScoringConfig,
) -> WindowAggregates:
    return WindowAggregates(
        period_start=period_start,
        period_end=period_end,
        deliveries=aggregates.delivery_aggregates(
            session,
            contract_id=contract.id,
            period_start=period_start,
            period_end=period_end,
            grace_days=cfg.on_time_grace_days,
        ),
        tickets=aggregates.ticket_aggregates(
            session,
            contract_id=contract.id,
            period_start=period_start,
            period_end=period_end,
            as_of=judged_at,
        ),
        cost=cost_from(
            prices,
            market.price_index,
            category=category,
            currency=contract.currency,
            period_start=period_start,
            period_end=period_end,
        ),
    )


def term_start(contract: ContractRow, term: int) -> date:
    """When ``term`` of the contract began: the current term's start as the follow-up reviews
    reckon it (:func:`domain.followup.term_start`); an earlier term's, one renewal term before
    for each term since (renewed terms have the contract's renewal term length)."""
    behind = max(0, contract.current_term - term)
    end = contract.end_date - relativedelta(months=contract.renewal_term_months * behind)
    return followup_rules.term_start(
        start_date=contract.start_date,
        end_date=end,
        term=term,
        term_months=contract.renewal_term_months,
    )


def assess_contract(
    session: Session, *, contract_id: str, term: int, as_of: date, cfg: ScoringConfig
) -> Scorecard:
    contract = session.get(ContractRow, contract_id)
    if contract is None:
        raise NotFound(f"contract {contract_id!r} does not exist")
    supplier = session.get(SupplierRow, contract.supplier_id)
    category = supplier.category if supplier is not None else "general"
    months = relativedelta(months=cfg.window_months)
    current_start = as_of - months
    previous_start = current_start - months
    # Tickets are judged on everything known by the end of the scoring day.
    judged_at = datetime.combine(as_of + timedelta(days=1), time(0), tzinfo=UTC)
    # The small series, once for both windows; the large tables are aggregated per window.
    prices = aggregates.price_series(session, contract_id=contract_id, upto=as_of)
    market_rows = aggregates.market_series(session, category=category, upto=as_of)
    current = _window(
        session,
        contract=contract,
        category=category,
        prices=prices,
        market=market_rows,
        period_start=current_start,
        period_end=as_of,
        judged_at=judged_at,
        cfg=cfg,
    )
    previous = _window(
        session,
        contract=contract,
        category=category,
        prices=prices,
        market=market_rows,
        period_start=previous_start,
        period_end=current_start,
        judged_at=judged_at,
        cfg=cfg,
    )
    market = assess_market(
        market_from(market_rows, category=category, period_start=current_start, period_end=as_of),
        cfg.market,
    )
    # The term's first day is in the period: the bound is exclusive, like the windows'.
    since = min(term_start(contract, term) - timedelta(days=1), as_of)
    relationship = RelationshipInput(
        period_start=since,
        period_end=as_of,
        facts=relationship_facts(session, contract_id=contract_id, since=since, until=as_of),
    )
    return build_scorecard(
        contract_id=contract_id,
        term=term,
        current=current,
        previous=previous,
        market=market,
        cfg=cfg,
        relationship=relationship,
        repeat=supplier_repeat_rate(session, supplier_id=contract.supplier_id),
    )
