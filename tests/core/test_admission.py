"""The worker's admission queue (`core/admission.py`): arrival order, refusal from the
measured rate, and places never lost. Time is a fake clock the tests move; the only real
waiting is the event loop handing places over."""

from __future__ import annotations

import asyncio

import pytest

from taskpilot.core.admission import WorkerBusy, WorkerQueue


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_waiting_turns_get_places_in_the_order_they_arrived() -> None:
    queue = WorkerQueue(places=2, bound_seconds=60, clock=Clock())
    first, second = await queue.enter(), await queue.enter()
    order: list[int] = []

    async def wait(n: int) -> float:
        entered = await queue.enter()
        order.append(n)
        return entered

    waiting = [asyncio.create_task(wait(n)) for n in range(5)]
    await settle()
    assert order == [] and queue.running == 2
    queue.leave(first)
    queue.leave(second)
    await settle()
    assert order == [0, 1]
    for _ in range(3):
        queue.leave(0.0)
        await settle()
    assert order == [0, 1, 2, 3, 4]
    assert queue.running == 2  # places were handed on, never added
    for task in waiting[3:]:
        queue.leave(await task)
    assert queue.running == 0


async def test_a_turn_that_would_wait_past_the_bound_is_refused_at_once_with_the_estimate() -> None:
    clock = Clock()
    queue = WorkerQueue(places=2, bound_seconds=10, clock=clock)
    assert queue.expected_wait(0) is None  # nothing measured yet
    entered = await queue.enter()
    clock.now += 4.0
    queue.leave(entered)  # a turn holds its place ~4 s: a place frees every 2 s
    assert queue.expected_wait(0) == pytest.approx(2.0)

    held = [await queue.enter(), await queue.enter()]
    waiting = [asyncio.create_task(queue.enter()) for _ in range(4)]  # 2, 4, 6, 8 s away
    await settle()
    assert queue.expected_wait(len(waiting)) == pytest.approx(10.0)
    fifth = asyncio.create_task(queue.enter())  # 10 s: at the bound, still let in
    await settle()
    assert not fifth.done()
    with pytest.raises(WorkerBusy) as refused:  # 12 s away: refused without waiting
        await queue.enter()
    assert refused.value.retry_after == 12 and refused.value.code == "busy"

    for _ in range(6):
        queue.leave(held.pop() if held else 0.0)
        await settle()
    assert all(task.done() for task in [*waiting, fifth])


async def test_a_turn_still_waiting_at_the_bound_gives_up_and_loses_nothing() -> None:
    queue = WorkerQueue(places=1, bound_seconds=0.05, clock=Clock())
    entered = await queue.enter()
    with pytest.raises(WorkerBusy):
        await queue.enter()  # nothing measured: it waits the (real) bound, then gives up
    queue.leave(entered)
    assert queue.running == 0
    assert await queue.enter() is not None and queue.running == 1


async def test_a_waiting_turn_whose_client_left_hands_its_place_on() -> None:
    queue = WorkerQueue(places=1, bound_seconds=60, clock=Clock())
    entered = await queue.enter()
    gone = asyncio.create_task(queue.enter())
    next_in_line = asyncio.create_task(queue.enter())
    await settle()
    gone.cancel()  # cancelled while waiting: it just leaves the line
    await settle()
    queue.leave(entered)
    await settle()
    assert next_in_line.done() and queue.running == 1

    # Cancelled in the very moment its place came: either the cancel wins and the place goes
    # to the next in line, or (Python 3.11's `wait_for` keeps a result over a late cancel) it
    # keeps the place and gives it back when it ends. Never is a place lost or doubled.
    late = asyncio.create_task(queue.enter())
    after = asyncio.create_task(queue.enter())
    await settle()
    queue.leave(await next_in_line)
    late.cancel()
    await settle()
    if not late.cancelled():
        assert not after.done() and queue.running == 1
        queue.leave(await late)
        await settle()
    assert after.done() and queue.running == 1
    queue.leave(await after)
    assert queue.running == 0
