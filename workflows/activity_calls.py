"""Typed calls of the renewal activities by name.

Workflows never import activities/ (it pulls in SQLAlchemy and Jinja2); the names in
:class:`models.activity_names.ActivityName` are the contract between the two sides.
"""

from datetime import timedelta
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from models.activity_names import ActivityName
    from models.contract import ContractRead
    from models.followups import (
        FollowUpDue,
        FollowUpOpened,
        FollowUpPlan,
        FollowUpTerm,
        OverdueCheck,
        OverdueEscalated,
    )
    from models.identity import IdentityCheck, IdentityVerdict
    from models.negotiation import NegotiationPlan, NegotiationPlanRequest, VersionToMake
    from models.notifications import NotificationRequest
    from models.plans import MilestoneRecord
    from models.renewal import (
        AmendmentToApply,
        DraftRef,
        DraftRequest,
        OpenRenewal,
        OutcomeRequest,
        PlanRequest,
        RenewalEvent,
        ReviewDeadlines,
        ReviewDeadlinesRequest,
        ReviewToRecord,
        Scorecard,
        ScoreRequest,
        TermOutcome,
        TermPlan,
    )
    from models.term_end import CatchUpRequest, CatchUpResult

# Database outages heal: retry with backoff for as long as it takes (up to a day), never
# faster than once a minute at the end. Bad data is raised as non-retryable by the activities.
RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=1),
)
# One attempt's limit, which is also how long a renewal waits after its worker died in the middle
# of an activity before another worker retries it. Database activities take milliseconds (the
# scorecard over a million deliveries under 0.5 s, bench/scorecard_bench.py); sending mail waits
# on the SMTP server (30 s socket timeout per step). Changing these needs no patch: timeouts are
# not part of what replay compares (tests/test_replay.py replays histories recorded with 2 min).
START_TO_CLOSE = timedelta(seconds=30)
MAIL_START_TO_CLOSE = timedelta(seconds=90)
SCHEDULE_TO_CLOSE = timedelta(days=1)


T = TypeVar("T")


async def _call(
    name: ActivityName,
    arg: Any,
    result_type: type[T],
    *,
    start_to_close: timedelta = START_TO_CLOSE,
) -> T:
    result: T = await workflow.execute_activity(
        name,
        arg,
        result_type=result_type,
        start_to_close_timeout=start_to_close,
        schedule_to_close_timeout=SCHEDULE_TO_CLOSE,
        retry_policy=RETRY,
    )
    return result


async def load_contract(contract_id: str) -> ContractRead:
    return await _call(ActivityName.LOAD_CONTRACT, contract_id, ContractRead)


async def open_renewal(request: OpenRenewal) -> None:
    await _call(ActivityName.OPEN_RENEWAL, request, type(None))


async def score_renewal(request: ScoreRequest) -> Scorecard:
    return await _call(ActivityName.SCORE_RENEWAL, request, Scorecard)


async def render_draft(request: DraftRequest) -> DraftRef:
    return await _call(ActivityName.RENDER_DRAFT, request, DraftRef)


async def record_review(request: ReviewToRecord) -> None:
    await _call(ActivityName.RECORD_REVIEW, request, type(None))


async def record_event(event: RenewalEvent) -> None:
    await _call(ActivityName.RECORD_EVENT, event, type(None))


async def apply_amendment(request: AmendmentToApply) -> ContractRead:
    return await _call(ActivityName.APPLY_AMENDMENT, request, ContractRead)


async def record_outcome(request: OutcomeRequest) -> TermOutcome:
    return await _call(ActivityName.RECORD_OUTCOME, request, TermOutcome)


async def send_notification(request: NotificationRequest) -> str:
    return await _call(
        ActivityName.SEND_NOTIFICATION, request, str, start_to_close=MAIL_START_TO_CLOSE
    )


async def plan_term(request: PlanRequest) -> TermPlan:
    return await _call(ActivityName.PLAN_TERM, request, TermPlan)


async def review_deadlines(request: ReviewDeadlinesRequest) -> ReviewDeadlines:
    return await _call(ActivityName.REVIEW_DEADLINES, request, ReviewDeadlines)


async def record_milestone(request: MilestoneRecord) -> None:
    await _call(ActivityName.RECORD_MILESTONE, request, type(None))


async def catch_up_terms(request: CatchUpRequest) -> CatchUpResult:
    return await _call(ActivityName.CATCH_UP_TERMS, request, CatchUpResult)


async def verify_identity(check: IdentityCheck) -> IdentityVerdict:
    return await _call(ActivityName.VERIFY_IDENTITY, check, IdentityVerdict)


async def plan_negotiation(request: NegotiationPlanRequest) -> NegotiationPlan:
    return await _call(ActivityName.PLAN_NEGOTIATION, request, NegotiationPlan)


async def make_version(request: VersionToMake) -> DraftRef:
    return await _call(ActivityName.MAKE_VERSION, request, DraftRef)


async def followup_plan(request: FollowUpTerm) -> FollowUpPlan:
    return await _call(ActivityName.FOLLOWUP_PLAN, request, FollowUpPlan)


async def open_followup(due: FollowUpDue) -> FollowUpOpened:
    return await _call(ActivityName.OPEN_FOLLOWUP, due, FollowUpOpened)


async def escalate_overdue_actions(check: OverdueCheck) -> OverdueEscalated:
    return await _call(ActivityName.ESCALATE_OVERDUE_ACTIONS, check, OverdueEscalated)
