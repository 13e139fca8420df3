"""A loopback stand-in for the OpenAI API, for tests: a real HTTP server on 127.0.0.1.

There is no route to OpenAI here, so the OpenAI paths are built to the documented API and
tested against this server. It speaks the two APIs TaskPilot's providers use:

- `POST /v1/responses` (Responses API), plain JSON or `stream: true` as server-sent events
  (`event:` + `data:` lines: response.created, response.in_progress, output_item.added,
  content_part.added, output_text.delta …, function_call_arguments.delta/done, …,
  response.completed with the whole response and its usage);
- `POST /v1/chat/completions`, plain JSON or streamed as `data: {chunk}` lines ending with
  `data: [DONE]` (text in `delta.content`, tool calls in `delta.tool_calls` pieces, a last
  chunk with `finish_reason`, and a usage chunk when `stream_options.include_usage` asks).

What each model request gets is decided by a queue of scripted steps (`reply`, `tool_call`,
`error`, `stall`, `stream_error`); every request is recorded (path, headers, JSON body) so
tests can check what the product sent. A request that finds the queue empty gets a 500 and is
listed in `unexpected`.

    with OpenAIStandIn() as standin:
        standin.script(tool_call("add_task", {"title": "Milk"}), reply("Added."))
        ... point the product at standin.base_url ...
        assert standin.model_requests[1].function_outputs()

A conversation's title is asked for by one more model request after its first reply
(`taskpilot.agent.engine.titling`): the stand-in tells those apart by their instructions and
answers them from a queue of their own (`script_titles`), by default with the person's first
message itself (so a conversation is titled as it was before titles were asked for), so a test
scripting a turn need not script its title; they are `title_requests`, not `model_requests`.

It also answers `POST /v1/chatkit/sessions` (hosted ChatKit) with a `chatkit.session` object:
a fresh `ek_…` client secret expiring in 10 minutes, the request's `user` and `workflow.id`
echoed; `sessions` lists what it answered. `fail_sessions(status, times=n)` makes the next n
session requests fail instead (an openai client with `max_retries=1` retries a 5xx once, so
a lasting 5xx needs `times=2`). Session requests are recorded (`session_requests`), but are
not `model_requests` and use no scripted step.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import re
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

from taskpilot.agent.engine.titling import TITLE_INSTRUCTIONS

RESPONSES_PATH = "/v1/responses"
CHAT_PATH = "/v1/chat/completions"
CHATKIT_SESSIONS_PATH = "/v1/chatkit/sessions"
SESSION_LIFETIME_SECONDS = 600  # OpenAI's default `expires_after`

StepKind = Literal["reply", "error", "stall", "stream_error"]

_ERROR_KINDS = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("invalid_request_error", "unsupported_country_region_territory"),
    404: ("invalid_request_error", "model_not_found"),
    429: ("requests", "rate_limit_exceeded"),
    500: ("server_error", None),
    503: ("server_error", None),
}


# --- scripts ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScriptedCall:
    """One function call the stand-in's model makes."""

    name: str
    arguments: dict[str, Any]
    call_id: str | None = None


@dataclass(frozen=True)
class Step:
    """What the stand-in does with one model request."""

    kind: StepKind
    text: str = ""
    calls: tuple[ScriptedCall, ...] = ()
    status: int = 0
    message: str = ""
    delay: float = 0.0
    failure_event: str = "error"


def reply(text: str, *, delay: float = 0.0) -> Step:
    """Answer with `text` (streamed as several deltas, word by word)."""
    return Step("reply", text=text, delay=delay)


def tool_call(
    name: str, arguments: dict[str, Any], *, call_id: str | None = None, text: str = ""
) -> Step:
    """Call one function tool (optionally after some text)."""
    return Step("reply", text=text, calls=(ScriptedCall(name, arguments, call_id),))


def tool_calls(*calls: ScriptedCall) -> Step:
    """Call several function tools in one response."""
    return Step("reply", calls=tuple(calls))


def error(status: int, message: str | None = None) -> Step:
    """Fail the request with an OpenAI-shaped error body and this HTTP status."""
    return Step("error", status=status, message=message or f"The stand-in failed with {status}.")


def stall(seconds: float) -> Step:
    """Accept the request, then send nothing for `seconds` and hang up (a client timeout)."""
    return Step("stall", delay=seconds)


def stream_error(
    message: str = "The stand-in broke off the stream.",
    *,
    text: str = "Let me check that.",
    event: Literal["error", "response.failed"] = "error",
) -> Step:
    """Stream the first word of `text`, then fail instead of finishing. The Responses API
    sends `event` (an `error` event, or `response.failed` with the response's `error`); Chat
    Completions sends a `data: {"error": …}` line."""
    return Step("stream_error", text=text, message=message, failure_event=event)


def split_text(text: str) -> list[str]:
    """How the stand-in cuts a reply into streamed deltas: one word (with its spaces) each."""
    return re.findall(r"\s*\S+\s*", text) or [text]


def _split_arguments(arguments: str) -> list[str]:
    size = max(1, len(arguments) // 3)
    return [arguments[i : i + size] for i in range(0, len(arguments), size)] or [""]


# --- what was received -----------------------------------------------------------------------


@dataclass
class RecordedRequest:
    """One HTTP request the stand-in received."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any
    received_at: float = field(default_factory=time.monotonic)

    @property
    def api(self) -> Literal["responses", "chat", "chatkit_sessions", "other"]:
        if self.path == RESPONSES_PATH:
            return "responses"
        if self.path == CHAT_PATH:
            return "chat"
        if self.path == CHATKIT_SESSIONS_PATH:
            return "chatkit_sessions"
        return "other"

    @property
    def authorization(self) -> str | None:
        return self.headers.get("authorization")

    @property
    def model(self) -> str | None:
        return self.body.get("model") if isinstance(self.body, dict) else None

    @property
    def streamed(self) -> bool:
        return isinstance(self.body, dict) and bool(self.body.get("stream"))

    @property
    def is_title(self) -> bool:
        """A request for a conversation's title (TaskPilot's title instructions)."""
        chat = self.api in ("responses", "chat") and isinstance(self.body, dict)
        return chat and self.instructions() == TITLE_INSTRUCTIONS

    def asked(self) -> str:
        """What a title request's first message says (`Message: <question>` on its first
        line), or ""."""
        for item in self.conversation():
            content = item.get("content")
            if item.get("role") == "user" and isinstance(content, str):
                return content.removeprefix("Message: ").split("\n\nReply: ", 1)[0]
        return ""

    def tools(self) -> dict[str, dict[str, Any]]:
        """The function tools offered, by name, as {description, parameters}."""
        offered: dict[str, dict[str, Any]] = {}
        for tool in self.body.get("tools") or []:
            spec = tool.get("function", tool) if self.api == "chat" else tool
            offered[spec["name"]] = {
                "description": spec.get("description"),
                "parameters": spec.get("parameters") or {},
            }
        return offered

    def instructions(self) -> str:
        """The system prompt: `instructions` (Responses) or the system message (chat)."""
        if self.api == "responses":
            return str(self.body.get("instructions") or "")
        return "\n".join(
            str(m.get("content") or "")
            for m in self.body.get("messages") or []
            if m.get("role") in ("system", "developer")
        )

    def conversation(self) -> list[dict[str, Any]]:
        """The conversation sent: `input` items (Responses) or non-system messages (chat)."""
        if self.api == "responses":
            items = self.body.get("input")
            return [{"role": "user", "content": items}] if isinstance(items, str) else items
        return [
            message
            for message in self.body.get("messages") or []
            if message.get("role") not in ("system", "developer")
        ]

    def function_outputs(self) -> dict[str, str]:
        """Tool results sent back to the model, by call id, for either API."""
        outputs: dict[str, str] = {}
        for item in self.conversation():
            if item.get("type") == "function_call_output":
                outputs[item["call_id"]] = _text_of(item.get("output"))
            elif item.get("role") == "tool":
                outputs[item["tool_call_id"]] = _text_of(item.get("content"))
        return outputs


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return json.dumps(content)


# --- the server ------------------------------------------------------------------------------


class OpenAIStandIn:
    """The stand-in server. Start it with `with OpenAIStandIn() as standin:` (or start/stop)."""

    def __init__(
        self,
        *,
        api_key: str | None = None,
        retry_after_ms: int = 10,
        check_conversation: bool = True,
    ) -> None:
        """`api_key`: when set, requests with another bearer key get OpenAI's 401.
        `retry_after_ms`: sent with 429/5xx so the client's retry waits only this long.
        `check_conversation`: answer 400, as OpenAI does, when tool calls and tool results in
        the conversation do not pair up (before using a scripted step)."""
        self.api_key = api_key
        self.check_conversation = check_conversation
        self.retry_after_ms = retry_after_ms
        self._lock = threading.Lock()
        self._steps: deque[Step] = deque()
        self._title_steps: deque[Step] = deque()
        self._requests: list[RecordedRequest] = []
        self._unexpected: list[RecordedRequest] = []
        self._session_failures: deque[Step] = deque()
        self._sessions: list[dict[str, Any]] = []
        self._ids = itertools.count(1)
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # lifecycle
    def start(self) -> OpenAIStandIn:
        if self._server is not None:
            raise RuntimeError("The stand-in is already running.")
        self._stopping.clear()
        self._server = _Server(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="openai-standin",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, hang up open connections (stalled ones too), join every thread."""
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        self._stopping.set()
        server.shutdown()
        server.close_connections()
        server.server_close()
        thread.join(timeout=5)
        server.join_handlers(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> OpenAIStandIn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("The stand-in is not running.")
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        """The URL to give an OpenAI client (`…/v1`)."""
        return f"http://127.0.0.1:{self.port}/v1"

    # scripting
    def script(self, *steps: Step, times: int = 1) -> None:
        """Queue steps for the next model requests; `times` repeats them (e.g. for retries)."""
        with self._lock:
            for _ in range(times):
                self._steps.extend(steps)

    def script_titles(self, *steps: Step) -> None:
        """Queue steps for the next title requests (unscripted ones get the first message)."""
        with self._lock:
            self._title_steps.extend(steps)

    @property
    def pending(self) -> int:
        """Scripted steps not used yet."""
        with self._lock:
            return len(self._steps)

    def _next_step(self, request: RecordedRequest) -> Step | None:
        with self._lock:
            if request.is_title:
                return self._title_steps.popleft() if self._title_steps else reply(request.asked())
            if self._steps:
                return self._steps.popleft()
            self._unexpected.append(request)
            return None

    def fail_sessions(self, status: int, message: str | None = None, *, times: int = 1) -> None:
        """Make the next `times` ChatKit session requests fail with this HTTP status and an
        OpenAI-shaped error (`message`, or a default naming the status)."""
        with self._lock:
            self._session_failures.extend([error(status, message)] * times)

    def _next_session_failure(self) -> Step | None:
        with self._lock:
            return self._session_failures.popleft() if self._session_failures else None

    # what was received
    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received, in order."""
        with self._lock:
            return list(self._requests)

    @property
    def model_requests(self) -> list[RecordedRequest]:
        """Requests to /v1/responses and /v1/chat/completions for turns, in order."""
        return [r for r in self.requests if r.api in ("responses", "chat") and not r.is_title]

    @property
    def title_requests(self) -> list[RecordedRequest]:
        """Requests for a conversation's title, in order."""
        return [r for r in self.requests if r.is_title]

    @property
    def session_requests(self) -> list[RecordedRequest]:
        """Requests to /v1/chatkit/sessions, in order."""
        return [r for r in self.requests if r.api == "chatkit_sessions"]

    @property
    def sessions(self) -> list[dict[str, Any]]:
        """The ChatKit sessions the stand-in created (what it answered), in order."""
        with self._lock:
            return list(self._sessions)

    def _issue_session(self, user: str, workflow: dict[str, Any]) -> dict[str, Any]:
        session = _chat_session(user, workflow, self.new_id)
        with self._lock:
            self._sessions.append(session)
        return session

    @property
    def unexpected(self) -> list[RecordedRequest]:
        """Model requests that arrived when no step was scripted."""
        with self._lock:
            return list(self._unexpected)

    def assert_done(self) -> None:
        """Every scripted step was used and no request went unscripted."""
        assert self.pending == 0, f"{self.pending} scripted step(s) were never requested"
        assert not self.unexpected, f"unscripted requests: {[r.path for r in self.unexpected]}"

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)

    def new_id(self, prefix: str) -> str:
        return f"{prefix}_{next(self._ids):04d}"

    def wait(self, seconds: float) -> bool:
        """Sleep up to `seconds`; True when the server is stopping."""
        return self._stopping.wait(seconds)


class _Server(ThreadingHTTPServer):
    """ThreadingHTTPServer that keeps its connections, to hang them up on stop."""

    daemon_threads = True
    block_on_close = False

    def __init__(self, standin: OpenAIStandIn) -> None:
        self.standin = standin
        self._open: dict[threading.Thread, socket.socket] = {}
        self._open_lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        thread = threading.Thread(
            target=self._serve_connection, args=(request, client_address), daemon=True
        )
        with self._open_lock:
            self._open[thread] = request
        thread.start()

    def _serve_connection(self, request: Any, client_address: Any) -> None:
        try:
            self.process_request_thread(request, client_address)
        finally:
            with self._open_lock:
                self._open.pop(threading.current_thread(), None)

    def close_connections(self) -> None:
        with self._open_lock:
            sockets = list(self._open.values())
        for sock in sockets:
            with contextlib.suppress(OSError):  # already closed by the client
                sock.shutdown(socket.SHUT_RDWR)

    def join_handlers(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        with self._open_lock:
            threads = list(self._open)
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests read `standin.requests` instead."""

    # routing
    def do_GET(self) -> None:
        self._record(None)
        if self.path.rstrip("/") == "/v1/models":
            self._json(200, {"object": "list", "data": []})
        else:
            self._error(404, f"Unknown path {self.path}.", "invalid_request_error", None)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw or b"null")
        except ValueError:
            self._record(raw.decode("utf-8", "replace"))
            self._error(400, "We could not parse the JSON body of your request.", None, None)
            return
        request = self._record(body)
        standin = self.server.standin
        if request.api == "chatkit_sessions":
            self._chatkit_session(request)
            return
        if request.api == "other":
            self._error(404, f"Unknown path {self.path}.", "invalid_request_error", None)
            return
        if not isinstance(body, dict) or not body.get("model"):
            self._error(400, "you must provide a model parameter", "invalid_request_error", None)
            return
        if standin.api_key is not None and request.authorization != f"Bearer {standin.api_key}":
            self._error(401, _incorrect_key_message(request.authorization), *_ERROR_KINDS[401])
            return
        problem = _conversation_problem(request) if standin.check_conversation else None
        if problem is not None:
            self._error(400, problem, "invalid_request_error", None)
            return
        step = standin._next_step(request)
        if step is None:
            self._error(500, "The stand-in has no step scripted for this.", "server_error", None)
            return
        if step.kind == "stall":
            standin.wait(step.delay)
            self.close_connection = True
            return
        if step.delay and standin.wait(step.delay):
            return
        if step.kind == "error":
            kind, code = _ERROR_KINDS.get(step.status, ("server_error", None))
            self._error(step.status, step.message, kind, code)
            return
        try:
            if request.api == "responses":
                self._responses(request, step)
            else:
                self._chat(request, step)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _record(self, body: Any) -> RecordedRequest:
        request = RecordedRequest(
            method=self.command,
            path=self.path.split("?", 1)[0],
            headers={key.lower(): value for key, value in self.headers.items()},
            body=body,
        )
        self.server.standin._record(request)
        return request

    # plain HTTP pieces
    def _json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-request-id", self.server.standin.new_id("req"))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: int, message: str, kind: str | None, code: str | None) -> None:
        headers = {}
        if status == 429 or status >= 500:
            headers["retry-after-ms"] = str(self.server.standin.retry_after_ms)
        body = {"error": {"message": message, "type": kind, "param": None, "code": code}}
        self._json(status, body, headers)

    def _start_stream(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("x-request-id", self.server.standin.new_id("req"))
        self.end_headers()

    def _chunk(self, text: str) -> None:
        data = text.encode()
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _end_stream(self) -> None:
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    # ChatKit sessions (hosted ChatKit)
    def _chatkit_session(self, request: RecordedRequest) -> None:
        standin = self.server.standin
        if standin.api_key is not None and request.authorization != f"Bearer {standin.api_key}":
            self._error(401, _incorrect_key_message(request.authorization), *_ERROR_KINDS[401])
            return
        body = request.body if isinstance(request.body, dict) else {}
        workflow = body.get("workflow")
        if not isinstance(body.get("user"), str) or not body["user"]:
            self._error(400, "Missing required parameter: 'user'.", "invalid_request_error", None)
            return
        if not isinstance(workflow, dict) or not isinstance(workflow.get("id"), str):
            message = "Missing required parameter: 'workflow.id'."
            self._error(400, message, "invalid_request_error", None)
            return
        failure = standin._next_session_failure()
        if failure is not None:
            kind, code = _ERROR_KINDS.get(failure.status, ("server_error", None))
            self._error(failure.status, failure.message, kind, code)
            return
        self._json(200, standin._issue_session(body["user"], workflow))

    # Responses API
    def _responses(self, request: RecordedRequest, step: Step) -> None:
        ids = self.server.standin.new_id
        body = request.body
        response = _response_object(body, ids("resp"))
        output = _response_output(step, ids)
        final = {
            **response,
            "status": "completed",
            "completed_at": int(time.time()),
            "output": output,
            "usage": _response_usage(body, output),
        }
        if not request.streamed:
            self._json(200, final)
            return

        self._start_stream()
        sequence = itertools.count()

        def send(event: dict[str, Any]) -> None:
            event["sequence_number"] = next(sequence)
            self._chunk(f"event: {event['type']}\ndata: {json.dumps(event)}\n\n")

        send({"type": "response.created", "response": response})
        send({"type": "response.in_progress", "response": response})
        for index, item in enumerate(output):
            if item["type"] == "message":
                self._stream_message(send, index, item, broken=step.kind == "stream_error")
                if step.kind == "stream_error":
                    self._stream_failure(send, step, response)
                    return
            else:
                self._stream_function_call(send, index, item)
        send({"type": "response.completed", "response": final})
        self._end_stream()

    def _stream_failure(self, send: Any, step: Step, response: dict[str, Any]) -> None:
        if step.failure_event == "response.failed":
            failed = {
                **response,
                "status": "failed",
                "error": {"code": "server_error", "message": step.message},
            }
            send({"type": "response.failed", "response": failed})
        else:
            send({"type": "error", "code": "server_error", "message": step.message, "param": None})
        self._end_stream()

    @staticmethod
    def _stream_message(send: Any, index: int, item: dict[str, Any], *, broken: bool) -> None:
        text = item["content"][0]["text"]
        where = {"item_id": item["id"], "output_index": index}
        send(
            {
                "type": "response.output_item.added",
                "output_index": index,
                "item": {**item, "status": "in_progress", "content": []},
            }
        )
        send(
            {
                "type": "response.content_part.added",
                **where,
                "content_index": 0,
                "part": {"type": "output_text", "text": "", "annotations": [], "logprobs": []},
            }
        )
        pieces = split_text(text)
        for piece in pieces[:1] if broken else pieces:
            send(
                {
                    "type": "response.output_text.delta",
                    **where,
                    "content_index": 0,
                    "delta": piece,
                    "logprobs": [],
                }
            )
        if broken:
            return
        send(
            {
                "type": "response.output_text.done",
                **where,
                "content_index": 0,
                "text": text,
                "logprobs": [],
            }
        )
        send(
            {
                "type": "response.content_part.done",
                **where,
                "content_index": 0,
                "part": item["content"][0],
            }
        )
        send({"type": "response.output_item.done", "output_index": index, "item": item})

    @staticmethod
    def _stream_function_call(send: Any, index: int, item: dict[str, Any]) -> None:
        where = {"item_id": item["id"], "output_index": index}
        send(
            {
                "type": "response.output_item.added",
                "output_index": index,
                "item": {**item, "status": "in_progress", "arguments": ""},
            }
        )
        for piece in _split_arguments(item["arguments"]):
            send({"type": "response.function_call_arguments.delta", **where, "delta": piece})
        send(
            {
                "type": "response.function_call_arguments.done",
                **where,
                "name": item["name"],
                "arguments": item["arguments"],
            }
        )
        send({"type": "response.output_item.done", "output_index": index, "item": item})

    # Chat Completions API
    def _chat(self, request: RecordedRequest, step: Step) -> None:
        ids = self.server.standin.new_id
        body = request.body
        head = {
            "id": ids("chatcmpl"),
            "created": int(time.time()),
            "model": body["model"],
            "system_fingerprint": None,
        }
        calls: list[dict[str, Any]] = [
            {
                "id": call.call_id or ids("call"),
                "type": "function",
                "function": {"name": call.name, "arguments": json.dumps(call.arguments)},
            }
            for call in step.calls
        ]
        finish_reason = "tool_calls" if calls else "stop"
        usage = _chat_usage(body, step.text, calls)
        if not request.streamed:
            message: dict[str, Any] = {
                "role": "assistant",
                "content": step.text or None,
                "refusal": None,
                "annotations": [],
            }
            if calls:
                message["tool_calls"] = calls
            choice = {"index": 0, "message": message, "logprobs": None}
            choice["finish_reason"] = finish_reason
            self._json(
                200,
                {
                    **head,
                    "object": "chat.completion",
                    "service_tier": "default",
                    "choices": [choice],
                    "usage": usage,
                },
            )
            return

        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))

        def send(choices: list[dict[str, Any]], chunk_usage: Any = None) -> None:
            chunk = {**head, "object": "chat.completion.chunk", "choices": choices}
            if include_usage:
                chunk["usage"] = chunk_usage
            self._chunk(f"data: {json.dumps(chunk)}\n\n")

        def delta(fields: dict[str, Any], finish: str | None = None) -> None:
            send([{"index": 0, "delta": fields, "logprobs": None, "finish_reason": finish}])

        self._start_stream()
        delta({"role": "assistant", "content": "", "refusal": None})
        pieces = split_text(step.text) if step.text else []
        for piece in pieces[:1] if step.kind == "stream_error" else pieces:
            delta({"content": piece})
        if step.kind == "stream_error":
            payload = {"error": {"message": step.message, "type": "server_error", "code": None}}
            self._chunk(f"data: {json.dumps(payload)}\n\n")
            self._end_stream()
            return
        for index, call in enumerate(calls):
            name = call["function"]["name"]
            delta(
                {
                    "tool_calls": [
                        {
                            "index": index,
                            "id": call["id"],
                            "type": "function",
                            "function": {"name": name, "arguments": ""},
                        }
                    ]
                }
            )
            for piece in _split_arguments(call["function"]["arguments"]):
                delta({"tool_calls": [{"index": index, "function": {"arguments": piece}}]})
        delta({}, finish_reason)
        if include_usage:
            send([], usage)
        self._chunk("data: [DONE]\n\n")
        self._end_stream()


# --- the checks OpenAI makes on a conversation ---------------------------------------------


def _conversation_problem(request: RecordedRequest) -> str | None:
    """OpenAI's 400 message when tool calls and their results do not pair up, else None."""
    if request.api == "responses":
        return _responses_problem(request.body.get("input"))
    return _chat_problem(request.body.get("messages"))


def _responses_problem(items: Any) -> str | None:
    if isinstance(items, str):
        return None
    if not isinstance(items, list):
        return "Invalid type for 'input': expected a string or an array of input items."
    calls: list[str] = []
    answered: set[str] = set()
    for item in items:
        if not isinstance(item, dict):
            return "Invalid type for 'input': expected an array of objects."
        if item.get("type") == "function_call":
            calls.append(str(item.get("call_id")))
        elif item.get("type") == "function_call_output":
            call_id = str(item.get("call_id"))
            if call_id not in calls:
                return f"No tool call found for function call output with call_id {call_id}."
            answered.add(call_id)
    missing = [call_id for call_id in calls if call_id not in answered]
    if missing:
        return f"No tool output found for function call {missing[0]}."
    return None


def _chat_problem(messages: Any) -> str | None:
    if not isinstance(messages, list) or not messages:
        return "Invalid type for 'messages': expected a non-empty array of objects."
    awaiting: list[str] = []  # tool_call_ids of the last assistant message not yet answered
    for index, message in enumerate(messages):
        role = message.get("role") if isinstance(message, dict) else None
        if role == "tool":
            call_id = message.get("tool_call_id")
            if call_id not in awaiting:
                return (
                    "Invalid parameter: messages with role 'tool' must be a response to a "
                    f"preceeding message with 'tool_calls'. (messages.[{index}].role)"
                )
            awaiting.remove(call_id)
            continue
        if awaiting:
            return (
                "An assistant message with 'tool_calls' must be followed by tool messages "
                "responding to each 'tool_call_id'. The following tool_call_ids did not have "
                f"response messages: {', '.join(awaiting)}"
            )
        if role == "assistant":
            awaiting = [str(call.get("id")) for call in message.get("tool_calls") or []]
        elif role not in ("system", "developer", "user"):
            return f"Invalid value: '{role}'. Supported values are: 'system', 'assistant', ..."
    if awaiting:
        return (
            "An assistant message with 'tool_calls' must be followed by tool messages "
            "responding to each 'tool_call_id'. The following tool_call_ids did not have "
            f"response messages: {', '.join(awaiting)}"
        )
    return None


# --- payloads --------------------------------------------------------------------------------


def _incorrect_key_message(authorization: str | None) -> str:
    """OpenAI's wording, which shows only the key's ends."""
    key = (authorization or "").removeprefix("Bearer ").strip()
    shown = f"{key[:3]}{'*' * max(0, len(key) - 7)}{key[-4:]}" if len(key) > 8 else "***"
    return (
        f"Incorrect API key provided: {shown}. You can find your API key at "
        "https://platform.openai.com/account/api-keys."
    )


def _tokens(value: Any) -> int:
    return max(1, len(json.dumps(value)) // 4)


def _response_object(body: dict[str, Any], response_id: str) -> dict[str, Any]:
    return {
        "id": response_id,
        "object": "response",
        "created_at": int(time.time()),
        "status": "in_progress",
        "background": False,
        "error": None,
        "incomplete_details": None,
        "instructions": body.get("instructions"),
        "max_output_tokens": body.get("max_output_tokens"),
        "max_tool_calls": None,
        "model": body["model"],
        "output": [],
        "parallel_tool_calls": body.get("parallel_tool_calls", True),
        "previous_response_id": body.get("previous_response_id"),
        "reasoning": {"effort": None, "summary": None},
        "service_tier": "default",
        "store": body.get("store", True),
        "temperature": body.get("temperature", 1.0),
        "text": {"format": {"type": "text"}, "verbosity": "medium"},
        "tool_choice": body.get("tool_choice", "auto"),
        "tools": [
            {"strict": True, "description": None, **tool} for tool in body.get("tools") or []
        ],
        "top_logprobs": 0,
        "top_p": body.get("top_p", 1.0),
        "truncation": "disabled",
        "usage": None,
        "user": None,
        "metadata": {},
    }


def _chat_session(user: str, workflow: dict[str, Any], new_id: Any) -> dict[str, Any]:
    """A `chatkit.session` object as OpenAI returns it, with the settings it defaults to."""
    limit = 10
    return {
        "id": new_id("cksess"),
        "object": "chatkit.session",
        "client_secret": new_id("ek"),
        "expires_at": int(time.time()) + SESSION_LIFETIME_SECONDS,
        "status": "active",
        "user": user,
        "workflow": {
            "id": workflow["id"],
            "version": workflow.get("version"),
            "state_variables": workflow.get("state_variables"),
            "tracing": {"enabled": bool((workflow.get("tracing") or {}).get("enabled", True))},
        },
        "rate_limits": {"max_requests_per_1_minute": limit},
        "max_requests_per_1_minute": limit,
        "chatkit_configuration": {
            "automatic_thread_titling": {"enabled": True},
            "file_upload": {"enabled": False, "max_file_size": 512, "max_files": 10},
            "history": {"enabled": True, "recent_threads": None},
        },
    }


def _response_output(step: Step, new_id: Any) -> list[dict[str, Any]]:
    output: list[dict[str, Any]] = []
    if step.text:
        output.append(
            {
                "id": new_id("msg"),
                "type": "message",
                "status": "completed",
                "role": "assistant",
                "content": [
                    {"type": "output_text", "text": step.text, "annotations": [], "logprobs": []}
                ],
            }
        )
    for call in step.calls:
        output.append(
            {
                "id": new_id("fc"),
                "type": "function_call",
                "status": "completed",
                "call_id": call.call_id or new_id("call"),
                "name": call.name,
                "arguments": json.dumps(call.arguments),
            }
        )
    return output


def _response_usage(body: dict[str, Any], output: list[dict[str, Any]]) -> dict[str, Any]:
    prompt = _tokens([body.get("instructions"), body.get("input"), body.get("tools")])
    completion = _tokens(output)
    return {
        "input_tokens": prompt,
        "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
        "output_tokens": completion,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": prompt + completion,
    }


def _chat_usage(body: dict[str, Any], text: str, calls: list[dict[str, Any]]) -> dict[str, Any]:
    prompt = _tokens([body.get("messages"), body.get("tools")])
    completion = _tokens([text, calls])
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }
