"""What the action pages share: a page in the reader's language that keeps what was typed,
a service's refusal shown on the form (fields next to their inputs, the rest as a notice), the
renewal term a page acts on, and the address a successful action goes back to."""

from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse
from temporalio.client import Client

from models.users import WebSession
from portal.problems import to_problem
from portal.state import AppState, TemporalUnavailable
from services import renewal_detail
from web.actions_forms import FormState, place_errors, refusal_notice
from web.pages import Notice, render, translator_for

__all__ = [
    "ActionPage",
    "client_or_none",
    "connected",
    "detail",
    "done_url",
    "no_renewal",
    "refused",
    "term_context",
]


async def connected(state: AppState, check: Callable[[], object]) -> Client:
    """The Temporal client for an action; when Temporal cannot be reached, the action's own
    ``check_*`` runs first (as the CLI does before it connects), so a bad form is still
    refused with its fields named, and only a good one is told to try again (503)."""
    try:
        return await state.temporal.get()
    except TemporalUnavailable:
        check()
        raise


async def client_or_none(state: AppState) -> Client | None:
    """The Temporal client, or None when it is down: a form page still shows what the
    database holds (the post then says it cannot be recorded now)."""
    try:
        return await state.temporal.get()
    except Exception:
        return None


def done_url(contract_id: str, action: str) -> str:
    return f"/contracts/{quote(contract_id, safe='')}?done={action}"


class ActionPage:
    """One action's page: its template and what every render of it needs."""

    def __init__(self, request: Request, session: WebSession, template: str) -> None:
        self.request = request
        self.session = session
        self.template = template
        self.t = translator_for(request, session, "actions")

    def render(
        self,
        context: dict[str, Any],
        form: FormState,
        *,
        notice: Notice | None = None,
        status_code: int = 200,
    ) -> HTMLResponse:
        if notice is None and form.failed and status_code == 422:
            notice = Notice(
                "error",
                self.t.gettext("Nothing was recorded: correct the fields marked below."),
            )
        return render(
            self.request,
            f"actions/{self.template}",
            {**context, "form": form, "notice": notice, "days": self.t.days},
            session=self.session,
            status_code=status_code,
        )


def refused(
    page: ActionPage,
    exc: Exception,
    context: dict[str, Any],
    form: FormState,
    *,
    fields: tuple[str, ...],
    aliases: Mapping[str, str] | None = None,
) -> HTMLResponse:
    """The form again after the service refused: field errors next to their fields (422),
    anything else as the notice at the top with the refusal's status."""
    problem = to_problem(exc)
    if problem.status == 401:
        raise problem from None
    if problem.status == 422:
        place_errors(
            form,
            problem.errors or [],
            page.t,
            fields=fields,
            aliases=aliases,
            labels=page.t.label,
        )
        if not problem.errors:
            form.general.append(problem.detail or problem.title)
        return page.render(context, form, status_code=422)
    return page.render(
        context, form, notice=refusal_notice(problem, page.t), status_code=problem.status
    )


async def detail(state: AppState, contract_id: str, term: int | None) -> Any:
    return await renewal_detail.detail(
        sessions=state.sessions,
        client=await client_or_none(state),
        settings=state.settings,
        today=state.today(),
        contract_id=contract_id,
        term=term,
    )


async def term_context(state: AppState, contract_id: str, term: int) -> dict[str, Any]:
    found = await detail(state, contract_id, term)
    stage = found.live.stage.value if found.live else (found.record.stage if found.record else None)
    return {
        "contract": found.contract,
        "record": found.record,
        "term": term,
        "stage": stage,
        "found": found,
        "today": state.today(),
    }


def no_renewal(page: ActionPage, context: dict[str, Any]) -> HTMLResponse | None:
    """The page saying the term has no renewal yet (404), with the way to start one."""
    if context["record"] is not None:
        return None
    notice = Notice("error", page.t.gettext("This term has no renewal yet: start it first."))
    return page.render({**context, "closed": True}, FormState(), notice=notice, status_code=404)
