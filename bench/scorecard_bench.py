"""Scorecard over a million deliveries: SQL aggregates against loading the rows into Python.

    .venv/bin/python bench/scorecard_bench.py [--rows 1000000] [--runs 5] [--no-postgres]

For SQLite (a file in a temporary directory) and PostgreSQL (a private schema in the test
database, dropped afterwards) it loads ``--rows`` deliveries of one supplier under one contract,
spread over the two 12-month windows the scorecard reads, plus its price history and market
indicators. Then it times, as the median of ``--runs`` runs:

* the whole scorecard as the renewal computes it (``activities.assessment.assess_contract``:
  both windows' delivery, ticket, price and market aggregates, and the pure scoring);
* the same delivery figures computed in Python from every row of the two windows, which is
  what the SQL aggregates replace.

It prints figures, not a verdict: the target is under 0.5 s for the scorecard on each database.
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from migrations.runner import upgrade
from models.contract import ContractCreate, SupplierCreate
from models.scorecard import ScoringConfig
from models.tables import (
    DeliveryRow,
    MarketIndicatorRow,
    PriceHistoryRow,
)
from store import contracts as contract_store
from store.assessment import assess_contract
from store.db import make_engine, make_session_factory, transaction

AS_OF = date(2026, 6, 30)
DAYS = 730  # two 12-month windows
CONTRACT, SUPPLIER, CATEGORY = "C-BENCH", "S-BENCH", "bench"
COLUMNS = (
    "supplier_id",
    "contract_id",
    "order_date",
    "promised_date",
    "delivered_date",
    "quantity_ordered",
    "quantity_accepted",
    "quantity_returned",
    "defects",
)


def delivery_rows(n: int) -> Iterator[tuple[Any, ...]]:
    """Deterministic deliveries: one in 10 late by 1-3 days, one in 25 with defects, one in 50
    with a return; quantities as exact decimal text."""
    for i in range(n):
        delivered = AS_OF - timedelta(days=i * DAYS // n)
        late = 1 + i % 3 if i % 10 == 0 else 0
        promised = delivered - timedelta(days=late)
        defects = 2 if i % 25 == 0 else 0
        yield (
            SUPPLIER,
            CONTRACT,
            (promised - timedelta(days=10)).isoformat(),
            promised.isoformat(),
            delivered.isoformat(),
            "100",
            str(100 - defects),
            "1" if i % 50 == 0 else "0",
            defects,
        )


def setup_parties(session: Session) -> None:
    contract_store.upsert_supplier(
        session, supplier=SupplierCreate(id=SUPPLIER, name="Bench Supplies", category=CATEGORY)
    )
    contract_store.create_contract(
        session,
        contract=ContractCreate(
            id=CONTRACT,
            title="Benchmark contract",
            supplier_id=SUPPLIER,
            owner="bench@example.com",
            start_date=date(2020, 1, 1),
            end_date=date(2026, 12, 31),
            currency="JPY",
            annual_value=Decimal(1_000_000),
            terms={"unit_price": Decimal("1000.00"), "annual_volume": Decimal(500_000)},
        ),
    )
    for effective, price in ((date(2024, 1, 1), "950.00"), (date(2025, 9, 1), "1000.00")):
        session.add(
            PriceHistoryRow(
                supplier_id=SUPPLIER,
                contract_id=CONTRACT,
                effective_date=effective,
                unit_price=Decimal(price),
                currency="JPY",
            )
        )
    for month in range(25):
        period = date(2024 + (6 + month - 1) // 12, (6 + month - 1) % 12 + 1, 1)
        session.add(
            MarketIndicatorRow(
                category=CATEGORY,
                period=period,
                price_index=Decimal(100 + month) / 1,
                demand_index=Decimal(100 - month // 3),
                competitor_count=10 + month // 6,
                new_entrants=1 if month % 8 == 0 else 0,
            )
        )


def load_sqlite(engine: Engine, n: int) -> float:
    started = time.perf_counter()
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        placeholders = ", ".join("?" for _ in COLUMNS)
        sql = f"INSERT INTO deliveries ({', '.join(COLUMNS)}) VALUES ({placeholders})"
        rows = delivery_rows(n)
        while True:
            chunk = [row for _, row in zip(range(100_000), rows, strict=False)]
            if not chunk:
                break
            cur.executemany(sql, chunk)
        raw.commit()
        cur.execute("ANALYZE")
        raw.commit()
    finally:
        raw.close()
    return time.perf_counter() - started


def load_postgres(engine: Engine, n: int) -> float:
    started = time.perf_counter()
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        with cur.copy(f"COPY deliveries ({', '.join(COLUMNS)}) FROM STDIN") as copy:
            for row in delivery_rows(n):
                copy.write_row(row)
        raw.commit()
    finally:
        raw.close()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE deliveries"))
    return time.perf_counter() - started


def scorecard_sql(session: Session) -> Any:
    return assess_contract(session, contract_id=CONTRACT, term=1, as_of=AS_OF, cfg=ScoringConfig())


def scorecard_python(session: Session) -> tuple[int, int, Decimal, Decimal]:
    """The delivery figures of both windows from the rows themselves."""
    d = DeliveryRow
    rows = session.execute(
        select(
            d.promised_date,
            d.delivered_date,
            d.quantity_ordered,
            d.quantity_accepted,
            d.quantity_returned,
            d.defects,
        ).where(
            d.contract_id == CONTRACT,
            d.delivered_date > AS_OF - timedelta(days=DAYS),
            d.delivered_date <= AS_OF,
        )
    ).all()
    on_time = count = 0
    ordered = accepted = Decimal(0)
    for promised, delivered, q_ordered, q_accepted, _returned, _defects in rows:
        count += 1
        on_time += delivered <= promised
        ordered += q_ordered
        accepted += q_accepted
    return count, on_time, ordered, accepted


def median_time(fn: Callable[[], Any], runs: int) -> tuple[float, Any]:
    times = []
    result = None
    for _ in range(runs):
        started = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def bench(
    label: str, engine: Engine, load: Callable[[Engine, int], float], n: int, runs: int
) -> None:
    upgrade(engine)
    sessions = make_session_factory(engine)
    with transaction(sessions) as s:
        setup_parties(s)
    load_seconds = load(engine, n)

    def sql() -> Any:
        with transaction(sessions) as s:
            return scorecard_sql(s)

    def python() -> Any:
        with transaction(sessions) as s:
            return scorecard_python(s)

    sql()  # warm the caches the first run would otherwise pay for
    sql_seconds, card = median_time(sql, runs)
    py_seconds, (count, on_time, _, _) = median_time(python, max(1, min(runs, 3)))
    on_time_kpi = card.kpi("on_time_delivery")
    print(f"{label}")
    print(f"  loaded {n:,} deliveries in {load_seconds:.1f} s")
    print(
        f"  scorecard with SQL aggregates: {sql_seconds:.3f} s "
        f"(median of {runs}; total {card.total}, grade {card.grade}, "
        f"on-time {on_time_kpi.score if on_time_kpi else '-'}, "
        f"{card.kpis[0].records:,} deliveries in the current window)"
    )
    print(
        f"  rows loaded into Python:       {py_seconds:.3f} s ({count:,} rows, {on_time:,} on time)"
    )
    print(f"  ratio Python / SQL:            {py_seconds / sql_seconds:.1f}x")
    print(f"  target < 0.5 s:                {'met' if sql_seconds < 0.5 else 'NOT met'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"),
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'bench.db'}")
        try:
            bench("SQLite", engine, load_sqlite, args.rows, args.runs)
        finally:
            engine.dispose()

    if args.no_postgres:
        return
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = make_engine(args.postgres_url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in args.postgres_url else "?"
    engine = make_engine(f"{args.postgres_url}{sep}options=-csearch_path%3D{schema}")
    try:
        bench(
            f"PostgreSQL (schema {schema}, dropped afterwards)",
            engine,
            load_postgres,
            args.rows,
            args.runs,
        )
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


if __name__ == "__main__":
    main()
