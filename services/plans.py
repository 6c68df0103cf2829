"""Plans as people see them, and the backfill of stored plans.

- The preview of a file that is not imported yet: each contract planned by the plan function
  the workflows use (:func:`domain.term_plan.term_plan`), in the shape of a stored plan and
  labelled a preview (renewal-semantics.md §1).
- ``renewals plans backfill``: renewals that were already running before plans were stored
  (migration 0006) get their plan and milestone states from their workflow's live ``status``,
  written by :func:`store.plans.restore_plan`, keyed by contract, term and milestone, so running
  it again changes nothing; each plan it writes is audited for the person running it.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any

from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from clients import renewals
from domain.milestones import next_review_date
from domain.provenance_words import FROM_STATUS
from domain.term_plan import CalendarSettings, as_preview, term_plan
from models.contract import ContractCreate, ContractRead, ContractStatus
from models.errors import FieldError, InvalidInput, NotFound
from models.milestones import MilestoneState, RenewalPolicy
from models.plans import StoredMilestone, StoredPlan
from models.renewal import PlanRequest, RenewalStatus, TermPlan
from models.tables import SupplierRow
from models.users import CurrentUser
from store import audit, plans
from store.contracts import get_contract
from store.db import SessionFactory, transaction


@dataclass(frozen=True, slots=True)
class PlannedContract:
    """A contract and the plan a person is shown for its current term: the running renewal's
    stored plan, or a preview (``shown.preview``)."""

    contract: ContractRead
    shown: StoredPlan

    @property
    def late(self) -> list[str]:
        """Milestones that run (or would run, if the renewal started today) late."""
        return [m.kind.value for m in self.shown.milestones if m.late]


def as_read(contract: ContractCreate, *, today: date) -> ContractRead:
    data = contract.model_dump()
    if data["end_date"] is None:
        data["end_date"] = next_review_date(
            contract.start_date, contract.review_period_months, today
        )
    return ContractRead.model_validate({**data, "current_term": 1, "status": ContractStatus.ACTIVE})


def _term_plan(
    contract: ContractRead,
    *,
    category: str | None,
    today: date,
    cfg: CalendarSettings,
    policy: RenewalPolicy,
) -> TermPlan:
    return term_plan(
        contract,
        category=category,
        today=today,
        cfg=cfg,
        request=PlanRequest(
            contract_id=contract.id, term=contract.current_term, today=today, policy=policy
        ),
    )


def plan_contracts(
    contracts: Iterable[ContractRead],
    *,
    today: date,
    cfg: CalendarSettings,
    policy: RenewalPolicy,
    categories: dict[str, str] | None = None,
) -> list[PlannedContract]:
    """Previews: the plan each contract's workflow would make today. Nothing is stored."""
    categories = categories or {}
    return [
        PlannedContract(
            contract=c,
            shown=as_preview(
                c.id,
                c.current_term,
                _term_plan(
                    c, category=categories.get(c.supplier_id), today=today, cfg=cfg, policy=policy
                ),
            ),
        )
        for c in contracts
    ]


def plan_as_dict(p: PlannedContract) -> dict[str, Any]:
    """The plan with every date's provenance, as JSON-able values (CLI ``-o json``, API)."""
    plan = p.shown
    return {
        "id": p.contract.id,
        "title": p.contract.title,
        "preview": plan.preview,
        "term_model": plan.term_model.value,
        "default_action": plan.default_action.value if plan.default_action else None,
        "time_zone": plan.time_zone,
        "end_date": plan.end_date.isoformat(),
        "notice_deadline": plan.notice_deadline.isoformat(),
        "notice_provenance": list(plan.notice_provenance),
        "send_by": plan.send_by.isoformat() if plan.send_by else None,
        "send_by_provenance": list(plan.send_by_provenance),
        "late": p.late,
        "milestones": [
            {
                "kind": m.kind.value,
                "due": m.due.isoformat(),
                "fires_at": m.fires_at.isoformat() if m.fires_at else None,
                "late": m.late,
                "moved_for_notice": m.moved_for_notice,
                "provenance": list(m.provenance),
            }
            for m in plan.milestones
        ],
    }


# ---------------------------------------------------------------------------- backfill

PLAN_BACKFILL = "plan_backfill"  # the audit action


class BackfillOutcome(StrEnum):
    RESTORED = "restored"  # nothing was stored: the plan and its milestones are written
    UPDATED = "updated"  # missing milestones added, states brought up to the workflow's
    UNCHANGED = "unchanged"  # the stored plan already says what the workflow says
    NOT_RUNNING = "not_running"  # the term has no running renewal: nothing to copy
    NOT_READY = "not_ready"  # the renewal is still loading its contract: run it again later


@dataclass(frozen=True, slots=True)
class BackfillTarget:
    contract_id: str
    term: int
    workflow_id: str | None  # None: no renewal was ever opened for the term


@dataclass(frozen=True, slots=True)
class BackfillResult:
    contract_id: str
    term: int
    workflow_id: str | None
    outcome: BackfillOutcome
    detail: str = ""


def check_backfill(
    *, sessions: SessionFactory, contract_ids: Sequence[str] | None
) -> list[BackfillTarget]:
    """The renewals a backfill asks: every open one, or those of ``contract_ids``. An unknown
    contract refuses the whole request (InvalidInput on ``contract``) before anything is read
    from Temporal or written; a known contract with no open renewal is a target without a
    workflow, reported as not running."""
    with transaction(sessions) as session:
        if contract_ids is None:
            return [BackfillTarget(*key) for key in plans.open_renewals(session)]
        wanted = list(dict.fromkeys(c.strip() for c in contract_ids))
        errors: list[FieldError] = []
        contracts: list[ContractRead] = []
        for cid in wanted:
            try:
                contracts.append(get_contract(session, contract_id=cid))
            except NotFound:
                errors.append(
                    FieldError("contract", f"{cid!r} is not a registered contract; nothing stored")
                )
        if errors:
            raise InvalidInput(errors)
        found = plans.open_renewals(session, contract_ids=[c.id for c in contracts])
    targets: list[BackfillTarget] = []
    for c in contracts:
        mine = [BackfillTarget(*key) for key in found if key[0] == c.id]
        targets.extend(mine or [BackfillTarget(c.id, c.current_term, None)])
    return targets


def plan_from_status(
    status: RenewalStatus, *, workflow_id: str, preview: TermPlan, today: date
) -> StoredPlan:
    """The stored shape of a running renewal's plan as its ``status`` reports it: its dates and
    states. What the status does not carry (fire times, provenance, time zone, effective term
    model) is taken from the plan function's answer where its dates agree with the workflow's,
    else said to come from the status."""
    assert status.end_date is not None and status.notice_deadline is not None
    p = preview.plan
    agrees = p.notice_deadline == status.notice_deadline and p.send_by == status.send_by
    by_kind = {m.kind: m for m in p.milestones} if agrees else {}
    milestones = []
    for s in status.milestones:
        m = by_kind.get(s.kind)
        if m is not None and m.due != s.due:
            m = None
        milestones.append(
            StoredMilestone(
                kind=s.kind,
                due=s.due,
                nominal=m.nominal if m else s.due,
                fires_at=m.fires_at if m else None,
                state=s.state,
                completed_at=s.completed_at,
                late=s.state is MilestoneState.DONE_LATE,
                moved_for_notice=s.moved_for_notice,
                provenance=m.provenance if m else (FROM_STATUS,),
            )
        )
    return StoredPlan(
        contract_id=status.contract_id,
        term=status.term,
        workflow_id=workflow_id,
        preview=False,
        end_date=status.end_date,
        notice_deadline=status.notice_deadline,
        notice_provenance=p.notice_provenance if agrees else (FROM_STATUS,),
        send_by=status.send_by,
        send_by_provenance=p.send_by_provenance if agrees else (FROM_STATUS,),
        time_zone=p.time_zone,
        term_model=preview.term_model,
        default_action=preview.default_action,
        planned_on=today,
        revision=1,
        milestones=tuple(milestones),
    )


async def _running(client: Client, target: BackfillTarget) -> str | None:
    """None when the target's workflow is running, else why there is nothing to copy."""
    if target.workflow_id is None:
        return "no renewal has been started for this term"
    handle = renewals.renewal_handle(client, contract_id=target.contract_id, term=target.term)
    try:
        desc = await handle.describe()
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            return f"no workflow {target.workflow_id}"
        raise
    if desc.status is not WorkflowExecutionStatus.RUNNING:
        name = desc.status.name.lower() if desc.status else "unknown"
        return f"its workflow {target.workflow_id} is {name}"
    return None


def _store(
    sessions: SessionFactory,
    *,
    target: BackfillTarget,
    status: RenewalStatus,
    user: CurrentUser,
    today: date,
    cfg: CalendarSettings,
    policy: RenewalPolicy,
) -> BackfillOutcome:
    assert target.workflow_id is not None
    with transaction(sessions) as session:
        contract = get_contract(session, contract_id=target.contract_id)
        supplier = session.get(SupplierRow, contract.supplier_id)
        preview = _term_plan(
            contract,
            category=supplier.category if supplier else None,
            today=today,
            cfg=cfg,
            policy=policy,
        )
        plan = plan_from_status(
            status, workflow_id=target.workflow_id, preview=preview, today=today
        )
        change = BackfillOutcome(plans.restore_plan(session, plan=plan))
        if change is not BackfillOutcome.UNCHANGED:
            states = ",".join(f"{m.kind.value}={m.state.value}" for m in plan.milestones)
            audit.record(
                session,
                actor=user.username,
                action=PLAN_BACKFILL,
                subject_type="renewal",
                subject_id=target.workflow_id,
                detail={
                    "contract_id": target.contract_id,
                    "term": target.term,
                    "result": change.value,
                    "notice_deadline": plan.notice_deadline.isoformat(),
                    "send_by": plan.send_by.isoformat() if plan.send_by else None,
                    "milestones": {m.kind.value: m.due.isoformat() for m in plan.milestones},
                    "states": states,
                },
            )
    return change


async def backfill(
    *,
    sessions: SessionFactory,
    client: Client,
    user: CurrentUser,
    contract_ids: Sequence[str] | None = None,
    today: date,
    cfg: CalendarSettings,
    policy: RenewalPolicy,
) -> list[BackfillResult]:
    """Store the plan of each running renewal (or of those of ``contract_ids``) from its
    workflow's live status. One result per renewal asked; one that is not running is
    reported as such and the others go on."""
    results: list[BackfillResult] = []
    for target in check_backfill(sessions=sessions, contract_ids=contract_ids):
        outcome, detail = await _backfill_one(
            sessions, client, target, user=user, today=today, cfg=cfg, policy=policy
        )
        results.append(
            BackfillResult(target.contract_id, target.term, target.workflow_id, outcome, detail)
        )
    return results


async def _backfill_one(
    sessions: SessionFactory,
    client: Client,
    target: BackfillTarget,
    *,
    user: CurrentUser,
    today: date,
    cfg: CalendarSettings,
    policy: RenewalPolicy,
) -> tuple[BackfillOutcome, str]:
    why = await _running(client, target)
    if why is not None:
        return BackfillOutcome.NOT_RUNNING, why
    status = await renewals.get_status(client, contract_id=target.contract_id, term=target.term)
    if status.end_date is None or status.notice_deadline is None or not status.milestones:
        return BackfillOutcome.NOT_READY, "the renewal has not planned yet"
    change = _store(
        sessions, target=target, status=status, user=user, today=today, cfg=cfg, policy=policy
    )
    return change, ""


__all__ = [
    "FROM_STATUS",
    "PLAN_BACKFILL",
    "BackfillOutcome",
    "BackfillResult",
    "BackfillTarget",
    "PlannedContract",
    "as_read",
    "backfill",
    "check_backfill",
    "plan_as_dict",
    "plan_contracts",
    "plan_from_status",
]
