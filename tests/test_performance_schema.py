"""Migration 0003 (performance records, market indicators, draft HTML) against the models, on
SQLite and PostgreSQL: autogenerate finds nothing to add, and it goes down and up again with
the deliveries it already held."""

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect, text

from migrations.runner import downgrade, upgrade
from models.tables import Base
from store.db import make_engine
from tests.conftest import POSTGRES_URL


def schema_diff(engine: Engine) -> list[object]:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return list(compare_metadata(context, Base.metadata))


def round_trip(engine: Engine) -> None:
    upgrade(engine, "0002")
    with engine.begin() as conn:
        conn.execute(
            text("INSERT INTO suppliers (id, name, category, country) VALUES ('S', 'S', 'g', 'JP')")
        )
        conn.execute(
            text(
                "INSERT INTO contracts (id, title, supplier_id, owner, start_date, end_date, "
                "auto_renewal, notice_period_days, renewal_term_months, currency, annual_value, "
                "unit_price, annual_volume, exclusivity, payment_terms, price_adjustment, "
                "service_levels, language, current_term, status) VALUES ('C', 'T', 'S', 'o', "
                "'2026-01-01', '2027-01-01', false, 30, 12, 'JPY', 1, 1, 1, false, 'Net 30', '', "
                "'', 'en', 1, 'active')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO deliveries (supplier_id, contract_id, order_date, promised_date, "
                "delivered_date, quantity_ordered, quantity_accepted, defects) VALUES "
                "('S', 'C', '2026-02-01', '2026-02-10', '2026-02-09', 10, 10, 0)"
            )
        )
    upgrade(engine, "0003")
    with engine.connect() as conn:
        row = conn.execute(
            text("SELECT quantity_returned, reference, delivered_date FROM deliveries")
        ).one()
    assert float(row[0]) == 0 and row[1] is None
    indexes = {ix["name"] for ix in inspect(engine).get_indexes("deliveries")}
    assert {"ix_deliveries_scorecard", "uq_deliveries_contract_id_reference"} <= indexes
    assert "ix_deliveries_contract_id" not in indexes
    downgrade(engine, "0002")
    assert "service_tickets" not in inspect(engine).get_table_names()
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM deliveries")).scalar() == 1
    upgrade(engine, "0003")
    with engine.begin() as conn:
        # Leave the later migrations an empty database: this test is about 0003.
        for table in ("deliveries", "contracts", "suppliers"):
            conn.execute(text(f"DELETE FROM {table}"))
    upgrade(engine)
    assert schema_diff(engine) == []


def test_migration_matches_the_models_on_sqlite(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'm.db'}")
    round_trip(engine)
    engine.dispose()


@pytest.fixture
def empty_pg_schema() -> Iterator[Engine]:
    schema = f"m_{uuid.uuid4().hex[:10]}"
    admin = make_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in POSTGRES_URL else "?"
    engine = make_engine(f"{POSTGRES_URL}{sep}options=-csearch_path%3D{schema}")
    yield engine
    engine.dispose()
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.mark.postgres
def test_migration_matches_the_models_on_postgres(empty_pg_schema: Engine) -> None:
    round_trip(empty_pg_schema)
