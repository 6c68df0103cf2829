"""Migrations applied to a database that already holds contracts and deliveries, as production
ones do: every later revision must upgrade (and downgrade) around existing rows."""

import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text

from migrations.runner import downgrade, upgrade
from store.db import make_engine
from tests.conftest import POSTGRES_URL


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_engine(request: pytest.FixtureRequest, tmp_path: object) -> Iterator[Engine]:
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path}/m.db")
        yield engine
        engine.dispose()
        return
    schema = f"m_{uuid.uuid4().hex[:8]}"
    admin = make_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = make_engine(f"{POSTGRES_URL}?options=-csearch_path%3D{schema}")
    yield engine
    engine.dispose()
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


def test_upgrade_and_downgrade_around_existing_rows(empty_engine: Engine) -> None:
    upgrade(empty_engine, "0003")
    with empty_engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO suppliers (id, name, category, country) "
                "VALUES ('S', 'Tokyo Packaging', 'packaging', 'JP')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO contracts (id, title, supplier_id, owner, start_date, end_date, "
                "auto_renewal, notice_period_days, renewal_term_months, currency, annual_value, "
                "unit_price, annual_volume, exclusivity, payment_terms, price_adjustment, "
                "service_levels, language, current_term, status) VALUES ('C', 't', 'S', 'o', "
                "'2026-01-01', '2027-01-01', true, 30, 12, 'JPY', '1', '1', '1', false, 'Net 30', "
                "'', '', 'en', 1, 'active')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO deliveries (supplier_id, contract_id, order_date, promised_date, "
                "delivered_date, quantity_ordered, quantity_accepted, quantity_returned, defects) "
                "VALUES ('S', 'C', '2026-01-01', '2026-01-02', '2026-01-02', '1', '1', '0', 0)"
            )
        )
    upgrade(empty_engine)
    with empty_engine.begin() as conn:
        row = conn.execute(
            text(
                "SELECT term_model, jurisdiction, transit_buffer_days, renewals_used FROM contracts"
            )
        ).one()
    # The old auto-renewal flag becomes the term model; new columns take their defaults.
    assert tuple(row) == ("auto_renewing", "JP", 3, 0)
    downgrade(empty_engine, "0003")
    upgrade(empty_engine)
    with empty_engine.begin() as conn:
        assert conn.execute(text("SELECT count(*) FROM deliveries")).scalar_one() == 1
