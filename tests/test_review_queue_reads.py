"""The review queue's versions, counted by the database, against the same rules applied in
Python to every stored row, on SQLite and PostgreSQL: the newest version of each open renewal
in a reviewable stage, a notice shadowed by a renegotiation version of its number left out, a
version decided more often than its approval was withdrawn left out, only the notice once a
termination is requested; oldest first (then by id), with the total and every page.

The PostgreSQL schema is shared with other modules and may hold their rows: the reference is
computed from whatever the database holds, so the comparison holds whatever is there."""

import random
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from domain.term_plan import CalendarSettings
from models.milestones import RenewalPolicy
from models.renewal import DraftKind
from models.tables import ContractRow, DraftRow, RenewalEventRow, RenewalRow, ReviewDecisionRow
from store.db import SessionFactory, transaction
from store.reads import reviews as review_reads
from tests.factories import register
from tests.performance_data import pg_sessions_fixture  # noqa: F401

TODAY = date(2026, 12, 3)
POLICY = RenewalPolicy()
CFG = CalendarSettings()
KINDS = [k.value for k in DraftKind]
STAGES = ["legal_review", "escalated", "lapsed", "termination_pending", "negotiating", "agreed"]
Key = tuple[str, int, str, int]  # contract, term, kind, version


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db(request: pytest.FixtureRequest) -> Iterator[SessionFactory]:
    name = "sessions" if request.param == "sqlite" else "pg_sessions"
    factory: SessionFactory = request.getfixturevalue(name)
    yield factory


def _reference(s: Session) -> tuple[list[Key], set[Key]]:
    """The queue's versions in order, and those with an escalation recorded, from every row."""
    renewals = {r.id: r for r in s.scalars(select(RenewalRow))}
    drafts: dict[int, list[DraftRow]] = {}
    for d in s.scalars(select(DraftRow)):
        drafts.setdefault(d.renewal_id, []).append(d)
    events: dict[int, list[RenewalEventRow]] = {}
    for e in s.scalars(select(RenewalEventRow)):
        events.setdefault(e.renewal_id, []).append(e)
    decisions: dict[tuple[int, int], int] = {}
    for x in s.scalars(select(ReviewDecisionRow)):
        decisions[x.renewal_id, x.draft_version] = (
            decisions.get((x.renewal_id, x.draft_version), 0) + 1
        )
    found: list[tuple[datetime, int, Key]] = []
    escalated: set[Key] = set()
    for rid, renewal in renewals.items():
        if renewal.outcome is not None or renewal.stage not in review_reads.REVIEWABLE_STAGES:
            continue
        versions = drafts.get(rid, [])
        if not versions:
            continue
        newest = max(d.version for d in versions)
        kinds = {d.kind for d in versions if d.version == newest}
        held = events.get(rid, [])
        kinds_of_events = {e.kind for e in held}
        for d in versions:
            if d.version != newest:
                continue
            if d.kind != DraftKind.RENEGOTIATION.value and DraftKind.RENEGOTIATION.value in kinds:
                continue  # shadowed
            withdrawn = sum(
                1
                for e in held
                if e.kind == "approval_withdrawn" and e.detail.get("version") == d.version
            )
            if decisions.get((rid, d.version), 0) > withdrawn:
                continue  # decided
            if (
                "termination_requested" in kinds_of_events
                and d.kind != DraftKind.NON_RENEWAL_NOTICE.value
            ):
                continue
            key = (renewal.contract_id, renewal.term, d.kind, d.version)
            found.append((d.created_at, d.id, key))
            if "escalation" in kinds_of_events:
                escalated.add(key)
    found.sort(key=lambda t: (t[0], t[1]))
    return [k for _, _, k in found], escalated


def _seed(s: Session, tag: str, rng: random.Random) -> None:
    base = datetime(2026, 11, 1, 9, 0)
    for n in range(80):
        cid = f"C-RQ-{tag}-{n:02d}"
        register(
            s, id=cid, supplier_id=f"S-RQ-{tag}-{n % 3}", end_date=TODAY + timedelta(days=40 + n)
        )
        contract = s.get(ContractRow, cid)
        assert contract is not None
        terms = rng.randint(1, 2)
        contract.current_term = terms
        for term in range(1, terms + 1):
            renewal = RenewalRow(
                contract_id=cid,
                term=term,
                workflow_id=f"renewal/{cid}/term-{term}",
                requested_by="buyer@example.com",
                term_end_date=TODAY + timedelta(days=30 * term + n),
                stage=rng.choice(STAGES),
                outcome="renewed" if rng.random() < 0.1 else None,
            )
            s.add(renewal)
            s.flush()
            count = rng.randint(0, 3)
            for version in range(1, count + 1):
                kinds = [rng.choice(KINDS)]
                if version == count and rng.random() < 0.3:
                    # the same number for a renegotiation and another kind (before one sequence)
                    kinds = [DraftKind.RENEGOTIATION.value, rng.choice(KINDS[1:])]
                for kind in kinds:
                    s.add(
                        DraftRow(
                            renewal_id=renewal.id,
                            kind=kind,
                            version=version,
                            language="en",
                            body="body " * 50,
                            body_html="<p>body</p>",
                            proposed_terms={},
                            content_hash=uuid.uuid4().hex,
                            requested_by="buyer@example.com",
                            # ties on the minute, ordered by id
                            created_at=base + timedelta(minutes=rng.randint(0, 6)),
                        )
                    )
            for e, kind in enumerate(("escalation", "termination_requested", "approval_withdrawn")):
                if rng.random() < 0.25:
                    s.add(
                        RenewalEventRow(
                            renewal_id=renewal.id,
                            key=f"{cid}/{term}/{kind}/{e}",
                            kind=kind,
                            detail={"version": count} if kind == "approval_withdrawn" else {},
                        )
                    )
            for d in range(rng.choice([0, 0, 1, 2]) if count else 0):
                s.add(
                    ReviewDecisionRow(
                        renewal_id=renewal.id,
                        update_id=f"{cid}/{term}/decision/{d}",
                        draft_version=count,
                        content_hash="h",
                        decision="approved",
                        reviewer="legal@example.com",
                        comment="",
                        decided_at=datetime(2026, 11, 20, tzinfo=UTC),
                    )
                )
        s.flush()


def _keys(items: list[review_reads.QueueItem]) -> list[Key]:
    return [(i.contract_id, i.term, i.kind, i.version) for i in items]


def test_the_queue_equals_its_rules_applied_row_by_row(db: SessionFactory) -> None:
    tag = uuid.uuid4().hex[:6]
    with transaction(db) as s:
        _seed(s, tag, random.Random(20261203))
    with transaction(db) as s:
        expected, escalated = _reference(s)
        items, total = review_reads.review_queue(
            s, today=TODAY, policy=POLICY, cfg=CFG, limit=len(expected) + 5
        )
        assert total == len(expected)
        assert _keys(items) == expected
        assert {k for k, i in zip(_keys(items), items, strict=True) if i.escalated} == escalated
        ours = [i for i in items if i.contract_id.startswith(f"C-RQ-{tag}-")]
        assert ours, "the seed puts versions in the queue"
        # Rules of this seed, which has no stored plans: a current term shows a preview, a past
        # term the end date its renewal holds.
        with_rows = {
            (r.contract_id, r.term): r
            for r in s.scalars(
                select(RenewalRow).where(RenewalRow.contract_id.like(f"C-RQ-{tag}-%"))
            )
        }
        current = {c.id: c.current_term for c in s.scalars(select(ContractRow))}
        for item in ours:
            assert item.breaches == 0
            if item.term != current[item.contract_id]:
                assert (item.due, item.due_kind, item.plan_preview) == (
                    with_rows[item.contract_id, item.term].term_end_date,
                    "end_date",
                    False,
                )
            else:
                assert item.plan_preview
        # Every page, and past the end: the same versions in the same order, the same total.
        paged: list[Key] = []
        for offset in range(0, len(expected) + 4, 4):
            page, counted = review_reads.review_queue(
                s, today=TODAY, policy=POLICY, cfg=CFG, limit=4, offset=offset
            )
            assert counted == len(expected)
            paged += _keys(page)
        assert paged == expected
        past, counted = review_reads.review_queue(
            s, today=TODAY, policy=POLICY, cfg=CFG, limit=7, offset=len(expected) + 50
        )
        assert (past, counted) == ([], len(expected))
