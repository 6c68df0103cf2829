"""The gather-facts milestone's work: scorecard, market assessment and recommendation for one
contract term, as of a day.

Two windows of ``window_months`` each end on ``as_of``: the current one is scored, the one
before it gives the trend. The queries are in :mod:`activities.aggregates`; the arithmetic in
:mod:`activities.scoring`, :mod:`activities.market` and :mod:`activities.recommendation`.
"""

from datetime import UTC, date, datetime, time, timedelta

from dateutil.relativedelta import relativedelta
from sqlalchemy.orm import Session

from domain.market import assess_market
from domain.scoring import WindowAggregates, build_scorecard
from domain.series import MarketSeries, Series, cost_from, market_from
from models.errors import NotFound
from models.scorecard import Scorecard, ScoringConfig
from models.tables import ContractRow, SupplierRow
from store import aggregates


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
    return build_scorecard(
        contract_id=contract_id,
        term=term,
        current=current,
        previous=previous,
        market=market,
        cfg=cfg,
    )
