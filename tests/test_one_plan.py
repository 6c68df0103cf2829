"""One plan function: the workflow's plan activity, the pipeline, the review queue, the draft
page and the sweep all date a term with :func:`domain.term_plan.term_plan`.

The example of renewal-semantics.md §1 that the plain plan got wrong: a Japanese contract ending
2027-06-30 with 90 days' notice. Its notice deadline is 2027-04-01 and, three business days of
transit before it, the send-by date is 2027-03-29: the final terms are due then, and the
gather-facts milestone (five months earlier) on 2026-10-29. The calendar-less plan put them on
2027-04-01 and 2026-11-01.
"""

import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import httpx
from babel.dates import format_date
from hypothesis import given, settings
from hypothesis import strategies as st
from temporalio.client import Client
from temporalio.testing import ActivityEnvironment

from activities.planning_activities import PlanningActivities
from activities.sweep_activities import SweepActivities
from domain.content_hash import content_hash
from domain.milestones import plan_milestones
from domain.sweep import candidate_horizon, is_due, reach_days
from domain.term_plan import CalendarSettings, term_plan
from models.contract import CommercialTerms, ContractRead, SupplierCreate, TermModel
from models.drafts import ProposedTerms
from models.milestones import MilestoneKind, RenewalPolicy
from models.renewal import DraftKind, OpenRenewal, PlanRequest
from models.sweep import SweepBatch
from portal.deps import SESSION_COOKIE
from store import contracts as contract_store
from store import sweep as sweep_store
from store.db import SessionFactory, transaction
from store.reads import pipeline as pipeline_reads
from store.reads import reviews as review_reads
from store.renewals import get_renewal, open_renewal, save_draft
from tests.factories import register
from tests.portal_fixtures import *  # noqa: F403
from tests.portal_fixtures import Portal

END = date(2027, 6, 30)
NOTICE = 90
FINAL_TERMS = date(2027, 3, 29)  # the send-by date: 2027-04-01 minus 3 business days
SEND_BY = date(2027, 3, 29)
NOTICE_DEADLINE = date(2027, 4, 1)
GATHER_FACTS = date(2026, 10, 29)  # 2027-03-29 - 5 months
TODAY = date(2026, 12, 1)
POLICY = RenewalPolicy()
CFG = CalendarSettings()


def _contract(**overrides: object) -> ContractRead:
    data: dict[str, object] = {
        "id": "C-JP",
        "title": "Packaging materials",
        "supplier_id": "S-1",
        "owner": "procurement@example.com",
        "start_date": date(2026, 1, 1),
        "end_date": END,
        "notice_period_days": NOTICE,
        "currency": "JPY",
        "annual_value": Decimal("12000000"),
        "terms": CommercialTerms(unit_price=Decimal("1250.50")),
        "current_term": 1,
        "status": "active",
        "jurisdiction": "JP",
    }
    data.update(overrides)
    return ContractRead.model_validate(data)


def _workflow_plan(contract: ContractRead, today: date = TODAY) -> dict[MilestoneKind, date]:
    plan = term_plan(
        contract,
        category=None,
        today=today,
        cfg=CFG,
        request=PlanRequest(contract_id=contract.id, term=1, today=today, policy=POLICY),
    ).plan
    return {m.kind: m.due for m in plan.milestones}


def _seed_in_review(sessions: SessionFactory, *, cid: str, sid: str) -> None:
    """The JP contract, its renewal opened and draft v1 waiting for legal (stage legal_review)."""
    with transaction(sessions) as s:
        contract_store.upsert_supplier(
            s, supplier=SupplierCreate(id=sid, name="Nihon Hako K.K.", category="packaging")
        )
        register(s, id=cid, supplier_id=sid, end_date=END, notice_period_days=NOTICE)
        open_renewal(
            s,
            request=OpenRenewal(
                contract_id=cid,
                term=1,
                workflow_id=f"renewal/{cid}/term-1",
                requested_by="buyer@example.com",
                term_end_date=END,
            ),
        )
        terms = ProposedTerms(
            unit_price=Decimal("1200.00"),
            currency="JPY",
            annual_volume=Decimal("9600"),
            exclusivity=True,
            payment_terms="Net 60",
            term_months=12,
            new_end_date=date(2028, 6, 30),
            notice_period_days=NOTICE,
            price_adjustment="",
            service_levels="",
        ).as_json()
        body = "Proposal v1"
        save_draft(
            s,
            renewal=get_renewal(s, contract_id=cid, term=1),
            kind=DraftKind.RENEGOTIATION,
            version=1,
            language="en",
            body=body,
            proposed_terms=terms,
            content_hash=content_hash(body, terms),
            requested_by="buyer@example.com",
            answers_comment=None,
            created_at=datetime(2026, 11, 30, 9, tzinfo=UTC),
        )


# ---------------------------------------------------------------------------- the plan itself


def test_the_jp_example_in_the_workflows_plan_and_in_the_plain_plan_it_replaced() -> None:
    dues = _workflow_plan(_contract())
    assert dues[MilestoneKind.FINAL_TERMS] == FINAL_TERMS
    assert dues[MilestoneKind.GATHER_FACTS] == GATHER_FACTS
    # What the views and the sweep used to compute: three days later, each.
    plain = plan_milestones(end_date=END, notice_period_days=NOTICE, today=TODAY, policy=POLICY)
    assert plain.get(MilestoneKind.FINAL_TERMS).due == date(2027, 4, 1)
    assert plain.get(MilestoneKind.GATHER_FACTS).due == date(2026, 11, 1)


def test_the_plan_activity_the_workflow_calls_gives_the_same_dates(
    sessions: SessionFactory,
) -> None:
    with transaction(sessions) as s:
        register(s, id="C-JP", end_date=END, notice_period_days=NOTICE)
    plan = (
        ActivityEnvironment()
        .run(
            PlanningActivities(sessions, CFG).plan_term,
            PlanRequest(contract_id="C-JP", term=1, today=TODAY, policy=POLICY),
        )
        .plan
    )
    assert plan.get(MilestoneKind.FINAL_TERMS).due == FINAL_TERMS
    assert plan.get(MilestoneKind.GATHER_FACTS).due == GATHER_FACTS
    assert (plan.notice_deadline, plan.send_by) == (NOTICE_DEADLINE, SEND_BY)


# ---------------------------------------------------------------------------- read models


def test_pipeline_and_review_queue_show_the_workflows_dates(sessions: SessionFactory) -> None:
    _seed_in_review(sessions, cid="C-JP", sid="S-JP")
    with transaction(sessions) as s:
        items, total = pipeline_reads.pipeline(s, today=TODAY, policy=POLICY, cfg=CFG)
        queue, queued = review_reads.review_queue(s, today=TODAY, policy=POLICY, cfg=CFG)
    assert total == 1 and queued == 1
    item = items[0]
    assert item.stage == "legal_review"
    assert item.next_milestone is not None
    assert (item.next_milestone.kind, item.next_milestone.due) == ("final_terms", FINAL_TERMS)
    assert (item.notice_deadline, item.send_by) == (NOTICE_DEADLINE, SEND_BY)
    assert queue[0].due == FINAL_TERMS
    assert queue[0].days_left == (FINAL_TERMS - TODAY).days


def test_a_contract_not_started_shows_its_gather_facts_date(sessions: SessionFactory) -> None:
    with transaction(sessions) as s:
        register(s, id="C-JP", end_date=END, notice_period_days=NOTICE)
        items, _ = pipeline_reads.pipeline(s, today=date(2026, 6, 1), policy=POLICY, cfg=CFG)
    nxt = items[0].next_milestone
    assert items[0].stage == "not_started" and nxt is not None
    assert (nxt.kind, nxt.due) == ("gather_facts", GATHER_FACTS)


async def test_web_pages_and_api_show_the_workflows_dates(db_portal: Portal) -> None:
    suffix = uuid.uuid4().hex[:8]
    cid, sid = f"C-JP{suffix}", f"S-JP{suffix}"
    _seed_in_review(db_portal.sessions, cid=cid, sid=sid)

    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=db_portal.app),
        base_url="http://testserver",
        cookies={SESSION_COOKIE: db_portal.cookies["legal"][0]},
    ) as browser:
        page = await browser.get(f"/reviews/{cid}/1/1")
        assert page.status_code == 200, page.text
        shown = format_date(FINAL_TERMS, format="medium", locale="en_GB")  # the pages' English
        assert f"final terms due {shown}" in page.text
        queue = await browser.get("/reviews")
        assert queue.status_code == 200
        row = queue.text[queue.text.index(cid) :]
        assert f"final terms due {shown}" in row[: row.index("</tr>")]

    r = await db_portal.http.get(
        "/api/v1/review-queue", params={"limit": 500}, headers=db_portal.auth("legal")
    )
    assert r.status_code == 200
    assert [i["due"] for i in r.json()["items"] if i["contract_id"] == cid] == ["2027-03-29"]
    r = await db_portal.http.get(
        "/api/v1/renewals", params={"supplier_id": sid}, headers=db_portal.auth("procurement")
    )
    assert r.status_code == 200
    [item] = r.json()["items"]
    assert item["next_milestone"]["due"] == "2027-03-29"
    assert (item["notice_deadline"], item["send_by"]) == ("2027-04-01", "2027-03-29")


# ---------------------------------------------------------------------------- the sweep


def test_a_contract_is_due_on_its_gather_facts_date_not_later() -> None:
    contract = _contract()
    assert not is_due(
        contract, category=None, as_of=GATHER_FACTS - timedelta(days=1), policy=POLICY, cfg=CFG
    )
    assert is_due(contract, category=None, as_of=GATHER_FACTS, policy=POLICY, cfg=CFG)


def test_the_sweep_page_carries_the_suppliers_category_and_the_reach(
    sessions: SessionFactory,
) -> None:
    with transaction(sessions) as s:
        contract_store.upsert_supplier(
            s, supplier=SupplierCreate(id="S-JP", name="Nihon Hako", category="packaging")
        )
        register(s, id="C-JP", supplier_id="S-JP", end_date=END, notice_period_days=NOTICE)
        register(s, id="C-LATER", end_date=date(2029, 6, 30), notice_period_days=NOTICE)
        page = sweep_store.candidate_page(
            s, as_of=GATHER_FACTS, policy=POLICY, cfg=CFG, after_id=None, limit=10
        )
    assert [(c.contract.id, c.category) for c in page.candidates] == [("C-JP", "packaging")]
    assert page.max_reach_days == reach_days(NOTICE, 3) and page.next_after_id is None


async def test_the_sweep_activity_starts_the_renewal_on_the_gather_facts_date(
    sessions: SessionFactory, client: Client, task_queue: str
) -> None:
    with transaction(sessions) as s:
        register(s, id="C-JP", end_date=END, notice_period_days=NOTICE)
    sweep = SweepActivities(
        sessions, client, task_queue=task_queue, search_attributes=False, calendars=CFG
    )

    def batch(as_of: date) -> SweepBatch:
        return SweepBatch(
            as_of=as_of, after_id=None, limit=10, requested_by="schedule", policy=POLICY
        )

    before = await ActivityEnvironment().run(
        sweep.start_due_renewals, batch(GATHER_FACTS - timedelta(days=1))
    )
    assert (before.totals.examined, before.totals.due) == (1, 0)
    on_the_day = await ActivityEnvironment().run(sweep.start_due_renewals, batch(GATHER_FACTS))
    assert (on_the_day.totals.due, on_the_day.totals.started) == (1, 1)
    await client.get_workflow_handle("renewal/C-JP/term-1").terminate("test over")


JURISDICTIONS = ("JP", "US", "DE", "GB", "FR")


@settings(max_examples=300, deadline=None)
@given(
    as_of=st.dates(date(2026, 1, 1), date(2031, 12, 31)),
    ahead=st.integers(0, 800),
    notice=st.integers(0, 400),
    buffer=st.sampled_from([0, 1, 3, 5, 10, 60]),
    jurisdiction=st.sampled_from(JURISDICTIONS),
    term_model=st.sampled_from([TermModel.FIXED, TermModel.AUTO_RENEWING]),
    policy=st.sampled_from([POLICY, RenewalPolicy(offsets_months=(3, 2, 1))]),
)
def test_every_due_contract_is_within_the_sweeps_horizon(
    as_of: date,
    ahead: int,
    notice: int,
    buffer: int,
    jurisdiction: str,
    term_model: TermModel,
    policy: RenewalPolicy,
) -> None:
    end = as_of + timedelta(days=ahead)
    contract = _contract(
        start_date=date(2000, 1, 1),
        end_date=end,
        notice_period_days=notice,
        transit_buffer_days=buffer,
        jurisdiction=jurisdiction,
        term_model=term_model,
    )
    if is_due(contract, category=None, as_of=as_of, policy=policy, cfg=CFG):
        horizon = candidate_horizon(
            as_of=as_of, policy=policy, cfg=CFG, max_reach_days=reach_days(notice, buffer)
        )
        assert end <= horizon


def test_closure_days_ahead_widen_the_horizon() -> None:
    closures = CalendarSettings(closure_days=frozenset({date(2026, 12, 25), date(2025, 12, 25)}))
    plain = candidate_horizon(as_of=TODAY, policy=POLICY, cfg=CFG, max_reach_days=0)
    wider = candidate_horizon(as_of=TODAY, policy=POLICY, cfg=closures, max_reach_days=0)
    assert wider - plain == timedelta(days=1)
