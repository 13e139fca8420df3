"""ChatKit over HTTP: TaskPilot's self-hosted ChatKit server, and hosted workflow sessions.

- `POST /api/chatkit` speaks the ChatKit protocol (what `@openai/chatkit`'s `api.url` calls):
  JSON for reads and edits, server-sent events for turns.
- `POST /api/chatkit/sessions` gives the browser a client secret for the hosted workflow.

Both need the signed-in user's bearer token and, from a browser, an allowed origin.
"""

from __future__ import annotations

from typing import Any

from chatkit.server import NonStreamingResult
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response, StreamingResponse

from taskpilot.api.deps import AllowedOrigin, CurrentUser, RuntimeDep
from taskpilot.api.schemas import ChatKitSessionOut, ErrorOut
from taskpilot.chatkit.requests import SUPPORTED, ChatKitRequestError
from taskpilot.chatkit.sessions import HostedSessionError

router = APIRouter(prefix="/api/chatkit", tags=["chatkit"], dependencies=[AllowedOrigin])

_REQUEST_BODY: dict[str, Any] = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "description": "A ChatKit request (openai-chatkit's `ChatKitReq`).",
                "required": ["type", "params"],
                "properties": {
                    "type": {"type": "string", "enum": list(SUPPORTED)},
                    "params": {"type": "object"},
                    "metadata": {"type": "object"},
                },
            }
        }
    },
}


@router.post(
    "",
    openapi_extra={"requestBody": _REQUEST_BODY},
    responses={
        200: {
            "description": "JSON for reads and edits; server-sent events for turns.",
            "content": {"application/json": {}, "text/event-stream": {}},
        },
        400: {"model": ErrorOut},
        401: {"model": ErrorOut},
        403: {"model": ErrorOut},
        404: {"model": ErrorOut},
        422: {"model": ErrorOut},
        429: {"model": ErrorOut},
    },
)
async def chatkit(request: Request, user: CurrentUser, runtime: RuntimeDep) -> Response:
    """TaskPilot's ChatKit server: your threads are your conversations, answered by the same
    agent and tools as the chat page."""
    body = await request.body()
    try:
        result = await runtime.chatkit.handle(body, user.id)
    except ChatKitRequestError as exc:
        raise HTTPException(exc.status, detail=exc.message, headers=exc.headers) from exc
    if isinstance(result, NonStreamingResult):
        return Response(content=result.json, media_type="application/json")
    return StreamingResponse(
        result,
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@router.post(
    "/sessions",
    responses={
        401: {"model": ErrorOut},
        403: {"model": ErrorOut},
        429: {"model": ErrorOut, "description": "Too many sessions for this person just now."},
        502: {"model": ErrorOut},
    },
)
async def create_session(user: CurrentUser, runtime: RuntimeDep) -> ChatKitSessionOut:
    """A client secret for a ChatKit session of the hosted Agent Builder workflow (the API
    key and workflow id stay on the server)."""
    await runtime.limits.hosted_session(user.id)  # 429 with Retry-After past the limit
    try:
        secret = await runtime.chatkit_sessions.create(user.id)
    except HostedSessionError as exc:
        raise HTTPException(exc.status, detail=exc.message) from exc
    return ChatKitSessionOut(client_secret=secret.client_secret, expires_at=secret.expires_at)
