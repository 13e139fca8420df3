"""The two model providers the tests drive through the loopback OpenAI stand-in, and what a
replayed first turn must look like in each one's request."""

from __future__ import annotations

import json
from typing import Any

from taskpilot.core.config import Settings
from tests.support.harness import COMPAT_KEY, OPENAI_KEY, make_settings
from tests.support.openai_standin import OpenAIStandIn, RecordedRequest

PROVIDERS = ["openai", "openai-compatible"]


def provider_settings(
    database_url: str, provider: str, standin: OpenAIStandIn, **overrides: Any
) -> Settings:
    """Settings that point the provider at the stand-in, as an operator would configure it."""
    values: dict[str, Any]
    if provider == "openai":
        values = {
            "model_provider": "openai",
            "openai_api_key": OPENAI_KEY,
            "openai_base_url": standin.base_url,
            "model_name": "gpt-4.1-mini",
        }
    else:
        values = {
            "model_provider": "openai-compatible",
            "model_base_url": standin.base_url,
            "model_name": "llama3.1",
            "model_api_key": COMPAT_KEY,
        }
    values["model_timeout_seconds"] = 10
    return make_settings(database_url, **{**values, **overrides})


def assert_replays_first_turn(
    replayed: RecordedRequest, provider: str, *, asked: str, answered: str, then: str
) -> None:
    """A second turn's model request replays the first (`add_milk_script`) faithfully, in the
    provider's API: the question, the add_task call paired with its real result, the answer,
    then the new question."""
    items = replayed.conversation()
    if provider == "openai":
        assert shapes(replayed) == [
            "user",
            "function_call",
            "function_call_output",
            "assistant",
            "user",
        ]
        call = items[1]
        assert (call["call_id"], call["name"]) == ("call_add_1", "add_task")
        arguments = json.loads(call["arguments"])
    else:
        # Chat Completions: an assistant message with tool_calls, then a tool message whose
        # tool_call_id matches, then the assistant's text.
        assert shapes(replayed) == ["user", "assistant+tool_calls", "tool", "assistant", "user"]
        [call] = items[1]["tool_calls"]
        assert call["id"] == "call_add_1" and call["type"] == "function"
        assert call["function"]["name"] == "add_task"
        arguments = json.loads(call["function"]["arguments"])
    assert arguments == {"title": "Buy milk", "priority": "high"}
    assert list(replayed.function_outputs()) == ["call_add_1"]
    result = json.loads(replayed.function_outputs()["call_add_1"])
    assert (result["task_id"], result["title"]) == (1, "Buy milk")
    assert [items[0]["content"], items[3]["content"], items[4]["content"]] == [
        asked,
        answered,
        then,
    ]


def shapes(request: RecordedRequest) -> list[str]:
    """The conversation sent, as a list of item kinds, comparable across both APIs."""
    kinds = []
    for item in request.conversation():
        if item.get("type") in ("function_call", "function_call_output"):
            kinds.append(item["type"])
        elif item.get("role") == "assistant" and item.get("tool_calls"):
            kinds.append("assistant+tool_calls")
        else:
            kinds.append(str(item.get("role")))
    return kinds
