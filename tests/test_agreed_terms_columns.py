"""The price adjustment cap and the additional clauses a contract is agreed on (issue 15): the
contracts table keeps them (migration 0011, around existing rows, on SQLite and PostgreSQL),
``apply_agreed_terms`` writes them, the contract read back and its current terms carry them, and
every draft of a contract without them is the text and hash it always was (the golden files)."""

import json
import uuid
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, inspect, text
from sqlalchemy.orm import Session

from activities.drafting import make_environment, render_draft
from domain.content_hash import content_hash
from domain.terms import current_terms, propose_interim_extension, propose_renewal
from migrations.runner import downgrade, upgrade
from models.contract import ContractAmendment, ContractRead
from models.drafts import ProposedTerms
from models.renewal import DraftKind
from models.scorecard import ScoringConfig
from store import contracts as contract_store
from store.db import SessionFactory, make_engine, make_session_factory, transaction
from tests.conftest import POSTGRES_URL
from tests.performance_data import (
    golden_contract,
    insert_golden,
    pg_sessions_fixture,  # noqa: F401 - the pg_sessions fixture
)
from tests.test_drafts import (
    GOLDEN,
    card_with,
    contract,
    golden_scorecard,
    inputs,
    second_version,
    series,
)

D = Decimal
CFG = ScoringConfig()
NEW_COLUMNS = {"price_adjustment_cap_pct", "additional_clauses"}
CLAUSES = ("Either party may audit the delivery records once a year.", "監査条項")
# Version 1 of the golden renegotiation, as the committed version 2 renderings name it.
GOLDEN_V1_HASH = {"en": "f6850d256755", "ja": "ec75d9058073"}


# ---------------------------------------------------------------------------- migration 0011


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
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


def contract_columns(engine: Engine) -> set[str]:
    return {c["name"] for c in inspect(engine).get_columns("contracts")}


def insert_contract_at_0010(engine: Engine) -> None:
    with engine.begin() as conn:
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
                "service_levels, language, current_term, status) VALUES ('C', 't', 'S', "
                "'o@example.com', '2026-01-01', '2027-01-01', false, 30, 12, 'JPY', '1', '1', "
                "'1', false, 'Net 30', 'indexed yearly', '', 'en', 1, 'active')"
            )
        )


def stored_values(engine: Engine) -> tuple[Any, list[str]]:
    with engine.begin() as conn:
        cap, clauses = conn.execute(
            text("SELECT price_adjustment_cap_pct, additional_clauses FROM contracts")
        ).one()
    # SQLite hands JSON back as its text, psycopg as the value.
    return cap, json.loads(clauses) if isinstance(clauses, str) else clauses


def agreed_terms(**changes: Any) -> ProposedTerms:
    base = ProposedTerms(
        unit_price=D("980.00"),
        currency="JPY",
        annual_volume=D("9000"),
        exclusivity=False,
        payment_terms="Net 45",
        term_months=24,
        new_end_date=date(2028, 12, 31),
        notice_period_days=60,
        price_adjustment="Indexed every 12 months to the category index.",
        service_levels="On-time delivery at least 95 %.",
        price_adjustment_cap_pct=D("2.5"),
        additional_clauses=CLAUSES,
    )
    return base.model_copy(update=changes)


def test_0011_upgrades_and_downgrades_around_existing_contracts(empty_engine: Engine) -> None:
    upgrade(empty_engine, "0010")
    assert not NEW_COLUMNS & contract_columns(empty_engine)
    insert_contract_at_0010(empty_engine)

    upgrade(empty_engine)
    assert contract_columns(empty_engine) >= NEW_COLUMNS
    # The contract from before the upgrade: no cap, no additional clauses.
    assert stored_values(empty_engine) == (None, [])
    sessions = make_session_factory(empty_engine)
    with transaction(sessions) as s:
        read = contract_store.get_contract(s, contract_id="C")
        assert (read.price_adjustment_cap_pct, read.additional_clauses) == (None, ())
        assert current_terms(read).as_json() == {
            "unit_price": "1.0000" if empty_engine.dialect.name == "postgresql" else "1",
            "currency": "JPY",
            "annual_volume": "1.0000" if empty_engine.dialect.name == "postgresql" else "1",
            "exclusivity": False,
            "payment_terms": "Net 30",
            "term_months": 12,
            "new_end_date": "2027-01-01",
            "notice_period_days": 30,
            "price_adjustment": "indexed yearly",
            "service_levels": "",
        }
        contract_store.apply_agreed_terms(
            contract_store.get_contract_row(s, contract_id="C"), agreed_terms()
        )
    cap, clauses = stored_values(empty_engine)
    assert (D(str(cap)), clauses) == (D("2.5"), list(CLAUSES))

    downgrade(empty_engine, "0010")
    assert not NEW_COLUMNS & contract_columns(empty_engine)
    with empty_engine.begin() as conn:
        assert conn.execute(text("SELECT unit_price FROM contracts")).scalar_one() is not None
    upgrade(empty_engine)
    assert stored_values(empty_engine) == (None, [])


# ---------------------------------------------------------------------------- the store


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db(request: pytest.FixtureRequest) -> SessionFactory:
    name = "sessions" if request.param == "sqlite" else "pg_sessions"
    factory: SessionFactory = request.getfixturevalue(name)
    return factory


def stored_golden(session: Session, **overrides: Any) -> str:
    contract_id = f"C-{uuid.uuid4().hex[:8]}"
    insert_golden(
        session,
        contract_id=contract_id,
        supplier_id=f"S-{uuid.uuid4().hex[:8]}",
        category=f"cat-{uuid.uuid4().hex[:8]}",
        **overrides,
    )
    return contract_id


def test_agreed_cap_and_clauses_are_the_contracts_terms_then(db: SessionFactory) -> None:
    agreed = agreed_terms()
    with transaction(db) as s:
        contract_id = stored_golden(s)
        row = contract_store.get_contract_row(s, contract_id=contract_id)
        contract_store.apply_agreed_terms(row, agreed)
    with transaction(db) as s:
        read = contract_store.get_contract(s, contract_id=contract_id)
    assert read.price_adjustment_cap_pct == D("2.5")
    assert read.additional_clauses == CLAUSES
    assert read.terms.price_adjustment == agreed.price_adjustment
    # What the engine says is in force is what was agreed (the end date is the outcome's).
    # Equal as values: PostgreSQL gives its NUMERIC(22, 4) scale back (980.0000 for 980.00).
    assert current_terms(read).model_copy(update={"new_end_date": agreed.new_end_date}) == agreed
    assert set(current_terms(read).as_json()) == set(agreed.as_json())

    # An amendment re-validates the whole contract and keeps them.
    with transaction(db) as s:
        amended = contract_store.amend_contract(
            s,
            contract_id=contract_id,
            amendment=ContractAmendment(notice_period_days=45, amended_by="buyer@example.com"),
        )
    assert (amended.price_adjustment_cap_pct, amended.additional_clauses) == (D("2.5"), CLAUSES)

    # Agreed next on a version with neither: no cap, no clauses.
    with transaction(db) as s:
        row = contract_store.get_contract_row(s, contract_id=contract_id)
        contract_store.apply_agreed_terms(
            row, agreed_terms(price_adjustment_cap_pct=None, additional_clauses=())
        )
    with transaction(db) as s:
        read = contract_store.get_contract(s, contract_id=contract_id)
    assert (read.price_adjustment_cap_pct, read.additional_clauses) == (None, ())
    assert set(current_terms(read).as_json()) == set(agreed.as_json()) - NEW_COLUMNS


def test_a_registered_contract_has_neither(db: SessionFactory) -> None:
    with transaction(db) as s:
        contract_id = stored_golden(s)
        read = contract_store.get_contract(s, contract_id=contract_id)
    assert (read.price_adjustment_cap_pct, read.additional_clauses) == (None, ())
    assert set(current_terms(read).as_json()).isdisjoint(NEW_COLUMNS)


# ---------------------------------------------------------------------------- the read model


def test_contract_payloads_from_before_still_validate() -> None:
    create = golden_contract("C-G", "S-G")
    old = {**create.model_dump(mode="json"), "current_term": 1, "status": "active"}
    read = ContractRead.model_validate(old)
    assert (read.price_adjustment_cap_pct, read.additional_clauses) == (None, ())
    with_both = read.model_copy(
        update={"price_adjustment_cap_pct": D("3"), "additional_clauses": CLAUSES}
    )
    again = ContractRead.model_validate_json(with_both.model_dump_json())
    assert again == with_both
    with pytest.raises(ValueError, match="Extra inputs are not permitted"):
        ContractRead.model_validate({**old, "unknown": 1})


# ---------------------------------------------------------------------------- drafts


@pytest.mark.parametrize("language", ["en", "ja"])
def test_drafts_of_a_stored_contract_without_them_are_the_golden_ones(
    sessions: SessionFactory, language: str
) -> None:
    """The contract as the store now reads it (cap None, clauses ()) drafts v1 with the hash the
    committed golden v2 names, and v2 and the interim extension hash to their golden files."""
    with transaction(sessions) as s:
        insert_golden(s, language=language)
        stored = contract_store.get_contract(s, contract_id="C-G")
    assert stored == contract(language)
    env = make_environment()

    v1 = render_draft(env, inputs(DraftKind.RENEGOTIATION, language, contract=stored))
    assert v1.content_hash.startswith(GOLDEN_V1_HASH[language])
    assert set(v1.proposed_terms).isdisjoint(NEW_COLUMNS)
    assert v1 == render_draft(env, inputs(DraftKind.RENEGOTIATION, language))

    golden = GOLDEN / language
    for kind, draft_inputs in (
        (DraftKind.RENEGOTIATION, second_version(language)),
        (
            DraftKind.INTERIM_EXTENSION,
            inputs(DraftKind.INTERIM_EXTENSION, language, contract=stored, extension_months=3),
        ),
    ):
        rendered = render_draft(env, draft_inputs)
        txt = (golden / f"{kind.value}.txt").read_text(encoding="utf-8")
        html = (golden / f"{kind.value}.html").read_text(encoding="utf-8")
        assert (rendered.body, rendered.body_html) == (txt, html)
        assert rendered.content_hash == content_hash(txt, rendered.proposed_terms, html)
        assert set(rendered.proposed_terms).isdisjoint(NEW_COLUMNS)


def with_agreed(language: str = "en", **contract_overrides: Any) -> ContractRead:
    return contract(language, **contract_overrides).model_copy(
        update={"price_adjustment_cap_pct": D("2.5"), "additional_clauses": CLAUSES}
    )


def test_current_terms_carry_them_and_the_next_drafts_keep_them() -> None:
    agreed = with_agreed(terms={"unit_price": D("1050.00"), "price_adjustment": "Fixed yearly."})
    today = current_terms(agreed)
    assert (today.price_adjustment_cap_pct, today.additional_clauses) == (D("2.5"), CLAUSES)
    assert today.as_json()["additional_clauses"] == list(CLAUSES)

    # No market move: the system's next draft keeps the clause, its cap and the clauses.
    quiet = golden_scorecard().model_copy(update={"market": None})
    v1 = propose_renewal(agreed, quiet, CFG, language="en")
    assert v1.terms.price_adjustment == "Fixed yearly."
    assert (v1.terms.price_adjustment_cap_pct, v1.terms.additional_clauses) == (D("2.5"), CLAUSES)
    rows = {c.clause: c for c in v1.changes}
    assert not rows["price_adjustment_cap_pct"].changed
    assert rows["price_adjustment_cap_pct"].current == "2.5 %"
    assert not rows["additional_clauses"].changed
    assert rows["additional_clauses"].proposed == f"1. {CLAUSES[0]}\n2. {CLAUSES[1]}"

    # The index moved: the rewritten clause's cap is the policy's, stated.
    moved = propose_renewal(agreed, card_with(price_index=series("100", "106")), CFG, language="en")
    assert moved.terms.price_adjustment != "Fixed yearly."
    assert moved.terms.price_adjustment_cap_pct == CFG.terms.price_adjustment_cap_pct
    assert moved.terms.additional_clauses == CLAUSES
    cap_row = {c.clause: c for c in moved.changes}["price_adjustment_cap_pct"]
    assert cap_row.changed and cap_row.reasons

    # An interim extension carries every term over, these two included.
    interim = propose_interim_extension(agreed, 3, language="ja")
    assert (interim.terms.price_adjustment_cap_pct, interim.terms.additional_clauses) == (
        D("2.5"),
        CLAUSES,
    )
    assert [c.clause for c in interim.changes if c.changed] == ["term_months", "new_end_date"]
    assert {"price_adjustment_cap_pct", "additional_clauses"} <= {c.clause for c in interim.changes}


def test_the_letter_shows_them_when_the_contract_has_them() -> None:
    env = make_environment()
    for language, heading in (("en", "Additional clauses"), ("ja", "追加条項")):
        rendered = render_draft(
            env,
            inputs(DraftKind.INTERIM_EXTENSION, language, contract=with_agreed(language)),
        )
        assert heading in rendered.body
        assert CLAUSES[0] in rendered.body and CLAUSES[0] in rendered.body_html
        assert rendered.proposed_terms["additional_clauses"] == list(CLAUSES)
        assert rendered.proposed_terms["price_adjustment_cap_pct"] == "2.5"
