"""Why PATCH_CALENDAR_PLAN exists: the same change without ``workflow.patched`` breaks the
renewals that were already running when it was deployed."""

from pathlib import Path
from typing import Any

import pytest
from temporalio import workflow
from temporalio.client import WorkflowHistory
from temporalio.common import SearchAttributeUpdate
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from models.renewal import RenewalInput, TermOutcome
from workflows.contract_renewal import ContractRenewalWorkflow
from workflows.sandbox import workflow_runner

V1 = Path(__file__).parent / "histories" / "v1"


@workflow.defn(name="ContractRenewalWorkflow")
class UnpatchedCalendarPlan(ContractRenewalWorkflow):
    """Today's code, but taking the calendar path unconditionally, as a careless change would."""

    def _use_calendar_plan(self) -> bool:
        return True

    @workflow.run
    async def run(self, input: RenewalInput) -> TermOutcome:
        return await super().run(input)


def _replayer(cls: type) -> Replayer:
    return Replayer(
        workflows=[cls], data_converter=pydantic_data_converter, workflow_runner=workflow_runner()
    )


def _history(name: str) -> WorkflowHistory:
    path = V1 / f"{name}.json"
    return WorkflowHistory.from_json(path.stem, path.read_text(encoding="utf-8"))


@pytest.mark.parametrize(
    "name", ["contract_walks_every_milestone_to_renewal", "termination_ends_the_chain"]
)
async def test_v1_history_replays_with_the_patch(name: str) -> None:
    await _replayer(ContractRenewalWorkflow).replay_workflow(_history(name))


@pytest.mark.parametrize(
    "name", ["contract_walks_every_milestone_to_renewal", "termination_ends_the_chain"]
)
async def test_v1_history_fails_without_the_patch(name: str) -> None:
    result = await _replayer(UnpatchedCalendarPlan).replay_workflow(
        _history(name), raise_on_replay_failure=False
    )
    assert result.replay_failure is not None
    assert "nondeterminism" in str(result.replay_failure).lower()


CHANGED_SEARCH = Path(__file__).parent / "histories" / "changed-search-attributes"


@workflow.defn(name="ContractRenewalWorkflow")
class UpsertsEveryValue(ContractRenewalWorkflow):
    """Today's code upserting every value again, as before PATCH_CHANGED_SEARCH_ATTRIBUTES."""

    def _upsert(self, updates: list[SearchAttributeUpdate[Any]]) -> None:
        workflow.upsert_search_attributes(updates)

    @workflow.run
    async def run(self, input: RenewalInput) -> TermOutcome:
        return await super().run(input)


async def test_changed_search_attributes_history_needs_its_path() -> None:
    """A term recorded with upserts of changed values only (an escalation after an escalation
    sets no stage) replays with today's code and fails with the old upserts."""
    path = CHANGED_SEARCH / "bench_auto_renewing_term_rolled_over.json"
    history = WorkflowHistory.from_json(path.stem, path.read_text(encoding="utf-8"))
    await _replayer(ContractRenewalWorkflow).replay_workflow(history)
    result = await _replayer(UpsertsEveryValue).replay_workflow(
        history, raise_on_replay_failure=False
    )
    assert result.replay_failure is not None
    assert "nondeterminism" in str(result.replay_failure).lower()


BASELINE = Path(__file__).parent / "histories" / "baseline"


@workflow.defn(name="ContractRenewalWorkflow")
class AsksEveryPatch(ContractRenewalWorkflow):
    """Today's code asking each patch on its own, as before PATCH_BASELINE."""

    def _since(self, patch: str) -> bool:
        return workflow.patched(patch)

    @workflow.run
    async def run(self, input: RenewalInput) -> TermOutcome:
        return await super().run(input)


def _patch_events(history: WorkflowHistory) -> tuple[int, int]:
    """Patch markers, and upserts of TemporalChangeVersion, in ``history``."""
    markers = sum(1 for e in history.events if e.HasField("marker_recorded_event_attributes"))
    versions = sum(
        1
        for e in history.events
        if e.HasField("upsert_workflow_search_attributes_event_attributes")
        and "TemporalChangeVersion"
        in e.upsert_workflow_search_attributes_event_attributes.search_attributes.indexed_fields
    )
    return markers, versions


async def test_a_baseline_term_asks_one_patch_and_needs_it() -> None:
    """A whole term recorded since PATCH_BASELINE (the bench's auto-renewing term on the dev
    server, two decisions in it) holds one patch marker and one TemporalChangeVersion upsert
    (eight of each before: five patches at the start, the follow-ups, one per decision); it
    replays with today's code and fails when the patches are asked one by one."""
    path = BASELINE / "bench_auto_renewing_term_rolled_over.json"
    history = WorkflowHistory.from_json(path.stem, path.read_text(encoding="utf-8"))
    assert _patch_events(history) == (1, 1)
    before = CHANGED_SEARCH / "bench_auto_renewing_term_rolled_over.json"
    old = WorkflowHistory.from_json(before.stem, before.read_text(encoding="utf-8"))
    assert _patch_events(old) == (8, 8)
    await _replayer(ContractRenewalWorkflow).replay_workflow(history)
    result = await _replayer(AsksEveryPatch).replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is not None
    assert "nondeterminism" in str(result.replay_failure).lower()


async def test_histories_from_before_the_baseline_still_ask_each_patch() -> None:
    """The term recorded just before PATCH_BASELINE replays with today's code (it has no
    baseline marker, so each patch is asked by its own marker)."""
    before = CHANGED_SEARCH / "bench_auto_renewing_term_rolled_over.json"
    old = WorkflowHistory.from_json(before.stem, before.read_text(encoding="utf-8"))
    await _replayer(ContractRenewalWorkflow).replay_workflow(old)
    await _replayer(AsksEveryPatch).replay_workflow(old)
