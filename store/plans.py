"""Stored term plans (renewal-semantics.md §1): written by the plan activity each time the
workflow plans or re-plans, and by the milestone activity as states change; read by every view.

A re-plan rewrites the dates and keeps each milestone's state: an amendment moves dates, it does
not undo what already happened.
"""

from collections.abc import Iterable
from datetime import UTC, datetime

from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from models.milestones import MilestoneKind, MilestoneState
from models.plans import MilestoneRecord, StoredMilestone, StoredPlan
from models.renewal import TermPlan
from models.tables import PlanMilestoneRow, TermPlanRow

BATCH = 500  # keys per IN (...) query


def save_plan(
    session: Session, *, contract_id: str, term: int, workflow_id: str, plan: TermPlan
) -> StoredPlan:
    p = plan.plan
    row = session.get(TermPlanRow, (contract_id, term))
    if row is None:
        row = TermPlanRow(contract_id=contract_id, term=term, revision=0)
        session.add(row)
    row.workflow_id = workflow_id
    row.end_date = p.end_date
    row.notice_deadline = p.notice_deadline
    row.notice_provenance = list(p.notice_provenance)
    row.send_by = p.send_by
    row.send_by_provenance = list(p.send_by_provenance)
    row.time_zone = p.time_zone
    row.term_model = plan.term_model.value
    row.default_action = plan.default_action.value
    row.planned_on = p.planned_on
    row.revision = (row.revision or 0) + 1
    existing = {
        m.kind: m
        for m in session.scalars(
            select(PlanMilestoneRow).where(
                PlanMilestoneRow.contract_id == contract_id, PlanMilestoneRow.term == term
            )
        )
    }
    kinds = {m.kind.value for m in p.milestones}
    for kind, stale in existing.items():
        if kind not in kinds:
            session.delete(stale)
    for position, m in enumerate(p.milestones):
        ms = existing.get(m.kind.value)
        if ms is None:
            skipped = p.expired_at_planning and m.kind is not MilestoneKind.EXPIRY
            ms = PlanMilestoneRow(
                contract_id=contract_id,
                term=term,
                kind=m.kind.value,
                state=(MilestoneState.SKIPPED if skipped else MilestoneState.PENDING).value,
                late=False,
            )
            session.add(ms)
        ms.position = position
        ms.due = m.due
        ms.nominal = m.nominal
        ms.fires_at = m.fires_at
        ms.moved_for_notice = m.moved_for_notice
        ms.provenance = list(m.provenance)
        if ms.state == MilestoneState.PENDING.value:
            # Still ahead of the renewal: it will run late if its date is already behind.
            ms.late = m.overdue_at_planning
    session.flush()
    stored = read_plan(session, contract_id=contract_id, term=term)
    assert stored is not None
    return stored


def record_milestone(session: Session, *, record: MilestoneRecord) -> bool:
    """The milestone's new state; False when the plan is not stored (a renewal that started
    before plans were stored and has not re-planned since: `renewals plans backfill`)."""
    row = session.scalar(
        select(PlanMilestoneRow).where(
            PlanMilestoneRow.contract_id == record.contract_id,
            PlanMilestoneRow.term == record.term,
            PlanMilestoneRow.kind == record.kind.value,
        )
    )
    if row is None:
        return False
    row.state = record.state.value
    row.completed_at = record.completed_at
    row.late = record.late
    return True


def _utc(value: datetime | None) -> datetime | None:
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def _stored(row: TermPlanRow, milestones: Iterable[PlanMilestoneRow]) -> StoredPlan:
    return StoredPlan(
        contract_id=row.contract_id,
        term=row.term,
        workflow_id=row.workflow_id,
        preview=False,
        end_date=row.end_date,
        notice_deadline=row.notice_deadline,
        notice_provenance=tuple(row.notice_provenance),
        send_by=row.send_by,
        send_by_provenance=tuple(row.send_by_provenance),
        time_zone=row.time_zone,
        term_model=row.term_model,
        default_action=row.default_action,
        planned_on=row.planned_on,
        revision=row.revision,
        milestones=tuple(
            StoredMilestone(
                kind=MilestoneKind(m.kind),
                due=m.due,
                nominal=m.nominal,
                fires_at=_utc(m.fires_at),
                state=MilestoneState(m.state),
                completed_at=_utc(m.completed_at),
                late=m.late,
                moved_for_notice=m.moved_for_notice,
                provenance=tuple(m.provenance),
            )
            for m in sorted(milestones, key=lambda m: m.position)
        ),
    )


def read_plan(session: Session, *, contract_id: str, term: int) -> StoredPlan | None:
    return read_plans(session, keys=[(contract_id, term)]).get((contract_id, term))


def read_plans(
    session: Session, *, keys: Iterable[tuple[str, int]]
) -> dict[tuple[str, int], StoredPlan]:
    """The stored plans of many terms at once (a page of the pipeline): two queries a batch."""
    wanted = list(dict.fromkeys(keys))
    found: dict[tuple[str, int], StoredPlan] = {}
    for start in range(0, len(wanted), BATCH):
        batch = wanted[start : start + BATCH]
        plans = session.scalars(
            select(TermPlanRow).where(tuple_(TermPlanRow.contract_id, TermPlanRow.term).in_(batch))
        ).all()
        if not plans:
            continue
        by_key: dict[tuple[str, int], list[PlanMilestoneRow]] = {}
        for m in session.scalars(
            select(PlanMilestoneRow).where(
                tuple_(PlanMilestoneRow.contract_id, PlanMilestoneRow.term).in_(
                    [(p.contract_id, p.term) for p in plans]
                )
            )
        ):
            by_key.setdefault((m.contract_id, m.term), []).append(m)
        for p in plans:
            found[(p.contract_id, p.term)] = _stored(p, by_key.get((p.contract_id, p.term), []))
    return found
