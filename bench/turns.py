"""Measurements 1 and 2: the server's time for one chat turn, and its dependence on history.

Every turn is the same: the model double asks for `add_task`, the real MCP server adds the
task to the real database, the double replies, the service stores the turn. The model costs
nothing, so the time is the server's overhead: API, auth, agent service, Agents SDK Runner,
MCP client and server, database.
"""

from __future__ import annotations

import gc
import time
from dataclasses import dataclass

from bench.machine import Load, LoadMeter
from bench.stack import ChatStack
from bench.stats import NS_PER_MS, Summary


@dataclass(frozen=True)
class TurnTiming:
    """Wall-clock samples of timed turns, the process CPU time they used, the machine load."""

    samples_ns: list[int]
    cpu_ns: int
    load: Load | None = None

    @property
    def summary(self) -> Summary:
        """Order statistics of the samples."""
        return Summary.of_ns(self.samples_ns)

    @property
    def cpu_ms_per_turn(self) -> float:
        """Mean process CPU time per timed turn (all threads), in milliseconds."""
        return self.cpu_ns / max(1, len(self.samples_ns)) / NS_PER_MS


class _Series:
    """Samples and CPU time of one kind of turn, collected turn by turn."""

    def __init__(self) -> None:
        self.samples: list[int] = []
        self.cpu = 0

    async def timed(self, stack: ChatStack, conversation_id: str, stream: bool = False) -> None:
        cpu_started = time.process_time_ns()
        elapsed, _ = await stack.chat(conversation_id, stream=stream)
        self.cpu += time.process_time_ns() - cpu_started
        self.samples.append(elapsed)

    def timing(self, load: Load | None) -> TurnTiming:
        return TurnTiming(self.samples, self.cpu, load)


@dataclass(frozen=True)
class Variant:
    """One kind of turn to time: a label, the stack that serves it, JSON or SSE."""

    label: str
    stack: ChatStack
    stream: bool = False


async def measure_turns(variants: list[Variant], turns: int, warmup: int) -> dict[str, TurnTiming]:
    """`warmup` untimed turns, then `turns` timed ones, for each variant in its own conversation.

    Variants alternate turn by turn, so a busy moment on the machine affects them alike.
    After the warm-up each conversation is longer than the history window, so every timed
    turn loads a full window, as a running conversation does.
    """
    conversations: dict[str, str] = {}
    for variant in variants:
        _, first = await variant.stack.chat(None)
        assert isinstance(first, dict)
        conversations[variant.label] = str(first["conversation_id"])
        for _ in range(max(0, warmup - 1)):
            await variant.stack.chat(conversations[variant.label], stream=variant.stream)
    series = {variant.label: _Series() for variant in variants}
    gc.collect()
    meter = LoadMeter().start()
    for _ in range(turns):
        for variant in variants:
            await series[variant.label].timed(
                variant.stack, conversations[variant.label], stream=variant.stream
            )
    load = meter.stop()
    return {label: collected.timing(load) for label, collected in series.items()}


async def measure_history(
    stack: ChatStack, sizes: tuple[int, ...], turns: int, warmup: int
) -> dict[int, TurnTiming]:
    """The same turn in conversations that already hold each of `sizes` messages.

    Each conversation is seeded once in bulk. Sizes alternate turn by turn, so drift and
    machine noise affect them alike, and after every turn its two new messages are deleted
    (untimed), so each timed turn sees exactly the seeded length.
    """
    seeded = {size: await stack.seed_conversation(size) for size in sizes}
    for _ in range(warmup):
        for conversation_id, last_id in seeded.values():
            await stack.chat(conversation_id)
            await stack.trim_conversation(conversation_id, last_id)
    series = {size: _Series() for size in sizes}
    gc.collect()
    meter = LoadMeter().start()
    for _ in range(turns):
        for size, collected in series.items():
            conversation_id, last_id = seeded[size]
            await collected.timed(stack, conversation_id)
            await stack.trim_conversation(conversation_id, last_id)
    load = meter.stop()
    return {size: collected.timing(load) for size, collected in series.items()}


async def measure_floor(stack: ChatStack, requests: int, warmup: int) -> TurnTiming:
    """`GET /api/info` through the same client: the HTTP framework's floor, for scale.

    No auth, no database, no agent: what any request costs in this app and client.
    """
    series = _Series()
    for index in range(warmup + requests):
        cpu_started = time.process_time_ns()
        started = time.perf_counter_ns()
        response = await stack.http.get("/api/info")
        elapsed = time.perf_counter_ns() - started
        response.raise_for_status()
        if index >= warmup:
            series.samples.append(elapsed)
            series.cpu += time.process_time_ns() - cpu_started
    return series.timing(None)
