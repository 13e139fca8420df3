"""A user's conversations and their messages."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, Response, status

from taskpilot.agent.undo_calls import undo_call
from taskpilot.api.deps import CountedRequest, PathUser, RuntimeDep, SessionDep
from taskpilot.api.schemas import (
    ConversationList,
    ConversationOut,
    ErrorOut,
    MessageList,
    MessageOut,
    RenameRequest,
    UndoOut,
    VersionList,
    VersionOut,
)
from taskpilot.core.errors import ErrorCode, TaskPilotError
from taskpilot.data.models import Message, Role
from taskpilot.services.conversations import (
    ConversationNotFound,
    ConversationStore,
    MessageNotFound,
)
from taskpilot.services.versions import MessageVersions, first_version

router = APIRouter(
    prefix="/api/{user_id}/conversations", tags=["conversations"], dependencies=[CountedRequest]
)
# Every error is an `ErrorOut` (the API's handlers shape 422s too, not FastAPI's default).
_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut},
    403: {"model": ErrorOut},
    404: {"model": ErrorOut},
    422: {"model": ErrorOut},
}
_BODY_ERRORS: dict[int | str, dict[str, Any]] = {**_ERRORS, 400: {"model": ErrorOut}}
ConversationId = Annotated[str, "conversation id"]
MAX_MESSAGE_ID = 2**63 - 1  # message ids are 64-bit integers in the database


def _not_found(exc: ConversationNotFound) -> HTTPException:
    return HTTPException(status.HTTP_404_NOT_FOUND, detail=str(exc))


@router.get("", responses=_ERRORS)
async def list_conversations(
    user: PathUser,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    before: Annotated[str | None, Query(max_length=64, description="Page after this id.")] = None,
) -> ConversationList:
    """Your conversations, most recently active first."""
    try:
        rows = await ConversationStore(session, user.id).recent(limit=limit, before=before)
    except ConversationNotFound as exc:
        raise _not_found(exc) from exc
    return ConversationList(conversations=[ConversationOut.of(row) for row in rows])


@router.get("/{conversation_id}", responses=_ERRORS)
async def get_conversation(
    user: PathUser, session: SessionDep, conversation_id: ConversationId
) -> ConversationOut:
    """One conversation."""
    try:
        row = await ConversationStore(session, user.id).get(conversation_id)
    except ConversationNotFound as exc:
        raise _not_found(exc) from exc
    return ConversationOut.of(row)


@router.patch("/{conversation_id}", responses=_BODY_ERRORS)
async def rename_conversation(
    user: PathUser, session: SessionDep, conversation_id: ConversationId, body: RenameRequest
) -> ConversationOut:
    """Rename a conversation."""
    try:
        row = await ConversationStore(session, user.id).rename(conversation_id, body.title)
    except ConversationNotFound as exc:
        raise _not_found(exc) from exc
    except ValueError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=str(exc)) from exc
    return ConversationOut.of(row)


@router.delete("/{conversation_id}", status_code=status.HTTP_204_NO_CONTENT, responses=_ERRORS)
async def delete_conversation(
    user: PathUser, session: SessionDep, conversation_id: ConversationId
) -> Response:
    """Delete a conversation and its messages."""
    try:
        await ConversationStore(session, user.id).delete(conversation_id)
    except ConversationNotFound as exc:
        raise _not_found(exc) from exc
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/{conversation_id}/stop",
    status_code=status.HTTP_202_ACCEPTED,
    response_class=Response,
    responses={
        **_ERRORS,
        202: {"content": None, "description": "Stop is asked of the running reply."},
        409: {"model": ErrorOut, "description": "`no_turn_running`: no reply is running."},
    },
)
async def stop_turn(
    user: PathUser, session: SessionDep, runtime: RuntimeDep, conversation_id: ConversationId
) -> Response:
    """Stop the reply running in this conversation, wherever it was started (a page, ChatKit,
    another request) and on whichever worker runs it: its question is kept, failed as stopped,
    and what its tools already did stays done. The Stop is kept with the question: its worker
    stops it at once when the live feed tells it, and within one lease renewal (a few
    seconds) otherwise; its stream, if someone reads it, ends with `turn_stopped`. Only that
    reply is stopped, not a later one."""
    try:
        await ConversationStore(session, user.id).get(conversation_id)
    except ConversationNotFound as exc:
        raise _not_found(exc) from exc
    await session.close()  # the engine asks in a session of its own
    if not await runtime.turns.request_stop(user.id, conversation_id):
        raise TaskPilotError(ErrorCode.NO_TURN_RUNNING, "No reply is running in it.")
    return Response(status_code=status.HTTP_202_ACCEPTED)


@router.post(
    "/{conversation_id}/messages/{message_id}/tool_calls/{index}/undo",
    responses={
        **_ERRORS,
        409: {
            "model": ErrorOut,
            "description": "`undo_refused`: the change can't be taken back (the task changed"
            " since, its number is taken, the call changed nothing); the reason in words.",
        },
    },
)
async def undo_tool_call(
    user: PathUser,
    session: SessionDep,
    runtime: RuntimeDep,
    conversation_id: ConversationId,
    message_id: Annotated[int, Path(ge=1, le=MAX_MESSAGE_ID)],
    index: Annotated[int, Path(ge=0, le=1000, description="The call's place in `tool_calls`.")],
) -> UndoOut:
    """Undo what one tool call of a reply changed — a card's Undo: an add, a delete (the task
    comes back with its number), an update or a completion, taken back once however often it
    is asked (the others get `already`)."""
    try:
        reply = await ConversationStore(session, user.id).message(message_id)
        if reply.conversation_id != conversation_id or reply.role != Role.ASSISTANT.value:
            raise MessageNotFound()
    except MessageNotFound as exc:
        raise TaskPilotError(ErrorCode.MESSAGE_NOT_FOUND, str(exc)) from exc
    if index >= len(reply.tool_calls):
        raise TaskPilotError(ErrorCode.MESSAGE_NOT_FOUND, "That reply has no such tool call.")
    await session.close()  # the undo takes sessions of its own (and may wait for another)
    done = await undo_call(runtime.db, runtime.turns.mcp, user.id, message_id, index)
    if not done.undone:
        raise TaskPilotError(ErrorCode.UNDO_REFUSED, done.refused)
    return UndoOut(undone=True, already=done.already)


@router.get("/{conversation_id}/messages", responses=_ERRORS)
async def list_messages(
    user: PathUser,
    session: SessionDep,
    conversation_id: ConversationId,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    before_id: Annotated[
        int | None, Query(ge=1, le=MAX_MESSAGE_ID, description="Messages older than this.")
    ] = None,
) -> MessageList:
    """A conversation's messages, oldest first, with each turn's tool calls."""
    try:
        rows = await ConversationStore(session, user.id).messages(
            conversation_id, limit=limit, before_id=before_id
        )
    except ConversationNotFound as exc:
        raise _not_found(exc) from exc
    versions = await MessageVersions(session, user.id).of(rows)
    return MessageList(messages=[_out(row, versions) for row in rows])


def _out(message: Message, versions: dict[int, list[int]]) -> MessageOut:
    return MessageOut.of(message, versions.get(first_version(message)))


@router.get("/{conversation_id}/messages/{message_id}/versions", responses=_ERRORS)
async def list_versions(
    user: PathUser,
    session: SessionDep,
    conversation_id: ConversationId,
    message_id: Annotated[int, Path(ge=1, le=MAX_MESSAGE_ID)],
) -> VersionList:
    """Every version of one of your questions, oldest first, each with the branch it began:
    the earlier versions are what an edit replaced, kept, read-only."""
    try:
        question = await ConversationStore(session, user.id).message(message_id)
        if question.conversation_id != conversation_id or question.role != Role.USER.value:
            raise MessageNotFound()
    except MessageNotFound as exc:
        raise TaskPilotError(ErrorCode.MESSAGE_NOT_FOUND, str(exc)) from exc
    store = MessageVersions(session, user.id)
    found = await store.versions(question)
    ids = await store.of([m for version in found for m in version.messages])
    return VersionList(
        versions=[
            VersionOut(
                version=version.number,
                current=version.current,
                messages=[_out(m, ids) for m in version.messages],
            )
            for version in found
        ]
    )
