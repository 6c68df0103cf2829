"""The buyer's actions in the browser (issue 16): start a renewal, amend the contract, make the
next version by editing terms, record an offer, the supplier's answer and a notice's dispatch,
terminate. Each page is a form (GET) and its post (POST); every post goes through the same
``services`` function as the API and the CLI (the same checks, the identity signed for the
person signed in, the same audit entries), and on success answers 303 to the contract page
with ``?done=<action>``.

A refused post shows the form again as it was typed, with status 422 and each reason next to
its field; a refusal that names no field (ownership 403, the renewal's state or a stale form
409, Temporal down 503) is a notice at the top. Nothing is stored when a post is refused.

This module: what the pages share, and the contract's actions (start, amend, terminate).
The negotiation's forms are :mod:`web.actions_negotiation`.
"""

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from auth.roles import Permission
from models.numbers import PositiveDbInt
from models.users import WebSession
from portal.deps import StateDep, require_web
from portal.problems import to_problem
from portal.state import AppState
from services import renewals as renewal_service
from web import actions_negotiation
from web.actions_common import (
    ActionPage,
    connected,
    detail,
    done_url,
    no_renewal,
    refused,
    term_context,
)
from web.actions_forms import FormState, form_text, parse_date
from web.pages import FormDep, Notice

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
# The negotiation's forms share this router, the one web/__init__.py includes.
router.include_router(actions_negotiation.router)

Buyer = Annotated[WebSession, require_web(Permission.RENEWALS_WRITE)]
Amender = Annotated[WebSession, require_web(Permission.CONTRACTS_WRITE)]


# ---------------------------------------------------------------------------- start


async def _start_context(state: AppState, contract_id: str) -> dict[str, Any]:
    found = await detail(state, contract_id, None)
    stage = found.live.stage.value if found.live else (found.record.stage if found.record else None)
    return {"contract": found.contract, "record": found.record, "stage": stage}


@router.get("/contracts/{contract_id}/start")
async def start_page(
    request: Request, contract_id: str, state: StateDep, session: Buyer
) -> HTMLResponse:
    page = ActionPage(request, session, "start.html")
    return page.render(await _start_context(state, contract_id), FormState())


@router.post("/contracts/{contract_id}/start")
async def start(
    request: Request, contract_id: str, state: StateDep, session: Buyer, _form: FormDep
) -> Response:
    page = ActionPage(request, session, "start.html")
    try:
        args: dict[str, Any] = dict(
            sessions=state.sessions,
            settings=state.settings,
            user=session.user,
            contract_id=contract_id,
        )
        client = await connected(
            state,
            lambda: renewal_service.check_start(sessions=state.sessions, contract_id=contract_id),
        )
        await renewal_service.start(client=client, **args)
    except Exception as exc:
        context = await _start_context(state, contract_id)
        return refused(page, exc, context, FormState(), fields=())
    return RedirectResponse(done_url(contract_id, "start"), status_code=303)


# ---------------------------------------------------------------------------- amend

AMEND_FIELDS = ("end_date", "notice_period_days", "reason")


async def _amend_context(state: AppState, contract_id: str) -> dict[str, Any]:
    found = await detail(state, contract_id, None)
    return {"contract": found.contract, "plan": found.plan}


def _seen(contract: Any) -> dict[str, str]:
    return {
        "seen_end_date": contract.end_date.isoformat(),
        "seen_notice_period_days": str(contract.notice_period_days),
    }


@router.get("/contracts/{contract_id}/amend")
async def amend_page(
    request: Request, contract_id: str, state: StateDep, session: Amender
) -> HTMLResponse:
    page = ActionPage(request, session, "amend.html")
    context = await _amend_context(state, contract_id)
    contract = context["contract"]
    values = {
        "end_date": contract.end_date.isoformat(),
        "notice_period_days": str(contract.notice_period_days),
        "reason": "",
        **_seen(contract),
    }
    return page.render(context, FormState(values=values))


@router.post("/contracts/{contract_id}/amend")
async def amend(
    request: Request, contract_id: str, state: StateDep, session: Amender, form: FormDep
) -> Response:
    page = ActionPage(request, session, "amend.html")
    t = page.t
    names = (*AMEND_FIELDS, "seen_end_date", "seen_notice_period_days")
    typed = FormState(values={n: form_text(form, n) for n in names})
    context = await _amend_context(state, contract_id)
    contract = context["contract"]
    # A form opened before someone else amended the contract would undo their change.
    if (typed.values["seen_end_date"], typed.values["seen_notice_period_days"]) != (
        contract.end_date.isoformat(),
        str(contract.notice_period_days),
    ):
        typed.values.update(_seen(contract))
        notice = Notice(
            "error",
            t.gettext(
                "The contract was amended since this form was opened (now: end date %(end)s, "
                "notice period %(days)s); nothing was changed. Check the values and send again.",
                end=t.date(contract.end_date),
                days=t.days(contract.notice_period_days),
            ),
        )
        return page.render(context, typed, notice=notice, status_code=409)
    end_date: date | None = None
    if typed.values["end_date"].strip():
        end_date = parse_date(typed, "end_date", t)
    notice_days: int | None = None
    raw_days = typed.values["notice_period_days"].strip()
    if raw_days:
        if raw_days.isdigit() and len(raw_days) <= 5:
            notice_days = int(raw_days)
        else:
            typed.add("notice_period_days", t.gettext("Enter a whole number of days."))
    if typed.failed:
        return page.render(context, typed, status_code=422)
    if end_date == contract.end_date:
        end_date = None  # unchanged: the amendment changes what the person changed
    if notice_days == contract.notice_period_days:
        notice_days = None
    if end_date is None and notice_days is None:
        typed.general.append(t.gettext("Change the end date or the notice period."))
        return page.render(context, typed, status_code=422)
    try:
        args: dict[str, Any] = dict(
            sessions=state.sessions,
            user=session.user,
            contract_id=contract_id,
            end_date=end_date,
            notice_period_days=notice_days,
            reason=typed.values["reason"],
        )
        client = await connected(state, lambda: renewal_service.check_amendment(**args))
        await renewal_service.amend(client=client, keys=state.identity, **args)
    except Exception as exc:
        return refused(page, exc, context, typed, fields=AMEND_FIELDS)
    return RedirectResponse(done_url(contract_id, "amend"), status_code=303)


# ---------------------------------------------------------------------------- terminate


@router.get("/contracts/{contract_id}/terms/{term}/terminate")
async def terminate_page(
    request: Request, contract_id: str, term: PositiveDbInt, state: StateDep, session: Buyer
) -> HTMLResponse:
    page = ActionPage(request, session, "terminate.html")
    context = await term_context(state, contract_id, term)
    return no_renewal(page, context) or page.render(context, FormState(values={"reason": ""}))


@router.post("/contracts/{contract_id}/terms/{term}/terminate")
async def terminate(
    request: Request,
    contract_id: str,
    term: PositiveDbInt,
    state: StateDep,
    session: Buyer,
    form: FormDep,
) -> Response:
    page = ActionPage(request, session, "terminate.html")
    typed = FormState(values={"reason": form_text(form, "reason")})
    if not typed.values["reason"].strip():
        typed.add("reason", page.t.gettext("Required: say why the contract is not renewed."))
        context = await term_context(state, contract_id, term)
        return no_renewal(page, context) or page.render(context, typed, status_code=422)
    try:
        args: dict[str, Any] = dict(
            sessions=state.sessions,
            user=session.user,
            contract_id=contract_id,
            term=term,
            reason=typed.values["reason"].strip(),
        )
        client = await connected(
            state, lambda: renewal_service.check_cancel(user=session.user, reason=args["reason"])
        )
        await renewal_service.cancel(client=client, keys=state.identity, **args)
    except Exception as exc:
        problem = to_problem(exc)
        if problem.status == 404:
            raise problem from None
        context = await term_context(state, contract_id, term)
        return refused(page, exc, context, typed, fields=("reason",))
    return RedirectResponse(done_url(contract_id, "terminate"), status_code=303)
