"""What runs beside the users during a level, and the readings taken around it: CPU per
process group, the workers' memory, this process's loop lag, a trivial request's latency,
the bench database's connections and counters, and what the workers logged."""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import psycopg
import sqlalchemy as sa

from bench.databases import libpq_url
from bench.load.processes import Workers
from bench.machine import machine_seconds, postgres_seconds, process_seconds

TICK_S = 0.02  # the client's loop-lag ticker
SAMPLE_S = 0.25  # RSS sampling
PROBE_S = 0.2  # GET /api/info probes


def rss_mb(pid: int) -> float:
    """Resident memory of a process in MiB (VmRSS), NaN when it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return math.nan


@dataclass
class CpuReadings:
    """CPU seconds of the processes that matter, read at one moment."""

    wall: float
    processes: dict[str, float]
    postgres: float
    machine: float

    @classmethod
    def take(cls, pids: dict[str, list[int]]) -> CpuReadings:
        machine = machine_seconds()
        return cls(
            time.monotonic(),
            {name: sum(process_seconds(pid) for pid in group) for name, group in pids.items()},
            postgres_seconds(),
            machine[0] if machine else math.nan,
        )

    def cores_since(self, start: CpuReadings) -> dict[str, float]:
        """Average cores each group used between `start` and these readings, plus
        "postgres" and "other" (everything else on the machine)."""
        wall = max(self.wall - start.wall, 1e-9)
        cores = {
            name: (value - start.processes.get(name, 0.0)) / wall
            for name, value in self.processes.items()
        }
        # Backends that exit during the level take their CPU time with them: never below 0.
        cores["postgres"] = max(0.0, (self.postgres - start.postgres) / wall)
        total = (self.machine - start.machine) / wall
        cores["other"] = max(0.0, total - sum(cores.values()))
        cores["workers"] = sum(v for k, v in cores.items() if k.startswith("worker "))
        return cores


class Monitor:
    """During a level: the workers' RSS (peak), this process's loop lag, and the latency of
    a trivial request (GET /api/info on a new connection each time) as a proxy for the
    workers' event-loop lag."""

    def __init__(self, server: Workers, pids: list[int]) -> None:
        self.server = server
        self.pids = pids
        self.connections: dict[str, float] = {}  # peaks: total, idle in transaction, its age
        self.peak_rss: dict[int, float] = dict.fromkeys(pids, 0.0)
        self.lag_ms: list[float] = []
        self.probe_ms: list[float] = []
        self.probe_errors = 0
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> Monitor:
        for job in (self._sample_rss, self._tick, self._probe, self._sample_connections):
            self._tasks.append(asyncio.create_task(self._every(job)))
        return self

    async def stop(self) -> None:
        self._stop.set()
        for task in self._tasks:
            task.cancel()  # a probe may be waiting on a saturated worker
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _sample_connections(self) -> None:
        with contextlib.suppress(psycopg.Error):
            now = await asyncio.to_thread(connection_states, self.server.database_url)
            for key, value in now.items():
                self.connections[key] = max(self.connections.get(key, 0.0), value)
        await asyncio.sleep(1.0)

    async def _every(self, job: Callable[[], Awaitable[None]]) -> None:
        while not self._stop.is_set():
            await job()

    async def _sample_rss(self) -> None:
        for pid in self.pids:
            value = rss_mb(pid)
            if not math.isnan(value):
                self.peak_rss[pid] = max(self.peak_rss[pid], value)
        await asyncio.sleep(SAMPLE_S)

    async def _tick(self) -> None:
        before = time.perf_counter()
        await asyncio.sleep(TICK_S)
        self.lag_ms.append(max(0.0, (time.perf_counter() - before - TICK_S) * 1000))

    async def _probe(self) -> None:
        started = time.perf_counter()
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", self.server.port)
            writer.write(b"GET /api/info HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            await writer.drain()
            await asyncio.wait_for(reader.read(), 30)
            writer.close()
            self.probe_ms.append((time.perf_counter() - started) * 1000)
        except (OSError, TimeoutError):
            self.probe_errors += 1
        await asyncio.sleep(PROBE_S)


# What the workers' log says under load, and how to recognise it.
LOG_SIGNATURES = {
    "pool timeout (`QueuePool limit … timed out`)": "QueuePool limit",
    "`DetachedInstanceError`": "DetachedInstanceError",
    "task exception never retrieved": "exception was never",
    "turn failed (logged by the agent service)": '"msg": "turn failed"',
    "rate limits not enforced (Redis call failed)": "rate limits not enforced",
    "MCP tool returned an error": "MCP tool returned an error",
    "query cancellation": "query cancellation",
}


def log_signatures(path: Path, offset: int) -> dict[str, int]:
    """How often each known signature appears in the log after `offset` bytes."""
    with path.open("rb") as log_file:
        log_file.seek(offset)
        text = log_file.read().decode(errors="replace")
    return {name: text.count(needle) for name, needle in LOG_SIGNATURES.items()}


def _admin_url(url: str) -> str:
    parsed = sa.make_url(url)
    return libpq_url(parsed.set(database="postgres").render_as_string(hide_password=False))


def connection_states(url: str) -> dict[str, float]:
    """The bench database's connections now: all, `idle in transaction`, and the longest
    time one of those has been idle in its transaction (s)."""
    with psycopg.connect(_admin_url(url)) as conn:
        row = conn.execute(
            "SELECT count(*), count(*) FILTER (WHERE state = 'idle in transaction'),"
            " coalesce(extract(epoch FROM max(now() - state_change)"
            " FILTER (WHERE state = 'idle in transaction')), 0)"
            " FROM pg_stat_activity WHERE datname = %s",
            (sa.make_url(url).database,),
        ).fetchone()
    if row is None:
        return {}
    return {"connections": float(row[0]), "idle_in_tx": float(row[1]), "idle_in_tx_s": row[2]}


def database_counters(url: str) -> dict[str, int]:
    """The bench database's transaction and row counters (pg_stat_database)."""
    if not url:
        return {}
    with psycopg.connect(_admin_url(url)) as conn:
        row = conn.execute(
            "SELECT xact_commit, xact_rollback, tup_returned, tup_fetched, tup_inserted,"
            " tup_updated, tup_deleted FROM pg_stat_database WHERE datname = %s",
            (sa.make_url(url).database,),
        ).fetchone()
    keys = ("commit", "rollback", "returned", "fetched", "inserted", "updated", "deleted")
    return dict(zip(keys, row, strict=True)) if row else {}
