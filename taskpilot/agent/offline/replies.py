"""Wording the replies: the help text, and a sentence (or a list) for each tool result."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from taskpilot.agent.offline.transcript import ToolResult, listed_tasks
from taskpilot.agent.offline.undoing import describe_undo
from taskpilot.mcp.tools import DECLINED, ToolName
from taskpilot.services.repeats import repeat_in_words

HELP_TEXT = (
    "I'm TaskPilot's **offline model**: a rule-based command parser, not an AI. I understand"
    " plain task commands such as:\n"
    "- **add buy milk tomorrow, high priority**\n"
    "- **what's pending?** or **show tasks due this week**\n"
    "- **complete task 3** or **mark buy milk as done**\n"
    "- **delete the meeting task**\n"
    "- **rename task 1 to Call mom tonight** or **move task 2 to friday**\n"
    "- **water the ferns every monday** or **stop repeating task 4**\n"
    "- **undo that** (takes back my last change)\n\n"
    "For free-form conversation, set `MODEL_PROVIDER=openai` and `OPENAI_API_KEY` (or"
    " `MODEL_BASE_URL` for an OpenAI-compatible server)."
)


def _format_day(iso: Any) -> str:
    """'Fri 2026-11-27' for '2026-11-27'."""
    try:
        return f"{date.fromisoformat(str(iso)):%a} {iso}"
    except ValueError:
        return str(iso)


def _tags_text(tags: Any) -> str:
    if not isinstance(tags, list):
        tags = [tags]
    return " ".join(f"#{tag}" for tag in tags)


def _details(task: Mapping[str, Any]) -> list[str]:
    details = []
    if task.get("due_date"):
        details.append(f"due {_format_day(task['due_date'])}")
    if task.get("priority") and task["priority"] != "medium":
        details.append(f"{task['priority']} priority")
    if task.get("tags"):
        details.append(_tags_text(task["tags"]))
    if repeats := _repeats(task):
        details.append(repeats)
    return details


def _repeats(task: Mapping[str, Any]) -> str:
    """ "every Monday" for a repeating task, else ""."""
    return repeat_in_words(task.get("repeat")) if isinstance(task.get("repeat"), str) else ""


def _task_line(task: Mapping[str, Any], today: date) -> str:
    line = f"- **{task.get('task_id')}** {task.get('title', '')}"
    facts = []
    if task.get("due_date"):
        due = f"due {task['due_date']}"
        done = task.get("status") == "completed" or task.get("completed")
        if not done and str(task["due_date"]) < today.isoformat():
            due += " (overdue)"
        facts.append(due)
    if task.get("priority") and task["priority"] != "medium":
        facts.append(str(task["priority"]))
    if task.get("tags"):
        facts.append(_tags_text(task["tags"]))
    if repeats := _repeats(task):
        facts.append(repeats)
    if task.get("status") == "completed" or task.get("completed"):
        facts.append("done ✓")
    return line + (" — " + " · ".join(facts) if facts else "")


def _list_phrase(arguments: Mapping[str, Any], count: int | None) -> str:
    """'pending high priority tasks tagged #work due by Sun 2026-11-29', for any count."""
    words = []
    status = arguments.get("status", "all")
    if status in ("pending", "completed"):
        words.append(str(status))
    if arguments.get("priority"):
        words.append(f"{arguments['priority']} priority")
    noun = "task" if count == 1 else "tasks"
    phrase = " ".join([*words, noun])
    if arguments.get("tag"):
        phrase += f" tagged #{arguments['tag']}"
    if arguments.get("search"):
        phrase += f' matching "{arguments["search"]}"'
    if arguments.get("due_after") and arguments.get("due_before"):
        after, before = arguments["due_after"], arguments["due_before"]
        phrase += f" due {_format_day(after)} to {_format_day(before)}"
    elif arguments.get("due_before"):
        phrase += f" due by {_format_day(arguments['due_before'])}"
    elif arguments.get("due_after"):
        phrase += f" due from {_format_day(arguments['due_after'])}"
    return phrase


def _describe_list(result: ToolResult, today: date) -> str:
    data = result.data or {}
    tasks = listed_tasks(data)
    arguments = result.arguments
    if not tasks:
        unfiltered = set(arguments) <= {"status", "sort", "limit"}
        if unfiltered and arguments.get("status", "all") == "all":
            return "You have no tasks yet. Try **add buy milk tomorrow**."
        return f"You have no {_list_phrase(arguments, 0)}."
    count = data["count"] if isinstance(data.get("count"), int) else len(tasks)
    count = max(count, len(tasks))
    header = f"You have {count} {_list_phrase(arguments, count)}"
    if arguments.get("status", "all") == "all":
        done = sum(1 for task in tasks if task.get("status") == "completed")
        if done:
            header += f" ({done} done)"
    lines = [header + ":", *(_task_line(task, today) for task in tasks)]
    limit = arguments.get("limit", 50)
    if isinstance(limit, int) and count >= limit:
        lines.append(f"_Showing the first {limit}; add a filter to narrow it down._")
    return "\n".join(lines)


def _describe_update(task: Mapping[str, Any], arguments: Mapping[str, Any]) -> str:
    changes = []
    if "title" in arguments:
        changes.append("renamed")
    if "priority" in arguments:
        changes.append(f"priority is now {task.get('priority', arguments['priority'])}")
    if "due_date" in arguments:
        due = task.get("due_date")
        changes.append(f"due {_format_day(due)}" if due else "no due date")
    if "tags" in arguments:
        tags = task.get("tags")
        changes.append(f"tags: {_tags_text(tags)}" if tags else "no tags")
    if "description" in arguments:
        changes.append("description updated")
    if "repeat" in arguments:
        repeats = _repeats(task)
        due = f", next due {_format_day(task.get('due_date'))}" if repeats else ""
        changes.append(f"repeats {repeats}{due}" if repeats else "no longer repeats")
    summary = f" ({', '.join(changes)})" if changes else ""
    return f"Updated task {task.get('task_id')}: **{task.get('title', '')}**{summary}."


def describe_result(result: ToolResult, today: date) -> str:
    """A friendly sentence (or list) about one tool result."""
    if result.error == DECLINED:
        number = result.arguments.get("task_id")
        what = f"task {number}" if number is not None else "that"
        return f"Okay, I didn't touch {what}: nothing was deleted."
    if result.error is not None or result.data is None:
        return f"I couldn't do that: {result.error}"
    task = result.data
    if result.name == ToolName.LIST_TASKS:
        return _describe_list(result, today)
    number, title = task.get("task_id"), task.get("title", "")
    if result.name == ToolName.ADD_TASK:
        details = _details(task)
        extra = f" ({', '.join(details)})" if details else ""
        return f"Added task {number}: **{title}**{extra}."
    if result.name == ToolName.COMPLETE_TASK:
        if result.arguments.get("completed") is False:
            return f"Reopened task {number}: **{title}** is pending again."
        if task.get("completed") is False and (repeats := _repeats(task)):
            return (
                f"Nice work! Task {number} **{title}** is done for now ✓ It repeats {repeats}:"
                f" next due {_format_day(task.get('due_date'))}."
            )
        return f"Nice work! Marked task {number} as done: **{title}** ✓"
    if result.name == ToolName.DELETE_TASK:
        return f"Deleted task {number}: **{title}**."
    if result.name == ToolName.UPDATE_TASK:
        return _describe_update(task, result.arguments)
    if result.name == ToolName.UNDO_CHANGE:
        return describe_undo(task)
    return f"Done: task {number} **{title}**." if number is not None else "Done."
