"""Stored term plans (renewal-semantics.md §1): written by the plan activity each time the
workflow plans or re-plans, and by the milestone activity as states change; read by every view.

A re-plan rewrites the dates and keeps each milestone's state: an amendment moves dates, it does
not undo what already happened.
"""

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.contract import DefaultAction, TermModel
from models.milestones import MilestoneKind, MilestoneState
from models.plans import MilestoneRecord, StoredMilestone, StoredPlan
from models.renewal import RenewalStage, TermPlan
from models.tables import PlanMilestoneRow, RenewalRow, TermPlanRow

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


def read_plan(session: Session, *, contract_id: str, term: int) -> StoredPlan | None:
    return read_plans(session, keys=[(contract_id, term)]).get((contract_id, term))


_PLAN_COLUMNS = (
    TermPlanRow.contract_id,
    TermPlanRow.term,
    TermPlanRow.workflow_id,
    TermPlanRow.end_date,
    TermPlanRow.notice_deadline,
    TermPlanRow.notice_provenance,
    TermPlanRow.send_by,
    TermPlanRow.send_by_provenance,
    TermPlanRow.time_zone,
    TermPlanRow.term_model,
    TermPlanRow.default_action,
    TermPlanRow.planned_on,
    TermPlanRow.revision,
)
_MILESTONE_COLUMNS = (
    PlanMilestoneRow.contract_id,
    PlanMilestoneRow.term,
    PlanMilestoneRow.kind,
    PlanMilestoneRow.due,
    PlanMilestoneRow.nominal,
    PlanMilestoneRow.fires_at,
    PlanMilestoneRow.state,
    PlanMilestoneRow.completed_at,
    PlanMilestoneRow.late,
    PlanMilestoneRow.moved_for_notice,
    PlanMilestoneRow.provenance,
)


def read_plans(
    session: Session, *, keys: Iterable[tuple[str, int]]
) -> dict[tuple[str, int], StoredPlan]:
    """The stored plans of many terms at once (a page of the pipeline, a CSV export): two
    queries a batch.

    Read as plain rows and built with ``model_construct``: ORM objects and pydantic
    validation cost ~0.17 ms a plan, which a 1,000-row export pays in full. The values are the
    columns save_plan wrote from a validated :class:`StoredPlan`; the enums are converted here
    (an unknown value still raises), the dates and JSON lists come typed from the columns."""
    wanted = list(dict.fromkeys(keys))
    found: dict[tuple[str, int], StoredPlan] = {}
    for start in range(0, len(wanted), BATCH):
        batch = wanted[start : start + BATCH]
        # By contract id alone (the primary key's prefix, one bind parameter a key), the terms
        # picked here: a row-value IN costs more to compile than the read.
        terms = set(batch)
        plans = [
            p
            for p in session.execute(
                select(*_PLAN_COLUMNS).where(TermPlanRow.contract_id.in_({c for c, _ in batch}))
            )
            if (p.contract_id, p.term) in terms
        ]
        if not plans:
            continue
        by_key: dict[tuple[str, int], list[StoredMilestone]] = {}
        for m in session.execute(
            select(*_MILESTONE_COLUMNS)
            .where(PlanMilestoneRow.contract_id.in_({p.contract_id for p in plans}))
            .order_by(PlanMilestoneRow.position)
        ):
            if (m.contract_id, m.term) not in terms:
                continue
            by_key.setdefault((m.contract_id, m.term), []).append(
                StoredMilestone.model_construct(
                    kind=MilestoneKind(m.kind),
                    due=m.due,
                    nominal=m.nominal,
                    fires_at=_utc(m.fires_at),
                    state=MilestoneState(m.state),
                    completed_at=_utc(m.completed_at),
                    late=bool(m.late),
                    moved_for_notice=bool(m.moved_for_notice),
                    provenance=tuple(m.provenance),
                )
            )
        for p in plans:
            key = (p.contract_id, p.term)
            found[key] = StoredPlan.model_construct(
                contract_id=p.contract_id,
                term=p.term,
                workflow_id=p.workflow_id,
                preview=False,
                end_date=p.end_date,
                notice_deadline=p.notice_deadline,
                notice_provenance=tuple(p.notice_provenance),
                send_by=p.send_by,
                send_by_provenance=tuple(p.send_by_provenance),
                time_zone=p.time_zone,
                term_model=TermModel(p.term_model),
                default_action=DefaultAction(p.default_action) if p.default_action else None,
                planned_on=p.planned_on,
                revision=p.revision,
                milestones=tuple(by_key.get(key, ())),
            )
    return found


BackfillChange = Literal["restored", "updated", "unchanged"]


def restore_plan(session: Session, *, plan: StoredPlan) -> BackfillChange:
    """Store a running renewal's plan as its workflow's status reports it (``renewals plans
    backfill``), keyed by (contract, term) and (contract, term, milestone), so writing the same
    status again changes nothing.

    Nothing stored: the plan and every milestone are written ("restored"). A plan already
    stored keeps its dates: the workflow wrote them when it last planned, which is never older
    than a status read before; milestones missing from it are added, and a milestone stored as
    pending takes the state the workflow reports ("updated"), never the other way round, so a
    status read before the workflow recorded a state cannot undo it."""
    row = session.get(TermPlanRow, (plan.contract_id, plan.term))
    created = row is None
    if row is None:
        row = TermPlanRow(
            contract_id=plan.contract_id,
            term=plan.term,
            workflow_id=plan.workflow_id,
            end_date=plan.end_date,
            notice_deadline=plan.notice_deadline,
            notice_provenance=list(plan.notice_provenance),
            send_by=plan.send_by,
            send_by_provenance=list(plan.send_by_provenance),
            time_zone=plan.time_zone,
            term_model=plan.term_model.value,
            default_action=plan.default_action.value if plan.default_action else None,
            planned_on=plan.planned_on,
            revision=plan.revision,
        )
        session.add(row)
    existing = {
        m.kind: m
        for m in session.scalars(
            select(PlanMilestoneRow).where(
                PlanMilestoneRow.contract_id == plan.contract_id, PlanMilestoneRow.term == plan.term
            )
        )
    }
    changed = False
    for position, m in enumerate(plan.milestones):
        ms = existing.get(m.kind.value)
        if ms is None:
            session.add(
                PlanMilestoneRow(
                    contract_id=plan.contract_id,
                    term=plan.term,
                    kind=m.kind.value,
                    position=position,
                    due=m.due,
                    nominal=m.nominal,
                    fires_at=m.fires_at,
                    state=m.state.value,
                    completed_at=m.completed_at,
                    late=m.late,
                    moved_for_notice=m.moved_for_notice,
                    provenance=list(m.provenance),
                )
            )
            changed = True
        elif ms.state == MilestoneState.PENDING.value and m.state is not MilestoneState.PENDING:
            ms.state = m.state.value
            ms.completed_at = m.completed_at
            ms.late = m.late
            changed = True
    session.flush()
    if created:
        return "restored"
    return "updated" if changed else "unchanged"


def open_renewals(
    session: Session, *, contract_ids: Sequence[str] | None = None
) -> list[tuple[str, int, str]]:
    """(contract, term, workflow id) of every renewal not completed (of ``contract_ids`` when
    given), by contract and term: the ones a backfill asks for their status."""
    query = (
        select(RenewalRow.contract_id, RenewalRow.term, RenewalRow.workflow_id)
        .where(RenewalRow.stage != RenewalStage.COMPLETED.value)
        .order_by(RenewalRow.contract_id, RenewalRow.term)
    )
    if contract_ids is not None:
        query = query.where(RenewalRow.contract_id.in_(list(contract_ids)))
    return [(cid, term, wf) for cid, term, wf in session.execute(query)]
