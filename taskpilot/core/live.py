"""The live feed: what happens to a person's data, told to every page of theirs that is open.

Three kinds of news travel on it, each on the person's own channels only, so a page never
hears of anyone else's data:

- a turn's events (`{"kind": "turn", ...}`, built by the turn engine), so a turn started in one
  tab streams in every other tab showing that conversation;
- `tasks_changed`, after any task-changing MCP tool call (the agent's, the task panel's, a
  ChatKit widget's, an outside MCP client's), so every open task panel reads the list again;
- `stop` (`stop_request`), Stop pressed in a tab that follows a turn another tab started, or
  through the API: the worker running that turn, wherever it is, listens for it while the
  turn runs. (Stop is kept in the database as well, and read at the turn's next lease
  renewal: a notice lost on the way costs seconds, not the Stop.)

Pages read the person's news channel (`taskpilot:live:<user id>`); Stop travels on a channel of
its own (`taskpilot:stop:<user id>`), which only running turns read: a worker running a turn
that no page of the person has open here is not sent that turn's every text delta back.

`MemoryFeed` serves one process (asyncio queues); `RedisFeed` serves every worker on every
machine through Redis pub/sub when `REFLEX_REDIS_URL` is set. Both are best-effort: news is not
stored, and a reader that falls behind or loses Redis gets `LOST` once, which tells a page to
read the database again (the database, not the feed, is what a page shows).

Bounds: a subscription keeps at most QUEUE_SIZE messages (over Redis too: each worker has one
pub/sub connection, read at once into its pages' subscriptions, so a slow page never holds up
the others; Redis disconnects a worker that stops reading, past its `client-output-buffer-limit`,
and its pages then read `LOST`). Publishing never waits: a Redis publisher's
outbox holds at most OUTBOX_SIZE messages and drops past it. Message text only ever travels on
its person's channel and is never logged.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from typing import Any, Protocol, TypeAlias

from taskpilot.core.config import Settings

logger = logging.getLogger("taskpilot.live")

CHANNEL = "taskpilot:live:"
STOP_CHANNEL = "taskpilot:stop:"
# Messages a memory subscription holds for a reader that has not caught up.
QUEUE_SIZE = 1000
# Messages waiting to be published to Redis by one worker; past it, news is dropped.
OUTBOX_SIZE = 10_000
# How long subscribing waits for Redis to confirm it.
SUBSCRIBE_SECONDS = 2.0
# How long a worker's listener waits for a message before looking at its subscriptions again,
# and, when Redis is away, before trying again.
LISTEN_SECONDS = 1.0
RETRY_SECONDS = 1.0
# With no message for PING_SECONDS, a listener asks Redis for a PONG; with none PONG_SECONDS
# later, it takes its connection for dead and makes it again. A connection whose network went
# away without a reset (a half-open TCP connection) reads nothing and raises nothing, however
# long; redis-py's own health check only sends its PING.
PING_SECONDS = 15.0
PONG_SECONDS = 5.0
# The listener reads at least this often, so redis-py's own health check (a PING it then waits
# for, blocking, when no channel is subscribed) never comes due: 15 + 5 + 1 < 30.
HEALTH_CHECK_SECONDS = 30
_PING = "taskpilot-listener"
# How often, at most, a worker says the live feed cannot reach Redis.
UNREACHABLE_WARNING_SECONDS = 60

Message: TypeAlias = dict[str, Any]
TASKS_CHANGED: Message = {"kind": "tasks_changed"}
STOP = "stop"
# Some news may have been missed: read the database again.
LOST: Message = {"kind": "lost"}


def channel(user_id: str, stops: bool = False) -> str:
    """The person's news channel, or (`stops`) the one Stop notices travel on."""
    return f"{STOP_CHANNEL if stops else CHANNEL}{user_id}"


def _channel_of(user_id: str, message: Message) -> str:
    return channel(user_id, stops=message.get("kind") == STOP)


def stop_request(conversation_id: str, message_id: int, attempt: int) -> Message:
    """Stop attempt `attempt` at question `message_id` of this conversation of the person's
    (kept in the database too: `TurnStore.request_stop`; this is the fast notice)."""
    return {
        "kind": STOP,
        "conversation_id": conversation_id,
        "message_id": message_id,
        "attempt": attempt,
    }


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


class Inbox:
    """One page's subscription, on either feed: the news waiting for it, at most QUEUE_SIZE
    messages; past that it reads `LOST` once, and what was waiting is dropped."""

    def __init__(self) -> None:
        self._queue: asyncio.Queue[Message] = asyncio.Queue(QUEUE_SIZE)
        self._lost = False

    def put(self, message: Message) -> None:
        try:
            self._queue.put_nowait(message)
        except asyncio.QueueFull:
            self.lose()  # the reader is behind: it will read the database again

    def lose(self) -> None:
        """News may have been missed: the next read is `LOST` (once, however often lost),
        at once for a reader already waiting."""
        self._lost = True
        if self._queue.empty():
            self._queue.put_nowait(LOST)  # wakes it

    async def next(self, within: float) -> Message | None:
        if not self._lost:
            try:
                async with asyncio.timeout(within):
                    message = await self._queue.get()
            except TimeoutError:
                return None
            if not self._lost:
                return message
        self._lost = False
        while not self._queue.empty():
            self._queue.get_nowait()
        return LOST


# --- in the process ---------------------------------------------------------------------------


class MemoryFeed:
    """The feed within one process: exact for one worker, and for tests."""

    def __init__(self) -> None:
        self._readers: dict[str, set[Inbox]] = {}  # by channel

    def publish(self, user_id: str, message: Message) -> None:
        """Hand `message` to the person's readers here; never waits, never fails."""
        for reader in list(self._readers.get(_channel_of(user_id, message), ())):
            reader.put(message)

    @asynccontextmanager
    async def subscribed(self, user_id: str, stops: bool = False) -> AsyncIterator[Inbox]:
        """The person's news, or (`stops`) the Stop notices for their running turns."""
        name, reader = channel(user_id, stops), Inbox()
        self._readers.setdefault(name, set()).add(reader)
        try:
            yield reader
        finally:
            readers = self._readers.get(name, set())
            readers.discard(reader)
            if not readers:
                self._readers.pop(name, None)

    async def flush(self) -> None:
        """Nothing waits to be published in the process."""

    async def close(self) -> None:
        self._readers.clear()


# --- over Redis -------------------------------------------------------------------------------


class _Listener:
    """One event loop's (one worker's) listening: a single pub/sub connection, subscribed to
    the channels of the people with a page open here, hands each message to those pages'
    subscriptions. A thousand open pages cost one Redis connection, not a thousand.

    News can be missed while the connection is down, so every subscription reads `LOST` when
    it drops, and again when Redis confirms a channel nobody was waiting for (redis-py, on
    connecting again, subscribes again; a subscription made while Redis was away is made once
    it is back). A connection that goes silent without closing is found by a PING that gets
    no PONG (`_check_silence`), and made again."""

    def __init__(self, client: Any, warn: _Warner) -> None:
        self.client = client
        self.pubsub = client.pubsub()
        self.warn = warn
        self.readers: dict[str, set[Inbox]] = {}
        # Subscriptions waiting for Redis to confirm them, and ones Redis never received.
        self._confirmed: dict[str, asyncio.Future[None]] = {}
        self._unsent: set[str] = set()
        # Channels subscribed that no page wants any more (an unsubscribe lost to a reconnect).
        self._unwanted: set[str] = set()
        self._wanted = asyncio.Event()  # there is a connection to read, or one to make
        # Until the connection exists, each subscribe would take its own from the pool (and
        # the listener read only the last): the first one is made once, under this lock.
        self._connecting = asyncio.Lock()
        # When the connection last said anything, and when a PING went unanswered since.
        self._heard = time.monotonic()
        self._pinged: float | None = None
        self.task = asyncio.create_task(self._listen(), name="live-feed-listener")

    async def add(self, name: str) -> Inbox:
        """A page's subscription to channel `name`: news published once this returns arrives
        (if Redis is away, the subscription reads `LOST` once it is back)."""
        reader = Inbox()
        readers = self.readers.setdefault(name, set())
        readers.add(reader)
        self._unwanted.discard(name)
        try:
            await self._subscribe(name, first=len(readers) == 1)
        except BaseException:  # cancelled while waiting: the page never got its subscription
            await self.remove(name, reader)
            raise
        return reader

    async def _subscribe(self, name: str, first: bool) -> None:
        if not first:
            confirmed = self._confirmed.get(name)  # the first page's may be on its way
        else:
            confirmed = self._confirmed[name] = asyncio.get_running_loop().create_future()
            try:
                await self._send("SUBSCRIBE", name)
            except Exception as exc:  # the listener subscribes once Redis answers
                self.warn("live feed: Redis is unreachable", exc)
                self._confirmed.pop(name, None)
                self._unsent.add(name)
                self._wanted.set()
                return
            self._wanted.set()
        if confirmed is not None:
            try:
                await asyncio.wait_for(asyncio.shield(confirmed), SUBSCRIBE_SECONDS)
            except TimeoutError as exc:  # a late confirmation will say LOST
                self.warn("live feed: Redis is unreachable", exc)
                self._confirmed.pop(name, None)

    async def _send(self, command: str, *names: str) -> None:
        """(Un)subscribe on the one connection, made first if there is none yet."""
        async with self._connecting:
            if self.pubsub.connection is None:
                await self.pubsub.connect()
        if command == "SUBSCRIBE":
            await self.pubsub.subscribe(*names)
        else:
            await self.pubsub.unsubscribe(*names)

    async def remove(self, name: str, reader: Inbox) -> None:
        readers = self.readers.get(name, set())
        readers.discard(reader)
        if readers:
            return
        self.readers.pop(name, None)
        self._confirmed.pop(name, None)
        if name in self._unsent:
            self._unsent.discard(name)
            return
        try:
            await self._send("UNSUBSCRIBE", name)
        except Exception as exc:  # the connection is gone; a reconnect may subscribe again
            self.warn("live feed: Redis is unreachable", exc)
            self._unwanted.add(name)

    def _lose(self, names: Iterable[str]) -> None:
        for name in names:
            for reader in self.readers.get(name, ()):
                reader.lose()

    async def _listen(self) -> None:
        while True:
            if self.pubsub.connection is None and not self._unsent:
                self._wanted.clear()
                await self._wanted.wait()
            connection = self.pubsub.connection
            connected = connection is not None and connection.is_connected
            try:
                if self._unsent:
                    unsent = sorted(self._unsent)
                    await self._send("SUBSCRIBE", *unsent)
                    self._unsent.difference_update(unsent)
                if self._unwanted:
                    unwanted = sorted(self._unwanted - set(self.readers))
                    self._unwanted.clear()
                    if unwanted:
                        await self._send("UNSUBSCRIBE", *unwanted)
                asked = time.monotonic()
                found = await self.pubsub.get_message(timeout=LISTEN_SECONDS)
                if found is None:
                    await self._check_silence(asked)
            except Exception as exc:  # Redis gone: try again after a while
                self.warn("live feed: Redis is unreachable", exc)
                self._pinged = None
                if connected:
                    self._lose(list(self.readers))
                await asyncio.sleep(RETRY_SECONDS)
                continue
            if found is not None:
                self._heard, self._pinged = time.monotonic(), None
                self._take(found)

    async def _check_silence(self, asked: float) -> None:
        """A read begun at `asked` found nothing: after PING_SECONDS of that, ask Redis for a
        PONG; when a read begun PONG_SECONDS after the PING finds none either, drop the
        connection and raise: the next read connects again, and redis-py subscribes again
        (whose confirmations tell the readers news was missed). Counting from the read's
        start, not its end, a loop held up past PONG_SECONDS is not taken for silence: the
        PONG is read by the next read."""
        now = time.monotonic()
        if self._pinged is not None and asked - self._pinged > PONG_SECONDS:
            self._heard, self._pinged = now, None
            if self.pubsub.connection is not None:
                await self.pubsub.connection.disconnect()
            raise ConnectionError("no PONG from Redis: the connection is gone")
        if self._pinged is None and now - self._heard > PING_SECONDS:
            self._pinged = now
            await self.pubsub.ping(_PING)

    def _take(self, found: dict[str, Any]) -> None:
        """A subscription's confirmation or a message, from Redis (a PONG only shows the
        connection is alive)."""
        raw = found.get("channel")
        name = raw.decode() if isinstance(raw, bytes) else str(raw)
        if found.get("type") in ("subscribe", "message") and name not in self.readers:
            self._unwanted.add(name)  # subscribed again by a reconnect, for nobody
            return
        if found.get("type") == "subscribe":
            confirmed = self._confirmed.pop(name, None)
            if confirmed is None:  # subscribed again, or late: news may have been missed
                self._lose([name])
            elif not confirmed.done():
                confirmed.set_result(None)
        elif found.get("type") == "message":
            try:
                message = json.loads(found["data"])
            except ValueError:
                return
            if isinstance(message, dict):
                for reader in list(self.readers.get(name, ())):
                    reader.put(message)

    async def close(self) -> None:
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)
        await self.pubsub.aclose()
        await self.client.aclose()


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
    """The feed across workers and machines, through Redis pub/sub: per event loop, one
    client publishing and one pub/sub connection listening."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._warn = _Warner()
        self._publishers: dict[asyncio.AbstractEventLoop, _Publisher] = {}
        self._listeners: dict[asyncio.AbstractEventLoop, _Listener] = {}

    def _client(self, timeout: float | None = None) -> Any:
        """A client; `timeout` bounds each command (a subscriber's reads set their own)."""
        import redis.asyncio as redis

        return redis.Redis.from_url(
            self.url,
            socket_connect_timeout=2,
            socket_timeout=timeout,
            socket_keepalive=True,  # a connection gone silent is noticed (the listener's)
            health_check_interval=HEALTH_CHECK_SECONDS,
        )

    def _publisher(self) -> _Publisher:
        loop = asyncio.get_running_loop()
        publisher = self._publishers.get(loop)
        if publisher is None:
            self._publishers = {k: v for k, v in self._publishers.items() if not k.is_closed()}
            publisher = self._publishers[loop] = _Publisher(self._client(2), self._warn)
        return publisher

    def _listener(self) -> _Listener:
        loop = asyncio.get_running_loop()
        listener = self._listeners.get(loop)
        if listener is None:
            self._listeners = {k: v for k, v in self._listeners.items() if not k.is_closed()}
            listener = self._listeners[loop] = _Listener(self._client(), self._warn)
        return listener

    def publish(self, user_id: str, message: Message) -> None:
        """Queue `message` for the person's channel; never waits, never fails (a turn or a
        tool call must not fail for want of the feed): what cannot be sent is dropped, with a
        warning at most every UNREACHABLE_WARNING_SECONDS."""
        try:
            self._publisher().outbox.put_nowait(
                (_channel_of(user_id, message), json.dumps(message))
            )
        except asyncio.QueueFull as exc:
            self._warn("live feed: too much news waiting for Redis; some dropped", exc)
        except Exception as exc:  # no running loop, a message that is not JSON
            self._warn("live feed: some news could not be sent", exc)

    @asynccontextmanager
    async def subscribed(self, user_id: str, stops: bool = False) -> AsyncIterator[Inbox]:
        """The person's news, or (`stops`) the Stop notices for their running turns."""
        listener, name = self._listener(), channel(user_id, stops)
        reader = await listener.add(name)
        try:
            yield reader
        finally:
            await listener.remove(name, reader)

    async def flush(self) -> None:
        """Until this loop's news so far is handed to Redis (tests)."""
        publisher = self._publishers.get(asyncio.get_running_loop())
        if publisher is not None:
            await publisher.outbox.join()

    async def close(self) -> None:
        publishers, self._publishers = self._publishers, {}
        listeners, self._listeners = self._listeners, {}
        for loop, publisher in publishers.items():
            if loop is asyncio.get_running_loop():
                publisher.task.cancel()
                await asyncio.gather(publisher.task, return_exceptions=True)
                await publisher.client.aclose()
        for loop, listener in listeners.items():
            if loop is asyncio.get_running_loop():
                await listener.close()


LiveFeed: TypeAlias = MemoryFeed | RedisFeed


def live_feed(settings: Settings) -> LiveFeed:
    """Redis pub/sub when REFLEX_REDIS_URL is set (several workers), else in the process."""
    if settings.reflex_redis_url:
        return RedisFeed(settings.reflex_redis_url)
    return MemoryFeed()
