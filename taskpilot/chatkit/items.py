"""TaskPilot's stored messages as ChatKit thread items, and ChatKit item ids back to messages.

A ChatKit thread is a conversation; its items are not stored separately but derived from the
messages, so both chat UIs show the same history:

- a user message is a `user_message` item;
- the tool calls of a turn are one `workflow` item (a task per call, with what it did);
- the assistant's reply is an `assistant_message` item;
- a turn that failed or was stopped shows its reason as an assistant item (a "note").

Item ids come from the user message that starts the turn (`msg_12`, `tools_12`, `reply_12`,
`note_12`), never from the model, so they are unique for chat-completions models too (whose
items all share one fake id) and the ids streamed during a turn are the ids stored after it.
The one exception is the user message's own item while ChatKit creates it: ChatKit names it
before TaskPilot stores it, and that name is kept as the message's `client_message_id`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from chatkit.types import (
    AssistantMessageContent,
    AssistantMessageItem,
    CustomSummary,
    CustomTask,
    InferenceOptions,
    ThreadItem,
    ThreadMetadata,
    UserMessageContent,
    UserMessageItem,
    UserMessageTagContent,
    UserMessageTextContent,
    Workflow,
    WorkflowItem,
)

from taskpilot.agent.tool_words import (
    SEPARATOR,
    tool_arguments_in_words,
    tool_result_in_words,
)
from taskpilot.data.models import Conversation, Message, Role, ToolCall, TurnStatus, as_utc
from taskpilot.mcp.tools import ToolName
from taskpilot.services.turns import NOT_ANSWERED, seen_status

ItemKind = Literal["msg", "tools", "reply", "note"]
USER: ItemKind = "msg"
TOOLS: ItemKind = "tools"
REPLY: ItemKind = "reply"
NOTE: ItemKind = "note"

_ITEM_ID = re.compile(r"^(msg|tools|reply|note)_([1-9][0-9]{0,17})(?:_([2-9]|[1-9][0-9]+))?$")

# What a running tool call is doing, in words (its result replaces this once it returns).
_RUNNING: dict[str, str] = {
    ToolName.ADD_TASK: "Adding a task",
    ToolName.LIST_TASKS: "Looking up your tasks",
    ToolName.COMPLETE_TASK: "Updating a task",
    ToolName.DELETE_TASK: "Deleting a task",
    ToolName.UPDATE_TASK: "Updating a task",
}


@dataclass(frozen=True)
class ItemRef:
    """What a TaskPilot item id names: a kind, the user message of its turn, and which of the
    turn's workflows (a model that speaks between tool calls has several while streaming)."""

    kind: ItemKind
    turn: int
    part: int = 1


def item_id(kind: ItemKind, turn: int, part: int = 1) -> str:
    """The id of an item of the turn started by user message `turn`."""
    return f"{kind}_{turn}" if part == 1 else f"{kind}_{turn}_{part}"


def parse_item_id(value: str) -> ItemRef | None:
    """The item an id of ours names; None for any other id (e.g. one ChatKit generated)."""
    match = _ITEM_ID.match(value)
    if match is None:
        return None
    kind, turn, part = match.groups()
    return ItemRef(kind, int(turn), int(part or 1))  # type: ignore[arg-type]


def thread_metadata(conversation: Conversation) -> ThreadMetadata:
    """A conversation as a ChatKit thread (without items)."""
    return ThreadMetadata(
        id=conversation.id,
        title=conversation.title,
        created_at=as_utc(conversation.created_at),  # type: ignore[arg-type]
    )


def user_text(content: list[UserMessageContent]) -> str:
    """The text of a ChatKit user message's content (text parts and the text of tags)."""
    parts = []
    for part in content:
        if isinstance(part, UserMessageTextContent | UserMessageTagContent):
            parts.append(part.text)
    return "".join(parts)


def tool_task(call: ToolCall, *, running: bool = False) -> CustomTask:
    """One tool call as a workflow task: what it did (or is doing), and with what."""
    name = call.name
    details = tool_arguments_in_words(name, call.arguments) or None
    if running:
        title = _RUNNING.get(name, f"Running {name}")
        return CustomTask(title=title, content=details, status_indicator="loading", icon="bolt")
    failed = call.is_error
    return CustomTask(
        title=tool_result_in_words(name, call.result, failed),
        content=details,
        status_indicator="complete",
        icon="info" if failed else "check-circle",
    )


def workflow_summary(tasks: list[CustomTask]) -> CustomSummary:
    """The line a finished workflow folds into: the one call's result, or a count."""
    if len(tasks) == 1 and tasks[0].title:
        return CustomSummary(title=tasks[0].title, icon="check-circle")
    return CustomSummary(title=f"{len(tasks)} task actions", icon="check-circle")


def workflow_item(
    item: str, thread_id: str, created_at: datetime, calls: list[ToolCall]
) -> WorkflowItem:
    """A finished workflow item for stored tool calls."""
    tasks = [tool_task(call) for call in calls]
    return WorkflowItem(
        id=item,
        thread_id=thread_id,
        created_at=created_at,
        workflow=Workflow(type="custom", tasks=list(tasks), summary=workflow_summary(tasks)),
    )


def assistant_item(
    item: str, thread_id: str, created_at: datetime, text: str
) -> AssistantMessageItem:
    """An assistant message item with `text`."""
    return AssistantMessageItem(
        id=item,
        thread_id=thread_id,
        created_at=created_at,
        content=[AssistantMessageContent(text=text)],
    )


def failure_note(error: str | None) -> str:
    """What a failed or stopped turn's note says."""
    reason = " ".join((error or NOT_ANSWERED).split())
    return f"_{reason}_{SEPARATOR}Retry to run it again."


def message_items(message: Message, thread_id: str) -> list[ThreadItem]:
    """The ChatKit items one stored message stands for, in thread order."""
    assert message.id is not None
    created = as_utc(message.created_at)
    assert created is not None
    items: list[ThreadItem] = []
    if message.role == Role.USER.value:
        user_id = item_id(USER, message.id)
        items.append(
            UserMessageItem(
                id=user_id,
                thread_id=thread_id,
                created_at=created,
                content=[UserMessageTextContent(text=message.content)],
                inference_options=InferenceOptions(),
            )
        )
        status, error = seen_status(message)
        if status == TurnStatus.FAILED.value:
            if message.tool_calls:
                tools = item_id(TOOLS, message.id)
                calls = ToolCall.stored(message.tool_calls)
                items.append(workflow_item(tools, thread_id, created, calls))
            note = item_id(NOTE, message.id)
            items.append(assistant_item(note, thread_id, created, failure_note(error)))
        return items
    turn = message.reply_to_id or message.id
    if message.tool_calls:
        tools = item_id(TOOLS, turn)
        calls = ToolCall.stored(message.tool_calls)
        items.append(workflow_item(tools, thread_id, created, calls))
    if message.content:
        items.append(assistant_item(item_id(REPLY, turn), thread_id, created, message.content))
    return items
