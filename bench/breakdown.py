"""Where a turn's time goes: wall-clock spans recorded around the parts of one chat turn.

`instrument(runtime)` wraps, on this runtime's objects only (never on classes, never in files
outside bench/), the turn engine's `prepare` and its runner's `run`, the MCP connector's `session`
(open and close) and the tool calls it dispatches (`call_tool`, client and in-process server
together), database sessions, and the SQL dialect's round trips (execute, commit, rollback,
ping). Turns run one at a time, so a single "current phase" is enough to attribute database
round trips to the part of the turn that made them.

The spans add a few microseconds each; the breakdown is measured in its own pass, after the
headline numbers, and is reported as means (which add up) rather than medians (which don't).
"""

from __future__ import annotations

import statistics
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any

from bench.machine import Load, LoadMeter
from bench.model import MODEL_NAME, next_output
from bench.stack import ChatStack
from bench.stats import NS_PER_MS
from taskpilot.agent.engine import PreparedTurn, RunningTurn
from taskpilot.agent.stream_events import response_events
from taskpilot.runtime import Runtime

API, PREPARE, STREAM, MCP_SERVER = "api", "prepare", "stream", "mcp_server"
_MISSING = object()
DB_ROUND_TRIPS = (
    "do_execute",
    "do_execute_no_params",
    "do_executemany",
    "do_commit",
    "do_rollback",
    "do_ping",
)


class TurnRecorder:
    """Accumulates labelled durations (ns) and counts for the turn in progress."""

    def __init__(self) -> None:
        self.phase = API
        self.current: Counter[str] = Counter()
        self.turns: list[Counter[str]] = []

    def add(self, label: str, elapsed_ns: int, count_label: str | None = None) -> None:
        """Add a duration to `label` (and one to the counter `count_label`, if given)."""
        self.current[label] += elapsed_ns
        if count_label:
            self.current[count_label] += 1

    def finish_turn(self, total_ns: int) -> None:
        """Close the turn in progress, whose client-measured time was `total_ns`."""
        self.current["total"] = total_ns
        self.turns.append(self.current)
        self.current = Counter()
        self.phase = API

    def mean_ms(self, label: str) -> float:
        """Mean of a duration label per turn, in milliseconds."""
        if not self.turns:
            return 0.0
        return statistics.fmean(turn[label] for turn in self.turns) / NS_PER_MS

    def mean_count(self, label: str) -> float:
        """Mean of a counter per turn."""
        if not self.turns:
            return 0.0
        return statistics.fmean(turn[label] for turn in self.turns)

    def labels(self) -> set[str]:
        """Every label recorded in any turn."""
        return {label for turn in self.turns for label in turn}


def _timed(
    recorder: TurnRecorder, label: str, function: Callable[..., Awaitable[Any]]
) -> Callable[..., Awaitable[Any]]:
    async def timed(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter_ns()
        try:
            return await function(*args, **kwargs)
        finally:
            recorder.add(label, time.perf_counter_ns() - started, f"{label}#")

    return timed


def instrument(runtime: Runtime, recorder: TurnRecorder) -> Callable[[], None]:
    """Install the spans on this runtime's objects; returns a function that removes them."""
    agent, connector, db = runtime.turns, runtime.turns.mcp, runtime.db
    runner = agent._runner  # the engine's part that runs a claimed turn
    dialect = db.engine.sync_engine.dialect
    targets: list[tuple[object, str]] = [
        (agent, "prepare"),
        (runner, "run"),
        (connector, "session"),
        (connector.dispatch, "call_tool"),
        (db, "session"),
        *((dialect, name) for name in DB_ROUND_TRIPS),
    ]
    # (owner, name, its own attribute before, if it had one): restored exactly by `remove`.
    originals = [(owner, name, vars(owner).get(name, _MISSING)) for owner, name in targets]
    prepare, run, session = agent.prepare, runner.run, db.session
    open_session, call_tool = connector.session, connector.dispatch.call_tool

    async def timed_prepare(*args: Any, **kwargs: Any) -> PreparedTurn:
        recorder.phase = PREPARE
        started = time.perf_counter_ns()
        try:
            return await prepare(*args, **kwargs)
        finally:
            recorder.add("prepare", time.perf_counter_ns() - started)
            recorder.phase = API

    async def timed_run(running: RunningTurn) -> None:
        # The engine's run ends right after it emits done (or error), the event the API
        # answers on: the span is the turn's whole time on the response path.
        recorder.phase = STREAM
        started = time.perf_counter_ns()
        try:
            await run(running)
        finally:
            recorder.add("stream", time.perf_counter_ns() - started)
            recorder.phase = API

    @asynccontextmanager
    async def timed_mcp_session(user_id: str) -> AsyncIterator[Any]:
        async with AsyncExitStack() as exits:
            started = time.perf_counter_ns()
            tools = await exits.enter_async_context(open_session(user_id))
            recorder.add("mcp_open", time.perf_counter_ns() - started)
            try:
                yield tools
            finally:
                closing = time.perf_counter_ns()
                await exits.aclose()
                recorder.add("mcp_close", time.perf_counter_ns() - closing)

    async def timed_call_tool(*args: Any, **kwargs: Any) -> Any:
        previous, recorder.phase = recorder.phase, MCP_SERVER
        try:
            return await _timed(recorder, "mcp_call_tool", call_tool)(*args, **kwargs)
        finally:
            recorder.phase = previous

    @asynccontextmanager
    async def timed_session() -> AsyncIterator[Any]:
        phase = recorder.phase
        started = time.perf_counter_ns()
        try:
            async with session() as opened:
                yield opened
        finally:
            recorder.add(f"session:{phase}", time.perf_counter_ns() - started)

    def round_trip(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter_ns()
            try:
                return function(*args, **kwargs)
            finally:
                elapsed = time.perf_counter_ns() - started
                label = f"db:{recorder.phase}"
                recorder.add(label, elapsed, f"{label}#")
                recorder.add(f"sql:{name}", elapsed, f"sql:{name}#")

        return timed

    setattr(agent, "prepare", timed_prepare)  # noqa: B010 - instance attributes on purpose
    setattr(runner, "run", timed_run)  # noqa: B010
    setattr(connector, "session", timed_mcp_session)  # noqa: B010
    setattr(connector.dispatch, "call_tool", timed_call_tool)  # noqa: B010
    setattr(db, "session", timed_session)  # noqa: B010
    for name in DB_ROUND_TRIPS:
        setattr(dialect, name, round_trip(name, getattr(dialect, name)))

    def remove() -> None:
        for owner, name, original in originals:
            if original is _MISSING:
                vars(owner).pop(name, None)  # the class's method shows through again
            else:
                setattr(owner, name, original)

    return remove


@dataclass(frozen=True)
class BreakdownRow:
    """One line of the breakdown: a part of the turn, its mean time and share of the turn."""

    label: str
    mean_ms: float
    share: float
    indent: int = 0
    note: str = ""


@dataclass(frozen=True)
class Breakdown:
    """Mean time per turn by part, from an instrumented pass of `turns` turns."""

    turns: int
    total_ms: float
    rows: list[BreakdownRow]
    sql_per_turn: dict[str, tuple[float, float]]
    """Driver call kind (execute, commit, ...) -> (calls per turn, mean ms per turn)."""
    model_double_ms: float
    load: Load | None = None
    api_session_ms: float = 0.0
    """How long the API request's own database session (`SessionDep`) stayed open per turn."""


def model_double_cost_ms(repeats: int = 200) -> float:
    """What the model double itself costs per turn (its two responses), timed in isolation."""
    user_input: list[Any] = [{"role": "user", "content": "add"}]
    tool_output: list[Any] = [{"type": "function_call_output", "call_id": "c", "output": "{}"}]
    started = time.perf_counter_ns()
    for _ in range(repeats):
        for items in (user_input, tool_output):
            response_events(next_output(items), "resp_x", MODEL_NAME)
    return (time.perf_counter_ns() - started) / repeats / NS_PER_MS


async def measure_breakdown(stack: ChatStack, turns: int, warmup: int) -> Breakdown:
    """Run `warmup` + `turns` instrumented turns in one conversation and break them down."""
    recorder = TurnRecorder()
    remove = instrument(stack.runtime, recorder)
    try:
        _, first = await stack.chat(None)
        assert isinstance(first, dict)
        conversation_id = str(first["conversation_id"])
        for _ in range(max(0, warmup - 1)):
            await stack.chat(conversation_id)
        recorder.turns.clear()
        recorder.current.clear()
        meter = LoadMeter().start()
        for _ in range(turns):
            elapsed, _ = await stack.chat(conversation_id)
            recorder.finish_turn(elapsed)
        load = meter.stop()
    finally:
        remove()
    return _summarise(recorder, load)


def _summarise(recorder: TurnRecorder, load: Load | None) -> Breakdown:
    m = recorder.mean_ms
    total = m("total")
    stream = m("stream")
    mcp_client = sum(m(label) for label in ("mcp_open", "mcp_call_tool", "mcp_close"))
    finish = m(f"session:{STREAM}")
    api = total - m("prepare") - stream

    def row(label: str, value: float, indent: int = 0, note: str = "") -> BreakdownRow:
        return BreakdownRow(label, value, value / total if total else 0.0, indent, note)

    rows = [
        row("Whole turn (client-measured)", total),
        row(
            "API app outside the agent service",
            api,
            1,
            "ASGI, CORS/size middleware, JWT check, user lookup, request/response JSON, "
            "handing events from the turn's task to the request",
        ),
        row("of which database round trips", m(f"db:{API}"), 2, _count(recorder, API)),
        row(
            "`TurnEngine.prepare`",
            m("prepare"),
            1,
            "conversation lookup, history window, store the user's message",
        ),
        row("of which database round trips", m(f"db:{PREPARE}"), 2, _count(recorder, PREPARE)),
        row("`TurnRunner.run` until the done event", stream, 1),
        row(
            "MCP session open (`McpConnector.session`)",
            m("mcp_open"),
            2,
            "`mcp.Client` on the in-process server (direct dispatch), tools shared per process",
        ),
        row(
            "MCP `call_tool` add_task",
            m("mcp_call_tool"),
            2,
            "official client session and the in-process server's handling, together",
        ),
        row(
            "of which database round trips", m(f"db:{MCP_SERVER}"), 3, _count(recorder, MCP_SERVER)
        ),
        row("MCP session close", m("mcp_close"), 2),
        row("`finish_turn`: store the reply (one session)", finish, 2),
        row("of which database round trips", m(f"db:{STREAM}"), 3, _count(recorder, STREAM)),
        row(
            "Agents SDK Runner, model double, event translation (the rest)",
            stream - mcp_client - finish,
            2,
        ),
    ]
    sql = {
        name.removeprefix("do_"): (recorder.mean_count(f"sql:{name}#"), m(f"sql:{name}"))
        for name in DB_ROUND_TRIPS
        if recorder.mean_count(f"sql:{name}#") > 0
    }
    return Breakdown(
        len(recorder.turns), total, rows, sql, model_double_cost_ms(), load, m(f"session:{API}")
    )


def _count(recorder: TurnRecorder, phase: str) -> str:
    return f"{recorder.mean_count(f'db:{phase}#'):.1f} per turn"
