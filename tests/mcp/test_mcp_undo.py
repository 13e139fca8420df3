"""Undo through the official MCP client: `undo_change` takes what a task tool returned and
reverses exactly that change, for the token's user only, on both databases; it refuses a
change the task has moved on from, and two undos of one change at once reverse it once."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from typing import Any

from mcp.client.session import ClientSession
from sqlmodel import select

from taskpilot.core.clock import today
from taskpilot.data.models import Task, ToolCall
from taskpilot.runtime import Runtime
from taskpilot.services.undo import ChangeSeal
from taskpilot.services.undo_marks import can_undo
from tests.support.mcp_client import in_process, make_user, payload


async def call(session: ClientSession, tool: str, arguments: dict[str, Any]) -> Any:
    return payload(await session.call_tool(tool, arguments))


async def undo(session: ClientSession, change: dict[str, Any]) -> tuple[bool, Any]:
    """(whether the tool refused, what it said)."""
    result = await session.call_tool("undo_change", {"change": change})
    return result.is_error, payload(result)


def resealed(runtime: Runtime, user_id: str, change: dict[str, Any]) -> dict[str, Any]:
    """`change` sealed for `user_id` as the server would seal it: what `undo_change` still
    checks of a result that is TaskPilot's (a test can make one; a model cannot)."""
    return ChangeSeal(runtime.settings.signing_secret).sealed(change, user_id)


NOT_A_CHANGE = "That is not a change TaskPilot made"


async def rows(runtime: Runtime, user_id: str) -> list[Task]:
    async with runtime.db.session() as session:
        found = await session.exec(select(Task).where(Task.user_id == user_id))
        return sorted(found.all(), key=lambda task: task.number)


async def test_an_add_is_undone_by_deleting_the_task_unless_it_changed_since(
    runtime: Runtime,
) -> None:
    user = await make_user(runtime, "ada@example.com")
    async with in_process(runtime, user) as session:
        added = await call(session, "add_task", {"title": "Buy milk"})
        refused, said = await undo(session, added)
        assert not refused
        assert (said["status"], said["undid"], said["task_id"]) == ("deleted", "created", 1)
        assert await rows(runtime, user) == []

        kept = await call(session, "add_task", {"title": "Call mom"})
        await call(session, "update_task", {"task_id": 2, "priority": "high"})
        refused, said = await undo(session, kept)
        assert refused and "Task 2 changed since" in said
        assert [task.number for task in await rows(runtime, user)] == [2]
        refused, said = await undo(session, added)  # gone already
        assert refused and "Task 1 isn't in your list any more" in said


async def test_a_delete_is_undone_with_the_tasks_number_and_fields(runtime: Runtime) -> None:
    user = await make_user(runtime, "ada@example.com")
    async with in_process(runtime, user) as session:
        await call(
            session,
            "add_task",
            {"title": "Pay rent", "priority": "high", "due_date": "2027-01-01", "tags": ["home"]},
        )
        await call(session, "add_task", {"title": "Call mom"})
        await call(session, "complete_task", {"task_id": 1})
        before = (await rows(runtime, user))[0].model_dump()
        deleted = await call(session, "delete_task", {"task_id": 1})
        refused, said = await undo(session, deleted)
        assert not refused and (said["status"], said["task_id"]) == ("created", 1)
        back = (await rows(runtime, user))[0]
        kept = {"number", "title", "priority", "due_date", "tags", "completed", "description"}
        assert {k: v for k, v in back.model_dump().items() if k in kept} == {
            k: v for k, v in before.items() if k in kept
        }
        assert back.created_at == before["created_at"] and back.completed_at is not None

        refused, said = await undo(session, deleted)  # twice: it is there already
        assert refused and said.endswith("Task 1 is back already.")
        forged = {**deleted, "created_at": "2020-01-01T00:00:00+00:00"}
        refused, said = await undo(session, forged)
        assert refused and NOT_A_CHANGE in said
        refused, said = await undo(session, resealed(runtime, user, forged))
        assert refused and "another task has that number now" in said
        refused, said = await undo(session, resealed(runtime, user, {**deleted, "task_id": 9}))
        assert refused and "You never had a task 9" in said
        added = await call(session, "add_task", {"title": "Next"})
        assert added["task_id"] == 3  # the counter is untouched


async def test_an_update_is_put_back_only_while_the_task_has_what_it_set(
    runtime: Runtime,
) -> None:
    user = await make_user(runtime, "ada@example.com")
    async with in_process(runtime, user) as session:
        await call(session, "add_task", {"title": "Buy milk", "due_date": "2027-01-01"})
        updated = await call(
            session, "update_task", {"task_id": 1, "title": "Buy oat milk", "due_date": "none"}
        )
        assert updated["before"] == {"title": "Buy milk", "due_date": "2027-01-01"}
        refused, said = await undo(session, updated)
        assert not refused and (said["status"], said["undid"]) == ("updated", "updated")
        task = (await rows(runtime, user))[0]
        assert (task.title, task.due_date) == ("Buy milk", date(2027, 1, 1))

        again = await call(session, "update_task", {"task_id": 1, "priority": "high"})
        await call(session, "update_task", {"task_id": 1, "priority": "low"})
        refused, said = await undo(session, again)
        assert refused and said.endswith("Task 1 changed since, so I left it as it is.")
        assert (await rows(runtime, user))[0].priority == "low"

        refused, said = await undo(session, {**again, "before": {"owner": "x"}})
        assert refused and NOT_A_CHANGE in said
        forged = resealed(runtime, user, {**again, "before": {"owner": "x"}})
        refused, said = await undo(session, forged)
        assert refused and "can't be put back: owner" in said
        refused, said = await undo(session, {"task_id": "one", "status": "updated"})
        assert refused and "not a change TaskPilot made" in said


async def test_a_completion_and_a_reopening_are_undone(runtime: Runtime) -> None:
    user = await make_user(runtime, "ada@example.com")
    async with in_process(runtime, user) as session:
        await call(session, "add_task", {"title": "Buy milk"})
        done = await call(session, "complete_task", {"task_id": 1})
        assert done["before"] == {"completed": False, "completed_at": None}
        assert (await undo(session, done))[1]["status"] == "pending"
        assert not (await rows(runtime, user))[0].completed
        refused, said = await undo(session, done)  # it is open already
        assert refused and "changed since" in said

        await call(session, "complete_task", {"task_id": 1})
        reopened = await call(session, "complete_task", {"task_id": 1, "completed": False})
        refused, said = await undo(session, reopened)
        assert not refused and said["status"] == "completed"
        task = (await rows(runtime, user))[0]
        assert task.completed and task.completed_at is not None

        noop = await call(session, "complete_task", {"task_id": 1})  # done already
        assert noop["before"] == {}
        refused, said = await undo(session, noop)
        assert refused and "nothing to undo" in said


async def test_undoing_a_repeating_completion_moves_its_due_date_back(runtime: Runtime) -> None:
    user = await make_user(runtime, "ada@example.com")
    async with in_process(runtime, user) as session:
        added = await call(session, "add_task", {"title": "Water ferns", "repeat": "every day"})
        done = await call(session, "complete_task", {"task_id": 1})
        assert done["before"] == {"due_date": added["due_date"]}
        refused, said = await undo(session, done)
        assert not refused and said["due_date"] == added["due_date"]
        task = (await rows(runtime, user))[0]
        assert task.due_date == today(runtime.settings) and not task.completed
        assert task.due_date + timedelta(days=1) == date.fromisoformat(done["due_date"])


async def test_another_persons_task_is_never_reached(runtime: Runtime) -> None:
    ada = await make_user(runtime, "ada@example.com")
    eve = await make_user(runtime, "eve@example.com")
    async with in_process(runtime, ada) as session:
        added = await call(session, "add_task", {"title": "Ada's secret"})
        done = await call(session, "complete_task", {"task_id": 1})
    async with in_process(runtime, eve) as session:
        deleted = {**added, "status": "deleted"}
        for change in (added, done, deleted):  # sealed for Ada, not for Eve
            refused, said = await undo(session, change)
            assert refused and NOT_A_CHANGE in said
        # Even sealed for Eve, they reach only Eve's tasks.
        for change in (added, done):
            refused, said = await undo(session, resealed(runtime, eve, change))
            assert refused and "Task 1 isn't in your list" in said
        refused, said = await undo(session, resealed(runtime, eve, deleted))
        assert refused and "You never had a task 1" in said
    assert [(task.title, task.completed) for task in await rows(runtime, ada)] == [
        ("Ada's secret", True)
    ]
    assert await rows(runtime, eve) == []


async def test_two_undos_of_one_change_at_once_reverse_it_once(runtime: Runtime) -> None:
    user = await make_user(runtime, "ada@example.com")
    async with in_process(runtime, user) as session:
        await call(session, "add_task", {"title": "Buy milk"})
        await call(session, "add_task", {"title": "Call mom"})
        deleted = await call(session, "delete_task", {"task_id": 1})
        updated = await call(session, "update_task", {"task_id": 2, "title": "Call dad"})
    for change in (deleted, updated):
        async with in_process(runtime, user) as first, in_process(runtime, user) as second:
            outcomes = await asyncio.gather(undo(first, change), undo(second, change))
        assert sorted(refused for refused, _ in outcomes) == [False, True], outcomes
    tasks = await rows(runtime, user)
    assert [(task.number, task.title) for task in tasks] == [(1, "Buy milk"), (2, "Call mom")]


async def test_only_a_change_a_tool_returned_can_be_undone(runtime: Runtime) -> None:
    """A task as `list_tasks` shows it, relabelled as an add, was taken for one: undoing it
    deleted the task, a delete the person was never asked to approve. Only a change's
    result, sealed by the tool for this person and unaltered, is undone."""
    user = await make_user(runtime, "ada@example.com")
    async with in_process(runtime, user) as session:
        added = await call(session, "add_task", {"title": "Pay rent"})
        await call(session, "update_task", {"task_id": 1, "priority": "high"})
        listed = (await call(session, "list_tasks", {}))["tasks"][0]
        assert "seal" not in listed
        for forged in (
            {**listed, "status": "created"},
            {**listed, "status": "created", "seal": added["seal"]},
            {**added, "updated_at": listed["updated_at"]},
            {**added, "seal": added["seal"][:-1] + "é"},  # not even ASCII: refused, not a crash
            {**added, "seal": "ü" * 32},
        ):
            refused, said = await undo(session, forged)
            assert refused and NOT_A_CHANGE in said, forged
        assert [task.title for task in await rows(runtime, user)] == ["Pay rent"]
        # The result as returned, give or take keys at their defaults, still works.
        await call(session, "update_task", {"task_id": 1, "priority": "medium"})
        renamed = await call(session, "update_task", {"task_id": 1, "title": "Pay the rent"})
        trimmed = {k: v for k, v in renamed.items() if k not in ("description", "tags")}
        trimmed["seal"] = f" {trimmed['seal'].upper()} "  # as a model may copy it
        refused, said = await undo(session, trimmed)
        assert not refused, said
        assert [task.title for task in await rows(runtime, user)] == ["Pay rent"]


async def test_a_card_stored_before_changes_were_sealed_offers_no_undo(runtime: Runtime) -> None:
    """A reply stored before results carried a seal: its card has no Undo (the tool would
    refuse it as not TaskPilot's), while the same change sealed has one."""
    user = await make_user(runtime, "ada@example.com")
    async with in_process(runtime, user) as session:
        added = await call(session, "add_task", {"title": "Buy milk"})
    unsealed = {k: v for k, v in added.items() if k != "seal"}
    assert can_undo(ToolCall(name="add_task", result=added))
    assert not can_undo(ToolCall(name="add_task", result=unsealed))
