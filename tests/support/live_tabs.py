"""Live tabs in the state tests: tabs' watchers (`LiveState.watch`) run as the background
events Reflex would run, and waiting for what they show."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import redis.asyncio as redis

from taskpilot.core.live import MemoryFeed, channel
from tests.support.harness import REDIS_URL
from tests.support.web_states import Page, call

Waited = Callable[[], bool]


async def until(condition: Waited, what: str, seconds: float = 10) -> None:
    async with asyncio.timeout(seconds):
        while not condition():
            await asyncio.sleep(0.02)
    assert condition(), what


async def listening(tab: Page) -> int:
    """How many watchers listen to the news of the person signed in on `tab`."""
    identity = await tab.auth._identity()
    user_id = identity.user_id if identity is not None else "nobody"
    feed = tab.runtime.live
    if isinstance(feed, MemoryFeed):
        return len(feed._readers.get(channel(user_id), ()))
    # The worker's pages share its one subscription, which must be Redis's to hear anything.
    async with redis.Redis.from_url(REDIS_URL) as client:
        [(_, count)] = await client.pubsub_numsub(channel(user_id))
    listener = feed._listeners.get(asyncio.get_running_loop())
    if not count or listener is None or channel(user_id) in listener._confirmed:
        return 0
    return len(listener.readers.get(channel(user_id), ()))


class Watchers:
    """Tabs' watchers (`LiveState.watch`) running as background events, ended at the end."""

    def __init__(self) -> None:
        self.running: list[tuple[Page, asyncio.Task[Any]]] = []

    async def start(self, tab: Page, conversations: bool = True) -> None:
        before = await listening(tab)
        watch = call(tab.live, "watch", conversations)
        self.running.append((tab, asyncio.create_task(watch)))
        async with asyncio.timeout(10):
            while await listening(tab) <= before:
                await asyncio.sleep(0.02)

    async def stop(self) -> None:
        for tab, _ in self.running:
            tab.live._watch_key = "ended by the test"
        await asyncio.wait_for(asyncio.gather(*(task for _, task in self.running)), 5)
