"""Operations metrics: what an operator's Prometheus reads from GET /metrics.

The real API app, runtime, MCP server and database; only the model is a scripted double. The
metrics live in the test process, shared by every test, so each test compares a scrape taken
after with one taken before. Aggregation across workers runs real processes writing to a
multiprocess directory, as Granian's workers do under `python -m taskpilot.serve`.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import httpx2
import pytest
from agents.testing import ModelStep, ScriptedModel, assistant_message, function_call
from openai import APIConnectionError
from prometheus_client.parser import text_string_to_metric_families
from pydantic import ValidationError

from taskpilot.core import metrics
from taskpilot.core.config import PROJECT_ROOT, Settings
from taskpilot.runtime import Runtime
from tests.support.harness import api_client, make_settings, scripted_runtime, sign_up

TOKEN = "metrics-token-for-tests-0123456789"
SCRAPER = {"Authorization": f"Bearer {TOKEN}"}


class Scrape:
    """One scrape's samples, read by name and labels (a sample not there reads 0)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.values: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                key = (sample.name, frozenset(sample.labels.items()))
                self.values[key] = sample.value

    def __call__(self, name: str, **labels: str) -> float:
        return self.values.get((name, frozenset(labels.items())), 0.0)

    def labels_of(self, name: str) -> list[dict[str, str]]:
        return [dict(labels) for sample, labels in self.values if sample == name]


async def scrape(http: httpx.AsyncClient) -> Scrape:
    response = await http.get("/metrics", headers=SCRAPER)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=")
    return Scrape(response.text)


def metered(url: str, **overrides: Any) -> Settings:
    return make_settings(url, metrics_token=TOKEN, **overrides)


class GatedModel(ScriptedModel):
    """A scripted model whose replies wait for `gate`, so turns stay running meanwhile."""

    def __init__(self, replies: int) -> None:
        super().__init__([[assistant_message("done")] for _ in range(replies)])
        self.gate = asyncio.Event()

    async def stream_response(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        await self.gate.wait()
        async for event in super().stream_response(*args, **kwargs):
            yield event


async def wait_for(http: httpx.AsyncClient, name: str, value: float, **labels: str) -> None:
    """Scrape until the sample reads `value` (a waiting request shows up within moments)."""
    async with asyncio.timeout(5):
        while (await scrape(http))(name, **labels) != value:
            await asyncio.sleep(0.01)


# --- who may read them -----------------------------------------------------------------------


async def test_metrics_are_not_there_without_a_token_and_refuse_a_wrong_one(
    sqlite_url: str, running: Any
) -> None:
    hidden = await running(Runtime(make_settings(sqlite_url), model=ScriptedModel([])))
    async with api_client(hidden) as http:
        missing = await http.get("/metrics", headers=SCRAPER)
        unknown = await http.get("/no-such-page")
        # The same answer as for any path that does not exist: nothing tells it is there.
        assert missing.status_code == 404
        assert missing.json() == unknown.json()

    shown = await running(Runtime(metered(sqlite_url), model=ScriptedModel([])))
    async with api_client(shown) as http:
        for headers in (
            {},
            {"Authorization": "Bearer wrong-token-wrong-token-wrong"},
            {"Authorization": f"Basic {TOKEN}"},
            {"Authorization": f"Bearer {TOKEN}x"},
        ):
            refused = await http.get("/metrics", headers=headers)
            assert refused.status_code == 401, headers
            assert refused.headers["www-authenticate"] == "Bearer"
            assert refused.json()["code"] == "unauthorized"
            assert "taskpilot_" not in refused.text
        assert "taskpilot_turns_total" in (await scrape(http)).text

    with pytest.raises(ValidationError, match="METRICS_TOKEN must be at least 16"):
        make_settings(sqlite_url, metrics_token="short")


# --- turns, the model and the tools ----------------------------------------------------------


async def test_an_answered_a_replayed_and_a_failed_turn_are_counted_and_timed(
    database_url: str, running: Any
) -> None:
    failure = APIConnectionError(request=httpx2.Request("POST", "http://model.invalid"))
    model = ScriptedModel(
        [
            [function_call("add_task", {"title": "Buy oat milk"}, call_id="c1")],
            [assistant_message("Added task 1: Buy oat milk.")],
            ModelStep.raise_error(failure),
        ]
    )
    runtime = await running(scripted_runtime(metered(database_url), model))
    async with api_client(runtime) as http:
        me = await sign_up(http, "grace.hopper@example.com")
        chat = f"/api/{me['id']}/chat"
        before = await scrape(http)

        body = {"message": "remember the oat milk please", "client_message_id": "m-1"}
        answered = await http.post(chat, json=body, headers=me["headers"])
        assert answered.status_code == 200, answered.text
        replayed = await http.post(chat, json=body, headers=me["headers"])
        assert replayed.json()["replayed"] is True
        failed = await http.post(chat, json={"message": "and bread"}, headers=me["headers"])
        assert failed.status_code == 502 and failed.json()["code"] == "model_unreachable"
        await runtime.turns.settle()
        after = await scrape(http)

    def grew(name: str, **labels: str) -> float:
        return after(name, **labels) - before(name, **labels)

    assert grew("taskpilot_turns_total", outcome="answered", code="") == 1
    assert grew("taskpilot_turns_total", outcome="replayed", code="") == 1
    assert grew("taskpilot_turns_total", outcome="failed", code="model_unreachable") == 1
    assert {labels["outcome"] for labels in after.labels_of("taskpilot_turns_total")} <= set(
        metrics.TurnOutcome
    )
    # Timed: the two turns that ran; a replay costs nothing worth timing.
    assert grew("taskpilot_turn_duration_seconds_count", outcome="answered") == 1
    assert grew("taskpilot_turn_duration_seconds_count", outcome="failed") == 1
    assert grew("taskpilot_turn_duration_seconds_count", outcome="replayed") == 0
    assert grew("taskpilot_turn_duration_seconds_sum", outcome="answered") > 0
    # The answered turn asked the model twice (the tool call, then the reply); the failed
    # one's request never completed.
    assert grew("taskpilot_model_response_seconds_count") == 2
    assert grew("taskpilot_model_response_seconds_sum") > 0
    assert grew("taskpilot_tool_call_duration_seconds_count", tool="add_task", outcome="ok") == 1
    # Nothing is left running or holding a connection.
    assert after("taskpilot_turns_running") == before("taskpilot_turns_running")
    assert after("taskpilot_db_pool_checked_out") == 0
    pool = runtime.db.engine.sync_engine.pool
    assert after("taskpilot_db_pool_size") == pool.size() > 0  # type: ignore[attr-defined]

    # No one's identity or words: labels are outcomes, codes and tool names only.
    conversation_id = answered.json()["conversation_id"]
    for private in (
        me["id"],
        "grace.hopper",
        "example.com",
        conversation_id,
        "oat milk",
        "bread",
        "m-1",
        TOKEN,
    ):
        assert private not in after.text, private


async def test_tool_durations_are_kept_per_tool_and_made_up_names_stay_out(
    sqlite_url: str, running: Any
) -> None:
    model = ScriptedModel(
        [
            [function_call("add_task", {"title": "Water the plants"}, call_id="c1")],
            [function_call("list_tasks", {}, call_id="c2")],
            [function_call("complete_task", {"task_id": 42}, call_id="c3")],
            [assistant_message("Done, mostly.")],
            # A tool the MCP server does not have: the SDK fails the turn before any call.
            [function_call("drop_every_table_now", {}, call_id="c4")],
        ]
    )
    runtime = await running(scripted_runtime(metered(sqlite_url), model))
    async with api_client(runtime) as http:
        me = await sign_up(http)
        chat = f"/api/{me['id']}/chat"
        before = await scrape(http)
        reply = await http.post(chat, json={"message": "garden chores"}, headers=me["headers"])
        assert reply.status_code == 200, reply.text
        made_up = await http.post(chat, json={"message": "tidy up"}, headers=me["headers"])
        assert made_up.status_code == 502
        after = await scrape(http)
    model.assert_complete()

    def grew(name: str, **labels: str) -> float:
        return after(name, **labels) - before(name, **labels)

    timed = "taskpilot_tool_call_duration_seconds_count"
    assert grew(timed, tool="add_task", outcome="ok") == 1
    assert grew(timed, tool="list_tasks", outcome="ok") == 1
    assert grew(timed, tool="complete_task", outcome="error") == 1  # no task 42: refused
    assert grew("taskpilot_model_response_seconds_count") == 5
    code = made_up.json()["code"]
    assert grew("taskpilot_turns_total", outcome="failed", code=code) == 1
    assert "drop_every_table_now" not in after.text
    # The labels this test's turns added to (the metrics are the whole process's).
    tools = {labels["tool"] for labels in after.labels_of(timed) if grew(timed, **labels)}
    assert tools == {"add_task", "list_tasks", "complete_task"}


async def test_a_declined_delete_is_not_timed_as_a_tool_call(sqlite_url: str, running: Any) -> None:
    """A delete the person declined never reached the MCP server: no tool duration for it."""
    runtime = await running(Runtime(metered(sqlite_url)))
    async with api_client(runtime) as http:
        me = await sign_up(http)
        chat = f"/api/{me['id']}/chat"
        added = await http.post(chat, json={"message": "add buy milk"}, headers=me["headers"])
        body = {"message": "delete task 1", "conversation_id": added.json()["conversation_id"]}
        paused = await http.post(chat, json=body, headers=me["headers"])
        before = await scrape(http)
        decide = paused.json()["pending_approval"]["decide"]
        declined = await http.post(decide, json={"approve": False}, headers=me["headers"])
        assert declined.status_code == 200, declined.text
        after = await scrape(http)
    timed = "taskpilot_tool_call_duration_seconds_count"
    grown = [
        labels
        for labels in after.labels_of(timed)
        if after(timed, **labels) > before(timed, **labels)
    ]
    assert grown == []


# --- refusals and queues ---------------------------------------------------------------------


async def test_a_429_a_full_worker_and_its_503_are_counted(sqlite_url: str, running: Any) -> None:
    model = GatedModel(replies=2)
    settings = metered(
        sqlite_url,
        max_concurrent_turns=1,
        worker_max_turns=1,
        worker_queue_seconds=1,
        sign_in_attempts=1,
    )
    runtime = await running(scripted_runtime(settings, model))
    async with api_client(runtime) as http:
        ada, bob = await sign_up(http, "ada@example.com"), await sign_up(http, "bob@example.com")
        before = await scrape(http)
        first = asyncio.create_task(
            http.post(f"/api/{ada['id']}/chat", json={"message": "one"}, headers=ada["headers"])
        )
        await wait_for(http, "taskpilot_turns_running", before("taskpilot_turns_running") + 1)

        # Ada has a reply on the way already: 429.
        limited = await http.post(
            f"/api/{ada['id']}/chat", json={"message": "two"}, headers=ada["headers"]
        )
        assert limited.status_code == 429

        # Bob's turn finds the worker full: it waits in the queue, where a scrape sees it...
        queued = asyncio.create_task(
            http.post(f"/api/{bob['id']}/chat", json={"message": "three"}, headers=bob["headers"])
        )
        await wait_for(http, "taskpilot_turns_waiting", 1, queue="worker")
        # ...then gets a 503, and the queue is empty again.
        busy = await queued
        assert busy.status_code == 503 and busy.json()["code"] == "busy"
        await wait_for(http, "taskpilot_turns_waiting", 0, queue="worker")

        # Too many sign-in attempts (signing up was Ada's one): 429 of its own kind.
        wrong = {"email": "ada@example.com", "password": "not the password at all"}
        assert (await http.post("/api/auth/login", json=wrong)).status_code == 429

        model.gate.set()
        assert (await first).status_code == 200
        await runtime.turns.settle()
        after = await scrape(http)

    def grew(name: str, **labels: str) -> float:
        return after(name, **labels) - before(name, **labels)

    assert grew("taskpilot_rate_limited_total", kind="running_turns") == 1
    assert grew("taskpilot_rate_limited_total", kind="sign_in") == 1
    assert grew("taskpilot_rate_limited_total", kind="turns_per_minute") == 0
    assert grew("taskpilot_turns_refused_total", reason="busy") == 1
    assert grew("taskpilot_turns_total", outcome="answered", code="") == 1
    assert after("taskpilot_turns_running") == before("taskpilot_turns_running")
    for private in ("ada", "bob", ada["id"], bob["id"]):
        assert private not in after.text


async def test_a_message_waiting_for_its_conversation_is_queued_then_refused(
    sqlite_url: str, running: Any
) -> None:
    model = GatedModel(replies=1)
    runtime = await running(scripted_runtime(metered(sqlite_url, turn_wait_seconds=1), model))
    async with api_client(runtime) as http:
        me = await sign_up(http)
        chat = f"/api/{me['id']}/chat"
        before = await scrape(http)
        first = asyncio.create_task(http.post(chat, json={"message": "one"}, headers=me["headers"]))
        conversations: list[Any] = []
        while not conversations:
            listed = await http.get(f"/api/{me['id']}/conversations", headers=me["headers"])
            conversations = listed.json()["conversations"]
        body = {"message": "two", "conversation_id": conversations[0]["id"]}
        second = asyncio.create_task(http.post(chat, json=body, headers=me["headers"]))
        await wait_for(http, "taskpilot_turns_waiting", 1, queue="conversation")
        refused = await second
        assert refused.status_code == 409 and refused.json()["code"] == "turn_in_progress"
        model.gate.set()
        assert (await first).status_code == 200
        after = await scrape(http)
    assert after("taskpilot_turns_waiting", queue="conversation") == 0
    assert (
        after("taskpilot_turns_refused_total", reason="turn_in_progress")
        - before("taskpilot_turns_refused_total", reason="turn_in_progress")
        == 1
    )


# --- several workers -------------------------------------------------------------------------

WORKER = """
import sys, time
from taskpilot.core import metrics
started = time.perf_counter()
metrics.turn_ended(metrics.TurnOutcome.ANSWERED, started=started)
metrics.turn_ended(metrics.TurnOutcome.FAILED, "model_timeout", started)
metrics.WAITING_FOR_WORKER.inc()
print("counted", flush=True)
if sys.argv[1] == "stay":
    sys.stdin.readline()
"""


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[tuple[Path, list[subprocess.Popen[str]]]]:
    """Two worker processes in multiprocess mode: one stays up, one has exited."""
    directory = tmp_path / "metrics"
    directory.mkdir()
    env = {"PROMETHEUS_MULTIPROC_DIR": str(directory), "PATH": "/usr/bin:/bin"}
    started = []
    for fate in ("stay", "leave"):
        worker = subprocess.Popen(
            [sys.executable, "-c", WORKER, fate],
            cwd=PROJECT_ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert worker.stdout is not None and worker.stdout.readline() == "counted\n"
        started.append(worker)
    started[1].wait(timeout=10)
    yield directory, started
    for worker in started:
        if worker.poll() is None:
            worker.kill()
            worker.wait()


async def test_a_scrape_adds_up_every_worker_and_forgets_a_dead_ones_queue(
    sqlite_url: str,
    running: Any,
    workers: tuple[Path, list[subprocess.Popen[str]]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    directory, (staying, _) = workers
    monkeypatch.setattr(metrics, "MULTIPROCESS_DIR", str(directory))
    runtime = await running(Runtime(metered(sqlite_url), model=ScriptedModel([])))
    async with api_client(runtime) as http:
        both = await scrape(http)
        # Counts from both workers, the one that has exited included...
        assert both("taskpilot_turns_total", outcome="answered", code="") == 2
        assert both("taskpilot_turns_total", outcome="failed", code="model_timeout") == 2
        assert both("taskpilot_turn_duration_seconds_count", outcome="failed") == 2
        # ...but a queue only of the worker still there.
        assert both("taskpilot_turns_waiting", queue="worker") == 1

        assert staying.stdin is not None
        staying.stdin.write("\n")
        staying.stdin.flush()
        staying.wait(timeout=10)
        none_left = await scrape(http)
    assert none_left("taskpilot_turns_waiting", queue="worker") == 0
    assert none_left("taskpilot_turns_total", outcome="answered", code="") == 2
