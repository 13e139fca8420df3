"""TaskPilot started the way production runs it, for the browser tests.

`reflex run --env prod` from the repository root serves the compiled pages, Reflex's
websocket, `/api` and `/mcp` on one port. Here that port is a free loopback one, the database
a throwaway SQLite file, the model the loopback OpenAI stand-in, and Reflex's state lives in
Redis behind two Granian workers (one worker, with a printed reason, when Redis is down).

Coverage: when the test run measures coverage (`patch = ["subprocess"]` exports
COVERAGE_PROCESS_CONFIG), the server gets the same configuration plus the `fork` and `_exit`
patches: Granian forks its workers from the `reflex run` process and they end through
`os._exit`, so without those two only the supervisor's (import-time) lines would count.
A SIGINT to the process group shuts everything down gracefully, and each process writes its
own `.coverage.*` file, which pytest-cov combines at the end of the run.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from taskpilot.core.config import PROJECT_ROOT, Settings
from taskpilot.core.db import migrate
from tests.support.harness import CHEAP_PASSWORD_HASHING, free_port

CHROMIUM = Path("/usr/bin/chromium")
# Debian's Chromium, headless as root on a machine with no outside network.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
TOOLS_BIN = PROJECT_ROOT / ".tools" / "node_modules" / ".bin"
JWT_SECRET = "browser-tests-jwt-secret-0123456789abcdef"
# Handed to the ChatKit component from settings (any value works on localhost).
CHATKIT_DOMAIN_KEY = "domain_pk_taskpilot_browser_tests"
# Hosted ChatKit for the tests that need it: sessions come from the OpenAI stand-in.
HOSTED_WORKFLOW_ID = "wf_taskpilot_browser_tests"
HOSTED_API_KEY = "sk-proj-browser-tests-hosted-chatkit-key-5c1e9a"


def hosted_chatkit_env(openai_base_url: str) -> dict[str, str]:
    """Settings for hosted ChatKit mode against the stand-in (the agent's model is unchanged)."""
    return {
        "CHATKIT_WORKFLOW_ID": HOSTED_WORKFLOW_ID,
        "OPENAI_API_KEY": HOSTED_API_KEY,
        "OPENAI_BASE_URL": openai_base_url,
    }


# Reflex's state for the test server; a database of its own (override: TASKPILOT_TEST_REDIS_URL).
REDIS_URL = os.environ.get("TASKPILOT_TEST_REDIS_URL") or "redis://127.0.0.1:6379/9"
WORKERS = 2
START_TIMEOUT = 300.0  # a fresh clone's first prod build also installs the frontend packages
STOP_TIMEOUT = 30.0


def missing_prerequisites() -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is missing (`sudo apt-get install -y chromium`; `make test` does it)"
    for tool in ("bun", "node"):
        if not (TOOLS_BIN / tool).exists():
            return f"{TOOLS_BIN / tool} is missing (`make install` puts bun and node 22 there)"
    return None


def port_is_free(port: int) -> bool:
    """Whether a new server could listen on `port` (TIME_WAIT leftovers do not count)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def redis_problem(url: str = REDIS_URL) -> str | None:
    """None when Redis answers at `url`, else why not."""
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2).ping()
    except redis.RedisError as exc:
        return f"Redis at {url} is unreachable ({exc})"
    return None


def npm_registry() -> str:
    """The registry npm is configured with, as the Makefile hands it to Reflex."""
    if os.environ.get("NPM_CONFIG_REGISTRY"):
        return os.environ["NPM_CONFIG_REGISTRY"]
    npm = shutil.which("npm")
    if npm is None:
        return "https://registry.npmjs.org/"
    found = subprocess.run(
        [npm, "config", "get", "registry"], capture_output=True, text=True, check=False
    )
    return found.stdout.strip() or "https://registry.npmjs.org/"


def coverage_config() -> str | None:
    """The test run's coverage configuration for the server, with `fork` and `_exit` added."""
    exported = os.environ.get("COVERAGE_PROCESS_CONFIG")
    if not exported:
        return None
    from coverage.config import CoverageConfig

    config = CoverageConfig.deserialize(exported)
    config.patch = sorted({*config.patch, "fork", "_exit"})
    return config.serialize()


@dataclass
class AppServer:
    """A running `reflex run --env prod`."""

    process: subprocess.Popen[bytes]
    port: int
    database_path: Path
    log_path: Path
    workers: int
    redis_url: str | None
    attempt: int = 1

    @property
    def base_url(self) -> str:
        # The compiled frontend calls the backend at `localhost:<port>`; same origin.
        return f"http://localhost:{self.port}"

    def worker_pids(self) -> list[int]:
        """The Granian worker processes: the children of the `reflex run` process."""
        children: list[int] = []
        for task in Path(f"/proc/{self.process.pid}/task").glob("*/children"):
            with contextlib.suppress(OSError):
                children += [int(pid) for pid in task.read_text().split()]
        return children

    def log_tail(self, lines: int = 40) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


def server_env(
    database_url: str,
    model_base_url: str,
    port: int,
    redis_url: str | None,
    extra: dict[str, str] | None = None,
) -> dict[str, str]:
    """The environment `make run-prod` gives Reflex, plus the test's configuration (and
    `extra` settings on top)."""
    setting_names = {name.upper() for name in Settings.model_fields}
    env = {k: v for k, v in os.environ.items() if k.upper() not in setting_names}
    for name in ("REFLEX_REDIS_URL", "GRANIAN_WORKERS", "COVERAGE_PROCESS_CONFIG"):
        env.pop(name, None)
    env.update(
        PATH=f"{TOOLS_BIN}{os.pathsep}{env.get('PATH', '')}",
        REFLEX_USE_SYSTEM_BUN="1",
        REFLEX_TELEMETRY_ENABLED="false",
        REFLEX_CHECK_LATEST_VERSION="false",
        NPM_CONFIG_REGISTRY=npm_registry(),
        PYTHONUNBUFFERED="1",
        DATABASE_URL=database_url,
        JWT_SECRET=JWT_SECRET,
        MODEL_PROVIDER="openai-compatible",
        MODEL_BASE_URL=model_base_url,
        MODEL_NAME="standin",
        MODEL_TIMEOUT_SECONDS="30",
        CHATKIT_DOMAIN_KEY=CHATKIT_DOMAIN_KEY,
        # Every test signs up from 127.0.0.1: the per-address sign-in limit would trip.
        SIGN_IN_ATTEMPTS="0",
        # Reflex's websocket checks the page's origin against these.
        ALLOWED_ORIGINS=f"http://localhost:{port},http://127.0.0.1:{port}",
        **CHEAP_PASSWORD_HASHING,
    )
    if redis_url:
        env.update(REFLEX_REDIS_URL=redis_url, GRANIAN_WORKERS=str(WORKERS))
    else:
        env.update(GRANIAN_WORKERS="1")
    if cov := coverage_config():
        env["COVERAGE_PROCESS_CONFIG"] = cov
    env.update(extra or {})
    return env


def start_app(
    workdir: Path,
    model_base_url: str,
    redis_url: str | None,
    *,
    extra_env: dict[str, str] | None = None,
    attempts: int = 2,
) -> AppServer:
    """Migrate a fresh SQLite file and start the prod server on a free port; wait until the
    API and the page answer. A build that fails is tried once more: on a busy 2-core machine
    the frontend build's prerender step sometimes times out (a real error fails twice)."""
    database_path = workdir / "taskpilot.db"
    migrate(f"sqlite:///{database_path}")
    for attempt in range(1, attempts + 1):
        server = _launch(workdir, database_path, model_base_url, redis_url, attempt, extra_env)
        try:
            _wait_until_serving(server)
        except ServerExited:
            stop_app(server)
            if attempt == attempts:
                raise
            continue
        except BaseException:
            stop_app(server)
            raise
        return server
    raise AssertionError("unreachable")


class ServerExited(RuntimeError):
    """`reflex run` ended before it served (a failed build, a port taken)."""


def _launch(
    workdir: Path,
    database_path: Path,
    model_base_url: str,
    redis_url: str | None,
    attempt: int,
    extra_env: dict[str, str] | None,
) -> AppServer:
    port = free_port()
    log_path = workdir / f"reflex-{attempt}.log"
    command = [
        str(PROJECT_ROOT / ".venv" / "bin" / "reflex"),
        "run",
        "--env",
        "prod",
        "--frontend-port",
        str(port),
        "--backend-port",
        str(port),
        "--backend-host",
        "127.0.0.1",
    ]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command,
            cwd=PROJECT_ROOT,
            env=server_env(
                f"sqlite:///{database_path}", model_base_url, port, redis_url, extra_env
            ),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, to stop it and its workers
        )
    workers = WORKERS if redis_url else 1
    return AppServer(process, port, database_path, log_path, workers, redis_url, attempt)


def _wait_until_serving(server: AppServer) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    with httpx.Client(base_url=f"http://127.0.0.1:{server.port}", timeout=5) as http:
        while time.monotonic() < deadline:
            if server.process.poll() is not None:
                raise ServerExited(
                    f"reflex run exited with {server.process.returncode}:\n{server.log_tail()}"
                )
            with contextlib.suppress(httpx.HTTPError):
                health = http.get("/api/health")
                page = http.get("/")
                if health.status_code == 200 and page.status_code == 200:
                    return
            time.sleep(0.25)
    raise RuntimeError(f"TaskPilot did not start in {START_TIMEOUT:.0f} s:\n{server.log_tail()}")


def stop_app(server: AppServer) -> None:
    """Stop the prod server and all its workers; its port is free afterwards."""
    stop_group(server.process, server.port, STOP_TIMEOUT)


def stop_group(process: subprocess.Popen[bytes], port: int, graceful: float) -> None:
    """SIGINT to the whole process group (a graceful stop: atexit hooks, coverage data), then
    SIGTERM and SIGKILL if it lingers; the port is free afterwards."""
    for sig, wait in ((signal.SIGINT, graceful), (signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            break
        if group_gone(process, wait):
            break
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=5)
    deadline = time.monotonic() + 10
    while not port_is_free(port) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert port_is_free(port), f"port {port} is still in use after stopping"


def group_gone(process: subprocess.Popen[bytes], timeout: float) -> bool:
    """Whether every process of `process`'s group has ended within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        process.poll()  # reap the leader: a zombie still counts as a member of the group
        try:
            os.killpg(process.pid, 0)
        except ProcessLookupError:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
