"""A task named in words ("delete the meeting task"): look it up, act on the one match or ask
which one; then read the answer ("2", "the first one", "the one with Sam") back.

The lookup is `list_tasks(search=words)` first: a title holding the words as typed. When that
finds nothing, a second `list_tasks` fetches the tasks the command could act on and
`matching` finds the one meant despite typos or other word forms. Acting needs one clear
match; anything less is a question, so a near-miss never becomes a delete or a completion.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import date, timedelta
from typing import Any

from taskpilot.agent.offline.commands import DESTRUCTIVE, Command, Intent, Reply, ToolRequest
from taskpilot.agent.offline.confirmation import YES
from taskpilot.agent.offline.grammar import parse_command
from taskpilot.agent.offline.matching import NAMED, content_words, named, rank
from taskpilot.agent.offline.transcript import (
    ToolResult,
    content_text,
    get,
    is_message,
    listed_tasks,
)
from taskpilot.mcp.tools import ToolName

# The assistant's question when a task named in words matches several; the next message
# answers it.
WHICH_ONE = "Which one should I"
# At most this many candidates are offered when the words match no title exactly.
_MOST_OFFERED = 5
# An answer that says no, or not that one: never a choice.
_NEGATED = re.compile(r"\b(?:no|not|neither|none|nope|don'?t)\b", re.IGNORECASE)
_SEVERAL = re.compile(r"\b(?:all|both|them|they|each|every|either|any)\b", re.IGNORECASE)
# How the question lists the candidates, and how `resolve_choice` reads them back.
_CANDIDATE_LINE = re.compile(r"^- \*\*(\d+)\*\* (.*)$", re.MULTILINE)

_ACTION_WORDS = {
    Intent.COMPLETE: ("mark as done", "complete"),
    Intent.REOPEN: ("reopen", "reopen"),
    Intent.DELETE: ("delete", "delete"),
    Intent.UPDATE: ("update", "update"),
}


def _which_one(command: Command, tasks: Sequence[Mapping[str, Any]], opening: str) -> Reply:
    verb, example = _ACTION_WORDS[command.intent]
    lines = [opening]
    lines += [f"- **{task.get('task_id')}** {task.get('title', '')}" for task in tasks]
    first = tasks[0].get("task_id")
    lines.append(
        f"{WHICH_ONE} {verb}? Reply with its number or its name, or say **{example} task {first}**."
    )
    return Reply("\n".join(lines))


def _act(command: Command, task: Mapping[str, Any], today: date) -> ToolRequest | Reply:
    """The command's tool call on the task found; a shift of the due date counts from the
    task's own (or from today when it has none)."""
    number = task["task_id"]
    if not command.shift_days:
        return ToolRequest(str(command.tool), command.tool_arguments(number))
    try:
        start = date.fromisoformat(str(task.get("due_date") or today.isoformat()))
    except ValueError:
        start = today
    try:
        due = start + timedelta(days=command.shift_days)
    except OverflowError:
        return Reply("That would move the due date off the calendar.")
    return ToolRequest(str(command.tool), {"task_id": number, "due_date": due.isoformat()})


def after_lookup(
    command: Command, lookups: Sequence[ToolResult], today: date
) -> ToolRequest | Reply:
    """The step after the `list_tasks` lookups of `command.target` (one by its words, then,
    when that found nothing, one of every task it could act on): act on the one match, look
    wider, or ask which one (`- **number** title` lines that `resolve_choice` reads back)."""
    failed = next((lookup for lookup in lookups if lookup.data is None), None)
    if failed is not None:
        return Reply(f"I couldn't look that task up: {failed.error}")
    status = command.lookup_arguments()["status"]
    kind = f"{status} task" if status != "all" else "task"
    matches = listed_tasks(lookups[0].data)
    if command.task_id is not None:  # a numbered task, looked up for its fields
        found = [task for task in matches if task["task_id"] == command.task_id]
        if not found:
            return Reply(f"Task {command.task_id} was not found.")
        return _act(command, found[0], today)
    strict = command.intent in DESTRUCTIVE
    if strict and not [w for w in content_words(str(command.target)) if not w.isdigit()]:
        # "delete task 4 and 5", "tasks 3": numbers only, never a title's "4" or "3".
        return Reply(
            f'Which task do you mean by "{command.target}"? Name one by its number, for'
            " example: **delete task 3**."
        )
    if len(matches) == 1 and (not strict or named(str(command.target), matches, exactly=True)):
        return _act(command, matches[0], today)  # (a delete needs the title's own words)
    if len(matches) == 1:
        opening = f'No {kind} is called "{command.target}" exactly. Did you mean this one?'
        return _which_one(command, matches, opening)
    if matches:
        opening = f'I found {len(matches)} {kind}s matching "{command.target}":'
        return _which_one(command, matches, opening)
    if len(lookups) == 1:
        return ToolRequest(ToolName.LIST_TASKS, command.wide_lookup_arguments())
    candidates = rank(str(command.target), listed_tasks(lookups[1].data))
    # A delete or completion needs the title's own words; a typo or a similar word is asked.
    sure = [m.task for m in candidates if (m.exact if strict else m.score) >= NAMED]
    if len(sure) == 1:
        return _act(command, sure[0], today)
    if sure:
        opening = f'These {kind}s all match "{command.target}":'
        return _which_one(command, sure[:_MOST_OFFERED], opening)
    if candidates:
        opening = f'No {kind} is called "{command.target}" exactly. Did you mean one of these?'
        return _which_one(command, [m.task for m in candidates[:_MOST_OFFERED]], opening)
    return Reply(
        f'No {kind} matching "{command.target}" was found. Say **show my tasks** to see them all.'
    )


def _asked_which_one(history: Sequence[Any]) -> str | None:
    """The assistant's last message when it asked which task was meant; else None."""
    assistant = next((i for i in reversed(history) if is_message(i, "assistant")), None)
    question = content_text(get(assistant, "content")) if assistant is not None else ""
    return question if WHICH_ONE in question else None


def resolve_choice(
    command: Command, text: str, history: Sequence[Any], today: date
) -> Command | None:
    """Read the answer to our "which one?" question: a listed number, a position ("the
    second one", or "2" when no listed task has that number) or words of a listed title. The
    command asked about, now naming that task; a question again when the answer fits no
    listed task; None when the message is no answer (a new command, or none was asked)."""
    question = _asked_which_one(history)
    previous = next((i for i in reversed(history) if is_message(i, "user")), None)
    if question is None or previous is None:
        return None
    earlier = parse_command(content_text(get(previous, "content")), today)
    if not earlier.needs_lookup:
        return None
    offered = [(int(n), title) for n, title in _CANDIDATE_LINE.findall(question)]
    numbers = [number for number, _ in offered]
    chosen: int | None = None
    if command.intent is Intent.DISMISS:
        return None  # "never mind", "neither": nothing is done
    if _NEGATED.search(text) or _SEVERAL.search(text):
        chosen = None  # "not the dad one", "all of them": never read as one choice
    elif YES.match(text.strip()) and len(numbers) == 1:
        chosen = numbers[0]  # "yes" to the one task offered
    elif command.intent is Intent.CHOOSE:
        position = command.arguments.get("position")
        number = command.task_id
        bare = text.strip(" .!?").isdigit()
        if position is not None and -len(numbers) <= position - 1 < len(numbers):
            chosen = numbers[position - 1 if position > 0 else position]
        elif number in numbers:
            chosen = number
        elif bare and number is not None and 1 <= number <= len(numbers):
            chosen = numbers[number - 1]  # "2": the second one listed
    elif command.intent is Intent.UNKNOWN:
        titles = [{"task_id": number, "title": title} for number, title in offered]
        picked = named(text, titles)
        if len(picked) == 1:
            chosen = int(picked[0]["task_id"])
    else:
        return None  # a new request, not an answer
    if chosen is None:
        listed = ", ".join(f"**{n}**" for n in numbers)
        return Command(
            Intent.CLARIFY,
            message=f"That isn't one of the tasks I listed ({listed}). Which one did you mean?"
            " Or say **never mind**.",
        )
    return replace(earlier, task_id=chosen, target=None)


def choose_without_question(command: Command) -> Command:
    """A bare number with no question before it: ask what to do with that task."""
    number = command.task_id
    if number is None:
        return Command(Intent.CLARIFY, message="Which task? Name it by number, e.g. **task 3**.")
    return Command(
        Intent.CLARIFY,
        message=f"What should I do with task {number}? For example: **complete task {number}**,"
        f" **delete task {number}** or **rename task {number} to …**.",
    )
