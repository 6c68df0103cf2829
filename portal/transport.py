"""What the app knows about the connection a request came over: whether it was HTTPS, and the
client's address, directly or (with ``RENEWALS_WEB_TRUST_PROXY``) as one reverse proxy says."""

from starlette.requests import HTTPConnection

from portal.config import WebSettings


def _last(header: str | None) -> str:
    """The value the nearest proxy added: the last of a comma-separated list."""
    return (header or "").rsplit(",", 1)[-1].strip()


def served_over_https(request: HTTPConnection, web: WebSettings) -> bool:
    """True when the browser reached us over HTTPS: the request's own scheme (uvicorn sets it
    from X-Forwarded-Proto for the proxies in its --forwarded-allow-ips), or a trusted
    proxy's X-Forwarded-Proto."""
    if request.url.scheme == "https":
        return True
    return web.trust_proxy and _last(request.headers.get("x-forwarded-proto")).lower() == "https"


def client_address(request: HTTPConnection, web: WebSettings) -> str:
    """The address the request came from, as the sign-in throttle keys it."""
    if web.trust_proxy and (forwarded := _last(request.headers.get("x-forwarded-for"))):
        return forwarded[:64]
    return request.client.host if request.client is not None else "unknown"
