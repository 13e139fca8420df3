"""The chat API contract: JSON and SSE, conversations and messages, retries, failures, bad input.

The model is a scripted test double (the SDK's ScriptedModel); everything else is real: the
API app, the agent service, the MCP server reached through the Agents SDK, the database.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import httpx2
import pytest
from agents.testing import ModelStep, ScriptedModel, assistant_message, function_call
from openai import APIConnectionError

from taskpilot.core.config import Settings
from taskpilot.core.errors import DATABASE_DOWN
from taskpilot.runtime import Runtime
from tests.support.harness import (
    TASK_TOOLS,
    api_client,
    bearer,
    make_settings,
    parse_sse,
    scripted_runtime,
    sign_up,
)


def add_then_reply(title: str = "Buy milk", reply: str = "Added task 1: Buy milk.") -> list[Any]:
    return [
        [function_call("add_task", {"title": title, "priority": "high"}, call_id="call_add")],
        [assistant_message(reply)],
    ]


async def chat_client(
    settings: Settings, running: Any, steps: list[Any]
) -> tuple[httpx.AsyncClient, ScriptedModel]:
    model = ScriptedModel(steps)
    runtime = await running(scripted_runtime(settings, model))
    return api_client(runtime), model


async def test_chat_returns_reply_and_tool_calls(settings: Settings, running: Any) -> None:
    model = ScriptedModel(add_then_reply())
    runtime = await running(scripted_runtime(settings, model))
    async with api_client(runtime) as http:
        me = await sign_up(http)
        response = await http.post(
            f"/api/{me['id']}/chat",
            json={"message": "add buy milk, high priority"},
            headers=me["headers"],
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["response"] == "Added task 1: Buy milk."
        assert body["conversation_id"]
        [call] = body["tool_calls"]
        assert call["name"] == "add_task"
        assert call["arguments"] == {"title": "Buy milk", "priority": "high"}
        assert call["result"]["task_id"] == 1 and call["result"]["status"] == "created"
        assert call["is_error"] is False

        tasks = (await http.get(f"/api/{me['id']}/tasks", headers=me["headers"])).json()
        assert [(t["task_id"], t["title"], t["priority"]) for t in tasks["tasks"]] == [
            (1, "Buy milk", "high")
        ]

        conversations = (
            await http.get(f"/api/{me['id']}/conversations", headers=me["headers"])
        ).json()
        [conversation] = conversations["conversations"]
        assert conversation["id"] == body["conversation_id"]
        # Titled after the first reply, by the turn (offline: the task it added).
        await runtime.turns.settle()
        titled = await http.get(
            f"/api/{me['id']}/conversations/{conversation['id']}", headers=me["headers"]
        )
        assert titled.json()["title"] == "Buy milk"
        messages = (
            await http.get(
                f"/api/{me['id']}/conversations/{conversation['id']}/messages",
                headers=me["headers"],
            )
        ).json()["messages"]
        assert [(m["role"], m["status"]) for m in messages] == [
            ("user", "answered"),
            ("assistant", "answered"),
        ]
        assert messages[1]["tool_calls"][0]["result"]["title"] == "Buy milk"
    model.assert_complete()
    # The agent's only tools are the MCP server's.
    assert {tool.name for tool in model.first_call.tools} == TASK_TOOLS  # type: ignore[union-attr]


async def test_chat_streams_server_sent_events(settings: Settings, running: Any) -> None:
    http, _ = await chat_client(settings, running, add_then_reply())
    async with http:
        me = await sign_up(http)
        response = await http.post(
            f"/api/{me['id']}/chat",
            json={"message": "add buy milk"},
            headers={**me["headers"], "Accept": "text/event-stream"},
        )
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = parse_sse(response.text)
    kinds = [kind for kind, _ in events]
    assert kinds[0] == "started" and kinds[-2:] == ["done", "titled"]
    assert kinds.index("tool_started") < kinds.index("tool_finished") < kinds.index("text_delta")
    started = events[0][1]
    finished = next(data for kind, data in events if kind == "tool_finished")
    assert finished["name"] == "add_task" and finished["result"]["task_id"] == 1
    text = "".join(data["delta"] for kind, data in events if kind == "text_delta")
    done = events[-2][1]
    assert text == done["response"] == "Added task 1: Buy milk."
    assert done["conversation_id"] == started["conversation_id"]
    # After a first reply, the title the conversation now has.
    assert events[-1][1] == {
        "type": "titled",
        "conversation_id": started["conversation_id"],
        "title": "Buy milk",
    }


async def test_second_turn_sees_history_including_tool_calls(
    settings: Settings, running: Any
) -> None:
    steps = [*add_then_reply(), [assistant_message("You have 1 task.")]]
    http, model = await chat_client(settings, running, steps)
    async with http:
        me = await sign_up(http)
        first = (
            await http.post(
                f"/api/{me['id']}/chat", json={"message": "add milk"}, headers=me["headers"]
            )
        ).json()
        second = await http.post(
            f"/api/{me['id']}/chat",
            json={"message": "how many tasks?", "conversation_id": first["conversation_id"]},
            headers=me["headers"],
        )
        assert second.json()["conversation_id"] == first["conversation_id"]
    history = model.last_call.input  # type: ignore[union-attr]
    shapes = [item.get("type") or item.get("role") for item in history]
    assert shapes == ["user", "function_call", "function_call_output", "assistant", "user"]
    assert history[1]["name"] == "add_task"
    assert json.loads(history[2]["output"])["task_id"] == 1
    assert history[-1]["content"] == "how many tasks?"


async def test_a_fresh_service_instance_continues_the_conversation(
    settings: Settings, running: Any
) -> None:
    """Statelessness: nothing from the first runtime is needed to serve the second turn."""
    http, _ = await chat_client(settings, running, add_then_reply())
    async with http:
        me = await sign_up(http)
        first = (
            await http.post(
                f"/api/{me['id']}/chat", json={"message": "add milk"}, headers=me["headers"]
            )
        ).json()

    fresh_model = ScriptedModel(
        [[function_call("list_tasks", {}, call_id="c2")], [assistant_message("1 task")]]
    )
    fresh = await running(
        scripted_runtime(
            make_settings(settings.database_url, jwt_secret=settings.jwt_secret), fresh_model
        )
    )
    async with api_client(fresh) as http2:
        second = await http2.post(
            f"/api/{me['id']}/chat",
            json={"message": "list them", "conversation_id": first["conversation_id"]},
            headers=me["headers"],
        )
        assert second.status_code == 200
        assert second.json()["tool_calls"][0]["result"]["tasks"][0]["title"] == "Buy milk"
    seen = [item.get("content") for item in fresh_model.first_call.input if item.get("role")]  # type: ignore[union-attr]
    assert seen == ["add milk", "Added task 1: Buy milk.", "list them"]


async def test_history_window_is_bounded(sqlite_url: str, running: Any) -> None:
    settings = make_settings(sqlite_url, history_turns=3)
    steps = [[assistant_message(f"reply {i}")] for i in range(6)]
    http, model = await chat_client(settings, running, steps)
    async with http:
        me = await sign_up(http)
        conversation_id = None
        for i in range(6):
            body = {"message": f"message {i}"}
            if conversation_id:
                body["conversation_id"] = conversation_id
            conversation_id = (
                await http.post(f"/api/{me['id']}/chat", json=body, headers=me["headers"])
            ).json()["conversation_id"]
    last_input = model.last_call.input  # type: ignore[union-attr]
    assert [item["content"] for item in last_input] == [
        "message 2",
        "reply 2",
        "message 3",
        "reply 3",
        "message 4",
        "reply 4",
        "message 5",
    ]


async def test_conversation_management_and_isolation(settings: Settings, running: Any) -> None:
    http, _ = await chat_client(settings, running, add_then_reply())
    async with http:
        ada = await sign_up(http, "ada@example.com")
        bob = await sign_up(http, "bob@example.com")
        cid = (
            await http.post(
                f"/api/{ada['id']}/chat", json={"message": "add milk"}, headers=ada["headers"]
            )
        ).json()["conversation_id"]
        base = f"/api/{ada['id']}/conversations/{cid}"

        renamed = await http.patch(base, json={"title": "  Groceries  "}, headers=ada["headers"])
        assert renamed.status_code == 200 and renamed.json()["title"] == "Groceries"
        assert (await http.get(base, headers=ada["headers"])).json()["title"] == "Groceries"
        assert (
            await http.patch(base, json={"title": "   "}, headers=ada["headers"])
        ).status_code == 422

        # Bob, on his own path, cannot reach Ada's conversation: it does not exist for him.
        bob_base = f"/api/{bob['id']}/conversations/{cid}"
        assert (await http.get(bob_base, headers=bob["headers"])).status_code == 404
        assert (await http.get(f"{bob_base}/messages", headers=bob["headers"])).status_code == 404
        assert (
            await http.patch(bob_base, json={"title": "mine"}, headers=bob["headers"])
        ).status_code == 404
        assert (await http.delete(bob_base, headers=bob["headers"])).status_code == 404
        posted = await http.post(
            f"/api/{bob['id']}/chat",
            json={"message": "hi", "conversation_id": cid},
            headers=bob["headers"],
        )
        assert posted.status_code == 404
        assert (
            await http.get(f"/api/{bob['id']}/conversations", headers=bob["headers"])
        ).json() == {"conversations": []}
        assert (await http.get(f"/api/{bob['id']}/tasks", headers=bob["headers"])).json()[
            "count"
        ] == 0

        assert (await http.delete(base, headers=ada["headers"])).status_code == 204
        assert (await http.get(base, headers=ada["headers"])).status_code == 404
        assert (
            await http.get(f"/api/{ada['id']}/conversations", headers=ada["headers"])
        ).json() == {"conversations": []}
        # Deleting a chat does not delete the tasks it created.
        assert (await http.get(f"/api/{ada['id']}/tasks", headers=ada["headers"])).json()[
            "count"
        ] == 1


async def test_conversations_are_listed_newest_first_with_paging(
    settings: Settings, running: Any
) -> None:
    http, _ = await chat_client(settings, running, [[assistant_message(f"r{i}")] for i in range(3)])
    async with http:
        me = await sign_up(http)
        ids = [
            (
                await http.post(
                    f"/api/{me['id']}/chat", json={"message": f"chat {i}"}, headers=me["headers"]
                )
            ).json()["conversation_id"]
            for i in range(3)
        ]
        listed = (await http.get(f"/api/{me['id']}/conversations", headers=me["headers"])).json()[
            "conversations"
        ]
        assert [c["id"] for c in listed] == ids[::-1]
        page = (
            await http.get(
                f"/api/{me['id']}/conversations?limit=1&before={ids[2]}", headers=me["headers"]
            )
        ).json()
        assert [c["id"] for c in page["conversations"]] == [ids[1]]
        unknown = await http.get(
            f"/api/{me['id']}/conversations?before=nope", headers=me["headers"]
        )
        assert unknown.status_code == 404


@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [
        ({"message": ""}, 422, "empty"),
        ({"message": "   \n\t "}, 422, "empty"),
        ({"message": "x" * 4001}, 422, "limit is 4000"),
        ({}, 422, "'message' is required"),
        ({"message": 42}, 422, "message"),
        ({"message": ["a"]}, 422, "message"),
        ({"message": "hi", "conversation_id": 7}, 422, "conversation_id"),
        ({"message": "hi", "conversation_id": "does-not-exist"}, 404, "not found"),
        ({"message": "hi", "client_message_id": ""}, 422, "client_message_id"),
        ({"message": "hi", "extra": 1}, 422, "'extra' is not a known field"),
    ],
)
async def test_bad_chat_input_gets_a_clear_4xx(
    client: httpx.AsyncClient, body: dict[str, Any], status: int, fragment: str
) -> None:
    me = await sign_up(client)
    response = await client.post(f"/api/{me['id']}/chat", json=body, headers=me["headers"])
    assert response.status_code == status, response.text
    assert fragment in response.json()["detail"]
    # Nothing was stored for a rejected message.
    assert (await client.get(f"/api/{me['id']}/conversations", headers=me["headers"])).json() == {
        "conversations": []
    }


async def test_malformed_and_oversized_bodies(client: httpx.AsyncClient) -> None:
    me = await sign_up(client)
    url = f"/api/{me['id']}/chat"
    headers = {**me["headers"], "Content-Type": "application/json"}
    broken = await client.post(url, content=b'{"message": "hi"', headers=headers)
    assert (
        broken.status_code == 400
        and broken.json()["detail"] == "The request body is not valid JSON."
    )
    not_object = await client.post(url, content=b'"hi"', headers=headers)
    assert not_object.status_code == 422
    huge = await client.post(url, content=b'{"message": "' + b"x" * 70_000 + b'"}', headers=headers)
    assert huge.status_code == 413
    assert huge.json() == {
        "detail": "The request body is over 65536 bytes.",
        "code": "payload_too_large",
    }

    async def chunks() -> Any:
        for _ in range(100):
            yield b"x" * 1024

    streamed = await client.post(url, content=chunks(), headers=headers)
    assert streamed.status_code == 413
    bad_query = await client.get(f"/api/{me['id']}/tasks?status=maybe", headers=me["headers"])
    assert bad_query.status_code == 422 and "status" in bad_query.json()["detail"]
    bad_date = await client.get(f"/api/{me['id']}/tasks?due_before=friday", headers=me["headers"])
    assert bad_date.status_code == 422
    wrong_method = await client.put(url, json={"message": "hi"}, headers=me["headers"])
    assert wrong_method.status_code == 405


async def test_retry_with_same_client_message_id_does_not_run_twice(
    settings: Settings, running: Any
) -> None:
    http, model = await chat_client(
        settings, running, [*add_then_reply(), [assistant_message("Hi")]]
    )
    async with http:
        me = await sign_up(http)
        body = {"message": "add milk", "client_message_id": "msg-1"}
        first = await http.post(f"/api/{me['id']}/chat", json=body, headers=me["headers"])
        again = await http.post(f"/api/{me['id']}/chat", json=body, headers=me["headers"])
        assert first.status_code == again.status_code == 200
        assert again.json()["replayed"] is True
        assert again.json()["message_id"] == first.json()["message_id"]
        assert again.json()["response"] == first.json()["response"]
        assert again.json()["tool_calls"] == first.json()["tool_calls"]
        assert (await http.get(f"/api/{me['id']}/tasks", headers=me["headers"])).json()[
            "count"
        ] == 1
        other = (
            await http.post(
                f"/api/{me['id']}/chat", json={"message": "new chat"}, headers=me["headers"]
            )
        ).json()
        reused = await http.post(
            f"/api/{me['id']}/chat",
            json={**body, "conversation_id": other["conversation_id"]},
            headers=me["headers"],
        )
        assert reused.status_code == 409 and "another conversation" in reused.json()["detail"]
    model.assert_complete()
    assert len(model.calls) == 3


async def test_model_failure_keeps_the_message_and_a_retry_can_succeed(
    settings: Settings, running: Any
) -> None:
    failure = APIConnectionError(request=httpx2.Request("POST", "http://model.invalid"))
    http, _ = await chat_client(
        settings, running, [ModelStep.raise_error(failure), [assistant_message("Here I am.")]]
    )
    async with http:
        me = await sign_up(http)
        body = {"message": "hello?", "client_message_id": "retry-me"}
        failed = await http.post(f"/api/{me['id']}/chat", json=body, headers=me["headers"])
        assert failed.status_code == 502
        assert (
            failed.json()["detail"]
            == "The model service can't be reached right now. Please try again."
        )
        cid = failed.json()["conversation_id"]
        messages = (
            await http.get(f"/api/{me['id']}/conversations/{cid}/messages", headers=me["headers"])
        ).json()["messages"]
        assert [(m["role"], m["content"], m["status"]) for m in messages] == [
            ("user", "hello?", "failed")
        ]

        retried = await http.post(f"/api/{me['id']}/chat", json=body, headers=me["headers"])
        assert retried.status_code == 200 and retried.json()["response"] == "Here I am."
        assert retried.json()["conversation_id"] == cid
        messages = (
            await http.get(f"/api/{me['id']}/conversations/{cid}/messages", headers=me["headers"])
        ).json()["messages"]
        assert [(m["role"], m["status"]) for m in messages] == [
            ("user", "answered"),
            ("assistant", "answered"),
        ]


async def test_model_failure_over_sse_is_an_error_event(settings: Settings, running: Any) -> None:
    http, _ = await chat_client(
        settings, running, [ModelStep.raise_error(RuntimeError("secret internals"))]
    )
    async with http:
        me = await sign_up(http)
        response = await http.post(
            f"/api/{me['id']}/chat",
            json={"message": "hi"},
            headers={**me["headers"], "Accept": "text/event-stream"},
        )
    events = parse_sse(response.text)
    assert [kind for kind, _ in events] == ["started", "error"]
    assert events[-1][1]["code"] == "internal_error"
    assert "secret internals" not in response.text


async def test_tool_error_is_reported_and_the_turn_completes(
    settings: Settings, running: Any
) -> None:
    steps = [
        [function_call("complete_task", {"task_id": 42}, call_id="c1")],
        [assistant_message("I couldn't find task 42.")],
    ]
    http, model = await chat_client(settings, running, steps)
    async with http:
        me = await sign_up(http)
        body = (
            await http.post(
                f"/api/{me['id']}/chat", json={"message": "complete task 42"}, headers=me["headers"]
            )
        ).json()
    [call] = body["tool_calls"]
    assert call["is_error"] is True
    assert "Task 42 was not found" in call["result"]
    assert body["response"] == "I couldn't find task 42."
    # The model saw the tool's error text.
    outputs = [item for item in model.last_call.input if item.get("type") == "function_call_output"]  # type: ignore[union-attr]
    assert "Task 42 was not found" in json.dumps(outputs)


async def test_database_unreachable_is_a_503(running: Any) -> None:
    settings = make_settings("postgresql+psycopg://postgres@127.0.0.1:1/nowhere")
    runtime = await running(Runtime(settings, model=ScriptedModel([])))
    async with api_client(runtime) as http:
        health = await http.get("/api/health")
        assert health.status_code == 503 and health.json() == {
            "status": "unavailable",
            "database": False,
            "draining": False,
        }
        assert (await http.get("/api/health/live")).status_code == 200
        signup = await http.post(
            "/api/auth/signup", json={"email": "a@example.com", "password": "long password"}
        )
        assert signup.status_code == 503
        assert signup.json() == {"detail": DATABASE_DOWN, "code": "database_unavailable"}
        chat = await http.post(
            "/api/u1/chat", json={"message": "hi"}, headers=bearer(settings, "u1")
        )
        assert chat.status_code == 503


async def test_openapi_and_info(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/api/openapi.json")).json()
    for path in (
        "/api/auth/signup",
        "/api/auth/login",
        "/api/{user_id}/chat",
        "/api/{user_id}/conversations",
        "/api/{user_id}/conversations/{conversation_id}/messages",
        "/api/{user_id}/tasks",
    ):
        assert path in spec["paths"], path
    assert (await client.get("/api/docs")).status_code == 200
    info = (await client.get("/api/info")).json()
    assert info["max_message_chars"] == 4000
    assert "secret" not in json.dumps(info).lower()


async def test_a_retry_sees_the_tool_calls_a_failed_attempt_made(
    settings: Settings, running: Any
) -> None:
    """The task was added before the model failed: the retry must not add it twice."""
    failure = APIConnectionError(request=httpx2.Request("POST", "http://model.invalid"))
    steps = [
        [function_call("add_task", {"title": "Buy milk"}, call_id="c1")],
        ModelStep.raise_error(failure),
        [assistant_message("Buy milk is already on your list as task 1.")],
    ]
    http, model = await chat_client(settings, running, steps)
    async with http:
        me = await sign_up(http)
        body = {"message": "add buy milk", "client_message_id": "m-1"}
        failed = await http.post(f"/api/{me['id']}/chat", json=body, headers=me["headers"])
        assert failed.status_code == 502
        cid = failed.json()["conversation_id"]
        url = f"/api/{me['id']}/conversations/{cid}/messages"
        [kept] = (await http.get(url, headers=me["headers"])).json()["messages"]
        assert kept["status"] == "failed"
        assert [call["name"] for call in kept["tool_calls"]] == ["add_task"]

        retried = await http.post(f"/api/{me['id']}/chat", json=body, headers=me["headers"])
        assert retried.status_code == 200
        assert [call["name"] for call in retried.json()["tool_calls"]] == ["add_task"]
        tasks = (await http.get(f"/api/{me['id']}/tasks", headers=me["headers"])).json()
        assert tasks["count"] == 1
        user, reply = (await http.get(url, headers=me["headers"])).json()["messages"]
        assert user["tool_calls"] == [] and user["status"] == "answered"
        assert [call["name"] for call in reply["tool_calls"]] == ["add_task"]
    seen = model.last_call.input  # type: ignore[union-attr]
    assert [item.get("type") or item.get("role") for item in seen] == [
        "user",
        "function_call",
        "function_call_output",
    ]


async def test_a_failed_message_is_not_answered_after_newer_turns(
    sqlite_url: str, running: Any
) -> None:
    """Its answer would land out of order: the retry is refused in words, nothing is stored,
    and the conversation still reads question, answer."""
    failure = APIConnectionError(request=httpx2.Request("POST", "http://model.invalid"))
    steps = [
        [assistant_message("first reply")],
        ModelStep.raise_error(failure),
        [assistant_message("later reply")],
    ]
    http, model = await chat_client(make_settings(sqlite_url), running, steps)
    async with http:
        me = await sign_up(http)
        url = f"/api/{me['id']}/chat"
        cid = (await http.post(url, json={"message": "first"}, headers=me["headers"])).json()[
            "conversation_id"
        ]
        retried = {"message": "flaky", "client_message_id": "flaky", "conversation_id": cid}
        assert (await http.post(url, json=retried, headers=me["headers"])).status_code == 502
        later = {"message": "later", "conversation_id": cid}
        assert (await http.post(url, json=later, headers=me["headers"])).status_code == 200
        again = await http.post(url, json=retried, headers=me["headers"])
        assert again.status_code == 409
        assert again.json()["code"] == "not_latest_message"
        assert again.json()["detail"].endswith("send it again instead.")
        listed = await http.get(
            f"/api/{me['id']}/conversations/{cid}/messages", headers=me["headers"]
        )
    assert [(m["content"], m["status"]) for m in listed.json()["messages"]] == [
        ("first", "answered"),
        ("first reply", "answered"),
        ("flaky", "failed"),
        ("later", "answered"),
        ("later reply", "answered"),
    ]
    model.assert_complete()


async def test_a_refused_turn_is_an_error_event_for_a_stream_reader(
    settings: Settings, running: Any
) -> None:
    http, _ = await chat_client(settings, running, [])
    async with http:
        me = await sign_up(http)
        url = f"/api/{me['id']}/chat"
        only_stream = {**me["headers"], "Accept": "text/event-stream"}
        refused = await http.post(url, json={"message": " "}, headers=only_stream)
        assert refused.status_code == 422
        assert refused.headers["content-type"].startswith("text/event-stream")
        [(kind, data)] = parse_sse(refused.text)
        assert (kind, data["code"]) == ("error", "empty_message")
        either = {**me["headers"], "Accept": "application/json, text/event-stream"}
        as_json = await http.post(url, json={"message": " "}, headers=either)
        assert (as_json.status_code, as_json.json()["code"]) == (422, "empty_message")
