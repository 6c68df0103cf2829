"""The workflow sandbox, configured once for workers and replayers alike.

Domain types and the date libraries they use are deterministic and pure; passing them through
(instead of re-importing them for every workflow run) keeps runs fast, and is required for the
``holidays`` tables, whose date parser reads the local clock while being imported.
"""

from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

PASSTHROUGH = (
    "models",
    "planning",
    "holidays",
    "dateutil",
    "pydantic",
    "pydantic_core",
    # Stateless helpers of the workflows (typed activity calls, search-attribute keys, ids):
    # re-importing them for every workflow run costs CPU (and a compile where no bytecode
    # cache is written, as with PYTHONDONTWRITEBYTECODE) and isolates nothing.
    "workflows.activity_calls",
    "workflows.search_attributes",
    "workflows.ids",
)


def workflow_runner() -> SandboxedWorkflowRunner:
    return SandboxedWorkflowRunner(
        restrictions=SandboxRestrictions.default.with_passthrough_modules(*PASSTHROUGH)
    )
