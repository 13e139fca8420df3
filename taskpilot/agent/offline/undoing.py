""" "Undo that": the last change the conversation made to a task, taken back with `undo_change`.

The history's tool calls and their results are in the model's input (`model_input.py`), so
the change to undo is the last successful task-changing call among them. Each `undo_change`
already made took back one change before it (as an editor's undo does: "undo" twice goes two
changes back); a change the person undid on the page carries `undone` and is skipped.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from taskpilot.agent.offline.commands import Reply, ToolRequest
from taskpilot.agent.offline.transcript import turn_results
from taskpilot.mcp.tools import UNDOABLE, ToolName

_UNDO = re.compile(
    r"^(?:please\s+)?(?:"
    r"undo(?:\s+(?:that|it|this|the\s+last\s+(?:change|one|thing)|my\s+last\s+change))?"
    r"|put\s+it\s+back|take\s+(?:that|it)\s+back|revert\s+(?:that|it)"
    r")(?:\s+please)?$",
    re.IGNORECASE,
)
NOTHING_TO_UNDO = "There's no change to your tasks in this conversation for me to undo."


def asks_to_undo(text: str) -> bool:
    """ "undo", "undo that", "undo the last change", "put it back" (punctuation aside)."""
    return _UNDO.match(" ".join(text.strip(" .!?").split())) is not None


def undo_last_change(history: Sequence[Any]) -> ToolRequest | Reply:
    """The `undo_change` call that takes back the history's last change not undone yet."""
    undos = 0
    for result in reversed(turn_results(history)):
        if result.data is None or result.data.get("undone"):
            continue
        if result.name == ToolName.UNDO_CHANGE:
            undos += 1
        elif result.name in UNDOABLE and undos:
            undos -= 1
        elif result.name in UNDOABLE:
            return ToolRequest(ToolName.UNDO_CHANGE, {"change": result.data})
    return Reply(NOTHING_TO_UNDO)


def describe_undo(task: dict[str, Any]) -> str:
    """What an undo did, in a sentence."""
    number, title = task.get("task_id"), task.get("title", "")
    now = {
        "created": "is removed again",
        "deleted": "is back",
        "updated": "is as it was before the edit",
        "completed": "is pending again",
        "pending": "is done again",
    }.get(str(task.get("undid")), "is as it was")
    if task.get("undid") == "completed" and task.get("repeat") and task.get("due_date"):
        now = f"is due {task['due_date']} again"
    return f"Undone: task {number} **{title}** {now}."
