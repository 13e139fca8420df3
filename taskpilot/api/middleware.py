"""ASGI middleware in front of every request: request ids and access logs, security headers,
body size limits, and the route to the MCP server.

Pure ASGI rather than Starlette's `BaseHTTPMiddleware`, so server-sent events stream through
untouched and a turn's task is not cancelled when its client goes away.
"""

from __future__ import annotations

import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from taskpilot.api.errors import error_response
from taskpilot.api.page_csp import page_csp
from taskpilot.core.logs import new_request_id, request_id

access_log = logging.getLogger("taskpilot.access")


class BodySizeLimit:
    """Refuse request bodies over the limit with 413, before they reach a route."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(("/api", "/mcp")):
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await error_response(413, f"The request body is over {self.max_bytes} bytes.")(
                scope, receive, send
            )
            return
        if declared is not None:
            await self.app(scope, receive, send)
            return
        # No Content-Length (chunked): read up to the limit first, then replay it to the app.
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            size += len(message.get("body", b""))
            if size > self.max_bytes:
                await error_response(413, f"The request body is over {self.max_bytes} bytes.")(
                    scope, receive, send
                )
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


class McpRoute:
    """Send /mcp to the MCP server's ASGI app and everything else on down the stack."""

    def __init__(self, app: ASGIApp, mcp_app: ASGIApp) -> None:
        self.app = app
        self.mcp_app = mcp_app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].rstrip("/") == "/mcp":
            scope = {**scope, "path": "/mcp", "raw_path": b"/mcp"}
            await self.mcp_app(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _is_api(path: str) -> bool:
    return path.startswith(("/api/", "/mcp")) or path == "/api"


class RequestLog:
    """Give each HTTP request an id (the proxy's X-Request-ID when sane), echo it in the
    response, and log one line per API request: method, path, status, duration. No query
    strings, bodies or headers: they can hold message text and tokens."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        proposed = dict(scope.get("headers") or []).get(b"x-request-id", b"")
        rid = new_request_id(proposed.decode("latin-1"))
        token = request_id.set(rid)
        started = time.perf_counter()
        status = 0

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", rid.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            if _is_api(scope["path"]):
                access_log.info(
                    "request",
                    extra={
                        "method": scope["method"],
                        "path": scope["path"],
                        "status": status or 499,  # 499: the client left before an answer
                        "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                    },
                )
            request_id.reset(token)


_COMMON_HEADERS = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"strict-origin-when-cross-origin"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), payment=()"),
)
# JSON and event streams render nothing, so they may load nothing.
_API_CSP = b"default-src 'none'; frame-ancestors 'none'"
# The API's docs page (Swagger UI loads its scripts from a CDN): no framing, plugins, base or
# form hijacking. The app's pages get `page_csp`, which also restricts scripts.
_DOCS_CSP = b"frame-ancestors 'none'; object-src 'none'; base-uri 'self'; form-action 'self'"
_DOCS = ("/api/docs", "/api/docs/oauth2-redirect")


class SecurityHeaders:
    """Security headers on every HTTP response, pages and API alike (ones a response sets
    itself are kept). API responses are also marked not to be cached: they are private."""

    def __init__(self, app: ASGIApp, hsts_seconds: int = 0, chatkit_script_url: str = "") -> None:
        self.app = app
        self.chatkit_script_url = chatkit_script_url
        self._page_csp: bytes | None = None  # read from the build on the first page served
        self.hsts = (
            (b"strict-transport-security", f"max-age={hsts_seconds}; includeSubDomains".encode())
            if hsts_seconds
            else None
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        api = _is_api(path) and path not in _DOCS
        extra = [*_COMMON_HEADERS, (b"content-security-policy", self._csp(path, api))]
        if api:
            extra.append((b"cache-control", b"no-store"))
        if self.hsts is not None:
            extra.append(self.hsts)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers.extend(item for item in extra if item[0] not in present)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _csp(self, path: str, api: bool) -> bytes:
        if api:
            return _API_CSP
        if path in _DOCS:
            return _DOCS_CSP
        if self._page_csp is None:
            self._page_csp = page_csp(self.chatkit_script_url)
        return self._page_csp
