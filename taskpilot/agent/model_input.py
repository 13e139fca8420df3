"""What the model is shown: stored turns, tool calls included, as Agents SDK input items.

History replays faithfully: each stored tool call becomes a `function_call` and its
`function_call_output`, paired by call id, so the model sees what it did and does not do it
again (a retried turn is shown the calls its earlier attempt already made).
"""

from __future__ import annotations

import json

from agents.items import TResponseInputItem

from taskpilot.data.models import Message, Role, ToolCall


def tool_items(calls: list[ToolCall], prefix: str) -> list[TResponseInputItem]:
    """Stored tool calls as function_call / function_call_output input item pairs."""
    items: list[TResponseInputItem] = []
    for index, call in enumerate(calls):
        call_id = call.call_id or f"call_{prefix}_{index}"
        result = call.result
        if call.undone and isinstance(result, dict):
            result = {**result, "undone": True}  # the person took this change back since
        items.append(
            {
                "type": "function_call",
                "call_id": call_id,
                "name": call.name,
                "arguments": json.dumps(call.arguments),
            }
        )
        items.append(
            {
                "type": "function_call_output",
                "call_id": call_id,
                "output": result if isinstance(result, str) else json.dumps(result),
            }
        )
    return items


def history_to_input(messages: list[Message]) -> list[TResponseInputItem]:
    """Stored messages as model input, tool calls included, so history replays faithfully."""
    items: list[TResponseInputItem] = []
    for message in messages:
        if message.role == Role.USER.value:
            items.append({"role": "user", "content": message.content})
            continue
        items.extend(tool_items(ToolCall.stored(message.tool_calls), str(message.id)))
        if message.content:
            items.append({"role": "assistant", "content": message.content})
    return items


def turn_input(
    history: list[Message], question: str, earlier_calls: list[ToolCall], turn: int
) -> list[TResponseInputItem]:
    """The model's input for one turn: the history, the question, and the tool calls an
    earlier attempt at this same turn already made."""
    items = history_to_input(history)
    items.append({"role": "user", "content": question})
    items.extend(tool_items(earlier_calls, f"retry_{turn}"))
    return items
