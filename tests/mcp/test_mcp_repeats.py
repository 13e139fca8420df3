"""Repeating tasks through the official MCP client: `add_task` and `update_task` take a
`repeat` (an RRULE or words), every task result carries it, and `complete_task` moves a
repeating task to its next date."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta

from taskpilot.core.clock import today
from taskpilot.runtime import Runtime
from tests.support.mcp_client import in_process, make_user, payload


def coming(day: date, weekday: int) -> date:
    """`weekday` on or after `day`."""
    return day + timedelta(days=(weekday - day.weekday()) % 7)


async def test_a_repeat_is_set_carried_completed_and_stopped_through_the_tools(
    runtime: Runtime,
) -> None:
    user = await make_user(runtime, "ada@example.com")
    monday = coming(today(runtime.settings), 0)
    async with in_process(runtime, user) as session:
        added = payload(
            await session.call_tool(
                "add_task", {"title": "Water the ferns", "repeat": "every monday"}
            )
        )
        assert (added["repeat"], added["due_date"]) == ("FREQ=WEEKLY;BYDAY=MO", monday.isoformat())
        plain = payload(await session.call_tool("add_task", {"title": "Buy milk"}))
        assert plain["repeat"] is None

        done = payload(await session.call_tool("complete_task", {"task_id": 1}))
        following = (monday + timedelta(days=7)).isoformat()
        assert (done["status"], done["completed"], done["due_date"]) == (
            "completed",
            False,
            following,
        )
        # A completion of the date already done (another tab's) does not move it again.
        again = payload(
            await session.call_tool("complete_task", {"task_id": 1, "due_date": monday.isoformat()})
        )
        assert again["due_date"] == following

        listed = payload(await session.call_tool("list_tasks", {}))
        assert [(t["task_id"], t["repeat"]) for t in listed["tasks"]] == [
            (1, "FREQ=WEEKLY;BYDAY=MO"),
            (2, None),
        ]
        weekly = payload(
            await session.call_tool(
                "update_task", {"task_id": 2, "repeat": "FREQ=WEEKLY;INTERVAL=2"}
            )
        )
        assert (weekly["status"], weekly["repeat"]) == ("updated", "FREQ=WEEKLY;INTERVAL=2")
        assert weekly["due_date"] == today(runtime.settings).isoformat()
        stopped = payload(await session.call_tool("update_task", {"task_id": 1, "repeat": "none"}))
        assert (stopped["repeat"], stopped["due_date"]) == (None, following)
        finished = payload(await session.call_tool("complete_task", {"task_id": 1}))
        assert finished["completed"] is True  # no longer repeating: done for good


async def test_a_repeat_the_tools_cannot_keep_is_a_clear_tool_error(runtime: Runtime) -> None:
    user = await make_user(runtime, "ada@example.com")
    async with in_process(runtime, user) as session:
        for arguments, message in (
            ({"title": "x", "repeat": "every blue moon"}, "can't read 'every blue moon'"),
            ({"title": "x", "repeat": "FREQ=HOURLY"}, "daily, weekly, monthly or yearly"),
            ({"title": "x", "repeat": "FREQ=DAILY;COUNT=2"}, "stop it instead"),
        ):
            result = await session.call_tool("add_task", arguments)
            assert result.is_error and message in result.content[0].text
        result = await session.call_tool("add_task", {"title": "x", "repeat": "d" * 201})
        assert result.is_error  # refused by the argument's schema
        await session.call_tool("add_task", {"title": "Stretch", "repeat": "daily"})
        result = await session.call_tool("update_task", {"task_id": 1, "due_date": "none"})
        assert result.is_error and "needs a due date" in result.content[0].text
        listed = payload(await session.call_tool("list_tasks", {}))
    assert [t["title"] for t in listed["tasks"]] == ["Stretch"]  # nothing refused was added


async def test_two_clients_completing_the_same_date_at_once_move_it_one_step(
    runtime: Runtime,
) -> None:
    user = await make_user(runtime, "ada@example.com")
    async with in_process(runtime, user) as first, in_process(runtime, user) as second:
        added = payload(await first.call_tool("add_task", {"title": "Bins", "repeat": "daily"}))
        seen = {"task_id": 1, "due_date": added["due_date"]}
        answers = await asyncio.gather(
            first.call_tool("complete_task", seen), second.call_tool("complete_task", seen)
        )
        following = (date.fromisoformat(added["due_date"]) + timedelta(days=1)).isoformat()
        assert [payload(answer)["due_date"] for answer in answers] == [following, following]
