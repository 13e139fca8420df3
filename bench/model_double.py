"""The load benchmark's model double: an OpenAI-compatible chat-completions server on loopback.

    python -m bench.model_double --port 8765 [--call-ms 300] [--reply-chunks 20]

TaskPilot reaches it as it would Ollama or vLLM (`MODEL_PROVIDER=openai-compatible`,
`MODEL_BASE_URL=http://127.0.0.1:8765/v1`): the Agents SDK's `OpenAIChatCompletionsModel`
sends `POST /v1/chat/completions` with `stream: true` and parses the `data: {chunk}` lines.
A turn is two model calls, each taking about `call_ms`:

- the user's message is newest → one tool call: `add_task` with a title taken from a message
  that starts with "add", else `list_tasks` (pending). Its chunks (role, the call's name,
  its arguments in pieces, the finish reason) are spread evenly over the call;
- a tool's result is newest → the reply, about the result, in `reply_chunks` text chunks
  spread evenly over the call (the first after call_ms / reply_chunks).

Every call is timed by the double itself, from the request's arrival to its last byte
handed to the socket, on `time.monotonic_ns()` (CLOCK_MONOTONIC, one clock for every process
on the machine), and recorded with the load token the user's message carries (`[lt:…]`, see
`TOKEN`), so the client can subtract the double's own time from each turn and place the
calls inside it.
`GET /_double/calls` returns the records (`?clear=1` empties the list after reading).

A plain ASGI app on uvicorn (one asyncio loop): 500 concurrent streams are 500 sleeping
coroutines. Deadlines are absolute from the call's start, so a busy loop shows up as the
double's own (recorded) time, not as the server's overhead.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import re
import signal
import sys
import time
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import parse_qs

from taskpilot.api.sse import frame

CHAT_PATH = "/v1/chat/completions"
CALLS_PATH = "/_double/calls"
HEALTH_PATH = "/_double/health"
TOKEN = re.compile(r"\[lt:([A-Za-z0-9_.-]+)\]")
DEFAULT_CALL_MS = 300.0
DEFAULT_REPLY_CHUNKS = 20

Send = Any
Receive = Any


def token_in(text: str) -> str:
    """The load token a message carries (`[lt:…]`), or "" when it has none."""
    found = TOKEN.search(text)
    return found.group(1) if found else ""


def tagged(text: str, token: str) -> str:
    """A user message carrying `token`, so the double's records can be matched to the turn."""
    return f"{text} [lt:{token}]"


def split_evenly(text: str, pieces: int) -> list[str]:
    """`text` cut into `pieces` consecutive parts on word boundaries where it can (each part
    non-empty, their concatenation is `text`)."""
    words = re.findall(r"\S+\s*", text) or [text]
    if len(words) < pieces:  # not enough words: cut characters instead
        size = max(1, -(-len(text) // pieces))
        return [text[i : i + size] for i in range(0, len(text), size)]
    per, extra = divmod(len(words), pieces)
    parts, start = [], 0
    for index in range(pieces):
        end = start + per + (1 if index < extra else 0)
        parts.append("".join(words[start:end]))
        start = end
    return parts


def _text(content: Any) -> str:
    """A chat message's content as text (a string, or a list of text parts)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return ""


@dataclass(frozen=True)
class Answer:
    """What the double says to one request: a tool call, or reply text."""

    kind: str  # "tool" | "reply"
    token: str
    tool: str = ""
    arguments: dict[str, Any] = field(default_factory=dict)
    text: str = ""


def answer_for(messages: list[dict[str, Any]]) -> Answer:
    """The double's answer to a chat-completions conversation."""
    users = [m for m in messages if isinstance(m, dict) and m.get("role") == "user"]
    message = _text(users[-1].get("content")) if users else ""
    token = token_in(message)
    last = messages[-1] if messages else {}
    if last.get("role") != "tool":
        words = TOKEN.sub("", message).strip()
        if words.lower().startswith("add "):
            title = words[4:].strip(" .,") or "something"
            return Answer("tool", token, "add_task", {"title": title[:200], "priority": "high"})
        return Answer("tool", token, "list_tasks", {"status": "pending"})
    return Answer("reply", token, text=_reply_text(_text(last.get("content"))))


def _reply_text(tool_output: str) -> str:
    """A reply about the tool's result, long enough to stream in ~20 chunks."""
    try:
        result = json.loads(tool_output)
    except ValueError:
        result = None
    if isinstance(result, dict) and result.get("status") == "created":
        return (
            f"Done: I added task {result.get('task_id')}, “{result.get('title')}”, to your list"
            " with high priority. Tell me if it needs a due date, a tag or a longer description,"
            " and I will update it for you."
        )
    if isinstance(result, dict) and "count" in result:
        titles = [str(task.get("title")) for task in result.get("tasks", [])[:3]]
        shown = "; ".join(titles) if titles else "nothing yet"
        return (
            f"You have {result['count']} open tasks. The first ones are: {shown}. Would you like"
            " me to complete one of them, change a priority, or add something new to the list?"
        )
    return (
        "Something went wrong with that tool call, so nothing was changed on your list. Please"
        " try again in a moment, or tell me in other words what you would like me to do."
    )


@dataclass(frozen=True)
class CallRecord:
    """One model call as the double saw it: its token, kind, and its own durations."""

    token: str
    kind: str
    duration_ms: float
    first_chunk_ms: float  # from arrival to the first content (reply) or tool-call chunk
    started_ns: int  # time.monotonic_ns(): one clock for every process on the machine
    ended_ns: int


@dataclass
class ModelDouble:
    """The ASGI app. `calls` grows by one record per answered model request."""

    call_ms: float = DEFAULT_CALL_MS
    reply_chunks: int = DEFAULT_REPLY_CHUNKS
    calls: list[CallRecord] = field(default_factory=list)
    _ids: itertools.count[int] = field(default_factory=itertools.count)

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        started = time.monotonic_ns()
        path, method = scope["path"], scope["method"]
        if path == CALLS_PATH and method == "GET":
            records = [asdict(record) for record in self.calls]
            if parse_qs(scope.get("query_string", b"").decode()).get("clear") == ["1"]:
                self.calls = []
            await _json(send, 200, {"calls": records})
            return
        if path == HEALTH_PATH:
            await _json(send, 200, {"status": "ok"})
            return
        if path != CHAT_PATH or method != "POST":
            await _json(send, 404, {"error": {"message": f"No route {method} {path}"}})
            return
        try:
            body = json.loads(await _body(receive))
            messages = body["messages"]
            answer = answer_for(messages)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            await _json(send, 400, {"error": {"message": f"Bad request: {exc}"}})
            return
        head = {
            "id": f"chatcmpl-double-{next(self._ids)}",
            "created": int(time.time()),
            "model": str(body.get("model", "double")),
            "system_fingerprint": None,
        }
        if body.get("stream"):
            usage = bool((body.get("stream_options") or {}).get("include_usage"))
            first = await self._stream(send, started, head, answer, usage)
        else:
            await asyncio.sleep(self.call_ms / 1000)
            await _json(send, 200, _completion(head, answer))
            first = time.monotonic_ns()
        ended = time.monotonic_ns()
        self.calls.append(
            CallRecord(
                answer.token,
                answer.kind,
                (ended - started) / 1e6,
                (first - started) / 1e6,
                started,
                ended,
            )
        )

    async def _stream(
        self, send: Send, started: int, head: dict[str, Any], answer: Answer, usage: bool
    ) -> int:
        """Stream the answer's chunks at evenly spaced deadlines; returns when the first
        content chunk went out (monotonic ns)."""
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"text/event-stream; charset=utf-8"),
                    (b"cache-control", b"no-cache"),
                ],
            }
        )
        chunks = _chunks(answer, self.reply_chunks)
        step_ns = self.call_ms * 1e6 / len(chunks)
        first = 0
        for index, (delta, finish) in enumerate(chunks):
            wait = started + step_ns * (index + 1) - time.monotonic_ns()
            if wait > 0:
                await asyncio.sleep(wait / 1e9)
            choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
            data = {**head, "object": "chat.completion.chunk", "choices": [choice]}
            if usage:
                data["usage"] = None
            last = index == len(chunks) - 1
            tail = ""
            if last:
                if usage:
                    data_usage = {**head, "object": "chat.completion.chunk", "choices": []}
                    data_usage["usage"] = _usage(answer)
                    tail = frame(json.dumps(data_usage))
                tail += frame("[DONE]")
            payload = (frame(json.dumps(data)) + tail).encode()
            await send({"type": "http.response.body", "body": payload, "more_body": not last})
            if not first and ("content" in delta or "tool_calls" in delta):
                first = time.monotonic_ns()
        return first


def _chunks(answer: Answer, reply_chunks: int) -> list[tuple[dict[str, Any], str | None]]:
    """The answer's streamed deltas, each with its finish_reason (set on the last only)."""
    if answer.kind == "reply":
        pieces = split_evenly(answer.text, reply_chunks)
        deltas: list[dict[str, Any]] = [{"role": "assistant", "content": pieces[0]}]
        deltas += [{"content": piece} for piece in pieces[1:]]
        return [(delta, None) for delta in deltas[:-1]] + [(deltas[-1], "stop")]
    arguments = json.dumps(answer.arguments)
    size = max(1, -(-len(arguments) // 3))
    call = {"index": 0, "id": f"call_{answer.token or 'x'}", "type": "function"}
    deltas = [
        {"role": "assistant", "content": None},
        {"tool_calls": [{**call, "function": {"name": answer.tool, "arguments": ""}}]},
    ]
    deltas += [
        {"tool_calls": [{"index": 0, "function": {"arguments": arguments[i : i + size]}}]}
        for i in range(0, len(arguments), size)
    ]
    return [(delta, None) for delta in deltas] + [({}, "tool_calls")]


def _usage(answer: Answer) -> dict[str, int]:
    completion = max(1, len(answer.text or json.dumps(answer.arguments)) // 4)
    return {"prompt_tokens": 500, "completion_tokens": completion, "total_tokens": 500 + completion}


def _completion(head: dict[str, Any], answer: Answer) -> dict[str, Any]:
    """The same answer as one non-streamed chat.completion."""
    message: dict[str, Any] = {"role": "assistant", "content": answer.text or None}
    if answer.kind == "tool":
        message["tool_calls"] = [
            {
                "id": f"call_{answer.token or 'x'}",
                "type": "function",
                "function": {"name": answer.tool, "arguments": json.dumps(answer.arguments)},
            }
        ]
    finish = "tool_calls" if answer.kind == "tool" else "stop"
    return {
        **head,
        "object": "chat.completion",
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish}],
        "usage": _usage(answer),
    }


async def _body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


async def _json(send: Send, status: int, payload: Any) -> None:
    body = json.dumps(payload).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


def serve(host: str, port: int, call_ms: float, reply_chunks: int) -> None:
    """Run the double on uvicorn until SIGINT/SIGTERM."""
    import uvicorn

    app = ModelDouble(call_ms=call_ms, reply_chunks=reply_chunks)
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        backlog=4096,
        timeout_keep_alive=120,
        lifespan="on",
    )
    server = uvicorn.Server(config)
    signal.signal(signal.SIGTERM, lambda *_: setattr(server, "should_exit", True))
    server.run()


def main(argv: list[str] | None = None) -> int:
    """The command line."""
    parser = argparse.ArgumentParser(prog="python -m bench.model_double", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--call-ms", type=float, default=DEFAULT_CALL_MS)
    parser.add_argument("--reply-chunks", type=int, default=DEFAULT_REPLY_CHUNKS)
    args = parser.parse_args(argv)
    serve(args.host, args.port, args.call_ms, args.reply_chunks)
    return 0


if __name__ == "__main__":
    sys.exit(main())
