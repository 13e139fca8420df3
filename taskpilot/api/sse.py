"""Server-sent events: the one place that writes and reads their wire format.

The chat route writes a turn's events as `event: <type>` + `data: <json>`; the ChatKit server
writes `data: <json>` blocks. The tests, the cluster harness and the benchmarks read both with
`SseDecoder` (bytes as they arrive, e.g. from a raw socket) or `read_events` (an httpx
response). The decoder is written here rather than taken from `httpx-sse` because the load
benchmark feeds it bytes from plain asyncio streams, which that library's public API does not
take; it follows the spec's field rules (`field: value`, one optional space, `data` lines
joined by newlines, CRLF or LF).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Protocol

MESSAGE = "message"  # the spec's event name when a block has no `event:` field


@dataclass(frozen=True, slots=True)
class ServerSentEvent:
    event: str
    data: str

    def json(self) -> Any:
        return json.loads(self.data)


def frame(data: str, event: str | None = None) -> str:
    """One event on the wire; `data` must be one line (JSON is)."""
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {data}\n\n"


class SseDecoder:
    """Incremental: feed it bytes as they arrive, take the events each chunk completes."""

    def __init__(self) -> None:
        self._buffer = b""
        self._event = ""
        self._data: list[str] = []

    def feed(self, chunk: bytes) -> list[ServerSentEvent]:
        self._buffer += chunk
        events: list[ServerSentEvent] = []
        while True:
            end = self._buffer.find(b"\n")
            if end < 0:
                return events
            line = self._buffer[:end].rstrip(b"\r").decode()
            self._buffer = self._buffer[end + 1 :]
            event = self._line(line)
            if event is not None:
                events.append(event)

    def _line(self, line: str) -> ServerSentEvent | None:
        if not line:
            if not self._data:
                self._event = ""
                return None
            event = ServerSentEvent(self._event or MESSAGE, "\n".join(self._data))
            self._event, self._data = "", []
            return event
        field, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if field == "event":
            self._event = value
        elif field == "data":
            self._data.append(value)
        return None  # comments (":…"), `id` and `retry` are not used here


class _Streamed(Protocol):
    def aiter_bytes(self) -> AsyncIterator[bytes]: ...


async def read_events(response: _Streamed) -> AsyncIterator[ServerSentEvent]:
    """A streamed response's events, as they arrive."""
    decoder = SseDecoder()
    async for chunk in response.aiter_bytes():
        for event in decoder.feed(chunk):
            yield event


def parse_events(body: bytes | str) -> list[ServerSentEvent]:
    """A whole body's events."""
    decoder = SseDecoder()
    raw = body.encode() if isinstance(body, str) else body
    return decoder.feed(raw if raw.endswith(b"\n\n") else raw + b"\n\n")
