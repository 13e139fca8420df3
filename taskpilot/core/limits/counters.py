"""The counters the limits are kept in: sliding windows (how many times a key was counted in
the last N seconds) and leases (places held until released or until they run out).

`RedisCounters` keep them in Redis, shared by every worker on any machine; each check is one
Lua script, atomic and one round trip, timed by Redis's own clock. `MemoryCounters` keep the
same windows and leases in the process (exact for one worker, and for tests), timed by the
clock they are given.

A check hands back a verdict and a wait: `(0, 0)` admitted, or a refusal's number and the
seconds until a retry can succeed. What a refusal means and how it is worded is the caller's.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
import uuid
from collections import OrderedDict, deque
from collections.abc import Callable
from typing import Any, TypeAlias

logger = logging.getLogger("taskpilot.limits")

# Every key the counters keep in Redis starts with this.
PREFIX = "taskpilot:limits:"
# The most keys the in-process counters keep (beyond, the least recently used go): a few MiB.
MAX_MEMORY_KEYS = 50_000
# How often, at most, a worker says the limits are not enforced because Redis is unreachable.
UNREACHABLE_WARNING_SECONDS = 60

# KEYS: running-turn slots (zset member -> lease expiry), turn starts (zset member -> time).
# ARGV: slot id, lease ms, max running, window ms, max per window. Returns {0} when admitted,
# {1, ms} when too many are running, {2, ms} when too many started in the window.
_ADMIT_TURN = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local lease, running, window, per_window =
    tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
if running > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
  if redis.call('ZCARD', KEYS[1]) >= running then
    local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
    return {1, tonumber(first[2]) - now}
  end
end
if per_window > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - window)
  if redis.call('ZCARD', KEYS[2]) >= per_window then
    local oldest = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
    return {2, tonumber(oldest[2]) + window - now}
  end
  redis.call('ZADD', KEYS[2], now, ARGV[1])
  redis.call('PEXPIRE', KEYS[2], window)
end
if running > 0 then
  redis.call('ZADD', KEYS[1], now + lease, ARGV[1])
  redis.call('PEXPIRE', KEYS[1], lease)
end
return {0, 0}
"""

# KEYS: one window per key. ARGV: attempt id, window ms, then each key's max per window, in
# the order of KEYS. Counts the attempt in every window unless one is full; returns {0} or
# {1, ms until the fullest frees a place}.
_HIT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[2])
local wait = 0
for i, key in ipairs(KEYS) do
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  if redis.call('ZCARD', key) >= tonumber(ARGV[2 + i]) then
    local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
    wait = math.max(wait, tonumber(oldest[2]) + window - now)
  end
end
if wait > 0 then return {1, wait} end
for _, key in ipairs(KEYS) do
  redis.call('ZADD', key, now, ARGV[1])
  redis.call('PEXPIRE', key, window)
end
return {0, 0}
"""


class MemoryCounters:
    """The same windows and leases in this process (one worker, or tests), bounded: a key
    whose window has passed is forgotten, a refusal records nothing, and past `max_keys` the
    least recently used key goes, so a flood of new keys cannot grow the worker."""

    def __init__(
        self, max_keys: int | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.max_keys = MAX_MEMORY_KEYS if max_keys is None else max_keys
        self.clock = clock
        # key -> (times in its window, the window's length); least recently used first.
        self.windows: OrderedDict[str, tuple[deque[float], float]] = OrderedDict()
        self.leases: dict[str, dict[str, float]] = {}

    def _times(self, key: str, window: float, now: float) -> deque[float]:
        """The key's times still in its window (an empty one, not kept, for a new key)."""
        kept = self.windows.get(key)
        if kept is None:
            return deque()
        times = kept[0]
        while times and times[0] <= now - window:
            times.popleft()
        return times

    def _record(self, key: str, times: deque[float], window: float, now: float) -> None:
        times.append(now)
        self.windows[key] = (times, window)
        self.windows.move_to_end(key)
        self._forget(now)

    def _forget(self, now: float) -> None:
        """Drop keys whose every time has left its window, oldest use first, and the least
        recently used beyond `max_keys`."""
        while self.windows:
            key, (times, window) = next(iter(self.windows.items()))
            if times and times[-1] > now - window and len(self.windows) <= self.max_keys:
                break
            del self.windows[key]

    async def admit_turn(
        self,
        keys: tuple[str, str],
        slot_id: str,
        lease: float,
        running: int,
        window: float,
        per_window: int,
    ) -> tuple[int, float]:
        now = self.clock()
        leases = self.leases.get(keys[0], {})
        for held, expiry in list(leases.items()):
            if expiry <= now:
                del leases[held]
        if running and len(leases) >= running:
            return 1, min(leases.values()) - now
        if per_window:
            times = self._times(keys[1], window, now)
            if len(times) >= per_window:
                return 2, times[0] + window - now
            self._record(keys[1], times, window, now)
        if running:
            leases[slot_id] = now + lease
            self.leases[keys[0]] = leases
        return 0, 0

    async def release(self, key: str, slot_id: str) -> None:
        leases = self.leases.get(key)
        if leases is not None:
            leases.pop(slot_id, None)
            if not leases:
                del self.leases[key]

    async def hit(self, limits: dict[str, int], window: float) -> tuple[int, float]:
        now = self.clock()
        windows = [(key, self._times(key, window, now), limit) for key, limit in limits.items()]
        wait = max(
            (times[0] + window - now for _, times, limit in windows if len(times) >= limit),
            default=0,
        )
        if wait > 0:
            return 1, wait  # nothing recorded: a refused flood leaves no trace
        for key, times, _ in windows:
            self._record(key, times, window, now)
        return 0, 0


class RedisCounters:
    """Windows and leases in Redis, shared by every worker. One client per event loop."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._clients: dict[asyncio.AbstractEventLoop, Any] = {}

    def _client(self) -> Any:
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            import redis.asyncio as redis

            client = redis.Redis.from_url(
                self.url, socket_timeout=2, socket_connect_timeout=2, health_check_interval=30
            )
            self._clients = {k: v for k, v in self._clients.items() if not k.is_closed()}
            self._clients[loop] = client
        return client

    async def admit_turn(
        self,
        keys: tuple[str, str],
        slot_id: str,
        lease: float,
        running: int,
        window: float,
        per_window: int,
    ) -> tuple[int, float]:
        verdict, wait_ms = await self._client().eval(
            _ADMIT_TURN,
            2,
            *keys,
            slot_id,
            int(lease * 1000),
            running,
            int(window * 1000),
            per_window,
        )
        return int(verdict), int(wait_ms) / 1000

    async def release(self, key: str, slot_id: str) -> None:
        await self._client().zrem(key, slot_id)

    async def hit(self, limits: dict[str, int], window: float) -> tuple[int, float]:
        verdict, wait_ms = await self._client().eval(
            _HIT, len(limits), *limits, uuid.uuid4().hex, int(window * 1000), *limits.values()
        )
        return int(verdict), int(wait_ms) / 1000

    async def close(self) -> None:
        clients, self._clients = self._clients, {}
        for loop, client in clients.items():
            if loop is asyncio.get_running_loop():
                await client.aclose()


Counters: TypeAlias = MemoryCounters | RedisCounters


class FailOpen:
    """What a check does when its counters cannot be reached (Redis down or timing out): it
    lets the request through rather than take TaskPilot down with Redis, and logs that the
    limits are not enforced, at most once every UNREACHABLE_WARNING_SECONDS."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._warned_at = -math.inf

    def __call__(self, exc: Exception) -> None:
        now = self.clock()
        if now - self._warned_at > UNREACHABLE_WARNING_SECONDS:
            self._warned_at = now
            logger.warning(
                "rate limits not enforced: Redis is unreachable",
                extra={"error": type(exc).__name__},
            )
