"""FollowUpWorkflow: the follow-up reviews of one contract term (renewal-semantics.md §7).

Started by the term's renewal workflow (a child it abandons: the reviews run while the renewal
waits for its first milestone). On durable timers it opens each review when it falls due and
reminds the owner, and escalates the actions of the term's reviews that are past their due
date, each once. The schedule and the open actions are read by an activity at every step, so an
interval changed meanwhile applies from the next review. No review falls in the last months
before the end, when the renewal's own preparation runs; once those months have begun and no
action is open, the workflow ends.

It wakes for the next review, the day after the earliest open action's due date, and at least
every :data:`LOOK_EVERY`, a week: an action recorded meanwhile (people record reviews through
the services, which do not signal this workflow) escalates at most a week after its due date.
Mails are keyed by review and by action, so a retried step sends nothing twice; the history
stays small, continuing as new every :data:`STEPS_PER_RUN` steps.
"""

from datetime import UTC, date, datetime, time, timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from models.followups import FollowUpPlan, FollowUpTerm, OverdueCheck
    from models.notifications import NotificationKind, NotificationRequest

from workflows import activity_calls as act

LOOK_EVERY = timedelta(days=7)
STEPS_PER_RUN = 40


def followup_workflow_id(contract_id: str, term: int) -> str:
    return f"followups/{contract_id}/term-{term}"


def _wake(plan: FollowUpPlan, *, today: date, opened: int) -> date | None:
    """The next day to look, or None: nothing is left to follow in this term."""
    ahead = [d.due for d in plan.due if d.sequence > opened and d.due > today]
    if not ahead and plan.open_actions == 0 and today >= plan.quiet_from:
        return None
    candidates = [today + LOOK_EVERY, plan.term_end, *ahead[:1]]
    if plan.next_action_due is not None:
        candidates.append(max(plan.next_action_due + timedelta(days=1), today + timedelta(days=1)))
    wake = min(candidates)
    return None if wake <= today else wake


@workflow.defn
class FollowUpWorkflow:
    @workflow.run
    async def run(self, input: FollowUpTerm) -> int:
        """Returns the sequence of the last review opened."""
        since = input.since or workflow.now().date()
        opened = input.opened_through
        wf_id = workflow.info().workflow_id
        for _ in range(STEPS_PER_RUN):
            plan = await act.followup_plan(input)
            today = workflow.now().date()
            if plan.ended or today > plan.term_end:
                return opened
            for due in plan.due:
                if due.sequence <= opened or due.due > today:
                    continue
                opened = due.sequence
                if due.due < since:
                    continue  # due before this term's follow-up began: not opened late
                result = await act.open_followup(due)
                if result.reminded:
                    await act.send_notification(
                        NotificationRequest(
                            contract_id=input.contract_id,
                            term=input.term,
                            workflow_id=wf_id,
                            kind=NotificationKind.FOLLOWUP_DUE,
                            key=f"{wf_id}:mail:review-{due.sequence}",
                            facts={
                                "sequence": str(due.sequence),
                                "due": due.due.isoformat(),
                                "period_start": due.period_start.isoformat(),
                                "period_end": due.period_end.isoformat(),
                            },
                        )
                    )
            if plan.next_action_due is not None and plan.next_action_due < today:
                overdue = await act.escalate_overdue_actions(
                    OverdueCheck(contract_id=input.contract_id, term=input.term, as_of=today)
                )
                for action_id in overdue.escalated_action_ids:
                    await act.send_notification(
                        NotificationRequest(
                            contract_id=input.contract_id,
                            term=input.term,
                            workflow_id=wf_id,
                            kind=NotificationKind.FOLLOWUP_OVERDUE,
                            key=f"{wf_id}:mail:action-{action_id}",
                            facts={"action_id": str(action_id), "as_of": today.isoformat()},
                        )
                    )
            wake = _wake(plan, today=today, opened=opened)
            if wake is None:
                return opened
            # At 00:00 UTC of that day (09:00 in Japan).
            at = datetime.combine(wake, time(0), tzinfo=UTC)
            await workflow.sleep(max(at - workflow.now(), timedelta(seconds=1)))
            input = input.model_copy(update={"opened_through": opened, "since": since})
        workflow.continue_as_new(input)  # carries what was opened and since when
