"""Profiling the workers with py-spy (optional, `--profile`): where their CPU goes, by the
package of the innermost frame and by selected areas of the turn."""

from __future__ import annotations

import asyncio
import math
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

# Areas of the workers' CPU: a sample counts for an area when any frame of its stack matches.
PROFILE_AREAS = (
    ("model calls: `OpenAIChatCompletionsModel.stream_response`", ("stream_response (agents/",)),
    ("&nbsp;&nbsp;↳ `AsyncCompletions.create` (request built and sent)", ("Completions.create",)),
    ("&nbsp;&nbsp;&nbsp;&nbsp;↳ openai's param `transform`", ("openai/_utils/_transform.py",)),
    ("&nbsp;&nbsp;↳ chunks into events (`ChatCmplStreamHandler`)", ("ChatCmplStreamHandler",)),
    ("MCP tool call, client side (`mcp/client`)", ("(mcp/client/",)),
    ("MCP tool call, server side (`mcp/server`)", ("(mcp/server/",)),
    ("`TurnEngine.prepare` (the question stored, the history read)", ("TurnEngine.prepare",)),
    ("`TurnStore.finish` (the reply stored)", ("TurnStore.finish",)),
    ("database: psycopg + SQLAlchemy (any caller)", ("(psycopg/", "(sqlalchemy/")),
    ("SSE relay: `StreamingResponse` sends", ("StreamingResponse",)),
    ("thread pool (`run_in_threadpool`, worker threads)", ("run_in_threadpool", "WorkerThread")),
    ("rate limits (`taskpilot/core/limits/`, redis)", ("core/limits/", "(redis/")),
    ("logging", ("(logging/",)),
    ("Granian's native side (no Python frame)", ("<native>",)),
)


@dataclass
class WorkerProfile:
    """py-spy samples of both workers: own time by package, and selected areas."""

    samples: int
    seconds: float
    rate: int
    packages: list[tuple[str, float]]
    areas: list[tuple[str, float]]


def _package(frame: str) -> str:
    """The package a py-spy frame (`function (path/file.py:line)`) belongs to."""
    if frame == "<native>":
        return "Granian native (no Python frame)"
    path = frame[frame.rfind("(") + 1 :].split(":")[0]
    top = path.split("/")[0].removesuffix(".py")
    if top.startswith("<frozen"):
        top = top.removeprefix("<frozen ").rstrip(">")
    return f"stdlib: {top}" if top in sys.stdlib_module_names else top


def read_profile(paths: list[Path], seconds: float, rate: int) -> WorkerProfile:
    """Summarise py-spy `raw` (collapsed) output files."""
    own: Counter[str] = Counter()
    areas: Counter[str] = Counter()
    total = 0
    for path in paths:
        for line in path.read_text(errors="replace").splitlines():
            stack, _, count_text = line.rpartition(" ")
            if not count_text.isdigit():
                continue
            count = int(count_text)
            frames = [f for f in stack.split(";") if f.strip()] or ["<native>"]
            total += count
            own[_package(frames[-1])] += count
            for name, needles in PROFILE_AREAS:
                if any(needle in frame for frame in frames for needle in needles):
                    areas[name] += count
    share = (lambda n: n / total) if total else (lambda n: math.nan)
    return WorkerProfile(
        samples=total,
        seconds=seconds,
        rate=rate,
        packages=[(name, share(n)) for name, n in own.most_common(14)],
        areas=[(name, share(areas[name])) for name, _ in PROFILE_AREAS],
    )


async def record(py_spy: str, pids: list[int], seconds: float, rate: int) -> WorkerProfile | None:
    """Sample each process with py-spy for `seconds` at `rate` Hz; None if nothing was
    recorded (py-spy needs ptrace)."""
    with tempfile.TemporaryDirectory(prefix="taskpilot-load-profile-") as tmp:
        outputs = [Path(tmp) / f"worker-{pid}.txt" for pid in pids]
        spies = [
            await asyncio.create_subprocess_exec(
                py_spy,
                "record",
                "--pid",
                str(pid),
                "--duration",
                str(int(seconds)),
                "--rate",
                str(rate),
                "--nonblocking",
                "--format",
                "raw",
                "--output",
                str(path),
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL,
            )
            for pid, path in zip(pids, outputs, strict=True)
        ]
        await asyncio.gather(*(spy.wait() for spy in spies))
        found = [path for path in outputs if path.exists()]
        return read_profile(found, seconds, rate) if found else None
