"""TaskService and ConversationStore on a real SQLite file and a real PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta

import pytest

from taskpilot.core.db import Database
from taskpilot.data.models import Priority, User, as_utc
from taskpilot.runtime import Runtime
from taskpilot.services.conversations import (
    ConversationNotFound,
    ConversationStore,
    clean_conversation_title,
    title_from_message,
)
from taskpilot.services.tasks import (
    SortOrder,
    StatusFilter,
    TaskError,
    TaskNotFound,
    TaskQuery,
    TaskService,
    clean_tags,
)
from taskpilot.services.turns import Claim, TurnStore
from taskpilot.services.users import AccountError, UserService


async def new_user(db: Database, email: str) -> str:
    async with db.session() as session:
        return (await UserService(session).sign_up(email, "password123")).id


async def test_add_list_filter_and_sort(runtime: Runtime) -> None:
    user = await new_user(runtime.db, "ada@example.com")
    async with runtime.db.session() as session:
        tasks = TaskService(session, user)
        await tasks.add("Pay bills", priority="low", due_date=date(2026, 12, 3), tags="money, home")
        await tasks.add("Buy milk", priority=Priority.HIGH, due_date=date(2026, 11, 23))
        await tasks.add("Write report", description="Quarterly 100% numbers", tags=["work"])
        await tasks.complete(2)

        def titles(found: list) -> list[str]:  # type: ignore[type-arg]
            return [t.title for t in found]

        assert titles(await tasks.find()) == ["Pay bills", "Buy milk", "Write report"]
        assert titles(await tasks.find(TaskQuery(status=StatusFilter.PENDING))) == [
            "Pay bills",
            "Write report",
        ]
        assert titles(await tasks.find(TaskQuery(status=StatusFilter.COMPLETED))) == ["Buy milk"]
        assert titles(await tasks.find(TaskQuery(priority=Priority.LOW))) == ["Pay bills"]
        assert titles(await tasks.find(TaskQuery(tag="#HOME"))) == ["Pay bills"]
        assert titles(await tasks.find(TaskQuery(tag="hom"))) == []  # whole tags only
        assert titles(await tasks.find(TaskQuery(text="100%"))) == ["Write report"]  # % is literal
        assert titles(await tasks.find(TaskQuery(text="_"))) == []
        assert titles(await tasks.find(TaskQuery(due_after=date(2026, 12, 1)))) == ["Pay bills"]
        assert titles(await tasks.find(TaskQuery(due_before=date(2026, 11, 30)))) == ["Buy milk"]
        assert titles(await tasks.find(TaskQuery(sort=SortOrder.DUE))) == [
            "Buy milk",
            "Pay bills",
            "Write report",
        ]
        assert titles(await tasks.find(TaskQuery(sort=SortOrder.PRIORITY))) == [
            "Buy milk",
            "Write report",
            "Pay bills",
        ]
        assert titles(await tasks.find(TaskQuery(sort=SortOrder.TITLE))) == [
            "Buy milk",
            "Pay bills",
            "Write report",
        ]
        assert len(await tasks.find(TaskQuery(limit=1))) == 1


async def test_update_complete_delete(runtime: Runtime) -> None:
    user = await new_user(runtime.db, "ada@example.com")
    async with runtime.db.session() as session:
        tasks = TaskService(session, user)
        task = await tasks.add("Call mom", due_date=date(2026, 11, 25))
        updated = await tasks.update(
            task.number, title="Call mom tonight", tags=["family"], priority="HIGH"
        )
        assert (updated.title, updated.tags, updated.priority) == (
            "Call mom tonight",
            ["family"],
            "high",
        )
        assert as_utc(updated.updated_at) >= as_utc(updated.created_at)  # SQLite reads naive
        cleared = await tasks.update(task.number, clear_due_date=True, completed=True)
        assert cleared.due_date is None and cleared.completed and cleared.completed_at
        unchanged = await tasks.complete(task.number)  # already done: no error, no change
        assert unchanged.completed
        assert (await tasks.complete(task.number, completed=False)).completed_at is None
        await tasks.delete(task.number)
        with pytest.raises(TaskNotFound, match="Task 1 was not found"):
            await tasks.get(task.number)
        other = await tasks.add("x")
        with pytest.raises(TaskError, match="Nothing to change"):
            await tasks.update(other.number)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"title": ""}, "needs a title"),
        ({"title": "t" * 201}, "at most 200"),
        ({"title": "ok", "description": "d" * 2001}, "at most 2000"),
        ({"title": "ok", "priority": "urgent"}, "low, medium or high"),
        ({"title": "ok", "tags": ["x" * 31]}, "at most 30"),
    ],
)
async def test_invalid_tasks_are_refused(runtime: Runtime, kwargs: dict, message: str) -> None:  # type: ignore[type-arg]
    user = await new_user(runtime.db, "ada@example.com")
    async with runtime.db.session() as session:
        with pytest.raises(TaskError, match=message):
            await TaskService(session, user).add(**kwargs)


def test_tag_cleaning() -> None:
    assert clean_tags(" #Work, home ,work,, Side Project ") == ["work", "home", "side-project"]
    assert clean_tags(None) == []


async def test_task_numbers_are_per_user_and_unique_under_concurrency(runtime: Runtime) -> None:
    ada = await new_user(runtime.db, "ada@example.com")
    bob = await new_user(runtime.db, "bob@example.com")

    async def add(user: str, title: str) -> int:
        async with runtime.db.session() as session:
            return (await TaskService(session, user).add(title)).number

    numbers = await asyncio.gather(*(add(ada, f"a{i}") for i in range(10)), add(bob, "b0"))
    assert sorted(numbers[:10]) == list(range(1, 11))
    assert numbers[10] == 1
    async with runtime.db.session() as session:
        with pytest.raises(TaskError, match="account was not found"):
            await TaskService(session, "ghost").add("x")


async def test_conversation_store_is_scoped(runtime: Runtime) -> None:
    ada = await new_user(runtime.db, "ada@example.com")
    bob = await new_user(runtime.db, "bob@example.com")
    async with runtime.db.session() as session:
        mine = ConversationStore(session, ada)
        conversation = await mine.create("Plans")
        turns = TurnStore(session, ada, timedelta(seconds=20))
        message, _ = await turns.open(conversation, "hello", "c-1", new=False)
        reply = await turns.finish(Claim(message.id or 0, 1), conversation.id, "hi!", [])
        assert reply is not None
        found = await mine.reply_to(message.id or 0)
        assert found is not None and (found.id, found.content, found.reply_to_id) == (
            reply.id,
            "hi!",
            message.id,
        )
        assert [m.content for m in await mine.messages(conversation.id)] == ["hello", "hi!"]
        assert [m.content for m in await mine.messages(conversation.id, before_id=reply.id)] == [
            "hello"
        ]
        theirs = ConversationStore(session, bob)
        with pytest.raises(ConversationNotFound):
            await theirs.get(conversation.id)
        with pytest.raises(ConversationNotFound):
            await theirs.messages(conversation.id)
        assert await theirs.find_by_client_id("c-1") is None
        assert await theirs.reply_to(message.id or 0) is None
        assert await theirs.recent() == []


def test_titles() -> None:
    assert title_from_message("  add   milk ") == "add milk"
    long = title_from_message(
        "please add a task to call the dentist on friday about the crown, high priority"
    )
    assert long.endswith("…") and len(long) <= 61
    assert title_from_message("") == "New chat"
    assert clean_conversation_title("  a  b ") == "a b"
    with pytest.raises(ValueError, match="empty"):
        clean_conversation_title(" ")
    with pytest.raises(ValueError, match="at most 200"):
        clean_conversation_title("x" * 201)


async def test_accounts(runtime: Runtime) -> None:
    async with runtime.db.session() as session:
        users = UserService(session)
        with pytest.raises(AccountError, match="at most 256"):
            await users.sign_up("a@example.com", "p" * 257)
        with pytest.raises(AccountError, match="Wrong email or password"):
            await users.log_in("not an email", "whatever1")
        user = await users.sign_up("a@example.com", "password123", "  Ada   Lovelace ")
        assert user.display_name == "Ada Lovelace"
        assert await session.get(User, user.id) == user
