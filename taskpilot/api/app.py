"""The HTTP side of TaskPilot: the JSON/SSE API under /api and the MCP endpoint at /mcp.

`create_api()` builds one FastAPI app. Standalone (tests, benchmarks, `uvicorn`) it runs
its own lifespan; inside Reflex it is the `api_transformer`, Reflex's own routes are
mounted beneath it, and `taskpilot.taskpilot` registers the same lifespan with Reflex.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import DBAPIError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from taskpilot.agent.providers import describe_model
from taskpilot.api.deps import RuntimeDep
from taskpilot.api.errors import error_response, problem
from taskpilot.api.middleware import BodySizeLimit, McpRoute, RequestLog, SecurityHeaders
from taskpilot.api.routes import auth, chat, chatkit, conversations, export, search, tasks
from taskpilot.api.schemas import ErrorOut, HealthOut, InfoOut, LiveOut
from taskpilot.core import metrics
from taskpilot.core.config import ModelProvider
from taskpilot.core.db import DatabaseUnavailable
from taskpilot.core.errors import NOT_JSON, SOMETHING_WENT_WRONG, TaskPilotError
from taskpilot.runtime import Runtime, get_runtime

logger = logging.getLogger("taskpilot.api")


def _describe_validation(exc: RequestValidationError) -> tuple[int, str]:
    errors = exc.errors()
    if any(err.get("type") == "json_invalid" for err in errors):
        return 400, NOT_JSON
    parts = []
    for err in errors[:5]:
        location = ".".join(
            str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path")
        )
        kind = err.get("type", "")
        if kind == "missing":
            parts.append(f"'{location}' is required")
        elif kind == "extra_forbidden":
            parts.append(f"'{location}' is not a known field")
        else:
            message = str(err.get("msg", "is invalid"))
            parts.append(f"'{location}': {message}" if location else message)
    return 422, "Invalid request: " + "; ".join(parts) + "."


def create_api(runtime: Runtime | None = None) -> FastAPI:
    """The API app for a runtime (the process-wide one by default)."""
    runtime = runtime or get_runtime()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        async with runtime.running():
            yield

    api = FastAPI(
        title="TaskPilot API",
        version="1.0.0",
        description="Chat with TaskPilot's agent and read your conversations and tasks. "
        "Sign up or log in under /api/auth to get a bearer token.",
        openapi_url="/api/openapi.json",
        # Any route may answer these, in the one error shape (see the handlers below).
        responses={
            400: {"model": ErrorOut, "description": "The body is not JSON (or not UTF-8)."},
            413: {"model": ErrorOut, "description": "The body is over MAX_BODY_BYTES."},
            422: {"model": ErrorOut, "description": "A field is missing or invalid."},
        },
        docs_url="/api/docs",
        redoc_url=None,
        lifespan=lifespan,
    )
    api.state.runtime = runtime

    @api.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        code, message = _describe_validation(exc)
        return error_response(code, message)

    # Starlette's HTTPException: FastAPI's is a subclass, and Starlette's own 404s and 405s
    # (and FastAPI's "error parsing the body" 400) get the same `{detail, code}` body.
    @api.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return error_response(exc.status_code, str(exc.detail), getattr(exc, "headers", None))

    @api.exception_handler(TaskPilotError)
    async def _refused(_: Request, exc: TaskPilotError) -> JSONResponse:
        return problem(exc)

    @api.exception_handler(OperationalError)
    @api.exception_handler(DBAPIError)
    async def _dberror_response(_: Request, exc: Exception) -> JSONResponse:
        logger.warning("database error", exc_info=exc)
        return problem(DatabaseUnavailable())

    @api.exception_handler(Exception)
    async def _crash(_: Request, exc: Exception) -> JSONResponse:
        logger.exception("unhandled error", exc_info=exc)
        return JSONResponse(
            {"detail": SOMETHING_WENT_WRONG, "code": "internal_error"},
            status_code=status.HTTP_500_INTERNAL_SERVER_ERROR,
        )

    @api.get("/api/health/live", tags=["meta"])
    async def live() -> LiveOut:
        """Liveness: the process answers. A load balancer or supervisor restarts a worker
        when this fails; it says nothing about the database."""
        return LiveOut()

    @api.get("/api/health", tags=["meta"], responses={503: {"model": HealthOut}})
    @api.get("/api/health/ready", tags=["meta"], responses={503: {"model": HealthOut}})
    async def health(rt: RuntimeDep) -> Any:
        """Readiness: this worker reaches the database and takes new turns (503 while the
        database is down or the worker is shutting down). `/api/health` is the same."""
        database = await rt.db.ping()
        draining = not rt.turns.accepting
        ok = database and not draining
        body = HealthOut(status="ok" if ok else "unavailable", database=database, draining=draining)
        return JSONResponse(body.model_dump(), status_code=200 if ok else 503)

    @api.get("/api/info", tags=["meta"])
    async def info(rt: RuntimeDep) -> InfoOut:
        """Which model answers, and the message size limit. No secrets."""
        return InfoOut(
            name="TaskPilot",
            model=describe_model(rt.settings),
            offline_model=rt.settings.resolved_model_provider is ModelProvider.OFFLINE,
            max_message_chars=rt.settings.max_message_chars,
        )

    # Sync: FastAPI runs it in a thread, so reading every worker's metric files never holds up
    # the event loop.
    @api.get("/metrics", include_in_schema=False)
    def metrics_page(request: Request) -> Response:
        """Prometheus metrics, for a scrape that sends `Authorization: Bearer METRICS_TOKEN`;
        without the setting the path does not exist (404, as for any unknown path)."""
        token = runtime.settings.metrics_token
        if token is None:
            raise StarletteHTTPException(status.HTTP_404_NOT_FOUND)
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        expected = token.get_secret_value().encode()
        if scheme.lower() != "bearer" or not secrets.compare_digest(given.encode(), expected):
            return error_response(
                status.HTTP_401_UNAUTHORIZED,
                "The metrics need the bearer token set as METRICS_TOKEN.",
                {"WWW-Authenticate": "Bearer"},
            )
        return Response(metrics.render(), media_type=metrics.CONTENT_TYPE_LATEST)

    # Any route may be refused for capacity: documented once, here, for all of them.
    unavailable: dict[int | str, dict[str, Any]] = {
        503: {
            "model": ErrorOut,
            "description": "Not now: `database_unavailable`, `busy`, `shutting_down`, or"
            " `unavailable` (the sign-in service's keys unreachable, a part not set up here);"
            " try again, after `Retry-After` when given.",
        }
    }
    routers = (auth, chat, conversations, search, tasks, export, chatkit)
    for module in routers:
        api.include_router(module.router, responses=unavailable)

    api.add_middleware(
        CORSMiddleware,
        allow_origins=runtime.settings.allowed_origins,
        allow_credentials=True,
        allow_methods=["GET", "POST", "PATCH", "DELETE", "OPTIONS"],
        allow_headers=["Authorization", "Content-Type", "Accept", "Mcp-Session-Id"],
    )
    # Outermost last: every response, even a 413 or a page, gets an id and the headers.
    api.add_middleware(McpRoute, mcp_app=runtime.mcp_app)  # type: ignore[arg-type]
    api.add_middleware(BodySizeLimit, max_bytes=runtime.settings.max_body_bytes)  # type: ignore[arg-type]
    api.add_middleware(
        SecurityHeaders,  # type: ignore[arg-type]
        hsts_seconds=runtime.settings.hsts_seconds,
        chatkit_script_url=runtime.settings.chatkit_script_url,
    )
    api.add_middleware(RequestLog)  # type: ignore[arg-type]
    return api
