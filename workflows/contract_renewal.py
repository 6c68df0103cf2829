"""ContractRenewalWorkflow: one contract term, from its plan to its outcome.

Milestones wait on durable timers; people reach the workflow through updates (legal review,
amendment, termination, redraft) and read it through the ``status`` query. Handlers that change
state take one lock, so two decisions arriving together are applied one after the other and the
second sees the first (see temporalio's safe_message_handlers sample).
"""

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import (
    SearchAttributePair,
    SearchAttributeUpdate,
    TypedSearchAttributes,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import ActivityError, ApplicationError, WorkflowAlreadyStartedError

with workflow.unsafe.imports_passed_through():
    from domain.agreement import (
        amendment_withdrawals,
        event_refusal,
        final_terms_gap,
        negotiation_state,
    )
    from domain.identity import request_digest
    from domain.milestones import plan_milestones
    from domain.negotiation import limit_breaches
    from domain.outcome import (
        ExpiryDecision,
        ExpiryFacts,
        catch_up_reason,
        expiry_outcome,
        notice_state,
    )
    from domain.phrases import Value, phrase
    from domain.reasons import Reason, enum_word, reason_facts
    from domain.review import approval_refusal
    from domain.versions import next_terms, term_end
    from models.contract import ContractRead, ContractStatus, DefaultAction, TermModel
    from models.drafts import ProposedTerms, TermsEdit
    from models.errors import FieldError, InvalidInput
    from models.followups import FollowUpTerm
    from models.identity import IdentityAssertion, IdentityCheck
    from models.milestones import MilestoneKind, MilestonePlan, MilestoneState
    from models.negotiation import (
        AnswerRecord,
        ApprovalWithdrawn,
        FinalTermsGap,
        Hearing,
        HearingRecord,
        LimitBreach,
        NegotiationPlan,
        NegotiationPlanRequest,
        NegotiationState,
        NegotiationView,
        OfferPresented,
        OfferRecord,
        SupplierAnswer,
        SupplierAnswerKind,
        VersionApproved,
        VersionEdit,
        VersionEvent,
        VersionSuperseded,
        VersionTerms,
        VersionToMake,
    )
    from models.notices import DispatchRecord, NoticeDispatch
    from models.notifications import NotificationKind, NotificationRequest
    from models.plans import MilestoneRecord
    from models.renewal import (
        AmendmentRequest,
        AmendmentToApply,
        DraftKind,
        DraftRef,
        DraftRequest,
        MilestoneStatus,
        OpenRenewal,
        OutcomeKind,
        OutcomeRequest,
        PlanRequest,
        RedraftRequest,
        RenewalEvent,
        RenewalInput,
        RenewalStage,
        RenewalStatus,
        ReviewDeadlines,
        ReviewDeadlinesRequest,
        ReviewDecisionKind,
        ReviewRecord,
        ReviewResult,
        ReviewSubmission,
        ReviewToRecord,
        Scorecard,
        ScoreRequest,
        TerminationRequest,
        TermOutcome,
        TermPlan,
    )
    from models.scorecard import Recommendation
    from models.term_end import CatchUpRequest

from workflows import activity_calls as act
from workflows import search_attributes as sa
from workflows.followup import FollowUpWorkflow, followup_workflow_id
from workflows.ids import renewal_workflow_id

_PRE_EXPIRY = (
    MilestoneKind.GATHER_FACTS,
    MilestoneKind.FIRST_DISCUSSION,
    MilestoneKind.FINAL_TERMS,
)
_ALL = (*_PRE_EXPIRY, MilestoneKind.EXPIRY)
_DONE = (MilestoneState.DONE, MilestoneState.DONE_LATE)

# Versions of this workflow's logic, for workflow.patched. Renewals started before a patch keep
# replaying the old path; see tests/test_replay.py and tests/test_versioning.py.
PATCH_CALENDAR_PLAN = "calendar-plan"  # plan by activity (business days, zones, send-by, reminders)
# The end of a term by its term model (renewal-semantics.md §4), notices and interim extensions
# as reviewable versions with recorded dispatch, catch-up of late registrations (§5), and the
# stored plan's milestone states.
PATCH_TERM_OUTCOMES = "term-outcomes"
# Every decision proves who sent it (renewal-semantics.md §6): asked once per update, with the
# update's id in the patch id, because a patch's answer is kept for the whole run: one asked for
# an old decision replayed without the check would otherwise skip it for every new decision of
# a renewal that was running before the check existed.
PATCH_PROVEN_IDENTITY = "proven-identity"
# Search attributes are stored unencrypted in the namespace's visibility store: no e-mail
# address goes there (the owner is found through the database's pipeline, not Temporal).
PATCH_PRIVATE_SEARCH_ATTRIBUTES = "private-search-attributes"
# Negotiation (renewal-semantics.md §2, §3): a plan of targets and limits at gather facts;
# versions after the first made by people who edit terms; "request changes" waits for that
# version instead of re-rendering the same terms; offers and the supplier's answers; renewed
# only on a version approved and accepted on one content hash; amendments withdraw contradicted
# approvals; a tampered agreed version escalates instead of failing the renewal.
PATCH_NEGOTIATION = "negotiation"
# Follow-up reviews during the term (renewal-semantics.md §7): a child workflow per term
# (workflows/followup.py) started when the term's renewal begins.
PATCH_FOLLOWUPS = "followups"
# Search attributes upserted only when a value changes (issue 18): setting the stage it already
# shows, or the supplier and expiry an amendment left as they were, is no longer an upsert.
PATCH_CHANGED_SEARCH_ATTRIBUTES = "changed-search-attributes"
# Every patch above, asked once (issue 18): a renewal started since then records one marker and
# one TemporalChangeVersion upsert instead of one of each per patch and per decision (eight in
# a term), and takes every new path. Older renewals do not have its marker and keep asking the
# patches one by one, as they did; a patch added later is asked on its own, of every renewal.
PATCH_BASELINE = "baseline-2026-12"

# A recommendation to leave the supplier makes v1 a notice (or, for a fixed term, a plan).
_LEAVING = (Recommendation.TERMINATE, Recommendation.RETENDER)
# The versions that propose the terms of a next term: edited by people, presented, answered.
_TERM_KINDS = (DraftKind.RENEGOTIATION, DraftKind.INTERIM_EXTENSION)
# What the agreement rules call a field, as the people's requests name it.
_REQUEST_FIELDS = {
    "record_offer": {"version": "draft_version", "on": "presented_on"},
    "record_answer": {"version": "draft_version", "on": "answered_on"},
}


def _refused(kind: str, errors: list[FieldError]) -> ApplicationError:
    """Bad input from a person: every field named, in the message and in the details."""
    return ApplicationError(
        "; ".join(f"{e.field}: {e.reason}" for e in errors),
        [{"field": e.field, "reason": e.reason} for e in errors],
        type=kind,
        non_retryable=True,
    )


def _conflict(message: str) -> ApplicationError:
    return ApplicationError(message, type="VersionConflict", non_retryable=True)


def _review_error(message: str, *, conflict: bool = False) -> ApplicationError:
    return ApplicationError(
        message, type="ReviewConflict" if conflict else "InvalidReview", non_retryable=True
    )


@workflow.defn
class ContractRenewalWorkflow:
    @workflow.init
    def __init__(self, input: RenewalInput) -> None:
        self._input = input
        self._contract: ContractRead | None = None
        self._plan: MilestonePlan | None = None
        self._states: dict[MilestoneKind, MilestoneState] = dict.fromkeys(
            _ALL, MilestoneState.PENDING
        )
        self._completed_at: dict[MilestoneKind, datetime] = {}
        self._stage = RenewalStage.WAITING
        self._scorecard: Scorecard | None = None
        self._drafts: list[DraftRef] = []
        self._decisions: list[ReviewRecord] = []
        self._escalations: list[str] = []
        self._approved: DraftRef | None = None
        self._rejected_versions: set[int] = set()
        self._termination: TerminationRequest | None = None
        self._outcome: TermOutcome | None = None
        self._expiry_started = False
        self._replanned = False
        self._lock = asyncio.Lock()
        self._calendar_plan = False
        self._term_plan: TermPlan | None = None
        self._non_renewal_drafted = False
        self._reminders: list[asyncio.Task[None]] = []
        self._term_outcomes = False
        self._opened = False  # the renewal's row exists: updates may record events
        self._dispatches: list[DispatchRecord] = []
        self._lapsed_on: date | None = None
        self._private_search = False
        self._negotiation = False
        self._negotiation_plan: NegotiationPlan | None = None
        self._version_events: list[VersionEvent] = []
        self._awaiting_revision: int | None = None  # legal asked for changes to this version
        self._hearings: list[Hearing] = []
        self._answer_watches: set[int] = set()
        self._refused_agreements: set[int] = set()  # agreed versions whose text changed
        self._lapse_rounds = 0  # escalations of a lapsed term: each keyed by its round
        self._changed_search_attributes = False
        self._baseline = False

    # ------------------------------------------------------------------ run

    @workflow.run
    async def run(self, input: RenewalInput) -> TermOutcome:
        self._baseline = workflow.patched(PATCH_BASELINE)
        self._calendar_plan = self._use_calendar_plan()
        # Asked only of calendar-planned renewals, so older histories replay without the marker.
        self._term_outcomes = self._calendar_plan and self._since(PATCH_TERM_OUTCOMES)
        self._private_search = self._since(PATCH_PRIVATE_SEARCH_ATTRIBUTES)
        self._negotiation = self._term_outcomes and self._since(PATCH_NEGOTIATION)
        # Asked only of renewals that keep search attributes, so the others (and every older
        # history) replay without the marker.
        self._changed_search_attributes = self._search_attributes_on() and self._since(
            PATCH_CHANGED_SEARCH_ATTRIBUTES
        )
        contract = await act.load_contract(input.contract_id)
        if contract.status is ContractStatus.TERMINATED:
            raise ApplicationError(
                f"contract {contract.id!r} is terminated; no renewal starts",
                type="ContractTerminated",
                non_retryable=True,
            )
        if contract.current_term != input.term:
            raise ApplicationError(
                f"contract {contract.id!r} is in term {contract.current_term}, not {input.term}",
                type="StaleTerm",
                non_retryable=True,
            )
        self._contract = contract
        await self._make_plan()
        self._publish_search_attributes()
        await act.open_renewal(
            OpenRenewal(
                contract_id=contract.id,
                term=input.term,
                workflow_id=self._wf_id,
                requested_by=input.requested_by,
                term_end_date=contract.end_date,
            )
        )
        self._opened = True
        assert self._plan is not None
        kinds = [m.kind for m in self._plan.milestones]
        for kind in kinds:
            self._states.setdefault(kind, MilestoneState.PENDING)
        if self._plan.expired_at_planning:
            if self._term_outcomes and self._continues_by_itself():
                return await self._catch_up()
            for kind in kinds:
                if kind is not MilestoneKind.EXPIRY:
                    self._states[kind] = MilestoneState.SKIPPED
                    await self._record_milestone(kind)
        # Asked only of terms that are still running, so older histories, and those of late
        # registrations, replay without the marker.
        elif self._since(PATCH_FOLLOWUPS):
            await self._start_followups()

        for kind in kinds:
            if self._states[kind] is not MilestoneState.PENDING:
                continue
            while True:
                await self._wait_for(kind)
                if self._skipped_by_termination(kind):
                    self._states[kind] = MilestoneState.SKIPPED
                    await self._record_milestone(kind)
                    break
                async with self._lock:
                    # An amendment or a termination that held the lock while the timer fired
                    # may have moved this milestone or made it moot: look again before running.
                    if self._term_outcomes and (
                        self._skipped_by_termination(kind) or self._due_at(kind) > workflow.now()
                    ):
                        continue
                    await self._run_milestone(kind)
                break
        if self._lapsed_on is not None:
            await self._wait_out_lapse()

        for reminder in self._reminders:
            reminder.cancel()
        # Let in-flight updates finish before the history closes.
        await workflow.wait_condition(workflow.all_handlers_finished)
        assert self._outcome is not None
        return self._outcome

    # ------------------------------------------------------------------ timers and plan

    @property
    def _wf_id(self) -> str:
        return workflow.info().workflow_id

    def _set_stage(self, stage: RenewalStage) -> None:
        self._stage = stage
        if self._search_attributes_on():
            self._upsert([sa.STAGE.value_set(stage.value)])

    def _upsert(self, updates: list[SearchAttributeUpdate[Any]]) -> None:
        """Upsert ``updates``; since PATCH_CHANGED_SEARCH_ATTRIBUTES only those whose value
        differs from what the workflow already shows (its info holds every upsert so far)."""
        if self._changed_search_attributes:
            shown = workflow.info().typed_search_attributes
            updates = [u for u in updates if shown.get(u.key) != u.value]
            if not updates:
                return
        workflow.upsert_search_attributes(updates)

    def _search_attributes_on(self) -> bool:
        # Only renewals started with our attributes (registered on the namespace) maintain them.
        return workflow.info().typed_search_attributes.get(sa.CONTRACT_ID) is not None

    def _publish_search_attributes(self) -> None:
        if not self._search_attributes_on() or self._contract is None:
            return
        c = self._contract
        updates: list[SearchAttributeUpdate[Any]] = [
            sa.SUPPLIER.value_set(c.supplier_id),  # the supplier's id, never its name
            sa.EXPIRY.value_set(datetime.combine(c.end_date, time(0), tzinfo=UTC)),
            sa.STAGE.value_set(self._stage.value),
        ]
        if not self._private_search:
            updates.insert(1, sa.OWNER.value_set(c.owner))
        self._upsert(updates)

    def _since(self, patch: str) -> bool:
        """Whether this renewal takes ``patch``'s path: all of them since PATCH_BASELINE, without
        asking; before it, by the patch's own marker."""
        return self._baseline or workflow.patched(patch)

    def _use_calendar_plan(self) -> bool:
        return self._since(PATCH_CALENDAR_PLAN)

    async def _make_plan(self) -> None:
        assert self._contract is not None
        if self._calendar_plan:
            self._term_plan = await act.plan_term(
                PlanRequest(
                    contract_id=self._contract.id,
                    term=self._input.term,
                    today=workflow.now().date(),
                    policy=self._input.policy,
                )
            )
            self._plan = self._term_plan.plan
            return
        # Renewals started before PATCH_CALENDAR_PLAN: plain calendar months, UTC timers.
        self._plan = plan_milestones(
            end_date=self._contract.end_date,
            notice_period_days=self._contract.notice_period_days,
            today=workflow.now().date(),
            policy=self._input.policy,
        )

    def _due_at(self, kind: MilestoneKind) -> datetime:
        assert self._plan is not None
        milestone = self._plan.get(kind)
        if milestone.fires_at is not None:
            return milestone.fires_at
        return datetime.combine(milestone.due, time(self._input.policy.fire_hour_utc), tzinfo=UTC)

    async def _wait_for(self, kind: MilestoneKind) -> None:
        """Sleep until the milestone is due; an amendment wakes us to re-plan, a termination
        wakes us to skip what is left before expiry."""
        while True:
            delay = self._due_at(kind) - workflow.now()
            if delay <= timedelta(0):
                return
            self._replanned = False
            try:
                await workflow.wait_condition(
                    lambda: self._replanned or self._skipped_by_termination(kind),
                    timeout=delay,
                    timeout_summary=f"until {kind.value}",
                )
            except TimeoutError:
                return
            if self._skipped_by_termination(kind):
                return

    def _is_late(self, kind: MilestoneKind) -> bool:
        assert self._plan is not None
        return workflow.now().date() > self._plan.get(kind).due

    # ------------------------------------------------------------------ milestones

    async def _run_milestone(self, kind: MilestoneKind) -> None:
        late = self._is_late(kind)
        if kind is MilestoneKind.GATHER_FACTS:
            await self._gather_facts()
        elif kind is MilestoneKind.FIRST_DISCUSSION:
            await self._first_discussion()
        elif kind is MilestoneKind.FINAL_TERMS:
            await self._final_terms()
        elif kind is MilestoneKind.SEND_BY:
            await self._send_by()
        else:
            await self._expiry()
        self._states[kind] = MilestoneState.DONE_LATE if late else MilestoneState.DONE
        self._completed_at[kind] = workflow.now()
        await self._record_milestone(kind)

    async def _gather_facts(self) -> None:
        assert self._contract is not None
        self._scorecard = await act.score_renewal(
            ScoreRequest(
                contract_id=self._contract.id,
                term=self._input.term,
                workflow_id=self._wf_id,
                as_of=workflow.now().date(),
            )
        )
        # Requests carry ids, not the scorecard (~4 KiB a copy in the history): the activities
        # read the card score_renewal stored with the renewal (one card a term, never changed).
        if self._negotiation:
            self._negotiation_plan = await act.plan_negotiation(
                NegotiationPlanRequest(
                    contract_id=self._contract.id,
                    term=self._input.term,
                    workflow_id=self._wf_id,
                )
            )
        self._set_stage(RenewalStage.FACTS_GATHERED)
        card = self._scorecard
        await self._notify(
            NotificationKind.MILESTONE_REMINDER,
            "gather_facts",
            {
                "milestone": MilestoneKind.GATHER_FACTS.value,
                "recommendation": card.recommendation.value,
                "score": "" if card.total is None else str(card.total),
            },
        )

    async def _first_discussion(self) -> None:
        kind = DraftKind.RENEGOTIATION
        card = self._scorecard
        if self._term_outcomes and card is not None and card.recommendation in _LEAVING:
            # Leaving the supplier: the proposal is the notice that stops a roll-over, or the
            # plan for a fixed term's end; approving either never reads as "renewed".
            kind = (
                DraftKind.TRANSITION_PLAN
                if self._effective_model() is TermModel.FIXED
                else DraftKind.NON_RENEWAL_NOTICE
            )
        await self._new_draft(
            requested_by=self._input.requested_by, answers_comment=None, kind=kind
        )

    async def _final_terms(self) -> None:
        if self._negotiation:
            await self._final_terms_negotiated()
            return
        if self._approved is not None:
            if not self._term_outcomes or self._approved.kind is DraftKind.RENEGOTIATION:
                await self._issue_final_terms()
            return
        await self._escalate(
            "final_terms",
            "esc.final_terms.no_approved",
            drafts=len(self._drafts),
            decisions=len(self._decisions),
        )

    async def _expiry(self) -> None:
        assert self._contract is not None
        self._expiry_started = True
        if self._term_outcomes:
            await self._expiry_by_term_model()
            return
        if self._termination is not None:
            await self._finish(
                OutcomeKind.TERMINATED, "out.termination", reason=self._termination.reason
            )
            return
        if self._approved is not None:
            if self._stage is not RenewalStage.FINAL_TERMS_ISSUED:
                await self._issue_final_terms()
            await self._finish(
                OutcomeKind.RENEWED, "out.draft_approved", version=self._approved.version
            )
            return
        term_plan = self._term_plan
        if term_plan is not None and term_plan.term_model is TermModel.EVERGREEN:
            await self._finish(OutcomeKind.RENEWED, "out.evergreen")
            return
        if (
            term_plan is not None
            and term_plan.term_model is TermModel.AUTO_RENEWING
            and term_plan.default_action is DefaultAction.RENEW_AS_IS
        ):
            await self._finish(OutcomeKind.RENEWED, "out.renewed_as_default")
            return
        await act.render_draft(
            DraftRequest(
                contract_id=self._contract.id,
                term=self._input.term,
                workflow_id=self._wf_id,
                kind=DraftKind.INTERIM_EXTENSION,
                version=1,
                requested_by="system",
                extension_months=self._input.policy.interim_extension_months,
            )
        )
        await self._escalate(
            "expiry",
            "esc.expiry.interim_drafted",
            months=self._input.policy.interim_extension_months,
        )
        await self._finish(OutcomeKind.INTERIM_EXTENSION, "out.no_approved_terms")

    async def _send_by(self) -> None:
        """The last day to post a notice. Undecided auto-renewing contracts must not roll over
        silently: draft a non-renewal notice for legal and escalate, unless the organisation
        explicitly chose to renew as is."""
        assert self._contract is not None and self._plan is not None
        assert self._term_plan is not None
        if self._term_outcomes:
            await self._send_by_with_notices()
            return
        if self._approved is not None or self._termination is not None:
            return
        send_by: Value = self._plan.send_by or "?"
        if self._term_plan.term_model is TermModel.EVERGREEN:
            # Continuing is what an evergreen contract does; the owner only needs to know that
            # ending it at this review is no longer possible after today.
            await self._escalate("send_by", "esc.send_by.evergreen", send_by=send_by)
            return
        if self._term_plan.default_action is DefaultAction.RENEW_AS_IS:
            facts = reason_facts("esc.send_by.renews_as_is", {"send_by": send_by})
            await self._event(
                "default_renew_as_is", key="send_by", detail={"reason": facts["reason"]}
            )
            await self._notify(NotificationKind.ESCALATION, "send_by", facts)
            return
        await act.render_draft(
            DraftRequest(
                contract_id=self._contract.id,
                term=self._input.term,
                workflow_id=self._wf_id,
                kind=DraftKind.NON_RENEWAL_NOTICE,
                version=1,
                requested_by="system",
            )
        )
        self._non_renewal_drafted = True
        await self._escalate("send_by", "esc.send_by.notice_drafted", send_by=send_by)

    async def _finish(self, kind: OutcomeKind, code: str, **values: Value) -> None:
        """End the term with ``kind``; the reason is ``code`` with ``values`` (its English is
        recorded, the mail says it in its reader's language)."""
        assert self._contract is not None
        reason = phrase(code, "en", values)
        approved = self._agreed_draft() if self._negotiation else self._approved
        if self._term_outcomes and kind not in (OutcomeKind.RENEWED, OutcomeKind.INTERIM_EXTENSION):
            approved = None  # an approved notice is not the version the next term runs on
        request = OutcomeRequest(
            contract_id=self._contract.id,
            term=self._input.term,
            workflow_id=self._wf_id,
            kind=kind,
            decided_at=workflow.now(),
            term_months=self._term_plan.next_term_months
            if self._term_plan
            else self._contract.renewal_term_months,
            extension_months=self._input.policy.interim_extension_months,
            approved_version=approved.version if approved else None,
            approved_content_hash=approved.content_hash if approved else None,
            reason=reason,
        )
        if self._negotiation and approved is not None:
            outcome = await self._record_agreed_outcome(request)
            if outcome is None:
                return  # the agreed version changed after approval: escalated, not in force
        else:
            outcome = await act.record_outcome(request)
        if self._opens_next_term(outcome.kind):
            next_id = await self._start_term(self._input.term + 1)
            outcome = outcome.model_copy(update={"next_workflow_id": next_id})
        self._outcome = outcome
        self._set_stage(RenewalStage.COMPLETED)
        await self._notify(
            NotificationKind.OUTCOME,
            "outcome",
            {
                "outcome": outcome.kind.value,
                "new_end_date": outcome.new_end_date.isoformat() if outcome.new_end_date else "",
                **reason_facts(code, values),
                "reason": outcome.reason,
            },
        )

    async def _start_followups(self) -> None:
        """The term's follow-up reviews, in a workflow of their own (renewal-semantics.md §7)
        that this one abandons: their timers and steps stay out of this history. Started once
        per term: a renewal restarted for the same term finds it running, or finished."""
        assert self._contract is not None
        with contextlib.suppress(WorkflowAlreadyStartedError):
            await workflow.start_child_workflow(
                FollowUpWorkflow.run,
                FollowUpTerm(contract_id=self._contract.id, term=self._input.term),
                id=followup_workflow_id(self._contract.id, self._input.term),
                task_queue=workflow.info().task_queue,
                parent_close_policy=workflow.ParentClosePolicy.ABANDON,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            )

    async def _start_term(self, term: int) -> str:
        """Start the renewal of ``term``. A new run per term keeps each history short and each
        term addressable by id; ABANDON lets the next term outlive this one."""
        assert self._contract is not None
        next_id = renewal_workflow_id(self._contract.id, term)
        await workflow.start_child_workflow(
            ContractRenewalWorkflow.run,
            RenewalInput(
                contract_id=self._contract.id,
                term=term,
                requested_by=self._input.requested_by,
                policy=self._input.policy,
            ),
            id=next_id,
            task_queue=workflow.info().task_queue,
            parent_close_policy=workflow.ParentClosePolicy.ABANDON,
            search_attributes=TypedSearchAttributes(
                [SearchAttributePair(sa.CONTRACT_ID, self._contract.id)]
            )
            if self._search_attributes_on()
            else None,
        )
        return next_id

    async def _issue_final_terms(self) -> None:
        final = self._agreed_draft() if self._negotiation else self._approved
        assert final is not None
        await self._event(
            "final_terms_issued",
            key="final_terms",
            detail={"version": final.version, "content_hash": final.content_hash},
            stage=RenewalStage.FINAL_TERMS_ISSUED,
        )
        self._set_stage(RenewalStage.FINAL_TERMS_ISSUED)

    async def _new_draft(
        self,
        *,
        requested_by: str,
        answers_comment: str | None,
        kind: DraftKind = DraftKind.RENEGOTIATION,
        terms: ProposedTerms | None = None,
        answers_by: str | None = None,
        counter_offer: bool = False,
    ) -> DraftRef:
        """The next version: rendered by the system, or (``terms``) made by ``requested_by``
        from terms the handler checked. A new version of the terms supersedes the one before."""
        assert self._contract is not None and self._plan is not None
        # With term outcomes every kind is a version of one sequence, so a version number names
        # one draft of the renewal whatever its kind.
        version = len(self._drafts) + 1
        notice_deadline = self._plan.notice_deadline if self._term_outcomes else None
        send_by = self._plan.send_by if self._term_outcomes else None
        if terms is not None:
            draft = await act.make_version(
                VersionToMake(
                    contract_id=self._contract.id,
                    term=self._input.term,
                    workflow_id=self._wf_id,
                    kind=kind,
                    version=version,
                    made_by=requested_by,
                    terms=terms,
                    answers_comment=answers_comment,
                    answers_by=answers_by,
                    answers_counter_offer=counter_offer,
                    notice_deadline=notice_deadline,
                    send_by=send_by,
                )
            )
        else:
            draft = await act.render_draft(
                DraftRequest(
                    contract_id=self._contract.id,
                    term=self._input.term,
                    workflow_id=self._wf_id,
                    kind=kind,
                    version=version,
                    requested_by=requested_by,
                    answers_comment=answers_comment,
                    extension_months=self._input.policy.interim_extension_months
                    if kind is DraftKind.INTERIM_EXTENSION
                    else None,
                    notice_deadline=notice_deadline,
                    send_by=send_by,
                )
            )
        if self._negotiation and kind in _TERM_KINDS:
            self._supersede_for(draft)
        self._drafts.append(draft)
        self._set_stage(RenewalStage.LEGAL_REVIEW)
        facts = {
            "version": str(draft.version),
            "answers": answers_comment or "",
            "due": self._review_due(kind).isoformat(),
        }
        if self._negotiation and kind in _TERM_KINDS:
            facts["outside_limits"] = str(len(self._breaches(draft)))
        await self._notify(NotificationKind.REVIEW_REQUESTED, f"review:{draft.version}", facts)
        if self._calendar_plan:
            self._reminders.append(asyncio.create_task(self._remind(draft)))
        return draft

    def _review_due(self, kind: DraftKind) -> date:
        """When legal's decision is needed: the final terms for a proposal; for a notice the
        last day to send it; for an interim extension (the term has ended) the end date."""
        assert self._plan is not None
        if self._term_outcomes and kind is DraftKind.NON_RENEWAL_NOTICE and self._plan.send_by:
            return self._plan.send_by
        if self._term_outcomes and kind is DraftKind.INTERIM_EXTENSION:
            return self._plan.end_date
        return self._plan.get(MilestoneKind.FINAL_TERMS).due

    def _review_open(self, draft: DraftRef) -> bool:
        return (
            self._drafts[-1].version == draft.version
            and self._approved is None
            and self._awaiting_revision != draft.version
            and draft.version not in self._rejected_versions
            and (
                self._termination is None
                or (self._term_outcomes and draft.kind is DraftKind.NON_RENEWAL_NOTICE)
            )
            and not self._expiry_started
        )

    async def _remind(self, draft: DraftRef) -> None:
        """Durable review reminders: after N business days a reminder to the reviewers, after
        N more an escalation one level up. Ends as soon as the draft is decided or replaced."""
        assert self._plan is not None
        n = self._input.policy.review_reminder_business_days

        async def remind(deadlines: ReviewDeadlines) -> None:
            assert self._plan is not None  # read now: an amendment may have re-planned
            send_by = self._plan.send_by
            await self._notify(
                NotificationKind.REVIEW_REMINDER,
                f"reminder:{draft.version}",
                {
                    "version": str(draft.version),
                    "business_days": str(n),
                    "escalate_on": deadlines.escalate_at.date().isoformat(),
                    "send_by": send_by.isoformat() if send_by else "",
                },
            )

        async def escalate() -> None:
            await self._escalate(
                f"review-overdue:{draft.version}",
                "esc.review_overdue",
                version=draft.version,
                days=2 * n,
            )

        await self._remind_then_escalate(
            lambda: not self._review_open(draft),
            lambda step: f"review {step} for draft {draft.version}",
            remind,
            escalate,
        )

    async def _remind_then_escalate(
        self,
        settled: Callable[[], bool],
        summary: Callable[[str], str],
        remind: Callable[[ReviewDeadlines], Awaitable[None]],
        escalate: Callable[[], Awaitable[None]],
    ) -> None:
        """After N business days ``remind``, after N more ``escalate``, on durable timers;
        ends as soon as ``settled`` (checked again under the lock before either acts)."""
        assert self._contract is not None
        deadlines = await act.review_deadlines(
            ReviewDeadlinesRequest(
                contract_id=self._contract.id,
                from_date=workflow.now().date(),
                business_days=self._input.policy.review_reminder_business_days,
            )
        )
        for step, at in (("reminder", deadlines.remind_at), ("escalation", deadlines.escalate_at)):
            delay = at - workflow.now()
            if delay > timedelta(0):
                try:
                    await workflow.wait_condition(
                        settled, timeout=delay, timeout_summary=summary(step)
                    )
                    return
                except TimeoutError:
                    pass
            async with self._lock:
                if settled():
                    return
                if step == "reminder":
                    await remind(deadlines)
                else:
                    await escalate()

    async def _escalate(
        self,
        key: str,
        code: str,
        *,
        stage: RenewalStage = RenewalStage.ESCALATED,
        **values: Value,
    ) -> None:
        """Tell the owner one level up, for the reason ``code`` with ``values`` (the English
        is recorded; the mail carries the code and values to say it in its reader's language).
        ``stage`` is what the renewal shows afterwards: a lapsed or completed term stays so
        while it is escalated."""
        await self._escalate_with(key, code, values, stage=stage)

    async def _escalate_with(
        self,
        key: str,
        code: str,
        values: Mapping[str, Value],
        *,
        stage: RenewalStage = RenewalStage.ESCALATED,
    ) -> None:
        facts = reason_facts(code, values)
        reason = facts["reason"]
        self._escalations.append(reason)
        await self._event(
            "escalation",
            key=f"escalation:{key}",
            detail={"reason": reason},
            stage=stage,
        )
        self._set_stage(stage)
        await self._notify(NotificationKind.ESCALATION, f"escalation:{key}", facts)

    async def _notify(self, kind: NotificationKind, key: str, facts: dict[str, str]) -> None:
        assert self._contract is not None
        await act.send_notification(
            NotificationRequest(
                contract_id=self._contract.id,
                term=self._input.term,
                workflow_id=self._wf_id,
                kind=kind,
                key=f"{self._wf_id}:mail:{key}",
                facts=facts,
            )
        )

    async def _event(
        self, kind: str, *, key: str, detail: dict[str, object], stage: RenewalStage | None = None
    ) -> None:
        assert self._contract is not None
        await act.record_event(
            RenewalEvent(
                contract_id=self._contract.id,
                term=self._input.term,
                workflow_id=self._wf_id,
                kind=kind,
                key=f"{self._wf_id}:{key}",
                detail=detail,
                stage=stage,
            )
        )

    # ------------------------------------------------------------------ term outcomes (§4, §5)

    def _effective_model(self) -> TermModel:
        if self._term_plan is not None:
            return self._term_plan.term_model
        assert self._contract is not None
        return self._contract.term_model

    def _continues_by_itself(self) -> bool:
        return self._effective_model() is not TermModel.FIXED

    def _skipped_by_termination(self, kind: MilestoneKind) -> bool:
        if kind is MilestoneKind.EXPIRY or self._termination is None:
            return False
        # A contract that would roll over still needs its send-by date: the notice that stops
        # it must go out by then.
        return not (
            self._term_outcomes
            and kind is MilestoneKind.SEND_BY
            and self._effective_model() is not TermModel.FIXED
        )

    def _opens_next_term(self, kind: OutcomeKind) -> bool:
        if not self._term_outcomes:
            return kind is not OutcomeKind.TERMINATED
        return kind in (OutcomeKind.RENEWED, OutcomeKind.ROLLED_OVER, OutcomeKind.INTERIM_EXTENSION)

    async def _record_milestone(self, kind: MilestoneKind) -> None:
        """Keep the stored plan's state of the milestone current (every view reads it)."""
        if not self._term_outcomes or self._contract is None:
            return
        state = self._states.get(kind, MilestoneState.PENDING)
        await act.record_milestone(
            MilestoneRecord(
                contract_id=self._contract.id,
                term=self._input.term,
                workflow_id=self._wf_id,
                kind=kind,
                state=state,
                completed_at=self._completed_at.get(kind),
                late=state is MilestoneState.DONE_LATE,
            )
        )

    async def _catch_up(self) -> TermOutcome:
        """Registered after its end date and continuing by its own terms: record, in one step,
        every roll-over its terms caused and hand over to the term running today."""
        assert self._contract is not None and self._term_plan is not None
        assert self._plan is not None
        self._expiry_started = True
        for m in self._plan.milestones:
            self._states[m.kind] = MilestoneState.SKIPPED
            await self._record_milestone(m.kind)
        result = await act.catch_up_terms(
            CatchUpRequest(
                contract_id=self._contract.id,
                term=self._input.term,
                workflow_id=self._wf_id,
                today=workflow.now().date(),
                term_model=self._term_plan.term_model,
                term_months=self._term_plan.next_term_months,
                renewals_left=self._term_plan.renewals_left,
                decided_at=workflow.now(),
            )
        )
        next_id = await self._start_term(result.present_term)
        self._outcome = result.outcome.model_copy(update={"next_workflow_id": next_id})
        code, values = catch_up_reason(
            end_date=self._contract.end_date,
            rolled_over=result.rolled_over,
            present_term=result.present_term,
            present_end=result.present_end,
            lapsed_on=result.lapsed_on,
        )
        if phrase(code, "en", values) != result.outcome.reason:  # recorded by another wording
            code, values = "out.termination", {"reason": result.outcome.reason}
        await self._escalate_with("catch-up", code, values, stage=RenewalStage.COMPLETED)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._outcome

    def _agreed_kind(self) -> DraftKind | None:
        if self._negotiation:
            # Agreed = approved and accepted on one hash; a transition plan is internal (the
            # supplier has nothing to accept), so legal's approval is what ends the term.
            agreed = self._agreed_draft()
            if agreed is not None:
                return agreed.kind
            if self._approved is not None and self._approved.kind is DraftKind.TRANSITION_PLAN:
                return DraftKind.TRANSITION_PLAN
            return None
        # Before supplier answers were recorded, legal's approval stood for the agreement. A
        # notice is not an agreement: it only counts once dispatched.
        if self._approved is None or self._approved.kind is DraftKind.NON_RENEWAL_NOTICE:
            return None
        return self._approved.kind

    def _notice_dispatch(self) -> DispatchRecord | None:
        return self._dispatches[-1] if self._dispatches else None

    async def _expiry_by_term_model(self) -> None:
        assert self._plan is not None and self._term_plan is not None
        approved_notice = (
            self._approved is not None and self._approved.kind is DraftKind.NON_RENEWAL_NOTICE
        )
        dispatch = self._notice_dispatch()
        decision = expiry_outcome(
            ExpiryFacts(
                term_model=self._term_plan.term_model,
                agreed=self._agreed_kind(),
                notice=notice_state(
                    approved=approved_notice,
                    dispatched_on=dispatch.dispatched_on if dispatch else None,
                    notice_deadline=self._plan.notice_deadline,
                ),
                termination_requested=self._termination is not None,
                default_action=self._term_plan.default_action,
            )
        )
        if decision.kind is OutcomeKind.RENEWED and self._stage is not (
            RenewalStage.FINAL_TERMS_ISSUED
        ):
            await self._issue_final_terms()
        if decision.kind is OutcomeKind.LAPSED:
            await self._lapse(decision)
            return
        if decision.escalate:
            await self._escalate_with("expiry", decision.code, decision.values)
        if decision.kind is OutcomeKind.TERMINATED and self._termination is not None:
            await self._finish(decision.kind, "out.termination", reason=self._termination.reason)
            return
        await self._finish(decision.kind, decision.code, **decision.values)

    async def _lapse(self, decision: ExpiryDecision) -> None:
        """A fixed term ended with nothing agreed: no new end date is invented. The interim
        extension goes to legal as the next version and the owner hears of it until someone
        acts (the loop runs in run(), outside the lock, so reviews can come in)."""
        assert self._plan is not None
        self._lapsed_on = self._plan.end_date
        await self._event(
            "lapsed",
            key="lapsed",
            detail={"end_date": self._plan.end_date.isoformat(), "reason": decision.reason},
            stage=RenewalStage.LAPSED,
        )
        current = self._drafts[-1] if self._drafts else None
        if current is None or current.kind is not DraftKind.INTERIM_EXTENSION:
            await self._new_draft(
                requested_by=self._input.requested_by,
                answers_comment=None,
                kind=DraftKind.INTERIM_EXTENSION,
            )
        await self._escalate_with(
            "lapsed", decision.code, decision.values, stage=RenewalStage.LAPSED
        )

    def _lapse_settled(self) -> bool:
        return self._termination is not None or self._agreed_kind() in (
            DraftKind.INTERIM_EXTENSION,
            DraftKind.RENEGOTIATION,
        )

    async def _wait_out_lapse(self) -> None:
        # Settled, then finished: unless the agreed text was refused when put into force, which
        # escalated and leaves the term lapsed until someone acts again.
        while self._outcome is None:
            await self._wait_out_lapse_once()

    async def _wait_out_lapse_once(self) -> None:
        assert self._contract is not None and self._lapsed_on is not None
        n = self._input.policy.review_reminder_business_days
        while not self._lapse_settled():
            deadlines = await act.review_deadlines(
                ReviewDeadlinesRequest(
                    contract_id=self._contract.id,
                    from_date=workflow.now().date(),
                    business_days=n,
                )
            )
            try:
                await workflow.wait_condition(
                    self._lapse_settled,
                    timeout=max(deadlines.remind_at - workflow.now(), timedelta(minutes=1)),
                    timeout_summary="lapsed: the next escalation",
                )
            except TimeoutError:
                self._lapse_rounds += 1
                async with self._lock:
                    if not self._lapse_settled():
                        await self._escalate(
                            f"lapsed:{self._lapse_rounds}",
                            "esc.lapsed.not_agreed"
                            if self._negotiation
                            else "esc.lapsed.not_approved",
                            stage=RenewalStage.LAPSED,
                            lapsed_on=self._lapsed_on,
                        )
        async with self._lock:
            agreed = self._agreed_kind()
            if agreed is DraftKind.INTERIM_EXTENSION:
                await self._finish(
                    OutcomeKind.INTERIM_EXTENSION,
                    "out.interim_after_lapse",
                    version=self._approved_version(),
                    lapsed_on=self._lapsed_on,
                )
            elif agreed is DraftKind.RENEGOTIATION:
                await self._issue_final_terms()
                await self._finish(
                    OutcomeKind.RENEWED,
                    "out.approved_after_lapse",
                    version=self._approved_version(),
                )
            else:
                assert self._termination is not None
                await self._finish(
                    OutcomeKind.LAPSED, "out.termination", reason=self._termination.reason
                )

    def _approved_version(self) -> int:
        final = self._agreed_draft() if self._negotiation else self._approved
        assert final is not None
        return final.version

    async def _send_by_with_notices(self) -> None:
        """The last day to post a notice. A contract that would roll over must not do so
        silently: an approved notice not yet dispatched, or none at all, is escalated today."""
        assert self._plan is not None and self._term_plan is not None
        send_by: Value = self._plan.send_by or "?"
        agreed = self._agreed_kind()
        if agreed is not None or self._notice_dispatch() is not None:
            return
        if (
            self._negotiation
            and self._approved is not None
            and self._approved.kind in _TERM_KINDS
            and self._termination is None
        ):
            # Approved terms the supplier has not accepted do not stop a roll-over: say so on
            # the last day a notice could, and leave the choice (a notice or not) to procurement.
            await self._escalate(
                "send_by",
                "esc.send_by.not_accepted",
                send_by=send_by,
                version=self._approved.version,
            )
            return
        if self._approved is not None:  # an approved notice
            await self._escalate(
                "send_by",
                "esc.send_by.notice_approved",
                send_by=send_by,
                version=self._approved.version,
            )
            return
        if self._term_plan.term_model is TermModel.EVERGREEN and self._termination is None:
            await self._escalate("send_by", "esc.send_by.evergreen", send_by=send_by)
            return
        if (
            self._term_plan.default_action is DefaultAction.RENEW_AS_IS
            and self._termination is None
        ):
            facts = reason_facts("esc.send_by.rolls_over_as_is", {"send_by": send_by})
            await self._event(
                "default_renew_as_is", key="send_by", detail={"reason": facts["reason"]}
            )
            await self._notify(NotificationKind.ESCALATION, "send_by", facts)
            return
        current = self._drafts[-1] if self._drafts else None
        if (
            current is None
            or current.kind is not DraftKind.NON_RENEWAL_NOTICE
            or current.version in self._rejected_versions
        ):
            await self._new_draft(
                requested_by=self._input.requested_by,
                answers_comment=None,
                kind=DraftKind.NON_RENEWAL_NOTICE,
            )
        await self._escalate("send_by", "esc.send_by.notice_in_review", send_by=send_by)

    async def _withdraw_approval_for_termination(self, request: TerminationRequest) -> None:
        """Deciding not to renew contradicts an approved proposal to renew: the approval is
        withdrawn (and recorded), so that the term ends as decided and the notice, if one is
        needed, can be reviewed."""
        approved = self._approved
        if approved is None or approved.kind is not DraftKind.RENEGOTIATION:
            return
        self._approved = None
        if self._negotiation:
            withdrawal = ApprovalWithdrawn(
                version=approved.version,
                content_hash=approved.content_hash,
                on=workflow.now().date(),
                reason=phrase("wd.not_renewing", "en", {"reason": request.reason}),
            )
            if event_refusal(self._version_events, withdrawal) is None:
                self._version_events.append(withdrawal)
        await self._event(
            "approval_withdrawn",
            key=f"approval-withdrawn:{approved.version}",
            detail={
                "version": approved.version,
                "content_hash": approved.content_hash,
                "requested_by": request.requested_by,
                "reason": phrase("wd.not_renewing", "en", {"reason": request.reason}),
            },
        )

    async def _notice_for_termination(self, request: TerminationRequest) -> None:
        """Not renewing a contract that continues by its own terms takes a notice: draft it as
        the next version for legal, unless one is already there."""
        if not self._continues_by_itself():
            return
        if any(d.kind is DraftKind.NON_RENEWAL_NOTICE for d in self._drafts):
            return
        await self._new_draft(
            requested_by=request.requested_by,
            answers_comment=request.reason,
            kind=DraftKind.NON_RENEWAL_NOTICE,
        )
        self._set_stage(RenewalStage.TERMINATION_PENDING)

    # ------------------------------------------------------------------ proven identity

    async def _prove(
        self,
        *,
        action: str,
        claimed: str,
        request: ReviewSubmission
        | AmendmentRequest
        | TerminationRequest
        | RedraftRequest
        | NoticeDispatch
        | VersionEdit
        | OfferRecord
        | AnswerRecord
        | HearingRecord,
        assertion: IdentityAssertion | None,
        draft_version: int | None = None,
        content_hash: str | None = None,
    ) -> bool:
        """Refuse the update unless its signed assertion proves that ``claimed`` sent it (the
        activity checks the signature, the person's current account, and replays, and records
        a refusal in the audit trail). False: a decision replayed from before the check (and
        the rules that came with it) existed."""
        update = workflow.current_update_info()
        update_id = update.id if update else f"{self._wf_id}:{action}:{workflow.now().isoformat()}"
        if not self._since(f"{PATCH_PROVEN_IDENTITY}:{update_id}"):
            return False
        verdict = await act.verify_identity(
            IdentityCheck(
                workflow_id=self._wf_id,
                update_id=update_id,
                action=action,
                claimed=claimed,
                request_digest=request_digest(request),
                draft_version=draft_version,
                content_hash=content_hash,
                assertion=assertion,
            )
        )
        if not verdict.accepted:
            raise ApplicationError(verdict.reason, type="IdentityRefused", non_retryable=True)
        return True

    # ------------------------------------------------------------------ notice dispatch

    @workflow.update
    async def record_dispatch(self, dispatch: NoticeDispatch) -> RenewalStatus:
        """Procurement records that an approved non-renewal notice went out. One after the
        notice deadline is recorded as late: it does not stop the roll-over, and we say so."""
        async with self._lock:
            await self._prove(
                action="record_dispatch",
                claimed=dispatch.recorded_by,
                request=dispatch,
                assertion=dispatch.assertion,
                draft_version=dispatch.draft_version,
            )
            draft = self._check_dispatch(dispatch)
            assert self._plan is not None
            late = dispatch.dispatched_on > self._plan.notice_deadline
            send_by = self._plan.send_by
            record = DispatchRecord(
                draft_version=draft.version,
                content_hash=draft.content_hash,
                dispatched_on=dispatch.dispatched_on,
                channel=dispatch.channel,
                reference=dispatch.reference,
                recorded_by=dispatch.recorded_by,
                recorded_at=workflow.now(),
                notice_deadline=self._plan.notice_deadline,
                send_by=send_by,
                late=late,
                after_send_by=send_by is not None and dispatch.dispatched_on > send_by,
            )
            self._dispatches.append(record)
            await self._event(
                "notice_dispatched",
                key=f"dispatch:{draft.version}",
                detail=record.model_dump(mode="json"),
            )
            if not late and record.after_send_by:
                await self._escalate(
                    f"dispatch-after-send-by:{draft.version}",
                    "esc.dispatch.after_send_by",
                    dispatched_on=dispatch.dispatched_on,
                    send_by=send_by or "?",
                    notice_deadline=self._plan.notice_deadline,
                )
            if late:
                await self._escalate(
                    f"dispatch-late:{draft.version}",
                    "esc.dispatch.late",
                    dispatched_on=dispatch.dispatched_on,
                    notice_deadline=self._plan.notice_deadline,
                )
            return self.status()

    @record_dispatch.validator
    def _validate_dispatch(self, dispatch: NoticeDispatch) -> None:
        self._check_dispatch(dispatch)

    def _check_dispatch(self, dispatch: NoticeDispatch) -> DraftRef:
        def refuse(message: str) -> ApplicationError:
            return ApplicationError(message, type="InvalidDispatch", non_retryable=True)

        if not self._term_outcomes:
            raise refuse(
                "this renewal started before notice dispatches were recorded by the engine; "
                "record the dispatch in the audit trail"
            )
        self._check_open()
        if self._effective_model() is TermModel.FIXED:
            raise refuse(
                "draft_version: a fixed-term contract ends at its end date; it takes no "
                "non-renewal notice"
            )
        draft = next((d for d in self._drafts if d.version == dispatch.draft_version), None)
        if draft is None or draft.kind is not DraftKind.NON_RENEWAL_NOTICE:
            raise refuse(f"draft_version: version {dispatch.draft_version} is not a notice")
        if self._approved is None or self._approved.version != draft.version:
            raise refuse(
                f"draft_version: version {draft.version} is not approved by legal; only an "
                "approved notice may be sent"
            )
        if any(d.draft_version == draft.version for d in self._dispatches):
            raise refuse(f"draft_version: the dispatch of version {draft.version} is recorded")
        approval = next(
            (
                d
                for d in self._decisions
                if d.draft_version == draft.version and d.decision is ReviewDecisionKind.APPROVE
            ),
            None,
        )
        if approval is not None and dispatch.dispatched_on < approval.decided_at.date():
            raise refuse(
                f"dispatched_on: {dispatch.dispatched_on.isoformat()} is before legal approved "
                f"version {draft.version} on {approval.decided_at.date().isoformat()}"
            )
        if dispatch.dispatched_on > workflow.now().date():
            raise refuse(
                f"dispatched_on: {dispatch.dispatched_on.isoformat()} is in the future; record a "
                "dispatch once it happened"
            )
        return draft

    # ------------------------------------------------------------------ legal review

    def _check_review(
        self, submission: ReviewSubmission, *, conflict: bool, owner_rule: bool = True
    ) -> DraftRef:
        lapsed_open = self._lapsed_on is not None and self._outcome is None
        if self._outcome is not None or (self._expiry_started and not lapsed_open):
            raise _review_error(
                "the renewal has reached expiry; reviews are closed", conflict=conflict
            )
        notice_open = (
            self._term_outcomes
            and bool(self._drafts)
            and self._drafts[-1].kind is DraftKind.NON_RENEWAL_NOTICE
        )
        if self._termination is not None and not notice_open and not lapsed_open:
            raise _review_error("termination is pending; reviews are closed", conflict=conflict)
        if not self._drafts:
            raise _review_error("no draft is awaiting review yet", conflict=conflict)
        current = self._drafts[-1]
        if self._approved is not None:
            raise _review_error(
                f"draft version {self._approved.version} is already approved", conflict=conflict
            )
        if current.version in self._rejected_versions:
            raise _review_error(
                f"draft_version: version {current.version} was rejected; a new version is needed",
                conflict=conflict,
            )
        if self._awaiting_revision == current.version:
            raise _review_error(
                f"draft_version: changes to version {current.version} were requested; it waits "
                "for procurement's next version",
                conflict=conflict,
            )
        if submission.draft_version != current.version:
            raise _review_error(
                f"draft_version: version {submission.draft_version} is not the draft under review "
                f"(current version is {current.version})",
                conflict=conflict,
            )
        if submission.content_hash is not None and submission.content_hash != current.content_hash:
            raise _review_error(
                f"content_hash: does not match draft version {current.version}; reload the draft",
                conflict=conflict,
            )
        # The owner rule came with proven identity: decisions replayed from before it keep the
        # rule they were taken under (validators never replay, so they always apply it).
        owner = self._contract.owner if owner_rule and self._contract is not None else None
        refusal = approval_refusal(
            reviewer=submission.reviewer,
            version_maker=current.requested_by,
            renewal_requester=self._input.requested_by,
            contract_owner=owner,
        )
        if submission.decision is ReviewDecisionKind.APPROVE and refusal is not None:
            raise _review_error(f"reviewer: {refusal}")
        if submission.decision is ReviewDecisionKind.APPROVE and self._negotiation:
            self._check_dates_follow(current, conflict=conflict)
        if submission.decision is not ReviewDecisionKind.APPROVE and not submission.comment.strip():
            raise _review_error(
                f"comment: required to {submission.decision.value.replace('_', ' ')}"
            )
        return current

    @workflow.update
    async def submit_review(self, submission: ReviewSubmission) -> ReviewResult:
        async with self._lock:
            proven = await self._prove(
                action="submit_review",
                claimed=submission.reviewer,
                request=submission,
                assertion=submission.assertion,
                draft_version=submission.draft_version,
                content_hash=submission.content_hash,
            )
            # Re-checked under the lock: a decision that raced this one may have closed the draft.
            draft = self._check_review(submission, conflict=True, owner_rule=proven)
            assert self._contract is not None
            update = workflow.current_update_info()
            record = ReviewRecord(
                decision=submission.decision,
                reviewer=submission.reviewer,
                draft_version=draft.version,
                content_hash=draft.content_hash,
                comment=submission.comment,
                decided_at=workflow.now(),
                update_id=update.id if update else f"{self._wf_id}:review:{len(self._decisions)}",
            )
            await act.record_review(
                ReviewToRecord(
                    contract_id=self._contract.id,
                    term=self._input.term,
                    workflow_id=self._wf_id,
                    record=record,
                )
            )
            self._decisions.append(record)
            new_draft: DraftRef | None = None
            if submission.decision is ReviewDecisionKind.APPROVE:
                self._approved = draft
                if self._negotiation:
                    self._version_events.append(
                        VersionApproved(
                            version=draft.version,
                            content_hash=draft.content_hash,
                            on=workflow.now().date(),
                            by=submission.reviewer,
                        )
                    )
                # A lapsed term stays lapsed (supply at risk) until the supplier agrees.
                stage = (
                    RenewalStage.LAPSED
                    if self._negotiation and self._lapsed_on is not None
                    else RenewalStage.APPROVED
                )
                self._set_stage(stage)
                await self._event(
                    "approved",
                    key=f"approved:{draft.version}",
                    detail={
                        "version": draft.version,
                        "content_hash": draft.content_hash,
                        "reviewer": submission.reviewer,
                    },
                    stage=stage,
                )
                if (
                    self._states[MilestoneKind.FINAL_TERMS] in _DONE
                    and (not self._term_outcomes or draft.kind is DraftKind.RENEGOTIATION)
                    and not self._negotiation
                ):
                    # Approved after the final-terms milestone escalated: the offer goes out now.
                    await self._issue_final_terms()
            elif submission.decision is ReviewDecisionKind.REJECT:
                self._rejected_versions.add(draft.version)
                await self._escalate(
                    f"rejected:{draft.version}",
                    "esc.rejected",
                    version=draft.version,
                    reviewer=submission.reviewer,
                    comment=submission.comment,
                )
            elif self._negotiation and draft.kind in _TERM_KINDS:
                # The terms are procurement's to change: wait for its version, never re-render
                # the same terms as a new one.
                await self._changes_requested(draft, record)
            else:
                new_draft = await self._new_draft(
                    requested_by=submission.reviewer,
                    answers_comment=submission.comment,
                    kind=draft.kind if self._term_outcomes else DraftKind.RENEGOTIATION,
                )
                if self._lapsed_on is not None:
                    self._set_stage(RenewalStage.LAPSED)
            return ReviewResult(record=record, stage=self._stage, new_draft=new_draft)

    @submit_review.validator
    def _validate_review(self, submission: ReviewSubmission) -> None:
        self._check_review(submission, conflict=False)

    @workflow.update
    async def request_redraft(self, request: RedraftRequest) -> DraftRef:
        """Procurement asks for a fresh draft after a rejection (``reason`` says what to change)."""
        async with self._lock:
            await self._prove(
                action="request_redraft",
                claimed=request.requested_by,
                request=request,
                assertion=request.assertion,
            )
            self._check_redraft()
            draft = await self._new_draft(
                requested_by=request.requested_by,
                answers_comment=request.reason,
                kind=self._drafts[-1].kind if self._term_outcomes else DraftKind.RENEGOTIATION,
            )
            if self._lapsed_on is not None:
                self._set_stage(RenewalStage.LAPSED)
            return draft

    @request_redraft.validator
    def _validate_redraft(self, request: RedraftRequest) -> None:
        self._check_redraft()

    def _check_redraft(self) -> None:
        lapsed_open = self._lapsed_on is not None and self._outcome is None
        closing = self._expiry_started and not lapsed_open
        notice_next = (
            self._term_outcomes
            and bool(self._drafts)
            and self._drafts[-1].kind is DraftKind.NON_RENEWAL_NOTICE
        )
        terminated = self._termination is not None and not notice_next
        if self._outcome is not None or closing or terminated:
            raise _review_error("the renewal is closing; no new draft can be made")
        if not self._drafts or self._drafts[-1].version not in self._rejected_versions:
            raise _review_error("a new draft is made only after the current one was rejected")
        if self._negotiation and self._drafts[-1].kind in _TERM_KINDS:
            raise _conflict(
                f"version {self._drafts[-1].version} proposes terms: make the next version by "
                "editing them (edit_version); a redraft would repeat the same terms"
            )

    # ------------------------------------------------------------------ amendment, termination

    @workflow.update
    async def amend(self, request: AmendmentRequest) -> RenewalStatus:
        async with self._lock:
            await self._prove(
                action="amend",
                claimed=request.amendment.amended_by,
                request=request,
                assertion=request.assertion,
            )
            self._check_open()
            withdrawals = self._withdrawals_for(request)
            assert self._contract is not None
            update = workflow.current_update_info()
            self._contract = await act.apply_amendment(
                AmendmentToApply(
                    contract_id=self._contract.id,
                    term=self._input.term,
                    workflow_id=self._wf_id,
                    key=f"{self._wf_id}:amendment:{update.id if update else len(self._decisions)}",
                    amendment=request.amendment,
                )
            )
            await self._make_plan()
            self._publish_search_attributes()
            for withdrawal, why in withdrawals:
                await self._withdraw(withdrawal, why, by=request.amendment.amended_by)
            self._replanned = True
            return self.status()

    @amend.validator
    def _validate_amend(self, request: AmendmentRequest) -> None:
        self._check_open()
        self._withdrawals_for(request)
        if self._dispatches:
            raise ApplicationError(
                "a non-renewal notice was dispatched for this term; its dates were judged "
                "against the plan it was sent on. Record the supplier's agreement to new dates "
                "as a new term instead",
                type="InvalidAmendment",
                non_retryable=True,
            )
        new_end = request.amendment.end_date
        if (
            self._contract is not None
            and new_end is not None
            and new_end <= self._contract.start_date
        ):
            raise ApplicationError(
                f"end_date: {new_end.isoformat()} is not after the start "
                f"date {self._contract.start_date.isoformat()}",
                type="InvalidAmendment",
                non_retryable=True,
            )

    @workflow.update
    async def terminate(self, request: TerminationRequest) -> RenewalStatus:
        async with self._lock:
            await self._prove(
                action="terminate",
                claimed=request.requested_by,
                request=request,
                assertion=request.assertion,
            )
            self._check_open(while_lapsed=True)
            self._termination = request
            await self._event(
                "termination_requested",
                key="termination",
                detail={"requested_by": request.requested_by, "reason": request.reason},
                stage=RenewalStage.TERMINATION_PENDING,
            )
            self._set_stage(RenewalStage.TERMINATION_PENDING)
            if self._term_outcomes and self._lapsed_on is None:
                await self._withdraw_approval_for_termination(request)
                await self._notice_for_termination(request)
            return self.status()

    @terminate.validator
    def _validate_terminate(self, request: TerminationRequest) -> None:
        # A lapsed term stays open for procurement to record what happened to the supply.
        self._check_open(while_lapsed=True)
        if self._termination is not None:
            raise ApplicationError(
                "termination was already requested", type="Conflict", non_retryable=True
            )

    def _check_open(self, *, while_lapsed: bool = False) -> None:
        if self._contract is None or not self._opened:
            raise ApplicationError("the renewal is still starting; try again", type="NotReady")
        lapsed_open = while_lapsed and self._lapsed_on is not None
        if self._outcome is not None or (self._expiry_started and not lapsed_open):
            raise ApplicationError(
                "the renewal has reached expiry", type="RenewalClosed", non_retryable=True
            )

    # ------------------------------------------------------------------ negotiation (§3)

    def _term_versions(self) -> list[VersionTerms]:
        return [
            VersionTerms(
                version=d.version, kind=d.kind, terms=ProposedTerms.model_validate(d.terms)
            )
            for d in self._drafts
            if d.kind in _TERM_KINDS and d.terms is not None
        ]

    def _state(self) -> NegotiationState:
        return negotiation_state(self._version_events)

    def _agreed_draft(self) -> DraftRef | None:
        """The version legal approved and the supplier accepted on one hash, unless its stored
        text was found changed when it was to be put into force."""
        agreed = self._state().agreed
        if agreed is None or agreed.version in self._refused_agreements:
            return None
        return next((d for d in self._drafts if d.version == agreed.version), None)

    def _breaches(self, draft: DraftRef) -> tuple[LimitBreach, ...]:
        if self._negotiation_plan is None or draft.terms is None:
            return ()
        return limit_breaches(self._negotiation_plan, ProposedTerms.model_validate(draft.terms))

    def _check_negotiating(self, *, while_lapsed: bool = True) -> None:
        if not self._negotiation:
            raise ApplicationError(
                "this renewal was started before versions made by people, offers and supplier "
                "answers existed; its versions are decided by legal review alone",
                type="NotSupported",
                non_retryable=True,
            )
        self._check_open(while_lapsed=while_lapsed)

    def _current_term_version(self) -> DraftRef:
        if not self._drafts or self._drafts[-1].kind not in _TERM_KINDS:
            raise _conflict("no version proposing terms is current")
        current = self._drafts[-1]
        if current.terms is None:
            raise _conflict(f"version {current.version} has no stored terms to edit")
        return current

    def _edited_terms(self, kind: str, base: DraftRef, edit: TermsEdit) -> ProposedTerms:
        assert self._contract is not None and base.terms is not None
        try:
            return next_terms(
                ProposedTerms.model_validate(base.terms),
                edit,
                current_end=self._contract.end_date,
                kind=base.kind,
            )
        except InvalidInput as exc:
            raise _refused(kind, list(exc.errors)) from None

    def _check_edit(self, request: VersionEdit) -> tuple[DraftRef, ProposedTerms]:
        self._check_negotiating()
        if self._termination is not None:
            raise _conflict("termination is pending; no new version of the terms is made")
        current = self._current_term_version()
        if request.based_on_version != current.version:
            raise _conflict(
                f"based_on_version: version {request.based_on_version} is not the current "
                f"version (it is {current.version}); reload and edit again"
            )
        state = self._state()
        if state.agreed is not None:
            raise _conflict(f"the renewal is agreed on version {state.agreed.version}")
        status = state.status(current.version)
        if status is not None and status.presented_on is not None and status.answer is None:
            raise _conflict(
                f"version {current.version} is with the supplier: record its answer (a "
                "counter-offer carries its terms) before making another version"
            )
        return current, self._edited_terms("InvalidVersion", current, request.edit)

    @workflow.update
    async def edit_version(self, request: VersionEdit) -> DraftRef:
        """Procurement makes the next version by editing the current one's terms: after legal
        asked for changes or rejected it, or to rethink before it goes to the supplier."""
        async with self._lock:
            await self._prove(
                action="edit_version",
                claimed=request.edited_by,
                request=request,
                assertion=request.assertion,
                draft_version=request.based_on_version,
            )
            current, terms = self._check_edit(request)
            answers, answers_by = request.note.strip() or None, None
            comment = self._comment_answered(current.version)
            if comment is not None:
                answers = answers or comment.comment
                answers_by = comment.reviewer
            draft = await self._new_draft(
                requested_by=request.edited_by,
                answers_comment=answers,
                kind=current.kind,
                terms=terms,
                answers_by=answers_by,
            )
            if self._lapsed_on is not None:
                self._set_stage(RenewalStage.LAPSED)
            return draft

    @edit_version.validator
    def _validate_edit(self, request: VersionEdit) -> None:
        self._check_edit(request)

    def _check_dates_follow(self, draft: DraftRef, *, conflict: bool) -> None:
        """A version whose end date no longer follows from the contract's (amended) end date
        cannot be approved: agreeing on it would put into force a term the version does not
        state. The next version, made by editing, recomputes it."""
        if draft.kind not in _TERM_KINDS or draft.terms is None or self._contract is None:
            return
        terms = ProposedTerms.model_validate(draft.terms)
        expected = term_end(self._contract.end_date, terms.term_months, draft.kind)
        if expected != terms.new_end_date:
            raise _review_error(
                f"draft_version: version {draft.version} ends on "
                f"{terms.new_end_date.isoformat()}, but from the contract's end date "
                f"{self._contract.end_date.isoformat()} its term ends on {expected.isoformat()}; "
                "make the next version (edit its terms) before approving",
                conflict=conflict,
            )

    def _comment_answered(self, version: int) -> ReviewRecord | None:
        """Legal's request for changes (or rejection) of ``version``, which its revision answers."""
        for record in reversed(self._decisions):
            if record.draft_version == version and record.decision is not (
                ReviewDecisionKind.APPROVE
            ):
                return record
        return None

    def _supersede_for(self, draft: DraftRef) -> None:
        """A new version of the terms replaces the current one: its approval (if any) no longer
        stands, and legal's request for changes is answered."""
        previous = next((d for d in reversed(self._drafts) if d.kind in _TERM_KINDS), None)
        self._awaiting_revision = None
        if previous is None:
            return
        event = VersionSuperseded(version=previous.version, by_version=draft.version)
        if event_refusal(self._version_events, event) is None:
            self._version_events.append(event)
        if self._approved is not None and self._approved.version == previous.version:
            self._approved = None

    async def _changes_requested(self, draft: DraftRef, record: ReviewRecord) -> None:
        self._awaiting_revision = draft.version
        self._set_stage(RenewalStage.CHANGES_REQUESTED)
        await self._event(
            "changes_requested",
            key=f"changes-requested:{draft.version}",
            detail={
                "version": draft.version,
                "reviewer": record.reviewer,
                "comment": record.comment,
            },
            stage=RenewalStage.CHANGES_REQUESTED,
        )
        await self._notify(
            NotificationKind.REVISION_REQUESTED,
            f"revision:{draft.version}",
            {"version": str(draft.version), "reviewer": record.reviewer, "comment": record.comment},
        )
        self._reminders.append(asyncio.create_task(self._remind_revision(draft, record)))

    async def _remind_revision(self, draft: DraftRef, record: ReviewRecord) -> None:
        """Business-day reminders to procurement while legal's request for changes waits for
        its version; one more round without it escalates."""
        n = self._input.policy.review_reminder_business_days

        async def remind(deadlines: ReviewDeadlines) -> None:
            await self._notify(
                NotificationKind.REVISION_REQUESTED,
                f"revision-reminder:{draft.version}",
                {
                    "version": str(draft.version),
                    "reviewer": record.reviewer,
                    "comment": record.comment,
                    "reminder": "1",
                    "business_days": str(n),
                    "escalate_on": deadlines.escalate_at.date().isoformat(),
                },
            )

        async def escalate() -> None:
            await self._escalate(
                f"revision-overdue:{draft.version}",
                "esc.revision_overdue",
                version=draft.version,
                days=2 * n,
            )

        await self._remind_then_escalate(
            lambda: self._awaiting_revision != draft.version or self._expiry_started,
            lambda step: f"revision {step} v{draft.version}",
            remind,
            escalate,
        )

    def _version_refusal(self, kind: str, action: str, event: VersionEvent) -> None:
        err = event_refusal(self._version_events, event)
        if err is not None:
            name = _REQUEST_FIELDS[action].get(err.field, err.field)
            raise _refused(kind, [FieldError(name, err.reason)])

    def _check_offer(self, offer: OfferRecord) -> OfferPresented:
        self._check_negotiating()
        if self._termination is not None:
            raise _conflict("termination is pending; no offer is presented")
        current = self._current_term_version()
        if offer.draft_version != current.version:
            raise _refused(
                "InvalidOffer",
                [
                    FieldError(
                        "draft_version",
                        f"version {offer.draft_version} is not the current version "
                        f"({current.version}); only the current approved version is presented",
                    )
                ],
            )
        if offer.presented_on > workflow.now().date():
            raise _refused(
                "InvalidOffer",
                [FieldError("presented_on", f"{offer.presented_on.isoformat()} is in the future")],
            )
        event = OfferPresented(
            version=offer.draft_version,
            on=offer.presented_on,
            by=offer.presented_by,
            content_hash=offer.content_hash,
        )
        self._version_refusal("InvalidOffer", "record_offer", event)
        return event

    @workflow.update
    async def record_offer(self, offer: OfferRecord) -> RenewalStatus:
        """Procurement presented the approved version to the supplier (条件提示済み)."""
        async with self._lock:
            await self._prove(
                action="record_offer",
                claimed=offer.presented_by,
                request=offer,
                assertion=offer.assertion,
                draft_version=offer.draft_version,
                content_hash=offer.content_hash,
            )
            event = self._check_offer(offer)
            self._version_events.append(event)
            stage = RenewalStage.LAPSED if self._lapsed_on else RenewalStage.OFFER_PRESENTED
            await self._event(
                "offer_presented",
                key=f"offer:{offer.draft_version}",
                detail={**event.model_dump(mode="json"), "note": offer.note},
                stage=stage,
            )
            self._set_stage(stage)
            if self._states[MilestoneKind.FINAL_TERMS] in _DONE:
                self._watch_answer(offer.draft_version)
            return self.status()

    @record_offer.validator
    def _validate_offer(self, offer: OfferRecord) -> None:
        self._check_offer(offer)

    def _check_answer(self, answer: AnswerRecord) -> tuple[SupplierAnswer, ProposedTerms | None]:
        self._check_negotiating()
        errors: list[FieldError] = []
        if answer.answered_on > workflow.now().date():
            errors.append(
                FieldError("answered_on", f"{answer.answered_on.isoformat()} is in the future")
            )
        countered = answer.answer is SupplierAnswerKind.COUNTERED
        if countered and answer.counter_terms is None:
            errors.append(
                FieldError(
                    "counter_terms", "a counter-offer needs its terms (what the supplier asks)"
                )
            )
        if not countered and answer.counter_terms is not None:
            errors.append(
                FieldError("counter_terms", f"only a counter-offer has terms (got {answer.answer})")
            )
        if errors:
            raise _refused("InvalidAnswer", errors)
        event = SupplierAnswer(
            version=answer.draft_version,
            answer=answer.answer,
            on=answer.answered_on,
            recorded_by=answer.recorded_by,
            content_hash=answer.content_hash,
            confirmed_by=answer.confirmed_by,
            reference=answer.reference,
            note=answer.note,
        )
        self._version_refusal("InvalidAnswer", "record_answer", event)
        counter: ProposedTerms | None = None
        if countered and answer.counter_terms is not None:
            if self._termination is not None:
                raise _conflict("termination is pending; a counter-offer makes no new version")
            base = next(d for d in self._drafts if d.version == answer.draft_version)
            counter = self._edited_terms("InvalidAnswer", base, answer.counter_terms)
        return event, counter

    @workflow.update
    async def record_answer(self, answer: AnswerRecord) -> RenewalStatus:
        """The supplier's answer to the presented version: accepted (the renewal is agreed on
        its content hash), a counter-offer (its terms become the next version, for legal), or
        declined (back to the recommendation)."""
        async with self._lock:
            await self._prove(
                action="record_answer",
                claimed=answer.recorded_by,
                request=answer,
                assertion=answer.assertion,
                draft_version=answer.draft_version,
                content_hash=answer.content_hash,
            )
            event, counter = self._check_answer(answer)
            self._version_events.append(event)
            v = answer.draft_version
            await self._event(
                "supplier_answered",
                key=f"answer:{v}",
                detail=event.model_dump(mode="json"),
                stage=RenewalStage.AGREED
                if answer.answer is SupplierAnswerKind.ACCEPTED and self._lapsed_on is None
                else None,
            )
            if answer.answer is SupplierAnswerKind.ACCEPTED:
                if self._lapsed_on is None:
                    self._set_stage(RenewalStage.AGREED)
                if self._states[MilestoneKind.FINAL_TERMS] in _DONE and self._lapsed_on is None:
                    await self._issue_final_terms()
            elif counter is not None:
                base = next(d for d in self._drafts if d.version == v)
                await self._new_draft(
                    requested_by=answer.recorded_by,
                    answers_comment=answer.note.strip() or None,
                    kind=base.kind,
                    terms=counter,
                    counter_offer=True,
                )
                if self._lapsed_on is not None:
                    self._set_stage(RenewalStage.LAPSED)
            else:
                card = self._scorecard
                recommendation = card.recommendation.value if card else "renegotiate"
                note = answer.note.strip()
                await self._escalate(
                    f"declined:{v}",
                    "esc.declined.note" if note else "esc.declined",
                    stage=RenewalStage.LAPSED if self._lapsed_on else RenewalStage.ESCALATED,
                    version=v,
                    recommendation=enum_word(recommendation),
                    **({"note": note} if note else {}),
                )
            return self.status()

    @record_answer.validator
    def _validate_answer(self, answer: AnswerRecord) -> None:
        self._check_answer(answer)

    def _check_hearing(self, hearing: HearingRecord) -> None:
        self._check_negotiating(while_lapsed=False)
        if hearing.held_on > workflow.now().date():
            raise _refused(
                "InvalidHearing",
                [FieldError("held_on", f"{hearing.held_on.isoformat()} is in the future")],
            )

    @workflow.update
    async def record_hearing(self, hearing: HearingRecord) -> RenewalStatus:
        """ヒアリング: what the supplier said it needs and asks for, recorded with the renewal."""
        async with self._lock:
            await self._prove(
                action="record_hearing",
                claimed=hearing.recorded_by,
                request=hearing,
                assertion=hearing.assertion,
            )
            self._check_hearing(hearing)
            record = Hearing(
                held_on=hearing.held_on,
                recorded_by=hearing.recorded_by,
                needs=hearing.needs,
                wants_to_continue=hearing.wants_to_continue,
            )
            self._hearings.append(record)
            await self._event(
                "supplier_hearing",
                key=f"hearing:{len(self._hearings)}",
                detail=record.model_dump(mode="json"),
            )
            return self.status()

    @record_hearing.validator
    def _validate_hearing(self, hearing: HearingRecord) -> None:
        self._check_hearing(hearing)

    def _watch_answer(self, version: int) -> None:
        if version not in self._answer_watches:
            self._answer_watches.add(version)
            self._reminders.append(asyncio.create_task(self._await_answer(version)))

    async def _await_answer(self, version: int) -> None:
        """After the final-terms milestone, a presented version the supplier has not answered
        within N business days escalates (again, after the milestone's own escalation)."""
        assert self._contract is not None
        n = self._input.policy.review_reminder_business_days
        deadlines = await act.review_deadlines(
            ReviewDeadlinesRequest(
                contract_id=self._contract.id, from_date=workflow.now().date(), business_days=n
            )
        )

        def settled() -> bool:
            status = self._state().status(version)
            return (
                status is None
                or status.answer is not None
                or status.presented_on is None
                or status.superseded_by is not None
                or self._expiry_started
            )

        try:
            await workflow.wait_condition(
                settled,
                timeout=max(deadlines.remind_at - workflow.now(), timedelta(minutes=1)),
                timeout_summary=f"supplier's answer to v{version}",
            )
            return
        except TimeoutError:
            pass
        async with self._lock:
            if not settled():
                await self._escalate(
                    f"no-answer:{version}",
                    "esc.no_answer",
                    version=version,
                    days=n,
                    end_date=self._contract.end_date,
                )

    async def _final_terms_negotiated(self) -> None:
        """最終条件の提示・合意: agreed, or escalated with what is missing."""
        current = self._drafts[-1] if self._drafts else None
        if current is not None and current.kind not in _TERM_KINDS:
            if self._approved is None:  # a notice or a transition plan not yet approved
                await self._escalate(
                    "final_terms",
                    "esc.final_terms.not_approved",
                    version=current.version,
                    kind=enum_word(current.kind.value),
                )
            return
        state = self._state()
        gap = final_terms_gap(state)
        if gap is None:
            await self._issue_final_terms()
            return
        if gap is FinalTermsGap.NO_ANSWER:
            presented = next(
                v for v in state.versions if v.presented_on and v.answer is None and v.approved_hash
            )
            await self._escalate(
                "final_terms",
                "esc.final_terms.no_answer",
                version=presented.version,
                presented_on=presented.presented_on or "?",
            )
            self._watch_answer(presented.version)
            return
        if gap is FinalTermsGap.DECLINED:
            await self._escalate("final_terms", "esc.final_terms.declined")
            return
        await self._escalate(
            "final_terms",
            "esc.final_terms.none_presented",
            versions=len(self._drafts),
            decisions=len(self._decisions),
        )

    def _withdrawals_for(
        self, request: AmendmentRequest
    ) -> tuple[tuple[ApprovalWithdrawn, Reason], ...]:
        """The approvals an amendment withdraws; one contradicting what the supplier accepted
        is refused (a new agreement is a new version, not an amendment)."""
        if not self._negotiation:
            return ()
        a = request.amendment
        try:
            return amendment_withdrawals(
                self._version_events,
                self._term_versions(),
                on=workflow.now().date(),
                amended_by=a.amended_by,
                note=a.reason,
                end_date=a.end_date,
                notice_period_days=a.notice_period_days,
            )
        except InvalidInput as exc:
            raise ApplicationError(
                "; ".join(f"{e.field}: {e.reason}" for e in exc.errors),
                [{"field": e.field, "reason": e.reason} for e in exc.errors],
                type="InvalidAmendment",
                non_retryable=True,
            ) from None

    async def _withdraw(self, withdrawal: ApprovalWithdrawn, why: Reason, *, by: str) -> None:
        """The version goes back to legal's review with the amendment's note; its offer is
        void (presented again once re-approved)."""
        if event_refusal(self._version_events, withdrawal) is not None:
            return
        self._version_events.append(withdrawal)
        if self._approved is not None and self._approved.version == withdrawal.version:
            self._approved = None
        await self._event(
            "approval_withdrawn",
            key=f"approval-withdrawn:{withdrawal.version}:{len(self._version_events)}",
            detail={**withdrawal.model_dump(mode="json"), "requested_by": by},
            stage=RenewalStage.LEGAL_REVIEW,
        )
        self._set_stage(RenewalStage.LEGAL_REVIEW)
        await self._notify(
            NotificationKind.REVIEW_REQUESTED,
            f"review:{withdrawal.version}:withdrawn:{len(self._version_events)}",
            {
                "version": str(withdrawal.version),
                **reason_facts(why.code, why.values, key="withdrawn"),
                "withdrawn": withdrawal.reason,
                "due": self._review_due(DraftKind.RENEGOTIATION).isoformat(),
            },
        )
        draft = next((d for d in self._drafts if d.version == withdrawal.version), None)
        if draft is not None and self._calendar_plan:
            self._reminders.append(asyncio.create_task(self._remind(draft)))

    async def _record_agreed_outcome(self, request: OutcomeRequest) -> TermOutcome | None:
        """Put the agreed version into force; a stored text that no longer hashes to what was
        approved and accepted is refused and escalated, and the term ends as if nothing was
        agreed (None: the caller decides again)."""
        try:
            return await act.record_outcome(request)
        except ActivityError as err:
            cause = err.cause
            if not isinstance(cause, ApplicationError) or cause.type not in (
                "Conflict",
                "NotFound",
            ):
                raise
            version = request.approved_version or 0
            self._refused_agreements.add(version)
            # Why, in the reader's words, from the failure's type (domain/reason_table.py):
            # Conflict, the stored version changed after its approval; NotFound, it is not
            # stored. The activity's message (English, technical) goes along as a value neither
            # sentence names: it stays in the escalation mail's request (reason_values, in the
            # workflow's history) for operators and never reaches a mail. Only the escalation's
            # arguments changed: histories replay as before.
            await self._escalate(
                f"agreed-version-refused:{version}",
                "esc.agreed_refused.changed"
                if cause.type == "Conflict"
                else "esc.agreed_refused.missing",
                version=version,
                message=cause.message,
            )
        if self._lapsed_on is None:
            await self._expiry_by_term_model()
        return None

    # ------------------------------------------------------------------ query

    @workflow.query
    def status(self) -> RenewalStatus:
        plan = self._plan
        milestones: tuple[MilestoneStatus, ...] = ()
        if plan is not None:
            milestones = tuple(
                MilestoneStatus(
                    kind=m.kind,
                    due=m.due,
                    state=self._states.get(m.kind, MilestoneState.PENDING),
                    moved_for_notice=m.moved_for_notice,
                    completed_at=self._completed_at.get(m.kind),
                )
                for m in plan.milestones
            )
        return RenewalStatus(
            contract_id=self._input.contract_id,
            term=self._input.term,
            stage=self._stage,
            end_date=plan.end_date if plan else None,
            notice_deadline=plan.notice_deadline if plan else None,
            send_by=plan.send_by if plan else None,
            milestones=milestones,
            scorecard=self._scorecard,
            drafts=tuple(self._drafts),
            decisions=tuple(self._decisions),
            escalations=tuple(self._escalations),
            outcome=self._outcome,
            dispatches=tuple(self._dispatches),
            lapsed_on=self._lapsed_on,
        )

    @workflow.query
    def negotiation(self) -> NegotiationView:
        current = next((d for d in reversed(self._drafts) if d.kind in _TERM_KINDS), None)
        return NegotiationView(
            active=self._negotiation,
            plan=self._negotiation_plan,
            events=tuple(self._version_events),
            state=self._state(),
            awaiting_revision=self._awaiting_revision,
            breaches=self._breaches(current) if current is not None else (),
            hearings=tuple(self._hearings),
        )
