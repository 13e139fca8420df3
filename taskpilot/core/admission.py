"""A worker's admission queue: at most WORKER_MAX_TURNS turns run at once; the rest wait in
the order they arrived, and only a turn that would wait too long is refused, at once.

Without a cap a worker past its capacity takes on every turn, runs them all slowly, and they
time out waiting for pooled database connections. With it, extra turns wait before touching
the database. How long the next one would wait is estimated from what this worker measured:
a place frees every (mean time a turn holds its place) / (places). A turn whose estimated
wait exceeds the bound (WORKER_QUEUE_SECONDS) gets a 503 `busy` straight away, with that
estimate as its `Retry-After`; one admitted to the queue that still waits past the bound
(the estimate was off) gets the same 503 then. Before the first turn has ended there is no
estimate, and only the bound applies.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections import deque
from collections.abc import Callable

from taskpilot.core import metrics
from taskpilot.core.errors import ErrorCode, TaskPilotError

# Weight of the newest turn in the running mean of how long a turn holds its place.
HOLD_SMOOTHING = 0.1
MAX_RETRY_AFTER_SECONDS = 60


class WorkerBusy(TaskPilotError):
    """This worker's queue is longer than a turn may wait; `retry_after` is the estimate."""

    def __init__(self, retry_after: float = 5) -> None:
        seconds = min(MAX_RETRY_AFTER_SECONDS, max(1, math.ceil(retry_after)))
        super().__init__(
            ErrorCode.BUSY,
            "TaskPilot is very busy right now; try again in a few seconds.",
            seconds,
        )


class WorkerQueue:
    """The places of one worker (one event loop), handed out first come, first served."""

    def __init__(
        self, places: int, bound_seconds: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.places = places
        self.bound = bound_seconds
        self.clock = clock
        self.running = 0
        self.hold_seconds: float | None = None  # running mean; None until a turn has ended
        self._waiting: deque[asyncio.Future[None]] = deque()

    def expected_wait(self, ahead: int) -> float | None:
        """Seconds until a place is free for a turn with `ahead` turns queued before it."""
        if self.hold_seconds is None:
            return None
        return (ahead + 1) * self.hold_seconds / self.places

    async def enter(self) -> float:
        """Wait for a place, in arrival order; returns when the place was taken (the clock's
        reading), for `leave`. `WorkerBusy` when the wait would exceed, or did exceed, the
        bound."""
        if self.running < self.places and not self._waiting:
            self.running += 1
            return self.clock()
        expected = self.expected_wait(len(self._waiting))
        if expected is not None and expected > self.bound:
            metrics.REFUSED_BUSY.inc()
            raise WorkerBusy(expected)
        place: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append(place)
        metrics.WAITING_FOR_WORKER.inc()
        try:
            await asyncio.wait_for(asyncio.shield(place), self.bound)
        except TimeoutError:
            if not place.done():
                place.cancel()
                metrics.REFUSED_BUSY.inc()
                raise WorkerBusy(self.expected_wait(len(self._waiting)) or self.bound) from None
        except BaseException:
            if place.done() and not place.cancelled():
                self._hand_on()  # the place came as this turn gave up: pass it on
            else:
                place.cancel()
            raise
        finally:
            metrics.WAITING_FOR_WORKER.dec()
            if place.cancelled():
                self._forget(place)
        return self.clock()

    def leave(self, entered_at: float) -> None:
        """A turn that held a place since `entered_at` ended: measure it, and hand the place
        to the longest-waiting turn."""
        held = max(0.0, self.clock() - entered_at)
        if self.hold_seconds is None:
            self.hold_seconds = held
        else:
            self.hold_seconds += HOLD_SMOOTHING * (held - self.hold_seconds)
        self._hand_on()

    def _hand_on(self) -> None:
        while self._waiting:
            place = self._waiting.popleft()
            if not place.done():
                place.set_result(None)  # the place goes to it: `running` stays the same
                return
        self.running -= 1

    def _forget(self, place: asyncio.Future[None]) -> None:
        with contextlib.suppress(ValueError):  # already handed on or passed over
            self._waiting.remove(place)
