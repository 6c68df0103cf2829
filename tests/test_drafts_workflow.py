"""Drafts made by the renewal workflow itself are the rendered, versioned ones: the scorecard
with its market assessment drives the proposed terms, a request for changes yields a version that
quotes it, and every version is stored with its HTML and a hash that still verifies."""

import asyncio
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from dateutil.relativedelta import relativedelta
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from clients import renewals
from models.drafts import TermsEdit
from models.milestones import MilestoneKind
from models.renewal import (
    DraftKind,
    OutcomeKind,
    Recommendation,
    ReviewDecisionKind,
    ReviewSubmission,
)
from models.scorecard import MarketSignalKind
from models.tables import PriceHistoryRow
from store import renewals as renewal_store
from store.db import SessionFactory, transaction
from tests.factories import add_deliveries, register
from tests.identity_helpers import SIGNED
from tests.negotiation_helpers import BUYER, agree, edit_version
from tests.performance_data import insert_market
from tests.workflow_helpers import result_of, skip_past, today
from workflows.contract_renewal import ContractRenewalWorkflow

OWNER = "buyer@example.com"


@pytest.fixture
def cid() -> str:
    return f"C-{uuid.uuid4().hex[:10]}"


async def test_market_signals_shape_the_versioned_japanese_drafts(
    time_skipping_env: WorkflowEnvironment,
    client: Client,
    sessions: SessionFactory,
    renewal_worker: Worker,
    task_queue: str,
    cid: str,
) -> None:
    env = time_skipping_env
    now = await today(env)
    end = now + relativedelta(months=8)
    with transaction(sessions) as s:
        register(
            s,
            id=cid,
            start_date=now - relativedelta(months=16),
            end_date=end,
            notice_period_days=30,
            language="ja",
        )
        add_deliveries(s, contract_id=cid, supplier_id="S-1", end=now, count=20, late_every=4)
        for months_ago, price in ((14, "1000"), (3, "1100")):
            s.add(
                PriceHistoryRow(
                    supplier_id="S-1",
                    contract_id=cid,
                    effective_date=now - relativedelta(months=months_ago),
                    unit_price=Decimal(price),
                    currency="JPY",
                )
            )
        before, recent = now - relativedelta(months=13), now - relativedelta(months=1)
        insert_market(
            s,
            category="general",
            rows=[
                (before.isoformat(), "100", "100", 10, 0),
                (recent.isoformat(), "104", "90", 13, 2),
            ],
        )

    await renewals.start_renewal(
        client, contract_id=cid, term=1, requested_by=OWNER, task_queue=task_queue
    )
    handle = renewals.renewal_handle(client, contract_id=cid, term=1)

    await skip_past(env, MilestoneKind.GATHER_FACTS, end_date=end, notice_period_days=30)
    status = await handle.query(ContractRenewalWorkflow.status)
    card = status.scorecard
    assert card is not None and card.market is not None
    # on-time 75.0, quality 98.0, cost 56.0 (price +10.0 % against an index +4.0 %), no tickets:
    # (26.25 + 29.4 + 8.4) / 0.80 = 80.1.
    assert card.total == Decimal("80.1")
    assert card.recommendation is Recommendation.RENEGOTIATE
    assert [s.kind for s in card.market.signals] == [
        MarketSignalKind.COMPETITION_INTENSIFYING,
        MarketSignalKind.DEMAND_FALLING,
        MarketSignalKind.NEW_ENTRANTS,
        MarketSignalKind.PRICE_INDEX_UP,
    ]

    await skip_past(env, MilestoneKind.FIRST_DISCUSSION, end_date=end, notice_period_days=30)
    status = await handle.query(ContractRenewalWorkflow.status)
    assert [d.version for d in status.drafts] == [1]

    changes = await renewals.submit_review(
        client,
        signer=SIGNED,
        contract_id=cid,
        term=1,
        submission=ReviewSubmission(
            decision=ReviewDecisionKind.REQUEST_CHANGES,
            reviewer="legal-a@example.com",
            draft_version=1,
            comment="数量の縮小幅の根拠を明記してください。\n{{7*7}} <b>太字</b>",
        ),
    )
    # Legal's comment is answered by procurement's edited version, never by the same terms.
    assert changes.new_draft is None
    v2_ref = await edit_version(handle, based_on=1, edit=TermsEdit(annual_volume=Decimal("9000")))
    assert v2_ref.version == 2 and v2_ref.requested_by == BUYER

    with transaction(sessions) as s:
        versions = renewal_store.list_draft_versions(
            s, contract_id=cid, term=1, kind=DraftKind.RENEGOTIATION
        )
    v1, v2 = versions
    assert [v.content_hash for v in versions] == [d.content_hash for d in [*status.drafts, v2_ref]]
    assert all(v.hash_verified and v.body_html for v in versions)
    # The market drove v1's terms: 3 % opening + 6.0-point cost gap + 2 % competition = 11 %,
    # capped at 10 %; demand -10.0 %: volume -10 %; new entrants: no exclusivity; index +4.0 %:
    # an indexation clause with the 5 % cap.
    terms = v1.proposed_terms
    assert terms["unit_price"] == "1125.45"
    assert terms["annual_volume"] == "8640"
    assert terms["exclusivity"] is False
    assert "上下 5 % を上限とする" in terms["price_adjustment"]
    # v2 changes what procurement edited, and only that.
    assert v2.proposed_terms == {**terms, "annual_volume": "9000"}
    assert "契約更新案" in v2.body and "第2版" in v2.body
    assert f"legal-a@example.com からの第1版に対する修正依頼に対応して {BUYER} が作成" in v2.body
    assert "> 数量の縮小幅の根拠を明記してください。\n> {{7*7}} <b>太字</b>" in v2.body
    assert "{{7*7}} &lt;b&gt;太字&lt;/b&gt;" in v2.body_html  # type: ignore[operator]
    assert "第1版からの変更点" in v2.body and "8,640 → 9,000" in v2.body
    assert v1.content_hash[:12] in v2.body
    assert v1.answers_comment is None and "本版が最初の版です" in v1.body
    await handle.terminate("test over")


async def test_expiry_path_stores_a_rendered_interim_extension(
    time_skipping_env: WorkflowEnvironment,
    client: Client,
    sessions: SessionFactory,
    renewal_worker: Worker,
    task_queue: str,
    cid: str,
) -> None:
    now = await today(time_skipping_env)
    end = now + relativedelta(months=7)
    with transaction(sessions) as s:
        register(s, id=cid, start_date=now - relativedelta(months=5), end_date=end)
    await renewals.start_renewal(
        client, contract_id=cid, term=1, requested_by=OWNER, task_queue=task_queue
    )
    handle = renewals.renewal_handle(client, contract_id=cid, term=1)
    await time_skipping_env.sleep(end + timedelta(days=2) - now)
    for _ in range(200):
        status = await handle.query(ContractRenewalWorkflow.status)
        if status.drafts and status.drafts[-1].kind is DraftKind.INTERIM_EXTENSION:
            break
        await asyncio.sleep(0.05)
    await renewals.submit_review(
        client,
        signer=SIGNED,
        contract_id=cid,
        term=1,
        submission=ReviewSubmission(
            decision=ReviewDecisionKind.APPROVE,
            reviewer="legal@example.com",
            draft_version=status.drafts[-1].version,
        ),
    )
    await agree(handle, status.drafts[-1], on=await today(time_skipping_env))
    outcome = await result_of(time_skipping_env, handle)
    assert outcome.kind is OutcomeKind.INTERIM_EXTENSION
    with transaction(sessions) as s:
        (interim,) = renewal_store.list_draft_versions(
            s, contract_id=cid, term=1, kind=DraftKind.INTERIM_EXTENSION
        )
    assert interim.hash_verified and interim.body_html is not None
    assert interim.body.startswith("INTERIM EXTENSION — Packaging materials")
    assert interim.proposed_terms["new_end_date"] == (end + relativedelta(months=3)).isoformat()
    assert interim.proposed_terms["new_end_date"] == outcome.new_end_date.isoformat()
    assert "insufficient data" in interim.body  # no deliveries: said, not scored
    await client.get_workflow_handle(outcome.next_workflow_id or "").terminate("test over")
