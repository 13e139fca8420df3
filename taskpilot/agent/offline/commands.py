"""What a message asks for, and the two steps the model can take.

`Command` is what the grammar makes of one message; `ToolRequest` (call a tool) and `Reply`
(answer in Markdown) are what `next_step` decides. The tool names are the canonical names of
TaskPilot's MCP tools; a client may offer them under a prefix (`mcp.tools.canonical_name`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from taskpilot.mcp.tools import ToolName


class Intent(StrEnum):
    """What a message asks for."""

    ADD = "add"
    LIST = "list"
    COMPLETE = "complete"
    REOPEN = "reopen"
    DELETE = "delete"
    UPDATE = "update"
    CHOOSE = "choose"  # a bare task number, answering "which one?"
    CLARIFY = "clarify"  # understood, but something is missing or wrong: `message` says what
    GREETING = "greeting"
    THANKS = "thanks"
    DISMISS = "dismiss"  # "never mind"
    HELP = "help"
    UNKNOWN = "unknown"


_TOOL_FOR_INTENT = {
    Intent.ADD: ToolName.ADD_TASK,
    Intent.LIST: ToolName.LIST_TASKS,
    Intent.COMPLETE: ToolName.COMPLETE_TASK,
    Intent.REOPEN: ToolName.COMPLETE_TASK,
    Intent.DELETE: ToolName.DELETE_TASK,
    Intent.UPDATE: ToolName.UPDATE_TASK,
}
TASK_ACTIONS = (Intent.COMPLETE, Intent.REOPEN, Intent.DELETE, Intent.UPDATE)
# What cannot be undone by a word: these act only on a task named clearly.
DESTRUCTIVE = (Intent.DELETE, Intent.COMPLETE)


@dataclass(frozen=True)
class Command:
    """A parsed message: the intent, which task it names, and the tool arguments.

    A task is named by number (`task_id`) or by words (`target`, looked up with
    `list_tasks(search=...)` first). `arguments` holds the tool arguments other than
    `task_id`, with only the values the message gave (for `CHOOSE`, `position`: 1-based,
    -1 for the last). `message` is what to say for `CLARIFY`. `refers_back`: the task is
    "it" / "that", the one the conversation just talked about (`context.last_task`).
    `shift_days`: move the due date by this many days from the task's own ("push it back
    by a week"), read from a lookup first.
    """

    intent: Intent
    task_id: int | None = None
    target: str | None = None
    arguments: Mapping[str, Any] = field(default_factory=dict)
    message: str | None = None
    refers_back: bool = False
    shift_days: int = 0

    @property
    def tool(self) -> str | None:
        """The tool that carries out this command, if any."""
        return _TOOL_FOR_INTENT.get(self.intent)

    @property
    def needs_lookup(self) -> bool:
        """True when the task is named in words and must be found before acting on it."""
        if self.shift_days and self.intent is Intent.UPDATE and not self.refers_back:
            return True  # the task's own due date is needed
        return self.intent in TASK_ACTIONS and self.task_id is None and bool(self.target)

    def tool_arguments(self, task_id: int | None = None) -> dict[str, Any]:
        """The arguments for `tool`, acting on `task_id` (default: the command's own)."""
        number = task_id if task_id is not None else self.task_id
        if self.intent in TASK_ACTIONS:
            return {"task_id": number, **self.arguments}
        return dict(self.arguments)

    def lookup_arguments(self) -> dict[str, Any]:
        """The `list_tasks` arguments that find the task named by `target`."""
        status = {Intent.COMPLETE: "pending", Intent.REOPEN: "completed"}.get(self.intent, "all")
        if self.task_id is not None:  # a numbered task whose fields are needed: every task
            return {"status": status, "limit": 200}
        return {"status": status, "search": self.target}

    def wide_lookup_arguments(self) -> dict[str, Any]:
        """The `list_tasks` arguments for every task this command could act on (when the
        words as typed are in no title, `matching` reads them against each)."""
        return {"status": self.lookup_arguments()["status"], "limit": 200}


@dataclass(frozen=True)
class ToolRequest:
    """The model's next step is to call `name` (a canonical TaskPilot tool) with `arguments`."""

    name: str
    arguments: dict[str, Any]


@dataclass(frozen=True)
class Reply:
    """The model's next step is to answer with `text` (Markdown)."""

    text: str
