"""A turn's life under real concurrency: requests sent at once to a running server
(`python -m taskpilot.serve`), on SQLite (one worker) and on PostgreSQL (two workers sharing
Redis), with the loopback model stand-in as the only double — it makes turns slow or failing.

Each test asserts what the database holds afterwards: tasks, messages (order, status, one
reply each), conversations. SIGKILL of a worker mid-turn, then a retry once its lease ran
out, is in `test_faults.py` (two machines on PostgreSQL); SIGTERM mid-turn is here.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from taskpilot.agent.engine import SHUT_DOWN
from taskpilot.core.db import migrate, sync_url
from tests.support.app_server import group_gone, redis_problem
from tests.support.cluster import (
    Account,
    HoldingStandIn,
    Server,
    launch,
    sign_up,
    stop_server,
    wait_until_serving,
)
from tests.support.harness import PG_SKIP, fresh_postgres_database
from tests.support.openai_standin import error, reply, tool_call

REDIS_URL = os.environ.get("TASKPILOT_TEST_RACES_REDIS_URL") or "redis://127.0.0.1:6379/12"
AT_ONCE = 6
WAIT = 4  # TURN_WAIT_SECONDS on these servers
SETTINGS = {
    "CHAT_TURNS_PER_MINUTE": "100000",
    "MAX_CONCURRENT_TURNS": "20",
    "TURN_WAIT_SECONDS": str(WAIT),
    # The default lease (20 s): no test here waits for one to run out (test_faults does), and
    # a short one lapses when a loaded machine starves the worker (CI saw a 3 s one run out
    # mid-turn, so another request took the turn over).
    "SHUTDOWN_GRACE_SECONDS": "2",
}


@dataclass
class Machine:
    """A running server and the database it uses."""

    server: Server
    database_url: str
    kind: str

    def rows(self, sql: str, **params: Any) -> list[Any]:
        engine = sa.create_engine(sync_url(self.database_url), poolclass=sa.pool.NullPool)
        try:
            with engine.connect() as conn:
                return list(conn.execute(sa.text(sql), params).all())
        finally:
            engine.dispose()

    def messages(self, user_id: str) -> list[tuple[Any, ...]]:
        """(conversation, role, content, status, reply_to_id, id) of a person, in order."""
        return [
            tuple(row)
            for row in self.rows(
                "SELECT conversation_id, role, content, status, reply_to_id, id FROM messages"
                " WHERE user_id = :user ORDER BY id",
                user=user_id,
            )
        ]

    def tasks(self, user_id: str) -> list[str]:
        rows = self.rows("SELECT title FROM tasks WHERE user_id = :user ORDER BY id", user=user_id)
        return [row[0] for row in rows]

    def conversations(self, user_id: str) -> int:
        return int(
            self.rows("SELECT count(*) FROM conversations WHERE user_id = :user", user=user_id)[0][
                0
            ]
        )


def alternates(messages: list[tuple[Any, ...]]) -> bool:
    """Every reply comes right after its question, in its conversation."""
    last: dict[str, int] = {}
    for conversation, role, _content, _status, reply_to, mid in messages:
        if role == "assistant" and last.get(conversation) != reply_to:
            return False
        last[conversation] = mid
    return True


@pytest.fixture(scope="module")
def model() -> Iterator[HoldingStandIn]:
    with HoldingStandIn() as standin:
        yield standin


@pytest.fixture
def script(model: HoldingStandIn) -> Iterator[HoldingStandIn]:
    model.reset()
    yield model
    model.release_all()


def _start(
    kind: str,
    workdir: Path,
    model: HoldingStandIn,
    database_url: str,
    settings: dict[str, str] | None = None,
) -> Server:
    workers = 2 if kind == "postgres" else 1
    server = launch(
        kind,
        workdir,
        database_url,
        model.base_url,
        workers=workers,
        redis_url=REDIS_URL if kind == "postgres" else None,
        extra_env={**SETTINGS, **(settings or {})},
    )
    try:
        wait_until_serving(server, workers=workers)
    except BaseException:
        stop_server(server)
        raise
    return server


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def machine(
    request: pytest.FixtureRequest,
    model: HoldingStandIn,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Machine]:
    """A running server: SQLite with one worker, or PostgreSQL with two on Redis."""
    kind: str = request.param
    workdir = tmp_path_factory.mktemp(f"races-{kind}")
    with contextlib.ExitStack() as cleanup:
        if kind == "postgres":
            if PG_SKIP:
                pytest.skip(PG_SKIP)
            if problem := redis_problem(REDIS_URL):
                pytest.skip(problem)
            url = cleanup.enter_context(fresh_postgres_database("taskpilot_races"))
        else:
            url = f"sqlite:///{workdir / 'taskpilot.db'}"
            migrate(url)
        server = _start(kind, workdir, model, url)
        cleanup.callback(stop_server, server)
        yield Machine(server, url, kind)


def chat(who: Account) -> str:
    return f"/api/{who.id}/chat"


def unique(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:8]}@example.com"


async def _at_once(http: httpx.AsyncClient, who: Account, bodies: list[dict[str, Any]]) -> Any:
    return await asyncio.gather(
        *(http.post(chat(who), json=body, headers=who.headers) for body in bodies)
    )


async def test_a_double_submitted_first_message_makes_one_conversation_and_one_task(
    machine: Machine, script: HoldingStandIn
) -> None:
    async with httpx.AsyncClient(base_url=machine.server.base_url, timeout=30) as http:
        ada = await sign_up(http, unique("ada"))
        script.script_for(
            "add call the dentist",
            tool_call("add_task", {"title": "Call the dentist"}),
            reply("Added Call the dentist.", delay=0.5),
        )
        body = {"message": "add call the dentist", "client_message_id": "first-1"}
        answers = await _at_once(http, ada, [body] * AT_ONCE)
    assert [a.status_code for a in answers] == [200] * AT_ONCE, [a.text for a in answers]
    assert len({a.json()["conversation_id"] for a in answers}) == 1
    assert len({a.json()["message_id"] for a in answers}) == 1
    assert sum(not a.json()["replayed"] for a in answers) == 1
    assert machine.conversations(ada.id) == 1
    assert machine.tasks(ada.id) == ["Call the dentist"]
    stored = machine.messages(ada.id)
    assert [(m[1], m[3]) for m in stored] == [("user", "answered"), ("assistant", "answered")]
    assert len(script.requests_for("add call the dentist")) == 2  # one turn: call, then reply


async def test_simultaneous_retries_of_a_failed_message_run_it_once(
    machine: Machine, script: HoldingStandIn
) -> None:
    async with httpx.AsyncClient(base_url=machine.server.base_url, timeout=30) as http:
        ada = await sign_up(http, unique("ada"))
        asked = "add renew the passport"
        body = {"message": asked, "client_message_id": "retry-1"}
        script.script_for(asked, error(500, "upstream exploded"))
        failed = await http.post(chat(ada), json=body, headers=ada.headers)
        assert failed.status_code == 502, failed.text
        script.reset()
        script.script_for(
            asked,
            tool_call("add_task", {"title": "Renew the passport"}),
            reply("Added Renew the passport.", delay=0.5),
        )
        answers = await _at_once(http, ada, [body] * AT_ONCE)
    assert [a.status_code for a in answers] == [200] * AT_ONCE, [a.text for a in answers]
    assert len({a.json()["message_id"] for a in answers}) == 1
    assert sum(not a.json()["replayed"] for a in answers) == 1
    assert machine.tasks(ada.id) == ["Renew the passport"]
    stored = machine.messages(ada.id)
    assert [(m[1], m[2], m[3]) for m in stored] == [
        ("user", asked, "answered"),
        ("assistant", "Added Renew the passport.", "answered"),
    ]
    assert machine.conversations(ada.id) == 1


async def test_messages_sent_at_once_into_one_conversation_never_interleave(
    machine: Machine, script: HoldingStandIn
) -> None:
    async with httpx.AsyncClient(base_url=machine.server.base_url, timeout=30) as http:
        ada = await sign_up(http, unique("ada"))
        script.script_for("hello", reply("Hi."))
        first = await http.post(chat(ada), json={"message": "hello"}, headers=ada.headers)
        cid = first.json()["conversation_id"]
        texts = [f"add errand {n}" for n in range(4)]
        for text in texts:
            script.script_for(
                text,
                tool_call("add_task", {"title": text.removeprefix("add ")}),
                reply(f"Added {text.removeprefix('add ')}.", delay=1.0),
            )
        started = time.monotonic()
        answers = await _at_once(
            http, ada, [{"message": text, "conversation_id": cid} for text in texts]
        )
        took = time.monotonic() - started
    outcomes = [(a.status_code, a.json().get("code")) for a in answers]
    # Each waits up to WAIT s for the turn before it: those that ran are 200, the rest a 409
    # that says why — and nothing of theirs is stored.
    assert set(outcomes) <= {(200, None), (409, "turn_in_progress")}, outcomes
    answered = [text for text, a in zip(texts, answers, strict=True) if a.status_code == 200]
    assert answered, outcomes
    refused = [text for text in texts if text not in answered]
    stored = machine.messages(ada.id)
    assert alternates(stored), stored
    assert [m[3] for m in stored] == ["answered"] * len(stored)
    questions = [m[2] for m in stored if m[1] == "user"]
    assert sorted(questions) == sorted(["hello", *answered])
    assert not set(refused) & set(questions)
    assert sorted(machine.tasks(ada.id)) == sorted(t.removeprefix("add ") for t in answered)
    assert took < len(texts) * (1.0 + WAIT)  # bounded: nobody waits forever


async def test_sigterm_mid_turn_ends_the_turn_in_bounded_time_and_leaves_nothing_running(
    model: HoldingStandIn, script: HoldingStandIn, tmp_path: Path, sqlite_url: str
) -> None:
    """Granian runs the app's shutdown (where the engine drains) only once its in-flight
    requests have ended, so a turn whose client is still waiting ends by its deadline; the
    question is failed with a reason, not left running, and the server exits."""
    deadline = 6
    server = _start("sqlite", tmp_path, model, sqlite_url, {"TURN_DEADLINE_SECONDS": str(deadline)})
    machine = Machine(server, sqlite_url, "sqlite")
    try:
        async with httpx.AsyncClient(base_url=server.base_url, timeout=60) as http:
            ada = await sign_up(http, unique("ada"))
            held = reply("You asked for a long answer.")
            script.script_for("take your time", held)
            hold = script.hold(held)
            turn = asyncio.create_task(
                http.post(chat(ada), json={"message": "take your time"}, headers=ada.headers)
            )
            assert await asyncio.to_thread(hold.reached.wait, 15)
            stopped_at = time.monotonic()
            os.kill(server.process.pid, signal.SIGTERM)
            [answer] = await asyncio.gather(turn, return_exceptions=True)
            assert await asyncio.to_thread(group_gone, server.process, 30)
            took = time.monotonic() - stopped_at
        # The client is told why if the server still can; the message is kept and failed
        # with a reason; nothing is left running.
        if isinstance(answer, httpx.Response):
            assert answer.json()["code"] in ("turn_timeout", "shutting_down"), answer.text
        else:
            assert isinstance(answer, httpx.HTTPError), answer
        stored = machine.messages(ada.id)
        assert [(m[1], m[3]) for m in stored] == [("user", "failed")]
        [(reason,)] = machine.rows("SELECT error FROM messages WHERE user_id = :u", u=ada.id)
        assert reason == SHUT_DOWN or f"longer than {deadline} seconds" in reason
        assert took < deadline + 2 + 15, f"the server took {took:.1f} s to stop"
        print(f"\nSIGTERM mid-turn: the server was gone {took:.1f} s later ({reason!r})")
    finally:
        stop_server(server)
