"""Follow-up reviews during a term (issue 17): opened by the workflow when one is due
(idempotent by contract, term and sequence), recorded by a person, their issues and actions
(escalated once when overdue), a contract's own interval, and the relationship facts the next
renewal's scorecard reads (:func:`relationship_facts`)."""

from collections.abc import Sequence
from datetime import date, datetime, time
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from models.followup_tables import ContractFollowUpSettingsRow, FollowUpActionRow, FollowUpRow
from models.followups import (
    ActionState,
    FollowUpActionInput,
    FollowUpActionRead,
    FollowUpDue,
    FollowUpInput,
    FollowUpRead,
    FollowUpState,
    SupplierIntent,
)
from models.relationship import FollowUpObservation, IssueObservation, RelationshipFacts

__all__ = [
    "close_action",
    "escalate_overdue",
    "get_followup",
    "get_interval",
    "list_followups",
    "mark_escalated",
    "mark_reminded",
    "open_followup",
    "open_overdue_actions",
    "pending_actions",
    "record_followup",
    "relationship_facts",
    "remind_once",
    "set_interval",
]


# ----------------------------------------------------------------------------- interval


def get_interval(session: Session, *, contract_id: str) -> int | None:
    row = session.get(ContractFollowUpSettingsRow, contract_id)
    return row.interval_months if row is not None else None


def set_interval(session: Session, *, contract_id: str, months: int | None) -> None:
    row = session.get(ContractFollowUpSettingsRow, contract_id)
    if row is None:
        session.add(ContractFollowUpSettingsRow(contract_id=contract_id, interval_months=months))
    else:
        row.interval_months = months
    session.flush()


# ----------------------------------------------------------------------------- reviews


def _actions(session: Session, followup_ids: Sequence[int]) -> dict[int, list[FollowUpActionRead]]:
    found: dict[int, list[FollowUpActionRead]] = {i: [] for i in followup_ids}
    if not followup_ids:
        return found
    rows = session.scalars(
        select(FollowUpActionRow)
        .where(FollowUpActionRow.followup_id.in_(followup_ids))
        .order_by(FollowUpActionRow.id)
    )
    for row in rows:
        found[row.followup_id].append(FollowUpActionRead.model_validate(row))
    return found


def _read(row: FollowUpRow, actions: Sequence[FollowUpActionRead]) -> FollowUpRead:
    return FollowUpRead(
        id=row.id,
        contract_id=row.contract_id,
        term=row.term,
        sequence=row.sequence,
        due=row.due,
        period_start=row.period_start,
        period_end=row.period_end,
        state=FollowUpState(row.state),
        recorded_at=row.recorded_at,
        recorded_by=row.recorded_by,
        scorecard=row.scorecard,
        feedback=row.feedback,
        csat=row.csat,
        nps=row.nps,
        supplier_continue=SupplierIntent(row.supplier_continue) if row.supplier_continue else None,
        supplier_continue_on=row.supplier_continue_on,
        actions=tuple(actions),
    )


def _row(session: Session, *, contract_id: str, term: int, sequence: int) -> FollowUpRow | None:
    return session.scalars(
        select(FollowUpRow).where(
            FollowUpRow.contract_id == contract_id,
            FollowUpRow.term == term,
            FollowUpRow.sequence == sequence,
        )
    ).first()


def get_followup(
    session: Session, *, contract_id: str, term: int, sequence: int
) -> FollowUpRead | None:
    row = _row(session, contract_id=contract_id, term=term, sequence=sequence)
    if row is None:
        return None
    return _read(row, _actions(session, [row.id])[row.id])


def list_followups(
    session: Session, *, contract_id: str, term: int | None = None
) -> list[FollowUpRead]:
    query = select(FollowUpRow).where(FollowUpRow.contract_id == contract_id)
    if term is not None:
        query = query.where(FollowUpRow.term == term)
    rows = list(session.scalars(query.order_by(FollowUpRow.term, FollowUpRow.sequence)))
    actions = _actions(session, [r.id for r in rows])
    return [_read(r, actions[r.id]) for r in rows]


def open_followup(session: Session, *, due: FollowUpDue, now: datetime) -> tuple[int, bool]:
    """The review ``due`` names, opened (state ``due``) unless it exists: (its id, created).
    One ``INSERT ... ON CONFLICT DO NOTHING`` so a retried activity opens it once."""
    make = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    stmt = (
        make(FollowUpRow)
        .values(
            contract_id=due.contract_id,
            term=due.term,
            sequence=due.sequence,
            due=due.due,
            period_start=due.period_start,
            period_end=due.period_end,
            state=FollowUpState.DUE.value,
            opened_at=now,
            feedback="",
            supplier_continue_on="",
        )
        .on_conflict_do_nothing(index_elements=["contract_id", "term", "sequence"])
        .returning(FollowUpRow.id)
    )
    inserted = session.execute(stmt).first()
    if inserted is not None:
        return int(inserted[0]), True
    row = _row(session, contract_id=due.contract_id, term=due.term, sequence=due.sequence)
    assert row is not None  # the conflict was with this row
    return row.id, False


def mark_reminded(session: Session, *, followup_id: int, now: datetime) -> bool:
    """True the first time only: the reminder for a review goes out once."""
    result = session.execute(
        update(FollowUpRow)
        .where(FollowUpRow.id == followup_id, FollowUpRow.reminded_at.is_(None))
        .values(reminded_at=now)
    )
    return bool(getattr(result, "rowcount", 0))


def remind_once(session: Session, *, followup_id: int, due: date) -> bool:
    """Whether the owner is to be reminded of the review: it is still waiting (nothing
    recorded) and no reminder was marked before, marked now with the review's own due date
    (00:00), so a retried activity answers True again and the mail (keyed by review) goes out
    once, while a review recorded before it fell due is not reminded at all."""
    mark = datetime.combine(due, time(0))  # naive, as the column stores it on both databases
    session.execute(
        update(FollowUpRow)
        .where(
            FollowUpRow.id == followup_id,
            FollowUpRow.reminded_at.is_(None),
            FollowUpRow.state == FollowUpState.DUE.value,
        )
        .values(reminded_at=mark)
    )
    return (
        session.scalar(select(FollowUpRow.reminded_at).where(FollowUpRow.id == followup_id)) == mark
    )


def record_followup(
    session: Session,
    *,
    slot: FollowUpDue,
    data: FollowUpInput,
    scorecard: dict[str, Any] | None,
    by: str,
    now: datetime,
) -> FollowUpRead:
    """Store the review's figures and its actions (the caller validated them). A review the
    workflow has not opened yet is opened here; one already recorded is a caller's Conflict."""
    open_followup(session, due=slot, now=now)
    row = _row(session, contract_id=slot.contract_id, term=slot.term, sequence=slot.sequence)
    assert row is not None
    row.state = FollowUpState.RECORDED.value
    row.recorded_at = now
    row.recorded_by = by
    row.scorecard = scorecard
    row.feedback = data.feedback.strip()
    row.csat = data.csat
    row.nps = data.nps
    row.supplier_continue = data.supplier_continue.value
    row.supplier_continue_on = data.supplier_continue_on.strip()
    for action in data.actions:
        _add_action(session, row=row, action=action, now=now)
    session.flush()
    return _read(row, _actions(session, [row.id])[row.id])


def _add_action(
    session: Session, *, row: FollowUpRow, action: FollowUpActionInput, now: datetime
) -> None:
    assert action.owner is not None and action.due is not None  # validated
    session.add(
        FollowUpActionRow(
            followup_id=row.id,
            contract_id=row.contract_id,
            kind=action.kind.value,
            description=action.description.strip(),
            owner=action.owner.strip(),
            due=action.due,
            state=action.state.value,
            closed_at=now if action.state is ActionState.CLOSED else None,
        )
    )


# ----------------------------------------------------------------------------- actions


def close_action(session: Session, *, action_id: int, now: datetime) -> FollowUpActionRead | None:
    row = session.get(FollowUpActionRow, action_id)
    if row is None:
        return None
    if row.state != ActionState.CLOSED.value:
        row.state = ActionState.CLOSED.value
        row.closed_at = now
        session.flush()
    return FollowUpActionRead.model_validate(row)


def _open_term_actions(
    session: Session, *, contract_id: str, term: int, where: Sequence[Any]
) -> list[FollowUpActionRead]:
    """The open actions of the term's reviews that also meet ``where``, oldest first."""
    rows = session.scalars(
        select(FollowUpActionRow)
        .join(FollowUpRow, FollowUpRow.id == FollowUpActionRow.followup_id)
        .where(
            FollowUpActionRow.contract_id == contract_id,
            FollowUpRow.term == term,
            FollowUpActionRow.state == ActionState.OPEN.value,
            *where,
        )
        .order_by(FollowUpActionRow.id)
    )
    return [FollowUpActionRead.model_validate(r) for r in rows]


def open_overdue_actions(
    session: Session, *, contract_id: str, term: int, as_of: date
) -> list[FollowUpActionRead]:
    """Open actions of the term's reviews due before ``as_of`` and not escalated yet."""
    return _open_term_actions(
        session,
        contract_id=contract_id,
        term=term,
        where=(FollowUpActionRow.due < as_of, FollowUpActionRow.escalated_at.is_(None)),
    )


def mark_escalated(session: Session, *, action_id: int, now: datetime) -> bool:
    """True the first time only: an overdue action escalates once."""
    result = session.execute(
        update(FollowUpActionRow)
        .where(FollowUpActionRow.id == action_id, FollowUpActionRow.escalated_at.is_(None))
        .values(escalated_at=now)
    )
    return bool(getattr(result, "rowcount", 0))


def pending_actions(session: Session, *, contract_id: str, term: int) -> tuple[int, date | None]:
    """How many of the term's actions are open and not escalated, and the earliest due date
    among them: when the follow-up workflow next has to look."""
    count, earliest = session.execute(
        select(func.count(FollowUpActionRow.id), func.min(FollowUpActionRow.due))
        .join(FollowUpRow, FollowUpRow.id == FollowUpActionRow.followup_id)
        .where(
            FollowUpActionRow.contract_id == contract_id,
            FollowUpRow.term == term,
            FollowUpActionRow.state == ActionState.OPEN.value,
            FollowUpActionRow.escalated_at.is_(None),
        )
    ).one()
    return int(count or 0), earliest


def escalate_overdue(
    session: Session, *, contract_id: str, term: int, as_of: date
) -> list[FollowUpActionRead]:
    """The term's open actions due before ``as_of`` that this check escalates: those not
    escalated before are marked with the check's own moment (``as_of`` at 00:00 UTC), and every
    action carrying that mark is returned, so a retried check returns the same actions (and
    its mails, keyed by action, go out once) while a later check returns none of them again."""
    # Naive, as the column stores it on both databases, so that the mark compares equal.
    mark = datetime.combine(as_of, time(0))
    for action in open_overdue_actions(session, contract_id=contract_id, term=term, as_of=as_of):
        mark_escalated(session, action_id=action.id, now=mark)
    return _open_term_actions(
        session,
        contract_id=contract_id,
        term=term,
        where=(FollowUpActionRow.escalated_at == mark,),
    )


# ----------------------------------------------------------------------------- relationship


def _wants(value: str | None) -> bool | None:
    if value == SupplierIntent.YES.value:
        return True
    if value == SupplierIntent.NO.value:
        return False
    return None


def relationship_facts(
    session: Session, *, contract_id: str, since: date, until: date
) -> RelationshipFacts:
    """The recorded follow-up reviews of ``contract_id`` held in ``(since, until]`` (a review is
    held on its scheduled date), the issues and actions they raised (opened on that date, closed
    when closed), and the supplier's latest stated view in the window (yes True, no False,
    undecided None). Reviews opened but not recorded carry no figures and are left out."""

    rows = list(
        session.scalars(
            select(FollowUpRow)
            .where(
                FollowUpRow.contract_id == contract_id,
                FollowUpRow.state == FollowUpState.RECORDED.value,
                FollowUpRow.due > since,
                FollowUpRow.due <= until,
            )
            .order_by(FollowUpRow.due, FollowUpRow.term, FollowUpRow.sequence)
        )
    )
    raised = _actions(session, [r.id for r in rows])
    issues = [
        IssueObservation(
            opened_on=row.due,
            closed_on=action.closed_at.date() if action.closed_at is not None else None,
        )
        for row in rows
        for action in raised[row.id]
    ]
    observations = tuple(
        FollowUpObservation(
            held_on=r.due,
            csat=r.csat,
            nps=r.nps,
            supplier_wants_to_continue=_wants(r.supplier_continue),
        )
        for r in rows
    )
    latest = _wants(rows[-1].supplier_continue) if rows else None
    return RelationshipFacts(
        follow_ups=observations, issues=tuple(issues), supplier_wants_to_continue=latest
    )
