"""What the chat page says: tool calls in words, results, due dates, history groups."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from taskpilot.agent.tool_words import (
    GENERIC_TOOL_ERROR,
    tool_arguments_in_words,
    tool_error_in_words,
    tool_result_in_words,
)
from taskpilot.web.wording import due_in_words, greeting, history_group, initials


@pytest.mark.parametrize(
    ("name", "arguments", "words"),
    [
        (
            "add_task",
            {"title": "Buy milk", "priority": "high", "due_date": "2026-11-23"},
            "Buy milk · due 2026-11-23 · high",
        ),
        (
            "add_task",
            {"title": "Slides", "tags": ["work", "q4"], "description": "", "due_date": None},
            "Slides · #work #q4",
        ),
        ("list_tasks", {}, "all tasks"),
        ("list_tasks", {"status": "pending"}, "pending"),
        ("list_tasks", {"status": "all", "search": "milk"}, "“milk”"),
        (
            "list_tasks",
            {"status": "completed", "due_before": "2026-12-01", "sort": "due", "limit": 5},
            "completed · due by 2026-12-01 · by due · up to 5",
        ),
        ("complete_task", {"task_id": 3}, "task 3"),
        ("complete_task", {"task_id": 3, "completed": False}, "task 3 · reopen"),
        ("delete_task", {"task_id": 7}, "task 7"),
        (
            "update_task",
            {"task_id": 2, "title": "Call mom", "due_date": "friday"},
            "task 2 · rename to “Call mom” · due friday",
        ),
        ("mystery", {"b": 2, "a": "x"}, "a x · b 2"),
        ("add_task", None, ""),
    ],
)
def test_tool_arguments_read_as_words(name: str, arguments: dict | None, words: str) -> None:
    assert tool_arguments_in_words(name, arguments) == words


def test_long_values_are_shortened_and_never_json() -> None:
    words = tool_arguments_in_words("add_task", {"title": "x" * 300, "tag": "home"})
    assert words.startswith("x" * 70) and "…" in words and words.endswith("#home")
    assert "{" not in tool_arguments_in_words("mystery", {"nested": {"a": 1}}).replace("{'", "")


@pytest.mark.parametrize(
    ("name", "result", "words"),
    [
        (
            "add_task",
            {"task_id": 3, "status": "created", "title": "Buy milk"},
            "Added task 3 · Buy milk",
        ),
        ("complete_task", {"task_id": 3, "status": "completed"}, "Completed task 3"),
        ("complete_task", {"task_id": 3, "status": "pending", "title": "A"}, "Reopened task 3 · A"),
        ("delete_task", {"task_id": 1, "status": "deleted", "title": "B"}, "Deleted task 1 · B"),
        ("update_task", {"task_id": 1, "status": "updated"}, "Updated task 1"),
        ("list_tasks", {"status": "ok", "count": 0, "tasks": []}, "No tasks found"),
        ("list_tasks", {"status": "ok", "count": 1, "tasks": [{}]}, "1 task found"),
        ("list_tasks", {"status": "ok", "tasks": [{}, {}]}, "2 tasks found"),
        ("list_tasks", {"status": "ok"}, "No tasks found"),
        ("other", {"status": "odd"}, "Done"),
        ("other", None, "Done"),
        ("other", "plain text", "plain text"),
    ],
)
def test_tool_results_read_as_words(name: str, result: object, words: str) -> None:
    assert tool_result_in_words(name, result, False) == words


def test_tool_errors_lose_the_sdk_prefix_and_never_show_a_traceback() -> None:
    message = "Error executing tool complete_task: Task 99 was not found in your list."
    assert tool_result_in_words("complete_task", message, True) == (
        "Task 99 was not found in your list."
    )
    assert tool_error_in_words("Traceback (most recent call last): boom") == GENERIC_TOOL_ERROR
    assert tool_error_in_words({"not": "text"}) == GENERIC_TOOL_ERROR
    assert tool_error_in_words("") == GENERIC_TOOL_ERROR
    assert len(tool_error_in_words("x " * 500)) <= 240


TODAY = date(2026, 11, 22)  # a Sunday


@pytest.mark.parametrize(
    ("due", "label", "tone"),
    [
        (None, "", ""),
        (date(2026, 11, 20), "Overdue · Nov 20", "overdue"),
        (date(2020, 1, 31), "Overdue · Jan 31, 2020", "overdue"),
        (TODAY, "Due today", "today"),
        (TODAY + timedelta(days=1), "Due tomorrow", "soon"),
        (date(2026, 11, 27), "Due Fri", "soon"),
        (date(2026, 12, 24), "Due Dec 24", "later"),
        (date(2027, 2, 1), "Due Feb 1, 2027", "later"),
    ],
)
def test_due_dates_read_relative_to_today(due: date | None, label: str, tone: str) -> None:
    assert due_in_words(due, TODAY) == (label, tone)


def test_history_groups_count_back_from_now() -> None:
    now = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
    assert history_group(now - timedelta(hours=2), now) == "Today"
    assert history_group(now + timedelta(minutes=5), now) == "Today"  # a clock a bit ahead
    assert history_group(now - timedelta(days=1), now) == "Yesterday"
    assert history_group(now - timedelta(days=5), now) == "Previous 7 days"
    assert history_group(now - timedelta(days=20), now) == "Previous 30 days"
    assert history_group(datetime(2026, 3, 3, tzinfo=UTC), now) == "March"
    assert history_group(datetime(2025, 12, 3, tzinfo=UTC), now) == "December 2025"


def test_history_groups_use_the_time_zone_of_now() -> None:
    # 23:30 UTC on the 21st is already the 22nd two hours east.
    east = timezone(timedelta(hours=2))
    now = datetime(2026, 11, 22, 8, 0, tzinfo=east)
    assert history_group(datetime(2026, 11, 21, 23, 30, tzinfo=UTC), now) == "Today"


def test_greeting_and_initials() -> None:
    assert greeting("Ada Lovelace") == "What's on your list, Ada?"
    assert greeting("  ") == "What's on your list today?"
    assert initials("Ada Lovelace", "ada@example.com") == "AL"
    assert initials("", "grace.hopper@example.com") == "GH"
    assert initials("", "") == "?"
