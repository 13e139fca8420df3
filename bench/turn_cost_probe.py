"""One revision's side of `bench.turn_cost`: time add-task turns and print one JSON line.

Run as a script inside the revision's tree, never imported:

    cd <tree> && PYTHONPATH=<tree> python -P <this file> --database URL --turns N --warmup W

so `taskpilot` is that revision's (`-P` keeps this folder, with the newer `bench/`, off
`sys.path`). It imports nothing from `bench/`, which an older revision may lack, and from
TaskPilot only what outlives a rewrite: `Settings`, `migrate`, `Runtime` and `create_api`.
Every turn goes through the public HTTP API in-process, so what it costs is the server's work
behind a stable contract, whatever the agent's Python API looks like.

With `--paced` the parent drives it turn by turn over stdin and stdout: it says `ready` after
the warm-up, and before each timed turn waits for a line, then says `done` after it. Two
probes, old and new, so take turns, and a busy moment on the machine lands on both alike.
The last line of stdout is the JSON result.

What is counted, per timed turn (the request, and the tasks it left running until they end):
- statements: every `before_cursor_execute` on any SQLAlchemy engine in the process (the
  runtime's and any other it makes); an `executemany` counts once. Not seen: what SQLAlchemy
  sends outside a cursor execute (BEGIN, COMMIT, ROLLBACK, the pool's pre-ping, the SQLite
  PRAGMAs run on connect).
- checkouts: connections taken from a pool. TaskPilot's PostgreSQL engine pre-pings: a
  `SELECT 1` round trip on every checkout of a connection that is not brand new.
- connects: new database connections (none, once the pool is warm).
- CPU: `time.process_time_ns()`, this process, all threads (aiosqlite runs SQLite in a
  thread, so SQLite's own work is in it; a PostgreSQL server's is not). It includes the
  in-process HTTP client, the same for every revision.
- wall: from sending the request to having the whole response.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import gc
import json
import logging
import os
import sys
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from sqlalchemy import event

import taskpilot
from taskpilot.api.app import create_api
from taskpilot.core.config import Settings
from taskpilot.core.db import migrate
from taskpilot.runtime import Runtime

TREE = Path(taskpilot.__file__).resolve().parent.parent  # the tree measured, for the parent
MESSAGE = "add buy milk"
PASSWORD = "correct horse battery staple"  # noqa: S105 - a throwaway benchmark account
SECRET = "taskpilot-turn-cost-secret-not-for-production-0123456789"  # noqa: S105
TURNS_PER_CONVERSATION = 10  # short conversations, so history length does not dominate
SETTLE_SECONDS = 5.0  # how long a turn's leftover tasks may take to finish


class TurnFailed(RuntimeError):
    """A turn did not answer 200 with a successful add_task call."""


class SqlCounter:
    """Statements executed (by first keyword), connections checked out and opened, in every
    engine and pool of the process."""

    def __init__(self) -> None:
        self.statements: collections.Counter[str] = collections.Counter()
        self.checkouts = 0
        self.connects = 0
        event.listen(sa.Engine, "before_cursor_execute", self._statement)
        event.listen(sa.pool.Pool, "checkout", self._checkout)
        event.listen(sa.pool.Pool, "connect", self._connect)

    def _statement(self, _conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        keyword = statement.lstrip().split(None, 1)[0].upper() if statement.strip() else "?"
        self.statements[keyword] += 1

    def _checkout(self, *_: Any) -> None:
        self.checkouts += 1

    def _connect(self, *_: Any) -> None:
        self.connects += 1

    def reading(self) -> tuple[int, int]:
        """(statements so far, checkouts so far)."""
        return self.statements.total(), self.checkouts


class Account:
    """A signed-up user chatting through `POST /api/{user_id}/chat`."""

    def __init__(self, http: httpx.AsyncClient, user_id: str, token: str) -> None:
        self.http = http
        self.user_id = user_id
        self.headers = {"Authorization": f"Bearer {token}"}
        self.conversation_id: str | None = None
        self.turns = 0

    @classmethod
    async def sign_up(cls, http: httpx.AsyncClient) -> Account:
        email = f"turn-cost-{uuid.uuid4().hex[:8]}@example.com"
        response = await http.post("/api/auth/signup", json={"email": email, "password": PASSWORD})
        if response.status_code != 201:
            raise TurnFailed(f"signup answered {response.status_code}: {response.text[:300]}")
        body = response.json()
        return cls(http, body["user"]["id"], body["access_token"])

    async def add_task(self) -> None:
        """One add-task turn; a new conversation every TURNS_PER_CONVERSATION turns."""
        if self.turns % TURNS_PER_CONVERSATION == 0:
            self.conversation_id = None
        self.turns += 1
        body = {"message": MESSAGE, "conversation_id": self.conversation_id}
        response = await self.http.post(
            f"/api/{self.user_id}/chat", json=body, headers=self.headers
        )
        if response.status_code != 200:
            raise TurnFailed(f"chat answered {response.status_code}: {response.text[:300]}")
        payload = response.json()
        calls = payload.get("tool_calls") or []
        if not calls or calls[0].get("name") != "add_task" or calls[0].get("is_error"):
            raise TurnFailed(f"the turn did not add a task: {payload}")
        self.conversation_id = payload["conversation_id"]


async def settle(before: set[asyncio.Task[Any]]) -> int:
    """Wait for the tasks started since `before` (a turn outlives its response by a little);
    returns how many were still running after SETTLE_SECONDS (long-lived, e.g. a cache)."""
    started = asyncio.all_tasks() - before - {asyncio.current_task()}
    if not started:
        return 0
    _, pending = await asyncio.wait(started, timeout=SETTLE_SECONDS)
    return len(pending)


@dataclass
class Samples:
    """Per timed turn: wall and CPU time, statements, checkouts; tasks left running."""

    wall_ns: list[int] = field(default_factory=list)
    cpu_ns: list[int] = field(default_factory=list)
    statements: list[int] = field(default_factory=list)
    checkouts: list[int] = field(default_factory=list)
    lingering_tasks: int = 0


async def timed_turn(account: Account, counter: SqlCounter, samples: Samples) -> None:
    """One turn, counted until the tasks it started have ended."""
    before = asyncio.all_tasks()
    statements, checkouts = counter.reading()
    cpu_started = time.process_time_ns()
    started = time.perf_counter_ns()
    await account.add_task()
    samples.wall_ns.append(time.perf_counter_ns() - started)
    samples.lingering_tasks += await settle(before)
    samples.cpu_ns.append(time.process_time_ns() - cpu_started)
    statements_now, checkouts_now = counter.reading()
    samples.statements.append(statements_now - statements)
    samples.checkouts.append(checkouts_now - checkouts)


def say(word: str) -> None:
    print(word, flush=True)


def wait_for_go() -> None:
    """Block until the parent sends a line. It blocks the event loop on purpose: between its
    turns this process does nothing at all while the other probe runs its turn."""
    if not sys.stdin.readline():
        raise SystemExit("the parent went away")


async def measure(database_url: str, turns: int, warmup: int, paced: bool) -> dict[str, Any]:
    """Warm up, then time `turns` add-task turns on a started runtime (each on cue if paced)."""
    values: dict[str, Any] = {
        "database_url": database_url,
        "jwt_secret": SECRET,
        "model_provider": "offline",  # the built-in model: it calls the real add_task tool
        "chat_turns_per_minute": 0,  # no limit: the benchmark chats faster than a person
        "max_concurrent_turns": 0,
    }
    runtime = Runtime(Settings(_env_file=None, **values))  # type: ignore[call-arg]
    app = create_api(runtime)
    counter = SqlCounter()
    samples = Samples()
    async with runtime.running():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://localhost:8000", timeout=60
        ) as http:
            account = await Account.sign_up(http)
            for _ in range(warmup):
                await timed_turn(account, counter, Samples())
            account.turns = 0  # the timed turns start a conversation of their own
            gc.collect()
            kinds_before = collections.Counter(counter.statements)
            connects_before = counter.connects
            if paced:
                say("ready")
            for _ in range(turns):
                if paced:
                    wait_for_go()
                await timed_turn(account, counter, samples)
                if paced:
                    say("done")
            kinds = counter.statements - kinds_before
            connects = counter.connects - connects_before
    return {
        "tree": str(TREE),
        **asdict(samples),
        "statement_kinds": dict(kinds.most_common()),
        "connects": connects,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", required=True, help="an empty database's URL")
    parser.add_argument("--turns", type=int, required=True)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--paced", action="store_true", help="each timed turn on a stdin line")
    args = parser.parse_args()
    for name in list(os.environ):  # every setting as shipped, whatever this shell exports
        if name.lower() in Settings.model_fields:
            del os.environ[name]
    migrate(args.database)
    logging.getLogger().setLevel(logging.WARNING)  # after Alembic's logging configuration
    result = asyncio.run(measure(args.database, args.turns, args.warmup, args.paced))
    say(json.dumps(result))


if __name__ == "__main__":
    main()
