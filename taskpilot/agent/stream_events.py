"""Building Responses API stream events for models TaskPilot writes itself.

The offline model (and the benchmark's model double) answer with one output item per call: a
tool call, or a reply. `response_events` turns that item into the event sequence the Agents
SDK's Runner consumes from a real streamed response, with reply text in word-sized deltas.
"""

from __future__ import annotations

import itertools
import json
import re
import uuid
from typing import Any

from agents.items import TResponseStreamEvent
from openai.types.responses import (
    Response,
    ResponseCompletedEvent,
    ResponseContentPartAddedEvent,
    ResponseContentPartDoneEvent,
    ResponseCreatedEvent,
    ResponseFunctionCallArgumentsDeltaEvent,
    ResponseFunctionCallArgumentsDoneEvent,
    ResponseFunctionToolCall,
    ResponseInProgressEvent,
    ResponseOutputItem,
    ResponseOutputItemAddedEvent,
    ResponseOutputItemDoneEvent,
    ResponseOutputMessage,
    ResponseOutputText,
    ResponseTextDeltaEvent,
    ResponseTextDoneEvent,
    ResponseUsage,
)
from openai.types.responses.response_usage import InputTokensDetails, OutputTokensDetails

# The model answers with one of these: a tool call, or a reply.
OutputItem = ResponseFunctionToolCall | ResponseOutputMessage


def function_call_item(name: str, arguments: dict[str, Any]) -> ResponseFunctionToolCall:
    """A completed function-call output item with a fresh call id."""
    call_id = f"call_{uuid.uuid4().hex[:24]}"
    return ResponseFunctionToolCall(
        id=f"fc_{call_id}",
        call_id=call_id,
        type="function_call",
        name=name,
        arguments=json.dumps(arguments, ensure_ascii=False),
        status="completed",
    )


def message_item(text: str) -> ResponseOutputMessage:
    """A completed assistant message output item."""
    return ResponseOutputMessage(
        id=f"msg_{uuid.uuid4().hex[:24]}",
        type="message",
        role="assistant",
        status="completed",
        content=[ResponseOutputText(type="output_text", text=text, annotations=[])],
    )


def text_chunks(text: str) -> list[str]:
    """Word-sized pieces that join back to exactly `text`."""
    return re.findall(r"\S+\s*|\s+", text) or [text]


def _response(
    response_id: str, model: str, output: list[ResponseOutputItem], done: bool
) -> Response:
    usage = ResponseUsage(
        input_tokens=0,
        output_tokens=0,
        total_tokens=0,
        input_tokens_details=InputTokensDetails(cached_tokens=0, cache_write_tokens=0),
        output_tokens_details=OutputTokensDetails(reasoning_tokens=0),
    )
    return Response(
        id=response_id,
        created_at=0,
        model=model,
        object="response",
        output=output,
        tool_choice="auto",
        tools=[],
        parallel_tool_calls=False,
        status="completed" if done else "in_progress",
        usage=usage if done else None,
    )


def response_events(item: OutputItem, response_id: str, model: str) -> list[TResponseStreamEvent]:
    """The Responses API event sequence for a response with one output item."""
    events: list[TResponseStreamEvent] = []
    add = events.append
    numbers = itertools.count()
    started = _response(response_id, model, [], done=False)
    add(
        ResponseCreatedEvent(
            type="response.created", response=started, sequence_number=next(numbers)
        )
    )
    add(
        ResponseInProgressEvent(
            type="response.in_progress",
            response=started.model_copy(),
            sequence_number=next(numbers),
        )
    )
    if isinstance(item, ResponseFunctionToolCall):
        pending = item.model_copy(update={"arguments": "", "status": "in_progress"})
        item_id = item.id or item.call_id
        add(
            ResponseOutputItemAddedEvent(
                type="response.output_item.added",
                item=pending,
                output_index=0,
                sequence_number=next(numbers),
            )
        )
        add(
            ResponseFunctionCallArgumentsDeltaEvent(
                type="response.function_call_arguments.delta",
                item_id=item_id,
                output_index=0,
                delta=item.arguments,
                sequence_number=next(numbers),
            )
        )
        add(
            ResponseFunctionCallArgumentsDoneEvent.model_validate(
                {
                    "type": "response.function_call_arguments.done",
                    "item_id": item_id,
                    "output_index": 0,
                    "arguments": item.arguments,
                    "name": item.name,
                    "sequence_number": next(numbers),
                }
            )
        )
    else:
        part = item.content[0]
        assert isinstance(part, ResponseOutputText)
        add(
            ResponseOutputItemAddedEvent(
                type="response.output_item.added",
                item=item.model_copy(update={"content": [], "status": "in_progress"}),
                output_index=0,
                sequence_number=next(numbers),
            )
        )
        add(
            ResponseContentPartAddedEvent(
                type="response.content_part.added",
                item_id=item.id,
                output_index=0,
                content_index=0,
                part=part.model_copy(update={"text": ""}),
                sequence_number=next(numbers),
            )
        )
        for chunk in text_chunks(part.text):
            add(
                ResponseTextDeltaEvent(
                    type="response.output_text.delta",
                    item_id=item.id,
                    output_index=0,
                    content_index=0,
                    delta=chunk,
                    logprobs=[],
                    sequence_number=next(numbers),
                )
            )
        add(
            ResponseTextDoneEvent(
                type="response.output_text.done",
                item_id=item.id,
                output_index=0,
                content_index=0,
                text=part.text,
                logprobs=[],
                sequence_number=next(numbers),
            )
        )
        add(
            ResponseContentPartDoneEvent(
                type="response.content_part.done",
                item_id=item.id,
                output_index=0,
                content_index=0,
                part=part,
                sequence_number=next(numbers),
            )
        )
    add(
        ResponseOutputItemDoneEvent(
            type="response.output_item.done",
            item=item,
            output_index=0,
            sequence_number=next(numbers),
        )
    )
    add(
        ResponseCompletedEvent(
            type="response.completed",
            response=_response(response_id, model, [item], done=True),
            sequence_number=next(numbers),
        )
    )
    return events
