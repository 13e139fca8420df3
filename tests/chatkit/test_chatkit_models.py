"""The self-hosted ChatKit server with real models: the Agents SDK's Responses and Chat
Completions models, with the real `openai` client, against `tests.support.openai_standin`; and what
ChatKit's Stop (closing the stream mid-turn) leaves behind, on a real socket.

Everything but the model is real: the API app, the agent service, the MCP server, the
database (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from agents.testing import ModelStep, ScriptedModel, assistant_message
from chatkit.types import ErrorEvent, ThreadCreateParams, ThreadsCreateReq, ThreadStreamEvent

from taskpilot.agent.engine import STOPPED
from taskpilot.core.config import Settings
from taskpilot.runtime import Runtime
from tests.support.chatkit_client import (
    CHATKIT,
    ChatKitClient,
    event_summary,
    first_turn,
    item_ids,
    parse_events,
    texts,
    thread_id_of,
    user_input,
)
from tests.support.harness import api_client, live_server, scripted_runtime, sign_up
from tests.support.openai_standin import OpenAIStandIn, reply, tool_call
from tests.support.providers import PROVIDERS, assert_replays_first_turn, provider_settings

FAKE_ID = "__fake_id__"  # the id the Agents SDK gives every chat-completions output item


def streamed_ids(events: list[ThreadStreamEvent]) -> list[str]:
    """The id of each item a stream finished, in order (one entry per item)."""
    return [event.item.id for event in events if event.type == "thread.item.done"]


def appeared(events: list[ThreadStreamEvent]) -> list[str]:
    """The id of each item a stream added or finished, where it first appeared."""
    ids = [
        event.item.id for event in events if event.type in ("thread.item.added", "thread.item.done")
    ]
    return list(dict.fromkeys(ids))


def mentioned_ids(events: list[ThreadStreamEvent]) -> set[str]:
    """Every item id any event of a stream names."""
    ids = set()
    for event in events:
        item = getattr(event, "item", None)
        if item is not None:
            ids.add(item.id)
        elif (name := getattr(event, "item_id", None)) is not None:
            ids.add(name)
    return ids


# --- two turns with a real model kind ----------------------------------------------------------


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_a_thread_replays_its_tool_call_faithfully_to_either_model_kind(
    provider: str, database_url: str, running: Any, standin: OpenAIStandIn
) -> None:
    settings = provider_settings(database_url, provider, standin)
    standin.script(
        tool_call("add_task", {"title": "Buy milk", "priority": "high"}, call_id="call_add_1"),
        reply("Added task 1: Buy milk, high priority."),
        reply("You have 1 open task: Buy milk."),
    )
    runtime = await running(Runtime(settings))
    async with api_client(runtime) as http:
        me = await sign_up(http)
        ck = ChatKitClient(http, me["headers"])
        first = await ck.create("add buy milk, high priority")
        thread_id = thread_id_of(first)
        second = await ck.add(thread_id, "how many tasks?")
        page = await ck.items(thread_id, order="asc")
        n = await first_turn(ck, thread_id)

    # Both turns finished cleanly: the replayed conversation was one OpenAI accepts (the
    # stand-in answers 400, as OpenAI does, when tool calls and results do not pair up).
    for events in (first, second):
        assert not [event for event in events if isinstance(event, ErrorEvent)]
    standin.assert_done()
    assert [r.path for r in standin.model_requests] == [
        "/v1/responses" if provider == "openai" else "/v1/chat/completions"
    ] * 3

    # The second turn's request replays the first turn: the question, the call paired with
    # its real result, the answer, then the new question.
    replayed = standin.model_requests[2]
    assert_replays_first_turn(
        replayed,
        provider,
        asked="add buy milk, high priority",
        answered="Added task 1: Buy milk, high priority.",
        then="how many tasks?",
    )

    # Ids are TaskPilot's, never the model's: unique, none the SDK's fake id, and what
    # streamed (apart from the user messages, which ChatKit names while they stream) is
    # what is listed afterwards.
    listed = item_ids(page)
    second_turn = listed[4]
    assert second_turn.startswith("msg_")
    assert listed == [
        f"msg_{n}",
        f"tools_{n}",
        f"widget_{n}",
        f"reply_{n}",
        second_turn,
        f"reply_{second_turn[4:]}",
    ]
    assert len(set(listed)) == len(listed)
    done = streamed_ids(first) + streamed_ids(second)
    assert len(set(done)) == len(done)
    for ids in (listed, done, mentioned_ids(first), mentioned_ids(second)):
        assert FAKE_ID not in ids
    # In the order ChatKit shows them (an item's place is where it first appeared: a widget
    # is done before the workflow above it folds).
    shown = list(dict.fromkeys(appeared(first) + appeared(second)))
    assert [i for i in shown if not i.startswith("ck_message_")] == [
        i for i in listed if not i.startswith("msg_")
    ]

    # The tool call is a workflow item, while streaming and after.
    assert f"thread.item.done:workflow:tools_{n}" in event_summary(first)
    assert texts(page) == [
        ("user_message", "add buy milk, high priority"),
        ("workflow", "Added task 1 · Buy milk"),
        ("widget", "Added task 1"),
        ("assistant_message", "Added task 1: Buy milk, high priority."),
        ("user_message", "how many tasks?"),
        ("assistant_message", "You have 1 open task: Buy milk."),
    ]


# --- Stop ------------------------------------------------------------------------------------


@asynccontextmanager
async def create_until_message_is_in(
    http: httpx.AsyncClient, headers: dict[str, str], text: str
) -> AsyncIterator[tuple[httpx.Response, list[ThreadStreamEvent]]]:
    """A `threads.create` stream read up to ChatKit's "your message is in" (the user item's
    done event), left open for the test to close, as ChatKit's Stop does."""
    request = ThreadsCreateReq(params=ThreadCreateParams(input=user_input(text)))
    seen: list[ThreadStreamEvent] = []
    async with http.stream(
        "POST",
        CHATKIT,
        content=request.model_dump_json(by_alias=True),
        headers={**headers, "Content-Type": "application/json"},
    ) as response:
        assert response.status_code == 200
        # Read by hand: breaking out of `aiter_lines()` would let the generator be finalised,
        # which hangs up at once.
        lines = response.aiter_lines()
        while not any(event.type == "thread.item.done" for event in seen):
            line = await anext(lines)
            if line.startswith("data: "):
                seen += parse_events(line)
        yield response, seen


async def test_closing_the_stream_stops_the_turn_and_leaves_a_retryable_note(
    settings: Settings, running: Any
) -> None:
    """ChatKit's Stop aborts the fetch. Unlike the JSON chat API (whose turns outlive their
    client), that stops the turn: the model call is cancelled, the message is kept with a
    note and no partial reply, and retrying it runs the turn to completion."""
    reached, cancelled, gate = asyncio.Event(), asyncio.Event(), asyncio.Event()

    async def slow(call: Any) -> Any:
        reached.set()
        try:
            await gate.wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return [assistant_message("Too late.")]

    model = ScriptedModel(
        [ModelStep.respond(slow), ModelStep.respond(lambda call: [assistant_message("Hi!")])]
    )
    runtime = await running(scripted_runtime(settings, model))
    async with live_server(runtime) as url, httpx.AsyncClient(base_url=url, timeout=30) as http:
        me = await sign_up(http)
        ck = ChatKitClient(http, me["headers"])
        async with create_until_message_is_in(http, me["headers"], "hello") as (response, seen):
            await asyncio.wait_for(reached.wait(), 10)  # the model is working on it
            # Stop: the browser aborts the fetch, so the connection closes mid-turn.
            await response.aclose()
        await asyncio.wait_for(cancelled.wait(), 10)
        gate.set()
        thread_id = thread_id_of(seen)
        page = await _until_stopped(ck, thread_id)
        n = await first_turn(ck, thread_id)
        assert item_ids(page) == [f"msg_{n}", f"note_{n}"]
        assert texts(page) == [
            ("user_message", "hello"),
            ("assistant_message", f"_{STOPPED}_ · Retry to run it again."),
        ]
        messages = (
            await http.get(
                f"/api/{me['id']}/conversations/{thread_id}/messages", headers=me["headers"]
            )
        ).json()["messages"]
        assert [(m["role"], m["content"], m["status"]) for m in messages] == [
            ("user", "hello", "failed")
        ]

        retried = await ck.retry(thread_id, f"msg_{n}")
        assert not [event for event in retried if isinstance(event, ErrorEvent)]
        # The reply, then the thread's title (its first answered exchange is this one).
        assert event_summary(retried)[-2:] == [
            f"thread.item.done:assistant_message:reply_{n}",
            "thread.updated",
        ]
        page = await ck.items(thread_id, order="asc")
        assert texts(page) == [("user_message", "hello"), ("assistant_message", "Hi!")]


async def test_leaving_before_the_turn_starts_still_keeps_the_message(
    settings: Settings, running: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The client is told its message is in before the turn runs; if it leaves right then,
    the message is already stored (and marked stopped, to retry), not lost."""
    runtime = await running(
        scripted_runtime(
            settings,
            ScriptedModel([ModelStep.respond(lambda call: [assistant_message("Hi again!")])]),
        )
    )
    started = asyncio.Event()
    respond = runtime.chatkit.respond

    async def slow_to_start(*args: Any) -> Any:
        started.set()
        await asyncio.Event().wait()  # never starts: the client leaves first
        async for event in respond(*args):  # pragma: no cover - never reached
            yield event

    monkeypatch.setattr(runtime.chatkit, "respond", slow_to_start)
    async with live_server(runtime) as url, httpx.AsyncClient(base_url=url, timeout=30) as http:
        me = await sign_up(http)
        ck = ChatKitClient(http, me["headers"])
        async with create_until_message_is_in(http, me["headers"], "hello") as (response, seen):
            await asyncio.wait_for(started.wait(), 10)
            await response.aclose()
        thread_id = thread_id_of(seen)
        page = await _until_stopped(ck, thread_id)
        assert texts(page) == [
            ("user_message", "hello"),
            ("assistant_message", f"_{STOPPED}_ · Retry to run it again."),
        ]
        monkeypatch.setattr(runtime.chatkit, "respond", respond)
        # The id ChatKit showed the message under still finds it.
        streamed_user = next(e.item.id for e in seen if e.type == "thread.item.done")  # type: ignore[union-attr]
        retried = await ck.retry(thread_id, streamed_user)
        assert not [event for event in retried if isinstance(event, ErrorEvent)]
        page = await ck.items(thread_id, order="asc")
        assert texts(page) == [("user_message", "hello"), ("assistant_message", "Hi again!")]


async def _until_stopped(ck: ChatKitClient, thread_id: str) -> dict[str, Any]:
    """The thread's items once the stopped turn's note is stored (it is written as the turn
    unwinds, just after the connection closes)."""
    for _ in range(200):
        page: dict[str, Any] = await ck.items(thread_id, order="asc")
        if any(item_id.startswith("note_") for item_id in item_ids(page)):
            return page
        await asyncio.sleep(0.05)
    raise AssertionError(f"no note after the stream was closed: {item_ids(page)}")
