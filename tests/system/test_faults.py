"""Fault tests: real TaskPilot servers (`python -m taskpilot.serve`, Granian workers), real
PostgreSQL and Redis, and faults made for real — a worker SIGKILLed mid-stream, PostgreSQL
stopped under load, a model that stalls or fails, a tool that raises inside the server, a
client that hangs up. The model is the only test double (the loopback OpenAI stand-in).

Two "machines", A and B, share one PostgreSQL database (a fresh one on the shared server at
TASKPILOT_TEST_POSTGRES_URL) and one Redis, as workers behind a load balancer do. Stopping
PostgreSQL uses a private cluster of this session's own (`tests.support.cluster.PrivatePostgres`),
never the shared one. Figures measured on the way (start-up, recovery) are printed at the end
of the module.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from taskpilot.api import sse
from taskpilot.core.errors import DATABASE_DOWN
from tests.support.app_server import group_gone, redis_problem
from tests.support.cluster import (
    PASSWORD,
    Account,
    HoldingStandIn,
    PrivatePostgres,
    Server,
    audit_turns,
    client_port,
    launch,
    messages,
    pid_alive,
    private_postgres_problem,
    sign_up,
    sse_events,
    stop_server,
    wait_until_serving,
    worker_serving,
)
from tests.support.harness import PG_SKIP, fresh_postgres_database
from tests.support.mcp_client import mcp_session, payload
from tests.support.openai_standin import error, reply, stall, stream_error, tool_call

pytestmark = pytest.mark.postgres

REDIS_URL = os.environ.get("TASKPILOT_TEST_FAULTS_REDIS_URL") or "redis://127.0.0.1:6379/11"
MODEL_KEY = "sk-compat-FaultTestsKey-5d8e2a91c4b7f03e"
MODEL_TIMEOUT = 3  # seconds per model call on A and B; the openai client tries twice
LEASE = 3  # seconds: a dead worker's turn is known dead this soon after its last renewal
# Limits that must not get in the way of the faults under test.
SETTINGS = {
    "CHAT_TURNS_PER_MINUTE": "100000",
    "MAX_CONCURRENT_TURNS": "10",
    "SIGN_IN_ATTEMPTS": "0",
    "MODEL_API_KEY": MODEL_KEY,
    "MODEL_TIMEOUT_SECONDS": str(MODEL_TIMEOUT),
    "TURN_LEASE_SECONDS": str(LEASE),
    "TURN_WAIT_SECONDS": str(LEASE + 3),
}
# While PostgreSQL is down a request waits for a connection at most DB_POOL_TIMEOUT (the
# outage server's). One that takes SLOW_IN_OUTAGE waited on the database again and again, or
# hung; a busy machine slows an answer by far less.
OUTAGE_POOL_TIMEOUT = 2
SLOW_IN_OUTAGE = 5 * OUTAGE_POOL_TIMEOUT
# What no answer to a person may contain.
INTERNALS = ("Traceback", "psycopg", "sqlalchemy", "OperationalError", "[SQL", MODEL_KEY)


def unique(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:8]}@example.com"


def assert_readable(text: str) -> None:
    for word in INTERNALS:
        assert word not in text, f"{word!r} reached the client: {text[:300]}"


def chat(who: Account) -> str:
    return f"/api/{who.id}/chat"


def _new_worker(server: Server, known: list[int], timeout: float) -> float:
    """Seconds until `server` has a worker that is not one of `known` (a replacement)."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if any(pid not in known for pid in server.worker_pids()):
            return time.monotonic() - started
        time.sleep(0.1)
    raise AssertionError(
        f"no worker replaced the dead one in {timeout:.0f} s:\n{server.log_tail()}"
    )


# --- fixtures --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def figures(request: pytest.FixtureRequest) -> Iterator[dict[str, str]]:
    """Figures the tests measure, printed when the module is done."""
    found: dict[str, str] = {}
    yield found
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None and found:
        reporter.write_line("")
        for name, value in found.items():
            reporter.write_line(f"fault tests: {name}: {value}")


@pytest.fixture(scope="module")
def model() -> Iterator[HoldingStandIn]:
    """The model double every server here talks to (the only double)."""
    with HoldingStandIn(api_key=MODEL_KEY) as standin:
        yield standin


@pytest.fixture
def script(model: HoldingStandIn) -> Iterator[HoldingStandIn]:
    """The stand-in, fresh for one test (each test checks it used every step it scripted)."""
    model.reset()
    yield model
    model.release_all()


@pytest.fixture(scope="module")
def shared_database() -> Iterator[str]:
    """A fresh, migrated database on the shared PostgreSQL, dropped afterwards."""
    if PG_SKIP:
        pytest.skip(PG_SKIP)
    if problem := redis_problem(REDIS_URL):
        pytest.skip(problem)
    with fresh_postgres_database("taskpilot_faults") as url:
        yield url


@dataclass
class Cluster:
    a: Server  # two workers: the machine that loses one
    b: Server  # one worker: the machine that carries on


@pytest.fixture(scope="module")
def cluster(
    shared_database: str,
    model: HoldingStandIn,
    tmp_path_factory: pytest.TempPathFactory,
    figures: dict[str, str],
) -> Iterator[Cluster]:
    """Two machines on one PostgreSQL database and one Redis, started at once."""
    workdir = tmp_path_factory.mktemp("cluster")
    servers: list[Server] = []
    try:
        for name, workers in (("A", 2), ("B", 1)):
            servers.append(
                launch(
                    name,
                    workdir,
                    shared_database,
                    model.base_url,
                    workers=workers,
                    redis_url=REDIS_URL,
                    extra_env=SETTINGS,
                )
            )
        a, b = servers
        wait_until_serving(a, workers=2)
        wait_until_serving(b, workers=1)
        figures["start, launch to first health 200 (A: 2 workers, B: 1, started together)"] = (
            f"A {a.ready_after:.1f} s, B {b.ready_after:.1f} s"
        )
        yield Cluster(a, b)
    finally:
        for server in servers:
            stop_server(server)


@pytest.fixture(scope="session")
def private_postgres() -> Iterator[PrivatePostgres]:
    """A PostgreSQL cluster of this session's own, that tests may stop and start."""
    if problem := private_postgres_problem():
        pytest.skip(problem)
    pg = PrivatePostgres()
    try:
        pg.init()
        pg.start()
        yield pg
    finally:
        pg.destroy()


@dataclass
class Outage:
    server: Server
    pg: PrivatePostgres
    url: str


@pytest.fixture(scope="module")
def outage(
    private_postgres: PrivatePostgres,
    model: HoldingStandIn,
    tmp_path_factory: pytest.TempPathFactory,
    figures: dict[str, str],
) -> Iterator[Outage]:
    """One machine on the private PostgreSQL (taskpilot.serve migrates the empty database)."""
    if problem := redis_problem(REDIS_URL):
        pytest.skip(problem)
    url = private_postgres.create_database(f"taskpilot_{uuid.uuid4().hex[:8]}")
    server = launch(
        "C",
        tmp_path_factory.mktemp("outage"),
        url,
        model.base_url,
        workers=1,
        redis_url=REDIS_URL,
        # A slower model than A and B allow for: turns stay in flight while PostgreSQL stops.
        extra_env={
            **SETTINGS,
            "MODEL_TIMEOUT_SECONDS": "20",
            "DB_POOL_TIMEOUT": str(OUTAGE_POOL_TIMEOUT),
        },
    )
    try:
        wait_until_serving(server, workers=1)
        figures["start, launch to first health 200 (C: 1 worker, migrating an empty database)"] = (
            f"{server.ready_after:.1f} s"
        )
        yield Outage(server, private_postgres, url)
    finally:
        stop_server(server)


# --- 1. a worker killed mid-stream -----------------------------------------------------------


async def test_a_worker_killed_mid_stream_leaves_the_conversation_whole_on_another_machine(
    cluster: Cluster, script: HoldingStandIn, shared_database: str, figures: dict[str, str]
) -> None:
    a, b = cluster.a, cluster.b
    async with (
        httpx.AsyncClient(base_url=a.base_url, timeout=15) as on_a,
        httpx.AsyncClient(base_url=b.base_url, timeout=15) as on_b,
    ):
        alice, bob = await sign_up(on_a, unique("alice")), await sign_up(on_b, unique("bob"))
        script.script_for(
            "add bob's secret plan",
            tool_call("add_task", {"title": "Bob's secret plan"}),
            reply("Added Bob's secret plan."),
        )
        bobs = await on_b.post(
            chat(bob), json={"message": "add bob's secret plan"}, headers=bob.headers
        )
        assert bobs.status_code == 200, bobs.text

        script.script_for(
            "add pack the tent",
            tool_call("add_task", {"title": "Pack the tent"}),
            reply("Added Pack the tent as task 1."),
        )
        first = await on_a.post(
            chat(alice), json={"message": "add pack the tent"}, headers=alice.headers
        )
        assert first.status_code == 200, first.text
        cid = first.json()["conversation_id"]

        # The second turn on A adds a task, then its reply stalls after the first word.
        asked = "add buy gas and tell me the route"
        stalled = reply("Added Buy gas. The route goes over the pass.")
        script.script_for(asked, tool_call("add_task", {"title": "Buy gas"}), stalled)
        script.hold(stalled, after_chunks=2)
        body = {"message": asked, "conversation_id": cid, "client_message_id": "alice-2"}
        seen: list[str] = []
        async with on_a.stream("POST", chat(alice), json=body, headers=alice.sse()) as response:
            events = sse_events(response)
            async for kind, _ in events:
                seen.append(kind)
                if kind == "text_delta":
                    break
            victim = worker_serving(a, client_port(response))
            sibling = [pid for pid in a.worker_pids() if pid != victim]
            killed = time.monotonic()
            os.kill(victim, signal.SIGKILL)
            with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
                async for kind, _ in events:
                    seen.append(kind)
            cut = time.monotonic() - killed
        assert seen == ["started", "tool_started", "tool_finished", "text_delta"], (
            "the client saw the turn end although its worker died"
        )

        # The machine replaces the dead worker (`taskpilot.workers`): its supervisor and the
        # sibling stay up, a new worker appears, and the machine answers again.
        respawned_after = await asyncio.to_thread(_new_worker, a, [victim, *sibling], 30)
        figures["SIGKILL of a worker mid-stream (A, 2 workers)"] = (
            f"client cut off after {cut * 1000:.0f} ms; a new worker after"
            f" {respawned_after:.1f} s (the supervisor and the sibling stayed up)"
        )
        assert a.process.poll() is None and all(pid_alive(pid) for pid in sibling)
        assert (await on_a.get("/api/health/ready")).status_code == 200
        # The retry below must be B's to serve: A goes away whole.
        os.killpg(a.process.pid, signal.SIGKILL)
        await asyncio.to_thread(group_gone, a.process, 10)

        # The next request goes to B: the conversation is there, the interrupted turn's
        # message kept and unanswered, no half-written reply, the task it added kept.
        listed = await on_b.get(f"/api/{alice.id}/conversations", headers=alice.headers)
        assert [c["id"] for c in listed.json()["conversations"]] == [cid]
        stored = await messages(on_b, alice, cid)
        assert [(m["role"], m["content"]) for m in stored] == [
            ("user", "add pack the tent"),
            ("assistant", "Added Pack the tent as task 1."),
            ("user", asked),
        ]
        assert stored[2]["status"] in ("running", "failed")
        tasks = (await on_b.get(f"/api/{alice.id}/tasks", headers=alice.headers)).json()
        assert [t["title"] for t in tasks["tasks"]] == ["Pack the tent", "Buy gas"]

        # A retry on B waits while the dead turn's lease lasts (B can't tell it from a turn
        # running elsewhere), then claims it the moment the lease runs out and answers it,
        # shown the add_task call A already made, so Buy gas is not added twice.
        script.script_for(asked, reply("Buy gas is on your list; the route goes over the pass."))
        sent = time.monotonic()
        retried = await on_b.post(chat(alice), json=body, headers=alice.headers)
        answered = time.monotonic()
        recovered = answered - killed
        assert retried.status_code == 200, retried.text
        # The lease ran out at most LEASE after the kill (its last renewal came before it); B
        # answers soon after that, or after the retry was sent if the steps above (a new
        # worker, A's teardown) took longer on a busy machine.
        assert answered - max(killed + LEASE, sent) < MODEL_TIMEOUT + 5
        figures["SIGKILL mid-turn, then a retry on another machine"] = (
            f"answered {recovered:.1f} s after the kill (TURN_LEASE_SECONDS={LEASE})"
        )
        [seen_by_b] = script.requests_for(asked)[-1:]
        assert "Buy gas" in json.dumps(seen_by_b.conversation())
        replayed = await on_b.post(chat(alice), json=body, headers=alice.headers)
        assert replayed.json()["replayed"] is True
        assert replayed.json()["message_id"] == retried.json()["message_id"]
        script.script_for("what is still open?", reply("Pack the tent and Buy gas are open."))
        later = {"message": "what is still open?", "conversation_id": cid}
        answered = await on_b.post(chat(alice), json=later, headers=alice.headers)
        assert answered.status_code == 200, answered.text
        [asked_b] = script.requests_for("what is still open?")
        history = json.dumps(asked_b.conversation())
        for part in ("add pack the tent", "Pack the tent", "Added Pack the tent", asked):
            assert part in history, f"B's model did not see {part!r}"
        assert "Bob" not in history
        # Every turn answered once, in order; of the reply A was streaming, not a word.
        stored = await messages(on_b, alice, cid)
        assert [(m["role"], m["content"], m["status"]) for m in stored] == [
            ("user", "add pack the tent", "answered"),
            ("assistant", "Added Pack the tent as task 1.", "answered"),
            ("user", asked, "answered"),
            ("assistant", "Buy gas is on your list; the route goes over the pass.", "answered"),
            ("user", "what is still open?", "answered"),
            ("assistant", "Pack the tent and Buy gas are open.", "answered"),
        ]
        tasks = (await on_b.get(f"/api/{alice.id}/tasks", headers=alice.headers)).json()
        assert [t["title"] for t in tasks["tasks"]] == ["Pack the tent", "Buy gas"]

        # Nobody else's data: each sees only their own conversations and tasks.
        bobs_list = await on_b.get(f"/api/{bob.id}/conversations", headers=bob.headers)
        assert [c["id"] for c in bobs_list.json()["conversations"]] == [
            bobs.json()["conversation_id"]
        ]
        peek = await on_b.get(
            f"/api/{alice.id}/conversations/{bobs.json()['conversation_id']}/messages",
            headers=alice.headers,
        )
        assert peek.status_code == 404
        bob_tasks = (await on_b.get(f"/api/{bob.id}/tasks", headers=bob.headers)).json()
        assert [t["title"] for t in bob_tasks["tasks"]] == ["Bob's secret plan"]
        audit = audit_turns(shared_database, [alice.id, bob.id])
        assert audit.problems == [] and audit.pending == [] and audit.duplicate_tasks == []

        script.assert_done()

        # The killed attempt added Buy gas before it died. A retry after a model failure is
        # shown the tool calls its failed attempt made (so it does not repeat them); a retry
        # after a lost worker must be too, or a real model adds Buy gas a second time.
        told = [
            call["function"]["arguments"]
            for item in script.requests_for(asked)[-1].conversation()
            for call in item.get("tool_calls") or []
        ]
        assert any("Buy gas" in arguments for arguments in told), (
            "the retried turn was not told that its lost attempt already called "
            "add_task('Buy gas'): a turn's tool calls are stored only when it ends "
            "(AgentService finish/fail), so they die with the worker"
        )


# --- 2. PostgreSQL stopped under load --------------------------------------------------------


@dataclass
class Outcome:
    what: str
    status: int | None  # None: no HTTP answer at all (a cut connection or a client timeout)
    seconds: float
    body: str
    at: float


async def _load(http: httpx.AsyncClient, who: Account, stop: asyncio.Event) -> list[Outcome]:
    """One client's steady traffic: reads, JSON turns and streamed turns, one after another."""
    outcomes: list[Outcome] = []
    for n in range(10_000):
        if stop.is_set():
            break
        what = ("tasks", "conversations", "chat", "chat-sse")[n % 4]
        started = time.monotonic()
        try:
            if what == "tasks":
                response = await http.get(f"/api/{who.id}/tasks", headers=who.headers)
            elif what == "conversations":
                response = await http.get(f"/api/{who.id}/conversations", headers=who.headers)
            elif what == "chat":
                response = await http.post(
                    chat(who), json={"message": f"load {n}"}, headers=who.headers
                )
            else:
                response = await http.post(
                    chat(who), json={"message": f"load {n}"}, headers=who.sse()
                )
            outcome = Outcome(what, response.status_code, 0.0, response.text, started)
        except httpx.HTTPError as exc:
            outcome = Outcome(what, None, 0.0, repr(exc), started)
        outcome.seconds = time.monotonic() - started
        outcomes.append(outcome)
        await asyncio.sleep(0.02)
    return outcomes


def _problem(outcome: Outcome) -> str | None:
    """Why an answer under load is not acceptable: only a success or a clear 503 is."""
    if outcome.status is None:
        return f"{outcome.what}: no answer ({outcome.body})"
    if outcome.seconds > SLOW_IN_OUTAGE:
        return f"{outcome.what}: {outcome.seconds:.1f} s"
    events = sse.parse_events(outcome.body) if outcome.what == "chat-sse" else []
    if outcome.status == 200 and outcome.what == "chat-sse" and not events:
        return f"chat-sse: {outcome.status} without an event ({outcome.body[:200]})"
    if outcome.status == 200 and outcome.what == "chat-sse":
        last = events[-1]
        if last.event == "done":
            return None
        if last.event == "error" and last.json()["code"] == "database_unavailable":
            return None
        return f"chat-sse ended with {last.event}: {last.data[:200]}"
    if outcome.status == 200:
        return None
    if outcome.status == 503 and outcome.what == "chat-sse" and events:
        # A reader that takes only a stream is refused with one `error` event (and the status):
        # the outage caught this turn between its sign-in check and storing its question.
        kinds = [event.event for event in events]
        last = events[-1].json()
        if kinds == ["error"] and (last["code"], last["message"]) == (
            "database_unavailable",
            DATABASE_DOWN,
        ):
            return None
    if outcome.status == 503:
        try:
            body = json.loads(outcome.body)
        except ValueError:
            body = {}
        if body.get("code") in ("unavailable", "database_unavailable") and (
            body.get("detail") == DATABASE_DOWN
        ):
            return None
    return f"{outcome.what}: {outcome.status} {outcome.body[:200]}"


async def _stream_turn(http: httpx.AsyncClient, who: Account, body: dict[str, Any]) -> list[Any]:
    """A streamed turn's events, read to the end."""
    async with http.stream("POST", chat(who), json=body, headers=who.sse()) as response:
        assert response.status_code == 200
        return [(kind, data) async for kind, data in sse_events(response)]


async def test_postgres_stopped_under_load_gives_clear_503s_and_recovers_by_itself(
    outage: Outage, script: HoldingStandIn, figures: dict[str, str]
) -> None:
    server, pg = outage.server, outage.pg
    script.default = reply("ok")  # the background load's turns
    async with httpx.AsyncClient(base_url=server.base_url, timeout=20) as http:
        people = [await sign_up(http, unique(f"person{i}")) for i in range(4)]
        conversations = []
        for i, who in enumerate(people):
            script.script_for(f"hello from {i}", reply(f"Hello {i}!"))
            hello = await http.post(
                chat(who), json={"message": f"hello from {i}"}, headers=who.headers
            )
            assert hello.status_code == 200, hello.text
            conversations.append(hello.json()["conversation_id"])
        workers = server.worker_pids()

        # Four turns in flight when PostgreSQL stops, each held at the model:
        # 0 before its tool call runs, 1 after its tool call wrote a task, 2 mid-reply
        # (streamed), 3 before answering (JSON).
        asked = ["add water the plants", "add renew the passport", "tell me a plan", "say hi"]
        step0 = tool_call("add_task", {"title": "Water the plants"})
        step1 = reply("Added Renew the passport.")
        step2 = reply("First the plants, then the passport.")
        step3 = reply("Hello again.")
        script.script_for(asked[0], step0, reply("I could not add that just now."))
        script.script_for(asked[1], tool_call("add_task", {"title": "Renew the passport"}), step1)
        script.script_for(asked[2], step2)
        script.script_for(asked[3], step3)
        holds = [
            script.hold(step0),
            script.hold(step1),
            script.hold(step2, after_chunks=2),
            script.hold(step3),
        ]
        bodies = [
            {"message": text, "conversation_id": cid, "client_message_id": f"in-flight-{i}"}
            for i, (text, cid) in enumerate(zip(asked, conversations, strict=True))
        ]
        in_flight: list[asyncio.Task[Any]] = [
            asyncio.create_task(_stream_turn(http, people[i], bodies[i])) for i in range(3)
        ]
        in_flight.append(
            asyncio.create_task(
                http.post(chat(people[3]), json=bodies[3], headers=people[3].headers)
            )
        )
        for hold in holds:
            assert await asyncio.to_thread(hold.reached.wait, 15), "a turn never reached the model"

        stop_load = asyncio.Event()
        load = [asyncio.create_task(_load(http, who, stop_load)) for who in people[:3]]
        await asyncio.sleep(1.0)  # load with the database up

        down_at = time.monotonic()
        await asyncio.to_thread(pg.stop, "immediate")
        answers, latency = await _probe_everything(http, people[3], conversations[3])
        for name, answer in answers.items():
            if not isinstance(answer, httpx.Response):
                continue  # no answer at all: checked below, with the other delays
            assert answer.status_code == 503, f"{name}: {answer.status_code} {answer.text}"
            expected = {"status": "unavailable", "database": False, "draining": False}
            if name != "health":
                expected = {"detail": DATABASE_DOWN, "code": "database_unavailable"}
            assert answer.json() == expected, name

        # The held turns go on against a database that is gone.
        for hold in holds:
            hold.release.set()
        ended = await asyncio.gather(*in_flight, return_exceptions=True)

        await asyncio.sleep(1.0)  # load against the stopped database
        await asyncio.to_thread(pg.start)
        back_at = time.monotonic()
        while not await _healthy(http):
            assert time.monotonic() - back_at < 30, "the service did not recover by itself"
            await asyncio.sleep(0.05)
        recovered = time.monotonic() - back_at
        await asyncio.sleep(1.0)  # load with the database back
        stop_load.set()
        outcomes = [outcome for done in await asyncio.gather(*load) for outcome in done]
        assert server.worker_pids() == workers, "the worker was restarted"
        figures["PostgreSQL back (pg_ctl start returned) to the first health 200"] = (
            f"{recovered * 1000:.0f} ms (outage {back_at - down_at:.1f} s)"
        )
        figures["requests while PostgreSQL was down"] = (
            f"{len(outcomes)} under load, {sum(o.status == 503 for o in outcomes)} of them 503;"
            f" slowest {max(o.seconds for o in outcomes) * 1000:.0f} ms; probes: "
            + ", ".join(f"{name} {ms:.0f} ms" for name, ms in latency.items())
        )
        after = [o for o in outcomes if o.at > back_at + recovered]
        assert any(o.status == 503 for o in outcomes if down_at <= o.at < back_at)
        assert after and all(o.status == 200 for o in after), "requests failed after recovery"

        # A new turn works for everyone, without restarting anything.
        for i, who in enumerate(people):
            script.script_for(f"back again {i}", reply(f"Welcome back {i}."))
            again = {"message": f"back again {i}", "conversation_id": conversations[i]}
            answer = await http.post(chat(who), json=again, headers=who.headers)
            assert answer.status_code == 200, answer.text
        script.assert_done()

        # No partial turn: every reply has its question, nothing answered twice, no task
        # twice; the task the tool wrote before the outage is there, the one it could not
        # write is not.
        audit = audit_turns(outage.url, [who.id for who in people])
        assert audit.problems == [] and audit.duplicate_tasks == []
        titles = []
        for who in people[:2]:
            listed = (await http.get(f"/api/{who.id}/tasks", headers=who.headers)).json()
            titles.append([t["title"] for t in listed["tasks"]])
        assert titles == [[], ["Renew the passport"]]

        # Every request met a success or a clear 503 (or, for a turn under way, an error
        # event saying the database is unavailable) — none slow, none cut off, no 500.
        problems = [p for o in outcomes if (p := _problem(o))]
        assert problems == [], f"{len(problems)} of {len(outcomes)}:\n" + "\n".join(problems[:12])
        unanswered = {name: a for name, a in answers.items() if not isinstance(a, httpx.Response)}
        assert unanswered == {}, f"no answer during the outage: {unanswered}"
        assert max(latency.values()) < SLOW_IN_OUTAGE * 1000, (
            f"requests during the outage took {latency} ms"
        )
        cut = [repr(turn) for turn in ended if isinstance(turn, BaseException)]
        assert cut == [], f"turns under way got no answer: {cut}"
        for events in ended[:3]:
            assert isinstance(events, list)
            kind, data = events[-1]
            assert (kind, data.get("code"), data.get("message")) == (
                "error",
                "database_unavailable",
                DATABASE_DOWN,
            ), f"a streamed turn ended with {events[-1]}"
            assert_readable(json.dumps(events))
        assert isinstance(ended[0], list)
        tool_failure = [data for kind, data in ended[0] if kind == "tool_finished"]
        assert tool_failure[0]["is_error"] is True
        assert DATABASE_DOWN in tool_failure[0]["result"]
        json_turn = ended[3]
        assert isinstance(json_turn, httpx.Response)
        assert (json_turn.status_code, json_turn.json().get("code")) == (
            503,
            "database_unavailable",
        ), json_turn.text
        assert json_turn.json()["detail"] == DATABASE_DOWN

        # Each interrupted turn told its client "try again shortly". Its failure could not be
        # written with the database down, but its lease ran out, so the next message into its
        # conversation ("back again", above) found it dead and failed it: nothing is left
        # running. Retrying it now, after a newer message, is refused in words: its answer
        # would land out of order.
        assert audit.pending == [], f"left running: {audit.pending}"
        retries = [
            await http.post(chat(who), json=body, headers=who.headers)
            for who, body in zip(people, bodies, strict=True)
        ]
        assert [(r.status_code, r.json()["code"]) for r in retries] == [
            (409, "not_latest_message")
        ] * 4, [r.text for r in retries]


async def _healthy(http: httpx.AsyncClient) -> bool:
    try:
        return (await http.get("/api/health")).status_code == 200
    except httpx.HTTPError:
        return False


async def _probe_everything(
    http: httpx.AsyncClient, who: Account, cid: str
) -> tuple[dict[str, httpx.Response | str], dict[str, float]]:
    """Every kind of request at once; the answers (or why there was none) and how long each
    took (ms)."""
    probes = {
        "health": http.get("/api/health"),
        "conversations": http.get(f"/api/{who.id}/conversations", headers=who.headers),
        "messages": http.get(f"/api/{who.id}/conversations/{cid}/messages", headers=who.headers),
        "tasks": http.get(f"/api/{who.id}/tasks", headers=who.headers),
        "chat": http.post(chat(who), json={"message": "hi"}, headers=who.headers),
        "chat-sse": http.post(chat(who), json={"message": "hi"}, headers=who.sse()),
        "signup": http.post(
            "/api/auth/signup", json={"email": unique("late"), "password": "long password 1"}
        ),
        "login": http.post("/api/auth/login", json={"email": who.email, "password": PASSWORD}),
    }
    latency: dict[str, float] = {}

    async def timed(name: str, request: Any) -> httpx.Response | str:
        started = time.monotonic()
        try:
            return await request  # type: ignore[no-any-return]
        except httpx.HTTPError as exc:
            return repr(exc)
        finally:
            latency[name] = (time.monotonic() - started) * 1000

    answers = await asyncio.gather(*(timed(name, request) for name, request in probes.items()))
    return dict(zip(probes, answers, strict=True)), latency


# --- 3. the model times out or fails ---------------------------------------------------------


async def test_a_model_that_times_out_or_fails_gets_a_readable_error_and_a_retry_works(
    cluster: Cluster, script: HoldingStandIn, shared_database: str, figures: dict[str, str]
) -> None:
    b = cluster.b
    async with httpx.AsyncClient(base_url=b.base_url, timeout=30) as http:
        carol = await sign_up(http, unique("carol"))

        # No answer within MODEL_TIMEOUT_SECONDS, twice (the openai client retries once).
        asked = "add call the plumber"
        script.script_for(asked, stall(MODEL_TIMEOUT + 2), stall(MODEL_TIMEOUT + 2))
        body = {"message": asked, "client_message_id": "plumber"}
        started = time.monotonic()
        failed = await http.post(chat(carol), json=body, headers=carol.headers)
        took = time.monotonic() - started
        assert failed.status_code == 502, failed.text
        cid = failed.json()["conversation_id"]
        assert failed.json() == {
            "detail": "The model took too long to answer. Please try again.",
            "code": "model_timeout",
            "conversation_id": cid,
        }
        # Two calls, each cut at MODEL_TIMEOUT (the stand-in counts them: `assert_done` below
        # fails a third, however quick), with three times that for a busy machine: only a turn
        # that waited on something else takes longer.
        assert took < 3 * 2 * MODEL_TIMEOUT, f"the timeout took {took:.1f} s"
        figures[f"model stall to the client's 502 (MODEL_TIMEOUT_SECONDS={MODEL_TIMEOUT})"] = (
            f"{took:.1f} s"
        )
        [kept] = await messages(http, carol, cid)
        assert (kept["content"], kept["status"]) == (asked, "failed")
        assert kept["error"] == "The model took too long to answer. Please try again."

        script.script_for(
            asked, tool_call("add_task", {"title": "Call the plumber"}), reply("Added it.")
        )
        retried = await http.post(chat(carol), json=body, headers=carol.headers)
        assert retried.status_code == 200, retried.text
        assert (retried.json()["conversation_id"], retried.json()["response"]) == (cid, "Added it.")

        # An HTTP 500 from the model, twice, over SSE: an error event, then a retry works.
        asked = "what is open?"
        leaky = "upstream exploded at db-7 (password=hunter2)"
        script.script_for(asked, error(500, leaky), error(500, leaky))
        body = {"message": asked, "conversation_id": cid, "client_message_id": "open"}
        events = await _stream_turn(http, carol, body)
        assert [kind for kind, _ in events] == ["started", "error"]
        assert events[-1][1]["code"] == "model_error"
        assert events[-1][1]["message"] == "The model service returned an error. Please try again."
        assert "hunter2" not in json.dumps(events)
        script.script_for(asked, reply("Call the plumber is open."))
        events = await _stream_turn(http, carol, body)
        assert events[-1][0] == "done" and events[-1][1]["response"] == "Call the plumber is open."

        # The model stalls after its first word: the person saw a word, and gets an error.
        asked = "anything due today?"
        stalled = reply("Nothing is due today.")
        script.script_for(asked, stalled)
        script.hold(stalled, after_chunks=2)  # never released: the client times out
        events = await _stream_turn(http, carol, {"message": asked, "conversation_id": cid})
        assert [kind for kind, _ in events] == ["started", "text_delta", "error"]
        assert_readable(json.dumps(events))
        assert events[-1][1]["code"] == "model_timeout", events[-1]
        assert events[-1][1]["message"] == "The model took too long to answer. Please try again."

        stored = await messages(http, carol, cid)
        assert [(m["role"], m["status"]) for m in stored] == [
            ("user", "answered"),
            ("assistant", "answered"),
            ("user", "answered"),
            ("assistant", "answered"),
            ("user", "failed"),  # kept, and no half reply beside it
        ]
        assert stored[-1]["content"] == asked
        audit = audit_turns(shared_database, [carol.id])
        assert audit.problems == [] and audit.pending == []
        script.assert_done()
    assert MODEL_KEY not in b.log_text()


# --- 4. an MCP tool raises -------------------------------------------------------------------


async def test_a_task_deleted_by_another_request_mid_turn_is_a_tool_error_the_agent_reports(
    cluster: Cluster, script: HoldingStandIn, shared_database: str
) -> None:
    b = cluster.b
    async with httpx.AsyncClient(base_url=b.base_url, timeout=15) as http:
        dave, erin = await sign_up(http, unique("dave")), await sign_up(http, unique("erin"))
        token = dave.headers["Authorization"].split()[1]
        async with mcp_session(f"{b.base_url}/mcp", token) as tools:
            added = payload(await tools.call_tool("add_task", {"title": "Return the books"}))
        assert added["task_id"] == 1

        # The model decides to complete task 1; before the call runs, another request (an MCP
        # client of Dave's, e.g. his IDE) deletes it.
        asked = "complete return the books"
        decided = tool_call("complete_task", {"task_id": 1})
        script.script_for(asked, decided, reply("Task 1 is gone; it may have been deleted."))
        hold = script.hold(decided)
        turn = asyncio.create_task(_stream_turn(http, dave, {"message": asked}))
        assert await asyncio.to_thread(hold.reached.wait, 10)
        async with mcp_session(f"{b.base_url}/mcp", token) as tools:
            deleted = payload(await tools.call_tool("delete_task", {"task_id": 1}))
        assert deleted["status"] == "deleted"
        # Meanwhile another person's turn is served as usual.
        script.script_for(
            "add file taxes", tool_call("add_task", {"title": "File taxes"}), reply("Added.")
        )
        erins = await http.post(
            chat(erin), json={"message": "add file taxes"}, headers=erin.headers
        )
        hold.release.set()
        events = await asyncio.wait_for(turn, timeout=10)

        assert [kind for kind, _ in events if kind != "text_delta"] == [
            "started",
            "tool_started",
            "tool_finished",
            "done",
        ]
        [finished] = [data for kind, data in events if kind == "tool_finished"]
        assert finished["is_error"] is True
        # The MCP SDK puts "Error executing tool complete_task: " before the tool's words.
        assert finished["result"].endswith("Task 1 was not found in your list.")
        assert events[-1][1]["response"] == "Task 1 is gone; it may have been deleted."
        outputs = script.requests_for(asked)[-1].function_outputs()
        assert list(outputs.values()) == [finished["result"]]  # the model read the same

        # The next turn and the other person are unaffected.
        assert erins.status_code == 200 and erins.json()["tool_calls"][0]["result"]["task_id"] == 1
        script.script_for(
            "add buy stamps", tool_call("add_task", {"title": "Buy stamps"}), reply("Added.")
        )
        nxt = await http.post(chat(dave), json={"message": "add buy stamps"}, headers=dave.headers)
        assert nxt.status_code == 200 and nxt.json()["tool_calls"][0]["result"]["task_id"] == 2
        for who, titles in ((dave, ["Buy stamps"]), (erin, ["File taxes"])):
            listed = (await http.get(f"/api/{who.id}/tasks", headers=who.headers)).json()
            assert [t["title"] for t in listed["tasks"]] == titles
        audit = audit_turns(shared_database, [dave.id, erin.id])
        assert audit.problems == [] and audit.pending == []
        script.assert_done()


async def test_tool_arguments_refused_inside_the_server_are_reported_without_internals(
    cluster: Cluster, script: HoldingStandIn, shared_database: str
) -> None:
    """The model double sends arguments the server refuses: one the MCP server's schema
    validation rejects, and two that pass it and that PostgreSQL cannot store or compare
    (a NUL in a title, a task number beyond any integer column — refused by TaskService
    where it checks for them, or else an exception that is not a ToolError, which the MCP
    SDK reports without its text). Each is a tool error the agent reads and reports."""
    b = cluster.b
    async with httpx.AsyncClient(base_url=b.base_url, timeout=15) as http:
        frank = await sign_up(http, unique("frank"))
        script.script_for("add milk", tool_call("add_task", {"title": "Milk"}), reply("Added."))
        first = await http.post(chat(frank), json={"message": "add milk"}, headers=frank.headers)
        assert first.status_code == 200, first.text
        cid = first.json()["conversation_id"]

        asked = "add bread urgently and finish task 99999999999999999999999"
        script.script_for(
            asked,
            tool_call("add_task", {"title": "Bread", "priority": "urgent"}),
            tool_call("add_task", {"title": "Bread\u0000", "tags": ["shop"]}),
            tool_call("complete_task", {"task_id": 10**23}),
            reply("I could not do any of those."),
        )
        events = await _stream_turn(http, frank, {"message": asked, "conversation_id": cid})
        assert events[-1][0] == "done", events[-1]
        assert events[-1][1]["response"] == "I could not do any of those."
        failed = [data for kind, data in events if kind == "tool_finished"]
        assert [(call["name"], call["is_error"]) for call in failed] == [
            ("add_task", True),
            ("add_task", True),
            ("complete_task", True),
        ]
        assert "priority" in failed[0]["result"]  # the validation error names the field
        assert_readable(json.dumps(events))
        for word in ("INSERT", "UPDATE", "SELECT", "NumericValueOutOfRange", "DataError"):
            assert word not in json.dumps(events), f"{word!r} reached the client"
        outputs = script.requests_for(asked)[-1].function_outputs()
        assert list(outputs.values())[-3:] == [call["result"] for call in failed]

        # Nothing half-written, nothing else broken: task 1 is as it was, the next task is
        # task 2, and the next turn works.
        script.script_for(
            "add bread",
            tool_call("add_task", {"title": "Bread"}),
            tool_call("complete_task", {"task_id": 1}),
            reply("Added Bread and finished Milk."),
        )
        nxt = await http.post(
            chat(frank),
            json={"message": "add bread", "conversation_id": cid},
            headers=frank.headers,
        )
        assert nxt.status_code == 200, nxt.text
        assert [call["result"]["task_id"] for call in nxt.json()["tool_calls"]] == [2, 1]
        listed = (await http.get(f"/api/{frank.id}/tasks", headers=frank.headers)).json()
        assert [(t["title"], t["completed"]) for t in listed["tasks"]] == [
            ("Milk", True),
            ("Bread", False),
        ]
        stored = await messages(http, frank, cid)
        assert [(m["role"], m["status"]) for m in stored] == [
            ("user", "answered"),
            ("assistant", "answered"),
        ] * 3
        assert [call["is_error"] for call in stored[3]["tool_calls"]] == [True, True, True]
        audit = audit_turns(shared_database, [frank.id])
        assert audit.problems == [] and audit.pending == []
        script.assert_done()


# --- 5. a client disconnects mid-stream ------------------------------------------------------


async def _hang_up_after_first_word(http: httpx.AsyncClient, who: Account, message: str) -> str:
    """Start a streamed turn and drop the connection at its first text delta."""
    async with http.stream(
        "POST", chat(who), json={"message": message}, headers=who.sse()
    ) as response:
        async for kind, data in sse_events(response):
            if kind == "started":
                cid = str(data["conversation_id"])
            if kind == "text_delta":
                break
    return cid


async def _wait_for_status(
    http: httpx.AsyncClient, who: Account, cid: str, status: str
) -> list[Any]:
    deadline = time.monotonic() + 15
    while True:
        stored = await messages(http, who, cid)
        if stored[0]["status"] == status:
            return stored
        assert time.monotonic() < deadline, f"the turn stayed {stored[0]['status']}"
        await asyncio.sleep(0.1)


async def test_a_client_that_hangs_up_mid_stream_still_gets_its_reply_stored_once(
    cluster: Cluster, script: HoldingStandIn, shared_database: str
) -> None:
    b = cluster.b
    async with httpx.AsyncClient(base_url=b.base_url, timeout=15) as http:
        grace = await sign_up(http, unique("grace"))
        asked = "plan my week"
        full = reply("Monday the dentist, Friday the report.")
        script.script_for(asked, full)
        hold = script.hold(full, after_chunks=2)
        cid = await _hang_up_after_first_word(http, grace, asked)
        hold.release.set()  # the model finishes after the client left
        stored = await _wait_for_status(http, grace, cid, "answered")
        assert [(m["role"], m["content"]) for m in stored] == [
            ("user", asked),
            ("assistant", "Monday the dentist, Friday the report."),
        ]
        assert len(script.requests_for(asked)) == 1  # the turn ran once

        # The conversation goes on, with the reply the client never saw in its history.
        script.script_for("and saturday?", reply("Saturday is free."))
        body = {"message": "and saturday?", "conversation_id": cid}
        nxt = await http.post(chat(grace), json=body, headers=grace.headers)
        assert nxt.status_code == 200 and nxt.json()["response"] == "Saturday is free."
        seen = json.dumps(script.requests_for("and saturday?")[0].conversation())
        assert "Monday the dentist, Friday the report." in seen
        audit = audit_turns(shared_database, [grace.id])
        assert audit.problems == [] and audit.pending == []
        script.assert_done()


async def test_a_client_that_hangs_up_before_the_model_fails_leaves_its_message_failed(
    cluster: Cluster, script: HoldingStandIn, shared_database: str
) -> None:
    b = cluster.b
    async with httpx.AsyncClient(base_url=b.base_url, timeout=15) as http:
        heidi = await sign_up(http, unique("heidi"))
        asked = "summarise my list"
        broken = stream_error(text="Your list has three tasks.")
        script.script_for(asked, broken)
        hold = script.hold(broken, after_chunks=2)
        cid = await _hang_up_after_first_word(http, heidi, asked)
        hold.release.set()  # now the model breaks off
        stored = await _wait_for_status(http, heidi, cid, "failed")
        assert [(m["role"], m["content"]) for m in stored] == [("user", asked)]
        assert stored[0]["error"] == "The model service returned an error. Please try again."

        script.script_for(asked, reply("You have no tasks yet."))
        body = {"message": asked, "conversation_id": cid}
        nxt = await http.post(chat(heidi), json=body, headers=heidi.headers)
        assert nxt.status_code == 200 and nxt.json()["response"] == "You have no tasks yet."
        audit = audit_turns(shared_database, [heidi.id])
        assert audit.problems == [] and audit.pending == []
        script.assert_done()
