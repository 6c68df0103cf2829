"""The Temporal activities of a contract renewal.

Synchronous on purpose: they run in the worker's thread pool with ordinary SQLAlchemy sessions.
Each one is a single transaction and idempotent, so Temporal's retries (after a crash between
the commit and the completion report, say) never write a second row.
"""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session
from temporalio import activity

from activities.drafting import DraftInputs, EarlierVersion, make_environment, render_draft
from activities.failures import activity_failures
from domain.negotiation import plan_negotiation
from domain.outcome import catch_up, new_end_date
from models.activity_names import ActivityName
from models.contract import ContractRead, ContractStatus
from models.drafts import ProposedTerms
from models.negotiation import NegotiationPlan, NegotiationPlanRequest, VersionToMake
from models.renewal import (
    AmendmentToApply,
    DraftKind,
    DraftRef,
    DraftRequest,
    OpenRenewal,
    OutcomeKind,
    OutcomeRequest,
    RenewalEvent,
    RenewalStage,
    ReviewToRecord,
    Scorecard,
    ScoreRequest,
    TermOutcome,
)
from models.scorecard import ScoringConfig
from models.tables import RenewalRow, SupplierRow
from models.term_end import CatchUpRequest, CatchUpResult
from store import contracts as contract_store
from store import renewals as renewal_store
from store.assessment import assess_contract
from store.db import SessionFactory, transaction
from workflows.ids import renewal_workflow_id


def _workflow_time() -> datetime:
    # The time the workflow scheduled us, not the wall clock: keeps stored timestamps consistent
    # with the (possibly time-skipped) workflow clock.
    info = activity.info()
    return info.current_attempt_scheduled_time


class RenewalActivities:
    def __init__(
        self,
        session_factory: SessionFactory,
        *,
        template_dir: Path | None = None,
        scoring: ScoringConfig | None = None,
        interim_extension_months: int = 3,
    ) -> None:
        self._sessions = session_factory
        self._templates = make_environment(template_dir)
        self._scoring = scoring or ScoringConfig()
        # Used only when a draft request does not say (requests from older workflow code).
        self._interim_extension_months = interim_extension_months

    @contextmanager
    def _tx(self) -> Iterator[Session]:
        with activity_failures(), transaction(self._sessions) as session:
            yield session

    @activity.defn(name=ActivityName.LOAD_CONTRACT)
    def load_contract(self, contract_id: str) -> ContractRead:
        with self._tx() as session:
            return contract_store.get_contract(session, contract_id=contract_id)

    @activity.defn(name=ActivityName.OPEN_RENEWAL)
    def open_renewal(self, request: OpenRenewal) -> None:
        with self._tx() as session:
            renewal_store.open_renewal(session, request=request)

    @activity.defn(name=ActivityName.SCORE_RENEWAL)
    def score_renewal(self, request: ScoreRequest) -> Scorecard:
        with self._tx() as session:
            renewal = renewal_store.get_renewal(
                session, contract_id=request.contract_id, term=request.term
            )
            # A retry after a lost completion finds the stored card: the scorecard a renewal
            # was decided on never changes, and a million-row window is not scanned twice.
            stored = renewal_store.find_scorecard(session, renewal=renewal)
            if stored is not None:
                return stored
            card = assess_contract(
                session,
                contract_id=request.contract_id,
                term=request.term,
                as_of=request.as_of,
                cfg=self._scoring,
            )
            return renewal_store.save_scorecard(session, renewal=renewal, scorecard=card)

    @activity.defn(name=ActivityName.RENDER_DRAFT)
    def render_draft(self, request: DraftRequest) -> DraftRef:
        return self._render(request)

    @activity.defn(name=ActivityName.MAKE_VERSION)
    def make_version(self, request: VersionToMake) -> DraftRef:
        """A version made by a person: rendered from the terms the workflow checked, in the
        contract's language, its maker the person (idempotent by kind and version)."""
        return self._render(
            DraftRequest(
                contract_id=request.contract_id,
                term=request.term,
                workflow_id=request.workflow_id,
                kind=request.kind,
                version=request.version,
                requested_by=request.made_by,
                answers_comment=request.answers_comment,
                scorecard=request.scorecard,
                notice_deadline=request.notice_deadline,
                send_by=request.send_by,
            ),
            terms=request.terms,
            answers_by=request.answers_by,
            answers_counter_offer=request.answers_counter_offer,
        )

    @activity.defn(name=ActivityName.PLAN_NEGOTIATION)
    def plan_negotiation(self, request: NegotiationPlanRequest) -> NegotiationPlan:
        """交渉準備: the targets and limits, stored with the renewal (as its event) the first
        time; a retry returns the stored plan."""
        with self._tx() as session:
            renewal = renewal_store.get_renewal(
                session, contract_id=request.contract_id, term=request.term
            )
            key = f"{request.workflow_id}:negotiation-plan"
            if (stored := renewal_store.find_event(session, key=key)) is not None:
                return NegotiationPlan.model_validate(stored.detail)
            contract = contract_store.get_contract(session, contract_id=request.contract_id)
            card = self._scorecard(session, request, renewal)
            plan = plan_negotiation(contract, card, self._scoring)
            renewal_store.save_event(
                session,
                renewal=renewal,
                event=RenewalEvent(
                    contract_id=request.contract_id,
                    term=request.term,
                    workflow_id=request.workflow_id,
                    kind="negotiation_plan",
                    key=key,
                    detail=plan.model_dump(mode="json"),
                ),
            )
            return plan

    @staticmethod
    def _scorecard(
        session: Session, request: DraftRequest | NegotiationPlanRequest, renewal: RenewalRow
    ) -> Scorecard | None:
        """The card a draft or a plan is made from: the request's (workflows before requests
        carried ids only), else the one score_renewal stored with the renewal, which is the
        card the workflow holds (none stored: the term was never scored)."""
        if request.scorecard is not None:
            return request.scorecard
        return renewal_store.find_scorecard(session, renewal=renewal)

    def _render(
        self,
        request: DraftRequest,
        *,
        terms: ProposedTerms | None = None,
        answers_by: str | None = None,
        answers_counter_offer: bool = False,
    ) -> DraftRef:
        with self._tx() as session:
            renewal = renewal_store.get_renewal(
                session, contract_id=request.contract_id, term=request.term
            )
            existing = renewal_store.find_draft(
                session, renewal=renewal, kind=request.kind, version=request.version
            )
            if existing is not None:
                return renewal_store.draft_ref(existing)
            contract = contract_store.get_contract(session, contract_id=request.contract_id)
            supplier = session.get(SupplierRow, contract.supplier_id)
            earlier = renewal_store.earlier_drafts(
                session, renewal=renewal, kind=request.kind, before=request.version
            )
            created_at = _workflow_time()
            rendered = render_draft(
                self._templates,
                DraftInputs(
                    kind=request.kind,
                    contract=contract,
                    supplier_name=supplier.name if supplier else contract.supplier_id,
                    version=request.version,
                    prepared_on=created_at.date(),
                    requested_by=request.requested_by,
                    scorecard=self._scorecard(session, request, renewal),
                    answers_comment=request.answers_comment,
                    earlier=tuple(
                        EarlierVersion(
                            version=row.version,
                            requested_by=row.requested_by,
                            answers_comment=row.answers_comment,
                            content_hash=row.content_hash,
                            proposed_terms=row.proposed_terms,
                            created_at=row.created_at,
                        )
                        for row in earlier
                    ),
                    extension_months=request.extension_months or self._interim_extension_months,
                    cfg=self._scoring,
                    notice_deadline=request.notice_deadline,
                    send_by=request.send_by,
                    terms=terms,
                    answers_by=answers_by,
                    answers_counter_offer=answers_counter_offer,
                ),
            )
            return renewal_store.save_draft(
                session,
                renewal=renewal,
                kind=request.kind,
                version=request.version,
                language=contract.language,
                body=rendered.body,
                body_html=rendered.body_html,
                proposed_terms=rendered.proposed_terms,
                content_hash=rendered.content_hash,
                requested_by=request.requested_by,
                answers_comment=request.answers_comment,
                created_at=created_at,
            )

    @activity.defn(name=ActivityName.RECORD_REVIEW)
    def record_review(self, request: ReviewToRecord) -> None:
        with self._tx() as session:
            renewal = renewal_store.get_renewal(
                session, contract_id=request.contract_id, term=request.term
            )
            renewal_store.save_review(session, renewal=renewal, record=request.record)

    @activity.defn(name=ActivityName.RECORD_EVENT)
    def record_event(self, event: RenewalEvent) -> None:
        with self._tx() as session:
            renewal = renewal_store.get_renewal(
                session, contract_id=event.contract_id, term=event.term
            )
            renewal_store.save_event(session, renewal=renewal, event=event)

    @activity.defn(name=ActivityName.APPLY_AMENDMENT)
    def apply_amendment(self, request: AmendmentToApply) -> ContractRead:
        with self._tx() as session:
            renewal = renewal_store.get_renewal(
                session, contract_id=request.contract_id, term=request.term
            )
            event = RenewalEvent(
                contract_id=request.contract_id,
                term=request.term,
                workflow_id=request.workflow_id,
                kind="amendment",
                key=request.key,
                detail=request.amendment.model_dump(mode="json"),
            )
            if renewal_store.save_event(session, renewal=renewal, event=event):
                contract = contract_store.amend_contract(
                    session, contract_id=request.contract_id, amendment=request.amendment
                )
                if request.amendment.end_date is not None:
                    renewal.term_end_date = request.amendment.end_date
                return contract
            return contract_store.get_contract(session, contract_id=request.contract_id)

    @activity.defn(name=ActivityName.RECORD_OUTCOME)
    def record_outcome(self, request: OutcomeRequest) -> TermOutcome:
        with self._tx() as session:
            renewal = renewal_store.get_renewal(
                session, contract_id=request.contract_id, term=request.term
            )
            key = f"{request.workflow_id}:outcome"
            if (stored := renewal_store.find_event(session, key=key)) is not None:
                return TermOutcome.model_validate(stored.detail)
            row = contract_store.get_contract_row(session, contract_id=request.contract_id)
            # The version agreed is what runs: a renewal runs its next term on that version's
            # terms, its length included; an interim extension for the months it states.
            agreed = None
            interim = request.kind is OutcomeKind.INTERIM_EXTENSION
            if (
                request.kind in (OutcomeKind.RENEWED, OutcomeKind.INTERIM_EXTENSION)
                and request.approved_version is not None
                and request.approved_content_hash is not None
            ):
                agreed = renewal_store.approved_terms(
                    session,
                    renewal=renewal,
                    version=request.approved_version,
                    content_hash=request.approved_content_hash,
                    kind=DraftKind.INTERIM_EXTENSION if interim else DraftKind.RENEGOTIATION,
                )
            months = (
                agreed.term_months
                if agreed is not None
                else request.term_months or row.renewal_term_months
            )
            extension = (
                agreed.term_months
                if agreed is not None and interim
                else request.extension_months or self._interim_extension_months
            )
            new_end = new_end_date(
                request.kind,
                end_date=row.end_date,
                term_months=months,
                extension_months=extension,
            )
            if row.current_term == request.term:
                if new_end is not None:
                    row.end_date = new_end
                    row.current_term = request.term + 1
                    # renewals_used counts the renewals the contract's own clause made: a
                    # roll-over (or, from older workflow code, a renewal on no approved
                    # version), never a renewal on newly agreed terms.
                    by_its_terms = request.kind is OutcomeKind.ROLLED_OVER or (
                        request.kind is OutcomeKind.RENEWED and request.approved_version is None
                    )
                    if by_its_terms and row.term_model == "auto_renewing":
                        row.renewals_used += 1
                    if agreed is not None:
                        # An interim extension bridges: the contract's usual term stays.
                        contract_store.apply_agreed_terms(row, agreed, term_length=not interim)
                else:
                    row.status = ContractStatus.TERMINATED.value
            outcome = TermOutcome(
                contract_id=request.contract_id,
                term=request.term,
                kind=request.kind,
                decided_at=request.decided_at,
                new_end_date=new_end,
                approved_version=request.approved_version,
                approved_content_hash=request.approved_content_hash,
                reason=request.reason,
            )
            renewal.outcome = request.kind.value
            renewal_store.save_event(
                session,
                renewal=renewal,
                event=RenewalEvent(
                    contract_id=request.contract_id,
                    term=request.term,
                    workflow_id=request.workflow_id,
                    kind="outcome",
                    key=key,
                    detail=outcome.model_dump(mode="json"),
                    stage=RenewalStage.COMPLETED,
                ),
            )
            return outcome

    @activity.defn(name=ActivityName.CATCH_UP_TERMS)
    def catch_up_terms(self, request: CatchUpRequest) -> CatchUpResult:
        with self._tx() as session:
            contract = contract_store.get_contract(session, contract_id=request.contract_id)
            up = catch_up(
                end_date=contract.end_date,
                term_model=request.term_model,
                term_months=request.term_months,
                renewals_left=request.renewals_left,
                today=request.today,
            )
            return renewal_store.record_catch_up(
                session,
                request=request,
                steps=up.rolled_over,
                workflow_ids=[
                    renewal_workflow_id(request.contract_id, request.term + i)
                    for i in range(len(up.rolled_over))
                ],
                present_end=up.present_end,
                lapsed_on=up.lapsed_on,
            )

    def all(self) -> list[Callable[..., Any]]:
        return [
            self.load_contract,
            self.open_renewal,
            self.score_renewal,
            self.render_draft,
            self.make_version,
            self.plan_negotiation,
            self.record_review,
            self.record_event,
            self.apply_amendment,
            self.record_outcome,
            self.catch_up_terms,
        ]
