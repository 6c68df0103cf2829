"""Follow-up reviews in the browser (issues 16 and 17): record the current term's review, close
an open issue or action, and set the contract's own review interval. Each post goes through
:mod:`services.followups`, the one implementation behind the API and the CLI (the same checks,
the same audit entries), and on success answers 303 to the contract page with ``?done=``.

A refused post shows the form again as typed, status 422, each reason next to its field (an
action's owner next to that row's owner); a refusal that names no field of the form (a term
that has ended, ownership, an action that is not the contract's) is the notice at the top.
Nothing is stored when a post is refused. Issues and actions are entered in a fixed number of
rows (no JavaScript); a row left blank is not an action.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any, Final

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from auth.roles import Permission
from models.errors import FieldError
from models.followups import ActionKind, FollowUpActionInput, FollowUpInput, SupplierIntent
from models.numbers import PositiveDbInt
from models.users import WebSession
from portal.deps import StateDep, require_web
from portal.problems import to_problem
from portal.state import AppState
from services import followups as service
from services import renewal_detail
from web.actions_common import ActionPage, done_url
from web.actions_forms import FormState, form_text, reason_text, refusal_notice
from web.i18n import Translator
from web.pages import FormDep, Notice

__all__ = ["ACTION_ROWS", "router"]

router = APIRouter(include_in_schema=False)

# Recording, closing and the interval change the contract: procurement, as in the API.
Writer = Annotated[WebSession, require_web(Permission.CONTRACTS_WRITE)]

TEMPLATE = "followup.html"
ACTION_ROWS: Final = 4  # blank rows for issues and actions
FIELDS: Final = ("sequence", "csat", "nps", "supplier_continue", "supplier_continue_on", "feedback")
ROW_PARTS: Final = ("kind", "description", "owner", "due")


def N_(message: str) -> str:
    """A message marked for the catalog, translated where it is shown."""
    return message


def row_name(row: int, part: str) -> str:
    """The form's name of part ``part`` of action row ``row`` (1, 2, ...)."""
    return f"action-{row}-{part}"


def _names() -> tuple[str, ...]:
    rows = tuple(row_name(i, p) for i in range(1, ACTION_ROWS + 1) for p in ROW_PARTS)
    return (*FIELDS, "term", *rows)


# ---------------------------------------------------------------------------- refusals

# The follow-up service's refusals (domain.followup, services.followups), in the catalog's
# words for a Japanese page; each pattern's groups fill the message's placeholders.
_REASONS: Final[tuple[tuple[re.Pattern[str], str, tuple[str, ...]], ...]] = tuple(
    (re.compile(pattern), message, names)
    for pattern, message, names in (
        (
            r"^term (\d+) is not the current term (\d+) \(it has ended\)",
            N_(
                "Term %(term)s has ended (the contract is now in term %(current)s): a "
                "follow-up review is recorded for the current term only."
            ),
            ("term", "current"),
        ),
        (
            r"^term (\d+) is not the current term (\d+)",
            N_("Term %(term)s is not the contract's current term (%(current)s)."),
            ("term", "current"),
        ),
        (
            r"^the term ended on (\d{4}-\d\d-\d\d)",
            N_(
                "This term ended on %(day)s: a follow-up review cannot be recorded for a term "
                "that has ended."
            ),
            ("day",),
        ),
        (
            r"^the term starts on (\d{4}-\d\d-\d\d)",
            N_("This term starts on %(day)s: record its follow-up reviews once it has begun."),
            ("day",),
        ),
        (
            r"^must be between (\d+) and (\d+) months, not (-?\d+)",
            N_("Enter a number of months from %(low)s to %(high)s (not %(value)s)."),
            ("low", "high", "value"),
        ),
        (
            r"^must be between (-?\d+) and (-?\d+), not (-?\d+)",
            N_("Enter a number from %(low)s to %(high)s (not %(value)s)."),
            ("low", "high", "value"),
        ),
        (
            r"^is (\d+) characters long; at most (\d+)",
            N_("Too long: %(length)s characters, at most %(most)s."),
            ("length", "most"),
        ),
        (r"^contains control characters", N_("Contains control characters."), ()),
        (
            r"^at most (\d+), not (\d+)",
            N_("At most %(most)s issues and actions at once (not %(count)s)."),
            ("most", "count"),
        ),
        (r"^is required: who does it", N_("Required: who does it."), ()),
        (r"^is required: by when", N_("Required: by when."), ()),
        (r"^is required$", N_("Required: what is to be done."), ()),
        (r"^is longer than (\d+) characters", N_("At most %(most)s characters."), ("most",)),
        (
            r"^the term has no follow-up review (\d+) \((\d+) planned\)",
            N_("This term has no follow-up review %(n)s (%(planned)s planned)."),
            ("n", "planned"),
        ),
        (
            r"^follow-up review (\d+) is already recorded",
            N_("Follow-up review %(n)s is already recorded."),
            ("n",),
        ),
        (
            r"^every follow-up review of this term is recorded",
            N_("Every follow-up review of this term is recorded."),
            (),
        ),
        (
            r"^this term has no follow-up review",
            N_(
                "This term has no follow-up review: none is held in its last six months "
                "(the renewal is prepared then)."
            ),
            (),
        ),
    )
)


def followup_reason(reason: str, t: Translator) -> str:
    """A refusal of the follow-up service as the reader reads it: the service's own sentence
    on an English page, the catalog's on a Japanese one (dates in the reader's format)."""
    if t.language == "en":
        return reason
    for pattern, message, names in _REASONS:
        found = pattern.search(reason)
        if found is None:
            continue
        values: dict[str, str] = dict(zip(names, found.groups(), strict=True))
        if "day" in values:
            values["day"] = t.date(date.fromisoformat(values["day"]))
        return t.gettext(message, **values)
    return reason_text(reason, t)


def _place(
    form: FormState,
    errors: list[FieldError],
    t: Translator,
    *,
    rows: Mapping[int, int],
    known: set[str],
) -> None:
    """Each refusal next to its field: ``actions[2].owner`` is the owner of the form's row
    that became the third action; one naming no field of this form goes to the top."""
    for error in errors:
        name = error.field
        found = re.fullmatch(r"actions\[(\d+)\]\.(\w+)", name)
        if found is not None and int(found[1]) in rows:
            name = row_name(rows[int(found[1])], found[2])
        elif name == "followup_interval_months":
            name = "interval_months"
        text = followup_reason(error.reason, t)
        if name in known:
            form.add(name, text)
        else:
            form.general.append(text)


# ---------------------------------------------------------------------------- the page


@dataclass(frozen=True, slots=True)
class SlotChoice:
    sequence: int
    due: date
    is_due: bool  # on or before today


async def _context(state: AppState, contract_id: str) -> dict[str, Any]:
    """What the page shows: the contract, its current term's reviews and which of them can
    still be recorded. Read from the database alone (no workflow is asked)."""
    today = state.today()
    found = await renewal_detail.detail(
        sessions=state.sessions,
        client=None,
        settings=state.settings,
        today=today,
        contract_id=contract_id,
        term=None,
    )
    followups = service.term_followups(
        sessions=state.sessions, settings=state.settings, contract_id=contract_id
    )
    recorded = {f.sequence for f in followups.followups if f.state == "recorded"}
    open_slots = [
        SlotChoice(s.sequence, s.due, s.due <= today)
        for s in followups.scheduled
        if s.sequence not in recorded
    ]
    return {
        "contract": found.contract,
        "record": found.record,
        "term": found.contract.current_term,
        "stage": found.record.stage if found.record else None,
        "followups": followups,
        "open_slots": open_slots,
        "ended": today > followups.term_end,
        "default_months": state.settings.followup_interval_months,
        "today": today,
        "rows": range(1, ACTION_ROWS + 1),
        "kinds": tuple(k.value for k in ActionKind),
        "intents": tuple(i.value for i in SupplierIntent),
        "interval_form": FormState(
            values={"interval_months": str(followups.contract_interval_months or "")}
        ),
    }


def _closed_notice(context: Mapping[str, Any], t: Translator) -> Notice | None:
    """Why no review can be recorded now, when none can: the term has ended, or every review
    of it is recorded (or it has none)."""
    followups: service.TermFollowUps = context["followups"]
    if context["ended"]:
        return Notice(
            "error",
            t.gettext(
                "This term ended on %(day)s: a follow-up review cannot be recorded for a term "
                "that has ended.",
                day=t.date(followups.term_end),
            ),
        )
    if not context["open_slots"]:
        if followups.scheduled:
            text = t.gettext("Every follow-up review of this term is recorded.")
        else:
            text = t.gettext(
                "This term has no follow-up review: none is held in its last six months "
                "(the renewal is prepared then)."
            )
        return Notice("error", text)
    return None


@router.get("/contracts/{contract_id}/followups/new")
async def followup_page(
    request: Request, contract_id: str, state: StateDep, session: Writer
) -> HTMLResponse:
    page = ActionPage(request, session, TEMPLATE)
    context = await _context(state, contract_id)
    form = _blank(term=context["term"])
    return page.render(context, form, notice=_closed_notice(context, page.t))


# ---------------------------------------------------------------------------- record


def _whole(form: FormState, name: str, t: Translator) -> int | None:
    typed = form.values.get(name, "").strip()
    if not typed:
        form.add(name, t.gettext("Required: enter a whole number."))
        return None
    if not re.fullmatch(r"-?\d{1,4}", typed):
        form.add(name, t.gettext("Enter a whole number."))
        return None
    return int(typed)


def _actions(form: FormState, t: Translator) -> tuple[list[FollowUpActionInput], dict[int, int]]:
    """The rows the person filled in, as actions, and which row each one came from. A date
    that is not one, or a kind not offered, is refused here; a missing owner or due date is
    the service's to name (as in the API)."""
    out: list[FollowUpActionInput] = []
    rows: dict[int, int] = {}
    kinds = {k.value for k in ActionKind}
    for i in range(1, ACTION_ROWS + 1):
        v = {p: form.values.get(row_name(i, p), "").strip() for p in ROW_PARTS}
        if not (v["description"] or v["owner"] or v["due"]):
            continue
        due: date | None = None
        if v["due"]:
            try:
                due = date.fromisoformat(v["due"])
            except ValueError:
                form.add(row_name(i, "due"), t.gettext("Enter a date as YYYY-MM-DD."))
        v["kind"] = v["kind"] or ActionKind.ACTION.value  # a row posted without its select
        if v["kind"] not in kinds:
            form.add(row_name(i, "kind"), t.gettext("Choose one."))
            continue
        rows[len(out)] = i
        out.append(
            FollowUpActionInput(
                kind=ActionKind(v["kind"]),
                description=form.values.get(row_name(i, "description"), ""),
                owner=v["owner"] or None,
                due=due,
            )
        )
    return out, rows


def _blank(*, term: int | None = None) -> FormState:
    """The form as first shown: nothing typed, each row an action, the term it was opened on
    (a form opened before the contract renewed is then refused, not put on the new term)."""
    values = {name: "" for name in _names()}
    values["term"] = "" if term is None else str(term)
    for i in range(1, ACTION_ROWS + 1):
        values[row_name(i, "kind")] = ActionKind.ACTION.value
    return FormState(values=values)


def _typed(form: FormData) -> FormState:
    values = {n: form_text(form, n) for n in _names()}
    return FormState(values=values)


@router.post("/contracts/{contract_id}/followups")
async def record(
    request: Request, contract_id: str, state: StateDep, session: Writer, form: FormDep
) -> Response:
    page = ActionPage(request, session, TEMPLATE)
    t = page.t
    typed = _typed(form)
    csat = _whole(typed, "csat", t)
    nps = _whole(typed, "nps", t)
    intent = typed.values["supplier_continue"]
    if intent not in {i.value for i in SupplierIntent}:
        typed.add("supplier_continue", t.gettext("Choose one."))
    sequence_raw = typed.values["sequence"].strip()
    sequence = int(sequence_raw) if sequence_raw.isdigit() and len(sequence_raw) < 6 else None
    if sequence_raw and sequence is None:
        typed.add("sequence", t.gettext("Choose one."))
    term_raw = typed.values["term"].strip()
    term = int(term_raw) if term_raw.isdigit() and len(term_raw) < 6 else None
    actions, rows = _actions(typed, t)
    if typed.failed or csat is None or nps is None:
        context = await _context(state, contract_id)
        return page.render(context, typed, status_code=422)
    data = FollowUpInput(
        term=term,
        sequence=sequence,
        csat=csat,
        nps=nps,
        supplier_continue=SupplierIntent(intent),
        supplier_continue_on=typed.values["supplier_continue_on"].strip(),
        feedback=typed.values["feedback"].strip(),
        actions=tuple(actions),
    )
    try:
        service.record(
            sessions=state.sessions,
            settings=state.settings,
            user=session.user,
            contract_id=contract_id,
            data=data,
            today=state.today(),
        )
    except Exception as exc:
        return await _refused(page, state, contract_id, exc, typed, rows=rows)
    return RedirectResponse(done_url(contract_id, "followup"), status_code=303)


async def _refused(
    page: ActionPage,
    state: AppState,
    contract_id: str,
    exc: Exception,
    typed: FormState,
    *,
    rows: Mapping[int, int],
    interval: FormState | None = None,
) -> HTMLResponse:
    """The page again after the service refused: 422 with each reason next to its field,
    anything else as the notice at the top with the refusal's status."""
    problem = to_problem(exc)
    action_missing = problem.status == 404 and "follow-up action" in (problem.detail or "")
    if problem.status == 401 or (problem.status == 404 and not action_missing):
        raise problem from None  # no such contract: the error page
    context = await _context(state, contract_id)
    if interval is not None:
        context["interval_form"] = interval
    if not typed.values.get("term"):
        typed.values["term"] = str(context["term"])
    t = page.t
    if problem.status == 422:
        target = interval if interval is not None else typed
        known = {"interval_months"} if interval is not None else set(_names()) - {"term"}
        _place(target, list(problem.errors), t, rows=rows, known=known)
        if not problem.errors:
            target.general.append(problem.detail or problem.title)
        if target.errors:
            text = t.gettext("Nothing was recorded: correct the fields marked below.")
        else:  # the term, not a field: what is wrong is the list under the notice
            text = t.gettext("Refused; nothing was recorded.")
        return page.render(context, typed, notice=Notice("error", text), status_code=422)
    if problem.status == 404:
        notice = Notice(
            "error",
            t.gettext(
                "This issue or action is not one of this contract's follow-up actions; "
                "nothing was changed."
            ),
        )
    else:
        notice = refusal_notice(problem, t)
    return page.render(context, typed, notice=notice, status_code=problem.status)


# ---------------------------------------------------------------------------- close an action


@router.post("/contracts/{contract_id}/followups/actions/{action_id}/closure")
async def close_action(
    request: Request,
    contract_id: str,
    action_id: PositiveDbInt,
    state: StateDep,
    session: Writer,
    _form: FormDep,
) -> Response:
    page = ActionPage(request, session, TEMPLATE)
    try:
        service.close_action(
            sessions=state.sessions, user=session.user, contract_id=contract_id, action_id=action_id
        )
    except Exception as exc:
        return await _refused(page, state, contract_id, exc, _blank(), rows={})
    return RedirectResponse(done_url(contract_id, "followup_action_closed"), status_code=303)


# ---------------------------------------------------------------------------- the interval


@router.post("/contracts/{contract_id}/followups/interval")
async def set_interval(
    request: Request, contract_id: str, state: StateDep, session: Writer, form: FormDep
) -> Response:
    """The contract's own interval in months; left empty, the organisation's setting."""
    page = ActionPage(request, session, TEMPLATE)
    typed = FormState(values={"interval_months": form_text(form, "interval_months", limit=20)})
    raw = typed.values["interval_months"].strip()
    months: int | None = None
    if raw:
        if re.fullmatch(r"-?\d{1,4}", raw):
            months = int(raw)
        else:
            typed.add("interval_months", page.t.gettext("Enter a whole number."))
            context = {**await _context(state, contract_id), "interval_form": typed}
            notice = Notice(
                "error", page.t.gettext("Nothing was recorded: correct the fields marked below.")
            )
            blank = _blank(term=context["term"])
            return page.render(context, blank, notice=notice, status_code=422)
    try:
        service.set_interval(
            sessions=state.sessions, user=session.user, contract_id=contract_id, months=months
        )
    except Exception as exc:
        return await _refused(page, state, contract_id, exc, _blank(), rows={}, interval=typed)
    return RedirectResponse(done_url(contract_id, "followup_interval"), status_code=303)
