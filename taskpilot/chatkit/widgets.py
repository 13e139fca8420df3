"""Tasks as ChatKit widgets, built from the task tools' results.

A turn's tool calls are stored with their results, so its widgets are derived from them like
its workflow item (`items.py`), whichever model made the calls (the offline one included):

- a listing (`list_tasks`) is a `ListView` of the tasks it found, each with its title, due
  date, priority, tags and done state, and buttons to complete (or reopen) and delete it;
- an added or changed task (`add_task`, `update_task`, `complete_task`) is a compact `Card`
  with the same row;
- a deletion, an empty listing or a failed call has no widget (the workflow says what
  happened, and there is nothing left to act on);
- a call that waited for the person's approval (a delete: `mcp/tools.py`'s `DESTRUCTIVE`) is
  an approval card (`approval_card`): the task it would change, with Confirm and Cancel while
  the turn waits, then what became of it.

Which tasks a widget shows, and in which order, comes from the call's result; how they are
*now* comes from `current` (the person's task rows, by number), so a widget shows the truth
after one of its buttons, the task panel or a later turn changed a task. A task no longer in
`current` was deleted: it stays in its place, marked so, without buttons. With `current`
None (a turn streaming now), the result is the current state.

The task buttons send `threads.sync_custom_action` (`streaming=False`): ChatKit does not block
them while a reply streams, and the action answers with the widget redrawn (`actions.py`). An
approval card's Confirm and Cancel send `threads.custom_action` (streamed): the decision
resumes the paused turn, whose reply streams back (`approvals.py`).

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
    CardAction,
    Col,
    Icon,
    ListView,
    ListViewItem,
    Row,
    Text,
    WidgetComponent,
    WidgetStatusWithIcon,
)
from pydantic import BaseModel, ValidationError

from taskpilot.agent.tool_words import SEPARATOR, tool_result_in_words
from taskpilot.data.models import Approval, ToolCall
from taskpilot.mcp.tools import ToolName, canonical_name
from taskpilot.services.public import TaskOut, TaskResult
from taskpilot.services.turns import MOVED_ON
from taskpilot.services.undo_marks import can_undo

# The widget actions (`actions.py` handles them); each payload is `{"task_id": <number>}`,
# and a repeating task's Done also names the date it completes (`due_date`), so that two
# presses (two tabs, a double click) complete one occurrence once, as the task panel does.
COMPLETE = "task.complete"
REOPEN = "task.reopen"
DELETE = "task.delete"
# A stored change's card offers Undo (`{}`: the card's item id names the call it undoes).
UNDO = "change.undo"
UNDONE = "Undone"

# An approval card's buttons (`approvals.py`); each payload is `{"call_id": <the call's id>}`.
APPROVE = "approval.approve"
DECLINE = "approval.decline"
APPROVAL_KEY = "approval-"

# What a call that waits for the person, or that they declined, reads as (its workflow task,
# its card). A declined call's result is what the model was told, not words for the person.
WAITING = "Waiting for your approval"
CANCELLED = "Cancelled: nothing changed"
NOT_WAITING = "No longer waiting for your approval"
_ASK: dict[str, str] = {ToolName.DELETE_TASK: "Delete this task?"}

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
    numbers: set[int] = set()
    for call in calls:
        numbers.update(task.task_id for task in shown_tasks(call))
        if (asked := approval_subject(call)) is not None:
            numbers.add(asked)
    return numbers


def task_widget(
    call: ToolCall,
    current: Mapping[int, TaskOut] | None,
    asking: bool = False,
    undoable: bool = False,
) -> ListView | Card | None:
    """The widget of one tool call (None: it has none), its tasks as they are in `current`;
    `asking`: the turn still waits for the person (a waiting call's card offers Confirm);
    `undoable`: the call is its reply's, whose change the card's Undo takes back."""
    if call.approval is not None:
        return approval_card(call, current or {}, asking)
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
    children: list[WidgetComponent] = [_row(task, now)]
    if call.undone:
        said, status = f"{UNDONE} · {said}", "pending"
    elif undoable and can_undo(call):
        undo = Button(
            label="Undo",
            iconStart="reload",
            size="sm",
            variant="ghost",
            onClickAction=_action(UNDO, {}),
        )
        children.append(Row(justify="end", children=[undo]))
    return Card(
        key=f"task-{task.task_id}",
        size="sm",
        status={"text": said, "icon": "check-circle" if status != "pending" else "reload"},
        children=children,
    )


def offers_undo(widget: BaseModel) -> bool:
    """Whether a built widget shows Undo (what an undo naming this widget may ask)."""
    return any(action.get("type") == UNDO for action in _button_actions(widget))


def decision_words(call: ToolCall) -> str | None:
    """How a call that waited for the person stands, in words (None: it was approved, so
    its result says what it did; or it never waited)."""
    if call.approval is Approval.PENDING:
        return WAITING
    if call.approval is Approval.DECLINED:
        return MOVED_ON if call.result == MOVED_ON else CANCELLED
    return None


def approval_subject(call: ToolCall) -> int | None:
    """The number of the task a call that waits (or waited) for approval would change."""
    number = call.arguments.get("task_id")
    if call.approval is None or type(number) is not int:
        return None
    return number


def approval_card(call: ToolCall, current: Mapping[int, TaskOut], asking: bool) -> Card:
    """A call that waits (or waited) for the person: the task it would change as it is in
    `current`, with Confirm and Cancel while `asking`; once decided, what became of it."""
    offered = asking and call.approval is Approval.PENDING
    body = _approval_body(call, current)
    confirm = cancel = None
    if offered:
        ask = _ASK.get(canonical_name(call.name), f"Run {call.name}?")
        body.insert(0, Text(value=ask, weight="semibold"))
        payload = {"call_id": call.call_id}
        confirm = CardAction(label="Confirm", action=_action(APPROVE, payload, streaming=True))
        cancel = CardAction(label="Cancel", action=_action(DECLINE, payload, streaming=True))
    return Card(
        key=f"{APPROVAL_KEY}{call.call_id}",
        size="sm",
        status=_decision_status(call, asking),
        children=body,
        confirm=confirm,
        cancel=cancel,
    )


def _approval_body(call: ToolCall, current: Mapping[int, TaskOut]) -> list[WidgetComponent]:
    """The task the call would change (or did: a deleted one, as the tool last saw it)."""
    number = approval_subject(call)
    now = current.get(number) if number is not None else None
    shown: TaskOut | None = now
    if shown is None and call.approval is Approval.APPROVED and isinstance(call.result, dict):
        try:
            shown = TaskResult.model_validate(call.result)
        except ValidationError:  # a refusal's details, say: no row to show
            shown = None
    if shown is not None:
        return [_row(shown, now, buttons=False)]
    label = f"Task {number}" if number is not None else call.name
    return [Text(value=label, weight="medium", color="secondary")]


def _decision_status(call: ToolCall, asking: bool) -> WidgetStatusWithIcon:
    """The card's status line: waiting, or what became of the call."""
    if call.approval is Approval.PENDING:
        # Not asking: its turn is being decided now, or ended without a decision.
        return {"text": WAITING if asking else NOT_WAITING, "icon": "circle-question"}
    words = decision_words(call)
    if words is not None:
        return {"text": words, "icon": "info"}
    said = tool_result_in_words(call.name, call.result, call.is_error).split(SEPARATOR)[0]
    return {"text": said, "icon": "info" if call.is_error else "check-circle"}


def approval_offers(widget: BaseModel) -> set[tuple[str, str]]:
    """(action, call id) for Confirm and Cancel, when a built widget offers them."""
    found: set[tuple[str, str]] = set()
    dumped = widget.model_dump()
    for button in (dumped.get("confirm"), dumped.get("cancel")):
        action = button.get("action") if isinstance(button, dict) else None
        payload = action.get("payload") if isinstance(action, dict) else None
        if isinstance(payload, dict) and isinstance(payload.get("call_id"), str):
            found.add((str(action.get("type")), payload["call_id"]))  # type: ignore[union-attr]
    return found


def approval_call(widget: BaseModel) -> str | None:
    """The id of the call an approval card asks about, decided or not (None: not one)."""
    key = getattr(widget, "key", None)
    if isinstance(key, str) and key.startswith(APPROVAL_KEY):
        return key[len(APPROVAL_KEY) :]
    return None


def widget_tasks(widget: BaseModel) -> set[int]:
    """The numbers of the tasks a built widget has a row for (its rows' keys)."""
    keys = [getattr(widget, "key", None), *(getattr(c, "key", None) for c in _children(widget))]
    return {int(key[5:]) for key in keys if key and key.startswith("task-") and key[5:].isdigit()}


def _children(widget: BaseModel) -> list[Any]:
    children = getattr(widget, "children", None)
    return list(children) if isinstance(children, list) else []


def widget_buttons(widget: BaseModel) -> set[tuple[str, int]]:
    """(action, task number) for every task button a built widget shows: what an action
    naming this widget may ask (a deleted task's row has none)."""
    found: set[tuple[str, int]] = set()
    for action in _button_actions(widget):
        number = action["payload"].get("task_id")
        if isinstance(number, int):
            found.add((str(action.get("type")), number))
    return found


def _button_actions(widget: BaseModel) -> list[dict[str, Any]]:
    """The action of every button a built widget shows."""
    found: list[dict[str, Any]] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            action = node.get("onClickAction")
            if isinstance(action, dict) and isinstance(action.get("payload"), dict):
                found.append(action)
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


def _row(shown: TaskOut, now: TaskOut | None, buttons: bool = True) -> Row:
    """One task: done state, title, details and tags, then its buttons (unless not wanted)."""
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
    if buttons and not gone:
        children.extend(_buttons(task))
    return Row(gap=3, align="center", children=children)


def _buttons(task: TaskOut) -> list[WidgetComponent]:
    payload: dict[str, Any] = {"task_id": task.task_id}
    occurrence = {"due_date": task.due_date} if task.repeat and task.due_date else {}
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
            onClickAction=_action(COMPLETE, {**payload, **occurrence}),
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


def _action(kind: str, payload: dict[str, Any], streaming: bool = False) -> ActionConfig:
    # streaming=False: ChatKit sends it as threads.sync_custom_action, not blocked by a reply;
    # True: as threads.custom_action, answered by a stream (an approval's resumed turn).
    return ActionConfig(
        type=kind,
        payload=payload,
        loadingBehavior="container" if streaming else "self",
        streaming=streaming,
    )
