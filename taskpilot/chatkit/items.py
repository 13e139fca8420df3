"""TaskPilot's stored messages as ChatKit thread items, and ChatKit item ids back to messages.

A ChatKit thread is a conversation; its items are not stored separately but derived from the
messages, so both chat UIs show the same history:

- a user message is a `user_message` item;
- the tool calls of a turn are one `workflow` item (a task per call, with what it did),
  followed by a `widget` item for each call that shows tasks or waited for the person's
  approval (`widgets.py`);
- the assistant's reply is an `assistant_message` item, annotated with the tasks it talks
  about (`task_annotations`: tasks the turn's tools returned that the reply names);
- a turn that failed or was stopped shows its reason as an assistant item (a "note");
- a turn paused for the person's approval (its question `awaiting`) shows what it has done
  so far from its question: its calls, their widgets with the approval card asking, and the
  reply so far (`PausedRun.reply`) under the id its reply will have.

Item ids come from the user message that starts the turn (`msg_12`, `tools_12`, `reply_12`,
`note_12`; a widget is named by its call's place in the turn too: `widget_12` for the first
call, `widget_12_3` for the third), never from the model, so they are unique for
chat-completions models too (whose items all share one fake id) and the ids streamed during a
turn are the ids stored after it.
The one exception is the user message's own item while ChatKit creates it: ChatKit names it
before TaskPilot stores it, and that name is kept as the message's `client_message_id`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from chatkit.types import (
    Annotation,
    AssistantMessageContent,
    AssistantMessageItem,
    CustomSummary,
    CustomTask,
    EntitySource,
    InferenceOptions,
    ThreadItem,
    ThreadMetadata,
    UserMessageContent,
    UserMessageItem,
    UserMessageTagContent,
    UserMessageTextContent,
    WidgetItem,
    Workflow,
    WorkflowItem,
)

from taskpilot.agent.engine.approvals import PausedRun
from taskpilot.agent.tool_words import (
    SEPARATOR,
    tool_arguments_in_words,
    tool_result_in_words,
)
from taskpilot.chatkit.widgets import decision_words, task_widget
from taskpilot.data.models import (
    Conversation,
    Message,
    Role,
    ToolCall,
    TurnStatus,
    as_utc,
)
from taskpilot.mcp.tools import ToolName
from taskpilot.services.public import TaskOut
from taskpilot.services.turns import NOT_ANSWERED, seen_calls, seen_status

ItemKind = Literal["msg", "tools", "reply", "note", "widget"]
USER: ItemKind = "msg"
TOOLS: ItemKind = "tools"
REPLY: ItemKind = "reply"
NOTE: ItemKind = "note"
WIDGET: ItemKind = "widget"

# A mentioned task's tag carries its number as `data.task_id` (a string: ChatKit's entities
# carry string data); numbers are per person, from 1. The entity ids ChatKit sees are
# `task_<number>`, in tags and in annotations alike.
TASK_ENTITY = "task_"
MAX_TASK_NUMBER = 2**31 - 1
# At most this many tasks are annotated on one reply (a listing can return 200).
MAX_ANNOTATIONS = 20

_ITEM_ID = re.compile(
    r"^(msg|tools|reply|note|widget)_([1-9][0-9]{0,17})(?:_([2-9]|[1-9][0-9]+))?$"
)

# What a running tool call is doing, in words (its result replaces this once it returns).
_RUNNING: dict[str, str] = {
    ToolName.ADD_TASK: "Adding a task",
    ToolName.LIST_TASKS: "Looking up your tasks",
    ToolName.COMPLETE_TASK: "Updating a task",
    ToolName.DELETE_TASK: "Deleting a task",
    ToolName.UPDATE_TASK: "Updating a task",
}


def running_words(name: str) -> str:
    """What a running tool call is doing, in words (also ChatKit's progress line)."""
    return _RUNNING.get(name, f"Running {name}")


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


def mentioned_task(tag: UserMessageTagContent) -> int | None:
    """The task number an @-mention's tag carries, if it is a plausible one. Whose task it is
    is not decided here: the MCP tools act only on the person's own tasks, so a number that
    is someone else's is simply "not found"."""
    value = tag.data.get("task_id")
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 10:
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_TASK_NUMBER:
        return value
    return None


def user_text(content: list[UserMessageContent]) -> str:
    """The text of a ChatKit user message's content: its text parts, a mentioned task as
    "task N" (the model acts on numbers, not on titles that may be ambiguous), any other tag
    as its text."""
    parts = []
    for part in content:
        if isinstance(part, UserMessageTagContent):
            number = mentioned_task(part)
            parts.append(part.text if number is None else f"task {number}")
        elif isinstance(part, UserMessageTextContent):
            parts.append(part.text)
    return "".join(parts)


def _returned_tasks(calls: list[ToolCall]) -> dict[int, dict[str, Any]]:
    """The tasks the turn's tool results returned, by number (deleted ones left out)."""
    tasks: dict[int, dict[str, Any]] = {}
    for call in calls:
        if call.is_error or not isinstance(call.result, dict):
            continue
        listed = call.result.get("tasks")
        for task in listed if isinstance(listed, list) else [call.result]:
            if not isinstance(task, dict) or task.get("status") == "deleted":
                continue
            number, title = task.get("task_id"), task.get("title")
            if type(number) is int and isinstance(title, str) and title.strip():
                tasks.setdefault(number, task)
    return tasks


def _first_mention(text: str, number: int, title: str) -> int | None:
    """Where the reply's first mention of a task ends: its title, or "task N" / "#N"."""
    ends = [
        match.end()
        for pattern in (
            rf"(?<!\w){re.escape(title.strip())}(?!\w)",
            rf"(?:\btask\s+#?|#){number}(?![0-9])",
        )
        if (match := re.search(pattern, text, re.IGNORECASE)) is not None
    ]
    return min(ends) if ends else None


def task_annotations(text: str, calls: list[ToolCall]) -> list[Annotation]:
    """An annotation for each task the turn's tools returned that the reply talks about, at
    its first mention, naming the task as an entity ChatKit hands back when it is clicked."""
    found: list[tuple[int, Annotation]] = []
    for number, task in _returned_tasks(calls).items():
        at = _first_mention(text, number, task["title"])
        if at is None:
            continue
        source = EntitySource(
            id=f"{TASK_ENTITY}{number}",
            title=task["title"],
            label=f"Task {number}",
            icon="check-circle" if task.get("completed") else "empty-circle",
            interactive=True,
            data={"task_id": str(number)},
        )
        found.append((at, Annotation(source=source, index=at)))
    found.sort(key=lambda pair: pair[0])
    return [annotation for _, annotation in found[:MAX_ANNOTATIONS]]


def tool_task(call: ToolCall, *, running: bool = False) -> CustomTask:
    """One tool call as a workflow task: what it did (or is doing), and with what."""
    name = call.name
    details = tool_arguments_in_words(name, call.arguments) or None
    if running:
        title = running_words(name)
        return CustomTask(title=title, content=details, status_indicator="loading", icon="bolt")
    waited = decision_words(call)  # waiting for the person, or declined by them
    if waited is not None:
        return CustomTask(
            title=waited, content=details, status_indicator="none", icon="circle-question"
        )
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
    item: str,
    thread_id: str,
    created_at: datetime,
    text: str,
    annotations: list[Annotation] | None = None,
) -> AssistantMessageItem:
    """An assistant message item with `text` (and its annotations)."""
    return AssistantMessageItem(
        id=item,
        thread_id=thread_id,
        created_at=created_at,
        content=[AssistantMessageContent(text=text, annotations=annotations or [])],
    )


def widget_item(
    item: str,
    thread_id: str,
    created_at: datetime,
    call: ToolCall,
    tasks: Mapping[int, TaskOut] | None = None,
    asking: bool = False,
    undoable: bool = True,
) -> WidgetItem | None:
    """The widget item of one tool call (None if it has none); `tasks` are the person's
    tasks now, by number (None: as the call's result says); `asking`: its turn waits for
    the person's approval; `undoable`: the call is (or is becoming, as it streams) its
    reply's, whose change Undo takes back — not a failed or paused question's."""
    widget = task_widget(call, tasks, asking, undoable)
    if widget is None:
        return None
    return WidgetItem(id=item, thread_id=thread_id, created_at=created_at, widget=widget)


def call_widgets(
    turn: int,
    thread_id: str,
    created_at: datetime,
    calls: list[ToolCall],
    tasks: Mapping[int, TaskOut] | None,
    asking: bool = False,
    undoable: bool = True,
) -> list[ThreadItem]:
    """The widget items of a turn's stored calls, each named by its call's place (the
    reply's call `part - 1`: what its Undo takes back)."""
    items: list[ThreadItem] = []
    for index, call in enumerate(calls, start=1):
        name = item_id(WIDGET, turn, index)
        widget = widget_item(name, thread_id, created_at, call, tasks, asking, undoable)
        if widget is not None:
            items.append(widget)
    return items


def failure_note(error: str | None) -> str:
    """What a failed or stopped turn's note says."""
    reason = " ".join((error or NOT_ANSWERED).split())
    return f"_{reason}_{SEPARATOR}Retry to run it again."


def message_items(
    message: Message, thread_id: str, tasks: Mapping[int, TaskOut] | None = None
) -> list[ThreadItem]:
    """The ChatKit items one stored message stands for, in thread order; its widgets show
    `tasks` (the person's tasks now, by number; None: as the calls' results say)."""
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
        if status == TurnStatus.RUNNING.value and message.tool_calls:
            # Still streaming: the widgets it has shown are there already, so their buttons
            # work before the reply ends (the same ids the stream gave them).
            calls = ToolCall.stored(message.tool_calls)
            items.extend(call_widgets(message.id, thread_id, created, calls, tasks))
        if status == TurnStatus.AWAITING.value:
            items.extend(_paused_items(message, thread_id, created, tasks))
        if status == TurnStatus.FAILED.value:
            ran = seen_calls(message)  # what ran: not a call left waiting
            if ran:
                tools = item_id(TOOLS, message.id)
                calls = ran
                items.append(workflow_item(tools, thread_id, created, calls))
                items.extend(
                    call_widgets(message.id, thread_id, created, calls, tasks, undoable=False)
                )
            note = item_id(NOTE, message.id)
            items.append(assistant_item(note, thread_id, created, failure_note(error)))
        return items
    turn = message.reply_to_id or message.id
    if message.tool_calls:
        tools = item_id(TOOLS, turn)
        calls = ToolCall.stored(message.tool_calls)
        items.append(workflow_item(tools, thread_id, created, calls))
        items.extend(call_widgets(turn, thread_id, created, calls, tasks))
    if message.content:
        annotations = task_annotations(message.content, ToolCall.stored(message.tool_calls))
        reply = item_id(REPLY, turn)
        items.append(assistant_item(reply, thread_id, created, message.content, annotations))
    return items


def _paused_items(
    message: Message, thread_id: str, created: datetime, tasks: Mapping[int, TaskOut] | None
) -> list[ThreadItem]:
    """A question awaiting approval: its calls so far, their widgets (the waiting call's
    approval card asking), and the reply so far, named as its reply's items will be."""
    assert message.id is not None
    calls = ToolCall.stored(message.tool_calls)
    items: list[ThreadItem] = [
        workflow_item(item_id(TOOLS, message.id), thread_id, created, calls),
        *call_widgets(message.id, thread_id, created, calls, tasks, asking=True, undoable=False),
    ]
    said = PausedRun.model_validate(message.paused_run).reply if message.paused_run else ""
    if said:
        reply = item_id(REPLY, message.id)
        items.append(assistant_item(reply, thread_id, created, said, task_annotations(said, calls)))
    return items
