"""The machine a benchmark ran on: what it is (`environment()`), and how busy it was while a
series ran (`LoadMeter`: this process, PostgreSQL, everything else).

The benchmark shares its cores with whatever else runs; on a busy machine every figure
grows. Each timed series records the cores' average use (from /proc on Linux), so a reader
can tell a slow server from a crowded machine.
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import time
from dataclasses import dataclass
from pathlib import Path

PACKAGES = (
    "openai-agents",
    "mcp",
    "fastapi",
    "starlette",
    "sqlalchemy",
    "psycopg",
    "aiosqlite",
    "httpx",
    "httpx2",
    "pydantic",
)

_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def machine_seconds() -> tuple[float, float] | None:
    """CPU seconds all cores spent busy, and stolen by the hypervisor, since boot (None where
    /proc/stat is missing)."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    except OSError:
        return None
    values = [int(value) for value in fields] + [0] * 8
    idle = values[3] + values[4]  # idle + iowait
    busy = sum(values[:7]) - idle  # user, nice, system, irq, softirq (guest is in user)
    return busy / _TICKS, values[7] / _TICKS


def _process_stat(pid: int | str) -> tuple[str, float] | None:
    """A process's name and the CPU seconds (user + system) it has used; None when gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    name = stat[stat.find("(") + 1 : stat.rfind(")")]
    fields = stat[stat.rfind(")") + 2 :].split()
    return name, (int(fields[11]) + int(fields[12])) / _TICKS  # utime + stime


def process_seconds(pid: int) -> float:
    """CPU seconds (user + system) a process has used, 0 when it is gone."""
    stat = _process_stat(pid)
    return stat[1] if stat is not None else 0.0


def postgres_seconds() -> float:
    """CPU seconds used by running `postgres` processes (the server and its backends)."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            stat = _process_stat(entry.name)
            if stat is not None and stat[0].startswith("postgres"):
                total += stat[1]
    return total


@dataclass(frozen=True)
class Load:
    """Average cores in use during a series: this process, PostgreSQL, all other processes."""

    this_process: float
    postgres: float
    others: float
    stolen: float = 0.0

    def describe(self) -> str:
        """E.g. `this 1.0 · pg 0.3 · other 0.6` (and `· stolen 0.2` when the VM lost time)."""
        text = f"this {self.this_process:.1f} · pg {self.postgres:.1f} · other {self.others:.1f}"
        return text + (f" · stolen {self.stolen:.1f}" if self.stolen >= 0.05 else "")


class LoadMeter:
    """Measures `Load` between `start()` and `stop()`."""

    def __init__(self) -> None:
        self._wall = 0.0
        self._self = 0.0
        self._machine: tuple[float, float] | None = None
        self._postgres = 0.0

    def start(self) -> LoadMeter:
        """Take the opening readings."""
        self._wall = time.monotonic()
        self._self = time.process_time()
        self._machine = machine_seconds()
        self._postgres = postgres_seconds()
        return self

    def stop(self) -> Load | None:
        """The load since `start()`, or None where /proc is unavailable."""
        machine = machine_seconds()
        wall = time.monotonic() - self._wall
        if machine is None or self._machine is None or wall <= 0:
            return None
        own = (time.process_time() - self._self) / wall
        postgres = (postgres_seconds() - self._postgres) / wall
        total = (machine[0] - self._machine[0]) / wall
        stolen = (machine[1] - self._machine[1]) / wall
        return Load(own, postgres, max(0.0, total - own - postgres), stolen)


def environment() -> dict[str, str]:
    """The machine and the versions that matter for these numbers."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = []
    for package in PACKAGES:
        try:
            versions.append(f"{package} {importlib.metadata.version(package)}")
        except importlib.metadata.PackageNotFoundError:
            continue
    return {
        "cpu": f"{cpu}, {os.cpu_count()} logical cores",
        "os": platform.platform(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "packages": ", ".join(versions),
    }
