"""The application: the JSON API under ``/api/v1`` and the web pages, in one ASGI app.

    uvicorn api.app:create_app --factory --host 127.0.0.1 --port 8000

Settings come from the environment (config/settings.py and RENEWALS_WEB_* in api/config.py).
"""

import gc
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import date

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.staticfiles import StaticFiles
from temporalio.client import Client

import web
from api.routers import (
    audit,
    contracts,
    dashboard,
    followups,
    imports,
    me,
    negotiation,
    plans,
    renewals,
    reviews,
    suppliers,
    teams,
    users,
)
from config.identity import IdentityKeys, identity_keys
from config.settings import Settings, get_settings
from portal import problems
from portal.config import WebSettings
from portal.deps import check_every_route_is_guarded
from portal.limits import JsonBodyLimits
from portal.state import AppState, TemporalConnection
from portal.transport import served_over_https
from services.db import SessionFactory, make_engine, make_session_factory

# No script runs on any page (there is none to run); frames only from ourselves; forms only
# post here. The sandboxed draft frame inherits this policy.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
    "frame-src 'self'; frame-ancestors 'none'; base-uri 'none'"
)

_heap_settled = False


def settle_heap() -> None:
    """Move what the process holds once the app is built (modules, routes, pydantic schemas,
    templates: ~250,000 objects) out of the garbage collector's sight, once per process.

    Python's full collection walks every tracked object; with these it took ~100 ms and hit
    about every tenth request of a busy page (the review queue's p95 was three times its
    median). What a request allocates is still collected as before. Run by the lifespan's
    startup, so once per server process; a second app in the same process (tests) does not
    freeze again."""
    global _heap_settled
    if _heap_settled:
        return
    _heap_settled = True
    gc.collect()
    gc.freeze()


def create_app(
    settings: Settings | None = None,
    *,
    web_settings: WebSettings | None = None,
    sessions: SessionFactory | None = None,
    temporal_client: Client | None = None,
    today: Callable[[], date] | None = None,
    identity: IdentityKeys | None = None,
) -> FastAPI:
    settings = settings or get_settings()
    engine = None
    if sessions is None:
        engine = make_engine(settings.resolved_database_url)
        sessions = make_session_factory(engine)
    state = AppState(
        settings=settings,
        web=web_settings or WebSettings(),
        sessions=sessions,
        temporal=TemporalConnection(settings, temporal_client),
        identity=identity or identity_keys(settings),
    )
    if today is not None:
        state.today = today

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        settle_heap()
        yield
        if engine is not None:
            engine.dispose()

    app = FastAPI(
        title="Contract renewals",
        version="1.0",
        description="Procurement and legal review of contract renewals. Authenticate with "
        "`Authorization: Bearer <token>` (tokens: `renewals users token`).",
        lifespan=lifespan,
        # Swagger UI and ReDoc would load their scripts from a CDN, and need inline script:
        # both are off, so every page keeps the strict policy above. The schema is served
        # from here, at /openapi.json, for any OpenAPI viewer or client generator.
        docs_url=None,
        redoc_url=None,
    )
    app.state.portal = state

    api = APIRouter(prefix="/api/v1")
    routers = (me, users, suppliers, contracts, imports, renewals, reviews, dashboard, audit, plans)
    for module in (*routers, negotiation, teams, followups):
        api.include_router(module.router)
    app.include_router(api)
    for web_router in web.ROUTERS:
        app.include_router(web_router)
    app.mount("/static", StaticFiles(packages=[("web", "static")]), name="static")

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    def add_security_headers(request: Request, response: Response) -> None:
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.headers.setdefault("X-Frame-Options", "DENY")
        if not request.url.path.startswith("/static"):
            response.headers.setdefault("Cache-Control", "no-store")
        if served_over_https(request, state.web) and state.web.hsts_max_age_seconds:
            # Only over HTTPS (RFC 6797 §7.2): browsers ignore it on plain HTTP anyway.
            response.headers.setdefault(
                "Strict-Transport-Security", f"max-age={state.web.hsts_max_age_seconds}"
            )

    problems.install(app, web_handler=web.error_page, security_headers=add_security_headers)
    # JSON bodies are checked (depth, number size, bytes) before any view parses one; added
    # before the headers middleware below, so its refusals get the headers too.
    app.add_middleware(JsonBodyLimits, max_bytes=state.web.max_upload_bytes)

    @app.middleware("http")
    async def security_headers(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        add_security_headers(request, response)
        return response

    check_every_route_is_guarded(app)
    return app
