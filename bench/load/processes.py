"""What a load run starts, and stops on every way out (SIGINT to each process group, Ctrl-C
included): the model double, the workers (`python -m taskpilot.serve`), a throwaway PostgreSQL
database, and a Redis database of the bench's own, flushed before and after."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg

from bench.databases import empty_postgres_database, libpq_url, postgres_unreachable
from bench.load.config import ROOT, LoadConfig
from bench.model_double import CALLS_PATH

REDIS_ENV = "TASKPILOT_LOAD_REDIS_URL"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/13"
JWT_SECRET = "taskpilot-load-bench-secret-not-for-production-0123456789"  # noqa: S105
MODEL_NAME = "load-double"
START_TIMEOUT = 180.0
STOP_TIMEOUT = 30.0
# Limits raised so they stay in the request path but never refuse a bench turn.
LIMITS = {"CHAT_TURNS_PER_MINUTE": "100000", "MAX_CONCURRENT_TURNS": "10", "SIGN_IN_ATTEMPTS": "0"}


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
    with empty_postgres_database(admin_url, "taskpilot_load") as url:
        yield url


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


def postgres_version(admin_url: str) -> str:
    """E.g. "PostgreSQL 16.4"."""
    with psycopg.connect(libpq_url(admin_url)) as conn:
        row = conn.execute("SHOW server_version").fetchone()
    return f"PostgreSQL {row[0] if row else '?'}"
