"""How ``renewals status`` prints a renewal as its workflow reports it: stage and dates,
milestones, scorecard, the versions of every kind, decisions, notice dispatches (late ones said
so), escalations and the outcome."""

import typer

from models.renewal import RenewalStatus
from services.notices import meaning


def print_status(workflow_id: str, st: RenewalStatus) -> None:
    echo = typer.echo
    echo(f"{workflow_id}: {st.stage.value}")
    if st.end_date is not None:
        deadline = st.notice_deadline.isoformat() if st.notice_deadline else "-"
        send_by = f", last day to post a notice {st.send_by.isoformat()}" if st.send_by else ""
        echo(f"  contract ends {st.end_date.isoformat()}, notice deadline {deadline}{send_by}")
    if st.lapsed_on is not None:
        echo(
            f"  lapsed on {st.lapsed_on.isoformat()}: supply at risk until an interim extension "
            "is approved or what happened is recorded"
        )
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
    if st.dispatches:
        echo("notice dispatches:")
    for n in st.dispatches:
        echo(
            f"  v{n.draft_version} dispatched {n.dispatched_on.isoformat()} by {n.channel.value} "
            f"(reference {n.reference}, recorded by {n.recorded_by}): {meaning(n)}"
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
