"""The negotiation's forms (renewal-semantics.md §3, §4): the next version made by editing
terms (each field pre-filled from the version it is based on, the negotiation plan's target
and limit next to it), the offer of the approved version, the supplier's answer (accepted, a
counter-offer with its terms, declined) and the dispatch of an approved non-renewal notice.

Each post is the :mod:`services.negotiation` (or :mod:`services.notices`) action the API and
the CLI call, signed for the person signed in. The version form carries the version it was
made on (``based_on_version``): once another version exists the service refuses it as stale
(409) instead of applying it to terms the person never saw.
"""

from typing import Annotated, Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from auth.roles import Permission
from models.drafts import DraftView
from models.negotiation import NegotiationView, SupplierAnswerKind
from models.notices import DispatchChannel
from models.numbers import PositiveDbInt
from models.renewal import DraftKind, ReviewDecisionKind
from models.users import WebSession
from portal.deps import StateDep, require_web
from portal.problems import to_problem
from portal.state import AppState
from services import negotiation as negotiation_service
from services import notices as notice_service
from services.negotiation_checks import EDITABLE_KINDS
from web.actions_common import (
    ActionPage,
    client_or_none,
    connected,
    done_url,
    no_renewal,
    refused,
    term_context,
)
from web.actions_forms import (
    TERM_ALIASES,
    TERM_FIELDS,
    TERM_NAMES,
    FormState,
    form_text,
    parse_date,
    plan_rows,
    posted_version,
    terms_edit,
    terms_values,
)
from web.pages import FormDep, Notice

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

Buyer = Annotated[WebSession, require_web(Permission.RENEWALS_WRITE)]
TERM = "/contracts/{contract_id}/terms/{term}"


async def _negotiation(state: AppState, contract_id: str, term: int) -> NegotiationView | None:
    try:
        found = await negotiation_service.view(
            sessions=state.sessions,
            client=await client_or_none(state),
            contract_id=contract_id,
            term=term,
        )
    except Exception:  # no renewal yet: the page says so
        return None
    return found.view


def _editable(drafts: list[DraftView]) -> list[DraftView]:
    return [d for d in drafts if d.kind in EDITABLE_KINDS]


def _approved(context: dict[str, Any], draft: DraftView) -> bool:
    record = context["record"]
    return record is not None and any(
        d.draft_version == draft.version
        and d.decision == ReviewDecisionKind.APPROVE.value
        and d.content_hash == draft.content_hash
        for d in record.decisions
    )


async def _context(
    state: AppState, contract_id: str, term: int, page: ActionPage
) -> dict[str, Any]:
    context = await term_context(state, contract_id, term)
    drafts: list[DraftView] = context["found"].drafts
    view = await _negotiation(state, contract_id, term)
    context.update(
        drafts=drafts,
        editable=_editable(drafts),
        latest=max((d.version for d in drafts), default=None),
        negotiation=view,
        plan=plan_rows(view.plan if view else None, page.t),
        term_fields=TERM_FIELDS,
    )
    return context


def _pick(context: dict[str, Any], version: int | None) -> DraftView | None:
    """Version ``version`` if it carries terms, else (None asked) the newest that does."""
    editable: list[DraftView] = context["editable"]
    if version is None:
        return editable[-1] if editable else None
    return next((d for d in editable if d.version == version), None)


def _missing(page: ActionPage, context: dict[str, Any], version: int | None) -> HTMLResponse:
    if version is None:
        text = page.t.gettext("This renewal has no version with terms yet.")
    else:
        text = page.t.gettext("Version %(v)s does not exist or carries no terms.", v=version)
    return page.render(
        {**context, "closed": True}, FormState(), notice=Notice("error", text), status_code=404
    )


# ---------------------------------------------------------------------------- next version

VERSION_FIELDS = (*TERM_NAMES, "note", "based_on_version")


@router.get(f"{TERM}/versions/new")
async def version_page(
    request: Request,
    contract_id: str,
    term: PositiveDbInt,
    state: StateDep,
    session: Buyer,
    based_on: PositiveDbInt | None = None,
) -> HTMLResponse:
    page = ActionPage(request, session, "version.html")
    context = await _context(state, contract_id, term, page)
    if (missing := no_renewal(page, context)) is not None:
        return missing
    base = _pick(context, based_on)
    if base is None:
        return _missing(page, context, based_on)
    values = {
        **terms_values(base.proposed_terms),
        "note": "",
        "based_on_version": str(base.version),
    }
    context["base"] = base
    notice = None
    if base.version != context["latest"]:
        notice = Notice(
            "error",
            page.t.gettext(
                "Version %(v)s is not the current version (%(latest)s is): a version made on "
                "it would be refused.",
                v=base.version,
                latest=context["latest"],
            ),
        )
    return page.render(context, FormState(values=values), notice=notice)


@router.post(f"{TERM}/versions/new")
async def make_version(
    request: Request,
    contract_id: str,
    term: PositiveDbInt,
    state: StateDep,
    session: Buyer,
    form: FormDep,
) -> Response:
    page = ActionPage(request, session, "version.html")
    typed = FormState(values={n: form_text(form, n) for n in VERSION_FIELDS})
    context = await _context(state, contract_id, term, page)
    if (missing := no_renewal(page, context)) is not None:
        return missing
    based_on = posted_version(typed.values["based_on_version"])
    base = _pick(context, based_on) if based_on is not None else None
    if base is None:
        return _missing(page, context, based_on)
    context["base"] = base
    edit = terms_edit(typed, terms_values(base.proposed_terms), page.t)
    if typed.failed:
        return page.render(context, typed, status_code=422)
    try:
        args: dict[str, Any] = dict(
            sessions=state.sessions,
            user=session.user,
            contract_id=contract_id,
            term=term,
            based_on_version=base.version,
            edit=edit,
            note=typed.values["note"].strip(),
        )
        client = await connected(state, lambda: negotiation_service.check_version_edit(**args))
        await negotiation_service.edit_version(client=client, keys=state.identity, **args)
    except Exception as exc:
        if to_problem(exc).status == 404:
            raise
        return refused(page, exc, context, typed, fields=VERSION_FIELDS, aliases=TERM_ALIASES)
    return RedirectResponse(done_url(contract_id, "version"), status_code=303)


# ---------------------------------------------------------------------------- offer

OFFER_FIELDS = ("draft_version", "presented_on", "content_hash", "note")


@router.get(f"{TERM}/offer")
async def offer_page(
    request: Request, contract_id: str, term: PositiveDbInt, state: StateDep, session: Buyer
) -> HTMLResponse:
    page = ActionPage(request, session, "offer.html")
    context = await _context(state, contract_id, term, page)
    if (missing := no_renewal(page, context)) is not None:
        return missing
    current = _pick(context, None)
    if current is None:
        return _missing(page, context, None)
    context.update(current=current, approved=_approved(context, current))
    values = {
        "draft_version": str(current.version),
        "content_hash": current.content_hash,
        "presented_on": state.today().isoformat(),
        "note": "",
    }
    return page.render(context, FormState(values=values))


@router.post(f"{TERM}/offer")
async def record_offer(
    request: Request,
    contract_id: str,
    term: PositiveDbInt,
    state: StateDep,
    session: Buyer,
    form: FormDep,
) -> Response:
    page = ActionPage(request, session, "offer.html")
    typed = FormState(values={n: form_text(form, n) for n in OFFER_FIELDS})
    context = await _context(state, contract_id, term, page)
    if (missing := no_renewal(page, context)) is not None:
        return missing
    posted = posted_version(typed.values["draft_version"])
    current = _pick(context, posted) if posted is not None else None
    if current is None:
        return _missing(page, context, None)
    context.update(current=current, approved=_approved(context, current))
    presented_on = parse_date(typed, "presented_on", page.t)
    if typed.failed or presented_on is None:
        return page.render(context, typed, status_code=422)
    try:
        args: dict[str, Any] = dict(
            sessions=state.sessions,
            user=session.user,
            contract_id=contract_id,
            term=term,
            draft_version=current.version,
            presented_on=presented_on,
            content_hash=typed.values["content_hash"].strip() or None,
            note=typed.values["note"].strip(),
            today=state.today(),
        )
        client = await connected(state, lambda: negotiation_service.check_offer(**args))
        await negotiation_service.record_offer(client=client, keys=state.identity, **args)
    except Exception as exc:
        if to_problem(exc).status == 404:
            raise
        return refused(page, exc, context, typed, fields=OFFER_FIELDS)
    return RedirectResponse(done_url(contract_id, "offer"), status_code=303)


# ---------------------------------------------------------------------------- answer

ANSWER_FIELDS = (
    "draft_version",
    "answer",
    "answered_on",
    "content_hash",
    "confirmed_by",
    "reference",
    "note",
    "counter_terms",
    *TERM_NAMES,
)
ANSWERS = tuple(k.value for k in SupplierAnswerKind)


def _presented(context: dict[str, Any]) -> DraftView | None:
    """The version the supplier answers: the newest presented one, else the newest with terms."""
    view: NegotiationView | None = context["negotiation"]
    if view is not None:
        shown = [v.version for v in view.state.versions if v.presented_on is not None]
        if shown:
            return _pick(context, max(shown))
    return _pick(context, None)


@router.get(f"{TERM}/answer")
async def answer_page(
    request: Request,
    contract_id: str,
    term: PositiveDbInt,
    state: StateDep,
    session: Buyer,
    version: PositiveDbInt | None = None,
) -> HTMLResponse:
    page = ActionPage(request, session, "answer.html")
    context = await _context(state, contract_id, term, page)
    if (missing := no_renewal(page, context)) is not None:
        return missing
    answered = _pick(context, version) if version is not None else _presented(context)
    if answered is None:
        return _missing(page, context, version)
    context["answered"] = answered
    values = {
        **terms_values(answered.proposed_terms),
        "draft_version": str(answered.version),
        "answer": "",
        "answered_on": state.today().isoformat(),
        # Empty: the hash is copied from the copy the supplier signed. Filled in from the
        # version itself, an acceptance would pass the check without anyone comparing the two.
        "content_hash": "",
        "confirmed_by": "",
        "reference": "",
        "note": "",
    }
    return page.render(context, FormState(values=values))


@router.post(f"{TERM}/answer")
async def record_answer(
    request: Request,
    contract_id: str,
    term: PositiveDbInt,
    state: StateDep,
    session: Buyer,
    form: FormDep,
) -> Response:
    page = ActionPage(request, session, "answer.html")
    t = page.t
    typed = FormState(values={n: form_text(form, n) for n in ANSWER_FIELDS})
    context = await _context(state, contract_id, term, page)
    if (missing := no_renewal(page, context)) is not None:
        return missing
    posted = posted_version(typed.values["draft_version"])
    answered = _pick(context, posted) if posted is not None else None
    if answered is None:
        return _missing(page, context, None)
    context["answered"] = answered
    answer = typed.values["answer"]
    if answer not in ANSWERS:
        typed.add("answer", t.gettext("Choose the supplier's answer."))
    answered_on = parse_date(typed, "answered_on", t)
    counter: dict[str, Any] | None = None
    if answer == SupplierAnswerKind.COUNTERED.value:
        counter = terms_edit(typed, terms_values(answered.proposed_terms), t)
    accepted = answer == SupplierAnswerKind.ACCEPTED.value
    if typed.failed or answered_on is None:
        return page.render(context, typed, status_code=422)
    try:
        args: dict[str, Any] = dict(
            sessions=state.sessions,
            user=session.user,
            contract_id=contract_id,
            term=term,
            draft_version=answered.version,
            answer=answer,
            answered_on=answered_on,
            # Only an acceptance is bound to a text; the others leave the hash out.
            content_hash=(typed.values["content_hash"].strip() or None) if accepted else None,
            confirmed_by=typed.values["confirmed_by"].strip() if accepted else "",
            reference=typed.values["reference"].strip() if accepted else "",
            note=typed.values["note"].strip(),
            counter_terms=counter,
            today=state.today(),
        )
        client = await connected(state, lambda: negotiation_service.check_answer(**args))
        await negotiation_service.record_answer(client=client, keys=state.identity, **args)
    except Exception as exc:
        if to_problem(exc).status == 404:
            raise
        return refused(page, exc, context, typed, fields=ANSWER_FIELDS, aliases=TERM_ALIASES)
    return RedirectResponse(done_url(contract_id, "answer"), status_code=303)


# ---------------------------------------------------------------------------- notices

NOTICE_FIELDS = ("draft_version", "dispatched_on", "channel", "reference")
CHANNELS = tuple(c.value for c in DispatchChannel)


def _notices(context: dict[str, Any]) -> list[DraftView]:
    drafts: list[DraftView] = context["drafts"]
    return [d for d in drafts if d.kind is DraftKind.NON_RENEWAL_NOTICE]


@router.get(f"{TERM}/notices")
async def notices_page(
    request: Request, contract_id: str, term: PositiveDbInt, state: StateDep, session: Buyer
) -> HTMLResponse:
    page = ActionPage(request, session, "notices.html")
    context = await _context(state, contract_id, term, page)
    if (missing := no_renewal(page, context)) is not None:
        return missing
    notices = _notices(context)
    context.update(notices=notices, channels=CHANNELS)
    values = {
        "draft_version": str(notices[-1].version) if notices else "",
        "dispatched_on": state.today().isoformat(),
        "channel": "",
        "reference": "",
    }
    return page.render(context, FormState(values=values))


@router.post(f"{TERM}/notices")
async def record_dispatch(
    request: Request,
    contract_id: str,
    term: PositiveDbInt,
    state: StateDep,
    session: Buyer,
    form: FormDep,
) -> Response:
    page = ActionPage(request, session, "notices.html")
    t = page.t
    typed = FormState(values={n: form_text(form, n, limit=200) for n in NOTICE_FIELDS})
    context = await _context(state, contract_id, term, page)
    if (missing := no_renewal(page, context)) is not None:
        return missing
    context.update(notices=_notices(context), channels=CHANNELS)
    version = posted_version(typed.values["draft_version"])
    if version is None:
        typed.add("draft_version", t.gettext("Choose the notice that went out."))
    if typed.values["channel"] not in CHANNELS:
        typed.add("channel", t.gettext("Choose how it was sent."))
    if not typed.values["reference"].strip():
        typed.add("reference", t.gettext("Required: the tracking number, message id or receipt."))
    dispatched_on = parse_date(typed, "dispatched_on", t)
    if typed.failed or dispatched_on is None or version is None:
        return page.render(context, typed, status_code=422)
    try:
        args: dict[str, Any] = dict(
            sessions=state.sessions,
            settings=state.settings,
            user=session.user,
            contract_id=contract_id,
            term=term,
            draft_version=version,
            dispatched_on=dispatched_on,
            channel=typed.values["channel"],
            reference=typed.values["reference"].strip(),
            today=state.today(),
        )
        client = await connected(state, lambda: notice_service.check_dispatch(**args))
        await notice_service.record_dispatch(client=client, keys=state.identity, **args)
    except Exception as exc:
        if to_problem(exc).status == 404:
            raise
        return refused(page, exc, context, typed, fields=NOTICE_FIELDS)
    return RedirectResponse(done_url(contract_id, "notice"), status_code=303)
