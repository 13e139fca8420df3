"""Limits that protect the service: turns per minute and turns running at once per user, and
sign-in attempts per email from one client address and per client address.

With `REFLEX_REDIS_URL` set the counters live in Redis, so every worker (on any machine)
enforces the same limit; each check is one Lua script, atomic and one round trip. Without
Redis they live in the process, which is exact for one worker. A turn's slot is a lease: a
worker that dies mid-turn frees it when the lease runs out, not never.

Redis being unreachable does not take TaskPilot down with it: the check lets the request
through and logs a warning (at most once a minute).
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import logging
import math
import time
import uuid
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Any

from taskpilot.core import metrics
from taskpilot.core.admission import WorkerQueue
from taskpilot.core.config import Settings
from taskpilot.core.errors import ErrorCode, TaskPilotError

logger = logging.getLogger("taskpilot.limits")

PREFIX = "taskpilot:limits:"
# Hosted ChatKit sessions one person may create in a window (each costs OpenAI quota).
HOSTED_SESSIONS_PER_WINDOW = 20
HOSTED_SESSION_WINDOW_SECONDS = 600
# The most keys the in-process counters keep (beyond, the least recently used go): a few MiB.
MAX_MEMORY_KEYS = 50_000
TURN_WINDOW_SECONDS = 60
# One client address may make this many times SIGN_IN_ATTEMPTS sign-in attempts per window,
# over every email: room for a household or an office behind one address, not for trying a
# password on many accounts.
ADDRESS_SIGN_IN_FACTOR = 5
# An IPv6 client is counted by this prefix: one subscriber or host is usually given a whole
# /64, so counting its addresses one by one would give an attacker 2**64 fresh starts.
IPV6_CLIENT_PREFIX = 64
# How much of a client "address" that is not an IP address (a proxy's odd header) is kept.
MAX_ADDRESS_LENGTH = 64


class RateLimited(TaskPilotError):
    """Over a limit; `retry_after` is whole seconds until a retry can succeed."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(ErrorCode.RATE_LIMITED, message, max(1, math.ceil(retry_after)))


@dataclass
class TurnSlot:
    """One running turn's place in its user's quota and in its worker; `release()` when the
    turn ends."""

    limits: Limits
    user_id: str
    slot_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    released: bool = False  # the user's place (nothing to give back when unlimited)
    worker: WorkerQueue | None = None  # the worker's place (see `core/admission.py`)
    entered_at: float = 0.0

    async def release(self) -> None:
        """Give the places back (idempotent)."""
        if self.worker is not None:
            worker, self.worker = self.worker, None
            worker.leave(self.entered_at)
        if not self.released:
            self.released = True
            await self.limits.release(self)


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


class _MemoryCounters:
    """The same windows and leases in this process (one worker, or tests), bounded: a key
    whose window has passed is forgotten, a refusal records nothing, and past `max_keys` the
    least recently used key goes, so a flood of new keys cannot grow the worker."""

    def __init__(self, max_keys: int | None = None) -> None:
        self.max_keys = MAX_MEMORY_KEYS if max_keys is None else max_keys
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
        now = time.monotonic()
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
        now = time.monotonic()
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


class _RedisCounters:
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


def client_address(peer: str | None, forwarded_for: str | None, trusted_proxies: int) -> str:
    """The client's address: the socket's peer, or with N trusted proxies in front, the
    address N hops back in X-Forwarded-For (what the outermost trusted proxy saw)."""
    if trusted_proxies and forwarded_for:
        hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
        if hops:
            return hops[-min(trusted_proxies, len(hops))]
    return peer or "unknown"


def address_group(address: str) -> str:
    """The addresses counted as one client for sign-in limits: an IPv4 address by itself (also
    when written as IPv4-mapped IPv6), an IPv6 address by its /64, anything else as given
    (cut to MAX_ADDRESS_LENGTH characters)."""
    text = address.strip()
    # Some proxies add the port ("203.0.113.9:4711", "[2001:db8::1]:4711"): a new one for each
    # connection, so it must not make a new client.
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return address[:MAX_ADDRESS_LENGTH]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, IPV6_CLIENT_PREFIX), strict=False))
    return str(ip)


class Limits:
    """The per-user and per-client limits of one process, configured from settings."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.shared = settings.reflex_redis_url is not None
        self._counters: _MemoryCounters | _RedisCounters = (
            _RedisCounters(settings.reflex_redis_url)
            if settings.reflex_redis_url
            else _MemoryCounters()
        )
        # A worker killed mid-turn frees its slot after this long: a turn waits for a place at
        # most WORKER_QUEUE_SECONDS, then ends by its deadline, so its slot never expires while
        # it waits or runs.
        self.lease_seconds = (
            settings.worker_queue_seconds
            + settings.turn_deadline_seconds
            + settings.turn_lease_seconds
        )
        self._warned_at = -math.inf
        self._worker_queues: dict[asyncio.AbstractEventLoop, WorkerQueue] = {}

    def _worker_queue(self) -> WorkerQueue:
        """This worker's admission queue (one per event loop)."""
        loop = asyncio.get_running_loop()
        queue = self._worker_queues.get(loop)
        if queue is None:
            settings = self.settings
            queue = WorkerQueue(settings.worker_max_turns, settings.worker_queue_seconds)
            self._worker_queues[loop] = queue
        return queue

    def _unavailable(self, exc: Exception) -> None:
        now = time.monotonic()
        if now - self._warned_at > 60:
            self._warned_at = now
            logger.warning(
                "rate limits not enforced: Redis is unreachable",
                extra={"error": type(exc).__name__},
            )

    async def admit_turn(self, user_id: str) -> TurnSlot:
        """A slot for a new turn of this user's; `RateLimited` when over either limit,
        `WorkerBusy` when this worker's queue is longer than WORKER_QUEUE_SECONDS of waiting."""
        slot = await self._user_slot(user_id)
        try:
            queue = self._worker_queue()
            slot.entered_at = await queue.enter()
            slot.worker = queue
        except BaseException:
            await slot.release()
            raise
        return slot

    async def _user_slot(self, user_id: str) -> TurnSlot:
        settings = self.settings
        slot = TurnSlot(self, user_id)
        if not (settings.max_concurrent_turns or settings.chat_turns_per_minute):
            slot.released = True
            return slot
        keys = (f"{PREFIX}running:{user_id}", f"{PREFIX}turns:{user_id}")
        try:
            verdict, wait = await self._counters.admit_turn(
                keys,
                slot.slot_id,
                self.lease_seconds,
                settings.max_concurrent_turns,
                TURN_WINDOW_SECONDS,
                settings.chat_turns_per_minute,
            )
        except Exception as exc:  # Redis down or timing out: serve rather than refuse
            self._unavailable(exc)
            slot.released = True
            return slot
        if verdict == 1:
            metrics.LIMITED_RUNNING_TURNS.inc()
            running = settings.max_concurrent_turns
            replies = "a reply" if running == 1 else f"{running} replies"
            raise RateLimited(
                f"You already have {replies} on the way; wait for one to finish, then send"
                " this again.",
                min(wait, 5),
            )
        if verdict == 2:
            metrics.LIMITED_TURNS_PER_MINUTE.inc()
            per_minute = settings.chat_turns_per_minute
            messages = "1 message" if per_minute == 1 else f"{per_minute} messages"
            raise RateLimited(
                f"You've reached the limit of {messages} a minute; try again in"
                f" {max(1, math.ceil(wait))} s.",
                wait,
            )
        if not settings.max_concurrent_turns:
            slot.released = True
        return slot

    async def release(self, slot: TurnSlot) -> None:
        """End a turn's lease (called by `TurnSlot.release`)."""
        try:
            await self._counters.release(f"{PREFIX}running:{slot.user_id}", slot.slot_id)
        except Exception as exc:  # the lease expires by itself
            self._unavailable(exc)

    async def request(self, user_id: str) -> None:
        """Count a request that is not a turn (listings, history, ChatKit's reads and edits);
        `RateLimited` past REQUESTS_PER_MINUTE a person. Turns have their own limits."""
        limit = self.settings.requests_per_minute
        if not limit:
            return
        key = f"{PREFIX}requests:{user_id}"
        try:
            verdict, wait = await self._counters.hit({key: limit}, 60)
        except Exception as exc:  # Redis down or timing out: serve rather than refuse
            self._unavailable(exc)
            return
        if verdict:
            metrics.LIMITED_REQUESTS.inc()
            raise RateLimited(f"Too many requests; try again in {_minutes_or_seconds(wait)}.", wait)

    async def hosted_session(self, user_id: str) -> None:
        """Count a hosted ChatKit session (each spends the operator's OpenAI quota);
        `RateLimited` past HOSTED_SESSIONS_PER_WINDOW a person in HOSTED_SESSION_WINDOW_SECONDS.
        ChatKit asks again only when a secret expires or the page loads, so a person never
        comes near it."""
        key = f"{PREFIX}hosted-sessions:{user_id}"
        try:
            verdict, wait = await self._counters.hit(
                {key: HOSTED_SESSIONS_PER_WINDOW}, HOSTED_SESSION_WINDOW_SECONDS
            )
        except Exception as exc:  # Redis down or timing out: serve rather than refuse
            self._unavailable(exc)
            return
        if verdict:
            metrics.LIMITED_HOSTED_SESSIONS.inc()
            raise RateLimited(
                f"Too many ChatKit sessions; try again in {_minutes_or_seconds(wait)}.", wait
            )

    async def sign_in_attempt(self, email: str, client: str) -> None:
        """Count a sign-in or sign-up attempt; `RateLimited` when this email has made
        SIGN_IN_ATTEMPTS from this client address in the window, or this address has made
        ADDRESS_SIGN_IN_FACTOR times as many over all emails.

        An email is never limited on its own: attempts from elsewhere cannot lock its owner
        out of signing in from their own address."""
        limit = self.settings.sign_in_attempts
        if not limit:
            return
        window = self.settings.sign_in_window_seconds
        group = address_group(client)
        # Hashed: Redis need not hold people's email addresses. (surrogatepass: a hostile form
        # can send text with no UTF-8 form, and it must be counted, not crash the count.)
        pair = f"{email.strip().lower()}\n{group}"
        who = hashlib.sha256(pair.encode(errors="surrogatepass")).hexdigest()[:32]
        limits = {
            f"{PREFIX}sign-in:email-at-address:{who}": limit,
            f"{PREFIX}sign-in:ip:{group}": limit * ADDRESS_SIGN_IN_FACTOR,
        }
        try:
            verdict, wait = await self._counters.hit(limits, window)
        except Exception as exc:
            self._unavailable(exc)
            return
        if verdict:
            metrics.LIMITED_SIGN_IN.inc()
            raise RateLimited(
                f"Too many sign-in attempts; try again in {_minutes_or_seconds(wait)}.", wait
            )

    async def close(self) -> None:
        """Close the Redis connections this loop opened."""
        if isinstance(self._counters, _RedisCounters):
            await self._counters.close()


def _minutes_or_seconds(seconds: float) -> str:
    whole = max(1, math.ceil(seconds))
    if whole < 90:
        return f"{whole} s"
    return f"{math.ceil(whole / 60)} minutes"
