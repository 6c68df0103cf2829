"""The legal review queue: every version awaiting a decision, whatever its kind (renegotiation
proposal, non-renewal notice, transition plan, interim extension), with the date it is due by
as the stored plan of its term says (renewal-semantics.md §1: read, never recomputed).

Escalation is a flag, not a state that hides work (§3): a renewal escalated, lapsed or with a
termination pending keeps its undecided version here, marked ``escalated`` when any escalation
was recorded on it, for as long as the workflow would accept a decision on it.
"""

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql.elements import ColumnElement

from domain.negotiation import limit_breaches
from domain.term_plan import CalendarSettings
from models.drafts import ProposedTerms
from models.milestones import MilestoneKind, RenewalPolicy
from models.negotiation import NegotiationPlan
from models.plans import StoredPlan
from models.renewal import DraftKind, RenewalStage
from models.tables import (
    ContractRow,
    DraftRow,
    RenewalEventRow,
    RenewalRow,
    ReviewDecisionRow,
    SupplierRow,
)
from store import plans
from store.contracts import to_read
from store.reads.plans import plans_for

__all__ = ["REVIEWABLE_STAGES", "QueueItem", "decidable", "due_of", "review_queue"]

PLAN_EVENT = "negotiation_plan"  # the event the workflow records with the plan (交渉準備)

# Stages in which the workflow still takes a decision on the newest version: in review, after
# an escalation (a flag, not a state that hides work), lapsed (the interim extension is in
# review) and with a termination pending (its non-renewal notice is in review).
REVIEWABLE_STAGES: tuple[str, ...] = (
    RenewalStage.LEGAL_REVIEW.value,
    RenewalStage.ESCALATED.value,
    RenewalStage.LAPSED.value,
    RenewalStage.TERMINATION_PENDING.value,
)


@dataclass(frozen=True, slots=True)
class QueueItem:
    contract_id: str
    term: int
    title: str
    supplier_name: str
    owner: str
    language: str  # the draft's (and the contract's) language
    kind: str  # renegotiation, non_renewal_notice, transition_plan, interim_extension
    version: int
    content_hash: str
    requested_by: str
    answers_comment: str | None
    drafted_at: datetime
    stage: str
    escalated: bool  # an escalation was recorded on this renewal; the version stays decidable
    due: date  # read from the term's stored plan (a preview only before the plan is stored)
    due_kind: str  # which date ``due`` is: final_terms, send_by or end_date
    days_left: int
    plan_preview: bool  # the due date comes from a preview: the term's plan is not stored yet
    # How many of a proposal's terms are outside the negotiation plan's limits (0 without a
    # plan, for other kinds, or for terms that are not a complete set).
    breaches: int = 0


def decidable(*, stage: str, outcome: str | None, kind: str, termination_requested: bool) -> bool:
    """Whether the workflow takes a decision on a renewal's newest undecided version: an open
    renewal in a reviewable stage; once termination is requested, only its notice."""
    if outcome is not None or stage not in REVIEWABLE_STAGES:
        return False
    return not termination_requested or kind == DraftKind.NON_RENEWAL_NOTICE.value


def due_of(plan: StoredPlan, kind: str) -> tuple[date, str]:
    """The date a version of ``kind`` is due by, from the term's stored plan, and which date
    it is: a notice by the send-by date; an interim extension by the end date (the term lapses
    without it); a proposal or a transition plan by the final terms."""
    if kind == DraftKind.NON_RENEWAL_NOTICE.value and plan.send_by is not None:
        return plan.send_by, MilestoneKind.SEND_BY.value
    if kind == DraftKind.INTERIM_EXTENSION.value:
        return plan.end_date, "end_date"
    final = plan.get(MilestoneKind.FINAL_TERMS)
    if final is None:
        return plan.end_date, "end_date"
    return final.due, MilestoneKind.FINAL_TERMS.value


def _has_event(kind: str) -> ColumnElement[bool]:
    return (
        select(RenewalEventRow.id)
        .where(RenewalEventRow.renewal_id == RenewalRow.id, RenewalEventRow.kind == kind)
        .exists()
    )


def review_queue(
    session: Session,
    *,
    today: date,
    policy: RenewalPolicy,
    cfg: CalendarSettings,
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[QueueItem], int]:
    """Versions awaiting a decision, oldest first: the newest version of each open renewal in a
    reviewable stage, of any kind, that no decision has been recorded on."""
    reviewable = _REVIEWABLE
    # The page's versions first, by id alone, the count riding along as a window; the contract
    # and its supplier (foreign keys: every renewal has its contract, every contract its
    # supplier) are joined for the page's rows only, so that the planner never joins the
    # suppliers to every version in review (on PostgreSQL a nested loop of ~0.7 s).
    page = session.execute(
        reviewable.add_columns(func.count().over())
        .order_by(DraftRow.created_at, DraftRow.id)
        .limit(limit)
        .offset(offset)
    ).all()
    ids = [draft_id for draft_id, _ in page]
    if page:
        total = int(page[0][1])
    elif offset:  # past the end: the count without the page
        total = session.scalar(select(func.count()).select_from(reviewable.subquery())) or 0
    else:
        total = 0
    if not ids:
        return [], total
    # The columns the queue shows, never a version's body (a draft's body and its HTML are
    # the largest values of the table) nor whole ORM rows.
    rows = session.execute(
        select(
            DraftRow.kind,
            DraftRow.version,
            DraftRow.language,
            DraftRow.proposed_terms,
            DraftRow.content_hash,
            DraftRow.requested_by,
            DraftRow.answers_comment,
            DraftRow.created_at,
            RenewalRow.id,
            RenewalRow.term,
            RenewalRow.stage,
            RenewalRow.term_end_date,
            ContractRow.id,
            ContractRow.title,
            ContractRow.owner,
            ContractRow.current_term,
            SupplierRow.name,
            SupplierRow.category,
            _has_event("escalation"),
        )
        .join(RenewalRow, RenewalRow.id == DraftRow.renewal_id)
        .join(ContractRow, ContractRow.id == RenewalRow.contract_id)
        .join(SupplierRow, SupplierRow.id == ContractRow.supplier_id)
        .where(DraftRow.id.in_(ids))
        .order_by(DraftRow.created_at, DraftRow.id)
    ).all()
    # Every term's stored plan in one batch (the current term's and a past term's alike); a
    # current term without one shows the preview plans_for makes, a past term what its
    # renewal holds.
    stored = plans.read_plans(session, keys=[(r[12], r[9]) for r in rows])
    missing = {r[12]: r[17] for r in rows if r[9] == r[15] and (r[12], r[9]) not in stored}
    previews = (
        plans_for(
            session,
            [
                (to_read(c), missing[c.id])
                for c in session.scalars(select(ContractRow).where(ContractRow.id.in_(missing)))
            ],
            today=today,
            policy=policy,
            cfg=cfg,
        )
        if missing
        else {}
    )
    negotiation = _negotiation_plans(
        session, [r[8] for r in rows if r[0] == DraftKind.RENEGOTIATION.value]
    )
    items = []
    for (
        kind,
        version,
        language,
        proposed_terms,
        content_hash,
        requested_by,
        answers_comment,
        drafted_at,
        renewal_id,
        term,
        stage,
        term_end_date,
        contract_id,
        title,
        owner,
        current_term,
        supplier_name,
        _category,
        flagged,
    ) in rows:
        plan = stored.get((contract_id, term))
        if plan is None and term == current_term:
            plan = previews.get(contract_id)
        # A past term's plan that was never stored: its end date is what the renewal holds.
        due, due_kind = due_of(plan, kind) if plan else (term_end_date, "end_date")
        items.append(
            QueueItem(
                contract_id=contract_id,
                term=term,
                title=title,
                supplier_name=supplier_name,
                owner=owner,
                language=language,
                kind=kind,
                version=version,
                content_hash=content_hash,
                requested_by=requested_by,
                answers_comment=answers_comment,
                drafted_at=drafted_at,
                stage=stage,
                escalated=bool(flagged),
                due=due,
                due_kind=due_kind,
                days_left=(due - today).days,
                plan_preview=plan.preview if plan else False,
                breaches=_breach_count(negotiation.get(renewal_id), kind, proposed_terms),
            )
        )
    return items, total


def _reviewable() -> Select[int]:
    """The ids of the versions awaiting a decision: from the open renewals in a reviewable
    stage, each condition a probe of one renewal's rows by an index (the renewals are few next
    to the drafts, events and decisions of the whole history)."""
    newer = aliased(DraftRow)
    # Renewals started before versions were one sequence could store a notice under the number
    # of a renegotiation version; that notice was never a reviewable version.
    other = aliased(DraftRow)
    shadowing = (
        select(other.id)
        .where(
            other.renewal_id == DraftRow.renewal_id,
            other.version == DraftRow.version,
            other.kind == DraftKind.RENEGOTIATION.value,
        )
        .exists()
    )
    # Decided: more decisions on the version than approvals withdrawn from it (an amendment
    # that contradicts an approved version sends it back to review, renewal-semantics.md §3).
    # Without any decision it is not decided: the two counts only for a version decided once.
    on_version = and_(
        ReviewDecisionRow.renewal_id == DraftRow.renewal_id,
        ReviewDecisionRow.draft_version == DraftRow.version,
    )
    decisions = select(func.count(ReviewDecisionRow.id)).where(on_version).scalar_subquery()
    withdrawals = (
        select(func.count(RenewalEventRow.id))
        .where(
            RenewalEventRow.renewal_id == DraftRow.renewal_id,
            RenewalEventRow.kind == "approval_withdrawn",
            RenewalEventRow.detail["version"].as_integer() == DraftRow.version,
        )
        .scalar_subquery()
    )
    return (
        select(DraftRow.id)
        .select_from(RenewalRow)
        .join(DraftRow, DraftRow.renewal_id == RenewalRow.id)
        .where(
            RenewalRow.stage.in_(REVIEWABLE_STAGES),
            RenewalRow.outcome.is_(None),
            # the newest version of the renewal (of any kind)
            ~select(newer.id)
            .where(newer.renewal_id == DraftRow.renewal_id, newer.version > DraftRow.version)
            .exists(),
            or_(~select(ReviewDecisionRow.id).where(on_version).exists(), decisions <= withdrawals),
            or_(DraftRow.kind == DraftKind.RENEGOTIATION.value, ~shadowing),
            # the same rule as decidable(): with a termination requested, only its notice
            or_(
                DraftRow.kind == DraftKind.NON_RENEWAL_NOTICE.value,
                ~_has_event("termination_requested"),
            ),
        )
    )


# Built once: a statement of constants (building it costs more than its cached compilation).
_REVIEWABLE = _reviewable()


def _negotiation_plans(session: Session, renewal_ids: list[int]) -> dict[int, NegotiationPlan]:
    """The negotiation plan each renewal recorded last (its newest plan event), in one query
    for the page's renewals."""
    if not renewal_ids:
        return {}
    newest = (
        select(func.max(RenewalEventRow.id))
        .where(
            RenewalEventRow.renewal_id.in_(renewal_ids),
            RenewalEventRow.kind == PLAN_EVENT,
        )
        .group_by(RenewalEventRow.renewal_id)
    )
    found: dict[int, NegotiationPlan] = {}
    for renewal_id, detail in session.execute(
        select(RenewalEventRow.renewal_id, RenewalEventRow.detail).where(
            RenewalEventRow.id.in_(newest)
        )
    ):
        try:
            found[renewal_id] = NegotiationPlan.model_validate(detail)
        except ValidationError:
            continue  # an unreadable plan flags nothing, as the review page shows nothing
    return found


def _breach_count(plan: NegotiationPlan | None, kind: str, proposed_terms: Any) -> int:
    # The same rule as services.drafts.breaches, read here for a page of the queue at once.
    if plan is None or kind != DraftKind.RENEGOTIATION.value:
        return 0
    try:
        terms = ProposedTerms.model_validate(dict(proposed_terms))
    except ValidationError:
        return 0
    return len(limit_breaches(plan, terms))
