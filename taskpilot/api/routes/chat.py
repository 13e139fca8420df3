"""POST /api/{user_id}/chat: one turn, as JSON or as server-sent events.

The turn engine runs the turn in a task of its own, so a client that disconnects mid-stream
does not cut it short: the reply is still stored and shows in the conversation's history.
This route only translates: the request into `prepare`, the turn's events into JSON or SSE.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Header
from fastapi.responses import Response, StreamingResponse

from taskpilot.agent.engine import RunningTurn
from taskpilot.agent.events import TurnDone, TurnError, TurnEvent
from taskpilot.api import sse
from taskpilot.api.deps import PathUser, RuntimeDep
from taskpilot.api.errors import problem, retry_headers, status_of
from taskpilot.api.schemas import ChatRequest, ChatResponse, ErrorOut
from taskpilot.core.errors import ErrorCode, TaskPilotError

router = APIRouter(prefix="/api/{user_id}", tags=["chat"])

ENDED_EARLY = "The turn ended without a reply."


def _sse_frame(event: TurnEvent) -> str:
    """One turn event as a server-sent event."""
    return sse.frame(event.model_dump_json(), event=event.type)


async def _frames(running: RunningTurn) -> AsyncIterator[str]:
    async for event in running.events():
        yield _sse_frame(event)


@router.post(
    "/chat",
    responses={
        200: {
            "description": "The reply, or with Accept: text/event-stream, the turn's events.",
            "content": {"text/event-stream": {}},
        },
        401: {"model": ErrorOut},
        403: {"model": ErrorOut},
        404: {"model": ErrorOut},
        409: {
            "model": ErrorOut,
            "description": "Another turn of this conversation (or this message) is still being"
            " answered after TURN_WAIT_SECONDS (`turn_in_progress`), or the message can't be"
            " answered in its place (`not_latest_message`, `client_message_id_reused`).",
        },
        422: {"model": ErrorOut},
        429: {"model": ErrorOut},
        502: {"model": ErrorOut},
        503: {"model": ErrorOut},
        504: {"model": ErrorOut, "description": "The turn ran past TURN_DEADLINE_SECONDS."},
    },
)
async def chat(
    body: ChatRequest,
    user: PathUser,
    runtime: RuntimeDep,
    accept: str = Header(default="application/json", include_in_schema=False),
) -> Any:
    """Send a message to the agent; it manages your tasks and answers."""
    engine = runtime.turns
    streaming = "text/event-stream" in accept
    try:
        turn = await engine.prepare(
            user.id, body.conversation_id, body.message, body.client_message_id
        )
    except TaskPilotError as exc:
        if not streaming or "application/json" in accept:
            raise  # answered as JSON, `{detail, code}`
        # A reader that takes only a stream: the status says it, and so does the one event it
        # looks for.
        refusal = TurnError(code=exc.code, message=exc.message)
        return Response(
            _sse_frame(refusal),
            status_code=status_of(exc.code),
            media_type="text/event-stream",
            headers=retry_headers(exc.retry_after),
        )
    running = engine.start(turn)
    if streaming:
        return StreamingResponse(
            _frames(running),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )
    async for event in running.events():
        if isinstance(event, TurnDone):
            return ChatResponse(
                conversation_id=event.conversation_id,
                response=event.response,
                tool_calls=event.tool_calls,
                message_id=event.message_id,
                replayed=event.replayed,
            )
        if isinstance(event, TurnError):
            error = TaskPilotError(ErrorCode(event.code), event.message)
            return problem(error, conversation_id=event.conversation_id)
    return problem(TaskPilotError(ErrorCode.INTERNAL_ERROR, ENDED_EARLY))
