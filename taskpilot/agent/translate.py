"""The Agents SDK's stream events as TaskPilot's `TurnEvent`s, for one run.

The translator also keeps what the turn will store: every tool call with its result, and the
reply as the person watched it stream (every message of the run — a model may speak before it
calls a tool — with a blank line between them).
"""

from __future__ import annotations

import json
import time
from typing import Any

from taskpilot.agent.events import TextDelta, ToolFinished, ToolStarted, TurnEvent
from taskpilot.core import metrics
from taskpilot.data.models import Approval, ToolCall


def _parse_json(text: Any) -> Any:
    if isinstance(text, dict) and "text" in text:
        text = text["text"]
    if isinstance(text, list) and len(text) == 1 and isinstance(text[0], dict):
        text = text[0].get("text", text)
    if isinstance(text, str):
        try:
            return json.loads(text)
        except ValueError:
            return text
    return text


class RunTranslator:
    """Translates one run's stream events, collecting its tool calls and its reply."""

    def __init__(self) -> None:
        self.calls: dict[str, ToolCall] = {}
        self._pieces: list[str] = []
        self._new_message = False
        # When the agent last turned to the model, and when the step's tool calls appeared
        # (the SDK streams a step's calls, then runs them together): for the metrics.
        self._asked_model = self._tools_started = time.perf_counter()

    @property
    def reply(self) -> str:
        """The text streamed so far."""
        return "".join(self._pieces)

    def finished_calls(self) -> list[ToolCall]:
        """The tool calls that returned: their effects are real."""
        return [call for call in self.calls.values() if call.result is not None]

    def all_calls(self) -> list[ToolCall]:
        """Every tool call of the run, in the order it was made."""
        return list(self.calls.values())

    def resume(self, calls: list[ToolCall], reply: str) -> None:
        """A paused run taken up again: the turn's calls so far in their order (the decided
        one with its decision: the SDK streams only its result), and the reply streamed
        before the pause, which the stored reply continues as a new paragraph."""
        for call in calls:
            self.calls[call.call_id] = call
        if reply:
            self._pieces.append(reply)
            self._new_message = True

    def waiting(self, call_ids: list[str]) -> None:
        """The run paused: these calls wait for the person's approval."""
        for call_id in call_ids:
            call = self.calls.get(call_id)
            if call is not None:
                call.approval = Approval.PENDING

    def translate(self, event: Any) -> TurnEvent | None:
        """The `TurnEvent` for one SDK stream event, if it means anything to a person."""
        if event.type == "raw_response_event":
            data = event.data
            kind = getattr(data, "type", None)
            if kind == "response.output_text.delta" and data.delta:
                return self._text(data.delta)
            if kind == "response.completed":
                metrics.MODEL_SECONDS.observe(time.perf_counter() - self._asked_model)
            return None
        if event.type == "agent_updated_stream_event":  # the run starts: it asks the model
            self._asked_model = time.perf_counter()
            return None
        if event.type != "run_item_stream_event":
            return None
        item = event.item
        if item.type == "message_output_item":
            self._new_message = bool(self._pieces)
            return None
        if item.type == "tool_call_item":
            raw = item.raw_item
            call_id = str(getattr(raw, "call_id", None) or getattr(raw, "id", "") or "")
            name = str(getattr(raw, "name", "") or "")
            arguments = _parse_json(getattr(raw, "arguments", "") or "{}")
            if not isinstance(arguments, dict):
                arguments = {"value": arguments}
            self.calls[call_id] = ToolCall(call_id=call_id, name=name, arguments=arguments)
            self._tools_started = time.perf_counter()
            return ToolStarted(call_id=call_id, name=name, arguments=arguments)
        if item.type == "tool_call_output_item":
            call_id = str(item.call_id or "")
            call = self.calls.get(call_id) or ToolCall(call_id=call_id, name="unknown")
            call.result = _parse_json(item.output)
            call.is_error = bool((item.custom_data or {}).get("is_error"))
            self.calls[call_id] = call
            # Only a tool the MCP server ran carries custom data (`mcp_client`): a name the
            # model made up is answered "not found" by the SDK and must not become a label.
            ran = bool(item.custom_data)
            if call.approval is not Approval.DECLINED:  # declined: no tool ran, none is timed
                metrics.TOOL_SECONDS.labels(
                    call.name if ran else "unknown", "ok" if ran and not call.is_error else "error"
                ).observe(time.perf_counter() - self._tools_started)
            # With the result, the agent turns to the model again.
            self._asked_model = time.perf_counter()
            return ToolFinished(**call.model_dump())
        return None

    def _text(self, delta: str) -> TextDelta:
        if self._new_message:
            delta, self._new_message = "\n\n" + delta, False
        self._pieces.append(delta)
        return TextDelta(delta=delta)
