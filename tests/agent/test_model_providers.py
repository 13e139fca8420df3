"""The OpenAI and OpenAI-compatible providers, end to end, against a loopback stand-in.

There is no route to OpenAI here. `build_model` constructs the real Agents SDK models
(`OpenAIResponsesModel`, `OpenAIChatCompletionsModel`) with the real `openai` client, pointed
at `tests.support.openai_standin`, a real HTTP server that speaks the documented APIs.
Everything else is real too: the API app, the agent service, the MCP server, the database.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
from agents import Agent, Runner, function_tool
from agents.models.openai_chatcompletions import OpenAIChatCompletionsModel
from agents.models.openai_responses import OpenAIResponsesModel
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from openai.types.responses import Response, ResponseStreamEvent
from pydantic import TypeAdapter

from taskpilot.agent.offline import OfflineModel
from taskpilot.agent.providers import build_model, close_model, describe_model
from taskpilot.api import sse
from taskpilot.core.clock import today
from taskpilot.core.config import ModelProvider, Settings
from taskpilot.runtime import Runtime
from tests.support.harness import (
    COMPAT_KEY,
    OPENAI_KEY,
    SECRETS,
    TASK_TOOLS,
    api_client,
    make_settings,
    parse_sse,
    sign_up,
)
from tests.support.openai_standin import (
    OpenAIStandIn,
    error,
    reply,
    split_text,
    stall,
    stream_error,
    tool_call,
)
from tests.support.providers import PROVIDERS, assert_replays_first_turn, provider_settings, shapes

Serve = Callable[[Settings], Awaitable[httpx.AsyncClient]]


@pytest.fixture
async def serve(running: Any) -> AsyncIterator[Serve]:
    """Start a Runtime whose model `build_model` makes from the settings; an API client on it."""

    async def start(settings: Settings) -> httpx.AsyncClient:
        # Runtime.running() closes the model's OpenAI client when the test ends.
        return api_client(await running(Runtime(settings)))

    yield start


def assert_no_secret(response: httpx.Response) -> None:
    for secret in SECRETS:
        assert secret not in response.text
        assert secret[-8:] not in response.text


def expected_path(provider: str) -> str:
    return "/v1/responses" if provider == "openai" else "/v1/chat/completions"


def expected_auth(provider: str) -> str:
    return f"Bearer {OPENAI_KEY if provider == 'openai' else COMPAT_KEY}"


def add_milk_script(call_id: str = "call_add_1") -> list[Any]:
    return [
        tool_call("add_task", {"title": "Buy milk", "priority": "high"}, call_id=call_id),
        reply("Added task 1: Buy milk, high priority."),
    ]


# --- a whole turn ----------------------------------------------------------------------------


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_a_turn_calls_add_task_then_replies(
    provider: str, sqlite_url: str, serve: Serve, standin: OpenAIStandIn, secret_logs: Any
) -> None:
    settings = provider_settings(sqlite_url, provider, standin)
    standin.script(*add_milk_script())
    async with await serve(settings) as http:
        me = await sign_up(http)
        response = await http.post(
            f"/api/{me['id']}/chat",
            json={"message": "add buy milk, high priority"},
            headers=me["headers"],
        )
        assert response.status_code == 200, response.text
        assert_no_secret(response)
        body = response.json()
        assert body["response"] == "Added task 1: Buy milk, high priority."
        [call] = body["tool_calls"]
        assert call["name"] == "add_task"
        assert call["arguments"] == {"title": "Buy milk", "priority": "high"}
        assert call["result"]["task_id"] == 1 and call["is_error"] is False

        tasks = (await http.get(f"/api/{me['id']}/tasks", headers=me["headers"])).json()
        assert [(t["task_id"], t["title"], t["priority"]) for t in tasks["tasks"]] == [
            (1, "Buy milk", "high")
        ]
        listed = await http.get(
            f"/api/{me['id']}/conversations/{body['conversation_id']}/messages",
            headers=me["headers"],
        )
        assert_no_secret(listed)
        messages = listed.json()["messages"]
        assert [(m["role"], m["status"]) for m in messages] == [
            ("user", "answered"),
            ("assistant", "answered"),
        ]
        assert messages[1]["content"] == body["response"]
        assert messages[1]["tool_calls"][0]["name"] == "add_task"
        info = await http.get("/api/info")
        assert_no_secret(info)
        assert info.json()["offline_model"] is False

    standin.assert_done()
    first, second = standin.model_requests
    for request in (first, second):
        assert request.path == expected_path(provider)
        assert request.authorization == expected_auth(provider)
        assert request.model == settings.model_name
        assert request.streamed is True
    # The model is offered exactly TaskPilot's MCP tools; none lets it choose the user.
    tools = first.tools()
    assert set(tools) == TASK_TOOLS
    for name, spec in tools.items():
        properties = spec["parameters"].get("properties", {})
        assert not any("user" in prop.lower() for prop in properties), (name, properties)
        assert spec["description"], name
    assert today(settings).isoformat() in first.instructions()
    assert first.instructions() == second.instructions()
    assert shapes(first) == ["user"]
    # The second request of the turn carries the tool's real result.
    outputs = second.function_outputs()
    assert list(outputs) == ["call_add_1"]
    result = json.loads(outputs["call_add_1"])
    assert (result["task_id"], result["title"], result["status"]) == (1, "Buy milk", "created")


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_a_turn_streams_text_deltas_in_order(
    provider: str, sqlite_url: str, serve: Serve, standin: OpenAIStandIn
) -> None:
    settings = provider_settings(sqlite_url, provider, standin)
    answer = "Added task 1: Buy milk. Anything else for today?"
    standin.script(add_milk_script()[0], reply(answer))
    async with await serve(settings) as http:
        me = await sign_up(http)
        response = await http.post(
            f"/api/{me['id']}/chat",
            json={"message": "add buy milk"},
            headers={**me["headers"], "Accept": "text/event-stream"},
        )
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert_no_secret(response)
    events = parse_sse(response.text)
    kinds = [kind for kind, _ in events]
    assert kinds[0] == "started" and kinds[-1] == "done"
    assert kinds.index("tool_started") < kinds.index("tool_finished") < kinds.index("text_delta")
    finished = next(data for kind, data in events if kind == "tool_finished")
    assert finished["name"] == "add_task" and finished["result"]["task_id"] == 1
    deltas = [data["delta"] for kind, data in events if kind == "text_delta"]
    assert deltas == split_text(answer) and len(deltas) > 5
    assert events[-1][1]["response"] == answer
    assert all(request.streamed for request in standin.model_requests)
    standin.assert_done()


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_second_turn_replays_history_with_tool_calls(
    provider: str, sqlite_url: str, serve: Serve, standin: OpenAIStandIn
) -> None:
    settings = provider_settings(sqlite_url, provider, standin)
    standin.script(*add_milk_script("call_add_1"), reply("You have 1 open task: Buy milk."))
    async with await serve(settings) as http:
        me = await sign_up(http)
        first = await http.post(
            f"/api/{me['id']}/chat", json={"message": "add buy milk"}, headers=me["headers"]
        )
        assert first.status_code == 200, first.text
        second = await http.post(
            f"/api/{me['id']}/chat",
            json={"message": "how many tasks?", "conversation_id": first.json()["conversation_id"]},
            headers=me["headers"],
        )
        assert second.status_code == 200, second.text
        assert second.json()["response"] == "You have 1 open task: Buy milk."
    standin.assert_done()
    replayed = standin.model_requests[2]
    assert_replays_first_turn(
        replayed,
        provider,
        asked="add buy milk",
        answered="Added task 1: Buy milk, high priority.",
        then="how many tasks?",
    )
    assert today(settings).isoformat() in replayed.instructions()


# --- failures --------------------------------------------------------------------------------

FAILURES = {
    # mode: (code, readable message, model requests made: the client retries once)
    "500": ("model_error", "The model service returned an error. Please try again.", 2),
    "429": ("model_busy", "The model service is busy (rate limited). Please try again shortly.", 2),
    "401": ("model_auth", "The model service rejected TaskPilot's credentials.", 1),
    "timeout": ("model_timeout", "The model took too long to answer. Please try again.", 2),
    "unreachable": (
        "model_unreachable",
        "The model service can't be reached right now. Please try again.",
        0,
    ),
}


@pytest.mark.parametrize("mode", list(FAILURES))
@pytest.mark.parametrize("provider", PROVIDERS)
async def test_model_failure_is_a_readable_502_and_the_message_is_kept(
    provider: str,
    mode: str,
    sqlite_url: str,
    serve: Serve,
    standin: OpenAIStandIn,
    secret_logs: Any,
) -> None:
    overrides: dict[str, Any] = {}
    if mode == "500":
        standin.script(error(500, "stand-in internals exploded"), times=2)
    elif mode == "429":
        standin.script(error(429, "stand-in says: Rate limit reached for requests"), times=2)
    elif mode == "401":
        standin.api_key = "sk-the-right-key-0000000000000000"
    elif mode == "timeout":
        standin.script(stall(30), times=2)
        overrides["model_timeout_seconds"] = 1
    code, message, attempts = FAILURES[mode]
    settings = provider_settings(sqlite_url, provider, standin, **overrides)
    with contextlib.ExitStack() as stack:
        if mode == "unreachable":
            # A port that is bound but not listening: connections are refused.
            closed = stack.enter_context(socket.socket())
            closed.bind(("127.0.0.1", 0))
            url = f"http://127.0.0.1:{closed.getsockname()[1]}/v1"
            key = "openai_base_url" if provider == "openai" else "model_base_url"
            settings = provider_settings(sqlite_url, provider, standin, **{key: url})
        await check_failed_turn(serve, settings, code, message)
    assert len(standin.model_requests) == attempts
    assert standin.pending == 0 and not standin.unexpected


async def check_failed_turn(serve: Serve, settings: Settings, code: str, message: str) -> None:
    """The turn answers 502 with `message`; the user's message is kept, failed, unanswered."""
    async with await serve(settings) as http:
        me = await sign_up(http)
        response = await http.post(
            f"/api/{me['id']}/chat", json={"message": "add buy milk"}, headers=me["headers"]
        )
        assert response.status_code == 502, response.text
        assert_no_secret(response)
        body = response.json()
        assert (body["code"], body["detail"]) == (code, message)
        for raw in ("stand-in", "Error code", "Traceback", "Incorrect API key", "127.0.0.1"):
            assert raw not in response.text
        listed = await http.get(
            f"/api/{me['id']}/conversations/{body['conversation_id']}/messages",
            headers=me["headers"],
        )
        assert_no_secret(listed)
        messages = listed.json()["messages"]
        assert [(m["role"], m["content"], m["status"]) for m in messages] == [
            ("user", "add buy milk", "failed")
        ]
        assert messages[0]["error"] == message
        tasks = await http.get(f"/api/{me['id']}/tasks", headers=me["headers"])
        assert tasks.json()["count"] == 0


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_model_failure_over_sse_ends_with_an_error_event(
    provider: str, sqlite_url: str, serve: Serve, standin: OpenAIStandIn, secret_logs: Any
) -> None:
    standin.script(error(500, "stand-in internals exploded"), times=2)
    settings = provider_settings(sqlite_url, provider, standin)
    async with await serve(settings) as http:
        me = await sign_up(http)
        response = await http.post(
            f"/api/{me['id']}/chat",
            json={"message": "hi"},
            headers={**me["headers"], "Accept": "text/event-stream"},
        )
        assert_no_secret(response)
    events = parse_sse(response.text)
    assert [kind for kind, _ in events] == ["started", "error"]
    assert events[-1][1]["code"] == "model_error"
    assert "stand-in" not in response.text


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_a_stream_broken_off_by_the_model_stores_no_half_reply(
    provider: str, sqlite_url: str, serve: Serve, standin: OpenAIStandIn, secret_logs: Any
) -> None:
    standin.script(stream_error("stand-in: the stream broke", text="Let me check that."))
    settings = provider_settings(sqlite_url, provider, standin)
    async with await serve(settings) as http:
        me = await sign_up(http)
        response = await http.post(
            f"/api/{me['id']}/chat",
            json={"message": "hi"},
            headers={**me["headers"], "Accept": "text/event-stream"},
        )
        assert_no_secret(response)
        events = parse_sse(response.text)
        assert [kind for kind, _ in events] == ["started", "text_delta", "error"]
        assert "stand-in" not in response.text
        cid = events[0][1]["conversation_id"]
        messages = (
            await http.get(f"/api/{me['id']}/conversations/{cid}/messages", headers=me["headers"])
        ).json()["messages"]
        assert [(m["role"], m["status"]) for m in messages] == [("user", "failed")]
    standin.assert_done()


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_history_with_several_tool_calls_and_a_tool_error_is_accepted(
    provider: str, sqlite_url: str, serve: Serve, standin: OpenAIStandIn
) -> None:
    """The stand-in answers 400, as OpenAI does, when calls and results do not pair up."""
    settings = provider_settings(sqlite_url, provider, standin)
    standin.script(
        tool_call("add_task", {"title": "Buy milk"}, call_id="call_a"),
        tool_call("complete_task", {"task_id": 42}, call_id="call_b"),
        reply("Added task 1; there is no task 42."),
        reply("Task 1 is still open."),
    )
    async with await serve(settings) as http:
        me = await sign_up(http)
        first = await http.post(
            f"/api/{me['id']}/chat",
            json={"message": "add buy milk and complete task 42"},
            headers=me["headers"],
        )
        assert first.status_code == 200, first.text
        assert [(c["name"], c["is_error"]) for c in first.json()["tool_calls"]] == [
            ("add_task", False),
            ("complete_task", True),
        ]
        second = await http.post(
            f"/api/{me['id']}/chat",
            json={"message": "what is open?", "conversation_id": first.json()["conversation_id"]},
            headers=me["headers"],
        )
        assert second.status_code == 200, second.text
    standin.assert_done()
    replayed = standin.model_requests[3]
    if provider == "openai":
        assert shapes(replayed) == [
            "user",
            "function_call",
            "function_call_output",
            "function_call",
            "function_call_output",
            "assistant",
            "user",
        ]
    else:
        assert shapes(replayed) == [
            "user",
            "assistant+tool_calls",
            "tool",
            "assistant+tool_calls",
            "tool",
            "assistant",
            "user",
        ]
    outputs = replayed.function_outputs()
    assert json.loads(outputs["call_a"])["task_id"] == 1
    assert "Task 42 was not found" in outputs["call_b"]


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_streamed_text_is_the_stored_reply_when_the_model_speaks_before_a_tool(
    provider: str, sqlite_url: str, serve: Serve, standin: OpenAIStandIn
) -> None:
    settings = provider_settings(sqlite_url, provider, standin)
    standin.script(
        tool_call("add_task", {"title": "Buy milk"}, call_id="call_a", text="Let me add that."),
        reply("Added task 1: Buy milk."),
    )
    async with await serve(settings) as http:
        me = await sign_up(http)
        response = await http.post(
            f"/api/{me['id']}/chat",
            json={"message": "add buy milk"},
            headers={**me["headers"], "Accept": "text/event-stream"},
        )
        events = parse_sse(response.text)
        done = events[-1][1]
        messages = (
            await http.get(
                f"/api/{me['id']}/conversations/{done['conversation_id']}/messages",
                headers=me["headers"],
            )
        ).json()["messages"]
    streamed = "".join(data["delta"] for kind, data in events if kind == "text_delta")
    assert "Let me add that." in streamed and "Added task 1: Buy milk." in streamed
    assert streamed == done["response"] == messages[1]["content"]


@pytest.mark.parametrize("event", ["error", "response.failed"])
async def test_a_failed_responses_stream_is_reported_as_a_model_error(
    event: Any, sqlite_url: str, serve: Serve, standin: OpenAIStandIn
) -> None:
    standin.script(stream_error("stand-in: overloaded", event=event))
    settings = provider_settings(sqlite_url, "openai", standin)
    async with await serve(settings) as http:
        me = await sign_up(http)
        response = await http.post(
            f"/api/{me['id']}/chat", json={"message": "hi"}, headers=me["headers"]
        )
    assert response.status_code == 502
    assert "stand-in" not in response.text
    assert (response.json()["code"], response.json()["detail"]) == (
        "model_error",
        "The model service returned an error. Please try again.",
    )


async def test_the_openai_key_is_never_sent_to_an_openai_compatible_server(
    sqlite_url: str, serve: Serve, standin: OpenAIStandIn
) -> None:
    """With both configured, MODEL_PROVIDER=openai-compatible talks to the other server
    without OpenAI's key."""
    settings = provider_settings(
        sqlite_url, "openai-compatible", standin, openai_api_key=OPENAI_KEY, model_api_key=None
    )
    standin.script(reply("Hello! I can manage your tasks."))
    async with await serve(settings) as http:
        me = await sign_up(http)
        response = await http.post(
            f"/api/{me['id']}/chat", json={"message": "hello"}, headers=me["headers"]
        )
        assert response.status_code == 200, response.text
    [request] = standin.model_requests
    assert request.path == "/v1/chat/completions"
    assert OPENAI_KEY not in json.dumps(request.headers)
    assert request.authorization == "Bearer unused"


# --- settings: which provider, how it is described, what is missing ---------------------------


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ("MODEL_PROVIDER", "OPENAI_API_KEY", "MODEL_BASE_URL", "MODEL_NAME"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


@pytest.mark.parametrize(
    ("env", "provider"),
    [
        ({}, ModelProvider.OFFLINE),
        ({"OPENAI_API_KEY": OPENAI_KEY}, ModelProvider.OPENAI),
        ({"MODEL_BASE_URL": "http://localhost:11434/v1"}, ModelProvider.OPENAI_COMPATIBLE),
        # A key and a base URL: OpenAI, unless MODEL_PROVIDER says otherwise.
        (
            {"OPENAI_API_KEY": OPENAI_KEY, "MODEL_BASE_URL": "http://localhost:11434/v1"},
            ModelProvider.OPENAI,
        ),
        (
            {
                "OPENAI_API_KEY": OPENAI_KEY,
                "MODEL_BASE_URL": "http://localhost:11434/v1",
                "MODEL_PROVIDER": "openai-compatible",
            },
            ModelProvider.OPENAI_COMPATIBLE,
        ),
        ({"OPENAI_API_KEY": OPENAI_KEY, "MODEL_PROVIDER": "offline"}, ModelProvider.OFFLINE),
    ],
)
def test_resolved_model_provider_defaults(
    clean_env: pytest.MonkeyPatch, env: dict[str, str], provider: ModelProvider
) -> None:
    for name, value in env.items():
        clean_env.setenv(name, value)
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.resolved_model_provider is provider


def test_describe_model_names_the_model_and_no_secret(clean_env: pytest.MonkeyPatch) -> None:
    openai = make_settings("sqlite://", model_provider=None, openai_api_key=OPENAI_KEY)
    assert describe_model(openai) == "OpenAI gpt-4.1-mini"
    named = make_settings(
        "sqlite://", model_provider="openai", openai_api_key=OPENAI_KEY, model_name="gpt-4.1"
    )
    assert describe_model(named) == "OpenAI gpt-4.1"
    compatible = make_settings(
        "sqlite://",
        model_provider=None,
        model_base_url="http://user:hunter2@localhost:11434/v1",
        model_name="llama3.1",
        model_api_key=COMPAT_KEY,
    )
    assert describe_model(compatible) == "llama3.1 (OpenAI-compatible server)"
    offline = make_settings("sqlite://")
    assert describe_model(offline).startswith("Offline model: rule-based, no AI.")
    for settings in (openai, named, compatible, offline):
        text = describe_model(settings)
        assert OPENAI_KEY not in text and COMPAT_KEY not in text and "hunter2" not in text


def test_build_model_constructs_the_sdk_model_for_each_provider(
    standin: OpenAIStandIn,
) -> None:
    responses = build_model(provider_settings("sqlite://", "openai", standin))
    assert isinstance(responses, OpenAIResponsesModel)
    assert responses.model == "gpt-4.1-mini"
    assert str(responses._client.base_url).rstrip("/") == standin.base_url
    assert responses._client.max_retries == 1
    chat = build_model(provider_settings("sqlite://", "openai-compatible", standin))
    assert isinstance(chat, OpenAIChatCompletionsModel)
    assert chat.model == "llama3.1"
    assert str(chat._client.base_url).rstrip("/") == standin.base_url
    assert isinstance(build_model(make_settings("sqlite://")), OfflineModel)


def test_build_model_says_what_is_missing(clean_env: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="MODEL_PROVIDER=openai needs OPENAI_API_KEY"):
        build_model(make_settings("sqlite://", model_provider="openai"))
    with pytest.raises(ValueError, match="MODEL_PROVIDER=openai-compatible needs MODEL_BASE_URL"):
        build_model(make_settings("sqlite://", model_provider="openai-compatible"))
    with pytest.raises(ValueError, match="needs OPENAI_API_KEY"):
        Runtime(make_settings("sqlite://", model_provider="openai"))


# --- the stand-in itself speaks the documented API -------------------------------------------

STREAM_EVENT = TypeAdapter(ResponseStreamEvent)


async def test_standin_responses_stream_matches_the_openai_types(standin: OpenAIStandIn) -> None:
    standin.script(tool_call("add_task", {"title": "Milk"}, call_id="call_1"), reply("Done now."))
    body = {
        "model": "gpt-4.1-mini",
        "input": "add milk",
        "stream": True,
        "tools": [{"type": "function", "name": "add_task", "parameters": {}, "strict": False}],
    }
    async with httpx.AsyncClient(base_url=standin.base_url, timeout=5) as http:
        events = []
        for _ in range(2):
            response = await http.post("/responses", json=body)
            assert response.headers["content-type"].startswith("text/event-stream")
            for sent in sse.parse_events(response.text):
                event = STREAM_EVENT.validate_python(sent.json())
                assert event.type == sent.event
                events.append(event)
    kinds = [event.type for event in events]
    assert kinds[:3] == ["response.created", "response.in_progress", "response.output_item.added"]
    assert "response.function_call_arguments.delta" in kinds
    assert "response.function_call_arguments.done" in kinds
    assert kinds.count("response.output_text.delta") == 2
    assert kinds.count("response.completed") == 2
    assert [e.sequence_number for e in events[: kinds.index("response.completed") + 1]] == list(
        range(kinds.index("response.completed") + 1)
    )
    completed = [e for e in events if e.type == "response.completed"]
    assert completed[0].response.output[0].type == "function_call"
    assert completed[1].response.output_text == "Done now."
    assert completed[1].response.usage is not None and completed[1].response.usage.total_tokens > 0


async def test_standin_chat_stream_and_plain_answers_match_the_openai_types(
    standin: OpenAIStandIn,
) -> None:
    standin.script(tool_call("add_task", {"title": "Milk"}, call_id="call_1"), reply("Done now."))
    standin.script(reply("Plain answer."), tool_call("list_tasks", {}))
    body = {
        "model": "llama3.1",
        "messages": [{"role": "user", "content": "add milk"}],
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    async with httpx.AsyncClient(base_url=standin.base_url, timeout=5) as http:
        for _ in range(2):
            response = await http.post("/chat/completions", json=body)
            data = [event.data for event in sse.parse_events(response.text)]
            assert data[-1] == "[DONE]"
            chunks = [ChatCompletionChunk.model_validate_json(x) for x in data[:-1]]
            assert chunks[-1].choices == [] and chunks[-1].usage is not None
            finish = chunks[-2].choices[0].finish_reason
            assert finish in ("tool_calls", "stop")
        plain = {**body, "stream": False}
        text = ChatCompletion.model_validate(
            (await http.post("/chat/completions", json=plain)).json()
        )
        assert text.choices[0].message.content == "Plain answer."
        call = ChatCompletion.model_validate(
            (await http.post("/chat/completions", json=plain)).json()
        )
        assert call.choices[0].finish_reason == "tool_calls"
        plain_response = {"model": "gpt-4.1-mini", "input": "hi"}
        standin.script(reply("Hi there."))
        parsed = Response.model_validate(
            (await http.post("/responses", json=plain_response)).json()
        )
        assert parsed.output_text == "Hi there." and parsed.status == "completed"
    standin.assert_done()


async def test_standin_rejects_unpaired_tool_results_as_openai_does(standin: OpenAIStandIn) -> None:
    async with httpx.AsyncClient(base_url=standin.base_url, timeout=5) as http:
        orphan_chat = await http.post(
            "/chat/completions",
            json={
                "model": "m",
                "messages": [
                    {"role": "user", "content": "hi"},
                    {"role": "tool", "tool_call_id": "call_9", "content": "{}"},
                ],
            },
        )
        assert orphan_chat.status_code == 400
        assert (
            "must be a response to a preceeding message" in orphan_chat.json()["error"]["message"]
        )
        orphan_output = await http.post(
            "/responses",
            json={
                "model": "m",
                "input": [{"type": "function_call_output", "call_id": "call_9", "output": "{}"}],
            },
        )
        assert orphan_output.status_code == 400
        assert "No tool call found" in orphan_output.json()["error"]["message"]
    assert standin.pending == 0 and not standin.unexpected


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_sdk_models_work_without_streaming_too(provider: str, standin: OpenAIStandIn) -> None:
    """`Runner.run` (non-streamed) through the models `build_model` makes, with a local tool."""
    seen: list[str] = []

    @function_tool
    def add_task(title: str) -> str:
        """Add a task."""
        seen.append(title)
        return json.dumps({"task_id": 1, "status": "created", "title": title})

    standin.script(tool_call("add_task", {"title": "Milk"}, call_id="call_7"), reply("Added."))
    model = build_model(provider_settings("sqlite://", provider, standin))
    agent = Agent(name="t", instructions="Be brief.", model=model, tools=[add_task])
    try:
        result = await Runner.run(agent, "add milk")
    finally:
        await close_model(model)
    assert result.final_output == "Added."
    assert seen == ["Milk"]
    first, second = standin.model_requests
    assert not first.streamed and not second.streamed
    assert json.loads(second.function_outputs()["call_7"])["task_id"] == 1
    standin.assert_done()


def test_standin_stops_promptly_with_a_stalled_request() -> None:
    standin = OpenAIStandIn().start()
    standin.script(stall(60))
    done = threading.Event()

    def hang() -> None:
        with contextlib.suppress(httpx.HTTPError):
            httpx.post(f"{standin.base_url}/responses", json={"model": "m", "input": "x"})
        done.set()

    threading.Thread(target=hang, daemon=True).start()
    deadline = time.monotonic() + 5
    while not standin.requests and time.monotonic() < deadline:
        time.sleep(0.01)
    started = time.monotonic()
    standin.stop()
    assert time.monotonic() - started < 2
    assert done.wait(2), "the stalled client was not hung up on"
