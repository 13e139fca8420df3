"""The offline model and repeating tasks: what it reads from a message (the repeat as an
RRULE, the title without it), what it says back, and how a tool card words the call. Its
understanding end to end is measured by `bench/understanding_corpus.py` ("repeating tasks")."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from taskpilot.agent.offline import Intent, parse_command
from taskpilot.agent.offline.replies import describe_result
from taskpilot.agent.offline.transcript import ToolResult
from taskpilot.agent.tool_words import tool_arguments_in_words, tool_result_in_words

WEDNESDAY = date(2026, 12, 2)


@pytest.mark.parametrize(
    ("said", "arguments"),
    [
        (
            "water the ferns every monday",
            {
                "title": "Water the ferns",
                "repeat": "FREQ=WEEKLY;BYDAY=MO",
                "due_date": "2026-12-07",
            },
        ),
        (
            "add team sync every mon and thu #work",
            {
                "title": "Team sync",
                "repeat": "FREQ=WEEKLY;BYDAY=MO,TH",
                "due_date": "2026-12-03",
                "tags": ["work"],
            },
        ),
        (
            "add pay rent monthly on the 1st, high priority",
            {
                "title": "Pay rent",
                "priority": "high",
                "repeat": "FREQ=MONTHLY;BYMONTHDAY=1",
                "due_date": "2027-01-01",
            },
        ),
        (
            "add bins every other week starting friday",  # not a repeat at the end: a title
            {"title": "Bins every other week starting", "due_date": "2026-12-04"},
        ),
        (
            "add the every day carry review",  # in the middle of a title, it stays
            {"title": "The every day carry review"},
        ),
        (
            "add stretch every day tomorrow",  # a due date said too is where it starts
            {"title": "Stretch", "repeat": "FREQ=DAILY", "due_date": "2026-12-03"},
        ),
    ],
)
def test_a_repeat_said_with_a_task_is_read_off_its_title(
    said: str, arguments: dict[str, Any]
) -> None:
    command = parse_command(said, WEDNESDAY)
    assert command.intent is Intent.ADD
    assert dict(command.arguments) == arguments


@pytest.mark.parametrize(
    ("said", "task_id", "target", "repeat"),
    [
        ("stop repeating task 3", 3, None, "none"),
        ("don't repeat the ferns", None, "ferns", "none"),
        ("remove the repeat from task 3", 3, None, "none"),
        ("stop the ferns repeating", None, "ferns", "none"),
        ("task 3 shouldn't repeat any more", 3, None, "none"),
        ("make task 3 repeat every monday", 3, None, "FREQ=WEEKLY;BYDAY=MO"),
        ("repeat task 4 monthly", 4, None, "FREQ=MONTHLY"),
        ("the ferns repeat every other week", None, None, None),  # "repeat" is no verb here
        ("task 2 repeats every weekday", 2, None, "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR"),
        ("change task 2 to every 2 weeks", 2, None, "FREQ=WEEKLY;INTERVAL=2"),
    ],
)
def test_a_repeat_set_or_stopped_on_a_task(
    said: str, task_id: int | None, target: str | None, repeat: str | None
) -> None:
    command = parse_command(said, WEDNESDAY)
    if repeat is None:
        assert command.intent is not Intent.UPDATE
        return
    assert (command.intent, command.task_id, command.target) == (Intent.UPDATE, task_id, target)
    assert dict(command.arguments) == {"repeat": repeat}


@pytest.mark.parametrize(
    ("said", "message"),
    [
        ("make task 3 repeat every blue moon", "can't read 'every blue moon' as a repeat"),
        ("add rent every month on the 32nd", "A month has no day 32"),
        ("make task 2 repeat every year on april 31", "April has no day 31"),
    ],
)
def test_a_repeat_that_cannot_be_kept_is_explained(said: str, message: str) -> None:
    command = parse_command(said, WEDNESDAY)
    assert command.intent is Intent.CLARIFY and message in (command.message or "")


FERNS = {
    "task_id": 4,
    "title": "Water the ferns",
    "completed": False,
    "priority": "medium",
    "due_date": "2026-12-14",
    "tags": [],
    "repeat": "FREQ=WEEKLY;BYDAY=MO",
}


def test_the_replies_say_the_repeat() -> None:
    def said(name: str, arguments: dict[str, Any], **data: Any) -> str:
        result = ToolResult(name, arguments, {**FERNS, **data}, None)
        return describe_result(result, WEDNESDAY)

    assert said("add_task", {"title": "x"}, status="created") == (
        "Added task 4: **Water the ferns** (due Mon 2026-12-14, every Monday)."
    )
    assert said("complete_task", {"task_id": 4}, status="completed") == (
        "Nice work! Task 4 **Water the ferns** is done for now ✓ It repeats every Monday:"
        " next due Mon 2026-12-14."
    )
    assert said("update_task", {"task_id": 4, "repeat": "FREQ=WEEKLY;BYDAY=MO"}) == (
        "Updated task 4: **Water the ferns** (repeats every Monday, next due Mon 2026-12-14)."
    )
    assert said("update_task", {"task_id": 4, "repeat": "none"}, repeat=None) == (
        "Updated task 4: **Water the ferns** (no longer repeats)."
    )
    listed = describe_result(
        ToolResult("list_tasks", {"status": "all"}, {"count": 1, "tasks": [FERNS]}, None),
        WEDNESDAY,
    )
    assert "- **4** Water the ferns — due 2026-12-14 · every Monday" in listed


def test_tool_cards_say_the_repeat_in_words() -> None:
    assert tool_arguments_in_words(
        "add_task", {"title": "Ferns", "repeat": "FREQ=WEEKLY;BYDAY=MO"}
    ) == ("Ferns · every Monday")
    assert tool_arguments_in_words("update_task", {"task_id": 4, "repeat": "none"}) == (
        "task 4 · stop repeating"
    )
    assert tool_arguments_in_words("add_task", {"title": "Ferns", "repeat": "each full moon"}) == (
        "Ferns · repeat each full moon"
    )
    completed = {**FERNS, "status": "completed"}
    assert tool_result_in_words("complete_task", completed, False) == (
        "Completed task 4 · Water the ferns · next due 2026-12-14"
    )
    done = {**FERNS, "status": "completed", "completed": True, "repeat": None}
    assert (
        tool_result_in_words("complete_task", done, False) == "Completed task 4 · Water the ferns"
    )
