"""The task widgets' buttons (`widgets.py`): complete, reopen and delete, and a stored change's
Undo (`agent/undo_calls.py`, as the page's card and the API do it), answered in place.

ChatKit sends them as `threads.sync_custom_action`, which a streaming reply does not block:
the action changes the task and answers with the widget redrawn
(`SyncCustomActionResponse(updated_item=...)`). No task button needs a follow-up reply from
the model; the one streamed action, `threads.custom_action`, is an approval card's decision,
which resumes a paused turn (`approvals.py`).

- **Who**: the verified user of the request. The widget is looked up in their thread (the
  store scopes item ids, so another person's widget id is a 404), and the task changes through
  the MCP tool for that user, the one gate for task changes (as for the agent and the page's
  task panel: `McpConnector.change`).
- **What**: the payload is validated here; an action that is unknown, malformed, not sent by
  one of TaskPilot's task widgets, or naming a task the widget does not show, is a 400 saying
  so, before anything changes. A button the widget no longer offers (the task was completed
  or deleted elsewhere since the person's screen was drawn) changes nothing: the answer is
  the widget as it is now.
- **Afterwards**: the widget is read back from the store, which derives it from the stored tool
  call and the task rows as they are now. So what the action answers is what a reload shows:
  nothing about the action is stored besides the task's own change.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any, Literal

from chatkit.actions import Action
from chatkit.types import SyncCustomActionResponse, ThreadMetadata, WidgetItem
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from taskpilot.agent.mcp_client import McpConnector, ToolRefused
from taskpilot.agent.undo_calls import undo_call
from taskpilot.chatkit.context import RequestContext
from taskpilot.chatkit.items import WIDGET, parse_item_id
from taskpilot.chatkit.store import ConversationThreadStore
from taskpilot.chatkit.widgets import (
    COMPLETE,
    DELETE,
    REOPEN,
    UNDO,
    offers_undo,
    widget_buttons,
    widget_tasks,
)
from taskpilot.mcp.tools import ToolName
from taskpilot.services.tasks import MAX_NUMBER

logger = logging.getLogger("taskpilot.chatkit")


class ActionError(Exception):
    """An action TaskPilot will not perform; `status` is the HTTP status to answer with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class TaskRef(BaseModel):
    """Which task a button acts on: its number."""

    model_config = ConfigDict(extra="forbid")
    task_id: int = Field(ge=1, le=MAX_NUMBER, strict=True)


class Occurrence(TaskRef):
    """Done on a repeating task also names the date it completes (YYYY-MM-DD)."""

    due_date: str | None = Field(default=None, pattern=r"^\d{4}-\d{2}-\d{2}$")


class CompleteTask(BaseModel):
    type: Literal["task.complete"]
    payload: Occurrence


class ReopenTask(BaseModel):
    type: Literal["task.reopen"]
    payload: TaskRef


class DeleteTask(BaseModel):
    type: Literal["task.delete"]
    payload: TaskRef


class NoPayload(BaseModel):
    """Undo names nothing: the card it was pressed on names the change."""

    model_config = ConfigDict(extra="forbid")


class UndoChange(BaseModel):
    type: Literal["change.undo"]
    payload: NoPayload = Field(default_factory=NoPayload)


TaskAction = Annotated[
    CompleteTask | ReopenTask | DeleteTask | UndoChange, Field(discriminator="type")
]
_actions: TypeAdapter[TaskAction] = TypeAdapter(TaskAction)

# Each action as the MCP tool call that performs it.
_TOOL_CALLS: dict[str, tuple[ToolName, dict[str, Any]]] = {
    COMPLETE: (ToolName.COMPLETE_TASK, {"completed": True}),
    REOPEN: (ToolName.COMPLETE_TASK, {"completed": False}),
    DELETE: (ToolName.DELETE_TASK, {}),
}
NO_SENDER = "A widget action must name the task widget it came from."
STILL_WRITING = "The reply is still being written; press Undo again once it is done."
KNOWN = ", ".join([*_TOOL_CALLS, UNDO])


def parse_action(action: Action[str, Any] | dict[str, Any]) -> TaskAction:
    """The task action a widget sent; `ActionError` (400) saying what is wrong."""
    data = action.model_dump(warnings=False) if isinstance(action, BaseModel) else action
    kind = data.get("type")
    if not isinstance(kind, str) or not kind:
        raise ActionError(400, f"A widget action needs a type. TaskPilot handles: {KNOWN}.")
    if kind not in _TOOL_CALLS and kind != UNDO:
        shown = str(kind)[:60]
        raise ActionError(400, f"Unknown widget action {shown!r}. TaskPilot handles: {KNOWN}.")
    try:
        return _actions.validate_python(data)
    except ValidationError as exc:
        wanted = "{}" if kind == UNDO else '{"task_id": <number>}'
        raise ActionError(
            400, f"Invalid widget action {kind}: its payload must be {wanted}."
        ) from exc


def check_sender(item_id: str | None) -> None:
    """An action must come from one of TaskPilot's widgets (`widget_12`): 400 otherwise."""
    ref = parse_item_id(item_id or "")
    if ref is None or ref.kind != WIDGET:
        raise ActionError(400, NO_SENDER)


async def perform(
    mcp: McpConnector,
    store: ConversationThreadStore,
    thread: ThreadMetadata,
    action: Action[str, Any],
    sender: WidgetItem | None,
    context: RequestContext,
) -> SyncCustomActionResponse:
    """Perform a widget's action for the request's user; the widget as it is afterwards."""
    if sender is None:
        raise ActionError(400, NO_SENDER)
    parsed = parse_action(action)
    if isinstance(parsed, UndoChange):
        return await _undo(mcp, store, thread, sender, context)
    number = parsed.payload.task_id
    if number not in widget_tasks(sender.widget):
        raise ActionError(400, f"That widget does not show task {number}.")
    if (parsed.type, number) not in widget_buttons(sender.widget):
        # `sender` is read from the store as it is now: the person's screen was older.
        return SyncCustomActionResponse(updated_item=sender)
    tool, extra = _TOOL_CALLS[parsed.type]
    try:
        if isinstance(parsed, CompleteTask) and parsed.payload.due_date is not None:
            extra = {**extra, "due_date": parsed.payload.due_date}
        await mcp.change(context.user_id, tool, {"task_id": number, **extra})
    except ToolRefused as exc:
        # Most often the task changed elsewhere (deleted from the panel): the widget, read
        # again, shows how it is. If it still offers this button, the refusal is the answer.
        updated = await store.load_item(thread.id, sender.id, context)
        if isinstance(updated, WidgetItem) and (parsed.type, number) in widget_buttons(
            updated.widget
        ):
            raise ActionError(409, exc.message) from exc
        return SyncCustomActionResponse(updated_item=updated)
    logger.info("chatkit widget action", extra={"action": parsed.type})
    updated = await store.load_item(thread.id, sender.id, context)
    return SyncCustomActionResponse(updated_item=updated)


async def _undo(
    mcp: McpConnector,
    store: ConversationThreadStore,
    thread: ThreadMetadata,
    sender: WidgetItem,
    context: RequestContext,
) -> SyncCustomActionResponse:
    """A stored change's Undo: the card's item id names the reply's call it takes back. The
    card then reads "Undone"; a refusal (the task changed since) is a 409 in the tool's
    words, and a card that no longer offers Undo (undone elsewhere) is answered as it is."""
    ref = parse_item_id(sender.id)
    assert ref is not None  # `load_item` found it by our id
    if not offers_undo(sender.widget):
        return SyncCustomActionResponse(updated_item=sender)
    reply = await store.reply_id(thread.id, ref.turn, context)
    if reply is None:  # pressed on a card still streaming: its reply is not stored yet
        raise ActionError(409, STILL_WRITING)
    done = await undo_call(store.db, mcp, context.user_id, reply, ref.part - 1)
    if not done.undone:
        raise ActionError(409, done.refused)
    logger.info("chatkit widget action", extra={"action": UNDO})
    return SyncCustomActionResponse(
        updated_item=await store.load_item(thread.id, sender.id, context)
    )
