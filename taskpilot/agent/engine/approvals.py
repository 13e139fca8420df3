"""Approvals: a turn that reaches a tool which destroys (`DESTRUCTIVE`) pauses until the
person decides.

The Agents SDK does the pausing: the MCP tools are built with `require_approval` for those
tools, so the run stops with `interruptions` instead of calling them. The engine stores the
paused run (`RunState.to_json()`, with the reply streamed so far: `PausedRun`) on the question,
which is left `awaiting`; the stream ends with `ApprovalAsked`. A decision (`Decision`), on any
worker and at any later time, claims the turn again and resumes the stored run with the call
approved or rejected; a rejection tells the model `DECLINED`. A new message into the
conversation declines the waiting call unasked (`TurnStore.decline_paused`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from agents import Agent, RunState
from pydantic import BaseModel

from taskpilot.agent.tool_words import SEPARATOR, shortened, tool_arguments_in_words
from taskpilot.core.db import Database
from taskpilot.data.models import Approval, Message, ToolCall
from taskpilot.mcp.tools import DECLINED, ToolName
from taskpilot.services.tasks import TaskNotFound, TaskService

logger = logging.getLogger("taskpilot.agent")

# A stored paused run that cannot be resumed (written by another version of the SDK, say).
CANNOT_RESUME = "This change can't be resumed any more. Ask again."


class PausedRun(BaseModel):
    """What a paused turn keeps on its question: the SDK's run state and the reply so far."""

    state: dict[str, Any]
    reply: str = ""


@dataclass(frozen=True)
class Decision:
    """The person's answer to one waiting call of a paused turn."""

    call: ToolCall
    approve: bool
    paused: PausedRun
    # The turn's calls so far, in their stored order: those made before the pause and those
    # waiting (a model may ask two deletes in one step; the others are asked again).
    record: tuple[ToolCall, ...] = ()

    def calls(self) -> list[ToolCall]:
        """The turn's calls so far in their order, the decided one with its decision: the
        resumed run's record, which its new calls follow."""
        chosen = decided(self.call, self.approve)
        record = self.record or (self.call,)
        return [chosen if call.call_id == chosen.call_id else call for call in record]


_VERBS: dict[str, str] = {ToolName.DELETE_TASK: "Delete"}


def waiting_calls(message: Message) -> list[ToolCall]:
    """The calls of a paused question that wait for the person."""
    calls = ToolCall.stored(message.tool_calls)
    return [call for call in calls if call.approval is Approval.PENDING]


def decided(call: ToolCall, approve: bool) -> ToolCall:
    """The waiting call with the person's decision on it (its result comes when it runs)."""
    approval = Approval.APPROVED if approve else Approval.DECLINED
    return call.model_copy(update={"approval": approval})


async def summarize(db: Database, user_id: str, call: ToolCall) -> str:
    """What approving `call` would do, in words: "Delete task 3 · Buy milk"."""
    verb = _VERBS.get(call.name, call.name)
    number = call.arguments.get("task_id")
    if isinstance(number, int) and not isinstance(number, bool):
        try:
            async with db.session() as session:
                task = await TaskService(session, user_id).get(number)
        except TaskNotFound:  # approving tells the model so; the person should know first
            return f"{verb} task {number}{SEPARATOR}not in your list"
        except Exception:  # the pause is stored already: ask without the title
            logger.warning("could not read the task an approval is about")
            return f"{verb} task {number}"
        return f"{verb} task {number}{SEPARATOR}{shortened(task.title)}"
    words = tool_arguments_in_words(call.name, call.arguments)
    return f"{verb} {words}".strip()


def _plain_history(snapshot: dict[str, Any]) -> dict[str, Any]:
    """The snapshot with its input's earlier replies as the plain `{role, content}` messages
    the turn gave it. `RunState.to_json` (openai-agents 0.24) rewrites them as
    `{role, content: [output_text], status}`, which its own Chat Completions converter
    refuses ("Unhandled item type"), so a resumed run with history would fail there."""
    items = snapshot.get("original_input")
    if not isinstance(items, list):
        return snapshot
    return {**snapshot, "original_input": [_plain(item) for item in items]}


def _plain(item: Any) -> Any:
    """One input item; an earlier reply rewritten by the SDK as a plain message again."""
    if not isinstance(item, dict) or item.get("role") != "assistant" or "type" in item:
        return item
    parts = item.get("content")
    if not isinstance(parts, list) or not all(
        isinstance(part, dict) and part.get("type") == "output_text" for part in parts
    ):
        return item
    return {"role": "assistant", "content": "".join(str(part.get("text", "")) for part in parts)}


async def resumed_state(agent: Agent[Any], decision: Decision) -> RunState[Any, Agent[Any]]:
    """The paused run, with the decision applied, ready for `Runner.run_streamed`."""
    state = await RunState.from_json(agent, _plain_history(decision.paused.state))
    waiting = [
        item
        for item in state.get_interruptions()
        if getattr(item.raw_item, "call_id", None) == decision.call.call_id
    ]
    if not waiting:
        raise LookupError("the paused run does not wait for this call")
    if decision.approve:
        state.approve(waiting[0])
    else:
        state.reject(waiting[0], rejection_message=DECLINED)
    return state
