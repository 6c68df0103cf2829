"""Follow-up reviews during a term (issue 17, renewal-semantics.md §7): the one implementation
behind the API, the CLI and the contract page. Like :mod:`services.notices`, every function is
keyword-only, checks who asks and what is asked before anything is stored (InvalidInput naming
each field and its reason; NotAllowed; NotFound), and writes one audit entry in the same
transaction as the change.

A review covers the period since the previous one: its scorecard snapshot is the renewal's own
assessment (:func:`store.assessment.assess_contract`) over that period. The figures are the
supplier's feedback, internal satisfaction (CSAT 1-5), willingness to continue (0-10), the
supplier's own view (yes / no / undecided, and on what), and open issues and actions with owner
and due date.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy.orm import Session

from config.settings import Settings
from domain import followup as rules
from models.contract import ContractRead
from models.errors import FieldError, InvalidInput, NotFound
from models.followups import FollowUpActionRead, FollowUpDue, FollowUpInput, FollowUpRead
from models.users import CurrentUser
from services.ownership import refuse_contract_change
from services.renewals import valid
from store import audit
from store import followups as store
from store.assessment import assess_contract
from store.contracts import get_contract
from store.db import SessionFactory, transaction

__all__ = [
    "TermFollowUps",
    "close_action",
    "record",
    "set_interval",
    "term_followups",
]


@dataclass(frozen=True, slots=True)
class TermFollowUps:
    """One term's reviews: those scheduled (with what was recorded or opened for each) and the
    interval in force."""

    contract_id: str
    term: int
    term_start: date
    term_end: date
    interval_months: int
    contract_interval_months: int | None
    scheduled: tuple[rules.ReviewSlot, ...]
    followups: tuple[FollowUpRead, ...]

    def followup(self, sequence: int) -> FollowUpRead | None:
        return next((f for f in self.followups if f.sequence == sequence), None)

    @property
    def rows(self) -> tuple[tuple[rules.ReviewSlot | None, FollowUpRead | None], ...]:
        """Each scheduled review with what was recorded or opened for it; for an earlier term
        (nothing is scheduled any more), the reviews that were held."""
        if self.scheduled:
            return tuple((slot, self.followup(slot.sequence)) for slot in self.scheduled)
        return tuple((None, f) for f in self.followups)

    @property
    def open_actions(self) -> tuple[FollowUpActionRead, ...]:
        return tuple(a for f in self.followups for a in f.actions if a.state == "open")


def _interval(session: Session, *, contract_id: str, settings: Settings) -> tuple[int | None, int]:
    """The contract's own interval (None: none set) and the interval in force."""
    own = store.get_interval(session, contract_id=contract_id)
    return own, rules.effective_interval(own, settings.followup_interval_months)


def _schedule(
    start: date, end: date, *, months: int, settings: Settings
) -> tuple[rules.ReviewSlot, ...]:
    return rules.review_schedule(
        start=start, end=end, interval_months=months, quiet_months=settings.followup_quiet_months
    )


def term_followups(
    *, sessions: SessionFactory, settings: Settings, contract_id: str, term: int | None = None
) -> TermFollowUps:
    """The current term's (or ``term``'s) reviews; NotFound for an unknown contract."""
    with transaction(sessions) as session:
        contract = get_contract(session, contract_id=contract_id)
        chosen = contract.current_term if term is None else term
        own, months = _interval(session, contract_id=contract_id, settings=settings)
        start, end = rules.term_bounds(contract)
        scheduled = (
            _schedule(start, end, months=months, settings=settings)
            if chosen == contract.current_term
            else ()
        )
        return TermFollowUps(
            contract_id=contract_id,
            term=chosen,
            term_start=start,
            term_end=end,
            interval_months=months,
            contract_interval_months=own,
            scheduled=scheduled,
            followups=tuple(store.list_followups(session, contract_id=contract_id, term=chosen)),
        )


def set_interval(
    *, sessions: SessionFactory, user: CurrentUser, contract_id: str, months: int | None
) -> int | None:
    """Set the contract's own follow-up interval (None: the setting's). Running renewals read
    it when they open their next review."""
    errors = rules.validate_interval(months)
    if errors:
        raise InvalidInput(errors)
    with transaction(sessions) as session:
        refuse_contract_change(session, user=user, contract_id=contract_id)
        before = store.get_interval(session, contract_id=contract_id)
        store.set_interval(session, contract_id=contract_id, months=months)
        audit.record(
            session,
            actor=user.username,
            action="followup_interval_set",
            subject_type="contract",
            subject_id=contract_id,
            detail={"before": before, "after": months},
        )
    return months


def _slot(
    scheduled: tuple[rules.ReviewSlot, ...],
    recorded: set[int],
    *,
    sequence: int | None,
    today: date,
) -> rules.ReviewSlot | FieldError:
    if sequence is not None:
        slot = next((s for s in scheduled if s.sequence == sequence), None)
        if slot is None:
            return FieldError(
                "sequence",
                f"the term has no follow-up review {sequence} ({len(scheduled)} planned)",
            )
        if sequence in recorded:
            return FieldError("sequence", f"follow-up review {sequence} is already recorded")
        return slot
    open_slots = [s for s in scheduled if s.sequence not in recorded]
    if not open_slots:
        return FieldError(
            "sequence",
            "every follow-up review of this term is recorded"
            if scheduled
            else "this term has no follow-up review (it is in its last months)",
        )
    past = [s for s in open_slots if s.due <= today]
    return past[-1] if past else open_slots[0]


def _snapshot(
    session: Session,
    *,
    contract: ContractRead,
    slot: rules.ReviewSlot,
    today: date,
    months: int,
    settings: Settings,
) -> dict[str, Any]:
    as_of = min(slot.period_end, today)
    cfg = settings.scoring.model_copy(update={"window_months": months})
    card = assess_contract(
        session, contract_id=contract.id, term=contract.current_term, as_of=as_of, cfg=cfg
    )
    return card.model_dump(mode="json")


def record(
    *,
    sessions: SessionFactory,
    settings: Settings,
    user: CurrentUser,
    contract_id: str,
    data: FollowUpInput | dict[str, Any],
    today: date,
    now: datetime | None = None,
) -> FollowUpRead:
    """Record one follow-up review of the contract's current term as the signed-in person.
    Without a sequence, the latest review due by ``today`` not yet recorded (else the next
    one). Refused, nothing stored: CSAT outside 1-5, NPS outside 0-10, an action without owner
    or due date, a term that has ended (or is not the current one), a review already recorded."""
    review = data if isinstance(data, FollowUpInput) else valid(FollowUpInput, **data)
    moment = now or datetime.now(UTC)
    with transaction(sessions) as session:
        refuse_contract_change(session, user=user, contract_id=contract_id)
        contract = get_contract(session, contract_id=contract_id)
        start, end = rules.term_bounds(contract)
        errors = rules.validate_followup(
            review,
            current_term=contract.current_term,
            term_start=start,
            term_end=end,
            today=today,
        )
        _, months = _interval(session, contract_id=contract_id, settings=settings)
        scheduled = _schedule(start, end, months=months, settings=settings)
        recorded = {
            f.sequence
            for f in store.list_followups(
                session, contract_id=contract_id, term=contract.current_term
            )
            if f.state == "recorded"
        }
        slot = _slot(scheduled, recorded, sequence=review.sequence, today=today)
        if isinstance(slot, FieldError):
            errors.append(slot)
        if errors or isinstance(slot, FieldError):
            raise InvalidInput(errors)
        due = FollowUpDue(
            contract_id=contract_id,
            term=contract.current_term,
            sequence=slot.sequence,
            due=slot.due,
            period_start=slot.period_start,
            period_end=slot.period_end,
        )
        stored = store.record_followup(
            session,
            slot=due,
            data=review,
            scorecard=_snapshot(
                session,
                contract=contract,
                slot=slot,
                today=today,
                months=months,
                settings=settings,
            ),
            by=user.username,
            now=moment,
        )
        audit.record(
            session,
            actor=user.username,
            action="followup_recorded",
            subject_type="contract",
            subject_id=contract_id,
            detail={
                "term": stored.term,
                "sequence": stored.sequence,
                "csat": stored.csat,
                "nps": stored.nps,
                "supplier_continue": review.supplier_continue.value,
                "actions": len(stored.actions),
            },
            key=f"followup:{contract_id}:{stored.term}:{stored.sequence}",
        )
        return stored


def close_action(
    *,
    sessions: SessionFactory,
    user: CurrentUser,
    contract_id: str,
    action_id: int,
    now: datetime | None = None,
) -> FollowUpActionRead:
    """Close an open issue or action of the contract's follow-ups."""
    with transaction(sessions) as session:
        refuse_contract_change(session, user=user, contract_id=contract_id)
        closed = store.close_action(session, action_id=action_id, now=now or datetime.now(UTC))
        if closed is None or closed.contract_id != contract_id:
            raise NotFound(f"contract {contract_id!r} has no follow-up action {action_id}")
        audit.record(
            session,
            actor=user.username,
            action="followup_action_closed",
            subject_type="contract",
            subject_id=contract_id,
            detail={"action_id": action_id},
            key=f"followup-action-closed:{action_id}",
        )
        return closed
