"""The MCP tools by name: the one list of which tools exist and what each may do.

The server registers its tools under these names; the agent's instructions, the task panel's
refresh, ChatKit's running labels, the offline model and the tests read them from here. Also
here: how a tool's error reads once the MCP SDK's prefix is taken off.
"""

from __future__ import annotations

import re
from enum import StrEnum


class ToolName(StrEnum):
    ADD_TASK = "add_task"
    LIST_TASKS = "list_tasks"
    COMPLETE_TASK = "complete_task"
    DELETE_TASK = "delete_task"
    UPDATE_TASK = "update_task"
    UNDO_CHANGE = "undo_change"


# Tools whose success changes the task list (so the task panel refreshes after them).
TASK_CHANGING = frozenset(
    {
        ToolName.ADD_TASK,
        ToolName.COMPLETE_TASK,
        ToolName.DELETE_TASK,
        ToolName.UPDATE_TASK,
        ToolName.UNDO_CHANGE,
    }
)
# Tools whose change `undo_change` reverses, given the call's result (an undo is not undone:
# the change it undid can be made again).
UNDOABLE = TASK_CHANGING - {ToolName.UNDO_CHANGE}
# Tools whose change cannot be taken back by calling another tool: a turn's call to one
# waits for the person's approval (`agent/engine/approvals.py`).
DESTRUCTIVE = frozenset({ToolName.DELETE_TASK})
# What a call the person declined returns to the model.
DECLINED = "The person declined this, so it was not done; nothing changed."

# The MCP SDK puts "Error executing tool <name>: " before a tool's own words; some clients
# say "Error: ". What follows is written for the person.
_ERROR_PREFIX = re.compile(r"^(?:error executing tool [\w.-]+:\s*|error:\s*)", re.IGNORECASE)
_NAMES = frozenset(ToolName)
_CLIENT_PREFIX = re.compile(r"[._:-](" + "|".join(ToolName) + r")$")


def without_error_prefix(text: str) -> str:
    """A tool's error text without the prefix the MCP SDK (or a client) adds."""
    return _ERROR_PREFIX.sub("", text, count=1)


def canonical_name(name: str) -> str:
    """TaskPilot's name for a tool, ignoring a prefix a client may add ("taskpilot_add_task");
    any other name as it is."""
    if name in _NAMES:
        return name
    match = _CLIENT_PREFIX.search(name)
    return match.group(1) if match else name
