"""`renewals pipeline`, `renewals show` and `renewals export`: what procurement reads."""

import asyncio
import itertools
import json
from dataclasses import asdict
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from temporalio.client import Client

from auth.roles import Permission
from cli.common import load_settings
from cli.identity import ByOption, acting_user, login_name
from config import clock
from config.temporal import connect
from models.drafts import DraftView
from models.renewal import DraftKind
from services import audit, renewal_detail
from services import drafts as draft_service
from services import notices as notice_service
from services.db import make_engine, make_session_factory, transaction
from services.imports import ImportKind, export_csv
from store.reads import pipeline as pipeline_reads

app = typer.Typer()

JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable output")]


def _console() -> Console:
    console = Console()
    return console if console.is_terminal else Console(width=200)


@app.command()
def pipeline(
    stage: Annotated[str | None, typer.Option(help="Only this stage, e.g. legal_review")] = None,
    supplier: Annotated[str | None, typer.Option(help="Only this supplier id")] = None,
    owner: Annotated[str | None, typer.Option(help="Only this owner")] = None,
    ends_from: Annotated[str | None, typer.Option(help="End date on or after (YYYY-MM-DD)")] = None,
    ends_to: Annotated[str | None, typer.Option(help="End date on or before (YYYY-MM-DD)")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 500,
    as_json: JsonOption = False,
) -> None:
    """Every contract with its next milestone, notice deadline, send-by date, stage, days left,
    score and recommendation. The dates are the stored plan of the running renewal; a contract
    whose renewal has not started shows a preview, marked "preview"."""
    settings = load_settings()
    try:
        bounds = [date.fromisoformat(d) if d else None for d in (ends_from, ends_to)]
    except ValueError as exc:
        typer.echo(f"--ends-from/--ends-to: {exc}", err=True)
        raise typer.Exit(2) from None
    if stage is not None and stage not in pipeline_reads.stage_names():
        typer.echo(
            f"--stage: unknown stage {stage!r} (one of {', '.join(pipeline_reads.stage_names())})",
            err=True,
        )
        raise typer.Exit(2)
    engine = make_engine(settings.resolved_database_url)
    with transaction(make_session_factory(engine)) as session:
        items, total = pipeline_reads.pipeline(
            session,
            today=clock.today(),
            policy=settings.renewal_policy,
            cfg=settings.calendar_settings,
            flt=pipeline_reads.PipelineFilter(
                stage=stage,
                supplier_id=supplier,
                owner=owner,
                ends_from=bounds[0],
                ends_to=bounds[1],
            ),
            limit=limit,
        )
    engine.dispose()
    if as_json:
        typer.echo(
            json.dumps(
                {"total": total, "items": [asdict(i) for i in items]},
                default=str,
                ensure_ascii=False,
                indent=2,
            )
        )
        return
    table = Table(
        title=f"Renewal pipeline ({len(items)} of {total})",
        caption="plan: stored = the running renewal's plan; preview = no renewal running, the "
        "dates its workflow would plan today"
        if any(i.plan_preview for i in items)
        else None,
    )
    for col in (
        "contract",
        "supplier",
        "owner",
        "end date",
        "days",
        "notice deadline",
        "send by",
        "stage",
        "next milestone",
        "plan",
        "score",
        "recommendation",
    ):
        table.add_column(col)
    for i in items:
        nxt = i.next_milestone
        table.add_row(
            i.contract_id,
            i.supplier_name,
            i.owner,
            i.end_date.isoformat(),
            str(i.days_to_expiry),
            i.notice_deadline.isoformat(),
            i.send_by.isoformat() if i.send_by else "-",
            i.stage,
            f"{nxt.kind} {nxt.due.isoformat()} ({nxt.days_left:+d} d)" if nxt else "-",
            "preview" if i.plan_preview else "stored",
            f"{i.score} {i.grade or ''}".strip() if i.score is not None else "-",
            i.recommendation or "-",
        )
    _console().print(table)


def _diffs(drafts: list[DraftView]) -> list[dict[str, Any]]:
    reneg = [d for d in drafts if d.kind is DraftKind.RENEGOTIATION]
    return [asdict(draft_service.diff(a, b)) for a, b in itertools.pairwise(reneg)]


@app.command()
def show(
    contract_id: str,
    term: Annotated[int | None, typer.Option(help="Term (default: the current one)")] = None,
    as_json: JsonOption = False,
) -> None:
    """One renewal in full: the term's stored plan (marked "preview" before the renewal has
    stored one), milestones, scorecard with evidence, market signals, draft versions of every
    kind and the diffs of the proposals, decisions, notice dispatches and events."""
    settings = load_settings()
    engine = make_engine(settings.resolved_database_url)

    async def gather() -> renewal_detail.RenewalDetail:
        client: Client | None
        try:
            client = await asyncio.wait_for(connect(settings), timeout=5)
        except Exception:  # the stored record is shown without the live view
            client = None
        return await renewal_detail.detail(
            sessions=make_session_factory(engine),
            client=client,
            settings=settings,
            today=clock.today(),
            contract_id=contract_id,
            term=term,
        )

    found = asyncio.run(gather())
    engine.dispose()
    data: dict[str, Any] = {
        "contract": found.contract.model_dump(mode="json"),
        "renewal": asdict(found.record) if found.record else None,
        "live": found.live.model_dump(mode="json") if found.live else None,
        "plan": found.plan.model_dump(mode="json") if found.plan else None,
        "dispatches": [d.model_dump(mode="json") for d in found.dispatches],
        "drafts": [d.model_dump(mode="json", exclude={"body_html"}) for d in found.drafts],
        "diffs": _diffs(found.drafts),
    }
    if as_json:
        typer.echo(json.dumps(data, default=str, ensure_ascii=False, indent=2))
        return
    out = _console()
    c = found.contract
    out.print(
        f"[bold]{c.id}[/bold] {c.title} — {c.supplier_id}, owner {c.owner}, "
        f"term {c.current_term}, ends {c.end_date.isoformat()}"
    )
    live = found.live
    if live:
        out.print(f"stage {live.stage.value}")
    plan = found.plan
    if plan:
        which = "preview: no renewal has stored a plan" if plan.preview else "stored plan"
        send_by = f"; send-by {plan.send_by.isoformat()}" if plan.send_by else ""
        out.print(
            f"plan ({which}, term {plan.term}): end date {plan.end_date.isoformat()}; "
            f"notice deadline {plan.notice_deadline.isoformat()}{send_by}"
        )
        for p in plan.milestones:
            late = " (late)" if p.late else ""
            out.print(f"  {p.kind.value:<17} due {p.due.isoformat()}  {p.state.value}{late}")
    elif live:
        for m in live.milestones:
            out.print(f"  {m.kind.value:<17} {m.due.isoformat()}  {m.state.value}")
    record = found.record
    card = record.scorecard if record else None
    if card:
        out.print(
            f"scorecard: total {card.get('total')} grade {card.get('grade')} -> "
            f"{card.get('recommendation')}"
        )
        for kpi in card.get("kpis", []):
            out.print(f"  {kpi.get('name'):<18} {kpi.get('score')}  {kpi.get('evidence')}")
        market = card.get("market") or {}
        for signal in market.get("signals", []):
            out.print(f"  market: {signal.get('kind')}: {signal.get('implication')}")
    for d in found.drafts:
        answers = f" answers: {d.answers_comment}" if d.answers_comment else ""
        out.print(
            f"draft {d.kind.value} v{d.version} {d.content_hash[:12]} "
            f"(requested by {d.requested_by}){answers}"
        )
    for n in found.dispatches:
        late = f"LATE: {notice_service.LATE}" if n.late else "in time"
        out.print(
            f"notice v{n.draft_version} dispatched {n.dispatched_on.isoformat()} by "
            f"{n.channel.value} (reference {n.reference}, recorded by {n.recorded_by}): {late}"
        )
    for diff in data["diffs"]:
        out.print(f"changes v{diff['from_version']} -> v{diff['to_version']}:")
        for clause in diff["clauses"]:
            out.print(f"  {clause.get('label')}: {clause.get('before')} -> {clause.get('after')}")
    if record:
        for dec in record.decisions:
            out.print(
                f"decision: {dec.decision} of v{dec.draft_version} by {dec.reviewer}"
                f"{': ' + dec.comment if dec.comment else ''}"
            )
        for ev in record.events:
            out.print(f"event: {ev.kind} {json.dumps(ev.detail, default=str, ensure_ascii=False)}")


@app.command()
def export(
    kind: Annotated[ImportKind, typer.Argument(help="What to export, in the import layout")],
    out: Annotated[Path | None, typer.Option(help="Write here instead of standard output")] = None,
    by: ByOption = None,
) -> None:
    """Records as CSV in the import layout; cells that a spreadsheet would run as a formula
    (=, +, -, @) are neutralised. Needs the export permission; audited as the API's export."""
    settings = load_settings()
    user = acting_user(settings, claimed=by, permission=Permission.EXPORT, default=login_name())
    engine = make_engine(settings.resolved_database_url)
    with transaction(make_session_factory(engine)) as session:
        audit.record(
            session,
            actor=user.username,
            action=audit.AuditAction.EXPORT,
            subject_type=kind.value,
            subject_id="csv",
            detail={"via": "cli", "out": str(out) if out is not None else "stdout"},
        )
        text = "".join(export_csv(session, kind=kind))
    engine.dispose()
    if out is None:
        typer.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8-sig")  # Excel opens UTF-8 CSV with a BOM correctly
        typer.echo(f"{kind.value} written to {out}", err=True)
