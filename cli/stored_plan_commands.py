"""`renewals plans backfill [--contract ID ...]`: stored plans for renewals that were already
running before plans were stored (migration 0006).

Each running renewal (or each of the given contracts') is asked for its live status, and its
plan and milestone states are stored from it (:func:`services.plans.backfill`), keyed by
contract, term and milestone: running the command again changes nothing. An unknown contract
refuses the whole command before anything is stored; a contract with no running renewal is
reported and the others go on. Each plan written is audited for the person running it.
"""

import json
from dataclasses import asdict
from typing import Annotated

import typer
from temporalio.client import Client

from auth.roles import Permission
from cli.common import engine_for, fail, load_settings, run_temporal
from cli.identity import acting_user
from config import clock
from models.errors import InvalidInput
from services import plans as plan_service
from services.db import make_session_factory

app = typer.Typer(help="Stored renewal plans.")


@app.command()
def backfill(
    contract: Annotated[
        list[str] | None,
        typer.Option(
            "--contract",
            help="Only this contract's renewal (repeat for more; default: every running one)",
        ),
    ] = None,
    by: Annotated[
        str | None,
        typer.Option(
            "--by",
            help="Who runs it; with RENEWALS_API_TOKEN set it defaults to (and must be) the "
            "token's owner",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output")] = False,
) -> None:
    """Store the plan of each running renewal from its workflow's live status."""
    settings = load_settings()
    user = acting_user(settings, claimed=by, permission=Permission.RENEWALS_WRITE)
    engine = engine_for(settings)
    sessions = make_session_factory(engine)
    try:
        # Refused before Temporal is reached: an unknown contract stores nothing.
        plan_service.check_backfill(sessions=sessions, contract_ids=contract or None)
    except InvalidInput as exc:
        engine.dispose()
        fail("\n".join(f"--contract: {e.reason}" for e in exc.errors))

    async def action(client: Client) -> list[plan_service.BackfillResult]:
        return await plan_service.backfill(
            sessions=sessions,
            client=client,
            user=user,
            contract_ids=contract or None,
            today=clock.today(),
            cfg=settings.calendar_settings,
            policy=settings.renewal_policy,
        )

    try:
        results = run_temporal(settings, action)
    finally:
        engine.dispose()
    if as_json:
        typer.echo(json.dumps([asdict(r) for r in results], ensure_ascii=False, indent=2))
        return
    for r in results:
        where = f"{r.contract_id} term {r.term}"
        why = f": {r.detail}" if r.detail else ""
        label = r.outcome.value.replace("_", " ")
        typer.echo(f"{where}: {label}{why}" + (f" ({r.workflow_id})" if r.workflow_id else ""))
    written = sum(
        1
        for r in results
        if r.outcome
        in (plan_service.BackfillOutcome.RESTORED, plan_service.BackfillOutcome.UPDATED)
    )
    typer.echo(f"{written} plan(s) stored, {len(results) - written} unchanged or not running")
