"""The web pages of sign-in, the review queue, a draft page with the decision form, and the
dashboard. What every page shares (rendering in the reader's language, the CSRF-checked form)
is :mod:`web.pages`."""

import hmac
import secrets
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from auth.roles import Permission, home_path
from domain.phrases import LABELS, label
from domain.review import may_approve
from models.numbers import DbInt, PositiveDbInt
from models.renewal import ReviewDecisionKind
from models.users import WebSession
from portal.deps import (
    SESSION_COOKIE,
    SessionDep,
    StateDep,
    WebSettingsDep,
    require_web,
)
from portal.problems import Forbidden, Problem, to_problem
from portal.transport import client_address, served_over_https
from services import drafts as draft_service
from services import renewal_detail, users
from services import renewals as service
from store.reads import dashboard as dashboard_reads
from store.reads import reviews as review_reads
from web import actions_followups
from web.i18n import Translator, translator
from web.pages import (
    FormDep,
    Notice,
    error_page,
    render,
    safe_next,
    same_origin,
    translator_for,
)

__all__ = ["error_page", "kind_label", "router"]

LOGIN_CSRF_COOKIE = "renewals_login_csrf"

router = APIRouter(include_in_schema=False)
# The follow-up reviews' forms of the contract page (issues 16 and 17).
router.include_router(actions_followups.router)


def kind_label(kind: str, language: str, draft_language: str | None = None) -> str:
    """A version's kind in the glossary's words of the page's ``language``; on an English page,
    the Japanese word too when the draft is in Japanese (the letter the reviewer reads is)."""
    words = label(kind, language) if kind in LABELS else translator(language).label(kind)
    if language == "en" and draft_language == "ja" and kind in LABELS:
        return f"{words}（{label(kind, 'ja')}）"
    return words


def _refusal_text(t: Translator, problem: Problem) -> str:
    """A refusal as the page says it: the service's own sentence on an English page; on a
    Japanese one, what the status means (the services speak English)."""
    if t.language == "en":
        return problem.detail or problem.title
    if any(e.field == "content_hash" for e in problem.errors):
        # The workflow's word for a stale form: the text read is not the version's any more.
        return t.gettext(
            "This version changed or was decided while you were reading it: nothing was "
            "recorded. Reload the page and decide again."
        )
    generic = {
        403: t.gettext("You may not make this decision on this version."),
        404: t.gettext("This version does not exist."),
        409: t.gettext(
            "This version changed or was decided while you were reading it: nothing was "
            "recorded. Reload the page and decide again."
        ),
        422: t.gettext("Some values were not accepted: see the fields."),
        503: t.gettext("The workflow did not answer: nothing was recorded. Try again shortly."),
    }
    return generic.get(problem.status, t.gettext("The decision was not recorded."))


# ---------------------------------------------------------------------------- sign-in


@router.get("/login")
def login_page(request: Request, next: str | None = None) -> HTMLResponse:
    token = secrets.token_urlsafe(32)
    response = render(
        request,
        "common/login.html",
        {"csrf_token": token, "next": safe_next(next), "error": None},
        session=None,
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict", max_age=3600, path="/login"
    )
    return response


@router.post("/login")
def login(
    request: Request,
    db: SessionDep,
    web: WebSettingsDep,
    username: Annotated[str, Form(max_length=200)],
    password: Annotated[str, Form(max_length=1024)],
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not cookie or not hmac.compare_digest(cookie, csrf_token) or not same_origin(request):
        raise Forbidden("the sign-in form's security token is missing or stale; reload the page")
    try:
        signed_in = users.sign_in(
            db,
            username=username,
            password=password,
            client=client_address(request, web),
            now=datetime.now(UTC),
            max_failures=web.sign_in_max_failures,
            lockout_minutes=web.sign_in_lockout_minutes,
            session_hours=web.session_hours,
        )
    except users.SignInRefused as refused:
        db.commit()  # a lockout's audit entry, when this attempt was the one to write it
        t = translator_for(request, None, "common")
        if t.language == "en":
            message = str(refused)
        elif refused.throttled:
            message = t.gettext(
                "Too many failed sign-ins for this user name from this address; "
                "try again in a few minutes."
            )
        else:
            message = t.gettext("Unknown user name or wrong password.")
        context = {"csrf_token": cookie, "next": safe_next(next), "error": message}
        return render(
            request,
            "common/login.html",
            context,
            session=None,
            status_code=429 if refused.throttled else 401,
        )
    db.commit()
    secret = signed_in.secret
    response = RedirectResponse(safe_next(next), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        secret,
        httponly=True,
        samesite="lax",
        secure=web.cookie_secure or served_over_https(request, web),
        max_age=web.session_hours * 3600,
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return response


@router.post("/logout")
def logout(
    request: Request,
    db: SessionDep,
    _session: Annotated[WebSession, require_web(Permission.SIGNED_IN)],
    _form: FormDep,
) -> Response:
    users.end_session(db, secret=request.cookies.get(SESSION_COOKIE, ""))
    db.commit()
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


@router.get("/")
def home(session: Annotated[WebSession, require_web(Permission.SIGNED_IN)]) -> Response:
    return RedirectResponse(home_path(session.user.permissions), status_code=303)


# ---------------------------------------------------------------------------- review


@router.get("/reviews")
def review_queue(
    request: Request,
    db: SessionDep,
    state: StateDep,
    session: Annotated[WebSession, require_web(Permission.REVIEW)],
    offset: DbInt = 0,
) -> HTMLResponse:
    items, total = review_reads.review_queue(
        db,
        today=state.today(),
        policy=state.settings.renewal_policy,
        cfg=state.settings.calendar_settings,
        limit=50,
        offset=offset,
    )
    return render(
        request,
        "common/queue.html",
        {
            "items": items,
            "total": total,
            "offset": offset,
            "limit": 50,
            "kind_label": kind_label,
        },
        session=session,
    )


async def _draft_page(
    request: Request,
    *,
    state: Any,
    session: WebSession,
    contract_id: str,
    term: int,
    version: int,
    compare: int | None,
    notice: Notice | None = None,
    status_code: int = 200,
    comment: str = "",
    chosen: str = "",
    field_errors: dict[str, str] | None = None,
) -> HTMLResponse:
    client = None
    try:
        client = await state.temporal.get()
    except Exception:  # the page still shows what the database holds
        client = None
    found = await renewal_detail.detail(
        sessions=state.sessions,
        client=client,
        settings=state.settings,
        today=state.today(),
        contract_id=contract_id,
        term=term,
    )
    # One version sequence whatever the kind: proposals, notices, transition plans, interim
    # extensions are each decided on this page.
    drafts = found.drafts
    draft = next((d for d in drafts if d.version == version), None)
    if draft is None or found.record is None:
        raise Problem(404, "Not found", f"no draft version {version} for this renewal")
    clauses = draft_service.clause_comparison(
        found.contract,
        draft.proposed_terms,
        language=translator_for(request, session, "common").language,
    )
    if compare is not None:
        before = next((d for d in drafts if d.version == compare), None)
    else:  # the version before of the same kind: a notice is not a revision of a proposal
        earlier = [d for d in drafts if d.kind is draft.kind and d.version < version]
        before = earlier[-1] if earlier else None
    diff = draft_service.diff(before, draft) if before is not None and before is not draft else None
    latest = max(d.version for d in drafts)
    decided = [d for d in found.record.decisions if d.draft_version == version]
    live = found.live
    stage = live.stage.value if live else found.record.stage
    events = found.record.events
    # An amendment that contradicted an approval sent the version back: decidable again.
    withdrawn = sum(
        1 for e in events if e.kind == "approval_withdrawn" and e.detail.get("version") == version
    )
    breaches = draft_service.breaches(draft_service.stored_plan(found.record), draft)
    escalated = bool(live and live.escalations) or any(e.kind == "escalation" for e in events)
    outcome = live.outcome.kind.value if live and live.outcome else found.record.outcome
    # Escalation is a flag: an escalated or lapsed renewal's newest version stays decidable.
    open_for_decision = (
        version == latest
        and len(decided) <= withdrawn
        and draft.hash_verified
        and review_reads.decidable(
            stage=stage,
            outcome=outcome,
            kind=draft.kind.value,
            termination_requested=any(e.kind == "termination_requested" for e in events),
        )
    )
    # The date it is due by, read from the term's stored plan (final terms, send-by, end date).
    due = review_reads.due_of(found.plan, draft.kind.value) if found.plan else None
    return render(
        request,
        "common/draft.html",
        {
            "contract": found.contract,
            "record": found.record,
            "draft": draft,
            "versions": drafts,
            "clauses": clauses,
            "breaches": breaches,
            "diff": diff,
            "scorecard": found.record.scorecard,
            "decisions": found.record.decisions,
            "decided": decided,
            "stage": stage,
            "live": live,
            "plan": found.plan,
            "due": due,
            "escalated": escalated,
            "outcome": outcome,
            "dispatches": [d for d in found.dispatches if d.draft_version == version],
            "kind_label": kind_label,
            "open_for_decision": open_for_decision,
            "may_approve": may_approve(
                reviewer=session.user.username,
                version_maker=draft.requested_by,
                renewal_requester=found.record.requested_by,
                contract_owner=found.contract.owner,
                may_review=session.user.can(Permission.REVIEW),
            ),
            "request_id": secrets.token_urlsafe(16),
            "notice": notice,
            "comment": comment,
            "chosen": chosen,
            "decision_error": (field_errors or {}).get("decision"),
            "comment_error": (field_errors or {}).get("comment"),
            "latest": latest,
        },
        session=session,
        status_code=status_code,
    )


@router.get("/reviews/{contract_id}/{term}/{version}")
async def draft_page(
    request: Request,
    contract_id: str,
    term: PositiveDbInt,
    version: PositiveDbInt,
    state: StateDep,
    session: Annotated[WebSession, require_web(Permission.REVIEW)],
    compare: PositiveDbInt | None = None,
    done: Annotated[str | None, Query(max_length=40)] = None,
) -> HTMLResponse:
    notice = None
    if done in {k.value for k in ReviewDecisionKind}:
        t = translator_for(request, session, "common")
        notice = Notice(
            "ok", t.gettext("Your decision was recorded: %(decision)s.", decision=t.label(done))
        )
    return await _draft_page(
        request,
        state=state,
        session=session,
        contract_id=contract_id,
        term=term,
        version=version,
        compare=compare,
        notice=notice,
    )


@router.post("/reviews/{contract_id}/{term}/{version}/decision")
async def decide(
    request: Request,
    contract_id: str,
    term: PositiveDbInt,
    version: PositiveDbInt,
    state: StateDep,
    session: Annotated[WebSession, require_web(Permission.REVIEW)],
    form: FormDep,
) -> Response:
    decision_raw = str(form.get("decision") or "")
    comment = str(form.get("comment") or "")
    content_hash = str(form.get("content_hash") or "") or None
    request_id = str(form.get("request_id") or "")[:100] or None
    try:
        try:
            decision = ReviewDecisionKind(decision_raw)
        except ValueError:
            raise Problem(
                422, "Invalid input", "choose approve, reject or request changes"
            ) from None
        result = await service.decide(
            sessions=state.sessions,
            client=await state.temporal.get(),
            user=session.user,
            keys=state.identity,
            contract_id=contract_id,
            term=term,
            decision=decision,
            draft_version=version,
            content_hash=content_hash,
            comment=comment,
            request_id=request_id,
        )
    except Exception as exc:  # known refusals are shown on the page
        problem = to_problem(exc)
        if problem.status in (401, 404):
            raise problem from None
        t = translator_for(request, session, "common")
        fields = {e.field for e in problem.errors}
        field_errors: dict[str, str] = {}
        known = {k.value for k in ReviewDecisionKind}
        if problem.status == 422 and decision_raw not in known:
            field_errors["decision"] = t.gettext("Choose approve, reject or request changes.")
        if "comment" in fields:
            field_errors["comment"] = t.gettext(
                "A comment is required to %(decision)s.", decision=t.label(decision_raw)
            )
        return await _draft_page(
            request,
            state=state,
            session=session,
            contract_id=contract_id,
            term=term,
            version=version,
            compare=None,
            notice=Notice("error", _refusal_text(t, problem)),
            status_code=problem.status,
            comment=comment,
            chosen=decision_raw if decision_raw in known else "",
            field_errors=field_errors,
        )
    target = version
    if result.new_draft is not None:
        target = result.new_draft.version
    return RedirectResponse(
        f"/reviews/{quote(contract_id)}/{term}/{target}?done={decision.value}", status_code=303
    )


# ---------------------------------------------------------------------------- dashboard


@router.get("/dashboard")
def dashboard(
    request: Request,
    db: SessionDep,
    state: StateDep,
    session: Annotated[WebSession, require_web(Permission.DASHBOARD)],
) -> HTMLResponse:
    data = dashboard_reads.dashboard(db, today=state.today())
    stages = [(name, data.by_stage.get(name, 0)) for name in dashboard_reads.stage_names()]
    return render(
        request,
        "common/dashboard.html",
        {"data": data, "stages": stages, "total": sum(n for _, n in stages)},
        session=session,
    )
