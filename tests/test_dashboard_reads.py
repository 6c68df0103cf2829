"""The dashboard's figures, counted by the database, against the same figures counted in Python
from every stored row (the way the dashboard counted them before), on SQLite and PostgreSQL.

The PostgreSQL schema is shared with other modules and may hold their rows: the reference is
computed from whatever the database holds, so the comparison holds whatever is there."""

import random
import uuid
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from models.tables import ContractRow, RenewalRow, ScorecardRow, SupplierRow
from store.db import SessionFactory, transaction
from store.reads import dashboard as dashboard_reads
from store.reads._stages import CONTRACT_TERMINATED, NOT_STARTED
from tests.factories import register
from tests.performance_data import pg_sessions_fixture  # noqa: F401

TODAY = date(2026, 12, 3)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db(request: pytest.FixtureRequest) -> Iterator[SessionFactory]:
    name = "sessions" if request.param == "sqlite" else "pg_sessions"
    factory: SessionFactory = request.getfixturevalue(name)
    yield factory


def _reference(s: Session) -> tuple[dict[str, int], dict[str, tuple[str, Decimal | None, int]]]:
    """Stages and supplier scores from every row, in Python."""
    contracts = {c.id: c for c in s.scalars(select(ContractRow))}
    counted: dict[str, int] = {}
    newest: dict[str, tuple[int, str, Decimal | None]] = {}
    for renewal, card in s.execute(
        select(RenewalRow, ScorecardRow).outerjoin(
            ScorecardRow, ScorecardRow.renewal_id == RenewalRow.id
        )
    ).all():
        contract = contracts[renewal.contract_id]
        if renewal.term == contract.current_term and contract.status != "terminated":
            counted[renewal.stage] = counted.get(renewal.stage, 0) + 1
        if card is not None:
            held = newest.get(contract.id)
            if held is None or renewal.term > held[0]:
                newest[contract.id] = (renewal.term, contract.supplier_id, card.total)
    live = sum(1 for c in contracts.values() if c.status != "terminated")
    counted[NOT_STARTED] = live - sum(counted.values())
    counted[CONTRACT_TERMINATED] = sum(1 for c in contracts.values() if c.status == "terminated")
    names = {row.id: row.name for row in s.scalars(select(SupplierRow))}
    totals: dict[str, list[Decimal]] = {}
    counts: dict[str, int] = {}
    for _, supplier_id, total in newest.values():
        counts[supplier_id] = counts.get(supplier_id, 0) + 1
        values = totals.setdefault(supplier_id, [])
        if total is not None:
            values.append(total)
    scores = {
        sid: (
            names[sid],
            (sum(values, Decimal(0)) / len(values)).quantize(Decimal("0.1")) if values else None,
            counts[sid],
        )
        for sid, values in totals.items()
    }
    return {k: v for k, v in counted.items() if v > 0}, scores


def _renewal(s: Session, contract_id: str, term: int, stage: str, total: Decimal | None) -> None:
    row = RenewalRow(
        contract_id=contract_id,
        term=term,
        workflow_id=f"renewal/{contract_id}/term-{term}",
        requested_by="buyer@example.com",
        term_end_date=TODAY + timedelta(days=30 * term),
        stage=stage,
    )
    s.add(row)
    s.flush()
    s.add(
        ScorecardRow(
            renewal_id=row.id,
            total=total,
            grade=None if total is None else "B",
            recommendation="renegotiate",
            body={},
        )
    )


def test_stages_and_supplier_scores_equal_the_rows_counted_one_by_one(db: SessionFactory) -> None:
    rng = random.Random(20261203)
    tag = uuid.uuid4().hex[:6]
    suppliers = [f"S-DASH-{tag}-{i}" for i in range(4)]
    stages = ["waiting", "facts_gathered", "legal_review", "negotiating"]
    with transaction(db) as s:
        for n in range(40):
            supplier = suppliers[n % len(suppliers)]
            cid = f"C-DASH-{tag}-{n:02d}"
            status = "terminated" if n % 9 == 0 else "active"
            register(s, id=cid, supplier_id=supplier, end_date=TODAY + timedelta(days=40 + n))
            terms = rng.randint(0, 3)
            contract = s.get(ContractRow, cid)
            assert contract is not None
            contract.status = status
            contract.current_term = max(terms, 1)
            for term in range(1, terms + 1):
                # Totals of four decimals whose means fall on and beside rounding ties.
                total = (
                    None
                    if rng.random() < 0.2
                    else Decimal(rng.choice(["72.25", "72.35", "80.0001", "64.9999", "90.5"]))
                )
                if term < terms and rng.random() < 0.3:
                    continue  # an earlier term without a scorecard
                _renewal(s, cid, term, rng.choice(stages), total)
        # A supplier whose only scorecard has no total: counted, without a score.
        register(s, id=f"C-DASH-{tag}-none", supplier_id=f"S-DASH-{tag}-none")
        _renewal(s, f"C-DASH-{tag}-none", 1, "waiting", None)
    with transaction(db) as s:
        expected_stages, expected_scores = _reference(s)
        figures = dashboard_reads.dashboard(s, today=TODAY)
    assert figures.by_stage == expected_stages
    got = {x.supplier_id: (x.supplier_name, x.score, x.contracts) for x in figures.supplier_scores}
    assert got == expected_scores
    assert got[f"S-DASH-{tag}-none"][1:] == (None, 1)
    # Best first, a supplier without a score last.
    ranked = [x.score for x in figures.supplier_scores]
    known = [x for x in ranked if x is not None]
    assert known == sorted(known, reverse=True)
    assert ranked[len(known) :] == [None] * (len(ranked) - len(known))
