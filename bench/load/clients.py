"""The HTTP clients a simulated user chats through, and what a turn's event stream says.

`RawClient` speaks HTTP/1.1 itself over asyncio streams, chunked bodies included: it shares
the machine's cores with the server it measures, and a library client costs more CPU per
turn (`HttpxClient`, `--client httpx`, measured at two to three times as much). Both read the
events with `taskpilot.api.sse.SseDecoder`.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from dataclasses import dataclass
from typing import Any

import httpx

from taskpilot.api.sse import ServerSentEvent, SseDecoder


@dataclass(frozen=True)
class Account:
    """A signed-up bench user."""

    index: int
    user_id: str
    token: str


@dataclass
class TurnSample:
    """One chat turn as the client saw it. Times are ms from sending the request."""

    token: str
    level: int
    user: int
    index: int
    tool: str
    status: int | None = None
    error: str | None = None
    head_ms: float = math.nan  # the response's status line and headers
    first_delta_ms: float = math.nan  # the first text_delta event
    total_ms: float = math.nan  # the end of the stream
    conversation_id: str | None = None
    sent_ns: int = 0  # time.monotonic_ns(), the clock the model double records on


class TurnStream:
    """A chat turn's event stream as it arrives, noting what the bench needs: the
    conversation id, the first text delta's time, done, an error event, a failed tool call."""

    def __init__(self, sample: TurnSample, started_ns: int) -> None:
        self.sample = sample
        self.started_ns = started_ns
        self.decoder = SseDecoder()
        self.done = False

    def feed(self, data: bytes) -> None:
        for event in self.decoder.feed(data):
            self._note(event)

    def _note(self, event: ServerSentEvent) -> None:
        sample = self.sample
        if event.event == "text_delta":
            if math.isnan(sample.first_delta_ms):
                sample.first_delta_ms = (time.monotonic_ns() - self.started_ns) / 1e6
        elif event.event == "started":
            sample.conversation_id = event.json()["conversation_id"]
        elif event.event == "tool_finished":
            if event.json().get("is_error") and sample.error is None:
                sample.error = "tool error"
        elif event.event == "done":
            self.done = True
        elif event.event == "error":
            sample.error = f"error event: {event.json().get('code', '?')}"


class RawClient:
    """HTTP/1.1 over asyncio streams, one kept-alive connection per simulated user (as a
    browser tab keeps one): the cheapest client this process can be, since it shares the
    cores with the server."""

    name = "raw asyncio streams"

    def __init__(self, base_url: str, timeout_s: float) -> None:
        host, port = base_url.removeprefix("http://").split(":")
        self.host, self.port = host, int(port)
        self.timeout_s = timeout_s
        self.connections: dict[int, tuple[asyncio.StreamReader, asyncio.StreamWriter]] = {}

    async def _connection(self, user: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        kept = self.connections.get(user)
        if kept is not None and kept[0].at_eof():
            # The server closed the idle kept-alive connection while the user paused (Granian
            # does after a few seconds); a browser opens a new one, and so do we.
            self._drop(user)
        if user not in self.connections:
            self.connections[user] = await asyncio.open_connection(
                self.host, self.port, limit=1 << 20
            )
        return self.connections[user]

    def _drop(self, user: int) -> None:
        if (pair := self.connections.pop(user, None)) is not None:
            pair[1].close()

    async def turn(self, account: Account, body: dict[str, Any], sample: TurnSample) -> None:
        started = sample.sent_ns = time.monotonic_ns()
        try:
            await asyncio.wait_for(self._turn(account, body, sample, started), self.timeout_s)
        except TimeoutError:
            sample.error = "timeout"
            self._drop(account.index)
        except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
            sample.error = f"transport: {type(exc).__name__}"
            self._drop(account.index)
        sample.total_ms = (time.monotonic_ns() - started) / 1e6

    async def _turn(
        self, account: Account, body: dict[str, Any], sample: TurnSample, started: int
    ) -> None:
        reader, writer = await self._connection(account.index)
        payload = json.dumps(body).encode()
        writer.write(
            (
                f"POST /api/{account.user_id}/chat HTTP/1.1\r\n"
                f"Host: {self.host}:{self.port}\r\n"
                f"Authorization: Bearer {account.token}\r\n"
                "Accept: text/event-stream\r\n"
                "Content-Type: application/json\r\n"
                f"Content-Length: {len(payload)}\r\n\r\n"
            ).encode()
            + payload
        )
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        sample.head_ms = (time.monotonic_ns() - started) / 1e6
        lines = head.decode("latin-1").split("\r\n")
        sample.status = int(lines[0].split()[1])
        headers = {
            k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])
        }
        events = TurnStream(sample, started)
        if headers.get("transfer-encoding", "").lower() == "chunked":
            while True:
                size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
                if size == 0:
                    while await reader.readuntil(b"\r\n") != b"\r\n":
                        pass  # trailers
                    break
                chunk = await reader.readexactly(size + 2)
                events.feed(chunk[:-2])
        else:
            events.feed(await reader.readexactly(int(headers.get("content-length", "0"))))
        if headers.get("connection", "").lower() == "close":
            self._drop(account.index)
        _judge(sample, events)

    async def close(self) -> None:
        for user in list(self.connections):
            self._drop(user)


class HttpxClient:
    """The same requests through one shared `httpx.AsyncClient` with a connection per user."""

    name = "httpx"

    def __init__(self, base_url: str, timeout_s: float, users: int) -> None:
        limits = httpx.Limits(max_connections=users + 20, max_keepalive_connections=users + 20)
        self.http = httpx.AsyncClient(
            base_url=base_url, timeout=httpx.Timeout(timeout_s), limits=limits
        )

    async def turn(self, account: Account, body: dict[str, Any], sample: TurnSample) -> None:
        started = sample.sent_ns = time.monotonic_ns()
        headers = {"Authorization": f"Bearer {account.token}", "Accept": "text/event-stream"}
        events = TurnStream(sample, started)
        try:
            async with self.http.stream(
                "POST", f"/api/{account.user_id}/chat", json=body, headers=headers
            ) as response:
                sample.head_ms = (time.monotonic_ns() - started) / 1e6
                sample.status = response.status_code
                async for chunk in response.aiter_raw():
                    events.feed(chunk)
            _judge(sample, events)
        except httpx.TimeoutException:
            sample.error = "timeout"
        except httpx.HTTPError as exc:
            sample.error = f"transport: {type(exc).__name__}"
        sample.total_ms = (time.monotonic_ns() - started) / 1e6

    async def close(self) -> None:
        await self.http.aclose()


def _judge(sample: TurnSample, events: TurnStream) -> None:
    """Classify a finished response: a non-200, an error event, a stream without done."""
    if sample.status != 200:
        sample.error = f"HTTP {sample.status}"
    elif sample.error is None and not events.done:
        sample.error = "stream ended without done"


Client = RawClient | HttpxClient


def make_client(kind: str, base_url: str, timeout_s: float, users: int) -> Client:
    """The client `--client` names: "raw" or "httpx"."""
    if kind == "httpx":
        return HttpxClient(base_url, timeout_s, users)
    return RawClient(base_url, timeout_s)
