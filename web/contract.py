"""The contract page of the buyers' workspace (issue 16): a contract's terms in force, the
timeline of a term from its stored plan with where each date comes from, the renewal's events,
versions (with their diffs and the letters in full), decisions, offers and supplier answers,
notices dispatched, the audit entries, and the actions the reader may take now.

Everything shown comes from the services and read models the API uses; no date is computed
here (renewal-semantics.md §1): the provenance the plan stored is only put into the reader's
words."""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from auth.roles import Permission
from models.contract import TermModel
from models.drafts import DraftView
from models.errors import NotAllowed, NotFound
from models.milestones import MilestoneKind
from models.negotiation import NegotiationView, VersionStatus
from models.numbers import DbInt
from models.plans import StoredPlan
from models.renewal import DraftKind
from models.users import WebSession
from portal.deps import SessionDep, StateDep, require_web
from services import drafts as draft_service
from services import followups as followup_service
from services import negotiation as negotiation_service
from services import ownership, renewal_detail
from services.renewals import workflow_id as renewal_workflow_id
from store.reads import contract_page as page_reads
from store.reads import renewals as renewal_reads
from store.reads import suppliers as supplier_reads
from web.contract_provenance import provenance_text
from web.i18n import Translator
from web.pages import render, translator_for

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

AUDIT_PAGE = 50


def N_(message: str) -> str:
    """Marks a message for extraction; it is translated where it is shown."""
    return message


# People's words for what the renewal records (store renewal_events.kind).
EVENT_WORDS: dict[str, str] = {
    "negotiation_plan": N_("Negotiation plan made"),
    "final_terms_issued": N_("Final terms issued"),
    "escalation": N_("Escalated"),
    "lapsed": N_("Lapsed: the end date passed without an agreement"),
    "approval_withdrawn": N_("Approval withdrawn"),
    "notice_dispatched": N_("Notice dispatched"),
    "approved": N_("Approved by legal"),
    "changes_requested": N_("Legal requested changes"),
    "termination_requested": N_("Termination requested"),
    "offer_presented": N_("Offer presented to the supplier"),
    "supplier_answered": N_("Supplier answered"),
    "supplier_hearing": N_("Supplier hearing recorded"),
    "default_renew_as_is": N_("Renewed as is by default"),
    "amendment": N_("Contract amended"),
    "outcome": N_("Outcome recorded"),
}

# The audit trail's actions (store.audit.AuditAction) as people read them.
AUDIT_WORDS: dict[str, str] = {
    "import": N_("Imported"),
    "start": N_("Renewal started"),
    "amend": N_("Contract amended"),
    "cancel": N_("Renewal cancelled"),
    "redraft_requested": N_("Redraft requested"),
    "draft_created": N_("Version made"),
    "decision": N_("Legal decision"),
    "dispatch_recorded": N_("Notice dispatch recorded"),
    "version_edited": N_("Next version made by editing terms"),
    "offer_recorded": N_("Offer recorded"),
    "answer_recorded": N_("Supplier's answer recorded"),
    "hearing_recorded": N_("Supplier hearing recorded"),
    "escalation": N_("Escalated"),
    "renewal_event": N_("Recorded by the renewal"),
    "export": N_("Exported"),
    "decision_refused": N_("Decision refused: identity not proven"),
    "followup_recorded": N_("Follow-up review recorded"),
    "followup_action_closed": N_("Follow-up action closed"),
    "followup_interval_set": N_("Follow-up interval set"),
}

# What the action pages (web/actions*.py) report when they send the person back here with
# ``?done=<action>``.
DONE_WORDS: dict[str, str] = {
    "start": N_("The renewal has started."),
    "amend": N_("The contract has been amended."),
    "terminate": N_("Recorded: the contract will not be renewed."),
    "version": N_("The next version has been made and goes to legal review."),
    "offer": N_("The offer to the supplier has been recorded."),
    "answer": N_("The supplier's answer has been recorded."),
    "notice": N_("The notice's dispatch has been recorded."),
    "followup": N_("The follow-up review has been recorded."),
    "followup_action_closed": N_("The issue or action has been closed."),
    "followup_interval": N_("The follow-up interval of this contract has been set."),
}


@dataclass(frozen=True, slots=True)
class TimelineRow:
    key: str  # the milestone's kind, or notice_deadline
    due: date
    nominal: date | None
    fires_at: Any
    state: str | None
    late: bool
    completed_at: Any
    provenance: list[str]


def timeline(t: Translator, plan: StoredPlan, jurisdiction: str) -> list[TimelineRow]:
    """The stored plan's dates in plan order, the notice deadline among them (by date) when
    the term has one to give (not a fixed term)."""
    rows = [
        TimelineRow(
            key=m.kind.value,
            due=m.due,
            nominal=m.nominal if m.nominal != m.due else None,
            # The reminder's instant in the zone the plan fires in, as it was stored.
            fires_at=m.fires_at.astimezone(ZoneInfo(plan.time_zone)) if m.fires_at else None,
            state=m.state.value,
            late=m.late,
            completed_at=m.completed_at,
            provenance=[provenance_text(t, p, jurisdiction) for p in m.provenance],
        )
        for m in plan.milestones
    ]
    deadline = TimelineRow(
        key="notice_deadline",
        due=plan.notice_deadline,
        nominal=None,
        fires_at=None,
        state=None,
        late=False,
        completed_at=None,
        provenance=[provenance_text(t, p, jurisdiction) for p in plan.notice_provenance],
    )
    if plan.term_model is TermModel.FIXED:
        return rows
    # Stable: on a tie the milestone (send-by on the deadline itself) comes first.
    return sorted([*rows, deadline], key=lambda r: r.due)


@dataclass(frozen=True, slots=True)
class VersionRow:
    draft: DraftView
    current: bool
    superseded_by: int | None
    status: VersionStatus | None
    diff: draft_service.VersionDiff | None
    decisions: list[renewal_reads.DecisionEntry] = field(default_factory=list)


def version_rows(
    drafts: Sequence[DraftView],
    decisions: Sequence[renewal_reads.DecisionEntry],
    negotiation: NegotiationView | None,
) -> list[VersionRow]:
    out: list[VersionRow] = []
    for d in drafts:
        status = negotiation.state.status(d.version) if negotiation is not None else None
        later = [x for x in drafts if x.kind is d.kind and x.version > d.version]
        superseded_by = status.superseded_by if status and status.superseded_by else None
        if superseded_by is None and later:
            superseded_by = later[0].version
        before = draft_service.previous_of(drafts, d)
        out.append(
            VersionRow(
                draft=d,
                current=superseded_by is None,
                superseded_by=superseded_by,
                status=status,
                diff=draft_service.diff(before, d) if before is not None else None,
                decisions=[x for x in decisions if x.draft_version == d.version],
            )
        )
    return out


@dataclass(frozen=True, slots=True)
class Action:
    href: str
    words: str  # the English msgid, translated in the template


def actions(
    *,
    session: WebSession,
    may_change: bool,
    contract_id: str,
    contract_active: bool,
    term: int,
    current_term: bool,
    found: renewal_detail.RenewalDetail,
    versions: Sequence[VersionRow],
    negotiation: NegotiationView | None,
    stage: str,
    outcome: str | None,
) -> list[Action]:
    """What the reader may do on this term now: their permission, the ownership rule and the
    stage all allow it (the action's own page and service check again)."""
    if not may_change or not current_term:
        return []
    user = session.user
    base = f"/contracts/{contract_id}"
    record = found.record
    out: list[Action] = []
    if record is None:
        if user.can(Permission.RENEWALS_WRITE) and contract_active:
            out.append(Action(f"{base}/start", N_("Start the renewal")))
        if user.can(Permission.CONTRACTS_WRITE) and contract_active:
            out.append(Action(f"{base}/amend", N_("Amend the contract")))
        return out
    if user.can(Permission.CONTRACTS_WRITE) and contract_active and outcome is None:
        out.append(Action(f"{base}/amend", N_("Amend the contract")))
    if not user.can(Permission.RENEWALS_WRITE) or outcome is not None:
        return out
    terms = f"{base}/terms/{term}"
    agreed = negotiation is not None and negotiation.state.agreed is not None
    terminating = any(e.kind == "termination_requested" for e in record.events)
    awaiting = negotiation.awaiting_revision if negotiation is not None else None
    proposals = [v for v in versions if v.current and v.draft.kind is DraftKind.RENEGOTIATION]
    based_on = awaiting or (proposals[-1].draft.version if proposals else None)
    if based_on is not None and not agreed and not terminating:
        out.append(Action(f"{terms}/versions/new?based_on={based_on}", N_("Make the next version")))
    for v in versions:
        s = v.status
        if s is None or not v.current or agreed:
            continue
        if s.approved_hash and s.presented_on is None:
            out.append(Action(f"{terms}/offer", N_("Record the offer to the supplier")))
        elif s.presented_on is not None and s.answer is None:
            out.append(Action(f"{terms}/answer", N_("Record the supplier's answer")))
    dispatched = {d.draft_version for d in found.dispatches}
    approved = {d.draft_version for d in record.decisions if d.decision == "approve"}
    notices = [
        v
        for v in versions
        if v.draft.kind is DraftKind.NON_RENEWAL_NOTICE
        and v.draft.version in approved
        and v.draft.version not in dispatched
    ]
    if notices:
        out.append(Action(f"{terms}/notices", N_("Record a notice's dispatch")))
    if not terminating and stage != "completed":
        out.append(Action(f"{terms}/terminate", N_("Terminate: do not renew")))
    return out


def event_summary(t: Translator, kind: str, detail: dict[str, Any]) -> list[str]:
    """The facts of an event people read: its version, who, the answer or outcome, and what a
    person wrote (a comment, a note, the reason not to renew). Reasons the workflow writes
    (escalations, lapses, withdrawals) are English sentences: they are left to the audit
    export rather than put untranslated on a Japanese page."""
    out: list[str] = []
    if isinstance(detail.get("version"), int):
        out.append(t.gettext("version %(n)s", n=detail["version"]))
    elif isinstance(detail.get("draft_version"), int):
        out.append(t.gettext("version %(n)s", n=detail["draft_version"]))
    for key in ("reviewer", "by", "recorded_by", "requested_by", "amended_by"):
        if isinstance(detail.get(key), str) and detail[key]:
            out.append(t.gettext("by %(who)s", who=detail[key]))
            break
    if isinstance(detail.get("answer"), str):
        out.append(t.label(detail["answer"]))
    if isinstance(detail.get("kind"), str) and detail["kind"] in {
        "renewed",
        "rolled_over",
        "not_renewed",
        "lapsed",
        "interim_extension",
        "terminated",
    }:
        out.append(t.label(detail["kind"]))
    typed = (
        ("comment", "note", "reason") if kind == "termination_requested" else ("comment", "note")
    )
    for key in typed:
        if isinstance(detail.get(key), str) and detail[key]:
            out.append(f"“{detail[key]}”")
    return out


def _not_found(
    request: Request, session: WebSession, contract_id: str, term: int | None
) -> HTMLResponse:
    return render(
        request,
        "contract/not_found.html",
        {"contract_id": contract_id, "term": term},
        session=session,
        status_code=404,
    )


@router.get("/contracts/{contract_id}")
async def contract_page(
    request: Request,
    db: SessionDep,
    state: StateDep,
    session: Annotated[WebSession, require_web(Permission.CONTRACTS_READ)],
    contract_id: str,
    term: Annotated[int | None, Query(ge=1, le=10_000)] = None,
    audit_offset: DbInt = 0,
    done: Annotated[str | None, Query(max_length=40)] = None,
) -> HTMLResponse:
    t = translator_for(request, session, "contract")
    try:
        client = await state.temporal.get()
    except Exception:  # the page shows what the database holds
        client = None
    try:
        found = await renewal_detail.detail(
            sessions=state.sessions,
            client=client,
            settings=state.settings,
            today=state.today(),
            contract_id=contract_id,
            term=term,
        )
    except NotFound:
        return _not_found(request, session, contract_id, term)
    contract = found.contract
    if term is not None and term > contract.current_term:
        return _not_found(request, session, contract_id, term)
    the_term = term or contract.current_term
    record = found.record
    renewed_terms = renewal_reads.renewal_terms(db, contract_id=contract_id)
    all_terms = sorted({*renewed_terms, contract.current_term})
    try:
        supplier = supplier_reads.get_supplier(db, supplier_id=contract.supplier_id)
    except NotFound:
        supplier = None
    negotiation: NegotiationView | None = None
    negotiation_live = False
    if record is not None:
        try:
            seen = await negotiation_service.view(
                sessions=state.sessions, client=client, contract_id=contract_id, term=the_term
            )
        except NotFound:
            seen = None
        if seen is not None:
            negotiation, negotiation_live = seen.view, seen.live
    live = found.live
    stage = live.stage.value if live else (record.stage if record else "not_started")
    outcome = (
        live.outcome.kind.value
        if live and live.outcome
        else (record.outcome if record is not None else None)
    )
    versions = version_rows(found.drafts, record.decisions if record else [], negotiation)
    try:
        ownership.refuse_contract_change(db, user=session.user, contract_id=contract_id)
        may_change = True
    except (NotAllowed, NotFound):
        may_change = False
    audit = None
    if session.user.can(Permission.AUDIT_READ):
        subjects = [
            contract_id,
            *(renewal_workflow_id(contract_id=contract_id, term=n) for n in all_terms),
        ]
        entries, total = page_reads.contract_audit(
            db, subject_ids=subjects, limit=AUDIT_PAGE, offset=audit_offset
        )
        audit = {"entries": entries, "total": total, "offset": audit_offset, "limit": AUDIT_PAGE}
    followups = followup_service.term_followups(
        sessions=state.sessions, settings=state.settings, contract_id=contract_id, term=the_term
    )
    context = {
        "followups": followups,
        # Recording a review and closing its actions: as the API, who may change the contract.
        "may_follow_up": may_change
        and session.user.can(Permission.CONTRACTS_WRITE)
        and the_term == contract.current_term,
        "today": state.today(),
        "contract": contract,
        "supplier": supplier,
        "terms": all_terms,
        "term": the_term,
        "current_term": the_term == contract.current_term,
        "record": record,
        "live": live,
        "stage": stage,
        # Escalation is a flag on the term, whatever its stage.
        "escalated": bool(live and live.escalations)
        or any(e.kind == "escalation" for e in (record.events if record else [])),
        "outcome": outcome,
        "plan": found.plan,
        "timeline": timeline(t, found.plan, contract.jurisdiction) if found.plan else [],
        # A fixed term has no notice to give: its deadline and send-by date are not shown.
        "show_send_by": bool(
            found.plan
            and found.plan.term_model is not TermModel.FIXED
            and found.plan.send_by
            and found.plan.get(MilestoneKind.SEND_BY) is None
        ),
        "send_by_provenance": (
            [provenance_text(t, p, contract.jurisdiction) for p in found.plan.send_by_provenance]
            if found.plan
            else []
        ),
        "events": [
            (e, EVENT_WORDS.get(e.kind), event_summary(t, e.kind, e.detail))
            for e in (record.events if record else [])
        ],
        "versions": versions,
        "decisions": record.decisions if record else [],
        "negotiation": negotiation,
        "negotiation_live": negotiation_live,
        "dispatches": found.dispatches,
        "audit": audit,
        "done": DONE_WORDS.get(done or ""),
        "may_review": session.user.can(Permission.REVIEW),
        "audit_words": AUDIT_WORDS,
        "actions": actions(
            session=session,
            may_change=may_change,
            contract_id=contract_id,
            contract_active=contract.status.value == "active",
            term=the_term,
            current_term=the_term == contract.current_term,
            found=found,
            versions=versions,
            negotiation=negotiation,
            stage=stage,
            outcome=outcome,
        ),
    }
    return render(request, "contract/page.html", context, session=session)
