"""Where the CPU goes during turns: a `cProfile` pass grouped by package.

cProfile (standard library, no extra dependency) adds overhead per Python call, so the
absolute times it reports are inflated; the shares between packages are what to read.
"""

from __future__ import annotations

import cProfile
import pstats
import sys
import sysconfig
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from bench.stack import ChatStack
from taskpilot.core.config import PROJECT_ROOT

_SITE_PACKAGES = {
    Path(p).resolve() for p in (sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"])
}
K = TypeVar("K")
_STDLIB = Path(sysconfig.get_paths()["stdlib"]).resolve()


@dataclass(frozen=True)
class ProfileRow:
    """Own (exclusive) CPU time of one package or function, per turn and as a share."""

    name: str
    ms_per_turn: float
    share: float


@dataclass(frozen=True)
class Profile:
    """A cProfile pass over `turns` turns: own CPU time by package and the top functions;
    `idle_ms_per_turn` is the event loop's wait in epoll, kept out of the CPU figures."""

    turns: int
    total_ms_per_turn: float
    idle_ms_per_turn: float
    packages: list[ProfileRow]
    functions: list[ProfileRow]
    cumulative: list[ProfileRow]


def package_of(filename: str) -> str:
    """The package a code object's file belongs to: `sqlalchemy`, `taskpilot`, `asyncio`..."""
    if filename == "~" or filename.startswith("<"):
        return "(C built-ins)"
    path = Path(filename).resolve()
    for site in _SITE_PACKAGES:
        if path.is_relative_to(site):
            return path.relative_to(site).parts[0].removesuffix(".py")
    if path.is_relative_to(PROJECT_ROOT):
        return path.relative_to(PROJECT_ROOT).parts[0].removesuffix(".py")
    if path.is_relative_to(_STDLIB):
        return "stdlib " + path.relative_to(_STDLIB).parts[0].removesuffix(".py")
    return path.name


def _largest_first(values: dict[K, float]) -> list[tuple[K, float]]:
    return sorted(values.items(), key=lambda item: -item[1])


def _function_name(key: tuple[str, int, str]) -> str:
    filename, line, name = key
    if filename == "~":
        return name
    path = Path(filename)
    package = package_of(filename)
    return f"{package}: {path.name}:{line} {name}"


# The event loop blocked in epoll is waiting, not working: reported apart from CPU time.
IDLE_FUNCTIONS = frozenset({"<method 'poll' of 'select.epoll' objects>"})
IDLE = "(idle: event loop waiting for I/O)"

# Pure-CPU functions whose cumulative time (with callees) answers "how much is X".
# Coroutines and greenlet-driven database code are left out: cProfile's cumulative time is
# unreliable across their suspensions.
CUMULATIVE_OF_INTEREST = (
    ("agents/mcp/util.py", "get_all_function_tools", "MCP tools → SDK function tools"),
    ("agents/mcp/server.py", "_snapshot_tools", "SDK snapshot of the tool list"),
    ("taskpilot/core/security.py", "verify_taskpilot_token", "JWT checks (API + each MCP request)"),
    ("taskpilot/core/security.py", "_mint", "per-turn MCP token"),
    ("taskpilot/agent/model_input.py", "history_to_input", "stored history → model input"),
    ("taskpilot/agent/instructions.py", "build_instructions", "agent instructions"),
    ("copy.py", "deepcopy", "all deep copies (SDK schemas, pydantic model_copy)"),
)


async def profile_turns(stack: ChatStack, turns: int, warmup: int, top: int = 15) -> Profile:
    """Run `warmup` plain turns, then `turns` under cProfile; summarise own time."""
    _, first = await stack.chat(None)
    assert isinstance(first, dict)
    conversation_id = str(first["conversation_id"])
    for _ in range(max(0, warmup - 1)):
        await stack.chat(conversation_id)
    profiler = cProfile.Profile()
    profiler.enable()
    try:
        for _ in range(turns):
            await stack.chat(conversation_id)
    finally:
        profiler.disable()
    stats = pstats.Stats(profiler, stream=sys.stderr)
    raw = stats.stats  # type: ignore[attr-defined]
    own: dict[str, float] = defaultdict(float)
    functions: dict[tuple[str, int, str], float] = defaultdict(float)
    cumulative: dict[str, float] = defaultdict(float)
    idle = 0.0
    for key, (_, _, tottime, cumtime, _) in raw.items():
        if key[2] in IDLE_FUNCTIONS:
            idle += tottime
            continue
        own[package_of(key[0])] += tottime
        functions[key] += tottime
        for suffix, name, meaning in CUMULATIVE_OF_INTEREST:
            if key[2] == name and key[0].endswith(suffix):
                label = f"{suffix.rsplit('/', 1)[-1]} {name} — {meaning}"
                cumulative[label] = max(cumulative[label], cumtime)
    total = sum(own.values())

    def rows(items: list[tuple[str, float]]) -> list[ProfileRow]:
        return [
            ProfileRow(name, seconds * 1000 / turns, seconds / total if total else 0.0)
            for name, seconds in items
        ]

    return Profile(
        turns=turns,
        total_ms_per_turn=total * 1000 / turns,
        idle_ms_per_turn=idle * 1000 / turns,
        packages=rows(_largest_first(own)),
        functions=rows([(_function_name(k), v) for k, v in _largest_first(functions)[:top]]),
        cumulative=rows(_largest_first(cumulative)),
    )
