"""An approval given on another machine, after the first one has stopped.

Two TaskPilot servers started the production way (`python -m taskpilot.serve`, Granian
workers) share one PostgreSQL database and one Redis, as machines behind a load balancer do.
A delete pauses on machine A, which is then stopped; well past any lease A could have held,
the person approves on machine B, which never saw the turn: B resumes the run from what the
database holds, the task is deleted, the reply stored, and the model is shown the call paired
with its result. The model is the only double (the loopback OpenAI stand-in, spoken to over
Chat Completions, as an OpenAI-compatible server is).
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.app_server import redis_problem
from tests.support.cluster import (
    launch,
    messages,
    pid_alive,
    sign_up,
    sse_events,
    stop_server,
    wait_until_serving,
)
from tests.support.harness import PG_SKIP, fresh_postgres_database
from tests.support.openai_standin import OpenAIStandIn, reply, tool_call

pytestmark = pytest.mark.postgres

REDIS_URL = os.environ.get("TASKPILOT_TEST_APPROVALS_REDIS_URL") or "redis://127.0.0.1:6379/13"
MODEL_KEY = "sk-compat-ApprovalsAcrossMachines-0b7e91c3"
LEASE = 2  # seconds: the shortest lease there is; the decision comes well after it
SETTINGS = {
    "MODEL_API_KEY": MODEL_KEY,
    "TURN_LEASE_SECONDS": str(LEASE),
    "CHAT_TURNS_PER_MINUTE": "100000",
}


@pytest.fixture
def database() -> Iterator[str]:
    if PG_SKIP:
        pytest.skip(PG_SKIP)
    if problem := redis_problem(REDIS_URL):
        pytest.skip(problem)
    with fresh_postgres_database("taskpilot_approvals") as url:
        yield url


async def test_a_delete_paused_on_a_stopped_machine_is_approved_on_another(
    database: str, tmp_path: Path
) -> None:
    with OpenAIStandIn(api_key=MODEL_KEY) as model:
        machines = [
            launch(
                name, tmp_path, database, model.base_url, redis_url=REDIS_URL, extra_env=SETTINGS
            )
            for name in ("A", "B")
        ]
        try:
            a, b = machines
            for machine in machines:
                wait_until_serving(machine, workers=1)
            a_workers = a.worker_pids()

            async with httpx.AsyncClient(base_url=a.base_url, timeout=30) as http:
                ada = await sign_up(http, "ada@example.com")
                model.script(
                    tool_call("add_task", {"title": "Buy milk"}, call_id="call_add"),
                    reply("Added Buy milk."),
                )
                added = await http.post(
                    f"/api/{ada.id}/chat", json={"message": "add buy milk"}, headers=ada.headers
                )
                assert added.status_code == 200, added.text
                conversation = added.json()["conversation_id"]
                model.script(tool_call("delete_task", {"task_id": 1}, call_id="call_del"))
                body = {"message": "delete task 1", "conversation_id": conversation}
                async with http.stream(
                    "POST", f"/api/{ada.id}/chat", json=body, headers=ada.sse()
                ) as paused:
                    kinds = [(kind, data) async for kind, data in sse_events(paused)]
            assert [kind for kind, _ in kinds][-1] == "approval", kinds
            asked = kinds[-1][1]
            assert asked["summary"] == "Delete task 1 · Buy milk"

            stop_server(a)
            assert not any(pid_alive(pid) for pid in a_workers)
            await asyncio.sleep(LEASE + 1.0)  # any lease A held has run out by now

            async with httpx.AsyncClient(base_url=b.base_url, timeout=30) as http:
                before = await messages(http, ada, conversation)
                assert before[-1]["status"] == "awaiting"  # not read as lost with machine A
                model.script(reply("Deleted Buy milk."))
                url = (
                    f"/api/{ada.id}/conversations/{conversation}/approvals/"
                    f"{asked['call']['call_id']}"
                )
                async with http.stream(
                    "POST", url, json={"approve": True}, headers=ada.sse()
                ) as decided:
                    assert decided.status_code == 200
                    events = [(kind, data) async for kind, data in sse_events(decided)]
                tasks = (await http.get(f"/api/{ada.id}/tasks", headers=ada.headers)).json()
                after = await messages(http, ada, conversation)
        finally:
            for machine in machines:
                stop_server(machine)
        model.assert_done()

    kinds = [kind for kind, _ in events]
    assert kinds[0] == "started" and kinds[-1] == "done", kinds
    finished = next(data for kind, data in events if kind == "tool_finished")
    assert finished["result"]["status"] == "deleted"
    assert events[-1][1]["response"] == "Deleted Buy milk."
    assert tasks["tasks"] == []
    assert [(m["role"], m["status"]) for m in after] == [
        ("user", "answered"),
        ("assistant", "answered"),
        ("user", "answered"),
        ("assistant", "answered"),
    ]
    assert after[-1]["tool_calls"][0]["approval"] == "approved"
    resumed = model.model_requests[-1]
    assert json.loads(resumed.function_outputs()["call_del"])["title"] == "Buy milk"
    said = [item.get("content") for item in resumed.conversation() if item.get("role") == "user"]
    assert said == ["add buy milk", "delete task 1"]
