"""The benchmark's language-model double: zero latency, one tool call, then a reply.

`AddTaskModel` answers every turn the same way, for as many turns as the benchmark runs:
when the newest input item is the user's message it asks for `add_task`; when it is that
tool's output it writes a short reply. Unlike `agents.testing.ScriptedModel` it keeps no
record of its calls, so neither memory nor deep copies grow with the number of turns and the
time measured is the server's, not the double's.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

from agents.agent_output import AgentOutputSchemaBase
from agents.handoffs import Handoff
from agents.items import ModelResponse, TResponseInputItem, TResponseStreamEvent
from agents.model_settings import ModelSettings
from agents.models.interface import Model, ModelTracing
from agents.tool import Tool
from agents.usage import Usage
from openai.types.responses.response_prompt_param import ResponsePromptParam

from taskpilot.agent.stream_events import (
    OutputItem,
    function_call_item,
    message_item,
    response_events,
)

MODEL_NAME = "bench-add-task-double"
TOOL_NAME = "add_task"
TASK_TITLE = "Benchmark task"
REPLY = "Added your task."


def _field(item: Any, name: str) -> Any:
    """A field of an input item, whether it is a dict or an SDK model object."""
    return item.get(name) if isinstance(item, dict) else getattr(item, name, None)


def answers_tool_output(input: str | list[TResponseInputItem]) -> bool:
    """Whether the newest input item is a tool's output (then the model should reply)."""
    if isinstance(input, str) or not input:
        return False
    return _field(input[-1], "type") == "function_call_output"


def next_output(input: str | list[TResponseInputItem]) -> OutputItem:
    """The double's one output item for this input: an add_task call, or the reply."""
    if answers_tool_output(input):
        return message_item(REPLY)
    return function_call_item(TOOL_NAME, {"title": TASK_TITLE, "priority": "high"})


class AddTaskModel(Model):
    """A zero-latency model double: `add_task` for a user message, a reply after the tool.

    `calls` counts model calls (two per turn), so the benchmark can check the double ran.
    """

    def __init__(self) -> None:
        self.calls = 0

    async def get_response(
        self,
        system_instructions: str | None,
        input: str | list[TResponseInputItem],
        model_settings: ModelSettings,
        tools: list[Tool],
        output_schema: AgentOutputSchemaBase | None,
        handoffs: list[Handoff],
        tracing: ModelTracing,
        *,
        previous_response_id: str | None,
        conversation_id: str | None,
        prompt: ResponsePromptParam | None,
    ) -> ModelResponse:
        """The double's answer as one non-streamed response."""
        self.calls += 1
        return ModelResponse(
            output=[next_output(input)],
            usage=Usage(),
            response_id=f"resp_{uuid.uuid4().hex[:16]}",
        )

    async def stream_response(
        self,
        system_instructions: str | None,
        input: str | list[TResponseInputItem],
        model_settings: ModelSettings,
        tools: list[Tool],
        output_schema: AgentOutputSchemaBase | None,
        handoffs: list[Handoff],
        tracing: ModelTracing,
        *,
        previous_response_id: str | None,
        conversation_id: str | None,
        prompt: ResponsePromptParam | None,
    ) -> AsyncIterator[TResponseStreamEvent]:
        """The same answer as Responses API stream events, with no delay between them."""
        self.calls += 1
        for event in response_events(
            next_output(input), f"resp_{uuid.uuid4().hex[:16]}", MODEL_NAME
        ):
            yield event
