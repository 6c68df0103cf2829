"""ContractRenewalWorkflow: one contract term, from its plan to its outcome.

Milestones wait on durable timers; people reach the workflow through updates (legal review,
amendment, termination, redraft) and read it through the ``status`` query. Handlers that change
state take one lock, so two decisions arriving together are applied one after the other and the
second sees the first (see temporalio's safe_message_handlers sample).
"""

import asyncio
from datetime import UTC, datetime, time, timedelta

from temporalio import workflow
from temporalio.common import SearchAttributePair, TypedSearchAttributes
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from domain.milestones import plan_milestones
    from domain.review import approval_refusal
    from models.contract import ContractRead, ContractStatus, DefaultAction, TermModel
    from models.milestones import MilestoneKind, MilestonePlan, MilestoneState
    from models.notifications import NotificationKind, NotificationRequest
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

from workflows import activity_calls as act
from workflows import search_attributes as sa
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

    # ------------------------------------------------------------------ run

    @workflow.run
    async def run(self, input: RenewalInput) -> TermOutcome:
        self._calendar_plan = self._use_calendar_plan()
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
        assert self._plan is not None
        kinds = [m.kind for m in self._plan.milestones]
        for kind in kinds:
            self._states.setdefault(kind, MilestoneState.PENDING)
        if self._plan.expired_at_planning:
            for kind in kinds:
                if kind is not MilestoneKind.EXPIRY:
                    self._states[kind] = MilestoneState.SKIPPED

        for kind in kinds:
            if self._states[kind] is not MilestoneState.PENDING:
                continue
            await self._wait_for(kind)
            if kind is not MilestoneKind.EXPIRY and self._termination is not None:
                self._states[kind] = MilestoneState.SKIPPED
                continue
            async with self._lock:
                await self._run_milestone(kind)

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
            workflow.upsert_search_attributes([sa.STAGE.value_set(stage.value)])

    def _search_attributes_on(self) -> bool:
        # Only renewals started with our attributes (registered on the namespace) maintain them.
        return workflow.info().typed_search_attributes.get(sa.CONTRACT_ID) is not None

    def _publish_search_attributes(self) -> None:
        if not self._search_attributes_on() or self._contract is None:
            return
        c = self._contract
        workflow.upsert_search_attributes(
            [
                sa.SUPPLIER.value_set(c.supplier_id),
                sa.OWNER.value_set(c.owner),
                sa.EXPIRY.value_set(datetime.combine(c.end_date, time(0), tzinfo=UTC)),
                sa.STAGE.value_set(self._stage.value),
            ]
        )

    def _use_calendar_plan(self) -> bool:
        return workflow.patched(PATCH_CALENDAR_PLAN)

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
                    lambda: (
                        self._replanned
                        or (kind is not MilestoneKind.EXPIRY and self._termination is not None)
                    ),
                    timeout=delay,
                    timeout_summary=f"until {kind.value}",
                )
            except TimeoutError:
                return
            if kind is not MilestoneKind.EXPIRY and self._termination is not None:
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
        await self._new_draft(requested_by=self._input.requested_by, answers_comment=None)

    async def _final_terms(self) -> None:
        if self._approved is not None:
            await self._issue_final_terms()
            return
        await self._escalate(
            "final_terms",
            "no approved draft at the final-terms milestone "
            f"({len(self._drafts)} draft version(s), {len(self._decisions)} decision(s) so far)",
        )

    async def _expiry(self) -> None:
        assert self._contract is not None
        self._expiry_started = True
        if self._termination is not None:
            await self._finish(OutcomeKind.TERMINATED, reason=self._termination.reason)
            return
        if self._approved is not None:
            if self._stage is not RenewalStage.FINAL_TERMS_ISSUED:
                await self._issue_final_terms()
            await self._finish(
                OutcomeKind.RENEWED,
                reason=f"draft version {self._approved.version} approved",
            )
            return
        term_plan = self._term_plan
        if term_plan is not None and term_plan.term_model is TermModel.EVERGREEN:
            await self._finish(
                OutcomeKind.RENEWED, reason="evergreen contract: the next review period begins"
            )
            return
        if (
            term_plan is not None
            and term_plan.term_model is TermModel.AUTO_RENEWING
            and term_plan.default_action is DefaultAction.RENEW_AS_IS
        ):
            await self._finish(
                OutcomeKind.RENEWED,
                reason="no decision was made; renewed as is, the default chosen for this contract",
            )
            return
        await act.render_draft(
            DraftRequest(
                contract_id=self._contract.id,
                term=self._input.term,
                workflow_id=self._wf_id,
                kind=DraftKind.INTERIM_EXTENSION,
                version=1,
                requested_by="system",
                scorecard=self._scorecard,
                extension_months=self._input.policy.interim_extension_months,
            )
        )
        await self._escalate(
            "expiry",
            "the term expired without approved renewal terms; an interim extension of "
            f"{self._input.policy.interim_extension_months} month(s) was drafted",
        )
        await self._finish(OutcomeKind.INTERIM_EXTENSION, reason="no approved terms at expiry")

    async def _send_by(self) -> None:
        """The last day to post a notice. Undecided auto-renewing contracts must not roll over
        silently: draft a non-renewal notice for legal and escalate, unless the organisation
        explicitly chose to renew as is."""
        assert self._contract is not None and self._plan is not None
        assert self._term_plan is not None
        if self._approved is not None or self._termination is not None:
            return
        send_by = self._plan.send_by.isoformat() if self._plan.send_by else "?"
        if self._term_plan.term_model is TermModel.EVERGREEN:
            # Continuing is what an evergreen contract does; the owner only needs to know that
            # ending it at this review is no longer possible after today.
            await self._escalate(
                "send_by",
                f"the send-by date {send_by} arrived with no decision: the contract continues "
                "after its review unless a termination notice is posted today",
            )
            return
        if self._term_plan.default_action is DefaultAction.RENEW_AS_IS:
            reason = (
                f"the send-by date {send_by} passed with no approved decision; by the chosen "
                "default the contract renews as is at its end date"
            )
            await self._event("default_renew_as_is", key="send_by", detail={"reason": reason})
            await self._notify(NotificationKind.ESCALATION, "send_by", {"reason": reason})
            return
        await act.render_draft(
            DraftRequest(
                contract_id=self._contract.id,
                term=self._input.term,
                workflow_id=self._wf_id,
                kind=DraftKind.NON_RENEWAL_NOTICE,
                version=1,
                requested_by="system",
                scorecard=self._scorecard,
            )
        )
        self._non_renewal_drafted = True
        await self._escalate(
            "send_by",
            f"the send-by date {send_by} arrived with no approved decision: a non-renewal notice "
            "was drafted for legal so that the contract does not renew silently",
        )

    async def _finish(self, kind: OutcomeKind, *, reason: str) -> None:
        assert self._contract is not None
        outcome = await act.record_outcome(
            OutcomeRequest(
                contract_id=self._contract.id,
                term=self._input.term,
                workflow_id=self._wf_id,
                kind=kind,
                decided_at=workflow.now(),
                term_months=self._term_plan.next_term_months
                if self._term_plan
                else self._contract.renewal_term_months,
                extension_months=self._input.policy.interim_extension_months,
                approved_version=self._approved.version if self._approved else None,
                approved_content_hash=self._approved.content_hash if self._approved else None,
                reason=reason,
            )
        )
        if kind is not OutcomeKind.TERMINATED:
            next_id = renewal_workflow_id(self._contract.id, self._input.term + 1)
            # A new run per term keeps each history short and each term addressable by id;
            # ABANDON lets the next term outlive this one.
            await workflow.start_child_workflow(
                ContractRenewalWorkflow.run,
                RenewalInput(
                    contract_id=self._contract.id,
                    term=self._input.term + 1,
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
            outcome = outcome.model_copy(update={"next_workflow_id": next_id})
        self._outcome = outcome
        self._set_stage(RenewalStage.COMPLETED)
        await self._notify(
            NotificationKind.OUTCOME,
            "outcome",
            {
                "outcome": outcome.kind.value,
                "new_end_date": outcome.new_end_date.isoformat() if outcome.new_end_date else "",
                "reason": outcome.reason,
            },
        )

    async def _issue_final_terms(self) -> None:
        assert self._approved is not None
        await self._event(
            "final_terms_issued",
            key="final_terms",
            detail={"version": self._approved.version, "content_hash": self._approved.content_hash},
            stage=RenewalStage.FINAL_TERMS_ISSUED,
        )
        self._set_stage(RenewalStage.FINAL_TERMS_ISSUED)

    async def _new_draft(self, *, requested_by: str, answers_comment: str | None) -> DraftRef:
        assert self._contract is not None
        draft = await act.render_draft(
            DraftRequest(
                contract_id=self._contract.id,
                term=self._input.term,
                workflow_id=self._wf_id,
                kind=DraftKind.RENEGOTIATION,
                version=len(self._drafts) + 1,
                requested_by=requested_by,
                answers_comment=answers_comment,
                scorecard=self._scorecard,
            )
        )
        self._drafts.append(draft)
        self._set_stage(RenewalStage.LEGAL_REVIEW)
        assert self._plan is not None
        await self._notify(
            NotificationKind.REVIEW_REQUESTED,
            f"review:{draft.version}",
            {
                "version": str(draft.version),
                "answers": answers_comment or "",
                "due": self._plan.get(MilestoneKind.FINAL_TERMS).due.isoformat(),
            },
        )
        if self._calendar_plan:
            self._reminders.append(asyncio.create_task(self._remind(draft)))
        return draft

    def _review_open(self, draft: DraftRef) -> bool:
        return (
            self._drafts[-1].version == draft.version
            and self._approved is None
            and draft.version not in self._rejected_versions
            and self._termination is None
            and not self._expiry_started
        )

    async def _remind(self, draft: DraftRef) -> None:
        """Durable review reminders: after N business days a reminder to the reviewers, after
        N more an escalation one level up. Ends as soon as the draft is decided or replaced."""
        assert self._contract is not None and self._plan is not None
        n = self._input.policy.review_reminder_business_days
        deadlines = await act.review_deadlines(
            ReviewDeadlinesRequest(
                contract_id=self._contract.id, from_date=workflow.now().date(), business_days=n
            )
        )
        for step, at in (("reminder", deadlines.remind_at), ("escalation", deadlines.escalate_at)):
            delay = at - workflow.now()
            if delay > timedelta(0):
                try:
                    await workflow.wait_condition(
                        lambda: not self._review_open(draft),
                        timeout=delay,
                        timeout_summary=f"review {step} for draft {draft.version}",
                    )
                    return
                except TimeoutError:
                    pass
            async with self._lock:
                if not self._review_open(draft):
                    return
                if step == "reminder":
                    await self._notify(
                        NotificationKind.REVIEW_REMINDER,
                        f"reminder:{draft.version}",
                        {
                            "version": str(draft.version),
                            "business_days": str(n),
                            "escalate_on": deadlines.escalate_at.date().isoformat(),
                            "send_by": self._plan.send_by.isoformat() if self._plan.send_by else "",
                        },
                    )
                else:
                    await self._escalate(
                        f"review-overdue:{draft.version}",
                        f"draft version {draft.version} has waited {2 * n} business days for a "
                        "legal decision",
                    )

    async def _escalate(self, key: str, reason: str) -> None:
        self._escalations.append(reason)
        await self._event(
            "escalation",
            key=f"escalation:{key}",
            detail={"reason": reason},
            stage=RenewalStage.ESCALATED,
        )
        self._set_stage(RenewalStage.ESCALATED)
        await self._notify(NotificationKind.ESCALATION, f"escalation:{key}", {"reason": reason})

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

    # ------------------------------------------------------------------ legal review

    def _check_review(self, submission: ReviewSubmission, *, conflict: bool) -> DraftRef:
        if self._outcome is not None or self._expiry_started:
            raise _review_error(
                "the renewal has reached expiry; reviews are closed", conflict=conflict
            )
        if self._termination is not None:
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
        refusal = approval_refusal(
            reviewer=submission.reviewer,
            version_maker=current.requested_by,
            renewal_requester=self._input.requested_by,
        )
        if submission.decision is ReviewDecisionKind.APPROVE and refusal is not None:
            raise _review_error(f"reviewer: {refusal}")
        if submission.decision is not ReviewDecisionKind.APPROVE and not submission.comment.strip():
            raise _review_error(
                f"comment: required to {submission.decision.value.replace('_', ' ')}"
            )
        return current

    @workflow.update
    async def submit_review(self, submission: ReviewSubmission) -> ReviewResult:
        async with self._lock:
            # Re-checked under the lock: a decision that raced this one may have closed the draft.
            draft = self._check_review(submission, conflict=True)
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
                self._set_stage(RenewalStage.APPROVED)
                await self._event(
                    "approved",
                    key=f"approved:{draft.version}",
                    detail={
                        "version": draft.version,
                        "content_hash": draft.content_hash,
                        "reviewer": submission.reviewer,
                    },
                    stage=RenewalStage.APPROVED,
                )
                if self._states[MilestoneKind.FINAL_TERMS] in _DONE:
                    # Approved after the final-terms milestone escalated: the offer goes out now.
                    await self._issue_final_terms()
            elif submission.decision is ReviewDecisionKind.REJECT:
                self._rejected_versions.add(draft.version)
                await self._escalate(
                    f"rejected:{draft.version}",
                    f"draft version {draft.version} rejected by {submission.reviewer}: "
                    f"{submission.comment}",
                )
            else:
                new_draft = await self._new_draft(
                    requested_by=submission.reviewer, answers_comment=submission.comment
                )
            return ReviewResult(record=record, stage=self._stage, new_draft=new_draft)

    @submit_review.validator
    def _validate_review(self, submission: ReviewSubmission) -> None:
        self._check_review(submission, conflict=False)

    @workflow.update
    async def request_redraft(self, request: RedraftRequest) -> DraftRef:
        """Procurement asks for a fresh draft after a rejection (``reason`` says what to change)."""
        async with self._lock:
            self._check_redraft()
            return await self._new_draft(
                requested_by=request.requested_by, answers_comment=request.reason
            )

    @request_redraft.validator
    def _validate_redraft(self, request: RedraftRequest) -> None:
        self._check_redraft()

    def _check_redraft(self) -> None:
        if self._outcome is not None or self._expiry_started or self._termination is not None:
            raise _review_error("the renewal is closing; no new draft can be made")
        if not self._drafts or self._drafts[-1].version not in self._rejected_versions:
            raise _review_error("a new draft is made only after the current one was rejected")

    # ------------------------------------------------------------------ amendment, termination

    @workflow.update
    async def amend(self, request: AmendmentRequest) -> RenewalStatus:
        async with self._lock:
            self._check_open()
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
            self._replanned = True
            return self.status()

    @amend.validator
    def _validate_amend(self, request: AmendmentRequest) -> None:
        self._check_open()
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
            self._check_open()
            self._termination = request
            await self._event(
                "termination_requested",
                key="termination",
                detail={"requested_by": request.requested_by, "reason": request.reason},
                stage=RenewalStage.TERMINATION_PENDING,
            )
            self._set_stage(RenewalStage.TERMINATION_PENDING)
            return self.status()

    @terminate.validator
    def _validate_terminate(self, request: TerminationRequest) -> None:
        self._check_open()
        if self._termination is not None:
            raise ApplicationError(
                "termination was already requested", type="Conflict", non_retryable=True
            )

    def _check_open(self) -> None:
        if self._contract is None:
            raise ApplicationError("the renewal is still starting; try again", type="NotReady")
        if self._outcome is not None or self._expiry_started:
            raise ApplicationError(
                "the renewal has reached expiry", type="RenewalClosed", non_retryable=True
            )

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
                    state=self._states[m.kind],
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
        )
