"""Races against a running server: several real HTTP requests at once (each on its own
connection, served by uvicorn on a loopback port), on SQLite and PostgreSQL, a few rounds
each, and the database read afterwards.

- Undos of one change at once, through the MCP endpoint: the change is reversed once.
- Completions of one repeating task at once: its due date moves one step, and undoing every
  one of those completions at once moves it back one step.
- Edits of one question at once: one is answered, the rest are refused (409), and the
  conversation still alternates question and answer.
- Calendar feed URLs made at once, and fetched while they are replaced: every request is
  answered (never a 500), and exactly one URL works afterwards.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import date
from typing import Any

import httpx
from mcp.client.session import ClientSession
from sqlmodel import col, select

from taskpilot.core.clock import today
from taskpilot.core.security import mint_mcp_token
from taskpilot.data.models import CalendarFeed, Message, Task
from taskpilot.runtime import Runtime
from tests.support.approvals import Person, alternates
from tests.support.harness import live_server, make_settings
from tests.support.mcp_client import make_user, mcp_session, payload

ROUNDS = 3
AT_ONCE = 5


def unlimited(database_url: str) -> Runtime:
    """A runtime that limits no one: the races, not the rate limits, are the subject."""
    return Runtime(
        make_settings(
            database_url,
            max_concurrent_turns=0,
            chat_turns_per_minute=0,
            requests_per_minute=0,
        )
    )


@asynccontextmanager
async def tool_sessions(
    base_url: str, runtime: Runtime, user_id: str, count: int
) -> AsyncIterator[list[ClientSession]]:
    """`count` MCP sessions of the official client over HTTP, each its own connection."""
    token = mint_mcp_token(runtime.settings, user_id)
    async with AsyncExitStack() as stack:
        yield [
            await stack.enter_async_context(mcp_session(f"{base_url}/mcp", token))
            for _ in range(count)
        ]


async def call(session: ClientSession, tool: str, arguments: dict[str, Any]) -> tuple[bool, Any]:
    """(whether the tool refused, what it answered)."""
    result = await session.call_tool(tool, arguments)
    return result.is_error, payload(result)


async def at_once(
    sessions: list[ClientSession], tool: str, arguments: dict[str, Any]
) -> list[tuple[bool, Any]]:
    return await asyncio.gather(*(call(session, tool, arguments) for session in sessions))


async def task_row(runtime: Runtime, user_id: str, number: int) -> Task | None:
    async with runtime.db.session() as session:
        statement = select(Task).where(col(Task.user_id) == user_id, col(Task.number) == number)
        return (await session.exec(statement)).first()


async def test_undos_of_one_change_at_once_reverse_it_once(
    database_url: str, running: Callable[[Runtime], Awaitable[Runtime]]
) -> None:
    """Each round makes an add, an update and a delete, then sends AT_ONCE undos of each
    through the MCP endpoint together: one undo of each succeeds, the others are refused,
    and the tasks are as they were before the change."""
    runtime = await running(unlimited(database_url))
    ada = await make_user(runtime, "ada@example.com")
    async with (
        live_server(runtime) as base_url,
        tool_sessions(base_url, runtime, ada, AT_ONCE) as sessions,
    ):
        tools = sessions[0]
        for round_ in range(ROUNDS):
            _, kept = await call(tools, "add_task", {"title": f"Keep {round_}"})
            _, added = await call(tools, "add_task", {"title": f"Undo me {round_}"})
            _, updated = await call(
                tools, "update_task", {"task_id": kept["task_id"], "title": f"Renamed {round_}"}
            )
            _, gone = await call(tools, "add_task", {"title": f"Bring back {round_}"})
            _, deleted = await call(tools, "delete_task", {"task_id": gone["task_id"]})
            for change in (added, updated, deleted):
                outcomes = await at_once(sessions, "undo_change", {"change": change})
                done = [said for refused, said in outcomes if not refused]
                assert len(done) == 1, outcomes
                assert done[0]["undid"] == change["status"]
            assert await task_row(runtime, ada, added["task_id"]) is None
            renamed = await task_row(runtime, ada, kept["task_id"])
            assert renamed is not None and renamed.title == f"Keep {round_}"
            back = await task_row(runtime, ada, gone["task_id"])
            assert back is not None and back.title == f"Bring back {round_}"


async def test_completions_of_a_repeating_task_at_once_move_it_one_step(
    database_url: str, running: Callable[[Runtime], Awaitable[Runtime]]
) -> None:
    """AT_ONCE completions of a daily task sent together (with and without the date being
    done): its due date moves one day, it stays open. Then every one of those completions
    undone at once: one undo moves the date back a day, the others are refused."""
    runtime = await running(unlimited(database_url))
    ada = await make_user(runtime, "ada@example.com")
    async with (
        live_server(runtime) as base_url,
        tool_sessions(base_url, runtime, ada, AT_ONCE) as sessions,
    ):
        _, added = await call(sessions[0], "add_task", {"title": "Stretch", "repeat": "daily"})
        first = date.fromisoformat(added["due_date"])
        assert first == today(runtime.settings)
        for round_ in range(ROUNDS):
            due = first.toordinal() + round_
            arguments = {"task_id": added["task_id"], "due_date": date.fromordinal(due).isoformat()}
            outcomes = await at_once(sessions, "complete_task", arguments)
            assert not any(refused for refused, _ in outcomes), outcomes
            row = await task_row(runtime, ada, added["task_id"])
            assert row is not None and row.due_date is not None
            assert (row.due_date.toordinal(), row.completed) == (due + 1, False)

        # The last round's completions, each undone at once from its own session.
        undone = await asyncio.gather(
            *(
                call(session, "undo_change", {"change": said})
                for session, (_, said) in zip(sessions, outcomes, strict=True)
            )
        )
        assert len([said for refused, said in undone if not refused]) == 1, undone
        row = await task_row(runtime, ada, added["task_id"])
        assert row is not None and row.due_date is not None
        assert row.due_date.toordinal() == first.toordinal() + ROUNDS - 1


async def test_edits_of_one_question_at_once_answer_one(
    database_url: str, running: Callable[[Runtime], Awaitable[Runtime]]
) -> None:
    """AT_ONCE edits of the same question sent together: exactly one is answered (200), the
    rest are refused (409, `message_replaced` or `turn_in_progress`); the conversation then
    holds the winning version and its answer, alternating, and nothing is left running."""
    runtime = await running(unlimited(database_url))
    async with (
        live_server(runtime) as base_url,
        httpx.AsyncClient(base_url=base_url, timeout=60) as http,
    ):
        ada = await Person.sign_up(http)
        await ada.say("add buy milk")
        await ada.say("show my tasks")
        for round_ in range(ROUNDS):
            question = (await ada.messages())[-2]
            url = (
                f"/api/{ada.id}/conversations/{ada.conversation_id}/messages/{question['id']}/edit"
            )
            answers = await asyncio.gather(
                *(
                    http.post(
                        url, json={"message": f"show my tasks {round_}.{n}"}, headers=ada.headers
                    )
                    for n in range(AT_ONCE)
                )
            )
            statuses = sorted(answer.status_code for answer in answers)
            assert statuses == [200] + [409] * (AT_ONCE - 1), [a.text for a in answers]
            for answer in answers:
                if answer.status_code == 409:
                    assert answer.json()["code"] in {"message_replaced", "turn_in_progress"}
            [won] = [answer for answer in answers if answer.status_code == 200]
            messages = await ada.messages()
            assert alternates(messages), [(m["role"], m["status"]) for m in messages]
            assert all(m["status"] == "answered" for m in messages)
            assert messages[-2]["versions"] == round_ + 2
            assert messages[-2]["content"].startswith(f"show my tasks {round_}.")
            assert messages[-1]["content"] == won.json()["response"]
        async with runtime.db.session() as session:
            rows = (await session.exec(select(Message).where(col(Message.user_id) == ada.id))).all()
    # Two questions and answers, and each round's edit kept the version it replaced.
    assert len(rows) == 4 + 2 * ROUNDS
    assert not [row for row in rows if row.status not in ("answered", "replaced")]


async def test_feed_urls_made_and_fetched_at_once_leave_one_working(
    database_url: str, running: Callable[[Runtime], Awaitable[Runtime]]
) -> None:
    """AT_ONCE new feed URLs asked for together while the current one is fetched: every
    request is answered (201, or 200 / 404 for a fetch), and afterwards exactly one of the
    new URLs works and the person has one feed."""
    runtime = await running(unlimited(database_url))
    async with (
        live_server(runtime) as base_url,
        httpx.AsyncClient(base_url=base_url, timeout=60) as http,
    ):
        ada = await Person.sign_up(http)
        feed_url = f"/api/{ada.id}/calendar-feed"
        for _ in range(ROUNDS):
            current = await http.post(feed_url, headers=ada.headers)
            assert current.status_code == 201, current.text
            made = [http.post(feed_url, headers=ada.headers) for _ in range(AT_ONCE)]
            fetched = [http.get(current.json()["url"]) for _ in range(AT_ONCE)]
            answers = await asyncio.gather(*made, *fetched)
            assert [a.status_code for a in answers[:AT_ONCE]] == [201] * AT_ONCE, [
                a.text for a in answers[:AT_ONCE]
            ]
            assert {a.status_code for a in answers[AT_ONCE:]} <= {200, 404}
            urls = [answer.json()["url"] for answer in answers[:AT_ONCE]]
            working = [url for url in urls if (await http.get(url)).status_code == 200]
            assert len(working) == 1, working
            assert (await http.get(current.json()["url"])).status_code == 404
        async with runtime.db.session() as session:
            feeds = (await session.exec(select(CalendarFeed))).all()
    assert [feed.user_id for feed in feeds] == [ada.id]
