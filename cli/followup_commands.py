"""`renewals followups list|record|close-action|interval`: follow-up reviews during a term.

Seed 000's 契約更新後のフォローアップ: every few months (``FOLLOWUP_INTERVAL_MONTHS``, or the
contract's own interval) procurement records the supplier's feedback, internal satisfaction
(CSAT 1-5), willingness to continue (0-10, NPS-style), the supplier's own view, and the issues
and actions raised, each with an owner and a due date. Changes act for the owner of
``RENEWALS_API_TOKEN`` once the database has users (the operator, ``--by``, before); a refusal
prints each field with its reason and exits 1 with nothing stored.
"""

import json
from datetime import UTC, date, datetime
from typing import Annotated, Any

import typer

from auth.roles import Permission
from cli.common import load_settings
from cli.identity import ByOption, acting_user, login_name
from cli.service_calls import CONTRACTS_HINT, early, sessions_for
from config.settings import Settings
from models.followups import SupplierIntent
from models.users import CurrentUser
from services import followups as service

app = typer.Typer(help="Follow-up reviews during a contract's term.", no_args_is_help=True)


def _action(text: str, *, index: int) -> dict[str, Any]:
    """``description|owner|YYYY-MM-DD``; what is missing is left for the service to name."""
    parts = [p.strip() for p in text.split("|")]
    action: dict[str, Any] = {"description": parts[0]}
    if len(parts) > 1 and parts[1]:
        action["owner"] = parts[1]
    if len(parts) > 2 and parts[2]:
        try:
            action["due"] = date.fromisoformat(parts[2])
        except ValueError:
            raise typer.BadParameter(
                f"action {index}: due date {parts[2]!r} is not YYYY-MM-DD", param_hint="--action"
            ) from None
    return action


def _writer(by: str | None) -> tuple[Settings, CurrentUser]:
    """The settings, and the person a change acts for (who may change contracts)."""
    settings = load_settings()
    user = acting_user(
        settings, claimed=by, permission=Permission.CONTRACTS_WRITE, default=login_name()
    )
    return settings, user


@app.command("list")
def list_(
    contract_id: Annotated[str, typer.Argument(help="Contract id")],
    term: Annotated[int | None, typer.Option(min=1, help="Term (default: the current)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output")] = False,
) -> None:
    """The term's scheduled reviews, what was recorded at each, and the open actions."""
    settings = load_settings()
    with sessions_for(settings) as sessions:
        found = early(
            lambda: service.term_followups(
                sessions=sessions, settings=settings, contract_id=contract_id, term=term
            ),
            hint=CONTRACTS_HINT,
        )
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "contract_id": found.contract_id,
                    "term": found.term,
                    "interval_months": found.interval_months,
                    "scheduled": [
                        {"sequence": s.sequence, "due": s.due.isoformat()} for s in found.scheduled
                    ],
                    "followups": [f.model_dump(mode="json") for f in found.followups],
                },
                indent=2,
                ensure_ascii=False,
            )
        )
        return
    typer.echo(
        f"{found.contract_id} term {found.term}: a review every {found.interval_months} month(s)"
    )
    # The page's rows: the scheduled reviews of the current term, or an earlier term's held ones.
    for slot, rec in found.rows:
        if rec is not None and rec.state == "recorded":
            said = f"recorded: CSAT {rec.csat}, NPS {rec.nps}, supplier continues: "
            said += rec.supplier_continue.value if rec.supplier_continue else "-"
        else:
            said = "not recorded"
        shown = slot if slot is not None else rec
        assert shown is not None  # a row has its slot, its review or both
        typer.echo(f"  #{shown.sequence} due {shown.due.isoformat()}  {said}")
    for action in found.open_actions:
        typer.echo(
            f"  open action {action.id}: {action.description} ({action.owner}, "
            f"due {action.due.isoformat()})"
        )


@app.command("record")
def record(
    contract_id: Annotated[str, typer.Argument(help="Contract id")],
    csat: Annotated[int, typer.Option(help="Internal satisfaction, 1-5")],
    nps: Annotated[int, typer.Option(help="Willingness to continue, 0-10")],
    supplier_continues: Annotated[
        SupplierIntent, typer.Option(help="Whether the supplier wants to continue")
    ],
    feedback: Annotated[str, typer.Option(help="The supplier's feedback")] = "",
    continue_on: Annotated[str, typer.Option(help="On what the supplier wants to continue")] = "",
    action: Annotated[
        list[str] | None,
        typer.Option(help='An issue or action: "description|owner|YYYY-MM-DD" (repeatable)'),
    ] = None,
    sequence: Annotated[
        int | None, typer.Option(min=1, help="Which review (default: the one due)")
    ] = None,
    by: ByOption = None,
) -> None:
    """Record a follow-up review of the contract's current term."""
    settings, user = _writer(by)
    data: dict[str, Any] = {
        "csat": csat,
        "nps": nps,
        "supplier_continue": supplier_continues,
        "feedback": feedback,
        "supplier_continue_on": continue_on,
        "sequence": sequence,
        "actions": [_action(a, index=i) for i, a in enumerate(action or [], start=1)],
    }
    with sessions_for(settings) as sessions:
        stored = early(
            lambda: service.record(
                sessions=sessions,
                settings=settings,
                user=user,
                contract_id=contract_id,
                data=data,
                today=datetime.now(UTC).date(),
            ),
            hint=CONTRACTS_HINT,
        )
    typer.echo(
        f"recorded follow-up #{stored.sequence} of {contract_id} term {stored.term} "
        f"({len(stored.actions)} action(s))"
    )


@app.command("close-action")
def close_action(
    contract_id: Annotated[str, typer.Argument(help="Contract id")],
    action_id: Annotated[int, typer.Argument(min=1, help="Action id (see: followups list)")],
    by: ByOption = None,
) -> None:
    """Close an open issue or action."""
    settings, user = _writer(by)
    with sessions_for(settings) as sessions:
        early(
            lambda: service.close_action(
                sessions=sessions, user=user, contract_id=contract_id, action_id=action_id
            ),
            hint=CONTRACTS_HINT,
        )
    typer.echo(f"closed action {action_id} of {contract_id}")


@app.command("interval")
def interval(
    contract_id: Annotated[str, typer.Argument(help="Contract id")],
    months: Annotated[
        int | None, typer.Argument(help="Months between reviews, 1-12; omit for the setting's")
    ] = None,
    by: ByOption = None,
) -> None:
    """Set the contract's own follow-up interval."""
    settings, user = _writer(by)
    with sessions_for(settings) as sessions:
        early(
            lambda: service.set_interval(
                sessions=sessions, user=user, contract_id=contract_id, months=months
            ),
            hint=CONTRACTS_HINT,
        )
    shown = f"{months} month(s)" if months else f"the setting ({settings.followup_interval_months})"
    typer.echo(f"{contract_id}: a follow-up review every {shown}")
