"""The negotiation through Temporal (renewal-semantics.md §3): ``version edit``, ``offer``,
``answer``, ``hearing`` and ``negotiation``.

Each command is the action of :mod:`services.negotiation` that the HTTP API carries out too,
for the person :func:`cli.identity.acting_user` resolves; this module only parses the options,
calls the service and prints. The service's checks (:mod:`services.negotiation_checks`: the
input, the stored renewal and version, the ownership rule) run first, so a refused command
says why before Temporal is reached; the workflow then checks again against its own state. A
refusal names each field and its reason and ends the command with exit code 1.

Terms are edited with options (a clause left out keeps its value) or with ``--file``, a JSON
object of the same fields as the API's ``edit`` (``unit_price``, ``currency``,
``annual_volume``, ``exclusivity``, ``term_months``, ``notice_period_days``,
``payment_terms``, ``price_adjustment``, ``price_adjustment_cap_pct``,
``remove_price_adjustment_cap``, ``service_levels``, ``additional_clauses``).
"""

import asyncio
import json
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import typer
from temporalio.client import Client

from auth.roles import Permission
from cli.common import fail, load_settings
from cli.identity import acting_user
from cli.negotiation_view import print_negotiation
from cli.service_calls import (
    ByOption,
    ContractId,
    TermOption,
    refuse,
    sessions_for,
    signed_call,
    term_of,
)
from config.settings import Settings
from config.temporal import connect
from models.errors import RenewalsError
from models.negotiation import SupplierAnswerKind
from models.renewal import DraftRef, RenewalStatus
from models.users import CurrentUser
from services import negotiation as service
from services import negotiation_checks as checks
from services import renewals as renewal_service

app = typer.Typer()
version_app = typer.Typer(help="Versions made by people: edit the current version's terms.")
app.add_typer(version_app, name="version")

Day = Annotated[datetime, typer.Option("--on", formats=["%Y-%m-%d"], help="When (YYYY-MM-DD)")]
Version = Annotated[int, typer.Option("--version", help="The version's number")]
Hash = Annotated[
    str | None, typer.Option("--hash", help="The version's content hash (the text approved)")
]
Note = Annotated[str, typer.Option("--note", help="In your words; quoted in a new version")]
EditFile = Annotated[
    Path | None,
    typer.Option("--file", help="The edit as a JSON object (instead of the term options)"),
]
CounterFile = Annotated[
    Path | None,
    typer.Option("--counter-file", help="The counter-offer's terms as a JSON object"),
]
UnitPrice = Annotated[str | None, typer.Option("--unit-price", help="Unit price, e.g. 1300.50")]
Currency = Annotated[str | None, typer.Option("--currency", help="ISO 4217 code, e.g. JPY")]
Volume = Annotated[str | None, typer.Option("--volume", help="Annual volume")]
Exclusivity = Annotated[
    bool | None, typer.Option("--exclusivity/--no-exclusivity", help="Exclusive supply or not")
]
TermMonths = Annotated[int | None, typer.Option("--term-months", help="Term length in months")]
NoticeDays = Annotated[int | None, typer.Option("--notice-days", help="Notice period in days")]
PaymentTerms = Annotated[str | None, typer.Option("--payment-terms", help="e.g. Net 60")]
PriceAdjustment = Annotated[
    str | None, typer.Option("--price-adjustment", help="The price adjustment clause")
]
CapPct = Annotated[
    str | None, typer.Option("--cap-pct", help="The price adjustment's cap, in % per review")
]
NoCap = Annotated[bool, typer.Option("--no-cap", help="Remove the price adjustment's cap")]
ServiceLevels = Annotated[str | None, typer.Option("--service-levels", help="Service levels")]
Clauses = Annotated[
    list[str] | None,
    typer.Option("--clause", help="An additional clause (repeatable; replaces the list)"),
]
NoClauses = Annotated[bool, typer.Option("--no-clauses", help="Remove every additional clause")]


def _today() -> date:
    return datetime.now(UTC).date()  # the date as the workflow counts it


def _read_edit(path: Path, option: str) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"), parse_float=Decimal)
    except OSError as exc:
        fail(f"{option}: cannot read {path}: {exc.strerror or exc}")
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        fail(f"{option}: {path} is not a JSON object of terms: {exc}")
    if not isinstance(data, dict):
        fail(f"{option}: {path} must hold a JSON object of terms, not {type(data).__name__}")
    return data


def _edit(
    file: Path | None,
    *,
    option: str,
    cap_pct: str | None,
    no_cap: bool,
    clauses: list[str] | None,
    no_clauses: bool,
    **values: Any,
) -> dict[str, Any] | None:
    """The terms edit the options (or the file) give; None when they give none."""
    given = {field: value for field, value in values.items() if value is not None}
    if cap_pct is not None and no_cap:
        fail("--cap-pct, --no-cap: give one of them")
    if clauses and no_clauses:
        fail("--clause, --no-clauses: give one of them")
    if cap_pct is not None:
        given["price_adjustment_cap_pct"] = cap_pct
    if no_cap:
        given["remove_price_adjustment_cap"] = True
    if clauses or no_clauses:
        given["additional_clauses"] = list(clauses or [])
    if file is not None:
        if given:
            fail(f"{option}: give the terms in the file or as options, not both")
        return _read_edit(file, option)
    return given or None


def _acting(settings: Settings, by: str | None) -> CurrentUser:
    return acting_user(settings, claimed=by, permission=Permission.RENEWALS_WRITE)


def _wid(contract_id: str, term: int) -> str:
    return renewal_service.workflow_id(contract_id=contract_id, term=term)


# ---------------------------------------------------------------------------- version edit


@version_app.command("edit")
def edit_version(
    contract_id: ContractId,
    based_on: Annotated[
        int, typer.Option("--based-on", help="The current version, whose terms you edit")
    ],
    file: EditFile = None,
    unit_price: UnitPrice = None,
    currency: Currency = None,
    volume: Volume = None,
    exclusivity: Exclusivity = None,
    term_months: TermMonths = None,
    notice_days: NoticeDays = None,
    payment_terms: PaymentTerms = None,
    price_adjustment: PriceAdjustment = None,
    cap_pct: CapPct = None,
    no_cap: NoCap = False,
    service_levels: ServiceLevels = None,
    clause: Clauses = None,
    no_clauses: NoClauses = False,
    note: Note = "",
    by: ByOption = None,
    term: TermOption = None,
) -> None:
    """Make the next version by editing the current version's terms (after legal asked for
    changes or rejected it). You are its maker: someone else in legal approves it.

    Refused with each field named, nothing stored: a price not above 0, an unknown currency, a
    notice period longer than the term, an edit that changes nothing, a version that is not the
    current one."""
    settings = load_settings()
    user = _acting(settings, by)
    edit = _edit(
        file,
        option="--file",
        cap_pct=cap_pct,
        no_cap=no_cap,
        clauses=clause,
        no_clauses=no_clauses,
        unit_price=unit_price,
        currency=currency,
        annual_volume=volume,
        exclusivity=exclusivity,
        term_months=term_months,
        notice_period_days=notice_days,
        payment_terms=payment_terms,
        price_adjustment=price_adjustment,
        service_levels=service_levels,
    )
    with sessions_for(settings) as sessions:
        draft: DraftRef = signed_call(
            settings,
            sessions,
            user=user,
            check=checks.check_version_edit,
            call=service.edit_version,
            contract_id=contract_id,
            term=term_of(sessions, contract_id, term),
            based_on_version=based_on,
            edit=edit or {},
            note=note,
        )
    typer.echo(
        f"new version v{draft.version} ({draft.kind.value}, hash {draft.content_hash[:12]}) "
        f"made by {draft.requested_by}, from v{based_on}; it goes to legal review"
    )


# ---------------------------------------------------------------------------- offer


@app.command()
def offer(
    contract_id: ContractId,
    version: Version,
    on: Day,
    content_hash: Hash = None,
    note: Note = "",
    by: ByOption = None,
    term: TermOption = None,
) -> None:
    """Record that the approved version was presented to the supplier (on a date, by you).

    Refused with the field named, nothing stored, for a version legal has not approved or that
    is not the current one, a date in the future, or a hash that is not the approved text's."""
    settings = load_settings()
    user = _acting(settings, by)
    today = _today()
    with sessions_for(settings) as sessions:
        the_term = term_of(sessions, contract_id, term)
        st: RenewalStatus = signed_call(
            settings,
            sessions,
            user=user,
            check=checks.check_offer,
            call=service.record_offer,
            contract_id=contract_id,
            term=the_term,
            draft_version=version,
            presented_on=on.date(),
            content_hash=content_hash,
            note=note,
            today=today,
        )
    typer.echo(
        f"offer of v{version} recorded for {_wid(contract_id, the_term)}: "
        f"presented {on.date().isoformat()} by {user.username}; stage now {st.stage.value}"
    )


# ---------------------------------------------------------------------------- answer


@app.command()
def answer(
    contract_id: ContractId,
    version: Version,
    answer: Annotated[SupplierAnswerKind, typer.Option("--answer", help="What the supplier said")],
    on: Day,
    content_hash: Hash = None,
    confirmed_by: Annotated[
        str, typer.Option("--confirmed-by", help="Accepted: who signed or confirmed for them")
    ] = "",
    reference: Annotated[
        str, typer.Option("--reference", help="Accepted: the evidence (signed copy, mail)")
    ] = "",
    note: Note = "",
    counter_file: CounterFile = None,
    unit_price: UnitPrice = None,
    currency: Currency = None,
    volume: Volume = None,
    exclusivity: Exclusivity = None,
    term_months: TermMonths = None,
    notice_days: NoticeDays = None,
    payment_terms: PaymentTerms = None,
    price_adjustment: PriceAdjustment = None,
    cap_pct: CapPct = None,
    no_cap: NoCap = False,
    service_levels: ServiceLevels = None,
    clause: Clauses = None,
    no_clauses: NoClauses = False,
    by: ByOption = None,
    term: TermOption = None,
) -> None:
    """Record the supplier's answer to the presented version.

    accepted: give --hash (the version agreed), --confirmed-by and --reference. countered: give
    the counter-offer's terms (--counter-file or the term options); they become the next
    version, made by you, for legal review. declined: back to the recommendation (escalated)."""
    settings = load_settings()
    user = _acting(settings, by)
    today = _today()
    counter = _edit(
        counter_file,
        option="--counter-file",
        cap_pct=cap_pct,
        no_cap=no_cap,
        clauses=clause,
        no_clauses=no_clauses,
        unit_price=unit_price,
        currency=currency,
        annual_volume=volume,
        exclusivity=exclusivity,
        term_months=term_months,
        notice_period_days=notice_days,
        payment_terms=payment_terms,
        price_adjustment=price_adjustment,
        service_levels=service_levels,
    )
    with sessions_for(settings) as sessions:
        the_term = term_of(sessions, contract_id, term)
        st: RenewalStatus = signed_call(
            settings,
            sessions,
            user=user,
            check=checks.check_answer,
            call=service.record_answer,
            contract_id=contract_id,
            term=the_term,
            draft_version=version,
            answer=answer,
            answered_on=on.date(),
            content_hash=content_hash,
            confirmed_by=confirmed_by,
            reference=reference,
            note=note,
            counter_terms=counter,
            today=today,
        )
    wid = _wid(contract_id, the_term)
    said = f"answer recorded for {wid}: the supplier {answer.value} v{version}"
    if answer is SupplierAnswerKind.ACCEPTED:
        typer.echo(f"{said}; agreed on hash {(content_hash or '')[:12]}; stage {st.stage.value}")
    elif answer is SupplierAnswerKind.COUNTERED:
        made = service.counter_version(st, answered=version)
        shown = f"v{made.version} (hash {made.content_hash[:12]})" if made else "a new version"
        typer.echo(f"{said}; its terms are {shown}, in legal review")
    else:
        typer.echo(f"{said}; escalated: back to the recommendation; stage {st.stage.value}")


# ---------------------------------------------------------------------------- hearing


@app.command()
def hearing(
    contract_id: ContractId,
    on: Day,
    needs: Annotated[str, typer.Option("--needs", help="What the supplier needs and asks for")],
    continues: Annotated[
        bool | None,
        typer.Option("--continues/--leaves", help="Whether the supplier wants to continue"),
    ] = None,
    by: ByOption = None,
    term: TermOption = None,
) -> None:
    """Record the supplier's stated needs at the first discussion (ヒアリング)."""
    settings = load_settings()
    user = _acting(settings, by)
    today = _today()
    with sessions_for(settings) as sessions:
        the_term = term_of(sessions, contract_id, term)
        signed_call(
            settings,
            sessions,
            user=user,
            check=checks.check_hearing,
            call=service.record_hearing,
            contract_id=contract_id,
            term=the_term,
            held_on=on.date(),
            needs=needs,
            wants_to_continue=continues,
            today=today,
        )
    typer.echo(f"hearing of {on.date().isoformat()} recorded for {_wid(contract_id, the_term)}")


# ---------------------------------------------------------------------------- negotiation


@app.command()
def negotiation(
    contract_id: ContractId,
    term: TermOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output")] = False,
) -> None:
    """The negotiation: the plan's targets and limits, the versions, breaches and hearings.

    Each term's target and limit (internal: never in the supplier's letter), the version
    events, where each version stands, the current version's breaches of the limits, and the
    hearings. Without Temporal, the plan recorded with the renewal."""
    settings = load_settings()
    with sessions_for(settings) as sessions:
        the_term = term_of(sessions, contract_id, term)

        async def gather() -> service.Negotiation:
            client: Client | None
            try:
                client = await asyncio.wait_for(connect(settings), timeout=5)
            except Exception:  # the stored plan is shown without the live view
                client = None
            return await service.view(
                sessions=sessions, client=client, contract_id=contract_id, term=the_term
            )

        try:
            found = asyncio.run(gather())
        except RenewalsError as exc:
            refuse(exc)
    if as_json:
        data = {"workflow_id": found.workflow_id, "live": found.live}
        data |= found.view.model_dump(mode="json")
        typer.echo(json.dumps(data, indent=2, ensure_ascii=False))
        return
    print_negotiation(found)
