"""RenewalSweepWorkflow: run by a Temporal Schedule, starts the renewals that have come due.

It pages through the contracts that could be due (near their expiry, no renewal for their current
term yet), one activity per page, and continues as new after a bounded number of pages, so its
history stays small however many contracts there are. It runs on a task queue of its own (see
``worker.build_sweep_worker``) so that its workflow tasks never queue behind those of the
renewals it has just started.
"""

from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from models.activity_names import ActivityName
    from models.sweep import SweepBatch, SweepInput, SweepPage, SweepTotals

from workflows.activity_calls import RETRY


@workflow.defn
class RenewalSweepWorkflow:
    @workflow.run
    async def run(self, input: SweepInput) -> SweepTotals:
        as_of = input.as_of or workflow.now().date()
        after_id = input.after_id
        totals = input.totals
        max_notice_days = input.max_notice_days
        for _ in range(input.batches_per_run):
            page: SweepPage = await workflow.execute_activity(
                ActivityName.START_DUE_RENEWALS,
                SweepBatch(
                    as_of=as_of,
                    after_id=after_id,
                    limit=input.batch_size,
                    requested_by=input.requested_by,
                    policy=input.policy,
                    max_notice_days=max_notice_days,
                    started_before=totals.started,
                ),
                result_type=SweepPage,
                start_to_close_timeout=timedelta(minutes=10),
                heartbeat_timeout=timedelta(minutes=2),
                retry_policy=RETRY,
            )
            totals = totals + page.totals
            if page.max_notice_days is not None:
                max_notice_days = page.max_notice_days
            if page.next_after_id is None:
                return totals
            after_id = page.next_after_id
        workflow.continue_as_new(
            input.model_copy(
                update={
                    "as_of": as_of,
                    "after_id": after_id,
                    "totals": totals,
                    "max_notice_days": max_notice_days,
                }
            )
        )
