"""Renewals through Temporal: start, status, review, amend, terminate, redraft, dispatch.

Each command is the action of :mod:`services.renewals` that the HTTP API and the web pages carry
out too, for the person :func:`cli.identity.acting_user` resolves; this module only parses the
options, calls the service and prints. What a service checks without the workflow (its
``check_*``: the input, the stored contract and draft, segregation of duties) is asked first, so
a refused command says why before Temporal is reached. A refusal names the field and its reason
and ends the command with exit code 1.

A command works on the contract's current term unless ``--term`` says which; ``amend`` on a
contract with no renewal running changes the stored dates directly.
"""

import getpass
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from functools import partial
from typing import Annotated, TypeVar

import typer
from temporalio.client import Client

from auth.roles import Permission
from cli.common import load_settings
from cli.identity import acting_user
from cli.renewal_status import print_status
from cli.service_calls import (
    CONTRACTS_HINT,
    ByOption,
    ContractId,
    TermOption,
)
from cli.service_calls import early as _early
from cli.service_calls import run as _run
from cli.service_calls import sessions_for as _sessions
from cli.service_calls import signed_call as _signed
from cli.service_calls import signing_keys as _identity
from cli.service_calls import term_of as _term
from models.notices import DispatchChannel
from models.renewal import DraftKind, ReviewDecisionKind, ReviewResult
from models.users import CurrentUser
from services import notices
from services import renewals as service

T = TypeVar("T")

app = typer.Typer()


def _login_name() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name (some containers)
        return "cli"


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
    user = acting_user(
        settings, claimed=by, default=_login_name(), permission=Permission.RENEWALS_WRITE
    )
    with _sessions(settings) as sessions:
        _early(
            lambda: service.check_start(sessions=sessions, contract_id=contract_id),
            hint=CONTRACTS_HINT,
        )

        async def action(client: Client) -> service.Started:
            return await service.start(
                sessions=sessions,
                client=client,
                settings=settings,
                user=user,
                contract_id=contract_id,
            )

        started = _run(settings, action)
    if started.created:
        typer.echo(
            f"started {started.workflow_id} (term {started.term}, "
            f"contract ends {started.contract_end_date.isoformat()})"
        )
    elif started.status == "RUNNING":
        typer.echo(f"already running: {started.workflow_id}")
    else:
        typer.echo(f"already finished: {started.workflow_id} ({started.status.lower()})")


# ---------------------------------------------------------------------------- status


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
    with _sessions(settings) as sessions:
        the_term = _term(sessions, contract_id, term)
    st = _run(
        settings,
        lambda client: service.status(client=client, contract_id=contract_id, term=the_term),
    )
    if as_json:
        typer.echo(json.dumps(st.model_dump(mode="json"), indent=2, ensure_ascii=False))
    else:
        print_status(service.workflow_id(contract_id=contract_id, term=the_term), st)


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

    A decision that does not fit is refused with the field named (a missing comment, a version
    that does not exist or is not under review, an approval by whoever asked for the renewal or
    the draft, a renewal not in review); the command then exits with code 1."""
    settings = load_settings()
    user = acting_user(
        settings, claimed=reviewer, permission=Permission.REVIEW, option="--reviewer"
    )
    with _sessions(settings) as sessions:
        result: ReviewResult = _signed(
            settings,
            sessions,
            user=user,
            check=service.check_decision,
            call=partial(service.decide, request_id=request_id),
            contract_id=contract_id,
            term=_term(sessions, contract_id, term),
            decision=decision,
            draft_version=version,
            content_hash=content_hash,
            comment=comment,
        )
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
    user = acting_user(settings, claimed=by, permission=Permission.CONTRACTS_WRITE)
    new_end = end_date.date() if end_date is not None else None
    with _sessions(settings) as sessions:
        done: service.Amended = _signed(
            settings,
            sessions,
            user=user,
            check=service.check_amendment,
            call=service.amend,
            hint=CONTRACTS_HINT,
            contract_id=contract_id,
            end_date=new_end,
            notice_period_days=notice_days,
            reason=reason,
        )
    if done.workflow_id is not None:
        deadline = done.notice_deadline.isoformat() if done.notice_deadline else "-"
        typer.echo(
            f"amended through {done.workflow_id}: contract ends {done.end_date.isoformat()}, "
            f"notice deadline {deadline}; milestones re-planned"
        )
    else:
        typer.echo(
            f"amended contract {done.contract_id} (no renewal running): ends "
            f"{done.end_date.isoformat()}, notice period {done.notice_period_days} days"
        )


# ---------------------------------------------------------------------------- terminate, redraft


def _reasoned(
    contract_id: str,
    *,
    by: str | None,
    term: int | None,
    reason: str,
    check: Callable[[CurrentUser], object],
    call: Callable[..., Awaitable[T]],
) -> tuple[T, int]:
    """Terminate and redraft alike: the acting user, the service's early check, then the
    service call for the term, with ``reason``."""
    settings = load_settings()
    user = acting_user(settings, claimed=by, permission=Permission.RENEWALS_WRITE)
    _early(lambda: check(user))
    with _sessions(settings) as sessions:
        the_term = _term(sessions, contract_id, term)

        async def action(client: Client) -> T:
            return await call(
                sessions=sessions,
                client=client,
                user=user,
                keys=_identity(settings),
                contract_id=contract_id,
                term=the_term,
                reason=reason,
            )

        return _run(settings, action), the_term


@app.command()
def terminate(
    contract_id: ContractId,
    reason: Annotated[str, typer.Option("--reason", help="Why the contract ends")],
    by: ByOption = None,
    term: TermOption = None,
) -> None:
    """Decide not to renew. A fixed term then ends at its end date; a contract that would
    renew by itself needs its non-renewal notice approved and dispatched in time."""
    st, the_term = _reasoned(
        contract_id,
        by=by,
        term=term,
        reason=reason,
        check=lambda user: service.check_cancel(user=user, reason=reason),
        call=service.cancel,
    )
    end = st.end_date.isoformat() if st.end_date else "its end date"
    wid = service.workflow_id(contract_id=contract_id, term=the_term)
    notice = st.drafts[-1] if st.drafts else None
    if notice is not None and notice.kind is DraftKind.NON_RENEWAL_NOTICE:
        deadline = st.notice_deadline.isoformat() if st.notice_deadline else "its notice deadline"
        typer.echo(
            f"termination recorded for {wid}: stage {st.stage.value}; the non-renewal notice "
            f"(version {notice.version}) is in legal review. The contract ends on {end} only "
            f"if that notice is approved and dispatched by {deadline} (renewals dispatch); "
            "otherwise it renews by its own terms"
        )
        return
    typer.echo(
        f"termination recorded for {wid}: stage {st.stage.value}; "
        f"the contract ends on {end} without renewal"
    )


@app.command()
def redraft(
    contract_id: ContractId,
    reason: Annotated[str, typer.Option("--reason", help="What the new draft must address")],
    by: ByOption = None,
    term: TermOption = None,
) -> None:
    """Ask for a fresh draft after legal rejected the current one."""
    draft, _term_no = _reasoned(
        contract_id,
        by=by,
        term=term,
        reason=reason,
        check=lambda user: service.check_redraft(user=user, reason=reason),
        call=service.redraft,
    )
    typer.echo(
        f"new draft v{draft.version} ({draft.kind.value}, hash {draft.content_hash[:12]}) "
        f"requested by {draft.requested_by}"
    )


# ---------------------------------------------------------------------------- dispatch


@app.command()
def dispatch(
    contract_id: ContractId,
    version: Annotated[int, typer.Option("--version", help="The approved notice's version")],
    on: Annotated[
        datetime, typer.Option("--on", formats=["%Y-%m-%d"], help="When it went out (YYYY-MM-DD)")
    ],
    channel: Annotated[DispatchChannel, typer.Option("--channel", help="How it went out")],
    reference: Annotated[
        str, typer.Option("--reference", help="Tracking number, message id or receipt")
    ],
    by: ByOption = None,
    term: TermOption = None,
) -> None:
    """Record that an approved non-renewal notice went out.

    Refused with the field named, and nothing stored, for a version legal has not approved or
    that is not a notice, a date in the future, or a fixed-term contract. A dispatch after the
    notice deadline is recorded as late: it does not stop the roll-over, and the output says so."""
    settings = load_settings()
    user = acting_user(settings, claimed=by, permission=Permission.RENEWALS_WRITE)
    today = datetime.now(UTC).date()  # the date as the workflow counts it
    with _sessions(settings) as sessions:
        done: notices.Dispatched = _signed(
            settings,
            sessions,
            user=user,
            check=notices.check_dispatch,
            call=notices.record_dispatch,
            settings=settings,
            contract_id=contract_id,
            term=_term(sessions, contract_id, term),
            draft_version=version,
            dispatched_on=on.date(),
            channel=channel,
            reference=reference,
            today=today,
        )
    r = done.record
    typer.echo(
        f"dispatch of notice v{r.draft_version} recorded for {done.workflow_id}: "
        f"{r.dispatched_on.isoformat()} by {r.channel.value}, reference {r.reference}"
    )
    typer.echo(("LATE: " if r.late else "") + notices.meaning(r))
