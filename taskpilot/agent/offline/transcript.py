"""Reading the Runner's input: the replayed conversation items (plain dicts or SDK objects),
and the tool calls of this turn with what they returned.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from taskpilot.mcp.tools import canonical_name, without_error_prefix


@dataclass(frozen=True)
class ToolResult:
    """One tool call of this turn and what it returned."""

    name: str
    arguments: dict[str, Any]
    data: dict[str, Any] | None  # the parsed JSON result; None when the tool failed
    error: str | None


def get(item: Any, key: str) -> Any:
    """`key` of an input item, a plain dict or an SDK object alike; None when it has none."""
    if isinstance(item, Mapping):
        return item.get(key)
    return getattr(item, key, None)


def content_text(content: Any) -> str:
    """The text of message content or a tool output: a string, one part, or a list of parts."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, Sequence):
        return "".join(content_text(part) for part in content)
    text = get(content, "text")
    if isinstance(text, str):
        return text
    return ""


def is_message(item: Any, role: str) -> bool:
    """True when `item` is a message from `role` ("user", "assistant")."""
    return get(item, "role") == role and get(item, "type") in (None, "message")


def _tool_result(name: str, arguments: dict[str, Any], output: Any) -> ToolResult:
    text = content_text(output).strip()
    data: Any = None
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        # A plain function tool's dict reaches the model as its Python repr.
        if text.startswith("{"):
            try:
                data = ast.literal_eval(text)
            except (ValueError, TypeError, SyntaxError, RecursionError, MemoryError):
                data = None
    if isinstance(data, dict) and "error" not in data:
        return ToolResult(name, arguments, data, None)
    if isinstance(data, dict):
        text = str(data["error"])
    message = without_error_prefix(text).strip() or "The tool returned nothing."
    return ToolResult(name, arguments, None, message)


def _json_object(text: Any) -> dict[str, Any]:
    if isinstance(text, Mapping):
        return dict(text)
    try:
        value = json.loads(text or "{}")
    except (TypeError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def turn_results(items: Sequence[Any]) -> list[ToolResult]:
    """What each tool call among `items` returned, in the order the outputs arrive."""
    calls: dict[str, tuple[str, dict[str, Any]]] = {}
    results: list[ToolResult] = []
    for item in items:
        kind = get(item, "type")
        if kind == "function_call":
            name = canonical_name(str(get(item, "name") or ""))
            calls[str(get(item, "call_id"))] = (name, _json_object(get(item, "arguments")))
        elif kind == "function_call_output":
            name, arguments = calls.get(str(get(item, "call_id")), ("", {}))
            results.append(_tool_result(name, arguments, get(item, "output")))
    return results


def listed_tasks(data: Mapping[str, Any] | None) -> list[Mapping[str, Any]]:
    """The tasks of a `list_tasks` result, skipping anything that is not a numbered task
    (a task number is a positive integer the tools accept: a hostile result's -1 is not)."""
    tasks = (data or {}).get("tasks")
    if not isinstance(tasks, list):
        return []
    return [
        task
        for task in tasks
        if isinstance(task, Mapping)
        and isinstance(task.get("task_id"), int)
        and not isinstance(task.get("task_id"), bool)
        and 0 < task["task_id"] < 2**31
    ]
