"""Admitting a turn: a place in its person's quota (turns running at once, turns started per
minute) and a place in its worker's queue (`core/admission.py`), held together as a `TurnSlot`
until the turn ends.

The person's place is a lease: a worker that dies mid-turn frees it when the lease runs out,
not never.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from taskpilot.core import metrics
from taskpilot.core.admission import WorkerQueue
from taskpilot.core.config import Settings
from taskpilot.core.limits.counters import PREFIX, Counters, FailOpen
from taskpilot.core.limits.refusals import RateLimited, wait_in_words

TURN_WINDOW_SECONDS = 60


@dataclass
class TurnSlot:
    """One running turn's place in its user's quota and in its worker; `release()` when the
    turn ends."""

    admission: TurnAdmission
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
            await self.admission.release(self)


class TurnAdmission:
    """Hands out `TurnSlot`s: per user through the counters (shared when they are in Redis),
    per worker through one `WorkerQueue` for each event loop."""

    def __init__(
        self,
        settings: Settings,
        counters: Counters,
        fail_open: FailOpen,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.counters = counters
        self.fail_open = fail_open
        self.clock = clock
        # A worker killed mid-turn frees its slot after this long: a turn waits for a place at
        # most WORKER_QUEUE_SECONDS, then ends by its deadline, so its slot never expires while
        # it waits or runs.
        self.lease_seconds = (
            settings.worker_queue_seconds
            + settings.turn_deadline_seconds
            + settings.turn_lease_seconds
        )
        self._worker_queues: dict[asyncio.AbstractEventLoop, WorkerQueue] = {}

    def worker_queue(self) -> WorkerQueue:
        """This worker's admission queue (one per event loop)."""
        loop = asyncio.get_running_loop()
        queue = self._worker_queues.get(loop)
        if queue is None:
            settings = self.settings
            queue = WorkerQueue(
                settings.worker_max_turns, settings.worker_queue_seconds, clock=self.clock
            )
            self._worker_queues[loop] = queue
        return queue

    async def admit(self, user_id: str) -> TurnSlot:
        """A slot for a new turn of this user's; `RateLimited` when over either limit,
        `WorkerBusy` when this worker's queue is longer than WORKER_QUEUE_SECONDS of waiting."""
        slot = await self._user_slot(user_id)
        try:
            queue = self.worker_queue()
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
            verdict, wait = await self.counters.admit_turn(
                keys,
                slot.slot_id,
                self.lease_seconds,
                settings.max_concurrent_turns,
                TURN_WINDOW_SECONDS,
                settings.chat_turns_per_minute,
            )
        except Exception as exc:  # Redis down or timing out: serve rather than refuse
            self.fail_open(exc)
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
                f" {wait_in_words(wait)}.",
                wait,
            )
        if not settings.max_concurrent_turns:
            slot.released = True
        return slot

    async def release(self, slot: TurnSlot) -> None:
        """End a turn's lease (called by `TurnSlot.release`)."""
        try:
            await self.counters.release(f"{PREFIX}running:{slot.user_id}", slot.slot_id)
        except Exception as exc:  # the lease expires by itself
            self.fail_open(exc)
