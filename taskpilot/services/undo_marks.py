"""Which stored tool calls the person has undone: `undone` on the call, in its reply's
`tool_calls`, and `undoing` while an Undo of it is under way.

An Undo first claims the call (`claim`): one conditional UPDATE that holds only while the
column still reads as it was read, so of two Undos at once (two tabs, a double click) one
claims it and the other finds it claimed — the change is reversed once. The claimer then asks
the MCP tool to reverse it and marks it undone (`confirm`) or, when the tool refuses, gives
the claim back (`release`). A claim is `undoing` until then, not `undone`: another Undo that
finds it waits for the outcome (`UndoInProgress`) instead of reporting a success that may not
come. A claim older than CLAIM_SECONDS (its worker died) no longer holds.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel.ext.asyncio.session import AsyncSession

from taskpilot.data.models import Approval, Message, Role, ToolCall, as_utc, utcnow
from taskpilot.services.tasks import TaskError

_messages: sa.Table = Message.__table__  # type: ignore[attr-defined]
# Rereads when another call of the same reply changed meanwhile (its own Undo).
_ATTEMPTS = 5
NOT_UNDOABLE = "That change can't be undone."
# How long a claim holds without an outcome: longer than the undo tool may take (its MCP
# session and HTTP timeouts), so a slow undo is never claimed twice.
CLAIM_SECONDS = 60.0


class AlreadyUndone(TaskError):
    """The call was undone already (another tab, a double click)."""

    def __init__(self) -> None:
        super().__init__("That change was undone already.")


class UndoInProgress(TaskError):
    """Another Undo of the call is under way: its outcome is not known yet."""

    def __init__(self) -> None:
        super().__init__("That change is being undone elsewhere; try again in a moment.")


def can_undo(call: ToolCall) -> bool:
    """Whether a stored call made a change `undo_change` can take back: a task tool's
    successful add or delete, or an update or completion that changed something (its result
    says what it was `before`), sealed (a result stored before changes were sealed is not
    taken back). An undo itself is not undone."""
    result = call.result
    if call.is_error or call.approval in (Approval.PENDING, Approval.DECLINED):
        return False
    if not isinstance(result, dict) or "undid" in result or "task_id" not in result:
        return False
    if not result.get("seal"):
        return False
    return result.get("status") in ("created", "deleted") or bool(result.get("before"))


async def claim(
    session: AsyncSession, user_id: str, message_id: int, index: int
) -> tuple[ToolCall, datetime]:
    """Claim the reply's call `index` for an Undo, once: the call (whose result says what to
    undo) and the claim's time, which ends it (`confirm`, `release`); `AlreadyUndone` when it
    was undone, `UndoInProgress` while another Undo holds it, a `TaskError` when there is no
    such undoable call."""
    now = utcnow()

    def claimed(call: ToolCall) -> ToolCall:
        if call.undone:
            raise AlreadyUndone()
        since = as_utc(call.undoing)
        if since is not None and now - since < timedelta(seconds=CLAIM_SECONDS):
            raise UndoInProgress()
        return call.model_copy(update={"undoing": now})

    return await _mark(session, user_id, message_id, index, claimed), now


async def confirm(
    session: AsyncSession, user_id: str, message_id: int, index: int, claimed: datetime
) -> None:
    """The change claimed at `claimed` was taken back: the call reads undone."""
    done = {"undone": True, "undoing": None}
    await _mark(session, user_id, message_id, index, _if_claimed(claimed, done))


async def release(
    session: AsyncSession, user_id: str, message_id: int, index: int, claimed: datetime
) -> None:
    """Give back the claim made at `claimed`, whose undo the tool refused: the call can be
    undone again later. (A claim that expired and was taken by another Undo is left alone.)"""
    await _mark(session, user_id, message_id, index, _if_claimed(claimed, {"undoing": None}))


def _if_claimed(claimed: datetime, update: dict[str, Any]) -> Callable[[ToolCall], ToolCall]:
    def change(call: ToolCall) -> ToolCall:
        return call.model_copy(update=update) if as_utc(call.undoing) == claimed else call

    return change


async def _mark(
    session: AsyncSession,
    user_id: str,
    message_id: int,
    index: int,
    change: Callable[[ToolCall], ToolCall],
) -> ToolCall:
    """Apply `change` to the reply's call `index` with one conditional UPDATE (again if
    another call of the reply changed meanwhile); the call as it was read."""
    stored_text = sa.cast(_messages.c.tool_calls, sa.Text)
    for _ in range(_ATTEMPTS):
        read = await session.execute(
            sa.select(stored_text).where(
                _messages.c.id == message_id,
                _messages.c.user_id == user_id,
                _messages.c.role == Role.ASSISTANT.value,
            )
        )
        text = read.scalar_one_or_none()
        calls = ToolCall.stored(json.loads(text) if text else [])
        if text is None or not 0 <= index < len(calls) or not can_undo(calls[index]):
            raise TaskError(NOT_UNDOABLE)
        call = calls[index]
        calls[index] = change(call)
        changed = await session.execute(
            sa.update(_messages)
            .where(_messages.c.id == message_id, stored_text == text)
            .values(tool_calls=ToolCall.to_store(calls))
        )
        await session.commit()
        if _rows(changed) == 1:
            return call
    raise TaskError(NOT_UNDOABLE)  # pragma: no cover - the reply kept changing under us


def _rows(result: Any) -> int:
    return int(result.rowcount)
