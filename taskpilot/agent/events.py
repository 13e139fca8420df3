"""The one event type for a turn's stream, shared by the UI, the HTTP API and ChatKit.

`run_turn` yields these; each adapter only translates them (Reflex state, SSE frames,
ChatKit events). `type` tells them apart on the wire.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, TypeAdapter

from taskpilot.data.models import Approval, ToolCall


class TurnStarted(BaseModel):
    """The turn is accepted: the conversation exists and the user's message is stored."""

    type: Literal["started"] = "started"
    conversation_id: str
    title: str
    user_message_id: int


class TextDelta(BaseModel):
    """A piece of the assistant's reply."""

    type: Literal["text_delta"] = "text_delta"
    delta: str


class ToolStarted(BaseModel):
    """The agent called a tool."""

    type: Literal["tool_started"] = "tool_started"
    call_id: str
    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)


class ToolFinished(BaseModel):
    """A tool call returned (or failed: `is_error`)."""

    type: Literal["tool_finished"] = "tool_finished"
    call_id: str
    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)
    result: Any = None
    is_error: bool = False
    # For a call that waited for the person: what they decided.
    approval: Approval | None = None


class TurnDone(BaseModel):
    """The turn finished and its reply is stored."""

    type: Literal["done"] = "done"
    conversation_id: str
    message_id: int
    response: str
    tool_calls: list[ToolCall] = Field(default_factory=list)
    replayed: bool = False  # a retried client_message_id answered from storage


class TurnTitled(BaseModel):
    """After a conversation's first reply: the title chosen for it, now stored (sent only when
    the title changed and the person had not renamed the conversation)."""

    type: Literal["titled"] = "titled"
    conversation_id: str
    title: str


class ApprovalAsked(BaseModel):
    """The run paused: a tool call waits for the person to approve or decline it (at the
    approvals endpoint, a ChatKit card or the page's tool card). The turn's stream ends
    here; the decision's own stream carries the rest of the turn."""

    type: Literal["approval"] = "approval"
    conversation_id: str
    message_id: int  # the question whose turn is paused
    call: ToolCall
    # What approving would do, in words: "Delete task 3 · Buy milk".
    summary: str


class TurnError(BaseModel):
    """The turn failed; the user's message is kept, no reply is stored."""

    type: Literal["error"] = "error"
    code: str
    message: str
    conversation_id: str | None = None


TurnEvent = Annotated[
    TurnStarted
    | TextDelta
    | ToolStarted
    | ToolFinished
    | ApprovalAsked
    | TurnDone
    | TurnTitled
    | TurnError,
    Field(discriminator="type"),
]
turn_event_adapter: TypeAdapter[TurnEvent] = TypeAdapter(TurnEvent)


class LiveTurn(BaseModel):
    """A turn's event as the live feed (`core/live.py`) carries it to the person's other tabs."""

    kind: Literal["turn"] = "turn"
    conversation_id: str
    # Which page tab started the turn ("" for the API and ChatKit): that tab shows it already.
    origin: str = ""
    # None: the turn has ended (stored, failed, or paused for an approval).
    event: TurnEvent | None = None
