"""The load benchmark's machinery in a tiny form, no workers: the model double answers the
real OpenAI client with a streamed tool call and then a reply in chunks, times itself, and
its records subtract from a turn by token; the raw client reads a chunked SSE turn; the
report renders."""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any, Literal

import httpx
import uvicorn
from openai import AsyncOpenAI

from bench.load.clients import Account, RawClient, TurnSample, TurnStream
from bench.load.config import LoadConfig
from bench.load.report import render
from bench.load.results import AFTER, BEFORE, BETWEEN, LevelResult, LoadResults, overhead_of
from bench.load.users import message_for
from bench.machine import environment
from bench.model_double import ModelDouble, answer_for, split_evenly, tagged, token_in
from taskpilot.api.sse import frame
from tests.support.harness import free_port

CALL_MS = 60.0
CHUNKS = 20
ADD_TASK: Any = {
    "type": "function",
    "function": {
        "name": "add_task",
        "parameters": {"type": "object", "properties": {"title": {"type": "string"}}},
    },
}


@asynccontextmanager
async def serving(app: Any, lifespan: Literal["on", "off"] = "on") -> AsyncIterator[str]:
    """`app` on uvicorn on a free loopback port, in this event loop; yields its base URL."""
    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", lifespan=lifespan
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


async def test_model_double_streams_a_tool_call_then_a_chunked_reply() -> None:
    double = ModelDouble(call_ms=CALL_MS, reply_chunks=CHUNKS)
    async with serving(double) as base_url:
        client = AsyncOpenAI(api_key="unused", base_url=f"{base_url}/v1", max_retries=0)
        message = tagged("add buy milk", "7.3.0")
        messages: list[Any] = [{"role": "user", "content": message}]
        first = await client.chat.completions.create(
            model="double",
            messages=messages,
            tools=[ADD_TASK],
            stream=True,
            stream_options={"include_usage": True},
        )
        calls: dict[int, dict[str, str]] = {}
        finish = None
        async for chunk in first:
            for choice in chunk.choices:
                for call in choice.delta.tool_calls or []:
                    entry = calls.setdefault(call.index, {"id": "", "name": "", "arguments": ""})
                    entry["id"] += call.id or ""
                    entry["name"] += (call.function.name if call.function else None) or ""
                    entry["arguments"] += (call.function.arguments if call.function else "") or ""
                finish = choice.finish_reason or finish
        assert finish == "tool_calls"
        assert [c["name"] for c in calls.values()] == ["add_task"]
        assert json.loads(calls[0]["arguments"]) == {"title": "buy milk", "priority": "high"}

        result = {"task_id": 4, "status": "created", "title": "buy milk"}
        messages += [
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": calls[0]["id"],
                        "type": "function",
                        "function": {"name": "add_task", "arguments": calls[0]["arguments"]},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": calls[0]["id"], "content": json.dumps(result)},
        ]
        second = await client.chat.completions.create(
            model="double",
            messages=messages,
            stream=True,
        )
        pieces = []
        async for chunk in second:
            for choice in chunk.choices:
                if choice.delta.content:
                    pieces.append(choice.delta.content)
                finish = choice.finish_reason or finish
        await client.close()

        async with httpx.AsyncClient(base_url=base_url) as http:
            records = (await http.get("/_double/calls?clear=1")).json()["calls"]
            assert (await http.get("/_double/calls")).json()["calls"] == []

    assert finish == "stop"
    assert len(pieces) == CHUNKS
    reply = "".join(pieces)
    assert "task 4" in reply and "buy milk" in reply
    assert [(r["token"], r["kind"]) for r in records] == [("7.3.0", "tool"), ("7.3.0", "reply")]
    for record in records:
        # Every chunk waits for its deadline, so a call lasts at least its configured time.
        assert record["duration_ms"] >= CALL_MS * 0.99
        assert 0 < record["first_chunk_ms"] <= record["duration_ms"]
        assert record["ended_ns"] - record["started_ns"] == round(record["duration_ms"] * 1e6)


def test_the_double_lists_tasks_for_other_messages_and_reads_tokens() -> None:
    listing = answer_for([{"role": "user", "content": tagged("what is still open?", "1.2.1")}])
    assert (listing.kind, listing.tool, listing.token) == ("tool", "list_tasks", "1.2.1")
    output = {"status": "ok", "count": 2, "tasks": [{"title": "a"}, {"title": "b"}]}
    reply = answer_for(
        [
            {"role": "user", "content": [{"type": "text", "text": tagged("what?", "x")}]},
            {"role": "tool", "tool_call_id": "c", "content": json.dumps(output)},
        ]
    )
    assert reply.kind == "reply" and reply.token == "x" and "2 open tasks" in reply.text
    assert token_in("no token here") == ""
    for pieces in (1, 7, 20, 200):
        parts = split_evenly(reply.text, pieces)
        assert "".join(parts) == reply.text
        assert all(parts)
    assert len(split_evenly(reply.text, 20)) == 20
    assert [message_for(0, i)[1] for i in range(4)] == [
        "add_task",
        "list_tasks",
        "add_task",
        "list_tasks",
    ]


def _call(token: str, kind: str, start_ms: float, duration_ms: float) -> dict[str, Any]:
    start = int(start_ms * 1e6)
    return {
        "token": token,
        "kind": kind,
        "duration_ms": duration_ms,
        "first_chunk_ms": 15.0,
        "started_ns": start,
        "ended_ns": start + int(duration_ms * 1e6),
    }


def test_overhead_subtracts_the_doubles_calls_matched_by_token() -> None:
    def sample(token: str, total: float, error: str | None = None) -> TurnSample:
        turn = TurnSample(token, 2, 0, 0, "add_task", status=200, error=error)
        turn.total_ms, turn.first_delta_ms, turn.sent_ns = total, 400.0, 1_000_000_000
        return turn

    samples = [sample("a", 700.0), sample("b", 650.0), sample("c", 900.0), sample("d", 1, "x")]
    calls = [
        # a: 20 ms before the first call, 30 between, 50 after: 100 ms of overhead
        _call("a", "tool", 1020, 300),
        _call("a", "reply", 1350, 300),
        _call("b", "reply", 1300, 310),
        _call("b", "tool", 1010, 290),
        _call("c", "tool", 1000, 300),  # no reply record: not matched
        _call("d", "tool", 1000, 300),  # a failed turn: ignored
    ]
    assert overhead_of(samples, calls) == [100.0, 50.0]
    level = LevelResult(2, 1, 1.0, samples, calls, {}, {}, {}, [], [], 0, 0.0)
    level.match()
    assert level.unmatched == 1
    assert level.phases[BEFORE] == [20.0, 10.0]
    assert level.phases[BETWEEN] == [30.0, 0.0]
    assert level.phases[AFTER] == [50.0, 40.0]
    assert math.isclose(level.first_delta_overhead[0], 400.0 - (300.0 + 15.0))
    assert sum(level.errors.values()) == 1 and len(level.ok) == 3


def test_turn_stream_classifies_a_turns_events() -> None:
    turn = TurnSample("t", 1, 0, 0, "add_task", status=200)
    reader = TurnStream(turn, 0)
    stream = (
        b'event: started\ndata: {"conversation_id": "conv1"}\n\n'
        b'event: tool_finished\ndata: {"is_error": false}\n\nevent: text_'
    )
    reader.feed(stream)
    reader.feed(b'delta\ndata: {"delta": "Hi"}\n\nevent: done\ndata: {}\n\n')
    assert turn.conversation_id == "conv1" and reader.done and turn.error is None
    assert not math.isnan(turn.first_delta_ms)
    failed = TurnSample("u", 1, 0, 0, "add_task", status=200)
    TurnStream(failed, 0).feed(b'event: error\ndata: {"code": "model_timeout"}\n\n')
    assert failed.error == "error event: model_timeout"
    broken = TurnSample("v", 1, 0, 0, "add_task", status=200)
    TurnStream(broken, 0).feed(b'event: tool_finished\ndata: {"is_error": true}\n\n')
    assert broken.error == "tool error"


async def fake_chat(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """A stand-in for `POST /api/{user_id}/chat` with SSE: chunked, as Granian sends it."""
    body = json.loads((await receive())["body"])
    headers = [(b"content-type", b"text/event-stream")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    conversation = body.get("conversation_id") or "conv-new"
    events = [("started", {"conversation_id": conversation})]
    events += [("text_delta", {"delta": f"w{i} "}) for i in range(5)] + [("done", {})]
    for name, data in events:
        chunk = frame(json.dumps(data), name).encode()
        await send({"type": "http.response.body", "body": chunk, "more_body": True})
    await send({"type": "http.response.body", "body": b""})


async def test_raw_client_reads_chunked_sse_turns_on_one_connection() -> None:
    async with serving(fake_chat, lifespan="off") as base_url:
        client = RawClient(base_url, timeout_s=10)
        account = Account(0, "user-1", "token")
        first = TurnSample("a", 1, 0, 0, "add_task")
        await client.turn(account, {"message": "hi"}, first)
        second = TurnSample("b", 1, 0, 1, "list_tasks")
        await client.turn(account, {"message": "again", "conversation_id": "c9"}, second)
        assert len(client.connections) == 1
        await client.close()
    assert (first.status, first.error, first.conversation_id) == (200, None, "conv-new")
    assert (second.error, second.conversation_id) == (None, "c9")
    assert first.head_ms <= first.first_delta_ms <= first.total_ms


def _level(conversations: int, errors: int) -> LevelResult:
    samples = []
    calls = []
    for index in range(4):
        sample = TurnSample(f"t{index}", conversations, index, 0, "add_task", status=200)
        sample.total_ms, sample.first_delta_ms, sample.head_ms = 700.0, 400.0, 10.0
        sample.sent_ns = 0
        if index < errors:
            sample.status, sample.error = 503, "HTTP 503"
        samples.append(sample)
        calls += [_call(sample.token, "tool", 20, 300), _call(sample.token, "reply", 350, 300)]
    level = LevelResult(
        conversations,
        1,
        2.0,
        samples,
        calls,
        {"workers": 1.0, "worker 0": 1.0, "other": 0.5},
        {1: 200.0},
        {1: 190.0},
        [1.0],
        [2.0],
        0,
        0.1,
    )
    level.log_signatures = {"pool timeout (`QueuePool limit … timed out`)": errors}
    level.connections = {"connections": 60.0, "idle_in_tx": 40.0, "idle_in_tx_s": 3.5}
    level.planned = 6
    level.match()
    return level


def test_the_report_renders_from_results() -> None:
    results = LoadResults(LoadConfig.quick_smoke(), datetime.now(UTC), environment(), "raw", {})
    results.baseline = _level(1, 0)
    results.levels += [_level(50, 0), _level(500, 2)]
    results.idle_rss = {1: 190.0}
    text = render(results, ["--quick"])
    assert "| 500 × 1 | 2/4 (6) | 2 |" in text
    assert "zero errors | 2 errors in 4 turns | **not met** |" in text
    assert "p95 server overhead under 100 ms at 500" in text
    assert "**The database pools run dry** (2 `QueuePool limit` timeouts at 500" in text
    assert "**This is a `--quick` smoke run" in text
