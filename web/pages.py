"""What every page shares: the template environment, rendering in the reader's language, the
CSRF-checked form, notices and the error page.

CSRF: a signed-in session has a random token stored with it; every form posts it back and
the post is refused unless it matches (and, when the browser sends an Origin header, unless the
origin is this site). The sign-in form, which has no session yet, uses a double-submit cookie.
Session cookies are HttpOnly and SameSite=Lax on top of that.
"""

import hmac
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlsplit

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.datastructures import FormData

from models.users import WebSession
from portal.deps import web_session
from portal.problems import Forbidden, Problem
from web.i18n import LANGUAGE_NAMES, LANGUAGES, Translator, negotiate, translator

__all__ = [
    "FormDep",
    "Notice",
    "error_page",
    "language_of",
    "render",
    "safe_next",
    "templates",
    "translator_for",
    "verified_form",
]

HERE = Path(__file__).resolve().parent

_env = Environment(
    loader=FileSystemLoader(str(HERE / "templates")),
    # Every page template is HTML: escape everything, whatever the file is called.
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
    extensions=["jinja2.ext.i18n"],
)
# The context's gettext (the reader's language, set per page by render) overrides these.
_env.install_null_translations(newstyle=True)  # type: ignore[attr-defined]
_env.globals["LANGUAGES"] = LANGUAGES
_env.globals["LANGUAGE_NAMES"] = LANGUAGE_NAMES
templates = Jinja2Templates(env=_env)


def language_of(request: Request, session: WebSession | None) -> str:
    """The page's language: the signed-in person's choice, else the browser's."""
    preference = session.user.language if session is not None else None
    return negotiate(preference, request.headers.get("accept-language"))


def translator_for(
    request: Request, session: WebSession | None, area: str | None = None
) -> Translator:
    """The reader's words; ``area`` (a template folder) puts that area's catalog first."""
    return translator(language_of(request, session), area)


def render(
    request: Request,
    name: str,
    context: dict[str, Any],
    *,
    session: WebSession | None,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """The page ``name`` in the reader's language; ``session`` None: nobody signed in."""
    area = name.split("/", 1)[0] if "/" in name else None
    t = translator_for(request, session, area)
    page = {**t.template_globals(), **context, "session": session}
    response: HTMLResponse = templates.TemplateResponse(
        request, name, page, status_code=status_code, headers=headers
    )
    response.headers["Content-Language"] = t.language
    # Caches keyed by URL alone would serve one reader's language to another.
    response.headers["Vary"] = "Accept-Language, Cookie"
    return response


@dataclass(frozen=True, slots=True)
class Notice:
    kind: str  # "ok" or "error"
    text: str


async def error_page(request: Request, problem: Problem) -> Response:
    """How a web request's error looks: sign-in for 401, a page for everything else."""
    if problem.status == 401:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target)}", status_code=303)
    # Signed in (the session resolved before the refusal): the person's language and menu.
    session = getattr(request.state, "web_session", None)
    return render(
        request,
        "common/error.html",
        {"problem": problem},
        session=session if isinstance(session, WebSession) else None,
        status_code=problem.status,
    )


def same_origin(request: Request) -> bool:
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return origin is None
    return urlsplit(origin).netloc == request.headers.get("host", "")


async def verified_form(
    request: Request, session: Annotated[WebSession, Depends(web_session)]
) -> FormData:
    """The posted form, once its CSRF token matched the session's."""
    form = await request.form(max_files=0, max_fields=200, max_part_size=64 * 1024)
    token = form.get("csrf_token")
    if (
        not isinstance(token, str)
        or not hmac.compare_digest(token, session.csrf_token)
        or not same_origin(request)
    ):
        raise Forbidden("the form's security token is missing or stale; reload the page")
    return form


FormDep = Annotated[FormData, Depends(verified_form)]


def safe_next(value: str | None) -> str:
    # Only paths on this site: "//evil.example" and "https://..." would leave it.
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/"
