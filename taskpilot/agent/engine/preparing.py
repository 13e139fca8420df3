"""Preparing a turn: the question stored and claimed, or the one sent before found again.

Each step is one database transaction that either yields a turn or says to look again:
another turn holds the conversation or the message (`_Waiting`), the state changed under
the step (None), or the step closed the turn that held the conversation (`_Freed`: looked at
again at once). `TurnPreparer._settle` takes the step again after a pause, doubling, until
TURN_WAIT_SECONDS have passed, then refuses with `turn_in_progress`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from pydantic import ValidationError

from taskpilot.agent.engine.approvals import Decision, PausedRun, waiting_calls
from taskpilot.agent.engine.failing import Fail
from taskpilot.agent.engine.turn import PreparedTurn
from taskpilot.core import metrics
from taskpilot.core.config import Settings
from taskpilot.core.db import Database
from taskpilot.core.errors import ErrorCode, TaskPilotError
from taskpilot.data.models import Conversation, Message, Role, ToolCall, TurnStatus
from taskpilot.services.conversations import (
    ConversationNotFound,
    ConversationStore,
    MessageNotFound,
    title_from_message,
)
from taskpilot.services.turns import (
    Claim,
    ConversationBusy,
    DuplicateMessage,
    TurnStore,
    seen_status,
)
from taskpilot.services.versions import ConversationMovedOn, MessageReplaced, MessageVersions

NOT_STARTED = "This message wasn't answered: TaskPilot couldn't start on it. Retry it."
BUSY_CONVERSATION = (
    "Another message in this conversation is still being answered. Wait for its reply, then"
    " send this again."
)
ALREADY_ANSWERING = "This message is already being answered."
NOT_WAITING = "Nothing in this conversation is waiting for that approval any more."
EDIT_WHILE_BUSY = (
    "A message in this conversation is still being answered or waits for your approval."
    " Edit this once it is done."
)
EDIT_REPLACED = "That message was already edited; edit its newest version instead."
EDIT_MOVED_ON = (
    "The conversation has gone on since you opened it (in another tab or app); nothing was"
    " changed. Look at what is new, then edit again."
)
# How long a waiting request sleeps between looks at the turn it waits for (doubling).
FIRST_PAUSE, LONGEST_PAUSE = 0.05, 0.5


class TurnPreparer:
    """Stores questions and claims their turns; holds no state between calls."""

    def __init__(self, settings: Settings, db: Database, lease: timedelta, fail: Fail) -> None:
        self.settings = settings
        self.db = db
        self.lease = lease
        self._fail = fail

    async def prepare(
        self,
        user_id: str,
        conversation_id: str | None,
        question: str,
        client_message_id: str | None,
    ) -> PreparedTurn:
        """The question stored, claimed, in its conversation (new when `conversation_id` is
        None); or, for a `client_message_id` already used, that message resumed."""
        return await self._settle(
            user_id,
            lambda store, turns: self._ask(
                store, turns, conversation_id, question, client_message_id
            ),
        )

    async def prepare_retry(
        self, user_id: str, conversation_id: str, message_id: int
    ) -> PreparedTurn:
        """A stored question resumed; `MessageNotFound` when it is not the caller's."""

        async def step(store: ConversationStore, turns: TurnStore) -> PreparedTurn | None:
            message = await store.message(message_id)
            if message.role != Role.USER.value or message.conversation_id != conversation_id:
                raise MessageNotFound()
            return await self._resume(store, turns, message)

        return await self._settle(user_id, step)

    async def prepare_edit(
        self,
        user_id: str,
        conversation_id: str,
        message_id: int,
        text: str,
        seen: int | None = None,
    ) -> PreparedTurn:
        """`text` stored, claimed, as the next version of question `message_id`, what it
        replaced kept as an earlier version (`services/versions.py`). Refused at once, not
        waited for, while a turn of the conversation runs or awaits approval, or when it has
        gone on past message `seen`: the person edits what they see, and what they see is
        about to change (or has changed)."""

        async def step(store: ConversationStore, turns: TurnStore) -> PreparedTurn | None:
            question = await store.message(message_id)
            if question.role != Role.USER.value or question.conversation_id != conversation_id:
                raise MessageNotFound()
            conversation = await store.touch(conversation_id)
            try:
                message, history = await MessageVersions(store.session, user_id).edit(
                    conversation,
                    question,
                    text,
                    self.lease,
                    lambda before: store.history(
                        conversation_id, self.settings.history_turns, before_id=before
                    ),
                    seen,
                )
            except MessageReplaced:
                raise TaskPilotError(ErrorCode.MESSAGE_REPLACED, EDIT_REPLACED) from None
            except ConversationMovedOn:
                raise TaskPilotError(ErrorCode.CONVERSATION_MOVED_ON, EDIT_MOVED_ON) from None
            except ConversationBusy:
                if await turns.fail_lost(conversation_id):
                    raise _Freed from None
                metrics.REFUSED_TURN_IN_PROGRESS.inc()
                raise TaskPilotError(
                    ErrorCode.TURN_IN_PROGRESS, EDIT_WHILE_BUSY, retry_after=2
                ) from None
            return PreparedTurn.of(
                conversation, message, claim=Claim(message.id or 0, 1), history=history
            )

        return await self._settle(user_id, step)

    async def prepare_decision(
        self, user_id: str, conversation_id: str, call_id: str, approve: bool
    ) -> PreparedTurn:
        """The conversation's paused turn, claimed to resume with the person's decision on
        its waiting call `call_id`; `approval_not_pending` when no such call waits (decided
        already, or never asked)."""

        async def step(store: ConversationStore, turns: TurnStore) -> PreparedTurn | None:
            conversation = await store.get(conversation_id)
            message = await turns.paused(conversation_id)
            waiting = waiting_calls(message) if message is not None else []
            call = next((c for c in waiting if c.call_id == call_id), None)
            if message is None or call is None or message.paused_run is None:
                raise TaskPilotError(ErrorCode.APPROVAL_NOT_PENDING, NOT_WAITING)
            try:
                paused = PausedRun.model_validate(message.paused_run)
            except ValidationError:  # not a paused run at all: resuming says CANNOT_RESUME
                paused = PausedRun(state={})
            claim = await turns.claim_paused(message)
            if claim is None:
                raise TaskPilotError(ErrorCode.APPROVAL_NOT_PENDING, NOT_WAITING)
            turn = await self._prepared(store, conversation, message, claim)
            # The turn's record so far, in order, waiting calls included, becomes the resumed
            # run's (`Decision.calls`).
            record = tuple(ToolCall.stored(message.tool_calls))
            turn.decision = Decision(call, approve, paused, record)
            turn.earlier_calls = []
            return turn

        return await self._settle(user_id, step)

    async def _settle(
        self,
        user_id: str,
        step: Callable[[ConversationStore, TurnStore], Any],
    ) -> PreparedTurn:
        """Take `step` until it yields a turn. `_Waiting` (another turn holds the
        conversation or the message) or None (the state changed under the step: look again)
        means the step is taken again after a pause, until TURN_WAIT_SECONDS have passed."""
        give_up = time.monotonic() + self.settings.turn_wait_seconds
        pause = FIRST_PAUSE
        while True:
            try:
                async with self.db.session() as session:
                    store = ConversationStore(session, user_id)
                    turn: PreparedTurn | None = await step(
                        store, TurnStore(session, user_id, self.lease)
                    )
            except ConversationNotFound as exc:
                raise TaskPilotError(ErrorCode.CONVERSATION_NOT_FOUND, str(exc)) from exc
            except MessageNotFound as exc:
                raise TaskPilotError(ErrorCode.MESSAGE_NOT_FOUND, str(exc)) from exc
            except _Freed:
                continue  # at once: even with no time to wait, the conversation is free now
            except _Waiting as waiting:
                reason = waiting.reason
            else:
                if turn is not None:
                    return turn
                reason = ALREADY_ANSWERING
            if time.monotonic() >= give_up:
                metrics.REFUSED_TURN_IN_PROGRESS.inc()
                raise TaskPilotError(ErrorCode.TURN_IN_PROGRESS, reason, retry_after=2)
            metrics.WAITING_FOR_CONVERSATION.inc()
            try:
                await asyncio.sleep(pause)
            finally:
                metrics.WAITING_FOR_CONVERSATION.dec()
            pause = min(pause * 2, LONGEST_PAUSE)

    async def _ask(
        self,
        store: ConversationStore,
        turns: TurnStore,
        conversation_id: str | None,
        question: str,
        client_message_id: str | None,
    ) -> PreparedTurn | None:
        """One try at storing a new question (or finding the one sent before with its id)."""
        if client_message_id:
            sent = await store.find_by_client_id(client_message_id)
            if sent is not None:
                if conversation_id and sent.conversation_id != conversation_id:
                    raise TaskPilotError(
                        ErrorCode.CLIENT_MESSAGE_ID_REUSED,
                        "That client_message_id was already used in another conversation.",
                    )
                return await self._resume(store, turns, sent)
        new = conversation_id is None
        if conversation_id is None:
            conversation = Conversation(user_id=store.user_id, title=title_from_message(question))
        else:
            conversation = await store.touch(conversation_id)  # found, locked, its time moved
        # Read now: a refused insert rolls back, and expired rows can't be read after that.
        conversation_key = conversation.id
        try:
            message, history = await turns.open(
                conversation,
                question,
                client_message_id,
                new,
                lambda before: store.history(
                    conversation_key, self.settings.history_turns, before_id=before
                ),
            )
        except DuplicateMessage:
            return None  # sent at the same moment by another request: find it next time
        except ConversationBusy:
            if await turns.fail_lost(conversation_key):
                raise _Freed from None  # its worker was gone; ask again at once
            if await turns.decline_paused(conversation_key):
                raise _Freed from None  # the person moved on from a change waiting for them
            raise _Waiting(BUSY_CONVERSATION) from None
        return PreparedTurn.of(
            conversation, message, claim=Claim(message.id or 0, 1), history=history
        )

    async def _resume(
        self, store: ConversationStore, turns: TurnStore, message: Message
    ) -> PreparedTurn | None:
        """A stored question asked again: its answer, or its turn claimed to run again."""
        assert message.id is not None
        conversation = await store.get(message.conversation_id)
        reply = await store.reply_to(message.id)
        if reply is not None:
            return PreparedTurn.of(conversation, message, replay=reply)
        status, _ = seen_status(message)
        if status == TurnStatus.RUNNING.value:
            raise _Waiting(ALREADY_ANSWERING)
        if status == TurnStatus.AWAITING.value:  # sent again: ask the person again
            return PreparedTurn.of(conversation, message, waiting=waiting_calls(message))
        conversation_key = conversation.id
        try:
            claim = await turns.claim(message)
        except ConversationBusy:
            if await turns.fail_lost(conversation_key):
                raise _Freed from None
            raise _Waiting(BUSY_CONVERSATION) from None
        if claim is None:
            if not await turns.is_latest(message):
                raise TaskPilotError(
                    ErrorCode.NOT_LATEST_MESSAGE,
                    "Newer messages were sent after this one, so it can't be answered in"
                    " its place now; send it again instead.",
                )
            return None  # another request claimed it first: wait for its answer
        return await self._prepared(store, conversation, message, claim)

    async def _prepared(
        self, store: ConversationStore, conversation: Conversation, message: Message, claim: Claim
    ) -> PreparedTurn:
        assert message.id is not None
        try:
            if claim.attempt > 1:
                # The calls an earlier attempt saved, as they are now that this one holds it.
                await store.session.refresh(message, ["tool_calls"])
            history = await store.history(
                conversation.id, self.settings.history_turns, before_id=message.id
            )
        except BaseException:
            # Claimed but not started (the database went away): give the claim back as a
            # failure, so the question does not wait for its lease to read failed.
            failing = self._fail(
                store.user_id, claim, NOT_STARTED, ToolCall.stored(message.tool_calls)
            )
            await asyncio.shield(failing)
            raise
        # Only the calls that ran: a call still waiting for approval is on the record of a
        # decision whose worker was lost, and shown to the model it would read as done.
        ran = [call for call in ToolCall.stored(message.tool_calls) if call.result is not None]
        return PreparedTurn.of(
            conversation, message, claim=claim, history=history, earlier_calls=ran
        )


class _Waiting(Exception):
    """Another turn holds the conversation or the message: look again after a pause."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _Freed(Exception):
    """The step closed the turn that held the conversation (lost, or a change the person
    moved on from): look again at once, whatever TURN_WAIT_SECONDS is. Each look that
    raises it closed a turn, so looking again makes progress."""
