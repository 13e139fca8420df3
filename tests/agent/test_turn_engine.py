"""The turn engine in one process: events, storage, stop, retries, claims, leases, deadlines,
shutdown and failures. Real concurrency against running servers is in `test_turn_races.py`."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from agents.testing import ModelStep, ScriptedModel, assistant_message, function_call
from sqlmodel import select

from taskpilot.agent.engine import NOT_STARTED, SHUT_DOWN, STOPPED, SUPERSEDED
from taskpilot.agent.events import (
    TextDelta,
    ToolFinished,
    ToolStarted,
    TurnDone,
    TurnError,
    TurnEvent,
    TurnStarted,
    TurnTitled,
    turn_event_adapter,
)
from taskpilot.agent.failures import explain
from taskpilot.agent.model_input import history_to_input
from taskpilot.core.config import Settings
from taskpilot.core.db import DatabaseUnavailable
from taskpilot.core.errors import TaskPilotError
from taskpilot.data.models import Message, TurnStatus, utcnow
from taskpilot.runtime import Runtime
from taskpilot.services.tasks import TaskService
from taskpilot.services.users import UserService
from tests.support.harness import scripted_runtime


async def start(
    settings: Settings, running: Any, steps: list[Any]
) -> tuple[Runtime, ScriptedModel, str]:
    model = ScriptedModel(steps)
    runtime = await running(scripted_runtime(settings, model))
    async with runtime.db.session() as session:
        user = await UserService(session).sign_up("ada@example.com", "password123")
    return runtime, model, user.id


async def ask(
    runtime: Runtime,
    user: str,
    text: str,
    conversation_id: str | None = None,
    client_message_id: str | None = None,
) -> list[TurnEvent]:
    """A whole turn the way every entry point runs one: prepare, start, read its events."""
    turn = await runtime.turns.prepare(user, conversation_id, text, client_message_id)
    return [event async for event in runtime.turns.start(turn).events()]


async def messages(runtime: Runtime) -> list[Message]:
    async with runtime.db.session() as session:
        return list((await session.exec(select(Message).order_by(Message.id))).all())  # type: ignore[arg-type]


async def test_turn_events_and_storage(settings: Settings, running: Any) -> None:
    steps = [
        [function_call("add_task", {"title": "Buy milk", "due_date": "2026-12-01"}, call_id="c1")],
        [assistant_message("Added **Buy milk** as task 1.")],
    ]
    runtime, _, user = await start(settings, running, steps)
    events = await ask(runtime, user, "  add buy milk  ")
    kinds = [type(event) for event in events]
    # A conversation's first reply is followed by the title it now has (offline: the task).
    assert kinds[0] is TurnStarted and kinds[-2:] == [TurnDone, TurnTitled]
    assert events[-1] == TurnTitled(conversation_id=events[0].conversation_id, title="Buy milk")
    assert ToolStarted in kinds and ToolFinished in kinds and TextDelta in kinds
    done = events[-2]
    assert isinstance(done, TurnDone)
    assert done.response == "Added **Buy milk** as task 1."
    assert done.tool_calls[0].result["due_date"] == "2026-12-01"
    # Events round-trip through the shared wire type.
    for event in events:
        assert turn_event_adapter.validate_json(event.model_dump_json()) == event
    stored = await messages(runtime)
    assert [(m.role, m.content, m.status) for m in stored] == [
        ("user", "add buy milk", "answered"),
        ("assistant", "Added **Buy milk** as task 1.", "answered"),
    ]
    assert stored[1].reply_to_id == stored[0].id
    assert stored[1].tool_calls[0]["call_id"] == "c1"


async def set_question(runtime: Runtime, message_id: int, **values: Any) -> None:
    """Change a stored question behind the engine's back, as another worker would."""
    async with runtime.db.session() as session:
        row = await session.get(Message, message_id)
        assert row is not None
        for name, value in values.items():
            setattr(row, name, value)
        session.add(row)
        await session.commit()


async def test_stopping_mid_stream_keeps_the_message_and_stores_no_reply(
    settings: Settings, running: Any
) -> None:
    gate = asyncio.Event()

    async def slow_reply(call: Any) -> Any:
        await gate.wait()
        return [assistant_message("too late")]

    steps = [
        [function_call("add_task", {"title": "Buy milk"}, call_id="c1")],
        ModelStep.respond(slow_reply),
    ]
    runtime, _, user = await start(settings, running, steps)
    running_turn = runtime.turns.start(await runtime.turns.prepare(user, None, "add buy milk"))
    async for event in running_turn.events():
        if isinstance(event, ToolFinished):
            break
    running_turn.stop()  # the page's or ChatKit's Stop
    await running_turn.wait()
    stored = await messages(runtime)
    assert [(m.role, m.status) for m in stored] == [("user", "failed")]
    assert stored[0].error == STOPPED
    # The tool call that already ran did its work; nothing half-written was stored as a reply.
    async with runtime.db.session() as session:
        assert [t.title for t in await TaskService(session, user).find()] == ["Buy milk"]


async def test_rejections_are_errors_with_codes_and_store_nothing(
    settings: Settings, running: Any
) -> None:
    runtime, _, user = await start(settings, running, [])
    for conversation, text, code in [
        (None, " ", "empty_message"),
        ("nope", "hi", "conversation_not_found"),
        (None, None, "invalid_message"),
        (None, "x" * 5000, "message_too_long"),
    ]:
        with pytest.raises(TaskPilotError) as info:
            await runtime.turns.prepare(user, conversation, text)
        assert info.value.code == code and info.value.message.endswith(".")
    assert await messages(runtime) == []


async def test_a_reader_that_leaves_does_not_stop_the_turn(
    settings: Settings, running: Any
) -> None:
    gate = asyncio.Event()

    async def slow(call: Any) -> Any:
        await gate.wait()
        return [assistant_message("stored anyway")]

    runtime, _, user = await start(settings, running, [ModelStep.respond(slow)])
    running_turn = runtime.turns.start(await runtime.turns.prepare(user, None, "hello"))

    async def read() -> None:
        async for _ in running_turn.events():
            pass

    reader = asyncio.create_task(read())
    await asyncio.sleep(0.1)
    reader.cancel()  # the API's client hung up
    gate.set()
    await running_turn.wait()
    assert [(m.role, m.content) for m in await messages(runtime)] == [
        ("user", "hello"),
        ("assistant", "stored anyway"),
    ]


async def test_a_repeated_client_message_id_waits_then_replays_the_answer(
    settings: Settings, running: Any
) -> None:
    gate = asyncio.Event()

    async def slow(call: Any) -> Any:
        await gate.wait()
        return [assistant_message("done")]

    runtime, model, user = await start(settings, running, [ModelStep.respond(slow)])
    first = runtime.turns.start(await runtime.turns.prepare(user, None, "hello", "cmid-1"))
    again = asyncio.create_task(runtime.turns.prepare(user, None, "hello", "cmid-1"))
    await asyncio.sleep(0.3)
    assert not again.done()  # waiting for the running turn, not refused at once
    gate.set()
    await first.wait()
    replay = [e async for e in runtime.turns.start(await again).events()]
    assert isinstance(replay[-1], TurnDone) and replay[-1].replayed
    assert replay[-1].response == "done"
    assert [(m.role, m.status) for m in await messages(runtime)] == [
        ("user", "answered"),
        ("assistant", "answered"),
    ]
    model.assert_complete()


async def test_a_second_message_waits_for_the_running_turn_then_is_refused(
    settings: Settings, running: Any
) -> None:
    gate = asyncio.Event()

    async def slow(call: Any) -> Any:
        await gate.wait()
        return [assistant_message("first")]

    settings = settings.model_copy(update={"turn_wait_seconds": 0.3})
    runtime, _, user = await start(
        settings, running, [ModelStep.respond(slow), [assistant_message("second")]]
    )
    first = runtime.turns.start(await runtime.turns.prepare(user, None, "one"))
    conversation = first.turn.conversation_id
    with pytest.raises(TaskPilotError) as info:
        await runtime.turns.prepare(user, conversation, "two")
    assert info.value.code == "turn_in_progress" and info.value.retry_after
    gate.set()
    await first.wait()
    events = await ask(runtime, user, "two", conversation)
    assert isinstance(events[-1], TurnDone) and events[-1].response == "second"
    assert [(m.role, m.content) for m in await messages(runtime)] == [
        ("user", "one"),
        ("assistant", "first"),
        ("user", "two"),
        ("assistant", "second"),
    ]


async def test_a_turn_whose_lease_ran_out_runs_again_without_repeating_its_tools(
    settings: Settings, running: Any
) -> None:
    settings = settings.model_copy(update={"turn_wait_seconds": 0.2})
    runtime, model, user = await start(settings, running, [[assistant_message("It's added.")]])
    # A worker claimed the turn, ran add_task, saved its progress, and died.
    turn = await runtime.turns.prepare(user, None, "add milk", "cmid-1")
    done = {"call_id": "c0", "name": "add_task", "arguments": {"title": "milk"}}
    await set_question(runtime, turn.message_id, tool_calls=[{**done, "result": {"task_id": 1}}])
    with pytest.raises(TaskPilotError) as info:  # still leased: it may be running elsewhere
        await runtime.turns.prepare(user, None, "add milk", "cmid-1")
    assert info.value.code == "turn_in_progress"
    await set_question(runtime, turn.message_id, lease_until=utcnow() - timedelta(seconds=1))
    events = await ask(runtime, user, "add milk", None, "cmid-1")
    assert isinstance(events[-1], TurnDone) and events[-1].response == "It's added."
    # The model was shown the earlier call and its result; the reply keeps it, once.
    assert [call.call_id for call in events[-1].tool_calls] == ["c0"]
    stored = await messages(runtime)
    assert [(m.role, m.status, m.attempt) for m in stored] == [
        ("user", "answered", 2),
        ("assistant", "answered", 0),
    ]
    model.assert_complete()


async def test_a_new_message_fails_a_dead_turn_of_its_conversation_and_runs(
    settings: Settings, running: Any
) -> None:
    runtime, _, user = await start(settings, running, [[assistant_message("second")]])
    dead = await runtime.turns.prepare(user, None, "one")
    await set_question(runtime, dead.message_id, lease_until=utcnow() - timedelta(seconds=1))
    events = await ask(runtime, user, "two", dead.conversation_id)
    assert isinstance(events[-1], TurnDone)
    stored = await messages(runtime)
    assert [(m.content, m.status) for m in stored] == [
        ("one", "failed"),
        ("two", "answered"),
        ("second", "answered"),
    ]
    # The older question can't be answered after a newer one now: it would be out of order.
    with pytest.raises(TaskPilotError) as info:
        await runtime.turns.prepare_retry(user, dead.conversation_id, dead.message_id)
    assert info.value.code == "not_latest_message"


async def test_a_superseded_attempt_stops_and_writes_nothing(
    settings: Settings, running: Any
) -> None:
    gate = asyncio.Event()

    async def slow(call: Any) -> Any:
        await gate.wait()
        return [assistant_message("too late")]

    settings = settings.model_copy(update={"turn_lease_seconds": 2})
    runtime, _, user = await start(settings, running, [ModelStep.respond(slow)])
    running_turn = runtime.turns.start(await runtime.turns.prepare(user, None, "hello"))
    # Another worker took the turn over (to it, the lease looked run out).
    await set_question(runtime, running_turn.turn.message_id, attempt=2)
    events = [e async for e in running_turn.events()]  # the heartbeat notices within ~0.7 s
    assert isinstance(events[-1], TurnError) and events[-1].message == SUPERSEDED
    gate.set()
    stored = await messages(runtime)
    assert [(m.role, m.status, m.attempt) for m in stored] == [("user", "running", 2)]


async def test_a_turn_past_its_deadline_fails_with_a_reason(
    settings: Settings, running: Any
) -> None:
    async def never(call: Any) -> Any:
        await asyncio.sleep(3600)

    settings = settings.model_copy(update={"turn_deadline_seconds": 0.5})
    runtime, _, user = await start(settings, running, [ModelStep.respond(never)])
    events = await ask(runtime, user, "hello")
    assert isinstance(events[-1], TurnError) and events[-1].code == "turn_timeout"
    [question] = await messages(runtime)
    assert question.status == "failed" and question.error == events[-1].message


async def test_shutdown_lets_turns_finish_then_stops_the_rest(
    settings: Settings, running: Any
) -> None:
    gate = asyncio.Event()

    async def quick(call: Any) -> Any:
        await asyncio.sleep(0.2)
        return [assistant_message("finished in time")]

    async def never(call: Any) -> Any:
        await gate.wait()
        return [assistant_message("never")]

    runtime, _, user = await start(
        settings, running, [ModelStep.respond(quick), ModelStep.respond(never)]
    )
    fast = runtime.turns.start(await runtime.turns.prepare(user, None, "one"))
    await asyncio.sleep(0.05)  # the scripted model answers in order: "one" first
    slow = runtime.turns.start(await runtime.turns.prepare(user, None, "two"))
    await asyncio.sleep(0.05)
    await runtime.turns.drain(grace=1.0)
    assert fast.ended and slow.ended
    with pytest.raises(TaskPilotError) as info:
        await runtime.turns.prepare(user, None, "three")
    assert info.value.code == "shutting_down"
    stored = {(m.content, m.status, m.error) for m in await messages(runtime)}
    assert ("one", "answered", None) in stored
    assert ("finished in time", "answered", None) in stored
    assert ("two", "failed", SHUT_DOWN) in stored


async def test_unexpected_tool_crash_is_reported_to_the_model(
    settings: Settings, running: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def explode(self: TaskService, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(TaskService, "add", explode)
    steps = [
        [function_call("add_task", {"title": "x"}, call_id="c1")],
        [assistant_message("Sorry, that failed.")],
    ]
    runtime, model, user = await start(settings, running, steps)
    events = await ask(runtime, user, "add x")
    model.assert_complete()
    finished = next(e for e in events if isinstance(e, ToolFinished))
    assert finished.is_error
    assert "disk on fire" not in str(finished.result)  # internals stay on the server
    assert isinstance(events[-1], TurnDone)


async def test_database_failure_when_storing_the_reply(
    settings: Settings, running: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime, _, user = await start(settings, running, [[assistant_message("hi")]])
    from taskpilot.services.turns import TurnStore

    async def down(*args: Any, **kwargs: Any) -> Any:
        raise DatabaseUnavailable()

    monkeypatch.setattr(TurnStore, "finish", down)
    events = await ask(runtime, user, "hello")
    assert isinstance(events[-1], TurnError) and events[-1].code == "database_unavailable"
    assert [(m.role, m.status) for m in await messages(runtime)] == [("user", "failed")]


def test_history_replay_shape() -> None:
    rows = [
        Message(id=1, conversation_id="c", user_id="u", role="user", content="add milk"),
        Message(
            id=2,
            conversation_id="c",
            user_id="u",
            role="assistant",
            content="Added.",
            tool_calls=[
                {
                    "call_id": "k",
                    "name": "add_task",
                    "arguments": {"title": "milk"},
                    "result": {"task_id": 1},
                }
            ],
        ),
        Message(
            id=3,
            conversation_id="c",
            user_id="u",
            role="assistant",
            content="",
            tool_calls=[{"name": "list_tasks", "arguments": {}, "result": "Task 9 was not found"}],
        ),
    ]
    items = history_to_input(rows)
    assert items[0] == {"role": "user", "content": "add milk"}
    assert items[1] == {
        "type": "function_call",
        "call_id": "k",
        "name": "add_task",
        "arguments": '{"title": "milk"}',
    }
    assert items[2] == {"type": "function_call_output", "call_id": "k", "output": '{"task_id": 1}'}
    assert items[3] == {"role": "assistant", "content": "Added."}
    assert (
        items[5]["output"] == "Task 9 was not found" and items[4]["call_id"] == items[5]["call_id"]
    )
    assert len(items) == 6


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (DatabaseUnavailable(), "database_unavailable"),
        (TimeoutError(), "model_timeout"),
        (ValueError("boom"), "internal_error"),
    ],
)
def test_failures_are_explained_without_internals(error: Exception, code: str) -> None:
    found = explain(error)
    assert found.code == code
    assert "boom" not in found.message and found.message.endswith(".")


async def test_status_values(settings: Settings, running: Any) -> None:
    runtime, _, user = await start(settings, running, [ModelStep.raise_error(TimeoutError())])
    events = await ask(runtime, user, "hello")
    assert isinstance(events[-1], TurnError) and events[-1].code == "model_timeout"
    assert (await messages(runtime))[0].status == TurnStatus.FAILED.value


async def test_a_question_claimed_but_not_started_is_given_back_as_failed(
    settings: Settings, running: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime, _, user = await start(settings, running, [ModelStep.raise_error(TimeoutError())])
    first = await ask(runtime, user, "hello", None, "cmid-1")
    assert isinstance(first[-1], TurnError)
    from taskpilot.services.conversations import ConversationStore

    async def down(*args: Any, **kwargs: Any) -> Any:
        raise DatabaseUnavailable()

    monkeypatch.setattr(ConversationStore, "history", down)
    # A retry claims it, then can't read its history: the claim is given back, failed.
    with pytest.raises(DatabaseUnavailable):
        await runtime.turns.prepare(user, None, "hello", "cmid-1")
    [question] = await messages(runtime)
    assert (question.status, question.error, question.attempt) == ("failed", NOT_STARTED, 2)
    # A new question whose history can't be read is not stored at all.
    with pytest.raises(DatabaseUnavailable):
        await runtime.turns.prepare(user, question.conversation_id, "and this?")
    assert [m.content for m in await messages(runtime)] == ["hello"]


async def test_two_retries_discarding_one_reply_at_once_discard_it_once(
    settings: Settings, running: Any
) -> None:
    steps = [
        [function_call("add_task", {"title": "Milk"}, call_id="c1")],
        [assistant_message("Ok")],
    ]
    runtime, _, user = await start(settings, running, steps)
    await ask(runtime, user, "add milk")
    _, reply = await messages(runtime)
    from taskpilot.services.conversations import ConversationStore

    # ChatKit's retry from two tabs at once: each found the reply, then each discards it.
    async with runtime.db.session() as one, runtime.db.session() as two:
        first, second = ConversationStore(one, user), ConversationStore(two, user)
        seen = [await store.message(reply.id or 0) for store in (first, second)]
        await asyncio.gather(first.discard_reply(seen[0]), second.discard_reply(seen[1]))
    [after] = await messages(runtime)
    assert (after.status, [call["call_id"] for call in after.tool_calls]) == ("failed", ["c1"])


async def test_a_question_that_cannot_be_claimed_waits_then_is_refused(
    settings: Settings, running: Any
) -> None:
    settings = settings.model_copy(update={"turn_wait_seconds": 0.3})
    runtime, _, user = await start(settings, running, [[assistant_message("hi")]])
    turn = await runtime.turns.prepare(user, None, "hello", "cmid-1")
    # Answered, but with no reply stored: no rule lets it run again. It must not spin.
    await set_question(runtime, turn.message_id, status="answered")
    started = asyncio.get_running_loop().time()
    with pytest.raises(TaskPilotError) as info:
        await runtime.turns.prepare(user, None, "hello", "cmid-1")
    assert info.value.code == "turn_in_progress"
    assert asyncio.get_running_loop().time() - started < 3


async def test_concurrent_turns_share_one_mcp_setup_and_each_acts_for_its_own_person(
    settings: Settings, running: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What every turn shares is made once per process (the tool list, the function tools,
    the server's discovery); what is a turn's own (its session, bound to its person) is
    not: twelve turns of four people at once each change only their person's tasks."""
    runtime = await running(Runtime(settings))  # the offline model, calling add_task
    people = []
    async with runtime.db.session() as session:
        for name in ("ada", "bob", "cy", "di"):
            user = await UserService(session).sign_up(f"{name}@example.com", "password123")
            people.append((name, user.id))
    await ask(runtime, people[0][1], "add warm up")

    asked = {"tools/list": 0, "server/discover": 0}
    server = runtime.mcp_server
    list_tools, capabilities = server.list_tools, server._lowlevel_server.get_capabilities

    async def counted_list_tools() -> Any:
        asked["tools/list"] += 1
        return await list_tools()

    def counted_capabilities(*args: Any, **kwargs: Any) -> Any:
        asked["server/discover"] += 1
        return capabilities(*args, **kwargs)

    monkeypatch.setattr(server, "list_tools", counted_list_tools)
    monkeypatch.setattr(server._lowlevel_server, "get_capabilities", counted_capabilities)

    turns = [(name, user, n) for n in range(3) for name, user in people]
    ended = await asyncio.gather(
        *(ask(runtime, user, f"add {name} errand {n}") for name, user, n in turns)
    )
    assert all(any(isinstance(event, TurnDone) for event in events) for events in ended)
    assert asked == {"tools/list": 0, "server/discover": 0}
    async with runtime.db.session() as session:
        for name, user in people:
            titles = sorted(t.title for t in await TaskService(session, user).find())
            expected = [f"{name} errand {n}" for n in range(3)]
            if name == "ada":
                expected = sorted([*expected, "warm up"])
            assert [t.lower() for t in titles] == sorted(expected)
