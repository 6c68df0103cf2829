"""Follow-up reviews during a term (renewal-semantics.md §7), as activities for
:class:`workflows.followup.FollowUpWorkflow`.

The schedule is read here, not computed by the workflow, because the interval in force is data
(the contract's own setting, else the organisation's) that people change while the term runs;
each answer is kept in the workflow's history, so a replay comes out the same. Opening a review
and escalating an overdue action are idempotent by their business keys (contract, term,
sequence; contract, term, check date): a retried activity opens nothing twice and returns the
same answer, and the workflow's mails are keyed by review and by action.
"""

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from temporalio import activity

from activities.failures import activity_failures
from domain import followup as rules
from models.activity_names import ActivityName
from models.contract import ContractStatus
from models.followups import (
    FollowUpDue,
    FollowUpOpened,
    FollowUpPlan,
    FollowUpTerm,
    OverdueCheck,
    OverdueEscalated,
)
from store import contracts as contract_store
from store import followups as store
from store.db import SessionFactory, transaction


class FollowUpActivities:
    def __init__(
        self, sessions: SessionFactory, *, interval_months: int = 3, quiet_months: int = 6
    ) -> None:
        self._sessions = sessions
        self._interval = interval_months  # RENEWALS FOLLOWUP_INTERVAL_MONTHS
        self._quiet = quiet_months  # FOLLOWUP_QUIET_MONTHS

    @activity.defn(name=ActivityName.FOLLOWUP_PLAN)
    def followup_plan(self, request: FollowUpTerm) -> FollowUpPlan:
        """The term's reviews as the schedule in force has them, with ``ended`` once the
        contract has left the term (renewed into the next one, or terminated)."""
        with activity_failures(), transaction(self._sessions) as session:
            contract = contract_store.get_contract(session, contract_id=request.contract_id)
            own = store.get_interval(session, contract_id=contract.id)
            open_actions, next_action_due = store.pending_actions(
                session, contract_id=contract.id, term=request.term
            )
        start, end = rules.term_bounds(contract)
        slots = rules.review_schedule(
            start=start,
            end=end,
            interval_months=rules.effective_interval(own, self._interval),
            quiet_months=self._quiet,
        )
        quiet_from = max(start, rules.quiet_start(end, quiet_months=self._quiet))
        ended = (
            contract.current_term != request.term or contract.status is ContractStatus.TERMINATED
        )
        return FollowUpPlan(
            term_start=start,
            term_end=end,
            quiet_from=quiet_from,
            ended=ended,
            open_actions=open_actions,
            next_action_due=next_action_due,
            due=tuple(
                FollowUpDue(
                    contract_id=contract.id,
                    term=request.term,
                    sequence=slot.sequence,
                    due=slot.due,
                    period_start=slot.period_start,
                    period_end=slot.period_end,
                )
                for slot in slots
            ),
        )

    @activity.defn(name=ActivityName.OPEN_FOLLOWUP)
    def open_followup(self, due: FollowUpDue) -> FollowUpOpened:
        """Open the review (state "due") unless it is open or recorded already; ``reminded``:
        the owner is to be reminded (the same answer when retried)."""
        with activity_failures(), transaction(self._sessions) as session:
            followup_id, created = store.open_followup(session, due=due, now=datetime.now(UTC))
            reminded = store.remind_once(session, followup_id=followup_id, due=due.due)
        return FollowUpOpened(followup_id=followup_id, created=created, reminded=reminded)

    @activity.defn(name=ActivityName.ESCALATE_OVERDUE_ACTIONS)
    def escalate_overdue_actions(self, check: OverdueCheck) -> OverdueEscalated:
        """The term's open actions past their due date on ``check.as_of``, escalated once each
        (the same ids when this check is retried)."""
        with activity_failures(), transaction(self._sessions) as session:
            actions = store.escalate_overdue(
                session, contract_id=check.contract_id, term=check.term, as_of=check.as_of
            )
        return OverdueEscalated(escalated_action_ids=tuple(a.id for a in actions))

    def all(self) -> list[Callable[..., Any]]:
        return [self.followup_plan, self.open_followup, self.escalate_overdue_actions]
