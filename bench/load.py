"""`python -m bench.load`: many simulated users chatting at once with TaskPilot's production
start (2 Granian workers on PostgreSQL and Redis), against a model double with a real model's
timing. Writes bench/LOAD.md.

    python -m bench.load                 1 (alone), 50, 200 and 500 conversations (~5 min)
    python -m bench.load --quick         1, 20 and 50 conversations, few turns (CI, ~1 min)
    python -m bench.load --levels 100 --turns 5 --think 2
    python -m bench.load --client httpx  the same users on httpx instead of raw asyncio streams
    python -m bench.load --profile       also sample the workers with py-spy (if installed)
    python -m bench.load --set DB_POOL_SIZE=20 --tree ../scratch   measure a change
    python -m bench.load --output PATH   write the results elsewhere (default bench/LOAD.md)
    python -m bench.load --keep R.pickle / --render R.pickle   keep a run / re-render it

What runs: the model double (`bench/model_double.py`) in a process of its own; TaskPilot as
production starts it, `python -m taskpilot.serve --workers 2 --backend-only` (migrations
once, then `reflex run --env prod`, whose Granian server forks the workers), on a throwaway
PostgreSQL database created from $TASKPILOT_BENCH_POSTGRES_URL's server and dropped at the
end, with Reflex's state in Redis database $TASKPILOT_LOAD_REDIS_URL (default
redis://127.0.0.1:6379/13, flushed before and after); and this process, the users. Everything
started is stopped (SIGINT to its process group) on every way out, Ctrl-C included.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import math
import os
import pickle
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg
import sqlalchemy as sa

from bench.databases import libpq_url, postgres_admin_url, postgres_unreachable
from bench.machine import _machine_seconds, _postgres_seconds  # the same /proc readings
from bench.model_double import CALLS_PATH, DEFAULT_CALL_MS, DEFAULT_REPLY_CHUNKS, tagged
from bench.runner import environment
from bench.stats import percentile

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUTPUT = Path(__file__).resolve().parent / "LOAD.md"
REDIS_ENV = "TASKPILOT_LOAD_REDIS_URL"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/13"
JWT_SECRET = "taskpilot-load-bench-secret-not-for-production-0123456789"  # noqa: S105
PASSWORD = "correct horse battery staple"  # noqa: S105 - throwaway bench accounts
MODEL_NAME = "load-double"
AIM_CONCURRENCY = 500
AIM_P95_OVERHEAD_MS = 100.0
START_TIMEOUT = 180.0
STOP_TIMEOUT = 30.0
# Limits raised so they stay in the request path but never refuse a bench turn.
LIMITS = {"CHAT_TURNS_PER_MINUTE": "100000", "MAX_CONCURRENT_TURNS": "10", "SIGN_IN_ATTEMPTS": "0"}
TITLES = (
    "buy milk",
    "call the dentist about the checkup",
    "renew the passport",
    "book flights to Lisbon",
    "send the March invoice",
    "water the plants",
    "fix the bike's back light",
    "prepare slides for Monday",
)
# The overhead's three phases, placed by the double's timestamps on the shared clock.
BEFORE = "before the first model call"
BETWEEN = "between the two calls"
AFTER = "after the reply's last chunk"
TICK_S = 0.02  # the client's loop-lag ticker
SAMPLE_S = 0.25  # RSS sampling
PROBE_S = 0.2  # GET /api/info probes


def log(message: str) -> None:
    """Progress on stderr."""
    print(f"[bench.load] {message}", file=sys.stderr, flush=True)


# --- configuration ----------------------------------------------------------------------------


@dataclass(frozen=True)
class LoadConfig:
    """What to run. `quick()` is the CI size, `full()` the reported one."""

    levels: tuple[int, ...]
    turns: tuple[int, ...]  # turns per conversation, per level
    think_s: float
    ramp_s: float
    workers: int
    client: str
    call_ms: float
    reply_chunks: int
    warmup: int
    turn_timeout_s: float
    quick: bool
    budget_s: float = 90.0  # no new turn starts this long after a level began
    baseline_turns: int = 10
    extra_env: tuple[tuple[str, str], ...] = ()
    py_spy: str | None = None  # profile the workers in an extra level with this py-spy
    profile_conversations: int = 50
    profile_seconds: float = 15.0
    tree: Path = ROOT  # the checkout the workers run from (another one to measure a change)
    keep_log: Path | None = None  # copy the workers' log here at the end

    @classmethod
    def full(cls, **overrides: Any) -> LoadConfig:
        """The reported run: 50, 200, 500 conversations."""
        values: dict[str, Any] = {
            "levels": (50, 200, 500),
            "turns": (6, 4, 3),
            "think_s": 0.0,
            "ramp_s": 2.0,
            "workers": 2,
            "client": "raw",
            "call_ms": DEFAULT_CALL_MS,
            "reply_chunks": DEFAULT_REPLY_CHUNKS,
            "warmup": 20,
            "turn_timeout_s": 120.0,
            "budget_s": 90.0,
            "quick": False,
        }
        values.update(overrides)
        return cls(**values)

    @classmethod
    def quick_smoke(cls, **overrides: Any) -> LoadConfig:
        """The CI form: 20 and 50 conversations, 3 turns each."""
        values: dict[str, Any] = {
            "levels": (20, 50),
            "turns": (3, 3),
            "warmup": 6,
            "baseline_turns": 4,
            "budget_s": 30.0,
            "turn_timeout_s": 60.0,
            "profile_conversations": 20,
            "profile_seconds": 8.0,
        }
        values.update(overrides)
        return cls.full(quick=True, **values)


# --- the processes ----------------------------------------------------------------------------


def free_port() -> int:
    """A free loopback TCP port."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _stop_group(process: subprocess.Popen[bytes], timeout: float = STOP_TIMEOUT) -> None:
    """SIGINT to the process group (a graceful stop), then SIGTERM, then SIGKILL."""
    for sig, wait in ((signal.SIGINT, timeout), (signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            break
        deadline = time.monotonic() + wait
        gone = False
        while time.monotonic() < deadline:
            process.poll()  # reap the leader: a zombie still counts as a group member
            try:
                os.killpg(process.pid, 0)
            except ProcessLookupError:
                gone = True
                break
            time.sleep(0.1)
        if gone:
            break
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=5)


def _wait_http(url: str, process: subprocess.Popen[bytes], log_path: Path, what: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-30:])
            raise RuntimeError(f"{what} exited with {process.returncode}:\n{tail}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=2).status_code == 200:
                return
        time.sleep(0.25)
    raise RuntimeError(f"{what} did not answer {url} within {START_TIMEOUT:.0f} s")


@dataclass
class DoubleProcess:
    """The model double, running in its own process."""

    process: subprocess.Popen[bytes]
    port: int

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def calls(self, clear: bool = True) -> list[dict[str, Any]]:
        """The double's call records (and empty its list)."""
        url = f"{self.base_url}{CALLS_PATH}" + ("?clear=1" if clear else "")
        return list(httpx.get(url, timeout=30).json()["calls"])


@contextmanager
def model_double(config: LoadConfig, workdir: Path) -> Iterator[DoubleProcess]:
    """Start the double on a free port; stop it on the way out."""
    port = free_port()
    log_path = workdir / "model_double.log"
    command = [
        sys.executable,
        "-m",
        "bench.model_double",
        "--port",
        str(port),
        "--call-ms",
        str(config.call_ms),
        "--reply-chunks",
        str(config.reply_chunks),
    ]
    with log_path.open("wb") as out:
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        double = DoubleProcess(process, port)
        _wait_http(f"{double.base_url}/_double/health", process, log_path, "the model double")
        yield double
    finally:
        _stop_group(process, timeout=10)


@dataclass
class Workers:
    """TaskPilot started by `python -m taskpilot.serve`."""

    process: subprocess.Popen[bytes]
    port: int
    log_path: Path
    database_url: str = ""
    started_s: float = 0.0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def worker_pids(self) -> list[int]:
        """The Granian workers: the children of the `reflex run` process (serve.py exec's
        into it, so it keeps the pid we started)."""
        children: list[int] = []
        for task in Path(f"/proc/{self.process.pid}/task").glob("*/children"):
            with contextlib.suppress(OSError):
                children += [int(pid) for pid in task.read_text().split()]
        return sorted(set(children))

    def log_lines(self) -> list[str]:
        return self.log_path.read_text(errors="replace").splitlines()


def clean_env(settings: dict[str, str]) -> dict[str, str]:
    """This process's environment without any TaskPilot setting, plus `settings`."""
    from taskpilot.core.config import Settings

    names = {name.upper() for name in Settings.model_fields}
    env = {k: v for k, v in os.environ.items() if k.upper() not in names}
    for name in ("GRANIAN_WORKERS", "COVERAGE_PROCESS_CONFIG", "WORKERS", "HOST", "PORT"):
        env.pop(name, None)
    env.update(PYTHONUNBUFFERED="1", **settings)
    return env


def server_settings(
    config: LoadConfig, database_url: str, redis_url: str, model_url: str
) -> dict[str, str]:
    """The settings the workers get (everything else is as shipped)."""
    return {
        "DATABASE_URL": database_url,
        "REFLEX_REDIS_URL": redis_url,
        "JWT_SECRET": JWT_SECRET,
        "MODEL_PROVIDER": "openai-compatible",
        "MODEL_BASE_URL": f"{model_url}/v1",
        "MODEL_NAME": MODEL_NAME,
        **LIMITS,
        **dict(config.extra_env),
    }


@contextmanager
def workers(config: LoadConfig, settings: dict[str, str], workdir: Path) -> Iterator[Workers]:
    """Start the production server; wait until every worker answers; stop it on the way out."""
    port = free_port()
    log_path = workdir / "serve.log"
    command = [
        sys.executable,
        "-m",
        "taskpilot.serve",
        "--workers",
        str(config.workers),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--backend-only",
    ]
    clock = time.monotonic()
    with log_path.open("wb") as out:
        process = subprocess.Popen(
            command,
            cwd=config.tree,
            env=clean_env(settings),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own group: SIGINT reaches reflex and its workers
        )
    server = Workers(process, port, log_path, settings["DATABASE_URL"])
    try:
        _wait_http(f"{server.base_url}/api/health", process, log_path, "taskpilot.serve")
        _wait_for_workers(server, config.workers)
        server.started_s = time.monotonic() - clock
        yield server
    finally:
        _stop_group(process)


def _wait_for_workers(server: Workers, expected: int) -> None:
    """Until `expected` worker processes exist and 20 fresh connections in a row are served
    (the first worker up answers the health check before the others have loaded the app)."""
    deadline = time.monotonic() + START_TIMEOUT
    streak = 0
    while time.monotonic() < deadline and streak < 20:
        try:
            ok = httpx.get(f"{server.base_url}/api/health", timeout=5).status_code == 200
        except httpx.HTTPError:
            ok = False
        streak = streak + 1 if ok and len(server.worker_pids()) >= expected else 0
        time.sleep(0.05)
    if streak < 20:
        raise RuntimeError(f"{expected} workers did not come up in {START_TIMEOUT:.0f} s")


@contextmanager
def load_database(admin_url: str) -> Iterator[str]:
    """An empty PostgreSQL database (taskpilot.serve migrates it), dropped afterwards."""
    admin = libpq_url(admin_url)
    name = f"taskpilot_load_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        url = sa.make_url(admin).set(drivername="postgresql+psycopg", database=name)
        yield url.render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def redis_url() -> str:
    """The Redis database the workers keep Reflex's state (and the rate limits) in."""
    return os.environ.get(REDIS_ENV) or DEFAULT_REDIS_URL


@contextmanager
def redis_database(url: str) -> Iterator[str]:
    """The bench's own Redis database, flushed before and after."""
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=3, socket_timeout=10)
    client.flushdb()
    try:
        yield url
    finally:
        with contextlib.suppress(redis.RedisError):
            client.flushdb()
        client.close()


def prerequisites(admin_url: str, redis: str) -> str | None:
    """Why the load benchmark cannot run here, or None."""
    import redis as redis_lib

    if reason := postgres_unreachable(admin_url):
        return reason
    try:
        redis_lib.Redis.from_url(redis, socket_connect_timeout=2, socket_timeout=2).ping()
    except redis_lib.RedisError as exc:
        return f"Redis at {redis} is unreachable ({exc})"
    return None


# --- per-process readings -------------------------------------------------------------------

_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """CPU seconds (user + system) a process has used, 0 when it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat[stat.rfind(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


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
        machine = _machine_seconds()
        return cls(
            time.monotonic(),
            {name: sum(cpu_seconds(pid) for pid in group) for name, group in pids.items()},
            _postgres_seconds(),
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


# --- the HTTP clients -------------------------------------------------------------------------


@dataclass
class TurnSample:
    """One chat turn as the client saw it. Times are ms from sending the request."""

    token: str
    level: int
    user: int
    index: int
    tool: str
    status: int | None = None
    error: str | None = None
    head_ms: float = math.nan  # the response's status line and headers
    first_delta_ms: float = math.nan  # the first text_delta event
    total_ms: float = math.nan  # the end of the stream
    conversation_id: str | None = None
    sent_ns: int = 0  # time.monotonic_ns(), the clock the model double records on


class SseReader:
    """Splits a text/event-stream body into (event, data) pairs and notes what the bench
    needs: the conversation id, the first text delta's time, done, error, tool errors."""

    def __init__(self, sample: TurnSample, started_ns: int) -> None:
        self.sample = sample
        self.started_ns = started_ns
        self.buffer = b""
        self.done = False

    def feed(self, data: bytes) -> None:
        self.buffer += data
        while b"\n\n" in self.buffer:
            block, self.buffer = self.buffer.split(b"\n\n", 1)
            self._event(block)

    def _event(self, block: bytes) -> None:
        name, data = "", b""
        for line in block.split(b"\n"):
            if line.startswith(b"event:"):
                name = line[6:].strip().decode()
            elif line.startswith(b"data:"):
                data = line[5:].strip()
        sample = self.sample
        if name == "text_delta":
            if math.isnan(sample.first_delta_ms):
                sample.first_delta_ms = (time.monotonic_ns() - self.started_ns) / 1e6
        elif name == "started":
            sample.conversation_id = json.loads(data)["conversation_id"]
        elif name == "tool_finished":
            if json.loads(data).get("is_error") and sample.error is None:
                sample.error = "tool error"
        elif name == "done":
            self.done = True
        elif name == "error":
            sample.error = f"error event: {json.loads(data).get('code', '?')}"


class RawClient:
    """HTTP/1.1 over asyncio streams, one kept-alive connection per simulated user (as a
    browser tab keeps one): the cheapest client this process can be, since it shares the
    cores with the server."""

    name = "raw asyncio streams"

    def __init__(self, base_url: str, timeout_s: float) -> None:
        host, port = base_url.removeprefix("http://").split(":")
        self.host, self.port = host, int(port)
        self.timeout_s = timeout_s
        self.connections: dict[int, tuple[asyncio.StreamReader, asyncio.StreamWriter]] = {}

    async def _connection(self, user: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        kept = self.connections.get(user)
        if kept is not None and kept[0].at_eof():
            # The server closed the idle kept-alive connection while the user paused (Granian
            # does after a few seconds); a browser opens a new one, and so do we.
            self._drop(user)
        if user not in self.connections:
            self.connections[user] = await asyncio.open_connection(
                self.host, self.port, limit=1 << 20
            )
        return self.connections[user]

    def _drop(self, user: int) -> None:
        if (pair := self.connections.pop(user, None)) is not None:
            pair[1].close()

    async def turn(self, account: Account, body: dict[str, Any], sample: TurnSample) -> None:
        started = sample.sent_ns = time.monotonic_ns()
        try:
            await asyncio.wait_for(self._turn(account, body, sample, started), self.timeout_s)
        except TimeoutError:
            sample.error = "timeout"
            self._drop(account.index)
        except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
            sample.error = f"transport: {type(exc).__name__}"
            self._drop(account.index)
        sample.total_ms = (time.monotonic_ns() - started) / 1e6

    async def _turn(
        self, account: Account, body: dict[str, Any], sample: TurnSample, started: int
    ) -> None:
        reader, writer = await self._connection(account.index)
        payload = json.dumps(body).encode()
        writer.write(
            (
                f"POST /api/{account.user_id}/chat HTTP/1.1\r\n"
                f"Host: {self.host}:{self.port}\r\n"
                f"Authorization: Bearer {account.token}\r\n"
                "Accept: text/event-stream\r\n"
                "Content-Type: application/json\r\n"
                f"Content-Length: {len(payload)}\r\n\r\n"
            ).encode()
            + payload
        )
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        sample.head_ms = (time.monotonic_ns() - started) / 1e6
        lines = head.decode("latin-1").split("\r\n")
        sample.status = int(lines[0].split()[1])
        headers = {
            k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])
        }
        sse = SseReader(sample, started)
        if headers.get("transfer-encoding", "").lower() == "chunked":
            while True:
                size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
                if size == 0:
                    while await reader.readuntil(b"\r\n") != b"\r\n":
                        pass  # trailers
                    break
                chunk = await reader.readexactly(size + 2)
                sse.feed(chunk[:-2])
        else:
            sse.feed(await reader.readexactly(int(headers.get("content-length", "0"))))
        if headers.get("connection", "").lower() == "close":
            self._drop(account.index)
        _judge(sample, sse)

    async def close(self) -> None:
        for user in list(self.connections):
            self._drop(user)


class HttpxClient:
    """The same requests through one shared `httpx.AsyncClient` with a connection per user."""

    name = "httpx"

    def __init__(self, base_url: str, timeout_s: float, users: int) -> None:
        limits = httpx.Limits(max_connections=users + 20, max_keepalive_connections=users + 20)
        self.http = httpx.AsyncClient(
            base_url=base_url, timeout=httpx.Timeout(timeout_s), limits=limits
        )

    async def turn(self, account: Account, body: dict[str, Any], sample: TurnSample) -> None:
        started = sample.sent_ns = time.monotonic_ns()
        headers = {"Authorization": f"Bearer {account.token}", "Accept": "text/event-stream"}
        sse = SseReader(sample, started)
        try:
            async with self.http.stream(
                "POST", f"/api/{account.user_id}/chat", json=body, headers=headers
            ) as response:
                sample.head_ms = (time.monotonic_ns() - started) / 1e6
                sample.status = response.status_code
                async for chunk in response.aiter_raw():
                    sse.feed(chunk)
            _judge(sample, sse)
        except httpx.TimeoutException:
            sample.error = "timeout"
        except httpx.HTTPError as exc:
            sample.error = f"transport: {type(exc).__name__}"
        sample.total_ms = (time.monotonic_ns() - started) / 1e6

    async def close(self) -> None:
        await self.http.aclose()


def _judge(sample: TurnSample, sse: SseReader) -> None:
    """Classify a finished response: a non-200, an error event, a stream without done."""
    if sample.status != 200:
        sample.error = f"HTTP {sample.status}"
    elif sample.error is None and not sse.done:
        sample.error = "stream ended without done"


Client = RawClient | HttpxClient


# --- simulated users --------------------------------------------------------------------------


@dataclass(frozen=True)
class Account:
    """A signed-up bench user."""

    index: int
    user_id: str
    token: str


async def sign_up(base_url: str, count: int) -> tuple[list[Account], float]:
    """`count` accounts through POST /api/auth/signup, 8 at a time; (accounts, seconds)."""
    clock = time.monotonic()
    run = uuid.uuid4().hex[:6]
    gate = asyncio.Semaphore(8)
    async with httpx.AsyncClient(base_url=base_url, timeout=120) as http:

        async def one(index: int) -> Account:
            async with gate:
                response = await http.post(
                    "/api/auth/signup",
                    json={"email": f"load-{run}-{index}@example.com", "password": PASSWORD},
                )
            if response.status_code != 201:
                raise RuntimeError(f"signup answered {response.status_code}: {response.text}")
            account = response.json()
            return Account(index, account["user"]["id"], account["access_token"])

        accounts = await asyncio.gather(*(one(index) for index in range(count)))
    return list(accounts), time.monotonic() - clock


def message_for(user: int, index: int) -> tuple[str, str]:
    """The user's `index`-th message and the tool the double will call for it: adds and
    "what is still open?" alternate, so the task list grows and is read back."""
    if index % 2 == 0:
        title = TITLES[(user + index // 2) % len(TITLES)]
        return f"add {title}", "add_task"
    return "what is still open?", "list_tasks"


async def conversation(
    client: Client,
    account: Account,
    level: int,
    turns: int,
    delay_s: float,
    think_s: float,
    samples: list[TurnSample],
    deadline: float = math.inf,
) -> None:
    """One simulated user: a new conversation of `turns` turns in a row, none started after
    `deadline` (time.monotonic())."""
    await asyncio.sleep(delay_s)
    conversation_id: str | None = None
    for index in range(turns):
        if time.monotonic() > deadline:
            return
        text, tool = message_for(account.index, index)
        token = f"{level}.{account.index}.{index}"
        sample = TurnSample(token, level, account.index, index, tool)
        body: dict[str, Any] = {"message": tagged(text, token)}
        if conversation_id:
            body["conversation_id"] = conversation_id
        await client.turn(account, body, sample)
        samples.append(sample)
        conversation_id = conversation_id or sample.conversation_id
        if think_s > 0 and index < turns - 1:
            await asyncio.sleep(random.uniform(0.5, 1.5) * think_s)


# --- what runs beside the users: memory, loop lag, probes ------------------------------------


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


# --- results ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Dist:
    """p50 / p95 / p99 / max of a sample, in ms."""

    n: int
    p50: float
    p95: float
    p99: float
    maximum: float

    @classmethod
    def of(cls, values: list[float]) -> Dist:
        clean = sorted(v for v in values if not math.isnan(v))
        if not clean:
            return cls(0, math.nan, math.nan, math.nan, math.nan)
        return cls(
            len(clean),
            statistics.median(clean),
            percentile(clean, 0.95),
            percentile(clean, 0.99),
            clean[-1],
        )


@dataclass
class LevelResult:
    """Everything measured at one concurrency level."""

    conversations: int
    turns_each: int
    seconds: float
    samples: list[TurnSample]
    double_calls: list[dict[str, Any]]
    cores: dict[str, float]
    peak_rss: dict[int, float]
    rss_before: dict[int, float]
    lag_ms: list[float]
    probe_ms: list[float]
    probe_errors: int
    client_cpu_s: float
    overhead: list[float] = field(default_factory=list)
    first_delta_overhead: list[float] = field(default_factory=list)
    double_ms: list[float] = field(default_factory=list)
    phases: dict[str, list[float]] = field(default_factory=dict)
    database: dict[str, int] = field(default_factory=dict)  # pg_stat_database deltas
    connections: dict[str, float] = field(default_factory=dict)
    log_signatures: dict[str, int] = field(default_factory=dict)
    planned: int = 0
    settle_s: float = 0.0
    worker_cores: list[float] = field(default_factory=list)
    profile: Profile | None = None
    unmatched: int = 0
    model_retries: int = 0

    @property
    def ok(self) -> list[TurnSample]:
        return [s for s in self.samples if s.error is None]

    @property
    def errors(self) -> Counter[str]:
        return Counter(s.error for s in self.samples if s.error is not None)

    @property
    def turns_per_s(self) -> float:
        return len(self.ok) / self.seconds if self.seconds > 0 else math.nan

    def match(self) -> None:
        """Subtract the double's own time from each successful turn (matched by token)."""
        by_token: dict[str, list[dict[str, Any]]] = {}
        for call in self.double_calls:
            by_token.setdefault(call["token"], []).append(call)
        for sample in self.ok:
            calls = by_token.get(sample.token, [])
            tool = [c for c in calls if c["kind"] == "tool"]
            reply = [c for c in calls if c["kind"] == "reply"]
            if len(calls) > 2:
                self.model_retries += 1
            if not tool or not reply:
                self.unmatched += 1
                continue
            double = sum(c["duration_ms"] for c in calls)
            self.double_ms.append(double)
            self.overhead.append(sample.total_ms - double)
            ahead = sum(c["duration_ms"] for c in tool) + reply[-1]["first_chunk_ms"]
            self.first_delta_overhead.append(sample.first_delta_ms - ahead)
            if sample.sent_ns and "started_ns" in tool[0]:
                ended = sample.sent_ns + sample.total_ms * 1e6
                for name, value in (
                    (BEFORE, tool[0]["started_ns"] - sample.sent_ns),
                    (BETWEEN, reply[-1]["started_ns"] - tool[-1]["ended_ns"]),
                    (AFTER, ended - reply[-1]["ended_ns"]),
                ):
                    self.phases.setdefault(name, []).append(value / 1e6)


def overhead_of(samples: list[TurnSample], calls: list[dict[str, Any]]) -> list[float]:
    """Turn time minus the double's time for that turn's calls, per matched turn."""
    level = LevelResult(0, 0, 0.0, samples, calls, {}, {}, {}, [], [], 0, 0.0)
    level.match()
    return level.overhead


@dataclass
class LoadResults:
    """One load run."""

    config: LoadConfig
    started: datetime
    environment: dict[str, str]
    client_name: str
    settings: dict[str, str]
    postgres_version: str = ""
    start_s: float = 0.0
    signup_s: float = 0.0
    accounts: int = 0
    idle_rss: dict[int, float] = field(default_factory=dict)
    baseline: LevelResult | None = None
    levels: list[LevelResult] = field(default_factory=list)
    profiled: LevelResult | None = None
    profile_skipped: str | None = None
    log_lines: int = 0
    log_warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0


# --- profiling the workers (optional: py-spy) --------------------------------------------------

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
    ("rate limits (`taskpilot/core/limits.py`, redis)", ("core/limits.py", "(redis/")),
    ("logging", ("(logging/",)),
    ("Granian's native side (no Python frame)", ("<native>",)),
)


@dataclass
class Profile:
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


def read_profile(paths: list[Path], seconds: float, rate: int) -> Profile:
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
    return Profile(
        samples=total,
        seconds=seconds,
        rate=rate,
        packages=[(name, share(n)) for name, n in own.most_common(14)],
        areas=[(name, share(areas[name])) for name, _ in PROFILE_AREAS],
    )


async def profile_level(
    config: LoadConfig,
    server: Workers,
    double: DoubleProcess,
    accounts: list[Account],
    conversations: int,
    turns: int,
) -> LevelResult:
    """An extra, unreported level with py-spy sampling every worker (py-spy's own work
    would distort a measured level)."""
    rate = 100
    level_task = asyncio.create_task(
        run_level(config, server, double, accounts, conversations, turns)
    )
    await asyncio.sleep(config.ramp_s + 1.0)
    with tempfile.TemporaryDirectory(prefix="taskpilot-load-profile-") as tmp:
        outputs = [Path(tmp) / f"worker-{pid}.txt" for pid in server.worker_pids()]
        spies = [
            await asyncio.create_subprocess_exec(
                str(config.py_spy),
                "record",
                "--pid",
                path.stem.split("-")[1],
                "--duration",
                str(int(config.profile_seconds)),
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
            for path in outputs
        ]
        await asyncio.gather(*(spy.wait() for spy in spies))
        level = await level_task
        found = [path for path in outputs if path.exists()]
        level.profile = read_profile(found, config.profile_seconds, rate) if found else None
    return level


# --- the run ----------------------------------------------------------------------------------


def _client(config: LoadConfig, base_url: str, users: int) -> Client:
    if config.client == "httpx":
        return HttpxClient(base_url, config.turn_timeout_s, users)
    return RawClient(base_url, config.turn_timeout_s)


async def run_level(
    config: LoadConfig,
    server: Workers,
    double: DoubleProcess,
    accounts: list[Account],
    conversations: int,
    turns: int,
) -> LevelResult:
    """`conversations` users at once, each a new conversation of `turns` turns."""
    pids = server.worker_pids()
    groups = {f"worker {index}": [pid] for index, pid in enumerate(pids)}
    groups.update(
        {
            "reflex main": [server.process.pid],
            "model double": [double.process.pid],
            "client": [os.getpid()],
        }
    )
    client = _client(config, server.base_url, conversations)
    double.calls(clear=True)
    samples: list[TurnSample] = []
    rss_before = {pid: rss_mb(pid) for pid in pids}
    database_before = await asyncio.to_thread(database_counters, server.database_url)
    log_offset = server.log_path.stat().st_size
    monitor = Monitor(server, pids).start()
    before = CpuReadings.take(groups)
    own = time.process_time()
    clock = time.monotonic()
    try:
        await asyncio.gather(
            *(
                conversation(
                    client,
                    account,
                    conversations,
                    turns,
                    config.ramp_s * index / conversations,
                    config.think_s,
                    samples,
                    clock + config.budget_s,
                )
                for index, account in enumerate(accounts[:conversations])
            )
        )
    finally:
        seconds = time.monotonic() - clock
        client_cpu = time.process_time() - own
        after = CpuReadings.take(groups)
        await monitor.stop()
        await client.close()
    await asyncio.sleep(1.5)  # let the double's last records land, and PostgreSQL's stats
    database = await asyncio.to_thread(database_counters, server.database_url)
    result = LevelResult(
        conversations=conversations,
        turns_each=turns,
        seconds=seconds,
        samples=samples,
        double_calls=await asyncio.to_thread(double.calls, True),
        cores=after.cores_since(before),
        peak_rss=monitor.peak_rss,
        rss_before=rss_before,
        lag_ms=monitor.lag_ms,
        probe_ms=monitor.probe_ms,
        probe_errors=monitor.probe_errors,
        client_cpu_s=client_cpu,
    )
    result.database = {k: v - database_before.get(k, 0) for k, v in database.items()}
    result.connections = monitor.connections
    result.planned = conversations * turns
    result.log_signatures = log_signatures(server.log_path, log_offset)
    result.match()
    return result


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


async def settle(double: DoubleProcess, quiet_s: float = 2.0, limit_s: float = 90.0) -> float:
    """Wait until the double has had no new call for `quiet_s` (turns whose clients gave up
    still run on the server); returns the seconds waited."""
    clock = time.monotonic()
    seen = -1
    while time.monotonic() - clock < limit_s:
        count = len(await asyncio.to_thread(double.calls, False))
        if count == seen:
            break
        seen = count
        await asyncio.sleep(quiet_s)
    return max(0.0, time.monotonic() - clock - quiet_s)


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


async def measure(
    config: LoadConfig, server: Workers, double: DoubleProcess, results: LoadResults
) -> None:
    """Sign up, warm up, then every level in turn."""
    most = max(config.levels)
    log(f"signing up {most} users")
    accounts, results.signup_s = await sign_up(server.base_url, most)
    results.accounts = len(accounts)
    log(f"signed up {most} users in {results.signup_s:.0f} s; warming up")
    warm = await run_level(config, server, double, accounts, config.warmup, 2)
    if warm.errors:
        log(f"warm-up errors: {dict(warm.errors)}")
    results.idle_rss = {pid: rss_mb(pid) for pid in server.worker_pids()}
    log(f"baseline: 1 conversation x {config.baseline_turns} turns")
    # The baseline is one conversation alone, back to back: the overhead with nothing to wait for.
    alone = dataclasses.replace(config, think_s=0.0, ramp_s=0.0, budget_s=90.0)
    results.baseline = await run_level(alone, server, double, accounts, 1, config.baseline_turns)
    for conversations, turns in zip(config.levels, config.turns, strict=True):
        log(f"{conversations} conversations x {turns} turns")
        level = await run_level(config, server, double, accounts, conversations, turns)
        results.levels.append(level)
        overhead = Dist.of(level.overhead)
        log(
            f"  {len(level.ok)}/{len(level.samples)} ok, {level.turns_per_s:.1f} turns/s,"
            f" overhead p50 {overhead.p50:.0f} ms p95 {overhead.p95:.0f} ms,"
            f" errors {dict(level.errors) or 'none'}"
        )
        level.settle_s = await settle(double)
        if level.settle_s > 5:
            log(f"  the workers finished abandoned turns for {level.settle_s:.0f} s")
    if config.py_spy:
        count = min(config.profile_conversations, len(accounts))
        rate = results.levels[-1].turns_per_s if results.levels else 10.0
        turns = max(2, math.ceil(rate * (config.profile_seconds + config.ramp_s + 3) / count))
        log(f"profiling the workers with py-spy: {count} conversations x {turns} turns")
        results.profiled = await profile_level(config, server, double, accounts, count, turns)
        if results.profiled.profile is None:
            results.profile_skipped = "py-spy recorded nothing (is ptrace allowed here?)"


def _postgres_version(admin_url: str) -> str:
    with psycopg.connect(libpq_url(admin_url)) as conn:
        row = conn.execute("SHOW server_version").fetchone()
    return f"PostgreSQL {row[0] if row else '?'}"


def run(config: LoadConfig) -> LoadResults:
    """Start everything, measure, stop everything (whatever happens)."""
    clock = time.monotonic()
    admin = postgres_admin_url()
    redis = redis_url()
    if reason := prerequisites(admin, redis):
        raise SystemExit(f"bench.load cannot run: {reason}")
    client_name = RawClient.name if config.client == "raw" else HttpxClient.name
    results = LoadResults(config, datetime.now(UTC), environment(), client_name, {})
    results.postgres_version = _postgres_version(admin)
    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="taskpilot-load-")))
        database_url = stack.enter_context(load_database(admin))
        stack.enter_context(redis_database(redis))
        double = stack.enter_context(model_double(config, workdir))
        settings = server_settings(config, database_url, redis, double.base_url)
        results.settings = settings
        log(f"starting {config.workers} workers (taskpilot.serve)")
        server = stack.enter_context(workers(config, settings, workdir))
        results.start_s = server.started_s
        log(f"workers {server.worker_pids()} up in {server.started_s:.0f} s")
        try:
            asyncio.run(measure(config, server, double, results))
        finally:
            if config.keep_log is not None:
                shutil.copyfile(server.log_path, config.keep_log)
            lines = server.log_lines()
            results.log_lines = len(lines)
            results.log_warnings = [
                line for line in lines if any(w in line for w in ("ERROR", "Traceback", "WARN"))
            ][:20]
            log("stopping workers and the model double")
    results.seconds = time.monotonic() - clock
    return results


# --- the report -------------------------------------------------------------------------------


def _ms(value: float, digits: int = 0) -> str:
    return "–" if math.isnan(value) else f"{value:.{digits}f}"


def _pair(dist: Dist, digits: int = 0) -> str:
    return f"{_ms(dist.p50, digits)} / {_ms(dist.p95, digits)}"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    align = ["---" if index == 0 else "---:" for index in range(len(header))]
    return [
        "| " + " | ".join(header) + " |",
        "| " + " | ".join(align) + " |",
        *("| " + " | ".join(row) + " |" for row in rows),
        "",
    ]


def _all_levels(results: LoadResults) -> list[tuple[str, LevelResult]]:
    """(label, level) for the baseline and every measured level."""
    rows = [] if results.baseline is None else [("1 (alone)", results.baseline)]
    return rows + [(str(level.conversations), level) for level in results.levels]


def _cpu_ms_per_turn(level: LevelResult, *names: str) -> float:
    if not level.turns_per_s or math.isnan(level.turns_per_s):
        return math.nan
    return sum(level.cores.get(name, 0.0) for name in names) * 1000 / level.turns_per_s


def _aim_level(results: LoadResults) -> LevelResult | None:
    return next((lv for lv in results.levels if lv.conversations == AIM_CONCURRENCY), None)


def _aim(results: LoadResults) -> list[str]:
    level = _aim_level(results)
    rows = []
    if level is None:
        rows.append([f"{AIM_CONCURRENCY} concurrent conversations", "not run", "–"])
    else:
        errors = sum(level.errors.values())
        p95 = Dist.of(level.overhead).p95
        rows.append(
            [
                f"{AIM_CONCURRENCY} concurrent conversations, zero errors",
                f"{errors} errors in {len(level.samples)} turns",
                "**met**" if errors == 0 else "**not met**",
            ]
        )
        rows.append(
            [
                f"p95 server overhead under {AIM_P95_OVERHEAD_MS:.0f} ms at {AIM_CONCURRENCY}",
                f"{_ms(p95)} ms",
                "**met**" if p95 < AIM_P95_OVERHEAD_MS else "**not met**",
            ]
        )
    return ["## The aim", "", *_table(["Aim", "Measured", "Verdict"], rows)]


def _levels_table(results: LoadResults) -> list[str]:
    rows = []
    for label, level in _all_levels(results):
        turn, over = Dist.of([s.total_ms for s in level.ok]), Dist.of(level.overhead)
        rows.append(
            [
                f"{label} × {level.turns_each}",
                f"{len(level.ok)}/{len(level.samples)}"
                + (f" ({level.planned})" if level.planned > len(level.samples) else ""),
                str(sum(level.errors.values())),
                f"{level.turns_per_s:.1f}",
                _ms(turn.p50),
                _ms(turn.p95),
                _ms(turn.p99),
                f"**{_ms(over.p50)}**",
                f"**{_ms(over.p95)}**",
                f"**{_ms(over.p99)}**",
            ]
        )
    return [
        "## Results",
        "",
        "Conversations at once × turns each, in ms unless stated. **Overhead** = the turn's"
        " time minus the model double's own time for that turn's two calls (about"
        f" {2 * results.config.call_ms:.0f} ms; matched by the token each message carries)."
        " The first row is one conversation alone: the overhead with nothing to wait for."
        " ok turns = successful / sent; in brackets the turns planned when the level's"
        f" {results.config.budget_s:.0f} s budget stopped users from starting the rest.",
        "",
        *_table(
            [
                "Conversations",
                "ok turns",
                "errors",
                "turns/s",
                "turn p50",
                "turn p95",
                "turn p99",
                "overhead p50",
                "overhead p95",
                "overhead p99",
            ],
            rows,
        ),
    ]


def _phases_table(results: LoadResults) -> list[str]:
    rows = []
    for label, level in _all_levels(results):
        phase = {name: Dist.of(level.phases.get(name, [])) for name in (BEFORE, BETWEEN, AFTER)}
        probe, lag = Dist.of(level.probe_ms), Dist.of(level.lag_ms)
        rows.append(
            [
                label,
                _pair(phase[BEFORE]),
                _pair(phase[BETWEEN]),
                _pair(phase[AFTER]),
                _pair(Dist.of([s.head_ms for s in level.ok])),
                _pair(Dist.of([s.first_delta_ms for s in level.ok])),
                _pair(Dist.of(level.double_ms)),
                f"{_pair(probe, 1)} / {_ms(probe.maximum)}"
                + (f" ({level.probe_errors} failed)" if level.probe_errors else ""),
                f"{_pair(lag, 1)} / {_ms(lag.maximum)}",
            ]
        )
    return [
        "## Where the overhead goes",
        "",
        "The double stamps each call's start and end on the machine's monotonic clock, the"
        " clock the client stamps its request with, so each turn's overhead splits into three"
        f" phases (p50 / p95, ms): **{BEFORE}** (auth, rate limits, `prepare`: conversation,"
        " history, the user's message stored; then the agent, the MCP session, the request to"
        f" the model), **{BETWEEN}** (the rest of the first stream, the MCP tool call, the"
        f" second request) and **{AFTER}** (storing the reply, the `done` event, the stream's"
        " end reaching the client). Then the response head (status line: everything up to"
        " `prepare`), the first `text_delta`, the double's own time per turn, a trivial"
        " `GET /api/info` on a new connection every"
        f" {PROBE_S} s during the level (p50 / p95 / max: the workers' event-loop lag plus"
        " accept) and this client's own event-loop lag (p50 / p95 / max; a late client"
        " inflates every figure here).",
        "",
        *_table(
            [
                "Conversations",
                "before 1st call",
                "between calls",
                "after last chunk",
                "response head",
                "first delta",
                "double per turn",
                "`/api/info` probe",
                "client loop lag",
            ],
            rows,
        ),
    ]


def _resources_table(results: LoadResults) -> list[str]:
    rows = []
    for label, level in _all_levels(results):
        pids = sorted(level.peak_rss)
        rss = " · ".join(
            f"{level.rss_before.get(pid, math.nan):.0f}→{level.peak_rss[pid]:.0f}" for pid in pids
        )
        cores = level.cores
        each = " + ".join(f"{cores.get(f'worker {i}', 0):.2f}" for i in range(len(pids)))
        client_ms = level.client_cpu_s * 1000 / max(1, len(level.samples))
        rows.append(
            [
                label,
                rss,
                f"{each} = {cores.get('workers', 0):.2f}",
                f"{cores.get('reflex main', 0):.2f}",
                f"{cores.get('model double', 0):.2f}",
                f"{cores.get('client', 0):.2f} ({client_ms:.1f} ms/turn)",
                f"{cores.get('postgres', 0):.2f}",
                f"{cores.get('other', 0):.2f}",
                _ms(_cpu_ms_per_turn(level, "workers")),
                _per_turn(level, "commit") + " + " + _per_turn(level, "rollback"),
            ]
        )
    idle = " · ".join(f"{results.idle_rss[pid]:.0f}" for pid in sorted(results.idle_rss))
    return [
        "## Memory and CPU",
        "",
        "RSS per worker (MiB, VmRSS from /proc/<pid>/status): at the level's start → its peak,"
        f" sampled every {SAMPLE_S} s (idle after the warm-up: {idle}). CPU in average cores"
        " busy over the level, of the machine's 2: each worker, the `reflex run` supervisor,"
        " the model double, this client (and its CPU per turn, the monitoring below"
        " included: it dominates the first row), PostgreSQL, and every other"
        ' process on the machine ("other": on a shared machine, other people\'s work); the'
        " workers' CPU per successful turn; and the bench database's transactions per turn"
        " (`pg_stat_database`: each pooled checkout ends in a commit or a rollback).",
        "",
        *_table(
            [
                "Conversations",
                "RSS per worker MiB",
                "workers (cores)",
                "supervisor",
                "double",
                "client",
                "PostgreSQL",
                "other",
                "worker CPU ms/turn",
                "PG commits + rollbacks /turn",
            ],
            rows,
        ),
    ]


def _per_turn(level: LevelResult, counter: str) -> str:
    if counter not in level.database or not level.samples:
        return "–"
    return f"{level.database[counter] / len(level.samples):.1f}"


def _errors_section(results: LoadResults) -> list[str]:
    lines = ["## Errors", ""]
    rows = [
        [label, error, str(count)]
        for label, level in _all_levels(results)
        for error, count in sorted(level.errors.items())
    ]
    if not rows:
        lines += [
            "None: every turn answered 200 and streamed `started`, its tool events, its text"
            " deltas and `done`, with no `error` event, no failed tool call, no transport"
            " failure and no timeout.",
            "",
        ]
    else:
        lines += _table(["Conversations", "error", "turns"], rows)
    signature_rows = [
        [label, *(str(level.log_signatures.get(name, 0)) for name in LOG_SIGNATURES)]
        for label, level in _all_levels(results)
    ]
    if any(any(cell != "0" for cell in row[1:]) for row in signature_rows):
        lines += [
            "What the workers logged during each level (occurrences):",
            "",
            *_table(["Conversations", *LOG_SIGNATURES], signature_rows),
        ]
    lines += [
        "The bench database's connections during each level (peaks, sampled every second"
        " from `pg_stat_activity`; the pools allow 2 × 30), and how long the workers went on"
        " finishing turns whose clients had given up:",
        "",
        *_table(
            [
                "Conversations",
                "connections",
                "`idle in transaction`",
                "longest idle in a transaction (s)",
                "abandoned turns ran on for (s)",
            ],
            [
                [
                    label,
                    _ms(level.connections.get("connections", math.nan)),
                    _ms(level.connections.get("idle_in_tx", math.nan)),
                    _ms(level.connections.get("idle_in_tx_s", math.nan), 1),
                    f"{level.settle_s:.0f}",
                ]
                for label, level in _all_levels(results)
            ],
        ),
    ]
    for label, level in _all_levels(results):
        if level.unmatched:
            lines.append(f"- {label}: {level.unmatched} successful turns lacked a double record.")
        if level.model_retries:
            lines.append(f"- {label}: {level.model_retries} turns retried a model call.")
    if results.log_warnings:
        lines += [
            "",
            f"The workers' log ({results.log_lines} lines) has warnings or errors; the first:",
            "",
            "```",
            *(line[:300] for line in results.log_warnings[:8]),
            "```",
            "",
        ]
    else:
        lines += [
            "",
            f"The workers' log ({results.log_lines} lines) holds no warning or error.",
            "",
        ]
    return lines


def _profile_section(results: LoadResults) -> list[str]:
    level = results.profiled
    if level is None or level.profile is None:
        if results.profile_skipped:
            return ["## Profile of the workers", "", f"Not profiled: {results.profile_skipped}", ""]
        return []
    profile = level.profile
    lines = [
        "## Profile of the workers",
        "",
        f"py-spy sampling both workers at {profile.rate} Hz for {profile.seconds:.0f} s"
        f" ({profile.samples:,} busy samples, idle ones not recorded) during an extra level"
        f" of {level.conversations} conversations ({level.turns_per_s:.1f} turns/s; not"
        " reported above, since py-spy's own work would distort it). Own time: the innermost"
        " frame's package. Areas: samples with a matching frame anywhere in the stack (they"
        " overlap; indented rows are parts of the row above).",
        "",
    ]
    lines += _table(
        ["Own time by package", "share"],
        [[name, f"{share:.0%}"] for name, share in profile.packages],
    )
    lines += _table(
        ["Area (inclusive)", "share", "≈ ms CPU/turn"],
        [
            [
                name,
                f"{share:.0%}",
                _ms(share * _cpu_ms_per_turn(level, "workers"), 1),
            ]
            for name, share in profile.areas
        ],
    )
    return lines


def _sync_dependencies() -> list[str]:
    """FastAPI dependencies of the chat route that are plain functions (so FastAPI runs them
    in its thread pool on every request)."""
    try:
        from taskpilot.api import deps
    except Exception:  # the report must not fail on a tree being changed
        return []
    import inspect

    names = ("get_app_runtime", "get_client_address", "get_identity", "get_path_user")
    return [
        name
        for name in names
        if callable(getattr(deps, name, None))
        and not inspect.iscoroutinefunction(getattr(deps, name))
    ]


def _findings(results: LoadResults) -> list[str]:
    """What this run's figures say."""
    if not results.levels:
        return []
    lines = ["## Findings", ""]
    busiest = max(results.levels, key=lambda lv: lv.turns_per_s)
    worker_ms = _cpu_ms_per_turn(busiest, "workers")
    machine_ms = _cpu_ms_per_turn(
        busiest, "workers", "reflex main", "model double", "client", "postgres"
    )
    capacity = 2000 / machine_ms if machine_ms else math.nan
    model_s = 2 * results.config.call_ms / 1000
    think_s = results.config.think_s
    cycle_s = model_s + think_s  # one turn per reply plus the person's pause
    pause = "as soon as the reply ends" if not think_s else f"after a pause of ~{think_s:g} s"
    if results.baseline is not None:
        base = results.baseline
        over = Dist.of(base.overhead)
        phase = {name: Dist.of(base.phases.get(name, [])) for name in (BEFORE, BETWEEN, AFTER)}
        lines.append(
            f"- **Alone, a turn costs {_ms(over.p50)} ms beyond the model** (p95"
            f" {_ms(over.p95)} ms): {_ms(phase[BEFORE].p50)} ms before the first model call,"
            f" {_ms(phase[BETWEEN].p50)} ms between the calls (the MCP tool call),"
            f" {_ms(phase[AFTER].p50)} ms after the reply (p50s). That is close to the"
            f" {AIM_P95_OVERHEAD_MS:.0f} ms aim before any concurrency: the workers spend"
            f" {_ms(_cpu_ms_per_turn(base, 'workers'))} ms of CPU per turn, and a turn's work"
            " is on its critical path."
        )
    lines.append(
        f"- **The workers are CPU-bound at {_ms(worker_ms)} ms of CPU per turn** (at"
        f" {busiest.conversations} conversations, {busiest.turns_per_s:.1f} turns/s); with the"
        f" double, this client and PostgreSQL a turn takes {_ms(machine_ms)} ms of the"
        f" machine's CPU, so these 2 cores serve at most ~{_ms(capacity)} turns/s, and less"
        ' while other work shares them (the "other" column). A conversation that sends its'
        f" next message {pause} asks for one turn every ~{cycle_s:.1f} s +"
        f" overhead, so ~{_ms(capacity * cycle_s)} such conversations fill the machine;"
        " beyond that, turns queue in the workers' event loops and the overhead is waiting,"
        " not work (the `/api/info` probe and the response head grow with it)."
    )
    aim = _aim_level(results)
    if aim is not None:
        over = Dist.of(aim.overhead)
        demand = aim.conversations / cycle_s
        who = (
            f"{aim.conversations} back-to-back conversations"
            if not think_s
            else f"{aim.conversations} conversations pausing ~{think_s:g} s"
        )
        lines.append(
            f"- **{who} ask for ~{demand:.0f} turns/s,"
            f" ~{demand / max(capacity, 1e-9):.0f}× what this machine can serve**: turns took"
            f" p50 {_ms(Dist.of([s.total_ms for s in aim.ok]).p50 / 1000, 1)} s, overhead p95"
            f" {_ms(over.p95)} ms, with {sum(aim.errors.values())} errors. The aim's p95"
            f" under {AIM_P95_OVERHEAD_MS:.0f} ms at that concurrency needs ~"
            f"{_ms(demand * machine_ms / 1000 / 0.6)} cores at this CPU cost per turn (60%"
            " busy), or people who pause: at the capacity measured here,"
            f" {aim.conversations} conversations stay unqueued only if each person waits"
            f" ≥ ~{_ms(aim.conversations / max(capacity * 0.6, 1e-9) - model_s)} s between"
            " turns."
            + (
                " It is a capacity limit, not a concurrency fault: no turn failed."
                if not aim.errors
                else " Capacity is the first limit; the errors below are the second."
            )
        )
        peaks = [aim.peak_rss[pid] - aim.rss_before.get(pid, math.nan) for pid in aim.peak_rss]
        if peaks:
            in_flight = aim.conversations / max(1, len(peaks))
            growth = max(peaks)
            lines.append(
                f"- **Memory stays small**: at {aim.conversations} conversations each worker's"
                f" RSS peaks {growth:.0f} MiB above its start (~{growth * 1024 / in_flight:.0f}"
                f" KiB per in-flight turn, {in_flight:.0f} per worker)."
            )
    lines += _overload_findings(results, capacity, model_s)
    others = [lv.cores.get("other", 0.0) for _, lv in _all_levels(results)]
    if others and max(others) > 0.3:
        lines.append(
            f"- **This machine was shared**: other processes used {min(others):.1f}–"
            f'{max(others):.1f} of its 2 cores during the levels (the "other" column), so the'
            " workers had that much less; turns/s and queueing figures are worse than on an"
            " idle machine, and the per-turn CPU figures are the ones to carry elsewhere."
        )
    sync = _sync_dependencies()
    threadpool = None
    if results.profiled is not None and results.profiled.profile is not None:
        threadpool = dict(results.profiled.profile.areas).get(PROFILE_AREAS[10][0])
    if sync:
        measured = (
            f"; the thread pool is {threadpool:.0%} of the workers' samples in the profile"
            if threadpool is not None
            else ""
        )
        lines.append(
            "- **Plain-function dependencies hop to a thread on every request**"
            f" (`taskpilot/api/deps.py`: {', '.join(f'`{n}`' for n in sync)} are `def`, so"
            f" FastAPI runs each in its thread pool{measured}). Each hop is a round trip"
            " through the thread pool and back into a busy event loop, a wait that grows with"
            " the load; `async def` for these, which do no blocking work, removes it."
        )
    lines.append("")
    return lines


def _default(setting: str) -> str:
    """A TaskPilot setting's shipped default (for the ones the run leaves as they are)."""
    from taskpilot.core.config import Settings

    return str(Settings.model_fields[setting].default)


def _overload_findings(results: LoadResults, capacity: float, model_s: float) -> list[str]:
    """What happens past saturation, from the error kinds and the workers' log."""
    lines: list[str] = []
    best = max(results.levels, key=lambda lv: lv.turns_per_s)
    worst = max(results.levels, key=lambda lv: lv.conversations)
    signatures = worst.log_signatures
    pool = signatures.get("pool timeout (`QueuePool limit … timed out`)", 0)
    detached = signatures.get("`DetachedInstanceError`", 0)
    limits = signatures.get("rate limits not enforced (Redis call failed)", 0)
    errors = sum(worst.errors.values())
    cap = results.settings.get("WORKER_MAX_TURNS", _default("worker_max_turns"))
    if errors and worst is not best:
        kinds = ", ".join(f"{count} {kind}" for kind, count in worst.errors.most_common())
        falls = worst.turns_per_s < 0.9 * best.turns_per_s
        abandoned = (
            f"; turns whose clients gave up ran on {worst.settle_s:.0f} s after the level"
            if worst.settle_s > 2
            else ""
        )
        lines.append(
            "- **Past saturation, turns start failing**"
            + (" and throughput falls" if falls else "")
            + f": {best.turns_per_s:.1f} successful turns/s at {best.conversations}"
            f" conversations, {worst.turns_per_s:.1f} at {worst.conversations}, where {errors}"
            f" of {len(worst.samples)} turns failed ({kinds})."
            + (
                " That is the admission control at work: each worker runs at most"
                f" {cap} turns, the"
                " rest wait up to WORKER_QUEUE_SECONDS and then get a quick 503 with"
                " `Retry-After`, instead of every turn slowing down until the database pool"
                f" runs dry{abandoned}."
                if set(worst.errors) == {"HTTP 503"}
                else f" Turns that could not be served failed in other ways too{abandoned}."
            )
        )
    if pool:
        idle = worst.connections.get("idle_in_tx", math.nan)
        age = worst.connections.get("idle_in_tx_s", math.nan)
        lines.append(
            f"- **The database pools run dry** ({pool} `QueuePool limit` timeouts at"
            f" {worst.conversations}; up to {_ms(idle)} connections `idle in transaction`,"
            f" one for {_ms(age, 1)} s). A turn needs a pooled connection only for a few"
            " statements, but each reply from PostgreSQL is handled when the worker's event"
            " loop gets round to it; with hundreds of turns queued on the loop that takes"
            " seconds, so checkouts last seconds and 30 connections per worker"
            " (`DB_POOL_SIZE` 10 + `DB_MAX_OVERFLOW` 20) run out: requests wait"
            " `DB_POOL_TIMEOUT` (10 s) and fail (a 503, an `error` event, or a tool error"
            " inside the turn). A bigger pool only moves the queue into PostgreSQL. The fix is"
            " admission control: a per-worker cap on running turns (an `asyncio.Semaphore`"
            " taken before `prepare` in `taskpilot/api/routes/chat.py` and released when the"
            " turn's task ends), sized from what a worker can serve (by Little's law about"
            f" {_ms(max(1.0, capacity * (model_s + 0.1) / max(1, results.config.workers)))}"
            " turns per worker here; a setting, since it scales with the cores), with a"
            " bounded wait and then a 503 + `Retry-After`, so a worker past capacity queues or"
            " refuses quickly instead of failing everyone slowly."
        )
    if detached:
        lines.append(
            f"- **A failed commit in `finish_turn` crashes the turn's error path** ({detached}"
            " `DetachedInstanceError`s at"
            f' {worst.conversations}, each logged as "Task exception was never retrieved").'
            " `ConversationStore.finish_turn` (`taskpilot/services/conversations.py`) adds the"
            " turn's shared `Conversation` and user `Message` to its session; when the commit"
            " fails (here: the pool timeout) the rollback expires them and the session closes,"
            " so the `except Exception` block of `AgentService._run`"
            " (`taskpilot/agent/service.py`) raises again on `turn.conversation.id` (its log"
            " line and its `TurnError`). No `error` event is sent (the client's stream just"
            ' ends: "stream ended without done"), and `_fail` never runs, so the user\'s'
            " message stays `pending`. Fix: keep the conversation and message ids in locals"
            " taken before the turn runs and use only those in the error path (and set the"
            " conversation's `updated_at` with an `UPDATE` rather than re-adding the shared"
            " object)."
        )
    if limits:
        lines.append(
            f'- **Under overload the rate limits stop applying** ({limits} "rate limits not'
            ' enforced: Redis is unreachable" warnings at'
            f" {worst.conversations}; Redis was up). `taskpilot/core/limits.py` gives its"
            " Redis client `socket_timeout=2`; a worker whose loop is seconds late misses it,"
            " and the limiter fails open and blames Redis. Failing open is the documented"
            " choice, but the timeout measures the worker, not Redis: admission control (above)"
            " keeps the loop prompt; the warning could say the call timed out."
        )
    return lines


def _method(results: LoadResults) -> list[str]:
    config = results.config
    env = results.environment
    limits = ", ".join(f"`{k}={v}`" for k, v in LIMITS.items())
    extra = ", ".join(f"`{k}={v}`" for k, v in config.extra_env)
    think = (
        f"a think time of {config.think_s:g} s (uniform ×0.5–1.5) between turns"
        if config.think_s > 0
        else "no think time: the next message goes as soon as the reply has streamed"
    )
    quick = "\n\n**This is a `--quick` smoke run: too few turns to quote.**" if config.quick else ""
    return [
        "## Method",
        "",
        f"- **Machine**: {env['cpu']}; {env['os']}; {env['python']}; {results.postgres_version}"
        " and Redis on the same machine over loopback. The workers, the model double, this"
        " client and PostgreSQL all share these 2 cores (the CPU table shows who used what),"
        " so the client's and the double's work comes out of the server's budget, as does"
        " any other work on the machine.",
        f"- **Packages**: {env['packages']}.",
        f"- **Server**: `python -m taskpilot.serve --workers {config.workers} --host 127.0.0.1"
        " --port P --backend-only`, the production start (migrations on a fresh PostgreSQL"
        " database, then `reflex run --env prod`, whose Granian forks the workers; up in"
        f" {results.start_s:.0f} s). Settings: every TaskPilot setting cleared from the"
        " environment, then `DATABASE_URL` (that database), `REFLEX_REDIS_URL` (a Redis"
        " database of the bench's own), `JWT_SECRET`, `MODEL_PROVIDER=openai-compatible`,"
        " `MODEL_BASE_URL` (the double), `MODEL_NAME`, and per-user limits raised so they"
        f" stay in the path but never refuse a bench turn: {limits}"
        + (f"; and {extra}" if extra else "")
        + (f"; from the checkout at `{config.tree}`" if config.tree != ROOT else "")
        + ". Everything else as shipped: database pool 10 + 20 overflow per worker (2 × 30"
        " connections fit PostgreSQL's default 100), history window 10 turns, in-process"
        " MCP, log level INFO.",
        "- **Model double** (`bench/model_double.py`): an OpenAI-compatible chat-completions"
        " server (plain ASGI on uvicorn, a process of its own) that TaskPilot's"
        " `OpenAIChatCompletionsModel` streams from as it would from vLLM. Each call takes"
        f" about {config.call_ms:.0f} ms; a turn is two calls: the first streams one tool call"
        " (`add_task` with a title from the message, or `list_tasks`) spread over the call,"
        f" the second a reply about the tool's result in {config.reply_chunks} text chunks"
        " spread evenly over its call. It times each call itself, from the request's arrival"
        " to its last byte, and records it with the token the user's message carries.",
        f"- **Users**: {results.accounts} accounts signed up through `POST /api/auth/signup`"
        f" before anything is timed ({results.signup_s:.0f} s: Argon2id). A level starts its"
        f" users over {config.ramp_s:g} s; each opens a new conversation and sends its turns"
        " in a row over `POST /api/{user_id}/chat` with `Accept: text/event-stream` (the"
        " conversation id from the first turn's `started` event), with"
        f' {think}. Messages alternate "add <a title>" and "what is still open?". Client:'
        f" {results.client_name}, one kept-alive connection per user (`--client httpx` runs"
        " the same users on one `httpx.AsyncClient`, measured at two to three times this"
        f" client's CPU per turn). First {config.warmup} untimed conversations of 2 turns warm"
        " the workers up.",
        "- **Errors**: any status but 200, an `error` event, a failed tool call, a stream"
        " without `done`, a transport failure or a turn over"
        f" {config.turn_timeout_s:.0f} s; counted by kind and left out of the percentiles.",
        "- **Timing**: `time.monotonic_ns()` from writing the request to the stream's last"
        " chunk. Overhead = turn time − the double's two recorded call durations: everything"
        " that is not the model, including queueing in the workers and the client's own"
        " reading. p50 = median; p95 and p99 by linear interpolation, over all successful"
        " turns of the level; turns/s = successful turns over the level's wall time (ramp"
        " included).",
        f"- Run started {results.started:%Y-%m-%d %H:%M} UTC and took {results.seconds:.0f} s."
        + quick,
        "",
    ]


def render(results: LoadResults, argv: list[str]) -> str:
    """The whole LOAD.md."""
    command = " ".join(["python -m bench.load", *argv])
    lines = [
        "# TaskPilot load benchmark",
        "",
        f"Written by `{command}` (`bench/load.py`; also `make bench-load`). Regenerate rather"
        " than edit: every figure below comes from that one run.",
        "",
    ]
    lines += _aim(results)
    lines += _findings(results)
    lines += _levels_table(results)
    lines += _phases_table(results)
    lines += _resources_table(results)
    lines += _errors_section(results)
    lines += _profile_section(results)
    lines += _method(results)
    return "\n".join(lines).rstrip() + "\n"


# --- the command line -------------------------------------------------------------------------


def _levels(value: str) -> tuple[int, ...]:
    levels = tuple(int(part) for part in value.split(",") if part.strip())
    if not levels or min(levels) < 1:
        raise argparse.ArgumentTypeError("levels are positive integers, e.g. 50,200,500")
    return levels


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.load",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="20 and 50 conversations (CI)")
    parser.add_argument(
        "--fail-on-errors", action="store_true", help="exit 1 if any turn of any level failed"
    )
    parser.add_argument("--levels", type=_levels, help="concurrent conversations, e.g. 50,200")
    parser.add_argument("--turns", type=int, help="turns per conversation at every level")
    parser.add_argument("--think", type=float, help="mean seconds between a reply and the next")
    parser.add_argument("--client", choices=("raw", "httpx"), help="the HTTP client (raw)")
    parser.add_argument("--workers", type=int, help="Granian workers (2)")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="an extra TaskPilot setting for the workers (e.g. DB_POOL_SIZE=20)",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="also profile the workers with py-spy in an extra level (py-spy on PATH,"
        " in the venv, or given by --py-spy)",
    )
    parser.add_argument("--py-spy", dest="py_spy", type=Path, help="the py-spy executable")
    parser.add_argument(
        "--tree",
        type=Path,
        help="run the workers from this checkout instead (to measure a change; same venv)",
    )
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument(
        "--keep",
        type=Path,
        metavar="PATH",
        help="also keep the run's raw results (pickle) and, beside them, the workers' log",
    )
    parser.add_argument(
        "--render",
        type=Path,
        metavar="PATH",
        help="only rewrite the report from results kept by --keep (no run)",
    )
    return parser.parse_args(argv)


def find_py_spy(given: Path | None) -> str | None:
    """The py-spy executable to profile with, or None."""
    if given is not None:
        return str(given) if given.exists() else None
    venv = Path(sys.executable).with_name("py-spy")
    return str(venv) if venv.exists() else shutil.which("py-spy")


def config_from(args: argparse.Namespace) -> LoadConfig:
    """The run's configuration from the command line."""
    overrides: dict[str, Any] = {}
    if args.levels:
        overrides["levels"] = args.levels
    if args.think is not None:
        overrides["think_s"] = args.think
        if args.think > 0:  # people arrive spread over a pause, and get time for every turn
            turns = args.turns or 3
            overrides["ramp_s"] = args.think
            overrides["budget_s"] = max(90.0, args.think * (turns + 1) * 1.5)
    if args.client:
        overrides["client"] = args.client
    if args.workers:
        overrides["workers"] = args.workers
    if args.set:
        if any("=" not in item for item in args.set):
            raise SystemExit("--set takes NAME=VALUE")
        overrides["extra_env"] = tuple(tuple(item.split("=", 1)) for item in args.set)
    if args.profile:
        overrides["py_spy"] = find_py_spy(args.py_spy)
    if args.tree:
        overrides["tree"] = args.tree.resolve()
    if args.keep:
        overrides["keep_log"] = args.keep.with_suffix(".serve.log")
    config = LoadConfig.quick_smoke(**overrides) if args.quick else LoadConfig.full(**overrides)
    if args.turns or len(config.turns) != len(config.levels):
        each = args.turns or config.turns[-1]
        config = LoadConfig(**{**config.__dict__, "turns": (each,) * len(config.levels)})
    return config


def _sigterm(*_: Any) -> None:
    raise KeyboardInterrupt  # unwind through the cleanup, as Ctrl-C does


def main(argv: list[str] | None = None) -> int:
    """Run the load benchmark and write LOAD.md."""
    args = parse_args(argv)
    output: Path = args.output
    try:
        return _main(args, argv, output)
    except KeyboardInterrupt:
        log("interrupted: everything started was stopped")
        return 130


def _main(args: argparse.Namespace, argv: list[str] | None, output: Path) -> int:
    if args.render:
        kept: tuple[LoadResults, list[str]] = pickle.loads(args.render.read_bytes())  # noqa: S301
        output.write_text(render(*kept))
        log(f"wrote {output} from {args.render}")
        return 0
    config = config_from(args)
    signal.signal(signal.SIGTERM, _sigterm)
    results = run(config)
    if args.profile and config.py_spy is None:
        results.profile_skipped = (
            "--profile was given but no py-spy was found (`pip install py-spy`, or --py-spy)"
        )
    given = sys.argv[1:] if argv is None else argv
    # What the report names as its command: without where the raw results were kept.
    command = [a for i, a in enumerate(given) if a != "--keep" and given[i - 1 : i] != ["--keep"]]
    if args.keep:
        args.keep.write_bytes(pickle.dumps((results, command)))
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(render(results, command))
    log(f"wrote {output} ({results.seconds:.0f} s)")
    failed = {level.conversations: dict(level.errors) for level in results.levels if level.errors}
    if args.fail_on_errors and failed:
        log(f"errors under load: {failed}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
