"""Tasks as ChatKit widgets, built from the task tools' results.

A turn's tool calls are stored with their results, so its widgets are derived from them like
its workflow item (`items.py`), whichever model made the calls (the offline one included):

- a listing (`list_tasks`) is a `ListView` of the tasks it found, each with its title, due
  date, priority, tags and done state, and buttons to complete (or reopen) and delete it;
- an added or changed task (`add_task`, `update_task`, `complete_task`) is a compact `Card`
  with the same row;
- a deletion, an empty listing or a failed call has no widget (the workflow says what
  happened, and there is nothing left to act on).

Which tasks a widget shows, and in which order, comes from the call's result; how they are
*now* comes from `current` (the person's task rows, by number), so a widget shows the truth
after one of its buttons, the task panel or a later turn changed a task. A task no longer in
`current` was deleted: it stays in its place, marked so, without buttons. With `current`
None (a turn streaming now), the result is the current state.

The buttons send `threads.sync_custom_action` (`streaming=False`): ChatKit does not block them
while a reply streams, and the action answers with the widget redrawn (`actions.py`).

These are `chatkit.widgets`' typed classes, which `openai-chatkit` 1.6 marks deprecated in
favour of `.widget` template files: the classes validate what is built here, field by field,
where a template is Jinja-rendered JSON checked only when it is loaded.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from chatkit.actions import ActionConfig
from chatkit.widgets import (
    Badge,
    Button,
    Caption,
    Card,
    Col,
    Icon,
    ListView,
    ListViewItem,
    Row,
    Text,
    WidgetComponent,
)
from pydantic import BaseModel, ValidationError

from taskpilot.agent.tool_words import SEPARATOR, tool_result_in_words
from taskpilot.data.models import ToolCall
from taskpilot.mcp.tools import ToolName, canonical_name
from taskpilot.services.public import TaskOut, TaskResult

# The widget actions (`actions.py` handles them); each payload is `{"task_id": <number>}`.
COMPLETE = "task.complete"
REOPEN = "task.reopen"
DELETE = "task.delete"

# How many rows a listing shows before ChatKit's "Show more".
LIST_ROWS = 10

# Tools whose result is one task shown as a card.
_CARD_TOOLS = frozenset({ToolName.ADD_TASK, ToolName.UPDATE_TASK, ToolName.COMPLETE_TASK})


class _Listing(BaseModel):
    """What `list_tasks` answers (its other fields are not needed here)."""

    tasks: list[TaskResult]


def shown_tasks(call: ToolCall) -> list[TaskResult]:
    """The tasks a tool call's widget shows, in order; none when it has no widget."""
    if call.is_error or not isinstance(call.result, dict):
        return []
    name = canonical_name(call.name)
    try:
        if name == ToolName.LIST_TASKS:
            return _Listing.model_validate(call.result).tasks
        if name in _CARD_TOOLS:
            return [TaskResult.model_validate(call.result)]
    except ValidationError:  # a result of another shape (an older record): no widget
        return []
    return []


def shown_numbers(calls: Iterable[ToolCall]) -> set[int]:
    """The numbers of every task these calls' widgets show (to read their rows at once)."""
    return {task.task_id for call in calls for task in shown_tasks(call)}


def task_widget(call: ToolCall, current: Mapping[int, TaskOut] | None) -> ListView | Card | None:
    """The widget of one tool call (None: it has none), its tasks as they are in `current`."""
    tasks = shown_tasks(call)
    if not tasks:
        return None
    rows = [(task, _now(task, current)) for task in tasks]
    if canonical_name(call.name) == ToolName.LIST_TASKS:
        count = len(tasks)
        return ListView(
            key=f"tasks-{'-'.join(str(task.task_id) for task in tasks)}",
            status={"text": f"{count} task{'s' if count != 1 else ''}", "icon": "notebook"},
            limit=LIST_ROWS,
            children=[
                ListViewItem(key=f"task-{task.task_id}", children=[_row(task, now)])
                for task, now in rows
            ],
        )
    (task, now), status = rows[0], str(call.result["status"])  # type: ignore[index]
    said = tool_result_in_words(call.name, call.result, False).split(SEPARATOR)[0]
    return Card(
        key=f"task-{task.task_id}",
        size="sm",
        status={"text": said, "icon": "check-circle" if status != "pending" else "reload"},
        children=[_row(task, now)],
    )


def widget_tasks(widget: BaseModel) -> set[int]:
    """The numbers of the tasks a built widget has a row for (its rows' keys)."""
    keys = [getattr(widget, "key", None), *(getattr(c, "key", None) for c in _children(widget))]
    return {int(key[5:]) for key in keys if key and key.startswith("task-") and key[5:].isdigit()}


def _children(widget: BaseModel) -> list[Any]:
    children = getattr(widget, "children", None)
    return list(children) if isinstance(children, list) else []


def widget_buttons(widget: BaseModel) -> set[tuple[str, int]]:
    """(action, task number) for every button a built widget shows: what an action naming
    this widget may ask (a deleted task's row has none)."""
    found: set[tuple[str, int]] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            action = node.get("onClickAction")
            if isinstance(action, dict) and isinstance(action.get("payload"), dict):
                number = action["payload"].get("task_id")
                if isinstance(number, int):
                    found.add((str(action.get("type")), number))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(widget.model_dump())
    return found


def _now(task: TaskResult, current: Mapping[int, TaskOut] | None) -> TaskOut | None:
    """The task as it is now; None once it is deleted."""
    if current is None:
        return task
    return current.get(task.task_id)


def _row(shown: TaskOut, now: TaskOut | None) -> Row:
    """One task: done state, title, details and tags, then its buttons."""
    task = now or shown
    done, gone = task.completed, now is None
    details = [f"Task {task.task_id}"]
    if gone:
        details.append("deleted")
    if task.due_date:
        details.append(f"due {task.due_date}")
    details.append(f"{task.priority} priority")
    text: list[WidgetComponent] = [
        Text(
            value=task.title,
            weight="medium",
            lineThrough=done or gone,
            color="secondary" if done or gone else None,
            truncate=True,
        ),
        Caption(value=SEPARATOR.join(details), color="secondary"),
    ]
    if task.tags:
        text.append(
            Row(
                gap=1,
                wrap="wrap",
                children=[Badge(label=f"#{tag}", size="sm") for tag in task.tags],
            )
        )
    icon = "lucide:circle-minus" if gone else "check-circle-filled" if done else "empty-circle"
    children: list[WidgetComponent] = [
        Icon(name=icon, color="success" if done and not gone else "secondary"),
        Col(flex=1, gap=1, children=text),
    ]
    if not gone:
        children.extend(_buttons(task))
    return Row(gap=3, align="center", children=children)


def _buttons(task: TaskOut) -> list[WidgetComponent]:
    payload = {"task_id": task.task_id}
    toggle = (
        Button(
            label="Reopen",
            iconStart="reload",
            size="sm",
            variant="outline",
            onClickAction=_action(REOPEN, payload),
        )
        if task.completed
        else Button(
            label="Done",
            iconStart="check",
            size="sm",
            variant="outline",
            color="success",
            onClickAction=_action(COMPLETE, payload),
        )
    )
    delete = Button(
        label="Delete",
        iconStart="lucide:trash-2",
        size="sm",
        variant="ghost",
        color="danger",
        onClickAction=_action(DELETE, payload),
    )
    return [toggle, delete]


def _action(kind: str, payload: dict[str, Any]) -> ActionConfig:
    # streaming=False: ChatKit sends it as threads.sync_custom_action, not blocked by a reply.
    return ActionConfig(type=kind, payload=payload, loadingBehavior="self", streaming=False)
