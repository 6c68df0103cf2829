"""DigestWorkflow: run by a Temporal Schedule every week (DIGEST_WEEKDAY at DIGEST_HOUR in
DIGEST_TIME_ZONE), it stages each person's weekly digest in the outbox and sends it.

The week is decided once, from the workflow's own time (``workflow.now()``) turned into the
local day by an activity (time zones are data: no I/O here), and carried across
continue-as-new. The recipients are read a page at a time (one activity per page, bounded);
each page's digests are composed and staged by one activity, keyed
``digest:<username>:<ISO year-week>``, so a retried activity, a replayed workflow or a second
run in the same week finds the rows and sends nothing twice. After ``pages_per_run`` pages the
workflow continues as new, so its history stays small however many people there are.
"""

from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from models.activity_names import ActivityName
    from models.digest import (
        DigestBatch,
        DigestInput,
        DigestRecipientPage,
        DigestRecipientsRequest,
        DigestTotals,
        DigestWeek,
        DigestWeekRequest,
    )

from workflows.activity_calls import RETRY


@workflow.defn
class DigestWorkflow:
    @workflow.run
    async def run(self, input: DigestInput) -> DigestTotals:
        as_of, week = input.as_of, input.week
        if as_of is None or week is None:
            found: DigestWeek = await workflow.execute_activity(
                ActivityName.DIGEST_WEEK,
                DigestWeekRequest(at=workflow.now(), time_zone=input.time_zone),
                result_type=DigestWeek,
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=RETRY,
            )
            as_of, week = found.as_of, found.week
        after = input.after
        totals = input.totals
        for _ in range(input.pages_per_run):
            page: DigestRecipientPage = await workflow.execute_activity(
                ActivityName.DIGEST_RECIPIENTS,
                DigestRecipientsRequest(after=after, limit=input.page_size),
                result_type=DigestRecipientPage,
                start_to_close_timeout=timedelta(minutes=2),
                retry_policy=RETRY,
            )
            if page.usernames:
                staged: DigestTotals = await workflow.execute_activity(
                    ActivityName.STAGE_DIGESTS,
                    DigestBatch(as_of=as_of, week=week, usernames=page.usernames),
                    result_type=DigestTotals,
                    start_to_close_timeout=timedelta(minutes=10),
                    heartbeat_timeout=timedelta(minutes=2),
                    retry_policy=RETRY,
                )
                totals = totals + staged
            if page.next_after is None:
                return totals
            after = page.next_after
        workflow.continue_as_new(
            input.model_copy(
                update={"as_of": as_of, "week": week, "after": after, "totals": totals}
            )
        )
