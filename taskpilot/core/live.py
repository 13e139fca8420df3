"""The live feed: what happens to a person's data, told to every page of theirs that is open.

Two kinds of news travel on it, each on the person's own channel only (`taskpilot:live:<user
id>`), so a page never hears of anyone else's data:

- a turn's events (`{"kind": "turn", ...}`, built by the turn engine), so a turn started in one
  tab streams in every other tab showing that conversation;
- `tasks_changed`, after any task-changing MCP tool call (the agent's, the task panel's, a
  ChatKit widget's, an outside MCP client's), so every open task panel reads the list again.

`MemoryFeed` serves one process (asyncio queues); `RedisFeed` serves every worker on every
machine through Redis pub/sub when `REFLEX_REDIS_URL` is set. Both are best-effort: news is not
stored, and a reader that falls behind or loses Redis gets `LOST` once, which tells a page to
read the database again (the database, not the feed, is what a page shows).

Bounds: a memory subscription keeps at most QUEUE_SIZE messages; Redis keeps what a slow reader
has not read in its own output buffer, whose pub/sub limit (`client-output-buffer-limit`)
disconnects the reader, which then reads `LOST`. Publishing never waits: a Redis publisher's
outbox holds at most OUTBOX_SIZE messages and drops past it. Message text only ever travels on
its person's channel and is never logged.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Protocol, TypeAlias

from taskpilot.core.config import Settings

logger = logging.getLogger("taskpilot.live")

CHANNEL = "taskpilot:live:"
# Messages a memory subscription holds for a reader that has not caught up.
QUEUE_SIZE = 1000
# Messages waiting to be published to Redis by one worker; past it, news is dropped.
OUTBOX_SIZE = 10_000
# How long subscribing waits for Redis to confirm it.
SUBSCRIBE_SECONDS = 2.0
# How often, at most, a worker says the live feed cannot reach Redis.
UNREACHABLE_WARNING_SECONDS = 60

Message: TypeAlias = dict[str, Any]
TASKS_CHANGED: Message = {"kind": "tasks_changed"}
# Some news may have been missed: read the database again.
LOST: Message = {"kind": "lost"}


def channel(user_id: str) -> str:
    return f"{CHANNEL}{user_id}"


class Subscription(Protocol):
    async def next(self, within: float) -> Message | None:
        """The next message; None when none came within `within` seconds."""
        ...


class _Warner:
    """Logs that the feed cannot reach Redis, at most once every UNREACHABLE_WARNING_SECONDS."""

    def __init__(self) -> None:
        self._at = -math.inf

    def __call__(self, what: str, exc: BaseException) -> None:
        now = time.monotonic()
        if now - self._at > UNREACHABLE_WARNING_SECONDS:
            self._at = now
            logger.warning(what, extra={"error": type(exc).__name__})


# --- in the process ---------------------------------------------------------------------------


class MemorySubscription:
    def __init__(self) -> None:
        self._queue: asyncio.Queue[Message] = asyncio.Queue(QUEUE_SIZE)
        self._lost = False

    def put(self, message: Message) -> None:
        try:
            self._queue.put_nowait(message)
        except asyncio.QueueFull:
            self._lost = True  # the reader is behind: it will read the database again

    async def next(self, within: float) -> Message | None:
        if self._lost:
            self._lost = False
            while not self._queue.empty():
                self._queue.get_nowait()
            return LOST
        try:
            async with asyncio.timeout(within):
                return await self._queue.get()
        except TimeoutError:
            return None


class MemoryFeed:
    """The feed within one process: exact for one worker, and for tests."""

    def __init__(self) -> None:
        self._readers: dict[str, set[MemorySubscription]] = {}

    def publish(self, user_id: str, message: Message) -> None:
        for reader in list(self._readers.get(user_id, ())):
            reader.put(message)

    @asynccontextmanager
    async def subscribed(self, user_id: str) -> AsyncIterator[MemorySubscription]:
        reader = MemorySubscription()
        self._readers.setdefault(user_id, set()).add(reader)
        try:
            yield reader
        finally:
            readers = self._readers.get(user_id, set())
            readers.discard(reader)
            if not readers:
                self._readers.pop(user_id, None)

    async def flush(self) -> None:
        """Nothing waits to be published in the process."""

    async def close(self) -> None:
        self._readers.clear()


# --- over Redis -------------------------------------------------------------------------------


class RedisSubscription:
    """One page's subscription: its own pub/sub connection to the person's channel. After a
    lost connection it reconnects (redis-py subscribes again) and reads `LOST` once."""

    def __init__(self, pubsub: Any, name: str, warn: _Warner) -> None:
        self._pubsub = pubsub
        self._channel = name
        self._warn = warn
        self._down = False

    async def subscribe(self) -> None:
        """Subscribe, and wait for Redis to confirm it: news published from now on arrives."""
        try:
            await self._pubsub.subscribe(self._channel)
            async with asyncio.timeout(SUBSCRIBE_SECONDS):
                while True:
                    found = await self._pubsub.get_message(timeout=SUBSCRIBE_SECONDS)
                    if found is not None and found.get("type") == "subscribe":
                        return
        except Exception as exc:  # read LOST once Redis answers
            self._warn("live feed: Redis is unreachable", exc)
            self._down = True

    async def next(self, within: float) -> Message | None:
        connection = self._pubsub.connection
        # redis-py reconnects (and subscribes again) quietly; news published meanwhile is lost.
        self._down = self._down or connection is None or not connection.is_connected
        try:
            if connection is None:  # never subscribed: Redis was down
                await self._pubsub.subscribe(self._channel)
            found = await self._pubsub.get_message(ignore_subscribe_messages=True, timeout=within)
        except Exception as exc:  # Redis gone: try again after a while, then say LOST
            self._warn("live feed: Redis is unreachable", exc)
            self._down = True
            await asyncio.sleep(within)
            return None
        if self._down:
            self._down = False
            return LOST
        if found is None or found.get("type") != "message":
            return None
        try:
            message = json.loads(found["data"])
        except ValueError:
            return None
        return message if isinstance(message, dict) else None


class _Publisher:
    """One event loop's publishing: an outbox and the task that empties it into Redis in
    order, a pipeline at a time."""

    def __init__(self, client: Any, warn: _Warner) -> None:
        self.client = client
        self.warn = warn
        self.outbox: asyncio.Queue[tuple[str, str]] = asyncio.Queue(OUTBOX_SIZE)
        self.task = asyncio.create_task(self._send(), name="live-feed-publisher")

    async def _send(self) -> None:
        while True:
            batch = [await self.outbox.get()]
            while not self.outbox.empty():
                batch.append(self.outbox.get_nowait())
            try:
                async with self.client.pipeline(transaction=False) as pipe:
                    for name, data in batch:
                        pipe.publish(name, data)
                    await pipe.execute()
            except Exception as exc:
                self.warn("live feed: could not publish to Redis", exc)
            finally:
                for _ in batch:
                    self.outbox.task_done()


class RedisFeed:
    """The feed across workers and machines, through Redis pub/sub. One client per loop."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._warn = _Warner()
        self._publishers: dict[asyncio.AbstractEventLoop, _Publisher] = {}

    def _client(self, timeout: float | None = None) -> Any:
        """A client; `timeout` bounds each command (a subscriber's reads set their own)."""
        import redis.asyncio as redis

        return redis.Redis.from_url(
            self.url, socket_connect_timeout=2, socket_timeout=timeout, health_check_interval=30
        )

    def _publisher(self) -> _Publisher:
        loop = asyncio.get_running_loop()
        publisher = self._publishers.get(loop)
        if publisher is None:
            self._publishers = {k: v for k, v in self._publishers.items() if not k.is_closed()}
            publisher = self._publishers[loop] = _Publisher(self._client(2), self._warn)
        return publisher

    def publish(self, user_id: str, message: Message) -> None:
        try:
            self._publisher().outbox.put_nowait((channel(user_id), json.dumps(message)))
        except asyncio.QueueFull as exc:
            self._warn("live feed: too much news waiting for Redis; some dropped", exc)

    @asynccontextmanager
    async def subscribed(self, user_id: str) -> AsyncIterator[RedisSubscription]:
        client = self._client()
        pubsub = client.pubsub()
        try:
            subscription = RedisSubscription(pubsub, channel(user_id), self._warn)
            await subscription.subscribe()
            yield subscription
        finally:
            await pubsub.aclose()
            await client.aclose()

    async def flush(self) -> None:
        """Until this loop's news so far is handed to Redis (tests)."""
        publisher = self._publishers.get(asyncio.get_running_loop())
        if publisher is not None:
            await publisher.outbox.join()

    async def close(self) -> None:
        publishers, self._publishers = self._publishers, {}
        for loop, publisher in publishers.items():
            if loop is asyncio.get_running_loop():
                publisher.task.cancel()
                await asyncio.gather(publisher.task, return_exceptions=True)
                await publisher.client.aclose()


LiveFeed: TypeAlias = MemoryFeed | RedisFeed


def live_feed(settings: Settings) -> LiveFeed:
    """Redis pub/sub when REFLEX_REDIS_URL is set (several workers), else in the process."""
    if settings.reflex_redis_url:
        return RedisFeed(settings.reflex_redis_url)
    return MemoryFeed()
