"""The live feed (`core/live.py`): a person's news reaches every reader of theirs and nobody
else's, in order; in the process and across workers through the real Redis on 127.0.0.1:6379
(two `RedisFeed`s stand for two workers). Channel names are per fresh user id."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import urlsplit

import pytest
import redis.asyncio as redis

from taskpilot.core import live
from taskpilot.core.live import LOST, LiveFeed, MemoryFeed, RedisFeed, live_feed
from tests.support.harness import REDIS_URL, make_settings, needs_redis

Feeds = Callable[[], LiveFeed]


@pytest.fixture(params=["memory", pytest.param("redis", marks=needs_redis)])
async def feeds(request: pytest.FixtureRequest) -> AsyncIterator[Feeds]:
    """Makes the feeds of several workers: one shared feed in the process, or one Redis feed
    per worker."""
    made: list[LiveFeed] = []
    shared = MemoryFeed()

    def make() -> LiveFeed:
        feed: LiveFeed = shared if request.param == "memory" else RedisFeed(REDIS_URL)
        made.append(feed)
        return feed

    yield make
    for feed in made:
        await feed.close()


def person() -> str:
    return f"user-{uuid.uuid4().hex}"


async def read(subscription: live.Subscription, count: int) -> list[live.Message]:
    found: list[live.Message] = []
    while len(found) < count:
        message = await subscription.next(5)
        assert message is not None, f"only {found} arrived"
        found.append(message)
    return found


async def test_news_reaches_every_reader_of_the_person_in_order_and_nobody_else(
    feeds: Feeds,
) -> None:
    here, there = feeds(), feeds()
    ada, bob = person(), person()
    async with (
        there.subscribed(ada) as first,
        there.subscribed(ada) as second,
        here.subscribed(bob) as other,
    ):
        for number in range(20):
            here.publish(ada, {"kind": "turn", "n": number})
        await here.flush()
        expected = [{"kind": "turn", "n": number} for number in range(20)]
        assert await read(first, 20) == expected
        assert await read(second, 20) == expected
        assert await other.next(0.3) is None  # Bob hears nothing of Ada's
    # Nobody is listening any more: publishing still never waits nor fails.
    here.publish(ada, {"kind": "tasks_changed"})
    await here.flush()


async def test_stop_notices_reach_running_turns_only_and_news_reaches_pages_only(
    feeds: Feeds,
) -> None:
    """A turn listening for Stop is not handed the person's other news (its own deltas, over
    Redis sent back to its worker); a page is not handed Stop notices."""
    here, there = feeds(), feeds()
    ada = person()
    stop = live.stop_request("c1", 7, 1)
    async with there.subscribed(ada) as page, there.subscribed(ada, stops=True) as turn:
        here.publish(ada, {"kind": "turn", "n": 1})
        here.publish(ada, stop)
        here.publish(ada, live.TASKS_CHANGED)
        await here.flush()
        assert await read(page, 2) == [{"kind": "turn", "n": 1}, live.TASKS_CHANGED]
        assert await read(turn, 1) == [stop]
        assert await page.next(0.2) is None
        assert await turn.next(0.01) is None


async def test_a_reader_that_falls_behind_reads_lost_once_then_news_again() -> None:
    feed, ada = MemoryFeed(), person()
    async with feed.subscribed(ada) as reader:
        for number in range(live.QUEUE_SIZE + 5):
            feed.publish(ada, {"n": number})
        assert await reader.next(1) == LOST
        assert await reader.next(0.05) is None  # what was queued is dropped: read the DB
        feed.publish(ada, {"n": "after"})
        assert await reader.next(1) == {"n": "after"}
    assert not feed._readers  # the last reader gone, the person's entry goes too


@needs_redis
async def test_without_redis_readers_wait_and_publishing_drops_news_with_one_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    feed = RedisFeed("redis://127.0.0.1:1/0")  # nothing listens there
    caplog.set_level(logging.WARNING, "taskpilot.live")
    async with feed.subscribed(person()) as reader:
        assert await reader.next(0.05) is None
        assert await reader.next(0.05) is None
        feed.publish(person(), {"kind": "tasks_changed"})
        await asyncio.wait_for(feed.flush(), 10)
    await feed.close()
    warnings = [record for record in caplog.records if record.name == "taskpilot.live"]
    assert len(warnings) == 1 and "unreachable" in warnings[0].getMessage()


@needs_redis
async def test_a_reader_whose_redis_connection_dropped_reads_lost_once_it_is_back() -> None:
    feed, ada = RedisFeed(REDIS_URL), person()
    async with feed.subscribed(ada) as reader:
        # Redis drops the worker's connection, as a restart or a full output buffer would.
        listener = feed._listeners[asyncio.get_running_loop()]
        host, port = listener.pubsub.connection._writer.get_extra_info("sockname")[:2]
        async with redis.Redis.from_url(REDIS_URL) as admin:
            assert await admin.client_kill_filter(_id=None, addr=f"{host}:{port}") == 1
        # redis-py reconnects and subscribes again; the reader says news may be missed.
        messages = [await reader.next(0.5) for _ in range(8)]
        assert LOST in messages
        feed.publish(ada, {"kind": "tasks_changed"})
        assert await read(reader, 1) == [{"kind": "tasks_changed"}]
    await feed.close()


class SilentLink:
    """A TCP relay to Redis whose connections can be made to go silent: open, carrying
    nothing either way, as when the network between a worker and Redis goes away without a
    reset (a half-open connection). Connections made after `silence` carry on as usual."""

    def __init__(self, url: str) -> None:
        target = urlsplit(url)
        self.target = (target.hostname or "127.0.0.1", target.port or 6379)
        self.db = target.path
        self.silent: set[asyncio.StreamWriter] = set()
        self.open: set[asyncio.StreamWriter] = set()
        self.relays: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> SilentLink:
        self.server = await asyncio.start_server(self._relay, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.server.close()
        for writer in self.open:
            writer.close()
        await asyncio.gather(*self.relays, return_exceptions=True)

    @property
    def url(self) -> str:
        port = self.server.sockets[0].getsockname()[1]
        return f"redis://127.0.0.1:{port}{self.db}"

    def silence(self) -> None:
        self.silent |= self.open

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        relay = asyncio.current_task()
        assert relay is not None
        self.relays.add(relay)
        up_reader, up_writer = await asyncio.open_connection(*self.target)
        self.open |= {writer, up_writer}

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            while data := await source.read(65536):
                if writer not in self.silent:
                    sink.write(data)
                    await sink.drain()
            sink.close()

        await asyncio.gather(
            pipe(reader, up_writer), pipe(up_reader, writer), return_exceptions=True
        )


@needs_redis
async def test_a_connection_gone_silent_without_closing_is_made_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A half-open connection reads nothing and raises nothing, forever: after PING_SECONDS
    without a message the listener asks Redis for a PONG, and with none PONG_SECONDS later
    it connects again. Its readers read LOST (news was missed), then news again."""
    monkeypatch.setattr(live, "PING_SECONDS", 0.5)
    monkeypatch.setattr(live, "PONG_SECONDS", 0.5)
    ada = person()
    async with SilentLink(REDIS_URL) as link, redis.Redis.from_url(REDIS_URL) as direct:
        feed = RedisFeed(link.url)
        async with feed.subscribed(ada) as reader:
            news = json.dumps({"kind": "tasks_changed"})
            await direct.publish(live.channel(ada), news)
            assert await read(reader, 1) == [{"kind": "tasks_changed"}]
            link.silence()
            await direct.publish(live.channel(ada), news)  # never arrives
            assert await reader.next(8) == LOST
            # Subscribed again on a new connection (which reads LOST too), news arrives again.
            for _ in range(50):
                await direct.publish(live.channel(ada), news)
                if await reader.next(0.1) == {"kind": "tasks_changed"}:
                    break
            else:
                pytest.fail("no news came once the connection was made again")
        await feed.close()


@needs_redis
async def test_a_quiet_connection_is_kept_even_when_its_worker_is_held_up(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Answered PINGs keep a quiet connection. A PONG left unread because the worker's loop
    was held up past PONG_SECONDS (a slow request, a pause) is read late, not taken for a
    dead connection: the pages are not sent LOST."""
    monkeypatch.setattr(live, "PING_SECONDS", 0.3)
    monkeypatch.setattr(live, "PONG_SECONDS", 0.5)
    feed, ada = RedisFeed(REDIS_URL), person()
    async with feed.subscribed(ada) as reader:
        listener = feed._listeners[asyncio.get_running_loop()]
        ping, pinged = listener.pubsub.ping, asyncio.Event()

        async def ping_then_hold_up_the_loop(*args: Any) -> Any:
            answer = await ping(*args)
            if not pinged.is_set():  # while the next read waits for the PONG, the loop stops
                pinged.set()
                asyncio.get_running_loop().call_soon(time.sleep, 1.2)
            return answer

        monkeypatch.setattr(listener.pubsub, "ping", ping_then_hold_up_the_loop)
        await asyncio.wait_for(pinged.wait(), 5)
        assert await reader.next(3) is None  # several PINGs later: nothing, no LOST
        feed.publish(ada, {"kind": "tasks_changed"})
        assert await read(reader, 1) == [{"kind": "tasks_changed"}]
    await feed.close()


@needs_redis
async def test_a_worker_listens_on_one_connection_however_many_pages_are_open() -> None:
    """Each page's subscription shares its worker's one pub/sub connection: Redis counts one
    subscriber per channel, not one per page, and the last page to leave unsubscribes."""
    feed, other = RedisFeed(REDIS_URL), RedisFeed(REDIS_URL)
    people = [person() for _ in range(3)]
    async with redis.Redis.from_url(REDIS_URL) as admin, contextlib.AsyncExitStack() as pages:
        before = len(await admin.client_list(_type="pubsub"))
        readers = [
            await pages.enter_async_context(feed.subscribed(people[n % 3])) for n in range(30)
        ]
        assert len(await admin.client_list(_type="pubsub")) == before + 1
        counts = dict(await admin.pubsub_numsub(*(live.channel(p) for p in people)))
        assert set(counts.values()) == {1}
        for number, someone in enumerate(people):
            other.publish(someone, {"kind": "turn", "n": number})
        await other.flush()
        for n, reader in enumerate(readers):
            assert await read(reader, 1) == [{"kind": "turn", "n": n % 3}]
    for _ in range(50):  # the unsubscribes are on their way
        counts = dict(await admin.pubsub_numsub(*(live.channel(p) for p in people)))
        if set(counts.values()) == {0}:
            break
        await asyncio.sleep(0.05)
    assert set(counts.values()) == {0}
    await feed.close()
    await other.close()


def test_the_feed_is_redis_when_the_workers_share_one(sqlite_url: str) -> None:
    assert isinstance(live_feed(make_settings(sqlite_url)), MemoryFeed)
    shared = live_feed(make_settings(sqlite_url, reflex_redis_url=REDIS_URL))
    assert isinstance(shared, RedisFeed) and shared.url == REDIS_URL


@needs_redis
async def test_publishing_what_cannot_be_sent_drops_it_with_a_warning_and_never_raises(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A turn's events and a tool's result are told to the feed as they happen: a message the
    feed cannot send must cost the news, never the turn."""
    feed, ada = RedisFeed(REDIS_URL), person()
    caplog.set_level(logging.WARNING, "taskpilot.live")
    async with feed.subscribed(ada) as reader:
        feed.publish(ada, {"kind": "turn", "when": object()})  # not JSON
        feed.publish(ada, {"kind": "tasks_changed"})
        await feed.flush()
        assert await read(reader, 1) == [{"kind": "tasks_changed"}]
    await feed.close()
    assert [r.getMessage() for r in caplog.records] == ["live feed: some news could not be sent"]


@needs_redis
async def test_pages_opening_at_once_on_a_new_worker_share_its_one_connection() -> None:
    """After a deploy every open tab reconnects at the same moment: the worker's first
    connection is made once, and every page subscribed in that rush hears its news."""
    feed, other = RedisFeed(REDIS_URL), RedisFeed(REDIS_URL)
    people = [person() for _ in range(20)]
    heard: dict[str, list[live.Message]] = {}
    ready, done = asyncio.Event(), asyncio.Event()

    async def page(someone: str) -> None:
        async with feed.subscribed(someone) as reader:
            heard[someone] = []
            if len(heard) == len(people):
                ready.set()
            await done.wait()
            heard[someone] = await read(reader, 1)

    async with redis.Redis.from_url(REDIS_URL) as admin:
        before = len(await admin.client_list(_type="pubsub"))
        pages = [asyncio.create_task(page(someone)) for someone in people]
        await asyncio.wait_for(ready.wait(), 20)
        assert len(await admin.client_list(_type="pubsub")) == before + 1
        for number, someone in enumerate(people):
            other.publish(someone, {"kind": "turn", "n": number})
        await other.flush()
        done.set()
        await asyncio.wait_for(asyncio.gather(*pages), 20)
    assert [heard[someone] for someone in people] == [
        [{"kind": "turn", "n": number}] for number in range(len(people))
    ]
    await feed.close()
    await other.close()


@needs_redis
async def test_a_page_that_leaves_while_subscribing_leaves_nothing_behind() -> None:
    feed, ada = RedisFeed(REDIS_URL), person()
    async with feed.subscribed(person()):  # the worker's connection exists
        entering = asyncio.create_task(feed.subscribed(ada).__aenter__())
        await asyncio.sleep(0)
        entering.cancel()
        await asyncio.gather(entering, return_exceptions=True)
        listener = feed._listeners[asyncio.get_running_loop()]
        assert live.channel(ada) not in listener.readers
    await feed.close()
