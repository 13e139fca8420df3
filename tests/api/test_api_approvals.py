"""Approvals through the HTTP API: a delete waits for the person, and their decision — given
at `POST /api/{user_id}/conversations/{conversation_id}/approvals/{call_id}`, as JSON or as
server-sent events, on this worker or another one, now or much later — resumes the paused run.

Everything is real (the API app, the turn engine, the Agents SDK's paused `RunState`, the MCP
tools, SQLite and PostgreSQL) except the model: the built-in offline model, or the loopback
OpenAI stand-in where what the model is told matters. The database is read directly to see
that nothing is deleted before the person says so.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlmodel import col

from taskpilot.agent.engine.approvals import CANNOT_RESUME
from taskpilot.core.config import Settings
from taskpilot.data.models import Message
from taskpilot.mcp.tools import DECLINED
from taskpilot.runtime import Runtime
from taskpilot.services.turns import MOVED_ON, MOVED_ON_REPLY
from tests.support.approvals import (
    DECIDE_PATH,
    Person,
    alternates,
    model_waits_to_delete,
    stored_tasks,
    two_tasks,
    waiting_delete,
)
from tests.support.harness import (
    api_client,
    live_server,
    make_settings,
    parse_sse,
)
from tests.support.openai_standin import OpenAIStandIn, RecordedRequest, reply
from tests.support.providers import PROVIDERS, provider_settings

# --- the round trip ---------------------------------------------------------------------------


async def test_a_delete_waits_for_approval_and_approving_deletes_it(
    offline_runtime: Runtime,
) -> None:
    async with api_client(offline_runtime) as http:
        ada, pending = await waiting_delete(http)

        assert await stored_tasks(offline_runtime, ada.id) == {1: "Buy milk", 2: "Call mom"}
        *_, question = await ada.messages()
        assert (question["id"], question["content"]) == (pending["message_id"], "delete task 1")
        assert question["status"] == "awaiting"
        [waiting] = question["tool_calls"]
        assert (waiting["call_id"], waiting["approval"]) == (pending["call_id"], "pending")

        answer = await ada.decided(pending["decide"], approve=True)
        assert answer["response"] == "Deleted task 1: **Buy milk**."
        assert answer["pending_approval"] is None and isinstance(answer["message_id"], int)
        [call] = answer["tool_calls"]
        assert (call["call_id"], call["approval"]) == (pending["call_id"], "approved")
        assert call["result"]["status"] == "deleted" and call["result"]["title"] == "Buy milk"

        assert await stored_tasks(offline_runtime, ada.id) == {2: "Call mom"}
        messages = await ada.messages()
        assert alternates(messages)
        question, stored = messages[-2:]
        assert question["status"] == "answered" and question["id"] == pending["message_id"]
        assert (stored["id"], stored["content"]) == (answer["message_id"], answer["response"])
        assert [c["approval"] for c in stored["tool_calls"]] == ["approved"]


async def test_the_round_trip_streams_as_server_sent_events(offline_runtime: Runtime) -> None:
    """The turn's stream ends with the `approval` event (no `done`: nothing is answered yet);
    the decision's own stream carries the rest of the turn, to its `done`."""
    async with api_client(offline_runtime) as http:
        ada = await Person.sign_up(http)
        await two_tasks(ada)
        paused = await ada.send("delete task 1", stream=True)
        assert paused.status_code == 200
        assert paused.headers["content-type"].startswith("text/event-stream")
        events = parse_sse(paused.text)
        kinds = [kind for kind, _ in events]
        assert kinds[0] == "started" and kinds[-1] == "approval", kinds
        assert "done" not in kinds and "error" not in kinds
        asked = events[-1][1]
        assert asked["conversation_id"] == ada.conversation_id
        assert asked["summary"] == "Delete task 1 · Buy milk"
        assert asked["call"]["name"] == "delete_task" and asked["call"]["approval"] == "pending"
        assert asked["message_id"] == events[0][1]["user_message_id"]
        assert await stored_tasks(offline_runtime, ada.id) == {1: "Buy milk", 2: "Call mom"}

        url = DECIDE_PATH.format(
            user_id=ada.id, conversation_id=ada.conversation_id, call_id=asked["call"]["call_id"]
        )
        decided = await ada.decide(url, approve=True, stream=True)
        assert decided.status_code == 200
        assert decided.headers["content-type"].startswith("text/event-stream")
        events = parse_sse(decided.text)
        kinds = [kind for kind, _ in events]
        assert kinds[0] == "started" and kinds[-1] == "done", kinds
        assert "approval" not in kinds and "error" not in kinds
        finished = next(data for kind, data in events if kind == "tool_finished")
        assert finished["call_id"] == asked["call"]["call_id"]
        assert finished["result"]["status"] == "deleted" and finished["approval"] == "approved"
        done = events[-1][1]
        text = "".join(data["delta"] for kind, data in events if kind == "text_delta")
        assert text == done["response"] == "Deleted task 1: **Buy milk**."
        assert [c["approval"] for c in done["tool_calls"]] == ["approved"]
        assert await stored_tasks(offline_runtime, ada.id) == {2: "Call mom"}
        assert (await ada.messages())[-1]["id"] == done["message_id"]


async def test_declining_keeps_the_task_and_the_offline_model_says_so(
    offline_runtime: Runtime,
) -> None:
    async with api_client(offline_runtime) as http:
        ada, pending = await waiting_delete(http)
        answer = await ada.decided(pending["decide"], approve=False)
        assert answer["response"] == "Okay, I didn't touch task 1: nothing was deleted."
        [call] = answer["tool_calls"]
        assert (call["approval"], call["result"]) == ("declined", DECLINED)

        assert await stored_tasks(offline_runtime, ada.id) == {1: "Buy milk", 2: "Call mom"}
        messages = await ada.messages()
        assert alternates(messages) and messages[-2]["status"] == "answered"
        assert [c["approval"] for c in messages[-1]["tool_calls"]] == ["declined"]


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("approve", [True, False], ids=["approved", "declined"])
async def test_the_model_is_told_the_decision_as_the_calls_output(
    database_url: str, running: Any, standin: OpenAIStandIn, provider: str, approve: bool
) -> None:
    """After a decision the model's next request carries the paused call paired with its
    output: the deleted task, or `DECLINED`; the reply streamed before the pause is kept."""
    runtime = await running(Runtime(provider_settings(database_url, provider, standin)))
    async with api_client(runtime) as http:
        ada, answer = await model_waits_to_delete(http, standin, text="Deleting it.")
        pending = answer["pending_approval"]
        assert answer["response"] == "Deleting it."
        asked_before = len(standin.model_requests)

        said = "Done." if approve else "Okay, I left it."
        standin.script(reply(said))
        decided = await ada.decided(pending["decide"], approve=approve)
        standin.assert_done()
    [resumed] = standin.model_requests[asked_before:]
    output = resumed.function_outputs()["call_del"]
    if approve:
        assert json.loads(output)["status"] == "deleted"
        assert await stored_tasks(runtime, ada.id) == {}
    else:
        assert output == DECLINED
        assert await stored_tasks(runtime, ada.id) == {1: "Buy milk"}
    assert user_texts(resumed) == ["add buy milk", "delete task 1"]
    assert decided["response"] == f"Deleting it.\n\n{said}"  # the reply, continued


def user_texts(request: RecordedRequest) -> list[str]:
    return [str(item["content"]) for item in request.conversation() if item.get("role") == "user"]


# --- refusals ---------------------------------------------------------------------------------


async def test_decisions_for_nothing_waiting_are_refused_never_a_server_error(
    offline_runtime: Runtime,
) -> None:
    """A made-up call id while a call waits, a second decision, a decision on another
    person's conversation or path, one on a conversation with nothing waiting: each a clear
    4xx, and nothing is deleted by any of them."""
    async with api_client(offline_runtime) as http:
        ada, pending = await waiting_delete(http)
        eve = await Person.sign_up(http, "eve@example.com")
        conversation = ada.conversation_id
        own_path = DECIDE_PATH.format(
            user_id=ada.id, conversation_id=conversation, call_id="call_made_up"
        )

        made_up = await ada.decide(own_path, approve=True)
        assert made_up.status_code == 409, made_up.text
        assert made_up.json()["code"] == "approval_not_pending"
        too_long = own_path.replace("call_made_up", "c" * 101)
        assert 400 <= (await ada.decide(too_long, approve=True)).status_code < 500
        eves_path = DECIDE_PATH.format(
            user_id=eve.id, conversation_id=conversation, call_id=pending["call_id"]
        )
        not_hers = await eve.decide(eves_path, approve=True)
        assert not_hers.status_code == 404, not_hers.text
        assert not_hers.json()["code"] == "conversation_not_found"
        forbidden = await eve.decide(pending["decide"], approve=True)
        assert forbidden.status_code == 403 and forbidden.json()["code"] == "forbidden"
        assert await stored_tasks(offline_runtime, ada.id) == {1: "Buy milk", 2: "Call mom"}
        assert (await ada.messages())[-1]["status"] == "awaiting"

        await ada.decided(pending["decide"], approve=True)
        for approve in (True, False):
            again = await ada.decide(pending["decide"], approve=approve)
            assert again.status_code == 409, again.text
            assert again.json() == {
                "detail": "Nothing in this conversation is waiting for that approval any more.",
                "code": "approval_not_pending",
            }
        streamed = await ada.decide(pending["decide"], approve=True, stream=True)
        assert streamed.status_code == 409
        [(kind, refusal)] = parse_sse(streamed.text)
        assert (kind, refusal["code"]) == ("error", "approval_not_pending")
        missing = DECIDE_PATH.format(user_id=ada.id, conversation_id="nope", call_id="call_x")
        assert (await ada.decide(missing, approve=True)).status_code == 404
        assert await stored_tasks(offline_runtime, ada.id) == {2: "Call mom"}
        assert alternates(await ada.messages())


async def test_a_new_message_declines_the_waiting_call_and_is_answered(
    offline_runtime: Runtime,
) -> None:
    async with api_client(offline_runtime) as http:
        ada, pending = await waiting_delete(http)
        answer = await ada.say("show my tasks")
        assert answer["pending_approval"] is None
        assert "Buy milk" in answer["response"] and "Call mom" in answer["response"]

        assert await stored_tasks(offline_runtime, ada.id) == {1: "Buy milk", 2: "Call mom"}
        messages = await ada.messages()
        assert alternates(messages)
        assert [(m["content"], m["status"]) for m in messages[-4:]] == [
            ("delete task 1", "answered"),
            (MOVED_ON_REPLY, "answered"),
            ("show my tasks", "answered"),
            (answer["response"], "answered"),
        ]
        [declined] = messages[-3]["tool_calls"]
        assert (declined["call_id"], declined["approval"], declined["result"]) == (
            pending["call_id"],
            "declined",
            MOVED_ON,
        )
        late = await ada.decide(pending["decide"], approve=True)
        assert late.status_code == 409 and late.json()["code"] == "approval_not_pending"
        assert await stored_tasks(offline_runtime, ada.id) == {1: "Buy milk", 2: "Call mom"}


async def test_a_model_is_shown_the_call_a_new_message_declined(
    sqlite_url: str, running: Any, standin: OpenAIStandIn
) -> None:
    runtime = await running(Runtime(provider_settings(sqlite_url, "openai", standin)))
    async with api_client(runtime) as http:
        ada, _ = await model_waits_to_delete(http, standin)
        standin.script(reply("You have one task: Buy milk."))
        await ada.say("what's left?")
        standin.assert_done()
    last = standin.model_requests[-1]
    assert last.function_outputs()["call_del"] == MOVED_ON
    assert user_texts(last) == ["add buy milk", "delete task 1", "what's left?"]
    assert await stored_tasks(runtime, ada.id) == {1: "Buy milk"}


async def test_the_same_message_sent_again_asks_again_and_runs_nothing(
    database_url: str, running: Any, standin: OpenAIStandIn
) -> None:
    """A client that retries the paused message (same `client_message_id`) is asked about
    the same call again; the model is not asked again and nothing is deleted."""
    runtime = await running(Runtime(provider_settings(database_url, "openai", standin)))
    async with api_client(runtime) as http:
        ada, asked = await model_waits_to_delete(http, standin, client_message_id="m2")
        first = asked["pending_approval"]
        asked = len(standin.model_requests)
        stored = await ada.messages()

        again = await ada.delete_task_1(client_message_id="m2")
        assert again == first
        streamed = await ada.send("delete task 1", client_message_id="m2", stream=True)
        kinds = [kind for kind, _ in parse_sse(streamed.text)]
        assert kinds == ["started", "approval"]
        assert parse_sse(streamed.text)[-1][1]["call"]["call_id"] == first["call_id"]

        assert len(standin.model_requests) == asked
        assert await ada.messages() == stored
        assert await stored_tasks(runtime, ada.id) == {1: "Buy milk"}
        standin.script(reply("Deleted it."))
        await ada.decided(first["decide"], approve=True)
        assert await stored_tasks(runtime, ada.id) == {}


# --- concurrency and other workers ------------------------------------------------------------


async def test_approve_and_decline_sent_at_once_are_decided_once(
    database_url: str, running: Any
) -> None:
    """Five decisions on one waiting call, sent at once to a real server, three rounds: one
    answers, the other four are refused; the task is deleted at most once, and only when the
    decision that won approved. (No per-person limits: they would refuse some first.)"""
    unlimited = make_settings(database_url, max_concurrent_turns=0, chat_turns_per_minute=0)
    runtime = await running(Runtime(unlimited))
    async with (
        live_server(runtime) as base_url,
        httpx.AsyncClient(base_url=base_url, timeout=30) as http,
    ):
        ada = await Person.sign_up(http)
        for n in (1, 2, 3):
            await ada.say(f"add chore {n}")
        for n, mix in ((1, [True] * 5), (2, [False, True] * 2 + [False]), (3, [True] * 5)):
            answer = await ada.say(f"delete task {n}")
            pending = answer["pending_approval"]
            assert pending["arguments"] == {"task_id": n}
            answers = await asyncio.gather(
                *(ada.decide(pending["decide"], approve) for approve in mix)
            )
            statuses = sorted(a.status_code for a in answers)
            assert statuses == [200, 409, 409, 409, 409], [a.text for a in answers]
            [won] = [mix[i] for i, a in enumerate(answers) if a.status_code == 200]
            refused = [a.json()["code"] for a in answers if a.status_code == 409]
            assert refused == ["approval_not_pending"] * 4
            [call] = next(a for a in answers if a.status_code == 200).json()["tool_calls"]
            assert call["approval"] == ("approved" if won else "declined")
            assert call["is_error"] is False  # deleted once: a second delete finds nothing
            assert (n in await stored_tasks(runtime, ada.id)) is not won
        messages = await ada.messages()
    assert alternates(messages)
    deletes = [c for m in messages for c in m["tool_calls"] if c["name"] == "delete_task"]
    assert len(deletes) == 3 and not any(c["is_error"] for c in deletes)


async def test_an_approval_given_on_another_worker_after_the_first_stopped(
    database_url: str, standin: OpenAIStandIn
) -> None:
    """Worker 1 pauses the turn and shuts down; past any lease it could have held, worker 2
    (a runtime that never saw the turn) takes the decision and finishes the turn from the
    stored run. The paused turn was never read as lost with its worker."""
    one = Runtime(provider_settings(database_url, "openai", standin, turn_lease_seconds=2))
    async with one.running(), api_client(one) as http:
        ada, asked = await model_waits_to_delete(http, standin)
        pending = asked["pending_approval"]
    await asyncio.sleep(one.settings.turn_lease_seconds + 0.5)

    two = Runtime(provider_settings(database_url, "openai", standin))
    async with two.running(), api_client(two) as http:
        ada.http = http
        assert (await ada.messages())[-1]["status"] == "awaiting"
        standin.script(reply("Deleted Buy milk."))
        decided = await ada.decided(pending["decide"], approve=True)
        assert decided["response"] == "Deleted Buy milk."
        assert await stored_tasks(two, ada.id) == {}
        messages = await ada.messages()
    standin.assert_done()
    assert alternates(messages) and messages[-1]["tool_calls"][0]["approval"] == "approved"
    resumed = standin.model_requests[-1]
    assert json.loads(resumed.function_outputs()["call_del"])["title"] == "Buy milk"
    assert user_texts(resumed) == ["add buy milk", "delete task 1"]


# --- the document, the setting, a run that cannot be resumed ---------------------------------


async def test_the_openapi_document_describes_approvals(sqlite_url: str) -> None:
    async with api_client(Runtime(make_settings(sqlite_url))) as http:
        served = await http.get("/api/openapi.json")
    assert served.status_code == 200
    document = served.json()
    operation = document["paths"][DECIDE_PATH]["post"]
    assert operation["description"].startswith("Approve or decline the tool call")
    body_ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    body = document["components"]["schemas"][body_ref.rsplit("/", 1)[1]]
    assert body["required"] == ["approve"] and body["properties"]["approve"]["type"] == "boolean"
    answer_ref = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    assert answer_ref.endswith("/ChatResponse")
    assert "text/event-stream" in operation["responses"]["200"]["content"]
    assert "approval_not_pending" in operation["responses"]["409"]["description"]

    schemas = document["components"]["schemas"]
    chat = document["paths"]["/api/{user_id}/chat"]["post"]
    assert "pending_approval" in chat["description"]
    pending = schemas["ChatResponse"]["properties"]["pending_approval"]
    assert {"$ref": "#/components/schemas/PendingApproval"} in pending["anyOf"]
    assert set(schemas["PendingApproval"]["required"]) == {
        "message_id",
        "call_id",
        "name",
        "arguments",
        "summary",
        "decide",
    }
    assert "null" in json.dumps(schemas["ChatResponse"]["properties"]["message_id"])


async def test_without_required_approval_a_delete_happens_at_once(
    settings: Settings, running: Any
) -> None:
    unasked = make_settings(settings.database_url, require_approval=False)
    runtime = await running(Runtime(unasked))
    async with api_client(runtime) as http:
        ada = await Person.sign_up(http)
        await two_tasks(ada)
        answer = await ada.say("delete task 1")
    assert answer["pending_approval"] is None and isinstance(answer["message_id"], int)
    assert answer["response"] == "Deleted task 1: **Buy milk**."
    assert [c["approval"] for c in answer["tool_calls"]] == [None]
    assert await stored_tasks(runtime, ada.id) == {2: "Call mom"}


@pytest.mark.parametrize(
    "unreadable",
    [{"state": {"not": "a run state"}, "reply": ""}, "not even an object"],
    ids=["foreign-state", "not-a-paused-run"],
)
async def test_a_paused_run_that_cannot_be_resumed_fails_readably_and_a_retry_works(
    offline_runtime: Runtime, unreadable: Any
) -> None:
    """A stored paused run the engine cannot read (another SDK's snapshot, say) ends the
    decision with a readable error; the question is kept, failed, without holding the
    conversation, and sending it again asks again and works."""
    async with api_client(offline_runtime) as http:
        ada, pending = await waiting_delete(http, client_message_id="m-delete")
        async with offline_runtime.db.session() as session:
            await session.execute(
                sa.update(Message)
                .where(col(Message.id) == pending["message_id"])
                .values(paused_run=unreadable)
            )
            await session.commit()

        decided = await ada.decide(pending["decide"], approve=True)
        assert decided.status_code == 502, decided.text
        assert decided.json()["detail"] == CANNOT_RESUME
        assert decided.json()["code"] == "agent_error"
        assert await stored_tasks(offline_runtime, ada.id) == {1: "Buy milk", 2: "Call mom"}
        question = (await ada.messages())[-1]
        assert (question["status"], question["error"]) == ("failed", CANNOT_RESUME)
        again = await ada.decide(pending["decide"], approve=True)
        assert again.status_code == 409 and again.json()["code"] == "approval_not_pending"

        retried = await ada.delete_task_1(client_message_id="m-delete")
        assert retried["message_id"] == pending["message_id"]
        await ada.decided(retried["decide"], approve=True)
        assert await stored_tasks(offline_runtime, ada.id) == {2: "Call mom"}
        assert alternates(await ada.messages())
