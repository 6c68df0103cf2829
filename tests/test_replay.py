"""Replay the committed histories against today's workflow code.

A change to ContractRenewalWorkflow that would make a running renewal take a different path
fails here; such changes must go behind ``workflow.patched``. Regenerate the histories only for
a deliberate new baseline: ``RECORD_HISTORIES=1 pytest tests/test_workflow_lifecycle.py``.
"""

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from workflows.contract_renewal import ContractRenewalWorkflow

HISTORIES = sorted((Path(__file__).parent / "histories").glob("*.json"))


def test_histories_are_committed() -> None:
    assert len(HISTORIES) >= 5, "tests/histories/ lost its saved histories"


@pytest.mark.parametrize("path", HISTORIES, ids=[p.stem for p in HISTORIES])
async def test_history_replays(path: Path) -> None:
    history = WorkflowHistory.from_json(path.stem, path.read_text(encoding="utf-8"))
    replayer = Replayer(workflows=[ContractRenewalWorkflow], data_converter=pydantic_data_converter)
    await replayer.replay_workflow(history)
