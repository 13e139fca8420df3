"""What the chat page says about things: tool calls in words, due dates, history groups.

Plain functions of plain values, so they are tested without a browser.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

SEPARATOR = " · "
# Tools whose success changes the task list, so the task panel refreshes after them.
TASK_CHANGING_TOOLS = frozenset({"add_task", "complete_task", "delete_task", "update_task"})
MAX_SHOWN_ERROR = 240
MAX_SHOWN_VALUE = 80
# The MCP SDK prefixes a tool's error text with this; the rest is written for the person.
_TOOL_ERROR_PREFIX = re.compile(r"^Error executing tool [\w.-]+:\s*")
GENERIC_TOOL_ERROR = "The tool could not do that."


def _short(value: object, limit: int = MAX_SHOWN_VALUE) -> str:
    text = " ".join(str(value).split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _quoted(value: object) -> str:
    return f"“{_short(value)}”"


def _tags(value: object) -> str:
    tags = value if isinstance(value, list) else [value]
    return " ".join(f"#{_short(tag, 30)}" for tag in tags if str(tag).strip())


def _due(value: object) -> str:
    return f"due {_short(value, 30)}"


def _task(value: object) -> str:
    return f"task {_short(value, 12)}"


# How each known argument reads; the order of this table is the order they are shown in.
_ARGUMENT_WORDS: dict[str, Callable[[object], str]] = {
    "task_id": _task,
    "title": _short,
    "search": _quoted,
    "status": _short,
    "due_date": _due,
    "due_before": lambda v: f"due by {_short(v, 30)}",
    "due_after": lambda v: f"due from {_short(v, 30)}",
    "priority": _short,
    "tag": _tags,
    "tags": _tags,
    "description": _quoted,
    "sort": lambda v: f"by {_short(v, 20)}",
    "limit": lambda v: f"up to {_short(v, 6)}",
}


def tool_arguments_in_words(name: str, arguments: dict[str, Any] | None) -> str:
    """A tool call's arguments as a short phrase: `Buy milk · due 2026-11-23 · high`."""
    args = {k: v for k, v in (arguments or {}).items() if v not in (None, "", [], {})}
    reopen = name == "complete_task" and args.pop("completed", True) is False
    if name == "list_tasks" and args.get("status") == "all" and len(args) > 1:
        args.pop("status")  # "all" adds nothing once another filter is named
    words: list[str] = []
    for key, describe in _ARGUMENT_WORDS.items():
        if key not in args:
            continue
        value = args.pop(key)
        if key == "title" and name == "update_task":
            words.append(f"rename to {_quoted(value)}")
        else:
            words.append(describe(value))
    words.extend(f"{key} {_short(value, 40)}" for key, value in sorted(args.items()))
    if reopen:
        words.append("reopen")
    if not words and name == "list_tasks":
        words.append("all tasks")
    return SEPARATOR.join(words)


def tool_error_in_words(result: object) -> str:
    """A tool's error for the person: the MCP prefix removed, bounded, never a dump."""
    text = result if isinstance(result, str) else ""
    text = _TOOL_ERROR_PREFIX.sub("", " ".join(text.split()))
    if not text or "Traceback" in text:
        return GENERIC_TOOL_ERROR
    return _short(text, MAX_SHOWN_ERROR)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def tool_result_in_words(name: str, result: object, is_error: bool) -> str:
    """What a finished tool call did, in a few words: `Added task 3`, `2 tasks found`."""
    if is_error:
        return tool_error_in_words(result)
    if not isinstance(result, dict):
        return "Done" if result in (None, "") else _short(result)
    if name == "list_tasks" or "tasks" in result:
        count = result.get("count")
        if not isinstance(count, int):
            tasks = result.get("tasks")
            count = len(tasks) if isinstance(tasks, list) else 0
        return "No tasks found" if count == 0 else f"{_count(count, 'task')} found"
    number = result.get("task_id")
    title = result.get("title")
    status = result.get("status")
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
    return f"{phrase}{SEPARATOR}{_short(title)}" if title else phrase


def due_in_words(due: date | None, today: date) -> tuple[str, str]:
    """A due date as a badge: (label, tone) with tone overdue/today/soon/later, or ("", "")."""
    if due is None:
        return "", ""
    days = (due - today).days
    when = f"{due:%b} {due.day}" if due.year == today.year else f"{due:%b} {due.day}, {due.year}"
    if days < 0:
        return f"Overdue · {when}", "overdue"
    if days == 0:
        return "Due today", "today"
    if days == 1:
        return "Due tomorrow", "soon"
    if days < 7:
        return f"Due {due:%a}", "soon"
    return f"Due {when}", "later"


def history_group(when: datetime, now: datetime) -> str:
    """The sidebar section a conversation last active at `when` belongs to (both aware)."""
    day = when.astimezone(now.tzinfo).date()
    today = now.date()
    if day >= today:
        return "Today"
    if day == today - timedelta(days=1):
        return "Yesterday"
    if day > today - timedelta(days=7):
        return "Previous 7 days"
    if day > today - timedelta(days=30):
        return "Previous 30 days"
    return f"{day:%B %Y}" if day.year != today.year else f"{day:%B}"


def greeting(display_name: str) -> str:
    """The start screen's heading."""
    name = " ".join(display_name.split())
    first = name.split(" ")[0] if name else ""
    return f"What's on your list, {first}?" if first else "What's on your list today?"


def initials(display_name: str, email: str) -> str:
    """One or two letters for the account button."""
    words = [w for w in re.split(r"[\s._-]+", display_name or email.split("@")[0]) if w]
    if not words:
        return "?"
    letters = words[0][0] + (words[1][0] if len(words) > 1 else "")
    return letters.upper()
