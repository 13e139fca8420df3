"""A task named in words ("delete the meeting task"): once `list_tasks` has looked it up,
act on the one match or ask which one; then read the answer ("2", "the first one") back.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from datetime import date
from typing import Any

from taskpilot.agent.offline.commands import Command, Intent, Reply, ToolRequest
from taskpilot.agent.offline.grammar import parse_command
from taskpilot.agent.offline.transcript import (
    ToolResult,
    content_text,
    get,
    is_message,
    listed_tasks,
)

# The assistant's question when a task named in words matches several; a bare number in
# the next message answers it.
WHICH_ONE = "Which one should I"

_ACTION_WORDS = {
    Intent.COMPLETE: ("mark as done", "complete"),
    Intent.REOPEN: ("reopen", "reopen"),
    Intent.DELETE: ("delete", "delete"),
    Intent.UPDATE: ("update", "update"),
}


def after_lookup(command: Command, lookup: ToolResult) -> ToolRequest | Reply:
    """The step after `list_tasks` looked `command.target` up: act on the one match, or ask
    which one (a list of `- **number** title` lines that `resolve_choice` reads back)."""
    if lookup.error is not None or lookup.data is None:
        return Reply(f"I couldn't look that task up: {lookup.error}")
    matches = listed_tasks(lookup.data)
    status = command.lookup_arguments()["status"]
    kind = f"{status} task" if status != "all" else "task"
    if not matches:
        return Reply(
            f'No {kind} matching "{command.target}" was found. Say **show my tasks** to see'
            " them all."
        )
    if len(matches) == 1:
        task_id = matches[0]["task_id"]
        return ToolRequest(str(command.tool), command.tool_arguments(task_id))
    verb, example = _ACTION_WORDS[command.intent]
    lines = [f'I found {len(matches)} {kind}s matching "{command.target}":']
    lines += [f"- **{task.get('task_id')}** {task.get('title', '')}" for task in matches]
    first = matches[0].get("task_id")
    lines.append(f"{WHICH_ONE} {verb}? Reply with its number, or say **{example} task {first}**.")
    return Reply("\n".join(lines))


def resolve_choice(command: Command, history: Sequence[Any], today: date) -> Command:
    """Apply "2" or "the first one" to the by-name command whose matches we just listed."""
    assistant = next((i for i in reversed(history) if is_message(i, "assistant")), None)
    previous = next((i for i in reversed(history) if is_message(i, "user")), None)
    question = content_text(get(assistant, "content")) if assistant is not None else ""
    number = command.task_id
    if WHICH_ONE in question and previous is not None:
        earlier = parse_command(content_text(get(previous, "content")), today)
        listed = [int(n) for n in re.findall(r"^- \*\*(\d+)\*\*", question, re.MULTILINE)]
        position = command.arguments.get("position")
        if position is not None and listed and -len(listed) <= position - 1 < len(listed):
            number = listed[position - 1 if position > 0 else position]
        if earlier.needs_lookup and number is not None:
            return replace(earlier, task_id=number, target=None)
    if number is None:
        return Command(Intent.CLARIFY, message="Which task? Name it by number, e.g. **task 3**.")
    return Command(
        Intent.CLARIFY,
        message=f"What should I do with task {number}? For example: **complete task {number}**,"
        f" **delete task {number}** or **rename task {number} to …**.",
    )
