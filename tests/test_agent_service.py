"""The agent service on its own: event stream, storage, stop, retries and failures."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from agents.testing import ModelStep, ScriptedModel, assistant_message, function_call
from sqlmodel import select

from taskpilot.agent.events import (
    TextDelta,
    ToolFinished,
    ToolStarted,
    TurnDone,
    TurnError,
    TurnStarted,
    turn_event_adapter,
)
from taskpilot.agent.service import TurnRejected, _explain, history_to_input
from taskpilot.core.config import Settings
from taskpilot.core.db import DatabaseUnavailable
from taskpilot.data.models import Message, TurnStatus, utcnow
from taskpilot.runtime import Runtime
from taskpilot.services.tasks import TaskService
from taskpilot.services.users import UserService
from tests.conftest import scripted_runtime


async def start(
    settings: Settings, running: Any, steps: list[Any]
) -> tuple[Runtime, ScriptedModel, str]:
    model = ScriptedModel(steps)
    runtime = await running(scripted_runtime(settings, model))
    async with runtime.db.session() as session:
        user = await UserService(session).sign_up("ada@example.com", "password123")
    return runtime, model, user.id


async def messages(runtime: Runtime) -> list[Message]:
    async with runtime.db.session() as session:
        return list((await session.exec(select(Message).order_by(Message.id))).all())  # type: ignore[arg-type]


async def test_turn_events_and_storage(settings: Settings, running: Any) -> None:
    steps = [
        [function_call("add_task", {"title": "Buy milk", "due_date": "2026-12-01"}, call_id="c1")],
        [assistant_message("Added **Buy milk** as task 1.")],
    ]
    runtime, _, user = await start(settings, running, steps)
    events = [event async for event in runtime.agent.run_turn(user, None, "  add buy milk  ")]
    kinds = [type(event) for event in events]
    assert kinds[0] is TurnStarted and kinds[-1] is TurnDone
    assert ToolStarted in kinds and ToolFinished in kinds and TextDelta in kinds
    done = events[-1]
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


async def test_rejections_come_as_error_events(settings: Settings, running: Any) -> None:
    runtime, _, user = await start(settings, running, [])
    [empty] = [e async for e in runtime.agent.run_turn(user, None, " ")]
    assert isinstance(empty, TurnError) and empty.code == "empty_message"
    [missing] = [e async for e in runtime.agent.run_turn(user, "nope", "hi")]
    assert isinstance(missing, TurnError) and missing.code == "conversation_not_found"
    with pytest.raises(TurnRejected) as info:
        await runtime.agent.prepare(user, None, None)
    assert info.value.status == 422
    assert await messages(runtime) == []


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
    stream = runtime.agent.run_turn(user, None, "add buy milk")
    async for event in stream:
        if isinstance(event, ToolFinished):
            break
    await stream.aclose()  # the UI's stop button, or a dropped connection
    stored = await messages(runtime)
    assert [(m.role, m.status) for m in stored] == [("user", "failed")]
    assert stored[0].error == "The reply was stopped before it finished."
    # The tool call that already ran did its work; nothing half-written was stored as a reply.
    async with runtime.db.session() as session:
        assert [t.title for t in await TaskService(session, user).find()] == ["Buy milk"]


async def test_stopping_by_task_cancellation(settings: Settings, running: Any) -> None:
    started = asyncio.Event()

    async def never(call: Any) -> Any:
        started.set()
        await asyncio.sleep(3600)

    runtime, _, user = await start(settings, running, [ModelStep.respond(never)])

    async def consume() -> None:
        async for _ in runtime.agent.run_turn(user, None, "hello"):
            pass

    task = asyncio.create_task(consume())
    await asyncio.wait_for(started.wait(), 10)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert [(m.role, m.status) for m in await messages(runtime)] == [("user", "failed")]


async def test_concurrent_retry_is_refused_and_stale_turn_is_rerun(
    settings: Settings, running: Any
) -> None:
    runtime, model, user = await start(settings, running, [[assistant_message("done")]])
    turn = await runtime.agent.prepare(user, None, "hello", "cmid-1")
    with pytest.raises(TurnRejected) as info:
        await runtime.agent.prepare(user, None, "hello", "cmid-1")
    assert info.value.status == 409
    # The worker that owned the turn died: after a while the turn may be run again.
    async with runtime.db.session() as session:
        row = await session.get(Message, turn.user_message.id)
        assert row is not None
        row.created_at = utcnow() - timedelta(minutes=10)
        session.add(row)
        await session.commit()
    events = [e async for e in runtime.agent.run_turn(user, None, "hello", "cmid-1")]
    assert isinstance(events[-1], TurnDone) and events[-1].response == "done"
    assert [(m.role, m.status) for m in await messages(runtime)] == [
        ("user", "answered"),
        ("assistant", "answered"),
    ]
    model.assert_complete()


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
    events = [e async for e in runtime.agent.run_turn(user, None, "add x")]
    model.assert_complete()
    finished = next(e for e in events if isinstance(e, ToolFinished))
    assert finished.is_error
    assert "disk on fire" not in str(finished.result)  # internals stay on the server
    assert isinstance(events[-1], TurnDone)


async def test_database_failure_when_storing_the_reply(
    settings: Settings, running: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime, _, user = await start(settings, running, [[assistant_message("hi")]])
    from taskpilot.services.conversations import ConversationStore

    async def down(*args: Any, **kwargs: Any) -> Any:
        raise DatabaseUnavailable("gone")

    monkeypatch.setattr(ConversationStore, "finish_turn", down)
    events = [e async for e in runtime.agent.run_turn(user, None, "hello")]
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
        (DatabaseUnavailable("x"), "database_unavailable"),
        (TimeoutError(), "model_timeout"),
        (ValueError("boom"), "internal_error"),
    ],
)
def test_failures_are_explained_without_internals(error: Exception, code: str) -> None:
    found, message = _explain(error)
    assert found == code
    assert "boom" not in message and message.endswith(".")


async def test_status_values(settings: Settings, running: Any) -> None:
    runtime, _, user = await start(settings, running, [ModelStep.raise_error(TimeoutError())])
    events = [e async for e in runtime.agent.run_turn(user, None, "hello")]
    assert isinstance(events[-1], TurnError) and events[-1].code == "model_timeout"
    assert (await messages(runtime))[0].status == TurnStatus.FAILED.value
