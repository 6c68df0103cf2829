"""Replay the committed histories against today's workflow code.

A change to ContractRenewalWorkflow that would make a running renewal take a different path
fails here; such changes must go behind ``workflow.patched``. Regenerate the histories only for
a new workflow version, into a new set: ``RECORD_HISTORIES=<set> pytest
tests/test_workflow_lifecycle.py tests/test_term_outcomes.py`` (sets: v1 = before
PATCH_CALENDAR_PLAN, calendar-plan = after it, term-outcomes = after PATCH_TERM_OUTCOMES,
followups = after PATCH_FOLLOWUPS, with FollowUpWorkflow's own histories).

changed-search-attributes (after PATCH_CHANGED_SEARCH_ATTRIBUTES) holds renewals that keep the
Renewal* search attributes, which only the dev server registers: ``RECORD_HISTORIES=
changed-search-attributes pytest tests/test_schedule_and_search.py -k sweep_starts_due`` (an
amendment in legal review), and one whole term from ``bench/lifecycle_bench.py
--save-history`` (auto-renewing, rolled over, with its follow-ups and next term).

baseline (after PATCH_BASELINE: one patch asked for all) was recorded with every command above
under ``RECORD_HISTORIES=baseline``, plus tests/test_negotiation_workflow.py and
tests/test_followup_workflow.py, and the bench's term with ``--save-history
tests/histories/baseline/bench_auto_renewing_term_rolled_over.json``.
"""

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from workflows.contract_renewal import ContractRenewalWorkflow
from workflows.followup import FollowUpWorkflow
from workflows.sandbox import workflow_runner

HISTORIES = sorted((Path(__file__).parent / "histories").glob("*/*.json"))


def test_histories_are_committed() -> None:
    sets = {p.parent.name for p in HISTORIES}
    expected = {"v1", "calendar-plan", "term-outcomes", "proven-identity", "negotiation"}
    expected |= {"followups", "changed-search-attributes", "baseline"}
    assert expected <= sets, f"tests/histories/ lost a set of histories: {sets}"
    assert len(HISTORIES) >= 20


@pytest.mark.parametrize("path", HISTORIES, ids=[f"{p.parent.name}/{p.stem}" for p in HISTORIES])
async def test_history_replays(path: Path) -> None:
    history = WorkflowHistory.from_json(path.stem, path.read_text(encoding="utf-8"))
    replayer = Replayer(
        workflows=[ContractRenewalWorkflow, FollowUpWorkflow],
        data_converter=pydantic_data_converter,
        workflow_runner=workflow_runner(),
    )
    await replayer.replay_workflow(history)
