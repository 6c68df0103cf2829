"""Renewals through Temporal: start, status, review, amend, terminate, redraft.

Each command finds the contract's current term in the database (unless ``--term`` says which)
and talks to that term's workflow through :mod:`clients.renewals`, never to the database behind
the workflow's back; the one exception is ``amend`` on a contract with no renewal running, which
changes the stored dates directly.
"""

import getpass
import json
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, NoReturn, TypeVar

import typer
from pydantic import ValidationError
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from auth.roles import Permission
from cli.common import db_transaction, fail, load_settings, print_field_errors, run_temporal
from cli.identity import acting_user, audit_cli_action
from clients import renewals
from config.settings import Settings
from models.contract import ContractAmendment, ContractRead, ContractStatus
from models.errors import InvalidInput, NotFound
from models.renewal import (
    RedraftRequest,
    RenewalStatus,
    ReviewDecisionKind,
    ReviewResult,
    ReviewSubmission,
    TerminationRequest,
)
from store.audit import AuditAction
from store.contracts import amend_contract, get_contract
from workflows.ids import renewal_workflow_id

T = TypeVar("T")
Reasoned = TypeVar("Reasoned", TerminationRequest, RedraftRequest)

app = typer.Typer()

ContractId = Annotated[str, typer.Argument(help="The contract's id", show_default=False)]
TermOption = Annotated[
    int | None,
    typer.Option("--term", min=1, help="Contract term (default: the contract's current term)"),
]
ByOption = Annotated[
    str | None,
    typer.Option(
        "--by",
        help="Who is asking; with RENEWALS_API_TOKEN set it defaults to (and must be) the "
        "token's owner",
    ),
]


def _current_user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name (some containers)
        return "cli"


def _contract(settings: Settings, contract_id: str) -> ContractRead:
    with db_transaction(settings) as session:
        try:
            return get_contract(session, contract_id=contract_id)
        except NotFound as exc:
            fail(f"{exc}; see: renewals contracts list")


def _term(settings: Settings, contract_id: str, term: int | None) -> int:
    return term if term is not None else _contract(settings, contract_id).current_term


def _invalid(exc: ValidationError) -> NoReturn:
    print_field_errors(InvalidInput.from_validation_error(exc).errors, heading="invalid input:")
    raise typer.Exit(1)


def _no_renewal(contract_id: str, term: int, err: RPCError) -> NoReturn:
    if err.status == RPCStatusCode.NOT_FOUND:
        fail(
            f"no renewal of contract {contract_id} term {term} is running "
            f"({err.message}); start one with: renewals start {contract_id}"
        )
    raise err


async def _workflow_status(client: Client, workflow_id: str) -> WorkflowExecutionStatus | None:
    try:
        desc = await client.get_workflow_handle(workflow_id).describe()
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            return None
        raise
    return desc.status


# ---------------------------------------------------------------------------- start


@app.command()
def start(
    contract_id: ContractId,
    by: Annotated[
        str | None, typer.Option("--by", help="Who starts it (default: your login name)")
    ] = None,
) -> None:
    """Start the renewal of the contract's current term.

    Safe to repeat: a term has one renewal, and a second start reports the one already there."""
    settings = load_settings()
    contract = _contract(settings, contract_id)
    if contract.status is ContractStatus.TERMINATED:
        fail(f"contract {contract.id} is terminated; there is nothing to renew")
    requested_by = acting_user(
        settings, claimed=by or _current_user(), permission=Permission.RENEWALS_WRITE
    )

    async def action(client: Client) -> renewals.StartResult:
        return await renewals.start_renewal(
            client,
            contract_id=contract.id,
            term=contract.current_term,
            requested_by=requested_by,
            task_queue=settings.temporal_task_queue,
            policy=settings.renewal_policy,
            search_attributes=settings.temporal_search_attributes,
        )

    result = run_temporal(settings, action)
    if result.created:
        audit_cli_action(
            settings,
            actor=requested_by,
            action=AuditAction.START,
            subject_id=result.workflow_id,
            detail={"contract_id": contract.id, "term": contract.current_term},
            key=f"start:{result.workflow_id}:{result.run_id}",
        )
        typer.echo(
            f"started {result.workflow_id} (term {contract.current_term}, "
            f"contract ends {contract.end_date.isoformat()})"
        )
    elif result.status == "RUNNING":
        typer.echo(f"already running: {result.workflow_id}")
    else:
        typer.echo(f"already finished: {result.workflow_id} ({result.status.lower()})")


# ---------------------------------------------------------------------------- status


def _print_status(workflow_id: str, st: RenewalStatus) -> None:
    echo = typer.echo
    echo(f"{workflow_id}: {st.stage.value}")
    if st.end_date is not None:
        deadline = st.notice_deadline.isoformat() if st.notice_deadline else "-"
        send_by = f", last day to post a notice {st.send_by.isoformat()}" if st.send_by else ""
        echo(f"  contract ends {st.end_date.isoformat()}, notice deadline {deadline}{send_by}")
    echo("milestones:")
    if not st.milestones:
        echo("  (not planned yet)")
    for m in st.milestones:
        notes = []
        if m.moved_for_notice:
            notes.append("moved earlier for the notice period")
        if m.completed_at is not None:
            notes.append(f"completed {m.completed_at.date().isoformat()}")
        extra = f"  ({'; '.join(notes)})" if notes else ""
        echo(f"  {m.kind.value:<17} due {m.due.isoformat()}  {m.state.value}{extra}")
    echo("scorecard:")
    sc = st.scorecard
    if sc is None:
        echo("  (not gathered yet)")
    else:
        total = f"{sc.total}" if sc.total is not None else "insufficient data"
        grade = f", grade {sc.grade}" if sc.grade else ""
        echo(f"  total {total}{grade} -> {sc.recommendation.value}")
        for k in sc.kpis:
            score = f"{k.score}" if k.score is not None else "n/a"
            echo(f"  {k.name:<17} {score:>6}  (weight {k.weight})  {k.evidence}")
        for reason in sc.reasons:
            echo(f"  - {reason}")
    echo("drafts:")
    if not st.drafts:
        echo("  (none)")
    for d in st.drafts:
        answers = f", answers: {d.answers_comment}" if d.answers_comment else ""
        echo(
            f"  v{d.version} {d.kind.value}  hash {d.content_hash[:12]}  "
            f"requested by {d.requested_by}{answers}"
        )
    echo("decisions:")
    if not st.decisions:
        echo("  (none)")
    for r in st.decisions:
        comment = f": {r.comment}" if r.comment else ""
        echo(
            f"  {r.decided_at.isoformat(timespec='minutes')}  {r.decision.value} "
            f"v{r.draft_version} by {r.reviewer}{comment}"
        )
    echo("escalations:")
    if not st.escalations:
        echo("  (none)")
    for e in st.escalations:
        echo(f"  - {e}")
    o = st.outcome
    if o is None:
        echo("outcome: (open)")
    else:
        parts = [f"{o.kind.value} on {o.decided_at.date().isoformat()}"]
        if o.new_end_date is not None:
            parts.append(f"new end date {o.new_end_date.isoformat()}")
        if o.approved_version is not None:
            parts.append(f"approved draft v{o.approved_version}")
        if o.next_workflow_id:
            parts.append(f"next: {o.next_workflow_id}")
        if o.reason:
            parts.append(o.reason)
        echo(f"outcome: {', '.join(parts)}")


@app.command()
def status(
    contract_id: ContractId,
    term: TermOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output")] = False,
) -> None:
    """Where a renewal stands, asked of its workflow.

    Stage, milestones with due dates and states, scorecard, drafts, review decisions,
    escalations and outcome."""
    settings = load_settings()
    the_term = _term(settings, contract_id, term)

    async def action(client: Client) -> RenewalStatus:
        try:
            return await renewals.get_status(client, contract_id=contract_id, term=the_term)
        except RPCError as err:
            _no_renewal(contract_id, the_term, err)

    st = run_temporal(settings, action)
    if as_json:
        typer.echo(json.dumps(st.model_dump(mode="json"), indent=2, ensure_ascii=False))
    else:
        _print_status(renewal_workflow_id(contract_id, the_term), st)


# ---------------------------------------------------------------------------- review


@app.command()
def review(
    contract_id: ContractId,
    version: Annotated[int, typer.Option("--version", help="Draft version decided on")],
    decision: Annotated[ReviewDecisionKind, typer.Option("--decision")],
    reviewer: Annotated[
        str | None,
        typer.Option(
            "--reviewer",
            help="Who decides; with RENEWALS_API_TOKEN set it defaults to the token's owner",
        ),
    ] = None,
    comment: Annotated[str, typer.Option("--comment", help="Required changes, reasons")] = "",
    content_hash: Annotated[
        str | None,
        typer.Option("--content-hash", help="Bind the decision to exactly this draft text"),
    ] = None,
    request_id: Annotated[
        str | None,
        typer.Option(
            "--request-id", help="Idempotency key: the same decision sent twice counts once"
        ),
    ] = None,
    term: TermOption = None,
) -> None:
    """Record a legal review decision on a draft.

    The workflow refuses a decision that does not fit (wrong version, the reviewer who asked for
    the draft, renewal not in review) and says why; the command then exits with code 1."""
    settings = load_settings()
    who = acting_user(settings, claimed=reviewer, permission=Permission.REVIEW, option="--reviewer")
    try:
        submission = ReviewSubmission(
            decision=decision,
            reviewer=who,
            draft_version=version,
            content_hash=content_hash,
            comment=comment,
        )
    except ValidationError as exc:
        _invalid(exc)
    the_term = _term(settings, contract_id, term)

    async def action(client: Client) -> ReviewResult:
        try:
            return await renewals.submit_review(
                client,
                contract_id=contract_id,
                term=the_term,
                submission=submission,
                request_id=request_id,
            )
        except RPCError as err:
            _no_renewal(contract_id, the_term, err)

    result = run_temporal(settings, action)
    r = result.record
    typer.echo(
        f"recorded: {r.decision.value} of draft v{r.draft_version} by {r.reviewer}; "
        f"stage now {result.stage.value}"
    )
    if result.new_draft is not None:
        d = result.new_draft
        typer.echo(f"new draft v{d.version} (hash {d.content_hash[:12]}) is ready for review")


# ---------------------------------------------------------------------------- amend


@app.command()
def amend(
    contract_id: ContractId,
    by: ByOption = None,
    end_date: Annotated[
        datetime | None,
        typer.Option("--end-date", formats=["%Y-%m-%d"], help="New end date (YYYY-MM-DD)"),
    ] = None,
    notice_days: Annotated[
        int | None, typer.Option("--notice-days", help="New notice period in days")
    ] = None,
    reason: Annotated[str, typer.Option("--reason")] = "",
) -> None:
    """Change the contract's end date or notice period.

    A running renewal re-plans its milestones; without one, the stored contract is changed."""
    settings = load_settings()
    try:
        amendment = ContractAmendment(
            end_date=end_date.date() if end_date is not None else None,
            notice_period_days=notice_days,
            amended_by=acting_user(settings, claimed=by, permission=Permission.CONTRACTS_WRITE),
            reason=reason,
        )
    except ValidationError as exc:
        _invalid(exc)
    contract = _contract(settings, contract_id)
    term = contract.current_term
    workflow_id = renewal_workflow_id(contract_id, term)

    async def action(client: Client) -> RenewalStatus | None:
        if await _workflow_status(client, workflow_id) is not WorkflowExecutionStatus.RUNNING:
            return None
        return await renewals.amend_renewal(
            client, contract_id=contract_id, term=term, amendment=amendment
        )

    st = run_temporal(settings, action)
    audit_cli_action(
        settings,
        actor=amendment.amended_by,
        action=AuditAction.AMEND,
        subject_id=workflow_id,
        detail=amendment.model_dump(mode="json"),
    )
    if st is not None:
        deadline = st.notice_deadline.isoformat() if st.notice_deadline else "-"
        end = st.end_date.isoformat() if st.end_date else "-"
        typer.echo(
            f"amended through {workflow_id}: contract ends {end}, notice deadline {deadline}; "
            "milestones re-planned"
        )
        return
    with db_transaction(settings) as session:
        try:
            updated = amend_contract(session, contract_id=contract_id, amendment=amendment)
        except InvalidInput as exc:
            print_field_errors(exc.errors, heading="invalid amendment:")
            raise typer.Exit(1) from None
    typer.echo(
        f"amended contract {contract_id} (no renewal running): ends "
        f"{updated.end_date.isoformat()}, notice period {updated.notice_period_days} days"
    )


# ---------------------------------------------------------------------------- terminate, redraft


def _reasoned(
    settings: Settings, model: type[Reasoned], *, by: str | None, reason: str
) -> Reasoned:
    """A termination or redraft request from the acting user, refused with its field named."""
    try:
        return model(
            requested_by=acting_user(settings, claimed=by, permission=Permission.RENEWALS_WRITE),
            reason=reason,
        )
    except ValidationError as exc:
        _invalid(exc)


def _send(
    settings: Settings,
    contract_id: str,
    term: int | None,
    call: Callable[[Client, int], Awaitable[T]],
) -> tuple[T, int]:
    """Send an update to the running renewal of the term; say so when there is none."""
    the_term = _term(settings, contract_id, term)

    async def action(client: Client) -> T:
        try:
            return await call(client, the_term)
        except RPCError as err:
            _no_renewal(contract_id, the_term, err)

    return run_temporal(settings, action), the_term


@app.command()
def terminate(
    contract_id: ContractId,
    reason: Annotated[str, typer.Option("--reason", help="Why the contract ends")],
    by: ByOption = None,
    term: TermOption = None,
) -> None:
    """Decide not to renew: the running renewal ends the contract at its end date."""
    settings = load_settings()
    request = _reasoned(settings, TerminationRequest, by=by, reason=reason)
    st, the_term = _send(
        settings,
        contract_id,
        term,
        lambda client, t: renewals.terminate_renewal(
            client, contract_id=contract_id, term=t, request=request
        ),
    )
    audit_cli_action(
        settings,
        actor=request.requested_by,
        action=AuditAction.CANCEL,
        subject_id=renewal_workflow_id(contract_id, the_term),
        detail={"reason": request.reason},
    )
    end = st.end_date.isoformat() if st.end_date else "its end date"
    typer.echo(
        f"termination recorded for {renewal_workflow_id(contract_id, the_term)}: "
        f"stage {st.stage.value}; the contract ends on {end} without renewal"
    )


@app.command()
def redraft(
    contract_id: ContractId,
    reason: Annotated[str, typer.Option("--reason", help="What the new draft must address")],
    by: ByOption = None,
    term: TermOption = None,
) -> None:
    """Ask for a fresh draft after legal rejected the current one."""
    settings = load_settings()
    request = _reasoned(settings, RedraftRequest, by=by, reason=reason)
    draft, the_term = _send(
        settings,
        contract_id,
        term,
        lambda client, t: renewals.request_redraft(
            client, contract_id=contract_id, term=t, request=request
        ),
    )
    audit_cli_action(
        settings,
        actor=request.requested_by,
        action=AuditAction.REDRAFT_REQUESTED,
        subject_id=renewal_workflow_id(contract_id, the_term),
        detail={"reason": request.reason, "version": draft.version},
    )
    typer.echo(
        f"new draft v{draft.version} ({draft.kind.value}, hash {draft.content_hash[:12]}) "
        f"requested by {draft.requested_by}"
    )
