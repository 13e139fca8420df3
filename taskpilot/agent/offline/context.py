"""What the conversation so far says about "it": the task the last turn acted on or showed.

The Runner's input replays earlier turns with their tool calls and outputs
(`agent/model_input.py`), so the model needs no memory of its own: the task of "make it
urgent" is the one the previous turn added, changed, completed or listed alone. A listing of
several tasks leaves "it" unclear, and the model asks.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from taskpilot.agent.offline.transcript import (
    content_text,
    get,
    is_message,
    listed_tasks,
    turn_results,
)
from taskpilot.mcp.tools import ToolName

# "task 3", "#3": a task the person named by number.
_NAMED_NUMBER = re.compile(r"(?:\btask\s*#?|#)(\d{1,9})\b", re.IGNORECASE)
_EXCLUDING = re.compile(r"\b(?:except|but|not|without|other\s+than|apart\s+from)\b", re.I)
# How many earlier turns are looked through for the task last talked about.
_TURNS_BACK = 3


def _turns(items: Sequence[Any]) -> list[Sequence[Any]]:
    """The earlier turns, newest first: each from a user message to the next."""
    starts = [index for index, item in enumerate(items) if is_message(item, "user")]
    ends = [*starts[1:], len(items)] if starts else []
    return [items[start:end] for start, end in reversed(list(zip(starts, ends, strict=True)))]


@dataclass(frozen=True)
class Recent:
    """The task the conversation just talked about: its number, and its title when known."""

    number: int
    title: str = ""
    source: str = ""  # the tool whose result named it ("add_task", "list_tasks", ...)


def last_task(history: Sequence[Any]) -> Recent | None:
    """The task the conversation just talked about, or None when that is unclear (no task
    yet, or the last listing showed several and named none)."""
    for turn in _turns(history)[:_TURNS_BACK]:
        said = content_text(get(turn[0], "content"))
        # "show everything except task 3" is not about task 3.
        named = [] if _EXCLUDING.search(said) else _NAMED_NUMBER.findall(said)
        for result in reversed(turn_results(turn)):
            if result.data is None:
                return None  # the last call failed ("task 99 was not found"): "it" is unclear
            if result.name == ToolName.LIST_TASKS:
                tasks = listed_tasks(result.data)
                if len(tasks) == 1:
                    task = tasks[0]
                    return Recent(
                        int(task["task_id"]), str(task.get("title", "")), ToolName.LIST_TASKS
                    )
                # "show task 3" lists every task, but it was about task 3.
                return Recent(int(named[0]), "", "named") if len(set(named)) == 1 else None
            number = result.data.get("task_id")
            if isinstance(number, int) and not isinstance(number, bool) and number > 0:
                return Recent(number, str(result.data.get("title", "")), result.name)
    return None
