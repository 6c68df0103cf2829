"""`renewals pipeline`, `show` and `export` against a real renewal."""

import asyncio
import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from dateutil.relativedelta import relativedelta
from temporalio.client import Client, WorkflowHandle
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker
from typer.testing import CliRunner

from cli.main import app as main_app
from cli.pipeline_commands import app
from clients import renewals
from config.settings import get_settings
from models.drafts import TermsEdit
from models.renewal import ReviewDecisionKind, ReviewSubmission
from store.db import SessionFactory, transaction
from tests.factories import add_deliveries, register
from tests.identity_helpers import SIGNED
from tests.negotiation_helpers import edit_version
from tests.workflow_helpers import today
from workflows.contract_renewal import ContractRenewalWorkflow


@pytest.fixture
def cli_env(
    time_skipping_env: WorkflowEnvironment,
    sqlite_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    monkeypatch.setenv(
        "TEMPORAL_ADDRESS", time_skipping_env.client.service_client.config.target_host
    )
    monkeypatch.setenv("RENEWALS_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()


async def _invoke(*args: str) -> tuple[int, str]:
    result = await asyncio.to_thread(CliRunner().invoke, app, list(args))
    return result.exit_code, result.stdout


async def _renewal_with_a_draft(
    env: WorkflowEnvironment,
    client: Client,
    sessions: SessionFactory,
    task_queue: str,
    *,
    deliveries: int = 0,
    **contract: Any,
) -> tuple[str, WorkflowHandle[Any, Any]]:
    """A contract two months from its end, its renewal started and its first draft made."""
    cid = f"C-{uuid.uuid4().hex[:8]}"
    now = await today(env)
    with transaction(sessions) as s:
        register(
            s,
            id=cid,
            start_date=now - relativedelta(months=10),
            end_date=now + relativedelta(months=2),
            notice_period_days=0,
            **contract,
        )
        if deliveries:
            add_deliveries(s, contract_id=cid, supplier_id="S-1", end=now, count=deliveries)
    await renewals.start_renewal(
        client, contract_id=cid, term=1, requested_by="buyer@example.com", task_queue=task_queue
    )
    handle = renewals.renewal_handle(client, contract_id=cid, term=1)
    for _ in range(600):
        if (await handle.query(ContractRenewalWorkflow.status)).drafts:
            break
        await asyncio.sleep(0.05)
    return cid, handle


async def test_pipeline_show_and_export(
    time_skipping_env: WorkflowEnvironment,
    client: Client,
    sessions: SessionFactory,
    renewal_worker: Worker,
    task_queue: str,
    cli_env: None,
) -> None:
    cid, handle = await _renewal_with_a_draft(
        time_skipping_env, client, sessions, task_queue, title='=HYPERLINK("x")', deliveries=12
    )
    await renewals.submit_review(
        client,
        signer=SIGNED,
        contract_id=cid,
        term=1,
        submission=ReviewSubmission(
            decision=ReviewDecisionKind.REQUEST_CHANGES,
            reviewer="legal@example.com",
            draft_version=1,
            comment="Shorter term please",
        ),
    )
    # Procurement answers with version 2 (its maker), quoting legal's comment.
    await edit_version(handle, based_on=1, edit=TermsEdit(term_months=6))

    code, out = await _invoke("pipeline", "--stage", "legal_review", "--json")
    assert code == 0, out
    items = json.loads(out)["items"]
    assert [i["contract_id"] for i in items] == [cid]
    assert items[0]["score"] is not None and items[0]["next_milestone"]["kind"] == "final_terms"

    code, out = await _invoke("pipeline", "--stage", "bogus")
    assert code == 2

    code, out = await _invoke("show", cid, "--json")
    assert code == 0, out
    shown = json.loads(out)
    assert [d["version"] for d in shown["drafts"]] == [1, 2]
    assert shown["drafts"][1]["answers_comment"] == "Shorter term please"
    assert shown["diffs"][0]["from_version"] == 1 and shown["diffs"][0]["to_version"] == 2
    assert shown["live"]["stage"] == "legal_review"
    assert shown["renewal"]["decisions"][0]["decision"] == "request_changes"

    code, out = await _invoke("show", cid)
    assert code == 0 and "scorecard: total" in out and "changes v1 -> v2" in out

    code, out = await _invoke("export", "contracts")
    assert code == 0
    # A formula-like title is exported so a spreadsheet shows it as text.
    assert "'=HYPERLINK" in out
    await handle.terminate("test over")


async def test_redraft_and_terminate_from_the_command_line(
    time_skipping_env: WorkflowEnvironment,
    client: Client,
    sessions: SessionFactory,
    renewal_worker: Worker,
    task_queue: str,
    cli_env: None,
) -> None:
    cid, handle = await _renewal_with_a_draft(time_skipping_env, client, sessions, task_queue)
    await renewals.submit_review(
        client,
        signer=SIGNED,
        contract_id=cid,
        term=1,
        submission=ReviewSubmission(
            decision=ReviewDecisionKind.REJECT,
            reviewer="legal@example.com",
            draft_version=1,
            comment="Price too high",
        ),
    )

    # A proposal's next version is made by editing its terms: a redraft would repeat them.
    code, out = await _invoke_main(
        "redraft", cid, "--reason", "Cap the price rise at 2 %", "--by", "buyer@example.com"
    )
    assert code == 1 and "edit_version" in out, out
    code, out = await _invoke_main(
        "version",
        "edit",
        cid,
        "--based-on",
        "1",
        "--cap-pct",
        "2",
        "--price-adjustment",
        "CPI, at most 2 % a year",
        "--note",
        "Cap the price rise at 2 %",
        "--by",
        "buyer@example.com",
    )
    assert code == 0, out
    assert "v2" in out, out

    code, out = await _invoke_main("terminate", cid, "--reason", "", "--by", "buyer@example.com")
    assert code == 1, out  # an empty reason is refused, naming the field

    code, out = await _invoke_main(
        "terminate", cid, "--reason", "Supplier exits the market", "--by", "buyer@example.com"
    )
    assert code == 0, out
    assert f"termination recorded for renewal/{cid}/term-1" in out
    assert "without renewal" in out

    code, out = await _invoke_main(
        "terminate", cid, "--term", "7", "--reason", "x", "--by", "buyer@example.com"
    )
    assert code == 1 and f"no renewal of contract {cid} term 7 is running" in out, out
    await handle.terminate("test over")


async def _invoke_main(*args: str) -> tuple[int, str]:
    result = await asyncio.to_thread(CliRunner().invoke, main_app, list(args))
    return result.exit_code, result.output


async def test_terminating_an_auto_renewing_contract_says_the_notice_must_go_out(
    time_skipping_env: WorkflowEnvironment,
    client: Client,
    sessions: SessionFactory,
    renewal_worker: Worker,
    task_queue: str,
    cli_env: None,
) -> None:
    """Deciding not to renew a contract that renews by itself does not end it: the CLI says
    the notice (drafted for legal) must be approved and dispatched by the notice deadline."""
    cid, handle = await _renewal_with_a_draft(
        time_skipping_env, client, sessions, task_queue, term_model="auto_renewing"
    )
    code, out = await _invoke_main(
        "terminate", cid, "--reason", "Consolidating suppliers", "--by", "buyer@example.com"
    )
    assert code == 0, out
    assert "non-renewal notice (version 2) is in legal review" in out
    assert "otherwise it renews by its own terms" in out
    assert "without renewal" not in out
    await handle.terminate("test over")
