"""A turn as the adapters hold it: its input checked (`clean_message`), prepared
(`PreparedTurn`: stored and claimed, or answered already) and running (`RunningTurn`: its
events for one reader, and Stop)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from taskpilot.agent.engine.approvals import Decision
from taskpilot.agent.events import TurnEvent
from taskpilot.core.errors import ErrorCode, TaskPilotError
from taskpilot.core.limits.turns import TurnSlot
from taskpilot.data.models import Conversation, Message, ToolCall
from taskpilot.services.text import LINE_BREAKS, unstorable
from taskpilot.services.turns import Claim

STOPPED = "The reply was stopped before it finished."


def clean_message(text: object, max_chars: int) -> str:
    """The user's message, trimmed; `TaskPilotError` when empty, too long, or holding a
    character the database cannot store (every entry point calls this first)."""
    if not isinstance(text, str):
        raise TaskPilotError(ErrorCode.INVALID_MESSAGE, "The message must be text.")
    value = text.strip()
    if not value:
        raise TaskPilotError(
            ErrorCode.EMPTY_MESSAGE, "The message is empty; type something to send."
        )
    if len(value) > max_chars:
        raise TaskPilotError(
            ErrorCode.MESSAGE_TOO_LONG,
            f"The message is {len(value)} characters; the limit is {max_chars}.",
        )
    if (char := unstorable(value, LINE_BREAKS)) is not None:
        raise TaskPilotError(ErrorCode.INVALID_MESSAGE, f"The message can't contain {char}.")
    return value


def check_client_message_id(value: str | None) -> None:
    if value is not None and not (0 < len(value) <= 100):
        raise TaskPilotError(
            ErrorCode.INVALID_CLIENT_MESSAGE_ID, "client_message_id must be 1–100 characters."
        )


@dataclass
class PreparedTurn:
    """A question stored and claimed, ready to run (or answered already: `replay`)."""

    user_id: str
    conversation_id: str
    title: str
    message_id: int
    question: str
    claim: Claim | None = None
    history: list[Message] = field(default_factory=list)
    # Tool calls an earlier attempt at this turn made: shown to the model, not repeated.
    earlier_calls: list[ToolCall] = field(default_factory=list)
    replay: Message | None = None
    # A paused turn sent again: its waiting calls, asked again (nothing runs).
    waiting: list[ToolCall] = field(default_factory=list)
    # A paused turn taken up with the person's decision on one waiting call.
    decision: Decision | None = None
    # The user's place among their running turns; given back when the turn ends.
    slot: TurnSlot | None = None

    def calls_made(self) -> list[ToolCall]:
        """The calls a failure before the run keeps: an earlier attempt's, or for a decision
        those that ran before the pause (its `earlier_calls` are empty: the record is the
        decision's)."""
        if self.decision is None:
            return self.earlier_calls
        return [call for call in self.decision.record if call.result is not None]

    @classmethod
    def of(cls, conversation: Conversation, message: Message, **rest: Any) -> PreparedTurn:
        """The turn of a stored question in its conversation."""
        assert message.id is not None
        return cls(
            message.user_id,
            conversation.id,
            conversation.title,
            message.id,
            message.content,
            **rest,
        )


class RunningTurn:
    """A started turn: its events (for one reader, and told to the live feed), and Stop. It
    runs in its own task, so the reader may leave and the turn still ends, stored."""

    def __init__(
        self, turn: PreparedTurn, tell: Callable[[TurnEvent | None], None] | None = None
    ) -> None:
        self.turn = turn
        # Tells each event to the person's other tabs too (the live feed).
        self._tell = tell
        self._events: asyncio.Queue[TurnEvent | None] = asyncio.Queue()
        self.task: asyncio.Task[None] | None = None
        # Why the turn's task was cancelled, if it was: Stop, shutdown, or a newer attempt.
        self.stop_reason = STOPPED
        self.stop_code = ErrorCode.TURN_STOPPED
        self.superseded = False
        self.ended = False

    def emit(self, event: TurnEvent) -> None:
        self._events.put_nowait(event)
        if self._tell is not None:
            self._tell(event)

    def end(self) -> None:
        """No more events: the turn is stored or failed (its slot may still be going back)."""
        self.ended = True
        self._events.put_nowait(None)
        if self._tell is not None:
            self._tell(None)

    async def events(self) -> AsyncIterator[TurnEvent]:
        """The turn's events as they happen; ends after `done` or `error`."""
        while (event := await self._events.get()) is not None:
            yield event

    async def next_event(self, within: float) -> TurnEvent | None:
        """The next event, None once the turn has ended; `TimeoutError` if none came within
        `within` seconds (the page looks at its Stop flag in between)."""
        async with asyncio.timeout(within):
            return await self._events.get()

    def stop(self, reason: str = STOPPED, code: ErrorCode = ErrorCode.TURN_STOPPED) -> None:
        """Cancel the turn: it stores no reply, and its question is kept, failed with `reason`
        (its reader, if one is left, gets an error event with `code`)."""
        if self.task is not None and not self.ended:
            self.stop_reason, self.stop_code = reason, code
            self.task.cancel()

    async def wait(self) -> None:
        """Until the turn has ended (stored or failed)."""
        if self.task is not None:
            await asyncio.gather(self.task, return_exceptions=True)
