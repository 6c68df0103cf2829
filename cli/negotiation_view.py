"""``renewals negotiation`` as text: the plan's targets and limits, the version events, where
each version stands, the breaches of the current version and the hearings."""

from collections.abc import Callable

import typer

from models.negotiation import (
    ApprovalWithdrawn,
    NegotiationView,
    OfferPresented,
    SupplierAnswer,
    VersionApproved,
    VersionEvent,
    VersionStatus,
    VersionSuperseded,
)
from services.negotiation import Negotiation

__all__ = ["describe_event", "print_negotiation"]


def describe_event(event: VersionEvent) -> str:
    """One version event in a line."""
    if isinstance(event, VersionApproved):
        return f"v{event.version} approved on {event.on.isoformat()} by {event.by}"
    if isinstance(event, OfferPresented):
        return f"v{event.version} presented to the supplier on {event.on.isoformat()} by {event.by}"
    if isinstance(event, SupplierAnswer):
        line = (
            f"v{event.version} {event.answer.value} by the supplier on {event.on.isoformat()} "
            f"(recorded by {event.recorded_by})"
        )
        if event.confirmed_by or event.reference:
            line += (
                f"; confirmed by {event.confirmed_by or '-'}, reference {event.reference or '-'}"
            )
        return line + (f": {event.note}" if event.note else "")
    if isinstance(event, VersionSuperseded):
        return f"v{event.version} superseded by v{event.by_version}"
    if isinstance(event, ApprovalWithdrawn):
        return f"v{event.version} approval withdrawn on {event.on.isoformat()}: {event.reason}"
    raise AssertionError(f"unknown version event {event!r}")  # pragma: no cover


def _standing(v: VersionStatus) -> str:
    parts: list[str] = []
    if v.approved_hash is not None:
        on = v.approved_on.isoformat() if v.approved_on else "-"
        parts.append(f"approved {on} (hash {v.approved_hash[:12]})")
    elif v.withdrawn:
        parts.append("approval withdrawn")
    else:
        parts.append("not approved")
    if v.presented_on is not None:
        parts.append(f"presented {v.presented_on.isoformat()} by {v.presented_by or '-'}")
    if v.answer is not None:
        on = v.answered_on.isoformat() if v.answered_on else "-"
        parts.append(f"{v.answer.value} {on}")
    if v.superseded_by is not None:
        parts.append(f"superseded by v{v.superseded_by}")
    return ", ".join(parts)


def _plan(view: NegotiationView, echo: Callable[[str], None]) -> None:
    plan = view.plan
    if plan is None:
        echo("plan: none recorded (the renewal has not reached its gather-facts milestone)")
        return
    echo(
        f"plan (internal, never in the supplier's letter): recommendation "
        f"{plan.recommendation.value}, currency {plan.currency}"
    )
    width = max((len(t.label) for t in plan.terms), default=0)
    for t in plan.terms:
        echo(f"  {t.label:<{width}}  target {t.target}; limit {t.limit}")


def print_negotiation(found: Negotiation, *, echo: Callable[[str], None] = typer.echo) -> None:
    view = found.view
    where = "live" if found.live else "stored plan only: the workflow could not be asked"
    echo(f"{found.workflow_id}: negotiation ({where})")
    if found.live and not view.active:
        echo(
            "this renewal was started before versions made by people, offers and answers "
            "existed: legal review decides its versions"
        )
    _plan(view, echo)
    if view.state.agreed is not None:
        a = view.state.agreed
        echo(
            f"agreed: v{a.version} (hash {a.content_hash[:12]}), approved "
            f"{a.approved_on.isoformat()}, accepted {a.accepted_on.isoformat()}"
        )
    elif found.live:
        echo("agreed: not yet")
    if view.awaiting_revision is not None:
        echo(
            f"awaiting revision: legal asked for changes to v{view.awaiting_revision}; "
            "make the next version with: renewals version edit"
        )
    if view.state.versions:
        echo("versions:")
        for v in view.state.versions:
            echo(f"  v{v.version}: {_standing(v)}")
    if view.events:
        echo("events:")
        for event in view.events:
            echo(f"  {describe_event(event)}")
    language = view.plan.language if view.plan else "en"
    if view.breaches:
        echo("outside the plan's limits (current version):")
        for b in view.breaches:
            echo(f"  {b.label}: {b.value} (limit: {b.limit}) - {b.reason.text(language)}")
    elif view.plan is not None:
        echo("outside the plan's limits (current version): none")
    if view.hearings:
        echo("hearings:")
        for h in view.hearings:
            stance = ""
            if h.wants_to_continue is not None:
                stance = "; wants to continue" if h.wants_to_continue else "; wants to stop"
            echo(f"  {h.held_on.isoformat()} (recorded by {h.recorded_by}): {h.needs}{stance}")
