"""POST /api/{user_id}/chat: one turn, as JSON or as server-sent events.

The turn engine runs the turn in a task of its own, so a client that disconnects mid-stream
does not cut it short: the reply is still stored and shows in the conversation's history.
This route only translates: the request into `prepare`, the turn's events into JSON or SSE.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable
from typing import Annotated, Any

from fastapi import APIRouter, Header, Path
from fastapi.responses import Response, StreamingResponse

from taskpilot.agent.engine import PreparedTurn, RunningTurn
from taskpilot.agent.events import (
    ApprovalAsked,
    TextDelta,
    ToolFinished,
    TurnDone,
    TurnError,
    TurnEvent,
)
from taskpilot.api import sse
from taskpilot.api.deps import PathUser, RuntimeDep
from taskpilot.api.errors import problem, retry_headers, status_of
from taskpilot.api.schemas import (
    ApprovalRequest,
    ChatRequest,
    ChatResponse,
    EditRequest,
    ErrorOut,
    PendingApproval,
)
from taskpilot.core.errors import ErrorCode, TaskPilotError
from taskpilot.data.models import ToolCall
from taskpilot.runtime import Runtime

router = APIRouter(prefix="/api/{user_id}", tags=["chat"])

ENDED_EARLY = "The turn ended without a reply."


def _sse_frame(event: TurnEvent) -> str:
    """One turn event as a server-sent event."""
    return sse.frame(event.model_dump_json(), event=event.type)


async def _frames(running: RunningTurn) -> AsyncIterator[str]:
    async for event in running.events():
        yield _sse_frame(event)


_TURN_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "model": ChatResponse,
        "description": "The reply (or the approval the turn waits for), or with Accept:"
        " text/event-stream, the turn's events.",
        "content": {"text/event-stream": {}},
    },
    401: {"model": ErrorOut},
    403: {"model": ErrorOut},
    404: {"model": ErrorOut},
    422: {"model": ErrorOut},
    429: {"model": ErrorOut},
    502: {"model": ErrorOut},
    504: {"model": ErrorOut, "description": "The turn ran past TURN_DEADLINE_SECONDS."},
}


@router.post(
    "/chat",
    responses={
        **_TURN_RESPONSES,
        409: {
            "model": ErrorOut,
            "description": "Another turn of this conversation (or this message) is still being"
            " answered after TURN_WAIT_SECONDS (`turn_in_progress`), or the message can't be"
            " answered in its place (`not_latest_message`, `client_message_id_reused`).",
        },
    },
)
async def chat(
    body: ChatRequest,
    user: PathUser,
    runtime: RuntimeDep,
    accept: str = Header(default="application/json", include_in_schema=False),
) -> Any:
    """Send a message to the agent; it manages your tasks and answers. A delete waits for
    your approval: the answer's `pending_approval` says where to give it."""
    return await _turn(
        runtime,
        user.id,
        accept,
        runtime.turns.prepare(user.id, body.conversation_id, body.message, body.client_message_id),
    )


@router.post(
    "/conversations/{conversation_id}/approvals/{call_id}",
    responses={
        **_TURN_RESPONSES,
        409: {
            "model": ErrorOut,
            "description": "Nothing in the conversation waits for this call any more"
            " (`approval_not_pending`: decided already, or declined by a newer message).",
        },
    },
)
async def decide(
    conversation_id: str,
    call_id: str,
    body: ApprovalRequest,
    user: PathUser,
    runtime: RuntimeDep,
    accept: str = Header(default="application/json", include_in_schema=False),
) -> Any:
    """Approve or decline the tool call a turn paused at; the turn resumes (on whichever
    worker takes this request) and answers as `/chat` does. Declining tells the agent."""
    return await _turn(
        runtime,
        user.id,
        accept,
        runtime.turns.prepare_decision(user.id, conversation_id, call_id, body.approve),
    )


@router.post(
    "/conversations/{conversation_id}/messages/{message_id}/edit",
    responses={
        **_TURN_RESPONSES,
        409: {
            "model": ErrorOut,
            "description": "A turn of this conversation runs or awaits approval"
            " (`turn_in_progress`, refused at once), the message was already edited"
            " (`message_replaced`: edit its newest version), or the conversation has gone on"
            " past `last_seen_id` (`conversation_moved_on`).",
        },
    },
)
async def edit(
    conversation_id: str,
    message_id: Annotated[int, Path(ge=1, le=2**63 - 1)],
    body: EditRequest,
    user: PathUser,
    runtime: RuntimeDep,
    accept: str = Header(default="application/json", include_in_schema=False),
) -> Any:
    """Edit one of your sent messages: the new text becomes its next version, the
    conversation goes on from it and is answered as `/chat` answers; what it replaced stays
    an earlier version (`GET …/messages/{message_id}/versions`), which the agent no longer
    sees."""
    return await _turn(
        runtime,
        user.id,
        accept,
        runtime.turns.prepare_edit(
            user.id, conversation_id, message_id, body.message, seen=body.last_seen_id
        ),
    )


async def _turn(
    runtime: Runtime, user_id: str, accept: str, preparing: Awaitable[PreparedTurn]
) -> Any:
    """Prepare a turn and answer with it: JSON, or its events as they happen."""
    engine = runtime.turns
    streaming = "text/event-stream" in accept
    try:
        turn = await preparing
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
    return await _answer(running, user_id)


async def _answer(running: RunningTurn, user_id: str) -> Any:
    """The turn as one JSON answer: its reply, or the approval it paused at."""
    said: list[str] = []
    calls: dict[str, ToolCall] = {}
    asked: ApprovalAsked | None = None
    async for event in running.events():
        if isinstance(event, TextDelta):
            said.append(event.delta)
        elif isinstance(event, ToolFinished):
            calls[event.call_id] = ToolCall.model_validate(event.model_dump())
        elif isinstance(event, ApprovalAsked):
            calls[event.call.call_id] = event.call
            asked = asked or event
        elif isinstance(event, TurnDone):
            return ChatResponse(
                conversation_id=event.conversation_id,
                response=event.response,
                tool_calls=event.tool_calls,
                message_id=event.message_id,
                replayed=event.replayed,
            )
        elif isinstance(event, TurnError):
            error = TaskPilotError(ErrorCode(event.code), event.message)
            return problem(error, conversation_id=event.conversation_id)
    if asked is not None:
        return ChatResponse(
            conversation_id=asked.conversation_id,
            response="".join(said),
            tool_calls=list(calls.values()),
            message_id=None,
            pending_approval=PendingApproval(
                message_id=asked.message_id,
                call_id=asked.call.call_id,
                name=asked.call.name,
                arguments=asked.call.arguments,
                summary=asked.summary,
                decide=f"/api/{user_id}/conversations/{asked.conversation_id}"
                f"/approvals/{asked.call.call_id}",
            ),
        )
    return problem(TaskPilotError(ErrorCode.INTERNAL_ERROR, ENDED_EARLY))
