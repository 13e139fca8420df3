"""Real processes for the fault tests: TaskPilot servers started the production way, a private
PostgreSQL that a test may stop, a model stand-in that can hold a reply half-way, and an audit
of what the database holds after a fault.

- `launch` / `wait_until_serving` / `stop_server`: `python -m taskpilot.serve --backend-only`
  (migrations, then `reflex run --env prod`, whose Granian supervisor forks the workers) on a
  free loopback port, in its own process group, with the environment the browser tests give
  the prod server (`tests.support.app_server.server_env`: coverage of the workers counts,
  and here of `taskpilot.serve` before it execs Reflex too).
- `PrivatePostgres`: a throwaway cluster (`initdb` as the `postgres` user, trust auth, a free
  loopback port, its socket in its own directory), so stopping it never touches the shared
  PostgreSQL on 5432 that other tests and people use.
- `HoldingStandIn`: the loopback OpenAI stand-in, with steps scripted per user message (turns
  running at once each get their own) and holds: a step stops before it answers, or after
  its first streamed chunks, until the test releases it.
- `audit_turns`: every stored turn is whole (a reply belongs to a user message, one reply per
  message, a status that matches) — what "no partial turn is stored" means.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg

from taskpilot.api import sse
from taskpilot.core.config import PROJECT_ROOT
from tests.support.app_server import server_env, stop_group
from tests.support.harness import PASSWORD, free_port
from tests.support.openai_standin import OpenAIStandIn, RecordedRequest, Step, _Handler

START_TIMEOUT = 120.0
STOP_TIMEOUT = 20.0
PG_BIN = Path("/usr/lib/postgresql/15/bin")


# --- TaskPilot servers -----------------------------------------------------------------------


@dataclass
class Server:
    """One machine's TaskPilot: the `reflex run` supervisor (the pid `taskpilot.serve` execs
    into) and the Granian workers it forked."""

    name: str
    process: subprocess.Popen[bytes]
    port: int
    log_path: Path
    launched_at: float
    ready_after: float | None = None  # seconds from launch to the first 200 from /api/health

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def worker_pids(self) -> list[int]:
        """The Granian workers: the children of the supervisor."""
        children: list[int] = []
        for task in Path(f"/proc/{self.process.pid}/task").glob("*/children"):
            with contextlib.suppress(OSError):
                children += [int(pid) for pid in task.read_text().split()]
        return sorted(children)

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])


def launch(
    name: str,
    workdir: Path,
    database_url: str,
    model_base_url: str,
    *,
    workers: int = 1,
    redis_url: str | None = None,
    extra_env: dict[str, str] | None = None,
) -> Server:
    """Start `python -m taskpilot.serve` for one machine (do not wait for it)."""
    port = free_port()
    log_path = workdir / f"{name}.log"
    env = server_env(database_url, model_base_url, port, redis_url, extra_env)
    if redis_url is None:
        env.pop("REFLEX_REDIS_URL", None)
    if exported := env.get("COVERAGE_PROCESS_CONFIG"):
        # taskpilot.serve ends by exec'ing `reflex run`: save its coverage data first.
        from coverage.config import CoverageConfig

        config = CoverageConfig.deserialize(exported)
        config.patch = sorted({*config.patch, "execv"})
        env["COVERAGE_PROCESS_CONFIG"] = config.serialize()
    command = [
        sys.executable,
        "-m",
        "taskpilot.serve",
        "--workers",
        str(workers),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--backend-only",
    ]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command,
            cwd=PROJECT_ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stop it and its workers together
        )
    return Server(name, process, port, log_path, time.monotonic())


def wait_until_serving(server: Server, workers: int, timeout: float = START_TIMEOUT) -> float:
    """Wait for /api/health to answer 200 with every worker forked; seconds since launch."""
    deadline = server.launched_at + timeout
    with httpx.Client(base_url=server.base_url, timeout=5) as http:
        while time.monotonic() < deadline:
            if server.process.poll() is not None:
                raise RuntimeError(
                    f"{server.name} exited with {server.process.returncode}:\n{server.log_tail()}"
                )
            with contextlib.suppress(httpx.HTTPError):
                if (
                    http.get("/api/health").status_code == 200
                    and len(server.worker_pids()) >= workers
                ):
                    server.ready_after = time.monotonic() - server.launched_at
                    return server.ready_after
            time.sleep(0.1)
    raise RuntimeError(f"{server.name} did not serve in {timeout:.0f} s:\n{server.log_tail()}")


def stop_server(server: Server) -> None:
    """SIGINT to the process group (a graceful stop writes the workers' coverage data), then
    SIGTERM and SIGKILL if it lingers; afterwards nothing of it runs and its port is free."""
    stop_group(server.process, server.port, STOP_TIMEOUT)


def pid_alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie does not count)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def _socket_inodes(local_port: int, remote_port: int) -> set[str]:
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError), open(table) as rows:
            next(rows)
            for row in rows:
                fields = row.split()
                local, remote, inode = fields[1], fields[2], fields[9]
                if (
                    int(local.rsplit(":", 1)[1], 16) == local_port
                    and int(remote.rsplit(":", 1)[1], 16) == remote_port
                ):
                    inodes.add(inode)
    return inodes


def worker_serving(server: Server, client_port: int) -> int:
    """The worker whose socket is the server end of the client connection from `client_port`
    (Granian's workers accept on a shared socket, so any of them may hold it)."""
    wanted = {f"socket:[{inode}]" for inode in _socket_inodes(server.port, client_port)}
    for pid in server.worker_pids():
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            with contextlib.suppress(OSError):
                if os.readlink(fd) in wanted:
                    return pid
    raise LookupError(f"no worker of {server.name} holds the connection from :{client_port}")


# --- a private PostgreSQL --------------------------------------------------------------------


def private_postgres_problem() -> str | None:
    """Why a private PostgreSQL cannot be run here, or None when it can."""
    if not (PG_BIN / "initdb").exists():
        return f"{PG_BIN}/initdb is missing (Debian's postgresql-15)"
    if os.geteuid() != 0:
        return "a private PostgreSQL is started as the `postgres` user, which needs root"
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        return "there is no `postgres` user to run a private PostgreSQL as"
    return None


class PrivatePostgres:
    """A PostgreSQL cluster of the test session's own, in a temporary directory."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="taskpilot-faults-pg-"))
        shutil.chown(self.dir, "postgres", "postgres")
        self.data = self.dir / "data"
        self.log = self.dir / "postgres.log"
        self.port = free_port()

    def _run(self, *args: str, timeout: float = 60) -> None:
        result = subprocess.run(
            ["runuser", "-u", "postgres", "--", *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            stdin=subprocess.DEVNULL,
        )
        if result.returncode != 0:
            raise RuntimeError(f"{args[0]} failed: {result.stdout}\n{result.stderr}")

    def init(self) -> None:
        self._run(
            str(PG_BIN / "initdb"),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--no-sync",
        )

    def start(self) -> None:
        """Start it and wait until it accepts connections."""
        options = (
            f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off"
            " -c max_connections=100"
        )
        self._run(
            str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-w", "-o",
            options, "start",
        )  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        """Stop it (`immediate` is a crash: no checkpoint, clients cut off at once)."""
        self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    @property
    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        with psycopg.connect(self.url().replace("+psycopg", ""), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def destroy(self) -> None:
        """Stop it however it is (SIGKILL to the postmaster as a last resort), remove its files."""
        if self.running:
            try:
                self.stop("immediate")
            except (RuntimeError, subprocess.TimeoutExpired):
                with contextlib.suppress(OSError, ValueError, IndexError):
                    pid = int((self.data / "postmaster.pid").read_text().split()[0])
                    os.kill(pid, signal.SIGKILL)
        shutil.rmtree(self.dir, ignore_errors=True)


# --- the model stand-in, with holds ----------------------------------------------------------


@dataclass
class Hold:
    """A point where a scripted step waits: before it answers (`after_chunks=0`) or after its
    first `after_chunks` streamed chunks (chat completions: the role chunk, then one word a
    chunk). `reached` is set when a request gets there; it waits for `release`."""

    after_chunks: int = 0
    reached: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)

    def wait_here(self, standin: OpenAIStandIn) -> bool:
        """Wait for the release; False when the stand-in is stopping instead."""
        self.reached.set()
        while not self.release.wait(0.05):
            if standin.wait(0):
                return False
        return True


_served = threading.local()  # the hold of the step this handler thread is answering


class _HoldingHandler(_Handler):
    def _chunk(self, text: str) -> None:
        hold: Hold | None = getattr(_served, "hold", None)
        if hold is not None and hold.after_chunks and _served.sent == hold.after_chunks:
            _served.hold = None
            if not hold.wait_here(self.server.standin):
                raise BrokenPipeError("the stand-in is stopping")
        _served.sent = getattr(_served, "sent", 0) + 1
        super()._chunk(text)


def last_user_text(request: RecordedRequest) -> str:
    """The newest user message of a model request (what the turn is answering)."""
    for item in reversed(request.conversation()):
        if item.get("role") == "user":
            content = item.get("content")
            return content if isinstance(content, str) else json.dumps(content)
    return ""


class HoldingStandIn(OpenAIStandIn):
    """`OpenAIStandIn` whose steps can be scripted per user message and held half-way."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._for_message: dict[str, deque[Step]] = {}
        self._holds: dict[int, Hold] = {}
        # What a request gets when nothing is scripted for it (e.g. background load).
        self.default: Step | None = None

    def start(self) -> HoldingStandIn:
        super().start()
        assert self._server is not None
        self._server.RequestHandlerClass = _HoldingHandler
        return self

    def __enter__(self) -> HoldingStandIn:
        return self.start()

    def script_for(self, message: str, *steps: Step) -> None:
        """Steps for the model requests of the turn whose newest user message is `message`
        (turns that run at once each get their own, whatever order they arrive in)."""
        with self._lock:
            self._for_message.setdefault(message, deque()).extend(steps)

    def hold(self, step: Step, after_chunks: int = 0) -> Hold:
        """Make `step` (an object passed to `script`/`script_for`) wait at a hold."""
        hold = Hold(after_chunks)
        with self._lock:
            self._holds[id(step)] = hold
        return hold

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._steps) + sum(len(steps) for steps in self._for_message.values())

    def _next_step(self, request: RecordedRequest) -> Step | None:
        if request.is_title:  # a conversation's title: answered from the titles' own queue
            return super()._next_step(request)
        text = last_user_text(request)
        with self._lock:
            queue = self._for_message.get(text)
            if queue:
                step: Step | None = queue.popleft()
            elif self._steps:
                step = self._steps.popleft()
            elif self.default is not None:
                step = self.default
            else:
                self._unexpected.append(request)
                return None
            hold = self._holds.pop(id(step), None)
        _served.hold, _served.sent = hold, 0
        if hold is not None and hold.after_chunks == 0:
            _served.hold = None
            hold.wait_here(self)
        return step

    def release_all(self) -> None:
        """Let every held step go on (the end of a test)."""
        with self._lock:
            holds = list(self._holds.values())
            self._holds.clear()
        for hold in holds:
            hold.release.set()

    def reset(self) -> None:
        """Forget what the last test scripted and received."""
        self.release_all()
        with self._lock:
            self.default = None
            self._steps.clear()
            self._for_message.clear()
            self._requests.clear()
            self._unexpected.clear()

    def requests_for(self, message: str) -> list[RecordedRequest]:
        """The model requests made for the turn answering `message`."""
        return [r for r in self.model_requests if last_user_text(r) == message]


# --- the API, from a client's side -----------------------------------------------------------


@dataclass
class Account:
    """A signed-up person: id and auth headers."""

    id: str
    email: str
    headers: dict[str, str]

    def sse(self) -> dict[str, str]:
        return {**self.headers, "Accept": "text/event-stream"}


async def sign_up(http: httpx.AsyncClient, email: str) -> Account:
    response = await http.post("/api/auth/signup", json={"email": email, "password": PASSWORD})
    assert response.status_code == 201, response.text
    body = response.json()
    return Account(body["user"]["id"], email, {"Authorization": f"Bearer {body['access_token']}"})


async def sse_events(response: httpx.Response) -> AsyncIterator[tuple[str, dict[str, Any]]]:
    """A streamed response's server-sent events as they arrive, as (event, data) pairs."""
    async for event in sse.read_events(response):
        yield event.event, event.json()


def client_port(response: httpx.Response) -> int:
    """The local port of the connection a streamed response arrives on."""
    stream = response.extensions["network_stream"]
    return int(stream.get_extra_info("client_addr")[1])


async def messages(http: httpx.AsyncClient, who: Account, conversation_id: str) -> list[Any]:
    url = f"/api/{who.id}/conversations/{conversation_id}/messages"
    response = await http.get(url, headers=who.headers)
    assert response.status_code == 200, response.text
    return list(response.json()["messages"])


# --- what the database holds -----------------------------------------------------------------


@dataclass
class TurnAudit:
    """What is wrong with the stored turns (`problems`), and which user messages are still
    running (their turn is under way, or was lost with its worker and its lease runs out)."""

    problems: list[str]
    pending: list[dict[str, Any]]
    duplicate_tasks: list[tuple[str, str, int]]


def audit_turns(database_url: str, user_ids: list[str]) -> TurnAudit:
    """Check every stored turn of these people is whole: each reply answers one user message
    of the same person and conversation and comes right after it, no message has two replies,
    an answered message has its reply and a failed one has none; tasks are not duplicated."""
    with psycopg.connect(database_url.replace("+psycopg", "")) as conn:
        rows = conn.execute(
            "SELECT id, conversation_id, user_id, role, status, reply_to_id, content,"
            " client_message_id FROM messages WHERE user_id = ANY(%s) ORDER BY id",
            (user_ids,),
        ).fetchall()
        duplicates = conn.execute(
            "SELECT user_id, title, count(*) FROM tasks WHERE user_id = ANY(%s)"
            " GROUP BY user_id, title HAVING count(*) > 1",
            (user_ids,),
        ).fetchall()
    users = {row[0]: row for row in rows if row[3] == "user"}
    replies: dict[int, list[int]] = {}
    problems: list[str] = []
    for mid, conversation, user, role, _status, reply_to, _content, _cid in rows:
        if role != "assistant":
            continue
        asked = users.get(reply_to) if reply_to is not None else None
        if asked is None:
            problems.append(f"assistant message {mid} answers no user message")
        elif (asked[1], asked[2]) != (conversation, user):
            problems.append(f"assistant message {mid} answers a message of another thread")
        else:
            replies.setdefault(reply_to, []).append(mid)
    # History alternates: a reply comes right after its question in its conversation.
    previous: dict[str, int] = {}
    for mid, conversation, _user, role, _status, reply_to, _content, _cid in rows:
        if role == "assistant" and previous.get(conversation) != reply_to:
            problems.append(f"assistant message {mid} does not follow its question {reply_to}")
        previous[conversation] = mid
    pending = []
    for mid, _conversation, _user, _role, status, _reply_to, content, cid in users.values():
        answers = replies.get(mid, [])
        if len(answers) > 1:
            problems.append(f"user message {mid} has {len(answers)} replies")
        if status == "answered" and not answers:
            problems.append(f"user message {mid} is answered but has no reply")
        if status == "failed" and answers:
            problems.append(f"user message {mid} is failed but has a reply")
        if status == "running":
            pending.append({"id": mid, "content": content, "client_message_id": cid})
    return TurnAudit(problems, pending, [tuple(row) for row in duplicates])
