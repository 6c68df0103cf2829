"""The account page of the workspace (issue 16): who I am and my roles, the language I read
pages in, how my renewal mails arrive (issue 17: every mail as it happens, or the weekly digest
only; :mod:`services.account_mail`), and my calendar subscription links; and the calendar feed
those links open.

The feed, ``GET /calendar/<secret>.ics``, is public: calendar clients send no cookie, so the
link is the credential. It reads the milestones of the contracts its owner owns, in the owner's
language when they chose one; an unknown or revoked link is a bare 404 that says nothing more.
A new link's secret is shown once, on the page that answers the form that made it (never in a
URL that a browser's history or a proxy's log would keep).
"""

from typing import Annotated

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from auth.roles import Permission
from models.errors import InvalidInput, NotFound
from models.users import WebSession
from portal.deps import SessionDep, StateDep, require_web
from services import account_mail, feed_tokens, users
from web.pages import FormDep, Notice, render, translator_for

__all__ = ["FEED_HEADERS", "router"]

router = APIRouter(include_in_schema=False)

SignedIn = Annotated[WebSession, require_web(Permission.SIGNED_IN)]
# "" in the form: no choice stored, the browser's Accept-Language decides.
_BROWSER = ""
FEED_HEADERS = {"Cache-Control": "private, no-store", "X-Robots-Tag": "noindex"}


def _page(
    request: Request,
    db: SessionDep,
    session: WebSession,
    *,
    notice: Notice | None = None,
    new_link: str | None = None,
    language: str | None = None,
    language_error: str | None = None,
    delivery: str | None = None,
    delivery_error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    chosen = (session.user.language or _BROWSER) if language is None else language
    if delivery is None:
        delivery = account_mail.mail_delivery(db, actor=session.user)
    return render(
        request,
        "account/page.html",
        {
            "user": session.user,
            "roles": sorted(r.value for r in session.user.roles),
            "chosen": chosen,
            "language_error": language_error,
            "delivery": delivery,
            "delivery_error": delivery_error,
            "links": feed_tokens.list_links(db, actor=session.user),
            "new_link": new_link,
            "notice": notice,
        },
        session=session,
        status_code=status_code,
    )


@router.get("/account")
def account_page(
    request: Request, db: SessionDep, session: SignedIn, done: str | None = None
) -> HTMLResponse:
    t = translator_for(request, session, "account")
    notice = None
    if done == "language":
        notice = Notice("ok", t.gettext("Your language was saved."))
    elif done == "mail-delivery":
        notice = Notice("ok", t.gettext("How your mails arrive was saved."))
    elif done == "revoked":
        notice = Notice("ok", t.gettext("The calendar link was revoked: it no longer answers."))
    return _page(request, db, session, notice=notice)


@router.post("/account/language")
def choose_language(request: Request, db: SessionDep, session: SignedIn, form: FormDep) -> Response:
    raw = form.get("language")
    typed = raw if isinstance(raw, str) else None
    try:
        if typed is None:
            raise InvalidInput([])
        users.set_language(db, actor=session.user, language=typed or None)
    except InvalidInput:
        db.rollback()
        t = translator_for(request, session, "account")
        return _page(
            request,
            db,
            session,
            language=(typed or "")[:20],
            language_error=t.gettext("Choose Japanese, English or your browser's language."),
            status_code=422,
        )
    db.commit()
    return RedirectResponse("/account?done=language", status_code=303)


@router.post("/account/mail-delivery")
def choose_mail_delivery(
    request: Request, db: SessionDep, session: SignedIn, form: FormDep
) -> Response:
    """The same service, checks and audit entry as ``PUT /api/v1/me/mail-delivery``."""
    raw = form.get("mail_delivery")
    typed = raw if isinstance(raw, str) else ""
    try:
        account_mail.set_mail_delivery(db, actor=session.user, delivery=typed)
    except InvalidInput:
        db.rollback()
        t = translator_for(request, session, "account")
        return _page(
            request,
            db,
            session,
            delivery=typed[:20],
            delivery_error=t.gettext("Choose every mail as it happens or the weekly digest only."),
            status_code=422,
        )
    db.commit()
    return RedirectResponse("/account?done=mail-delivery", status_code=303)


@router.post("/account/calendar")
def create_calendar_link(
    request: Request, db: SessionDep, session: SignedIn, _form: FormDep
) -> HTMLResponse:
    issued = feed_tokens.create_link(db, actor=session.user)
    db.commit()
    link = str(request.url_for("calendar_feed", token=issued.secret))
    t = translator_for(request, session, "account")
    notice = Notice(
        "ok", t.gettext("Your calendar link was made. Copy it now: it is shown only this once.")
    )
    page = _page(request, db, session, notice=notice, new_link=link, status_code=201)
    # The page holds a secret: no cache, no history snapshot kept by a proxy.
    page.headers["Cache-Control"] = "no-store"
    return page


@router.post("/account/calendar/revoke")
def revoke_calendar_link(
    request: Request, db: SessionDep, session: SignedIn, form: FormDep
) -> Response:
    prefix = str(form.get("prefix") or "")[:16]
    try:
        feed_tokens.revoke_link(db, actor=session.user, prefix=prefix)
    except NotFound:
        db.rollback()
        t = translator_for(request, session, "account")
        notice = Notice(
            "error", t.gettext("That calendar link is not yours or is revoked already.")
        )
        return _page(request, db, session, notice=notice, status_code=404)
    db.commit()
    return RedirectResponse("/account?done=revoked", status_code=303)


@router.get("/calendar/{token}.ics", name="calendar_feed")
def calendar_feed(token: str, db: SessionDep, state: StateDep) -> Response:
    feed = feed_tokens.feed_for(
        db,
        secret=token,
        today=state.today(),
        cfg=state.settings.calendar_settings,
        policy=state.settings.renewal_policy,
        base_url=state.settings.web_base_url,
    )
    if feed is None:
        return Response(status_code=404, headers=FEED_HEADERS)
    db.commit()  # last_used_at
    return Response(feed, media_type="text/calendar; charset=utf-8", headers=FEED_HEADERS)
