"""The benchmark's language-model double: zero latency, one tool call, then a reply.

`AddTaskModel` answers every turn the same way, for as many turns as the benchmark runs:
when the newest input item is the user's message it asks for `add_task`; when it is that
tool's output it writes a short reply. Unlike `agents.testing.ScriptedModel` it keeps no
record of its calls, so neither memory nor deep copies grow with the number of turns and the
time measured is the server's, not the double's.
"""

from __future__ import annotations

import itertools
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

from agents.agent_output import AgentOutputSchemaBase
from agents.handoffs import Handoff
from agents.items import ModelResponse, TResponseInputItem, TResponseStreamEvent
from agents.model_settings import ModelSettings
from agents.models.interface import Model, ModelTracing
from agents.tool import Tool
from agents.usage import Usage
from openai.types.responses import (
    Response,
    ResponseCompletedEvent,
    ResponseContentPartAddedEvent,
    ResponseContentPartDoneEvent,
    ResponseCreatedEvent,
    ResponseFunctionCallArgumentsDeltaEvent,
    ResponseFunctionCallArgumentsDoneEvent,
    ResponseFunctionToolCall,
    ResponseOutputItem,
    ResponseOutputItemAddedEvent,
    ResponseOutputItemDoneEvent,
    ResponseOutputMessage,
    ResponseOutputText,
    ResponseTextDeltaEvent,
    ResponseTextDoneEvent,
)
from openai.types.responses.response_prompt_param import ResponsePromptParam

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


def next_output(input: str | list[TResponseInputItem]) -> ResponseOutputItem:
    """The double's one output item for this input: an add_task call, or the reply."""
    if answers_tool_output(input):
        return ResponseOutputMessage(
            id=f"msg_{uuid.uuid4().hex[:16]}",
            type="message",
            role="assistant",
            status="completed",
            content=[ResponseOutputText(text=REPLY, type="output_text", annotations=[])],
        )
    call_id = f"call_{uuid.uuid4().hex[:16]}"
    return ResponseFunctionToolCall(
        id=call_id,
        call_id=call_id,
        type="function_call",
        name=TOOL_NAME,
        arguments=json.dumps({"title": TASK_TITLE, "priority": "high"}),
        status="completed",
    )


def _response(response_id: str, output: list[ResponseOutputItem], done: bool) -> Response:
    return Response(
        id=response_id,
        created_at=0,
        model=MODEL_NAME,
        object="response",
        output=output,
        tool_choice="auto",
        tools=[],
        parallel_tool_calls=False,
        status="completed" if done else "in_progress",
    )


def stream_events(item: ResponseOutputItem, response_id: str) -> Iterator[TResponseStreamEvent]:
    """The Responses API event sequence for a response with one output item."""
    numbers = itertools.count()
    yield ResponseCreatedEvent(
        type="response.created",
        response=_response(response_id, [], done=False),
        sequence_number=next(numbers),
    )
    if isinstance(item, ResponseFunctionToolCall):
        item_id = item.id or item.call_id
        yield ResponseOutputItemAddedEvent(
            type="response.output_item.added",
            item=item.model_copy(update={"arguments": "", "status": "in_progress"}),
            output_index=0,
            sequence_number=next(numbers),
        )
        yield ResponseFunctionCallArgumentsDeltaEvent(
            type="response.function_call_arguments.delta",
            item_id=item_id,
            output_index=0,
            delta=item.arguments,
            sequence_number=next(numbers),
        )
        yield ResponseFunctionCallArgumentsDoneEvent(
            type="response.function_call_arguments.done",
            item_id=item_id,
            output_index=0,
            arguments=item.arguments,
            name=item.name,
            sequence_number=next(numbers),
        )
    elif isinstance(item, ResponseOutputMessage):
        part = item.content[0]
        assert isinstance(part, ResponseOutputText)
        yield ResponseOutputItemAddedEvent(
            type="response.output_item.added",
            item=item.model_copy(update={"content": [], "status": "in_progress"}),
            output_index=0,
            sequence_number=next(numbers),
        )
        yield ResponseContentPartAddedEvent(
            type="response.content_part.added",
            item_id=item.id,
            output_index=0,
            content_index=0,
            part=part.model_copy(update={"text": ""}),
            sequence_number=next(numbers),
        )
        yield ResponseTextDeltaEvent(
            type="response.output_text.delta",
            item_id=item.id,
            output_index=0,
            content_index=0,
            delta=part.text,
            logprobs=[],
            sequence_number=next(numbers),
        )
        yield ResponseTextDoneEvent(
            type="response.output_text.done",
            item_id=item.id,
            output_index=0,
            content_index=0,
            text=part.text,
            logprobs=[],
            sequence_number=next(numbers),
        )
        yield ResponseContentPartDoneEvent(
            type="response.content_part.done",
            item_id=item.id,
            output_index=0,
            content_index=0,
            part=part,
            sequence_number=next(numbers),
        )
    yield ResponseOutputItemDoneEvent(
        type="response.output_item.done",
        item=item,
        output_index=0,
        sequence_number=next(numbers),
    )
    yield ResponseCompletedEvent(
        type="response.completed",
        response=_response(response_id, [item], done=True),
        sequence_number=next(numbers),
    )


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
        for event in stream_events(next_output(input), f"resp_{uuid.uuid4().hex[:16]}"):
            yield event
