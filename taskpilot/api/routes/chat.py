"""POST /api/{user_id}/chat: one turn, as JSON or as server-sent events.

The turn runs in its own task, so a client that disconnects mid-stream does not cut it
short: the reply is still stored and shows up in the conversation's history.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Any

from fastapi import APIRouter, Header, HTTPException, status
from fastapi.responses import JSONResponse, StreamingResponse

from taskpilot.agent.events import TurnDone, TurnError, TurnEvent
from taskpilot.agent.service import AgentService, PreparedTurn, TurnRejected
from taskpilot.api.deps import PathUser, RuntimeDep
from taskpilot.api.schemas import ChatRequest, ChatResponse, ErrorOut, ToolCallOut

router = APIRouter(prefix="/api/{user_id}", tags=["chat"])

# Turns outlive their request; keep a reference so they are not garbage-collected mid-run.
_running: set[asyncio.Task[None]] = set()
_END = object()

ERROR_STATUS = {"database_unavailable": status.HTTP_503_SERVICE_UNAVAILABLE}


def _detached(agent: AgentService, turn: PreparedTurn) -> asyncio.Queue[Any]:
    """Run the turn in its own task; its events arrive on the returned queue."""
    queue: asyncio.Queue[Any] = asyncio.Queue()

    async def pump() -> None:
        try:
            async with aclosing(agent.stream(turn)) as events:
                async for event in events:
                    queue.put_nowait(event)
        finally:
            queue.put_nowait(_END)

    task = asyncio.create_task(pump(), name=f"turn-{turn.conversation.id}")
    _running.add(task)
    task.add_done_callback(_running.discard)
    return queue


async def _events(queue: asyncio.Queue[Any]) -> AsyncIterator[TurnEvent]:
    while (event := await queue.get()) is not _END:
        yield event


def _sse(event: TurnEvent) -> str:
    return f"event: {event.type}\ndata: {event.model_dump_json()}\n\n"


async def wait_for_running_turns() -> None:
    """Let turns still running finish (used at shutdown and by tests)."""
    if _running:
        await asyncio.gather(*list(_running), return_exceptions=True)


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
        409: {"model": ErrorOut},
        422: {"model": ErrorOut},
        429: {"model": ErrorOut},
        502: {"model": ErrorOut},
        503: {"model": ErrorOut},
    },
)
async def chat(
    body: ChatRequest,
    user: PathUser,
    runtime: RuntimeDep,
    accept: str = Header(default="application/json", include_in_schema=False),
) -> Any:
    """Send a message to the agent; it manages your tasks and answers."""
    agent = runtime.agent
    try:
        turn = await agent.prepare(
            user.id, body.conversation_id, body.message, body.client_message_id
        )
    except TurnRejected as exc:
        raise HTTPException(exc.status, detail=exc.message, headers=exc.headers) from exc
    queue = _detached(agent, turn)

    if "text/event-stream" in accept:

        async def frames() -> AsyncIterator[str]:
            async for event in _events(queue):
                yield _sse(event)

        return StreamingResponse(
            frames(),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    async for event in _events(queue):
        if isinstance(event, TurnDone):
            return ChatResponse(
                conversation_id=event.conversation_id,
                response=event.response,
                tool_calls=[ToolCallOut(**call.model_dump()) for call in event.tool_calls],
                message_id=event.message_id,
                replayed=event.replayed,
            )
        if isinstance(event, TurnError):
            return JSONResponse(
                {
                    "detail": event.message,
                    "code": event.code,
                    "conversation_id": event.conversation_id,
                },
                status_code=ERROR_STATUS.get(event.code, status.HTTP_502_BAD_GATEWAY),
            )
    raise HTTPException(status.HTTP_502_BAD_GATEWAY, detail="The turn ended without a reply.")
