"""A golden data set for the scorecard, with every figure worked out by hand below.

Scored as of 2026-06-30 with the default 12-month window:

    current window  (2025-06-30, 2026-06-30]     previous window (2024-06-30, 2025-06-30]

Deliveries, current window (8; one more on 2025-06-30 belongs to the previous window):

    #  promised    delivered   ordered accepted returned defects
    1  2025-07-10  2025-07-09    100     100       0       0    on time
    2  2025-08-10  2025-08-12    100      95       0       5    2 days late
    3  2025-09-10  2025-09-10    200     200      10       0    on time (same day)
    4  2025-10-10  2025-10-15    100      90       0      10    5 days late
    5  2025-11-10  2025-11-08    100     100       0       0
    6  2026-01-15  2026-01-15    150     150       0       0
    7  2026-03-10  2026-03-09    100     100       5       0
    8  2026-06-30  2026-06-30     50      50       0       0    on the window's last day

    on-time  = 6 / 8 = 75.0; 2 late, (2 + 5) / 2 = 3.5 days on average
    quality  = 100 x (0.5 x 885/900 + 0.5 x (1 - (15 + 15)/900)) = 100 x 1755/1800 = 97.5
               (accepted 98.3 %, defect rate 3.3 %)

Tickets (SLA: first response 240 min, resolution 2,880 min), judged at 2026-07-01T00:00Z:

    T1 2025-08-01 09:00  response 1 h, resolved 24 h                 met
    T2 2025-09-01 09:00  response 6 h                                missed (response)
    T3 2025-10-01 09:00  response 2 h, resolved 72 h                 missed (resolution)
    T4 2025-11-01 09:00  no response, resolved 3 h (counts as both)  met
    T5 2026-02-01 09:00  response exactly 4 h, resolved exactly 48 h met (bounds included)
    T6 2026-06-30 10:00  response 1 h, open for 14 h of 48           not judged yet
    T7 2026-05-01 09:00  response 1 h, still open past 48 h          missed

    responsiveness = 3 met / 6 judged = 50.0; median first response of 60, 60, 60, 120, 180,
    240, 360 minutes = 120 minutes = 2.0 h

Prices: 1,000.00 from 2025-01-01, 1,050.00 from 2026-01-01. Category price index: 95
(2024-06), 98 (2025-01), 100 (2025-06), 101 (2025-12), 102 (2026-06).

    cost, current  = price 1,000 -> 1,050 (+5.0 %), index 100 -> 102 (+2.0 %), gap 3.0 points
                     80 - 4 x 3.0 = 68.0
    cost, previous = price 1,000 -> 1,000 from 2025-01-01 (0.0 %), index 98 -> 100 (+2.0 %,
                     2/98 = 2.04), gap -2.0: 80 + 8 = 88.0

    total, current  = 75.0 x .35 + 97.5 x .30 + 50.0 x .20 + 68.0 x .15 = 75.7 (grade B)
    total, previous = 100 x .35 + 100 x .30 + 100 x .20 + 88.0 x .15   = 98.2 (A)
    change -22.5: declining

Market, current window: competitors 10 -> 11 (+10.0 %, no signal), demand 100 -> 96
(-4.0 %, no signal), price index +2.0 % (no signal), one new entrant in 2025-12: the new
entrants signal.

Recommendation: 75.7 is in [60, 85) -> renegotiate (with alternatives in the market, but 75.7
is not below 70); reasons: the score band, the fall of 22.5 points, the new entrant.
"""

from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from domain.market import MarketAggregates, SeriesEnds
from domain.scoring import (
    CostAggregates,
    DeliveryAggregates,
    Point,
    TicketAggregates,
    WindowAggregates,
)
from models.contract import ContractCreate, SupplierCreate
from models.tables import (
    DeliveryRow,
    MarketIndicatorRow,
    PriceHistoryRow,
    ServiceTicketRow,
)
from store import contracts as contract_store
from store.db import SessionFactory, make_engine
from tests.factories import contract_data

AS_OF = date(2026, 6, 30)
CURRENT_START = date(2025, 6, 30)
PREVIOUS_START = date(2024, 6, 30)
JUDGED_AT = datetime(2026, 7, 1, tzinfo=UTC)

D = Decimal

# (order, promised, delivered, ordered, accepted, returned, defects)
CURRENT_DELIVERIES = [
    ("2025-07-01", "2025-07-10", "2025-07-09", 100, 100, 0, 0),
    ("2025-08-01", "2025-08-10", "2025-08-12", 100, 95, 0, 5),
    ("2025-09-01", "2025-09-10", "2025-09-10", 200, 200, 10, 0),
    ("2025-10-01", "2025-10-10", "2025-10-15", 100, 90, 0, 10),
    ("2025-11-01", "2025-11-10", "2025-11-08", 100, 100, 0, 0),
    ("2026-01-05", "2026-01-15", "2026-01-15", 150, 150, 0, 0),
    ("2026-03-01", "2026-03-10", "2026-03-09", 100, 100, 5, 0),
    ("2026-06-20", "2026-06-30", "2026-06-30", 50, 50, 0, 0),
]
PREVIOUS_DELIVERIES = [
    ("2024-09-01", "2024-09-10", "2024-09-10", 100, 100, 0, 0),
    ("2024-11-01", "2024-11-10", "2024-11-10", 100, 100, 0, 0),
    ("2025-01-01", "2025-01-10", "2025-01-10", 100, 100, 0, 0),
    ("2025-03-01", "2025-03-10", "2025-03-10", 100, 100, 0, 0),
    ("2025-06-20", "2025-06-30", "2025-06-30", 100, 100, 0, 0),  # the window's last day
]


def _t(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


H = timedelta(hours=1)
# (reference, opened, first response, resolved)
CURRENT_TICKETS: list[tuple[str, datetime, datetime | None, datetime | None]] = [
    ("T1", _t("2025-08-01T09:00"), _t("2025-08-01T10:00"), _t("2025-08-02T09:00")),
    ("T2", _t("2025-09-01T09:00"), _t("2025-09-01T15:00"), _t("2025-09-02T09:00")),
    ("T3", _t("2025-10-01T09:00"), _t("2025-10-01T11:00"), _t("2025-10-04T09:00")),
    ("T4", _t("2025-11-01T09:00"), None, _t("2025-11-01T12:00")),
    ("T5", _t("2026-02-01T09:00"), _t("2026-02-01T13:00"), _t("2026-02-03T09:00")),
    ("T6", _t("2026-06-30T10:00"), _t("2026-06-30T11:00"), None),
    ("T7", _t("2026-05-01T09:00"), _t("2026-05-01T10:00"), None),
]
PREVIOUS_TICKETS = [
    (f"P{i}", _t(f"2025-0{i}-10T09:00"), _t(f"2025-0{i}-10T10:00"), _t(f"2025-0{i}-10T19:00"))
    for i in (1, 2, 3)
]
PRICES = [("2025-01-01", "1000.00"), ("2026-01-01", "1050.00")]
# (period, price index, demand index, competitors, new entrants)
MARKET = [
    ("2024-06-01", "95", None, None, None),
    ("2025-01-01", "98", None, None, None),
    ("2025-06-01", "100", "100", 10, 0),
    ("2025-12-01", "101", "97", 11, 1),
    ("2026-06-01", "102", "96", 11, 0),
]

EXPECTED_CURRENT = WindowAggregates(
    period_start=CURRENT_START,
    period_end=AS_OF,
    deliveries=DeliveryAggregates(
        deliveries=8,
        on_time=6,
        days_late=D(7),
        quantity_ordered=D(900),
        quantity_accepted=D(885),
        quantity_returned=D(15),
        defects=15,
    ),
    tickets=TicketAggregates(
        opened=7, judged=6, met=3, open_within_sla=1, median_first_response_minutes=D(120)
    ),
    cost=CostAggregates(
        category="golden",
        currency="JPY",
        price_start=Point(date(2025, 1, 1), D(1000)),
        price_end=Point(date(2026, 1, 1), D(1050)),
        price_observations=2,
        index_start=Point(date(2025, 6, 1), D(100)),
        index_end=Point(date(2026, 6, 1), D(102)),
        index_points=3,
    ),
)
EXPECTED_PREVIOUS = WindowAggregates(
    period_start=PREVIOUS_START,
    period_end=CURRENT_START,
    deliveries=DeliveryAggregates(
        deliveries=5,
        on_time=5,
        days_late=D(0),
        quantity_ordered=D(500),
        quantity_accepted=D(500),
        quantity_returned=D(0),
        defects=0,
    ),
    tickets=TicketAggregates(
        opened=3, judged=3, met=3, open_within_sla=0, median_first_response_minutes=D(60)
    ),
    cost=CostAggregates(
        category="golden",
        currency="JPY",
        price_start=Point(date(2025, 1, 1), D(1000)),
        price_end=Point(date(2025, 1, 1), D(1000)),
        price_observations=1,
        index_start=Point(date(2025, 1, 1), D(98)),
        index_end=Point(date(2025, 6, 1), D(100)),
        index_points=2,
    ),
)
EXPECTED_MARKET = MarketAggregates(
    category="golden",
    period_start=CURRENT_START,
    period_end=AS_OF,
    observations=2,
    price_index=SeriesEnds(Point(date(2025, 6, 1), D(100)), Point(date(2026, 6, 1), D(102))),
    demand_index=SeriesEnds(Point(date(2025, 6, 1), D(100)), Point(date(2026, 6, 1), D(96))),
    competitors=SeriesEnds(Point(date(2025, 6, 1), D(10)), Point(date(2026, 6, 1), D(11))),
    new_entrants=1,
)


def golden_contract(contract_id: str, supplier_id: str, **overrides: Any) -> ContractCreate:
    data = contract_data(
        id=contract_id,
        supplier_id=supplier_id,
        start_date=date(2024, 1, 1),
        end_date=date(2026, 12, 31),
        currency="JPY",
        terms={
            "unit_price": D("1050.00"),
            "annual_volume": D("9600"),
            "exclusivity": True,
            "payment_terms": "Net 60",
        },
    )
    data.update(overrides)
    return ContractCreate.model_validate(data)


def insert_golden(
    session: Session,
    *,
    contract_id: str = "C-G",
    supplier_id: str = "S-G",
    category: str = "golden",
    **contract_overrides: Any,
) -> ContractCreate:
    """The whole data set for one contract; ``category`` keeps parallel runs on a shared
    PostgreSQL schema apart (market rows are per category)."""
    contract_store.upsert_supplier(
        session,
        supplier=SupplierCreate(id=supplier_id, name="Golden Supplies K.K.", category=category),
    )
    contract = golden_contract(contract_id, supplier_id, **contract_overrides)
    contract_store.create_contract(session, contract=contract)
    for order, promised, delivered, ordered, accepted, returned, defects in (
        CURRENT_DELIVERIES + PREVIOUS_DELIVERIES
    ):
        session.add(
            DeliveryRow(
                supplier_id=supplier_id,
                contract_id=contract_id,
                order_date=date.fromisoformat(order),
                promised_date=date.fromisoformat(promised),
                delivered_date=date.fromisoformat(delivered),
                quantity_ordered=D(ordered),
                quantity_accepted=D(accepted),
                quantity_returned=D(returned),
                defects=defects,
            )
        )
    for reference, opened, response, resolved in CURRENT_TICKETS + PREVIOUS_TICKETS:
        session.add(
            ServiceTicketRow(
                supplier_id=supplier_id,
                contract_id=contract_id,
                reference=reference,
                opened_at=opened,
                first_response_at=response,
                resolved_at=resolved,
                response_sla_minutes=240,
                resolution_sla_minutes=2880,
            )
        )
    for effective, price in PRICES:
        session.add(
            PriceHistoryRow(
                supplier_id=supplier_id,
                contract_id=contract_id,
                effective_date=date.fromisoformat(effective),
                unit_price=D(price),
                currency="JPY",
            )
        )
    insert_market(session, category=category, rows=MARKET)
    session.flush()
    return contract


def insert_market(
    session: Session,
    *,
    category: str,
    rows: Sequence[tuple[str, str | None, str | None, int | None, int | None]],
) -> None:
    for period, price, demand, competitors, entrants in rows:
        session.add(
            MarketIndicatorRow(
                category=category,
                period=date.fromisoformat(period),
                price_index=D(price) if price is not None else None,
                demand_index=D(demand) if demand is not None else None,
                competitor_count=competitors,
                new_entrants=entrants,
            )
        )
    session.flush()


@pytest.fixture(name="pg_sessions")
def pg_sessions_fixture(postgres_schema_url: str) -> Iterator[SessionFactory]:
    """Sessions on the shared PostgreSQL test schema whose work is all rolled back: each
    transaction commits a savepoint inside one outer transaction, so nothing outlives the test
    (other modules count what the schema holds)."""
    engine = make_engine(postgres_schema_url)
    connection = engine.connect()
    outer = connection.begin()
    try:
        yield sessionmaker(
            bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
        )
    finally:
        outer.rollback()
        connection.close()
        engine.dispose()
