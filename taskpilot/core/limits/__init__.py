"""Limits that protect the service: turns per minute and turns running at once per user,
requests and hosted ChatKit sessions per user, sign-in attempts per email from one client
address and per client address, and calendar feed fetches per client address. `Limits` is
the one object the rest of TaskPilot asks.

- `counters.py`: the windows and leases they are counted in, in Redis or in the process;
- `turns.py`: a turn's slot, its person's lease and its worker's place (`TurnSlot`);
- `addresses.py`: which client a request comes from (`client_address`, `address_group`);
- `refusals.py`: what a person reads when over a limit (`RateLimited`).

With `REFLEX_REDIS_URL` set the counters live in Redis, so every worker (on any machine)
enforces the same limit; without it they live in the process, which is exact for one worker.
Redis being unreachable does not take TaskPilot down with it: the check lets the request
through and logs a warning (at most once a minute).

Why not the `limits` library: it counts one key per call and has no leases. A sign-in attempt
is counted in two windows at once (the email from this address, and the address) or in
neither, so a refused flood records nothing; a running turn holds a lease that its end gives
back and its worker's death lets run out.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable

from taskpilot.core import metrics
from taskpilot.core.config import Settings
from taskpilot.core.limits.addresses import address_group
from taskpilot.core.limits.counters import PREFIX, Counters, FailOpen, MemoryCounters, RedisCounters
from taskpilot.core.limits.refusals import RateLimited, wait_in_words
from taskpilot.core.limits.turns import TurnAdmission, TurnSlot

# Hosted ChatKit sessions one person may create in a window (each costs OpenAI quota).
HOSTED_SESSIONS_PER_WINDOW = 20
HOSTED_SESSION_WINDOW_SECONDS = 600
# One client address may make this many times SIGN_IN_ATTEMPTS sign-in attempts per window,
# over every email: room for a household or an office behind one address, not for trying a
# password on many accounts.
ADDRESS_SIGN_IN_FACTOR = 5


class Limits:
    """The per-user and per-client limits of one process, configured from settings. `clock`
    times the in-process counters and the worker's queue (Redis keeps its own time)."""

    def __init__(self, settings: Settings, clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self._counters: Counters = (
            RedisCounters(settings.reflex_redis_url)
            if settings.reflex_redis_url
            else MemoryCounters(clock=clock)
        )
        self._fail_open = FailOpen(clock)
        self.turns = TurnAdmission(settings, self._counters, self._fail_open, clock)

    async def admit_turn(self, user_id: str) -> TurnSlot:
        """A slot for a new turn of this user's; `RateLimited` when over either limit,
        `WorkerBusy` when this worker's queue is longer than WORKER_QUEUE_SECONDS of waiting."""
        return await self.turns.admit(user_id)

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
            self._fail_open(exc)
            return
        if verdict:
            metrics.LIMITED_REQUESTS.inc()
            raise RateLimited(f"Too many requests; try again in {wait_in_words(wait)}.", wait)

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
            self._fail_open(exc)
            return
        if verdict:
            metrics.LIMITED_HOSTED_SESSIONS.inc()
            raise RateLimited(
                f"Too many ChatKit sessions; try again in {wait_in_words(wait)}.", wait
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
            self._fail_open(exc)
            return
        if verdict:
            metrics.LIMITED_SIGN_IN.inc()
            raise RateLimited(
                f"Too many sign-in attempts; try again in {wait_in_words(wait)}.", wait
            )

    async def calendar_feed(self, client: str) -> None:
        """Count a fetch of a calendar feed by its secret URL (which needs no sign-in);
        `RateLimited` past CALENDAR_FEED_FETCHES_PER_MINUTE from this client's address group.
        Counted before the secret is looked at, found or not, so the answer says nothing
        about it."""
        limit = self.settings.calendar_feed_fetches_per_minute
        if not limit:
            return
        key = f"{PREFIX}calendar-feed:ip:{address_group(client)}"
        try:
            verdict, wait = await self._counters.hit({key: limit}, 60)
        except Exception as exc:  # Redis down or timing out: serve rather than refuse
            self._fail_open(exc)
            return
        if verdict:
            metrics.LIMITED_CALENDAR_FEED.inc()
            raise RateLimited(
                f"Too many calendar requests; try again in {wait_in_words(wait)}.", wait
            )

    async def close(self) -> None:
        """Close the Redis connections this loop opened."""
        if isinstance(self._counters, RedisCounters):
            await self._counters.close()
