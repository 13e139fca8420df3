"""An approval card's Confirm and Cancel (`widgets.approval_card`): the person's decision on
a tool call their paused turn waits for (`agent/engine/approvals.py`).

ChatKit sends them as `threads.custom_action`, answered by a stream, because a decision has a
follow-up: it resumes the paused turn (`TurnEngine.prepare_decision`, on whichever worker
takes the request, however much later), and the rest of the turn streams back like any turn
(`server.py`). Cancel tells the model the person declined.

- **Who**: the verified user of the request. The card is looked up in their thread (the store
  scopes item ids, so another person's card is a 404), and the engine finds the paused turn
  only in their conversation.
- **What**: checked here before any stream starts; an action that is unknown or malformed,
  not sent by one of TaskPilot's widgets, or naming a call its card does not ask about, is a
  400 saying so.
- **Too late**: a card that no longer asks (decided in another tab, or declined because a new
  message was sent) runs nothing: the answer is the card as it is now.
"""

from __future__ import annotations

from typing import Any, Literal

from chatkit.actions import Action
from chatkit.types import WidgetItem
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from taskpilot.chatkit.actions import ActionError
from taskpilot.chatkit.widgets import APPROVE, DECLINE, approval_call, approval_offers

KNOWN = f"{APPROVE}, {DECLINE}"
# A task button sent as a streamed action (TaskPilot's task widgets send them unstreamed).
NOT_STREAMED = (
    "TaskPilot's task widget buttons are sent as threads.sync_custom_action; "
    f"threads.custom_action takes an approval card's {KNOWN}."
)


class CallRef(BaseModel):
    """Which waiting call a decision is about: its id (as `ToolCall.call_id`)."""

    model_config = ConfigDict(extra="forbid")
    call_id: str = Field(min_length=1, max_length=100, strict=True)


class Decide(BaseModel):
    """Confirm (`approval.approve`) or Cancel (`approval.decline`) on an approval card."""

    type: Literal["approval.approve", "approval.decline"]
    payload: CallRef

    @property
    def approve(self) -> bool:
        return self.type == APPROVE


def parse_decision(action: Action[str, Any] | dict[str, Any]) -> Decide:
    """The decision an approval card sent; `ActionError` (400) saying what is wrong."""
    data = action.model_dump(warnings=False) if isinstance(action, BaseModel) else action
    kind = data.get("type")
    if kind not in (APPROVE, DECLINE):
        if isinstance(kind, str) and kind.startswith("task."):
            raise ActionError(400, NOT_STREAMED)
        shown = str(kind)[:60] if kind else "(none)"
        raise ActionError(
            400, f"Unknown streamed widget action {shown!r}. TaskPilot handles: {KNOWN}."
        )
    try:
        return Decide.model_validate(data)
    except ValidationError as exc:
        raise ActionError(
            400, f'Invalid widget action {kind}: its payload must be {{"call_id": "<id>"}}.'
        ) from exc


def check_card(card: WidgetItem, decision: Decide) -> None:
    """`ActionError` (400) unless the card is the approval card of the decision's call."""
    if approval_call(card.widget) != decision.payload.call_id:
        raise ActionError(400, "That widget does not ask about that change.")


def offered(card: WidgetItem, decision: Decide) -> bool:
    """Whether the card, as it is now, still offers this decision."""
    return (decision.type, decision.payload.call_id) in approval_offers(card.widget)
