"""Dependencies shared by every view: state, settings, database session, current user and the
permission gate.

Deny by default: every route must declare ``require(...)`` (or be listed in
:data:`PUBLIC_PATHS`); :func:`check_every_route_is_guarded` stops the app from starting when a
route has neither.
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session
from temporalio.client import Client

from auth.roles import Permission
from config.identity import IdentityKeys
from config.settings import Settings
from models.users import CurrentUser, WebSession
from portal.config import WebSettings
from portal.problems import Forbidden, Unauthenticated
from portal.state import AppState
from services import users

SESSION_COOKIE = "renewals_session"

# Reachable without signing in: the sign-in page itself, health checks, static files, and a
# person's calendar feed (the secret in its path is the credential: calendar clients send no
# cookie).
PUBLIC_PATHS = frozenset({"/login", "/healthz", "/static", "/calendar/{token}.ics"})


def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.portal
    return state


StateDep = Annotated[AppState, Depends(get_state)]


def get_settings(state: StateDep) -> Settings:
    return state.settings


def get_web_settings(state: StateDep) -> WebSettings:
    return state.web


def get_identity(state: StateDep) -> IdentityKeys:
    return state.identity


SettingsDep = Annotated[Settings, Depends(get_settings)]
IdentityDep = Annotated[IdentityKeys, Depends(get_identity)]
WebSettingsDep = Annotated[WebSettings, Depends(get_web_settings)]


def get_db(state: StateDep) -> Iterator[Session]:
    """A session per request; views that write call ``session.commit()`` themselves, before
    they answer, so a failed commit is never reported as success."""
    with state.sessions() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_db)]


async def get_temporal(state: StateDep) -> Client:
    return await state.temporal.get()


# Declare it after the permission parameter: dependencies resolve in parameter order, and a
# caller without the permission must get 403, not a connection attempt.
TemporalDep = Annotated[Client, Depends(get_temporal)]

_bearer = HTTPBearer(auto_error=False, description="API token from `renewals users token`")


def api_user(
    db: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> CurrentUser:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthenticated()
    user = users.resolve_token(db, secret=credentials.credentials)
    if user is None:
        raise Unauthenticated("the token is unknown, expired or revoked")
    db.commit()  # last_used_at
    return user


def web_session(request: Request, db: SessionDep) -> WebSession:
    secret = request.cookies.get(SESSION_COOKIE, "")
    found = users.resolve_session(db, secret=secret) if secret else None
    if found is None:
        raise Unauthenticated("sign in first")
    # The error page of a refusal after this point is in the person's language, with their
    # navigation (web.pages.error_page reads it).
    request.state.web_session = found
    return found


def _gate(permission: Permission, source: Callable[..., Any]) -> Any:
    def check(user: Annotated[Any, Depends(source)]) -> Any:
        current: CurrentUser = user.user if isinstance(user, WebSession) else user
        if not current.can(permission):
            raise Forbidden(f"the {permission.value} permission is needed")
        return user

    check.__permission__ = permission  # type: ignore[attr-defined]
    return Depends(check)


def require(permission: Permission) -> Any:
    """For API views: ``user: Annotated[CurrentUser, require(Permission.REVIEW)]``."""
    return _gate(permission, api_user)


def require_web(permission: Permission) -> Any:
    """For web views: the signed-in session (user and CSRF token) with the permission."""
    return _gate(permission, web_session)


def _guarded(dependant: Any) -> bool:
    for sub in dependant.dependencies:
        if getattr(sub.call, "__permission__", None) is not None or _guarded(sub):
            return True
    return False


@dataclass(frozen=True, slots=True)
class RouteInfo:
    methods: frozenset[str]
    path: str
    dependant: Any


def api_routes(app: FastAPI) -> Iterator[RouteInfo]:
    """Every endpoint with its full path, whether FastAPI keeps included routers flattened in
    ``app.routes`` (up to 0.1xx) or as lazily expanded branches (newer releases)."""
    try:
        from fastapi.routing import iter_route_contexts  # type: ignore[attr-defined,unused-ignore]
    except ImportError:  # pragma: no cover - older FastAPI: included routes are flattened
        for route in app.routes:
            if isinstance(route, APIRoute):
                yield RouteInfo(frozenset(route.methods or ()), route.path, route.dependant)
        return
    for context in iter_route_contexts(app.routes):
        if isinstance(context.original_route, APIRoute):
            dependant = getattr(context, "dependant", None) or context.original_route.dependant
            yield RouteInfo(frozenset(context.methods or ()), str(context.path), dependant)


def route_permission(route: RouteInfo) -> Permission | None:
    def find(dependant: Any) -> Permission | None:
        for sub in dependant.dependencies:
            found = getattr(sub.call, "__permission__", None) or find(sub)
            if found is not None:
                return Permission(found)
        return None

    return find(route.dependant)


def check_every_route_is_guarded(app: FastAPI) -> None:
    routes = list(api_routes(app))
    if not any(r.path.startswith("/api/") for r in routes):
        # Fail loudly rather than pass vacuously if FastAPI's route layout changes again.
        raise RuntimeError("no /api/ routes found; the permission check cannot see the routes")
    unguarded = [
        f"{sorted(route.methods)} {route.path}"
        for route in routes
        if route.path not in PUBLIC_PATHS and not _guarded(route.dependant)
    ]
    if unguarded:
        raise RuntimeError(f"routes without a permission check: {', '.join(unguarded)}")
