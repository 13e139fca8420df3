"""Which browser origins may use TaskPilot: those in ALLOWED_ORIGINS, and always the server's
own (a page the server itself served, whatever host name or port it is reached by).

One rule for the page's websocket (Reflex's Socket.IO server) and the ChatKit endpoints.
The server's own origin is the request's scheme and Host header (with trusted proxies in
front, the X-Forwarded-Proto and X-Forwarded-Host the outermost one set). A host name that
merely resolves to the server (DNS rebinding) gains nothing by it: a page's sign-in token is
kept per origin, so a page from another name has none of TaskPilot's.
"""

from __future__ import annotations

from collections.abc import Mapping

from taskpilot.core.config import Settings


def _first(value: str | None) -> str | None:
    return value.split(",")[0].strip() if value else None


def own_origin(scheme: str, headers: Mapping[str, str], trusted_proxies: int) -> str | None:
    """The origin a page served by this request's server has (lower-case header names)."""
    host = headers.get("host")
    if trusted_proxies:
        scheme = _first(headers.get("x-forwarded-proto")) or scheme
        host = _first(headers.get("x-forwarded-host")) or host
    return f"{scheme}://{host}".lower() if host else None


def origin_allowed(
    origin: str | None, scheme: str, headers: Mapping[str, str], settings: Settings
) -> bool:
    """Whether a browser page at `origin` may use TaskPilot (no Origin: not a browser page)."""
    if origin is None:
        return True
    origin = origin.rstrip("/").lower()
    if origin in (allowed.lower() for allowed in settings.allowed_origins):
        return True
    return origin == own_origin(scheme, headers, settings.trusted_proxies)


def socket_origin_check(settings: Settings) -> object:
    """The same rule as engine.io's `cors_allowed_origins` callable, for the page's websocket
    (Reflex hands engine.io a fixed list; engine.io also takes a function of the request)."""

    def allowed(origin: str | None, environ: Mapping[str, object]) -> bool:
        headers = {
            key[5:].replace("_", "-").lower(): str(value)
            for key, value in environ.items()
            if key.startswith("HTTP_")
        }
        scheme = str(environ.get("wsgi.url_scheme") or "http")
        return origin_allowed(origin, scheme, headers, settings)

    return allowed
