"""How a tool call reads to a person: its arguments, its result, its error, in a few words.

Shared by every adapter that shows tool calls (the chat page's cards, ChatKit's workflow
items). Plain functions of plain values.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from taskpilot.mcp.tools import ToolName, without_error_prefix
from taskpilot.services.repeats import NO_REPEAT, repeat_in_words

SEPARATOR = " · "
MAX_SHOWN_ERROR = 240
MAX_SHOWN_VALUE = 80
GENERIC_TOOL_ERROR = "The tool could not do that."


def shortened(value: object, limit: int = MAX_SHOWN_VALUE) -> str:
    """`value` on one line, cut to `limit` characters with an ellipsis."""
    text = " ".join(str(value).split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _quoted(value: object) -> str:
    return f"“{shortened(value)}”"


def _tags(value: object) -> str:
    tags = value if isinstance(value, list) else [value]
    return " ".join(f"#{shortened(tag, 30)}" for tag in tags if str(tag).strip())


def _due(value: object) -> str:
    return f"due {shortened(value, 30)}"


def _repeat(value: object) -> str:
    """ "every Monday" for an RRULE; a rule given in words stays as said."""
    text = " ".join(str(value).split())
    if text.lower() in NO_REPEAT:
        return "stop repeating"
    return repeat_in_words(text) or f"repeat {shortened(text, 40)}"


def _change(value: object) -> str:
    """What `undo_change` is asked to undo: "undo task 3"."""
    number = value.get("task_id") if isinstance(value, dict) else None
    return f"undo task {shortened(number, 12)}" if number is not None else "undo"


def _task(value: object) -> str:
    return f"task {shortened(value, 12)}"


# How each known argument reads; the order of this table is the order they are shown in.
_ARGUMENT_WORDS: dict[str, Callable[[object], str]] = {
    "task_id": _task,
    "change": _change,
    "title": shortened,
    "search": _quoted,
    "status": shortened,
    "due_date": _due,
    "due_before": lambda v: f"due by {shortened(v, 30)}",
    "due_after": lambda v: f"due from {shortened(v, 30)}",
    "priority": shortened,
    "tag": _tags,
    "tags": _tags,
    "repeat": _repeat,
    "description": _quoted,
    "sort": lambda v: f"by {shortened(v, 20)}",
    "limit": lambda v: f"up to {shortened(v, 6)}",
}


def tool_arguments_in_words(name: str, arguments: dict[str, Any] | None) -> str:
    """A tool call's arguments as a short phrase: `Buy milk · due 2026-11-23 · high`."""
    args = {k: v for k, v in (arguments or {}).items() if v not in (None, "", [], {})}
    reopen = name == ToolName.COMPLETE_TASK and args.pop("completed", True) is False
    if name == ToolName.LIST_TASKS and args.get("status") == "all" and len(args) > 1:
        args.pop("status")  # "all" adds nothing once another filter is named
    words: list[str] = []
    for key, describe in _ARGUMENT_WORDS.items():
        if key not in args:
            continue
        value = args.pop(key)
        if key == "title" and name == ToolName.UPDATE_TASK:
            words.append(f"rename to {_quoted(value)}")
        else:
            words.append(describe(value))
    words.extend(f"{key} {shortened(value, 40)}" for key, value in sorted(args.items()))
    if reopen:
        words.append("reopen")
    if not words and name == ToolName.LIST_TASKS:
        words.append("all tasks")
    return SEPARATOR.join(words)


def tool_error_in_words(result: object) -> str:
    """A tool's error for the person: the MCP prefix removed, bounded, never a dump."""
    text = result if isinstance(result, str) else ""
    text = without_error_prefix(" ".join(text.split()))
    if not text or "Traceback" in text:
        return GENERIC_TOOL_ERROR
    return shortened(text, MAX_SHOWN_ERROR)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


# What an undo took back, by the status of the change it undid.
_UNDID = {
    "created": "adding",
    "deleted": "deleting",
    "updated": "the edit to",
    "completed": "completing",
    "pending": "reopening",
}


def tool_result_in_words(name: str, result: object, is_error: bool) -> str:
    """What a finished tool call did, in a few words: `Added task 3`, `2 tasks found`."""
    if is_error:
        return tool_error_in_words(result)
    if not isinstance(result, dict):
        return "Done" if result in (None, "") else shortened(result)
    if name == ToolName.LIST_TASKS or "tasks" in result:
        count = result.get("count")
        if not isinstance(count, int):
            tasks = result.get("tasks")
            count = len(tasks) if isinstance(tasks, list) else 0
        return "No tasks found" if count == 0 else f"{_count(count, 'task')} found"
    number = result.get("task_id")
    title = result.get("title")
    status = result.get("status")
    if name == ToolName.UNDO_CHANGE:
        undid = _UNDID.get(str(result.get("undid")), "the change")
        return f"Undid {undid} task {number}" + (f"{SEPARATOR}{shortened(title)}" if title else "")
    verb = {
        "created": "Added",
        "completed": "Completed",
        "pending": "Reopened",
        "deleted": "Deleted",
        "updated": "Updated",
    }.get(str(status), "Done")
    if number is None:
        return verb
    phrase = f"{verb} task {number}"
    phrase = f"{phrase}{SEPARATOR}{shortened(title)}" if title else phrase
    if status == "completed" and result.get("completed") is False and result.get("due_date"):
        phrase += f"{SEPARATOR}next due {shortened(result['due_date'], 30)}"  # it repeats
    return phrase
