"""TurnStore: the steps of a turn's life in the database, for one user.

Each step is one conditional statement, so the database, not the timing of requests, decides
who runs a message (the rules are in `agent/engine.py`):

- `open` stores a new question already claimed: `running`, attempt 1, a lease. The unique
  index on running turns refuses it while another turn runs in the conversation, and the one
  on client message ids refuses a double submit; either way nothing is stored.
- `claim` takes a stored question's turn again (it failed, or its lease ran out with its
  worker) by moving its attempt on by one, and only while no later question exists in the
  conversation, so answers never land out of order.
- `renew`, `save_progress`, `pause`, `finish` and `fail` hold only while the attempt is
  still theirs: a superseded attempt writes nothing.
- `pause` leaves a turn `awaiting` the person's approval of a tool call, its paused run kept
  with the question; it still holds the conversation. `claim_paused` takes it up again (a
  decision), and `decline_paused` closes it unasked when the person sends a new message.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from enum import Enum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from taskpilot.data.models import (
    Approval,
    Conversation,
    Message,
    Role,
    ToolCall,
    TurnStatus,
    as_utc,
    utcnow,
)
from taskpilot.services.conversations import lock_conversation

# Why a turn whose worker went away without a word is failed (its lease ran out).
NOT_ANSWERED = "This message wasn't answered."
LOST = "This message wasn't answered: the server answering it stopped. Retry it, or send it again."
# A paused turn the person moved on from: its waiting call, and the reply stored for it.
MOVED_ON = "Not done: a new message was sent instead of approving it."
MOVED_ON_REPLY = "I didn't do that: it was waiting for your approval, and you moved on."


# Reads the turns before a question (by its id), in the session of the caller.
HistoryLoader = Callable[[int], Awaitable[list[Message]]]


class ConversationBusy(Exception):
    """Another turn of the conversation is running; this one was not stored or claimed."""


class DuplicateMessage(Exception):
    """The person already sent a message with this client message id."""


class Lease(Enum):
    """What renewing a running attempt's lease found."""

    HELD = "held"
    LOST = "lost"  # another attempt holds the turn (or it ended)
    STOP = "stop"  # Stop was asked of this attempt


@dataclass(frozen=True)
class Claim:
    """One attempt's hold on a question: what finishing or failing it is conditional on."""

    message_id: int
    attempt: int


def seen_status(message: Message) -> tuple[str, str | None]:
    """A question's status and error as a reader should see them: a running turn whose lease
    ran out is failed (its worker is gone; a retry claims it)."""
    lease = as_utc(message.lease_until)
    if message.status == TurnStatus.RUNNING.value and (lease is None or lease < utcnow()):
        return TurnStatus.FAILED.value, LOST
    return message.status, message.error


def seen_calls(message: Message) -> list[ToolCall]:
    """A message's tool calls as a reader should see them: on a failed question (stored so,
    or seen so by `seen_status`), a call still waiting for approval never ran — its decision's
    worker was lost — and is left out; a retry asks again. Read here, for every reader, not
    rewritten where a turn fails: `fail_lost` is one UPDATE for any number of turns, and a
    lease that ran out is failed only as it is read."""
    calls = ToolCall.stored(message.tool_calls)
    if message.role == Role.USER.value and seen_status(message)[0] == TurnStatus.FAILED.value:
        return [call for call in calls if call.approval is not Approval.PENDING]
    return calls


# The steps a turn takes on every run, built once as Core statements on the tables (the ORM's
# unit of work and DML plumbing cost more CPU than the statements themselves); each run only
# binds its values (named apart from the columns, as SQLAlchemy requires). `_HELD`: the
# attempt :held_attempt still holds question :message_id.
_messages: sa.Table = Message.__table__  # type: ignore[attr-defined]
_HELD = sa.and_(
    _messages.c.id == sa.bindparam("message_id"),
    _messages.c.attempt == sa.bindparam("held_attempt"),
    _messages.c.status == TurnStatus.RUNNING.value,
)
_INSERT_MESSAGE = sa.insert(_messages).returning(_messages.c.id)
_RENEW = sa.update(_messages).where(_HELD).values(lease_until=sa.bindparam("new_lease"))
# Whether Stop was asked of the attempt that renewed (read apart from the renewal: an UPDATE
# with RETURNING that meets a locked SQLite database leaves its connection holding the lock).
_STOP_ASKED = sa.select(_messages.c.stop_attempt).where(
    _messages.c.id == sa.bindparam("message_id")
)
_SAVE_PROGRESS = sa.update(_messages).where(_HELD).values(tool_calls=sa.bindparam("new_calls"))
_ANSWERED = (
    sa.update(_messages)
    .where(_HELD)
    .values(
        status=TurnStatus.ANSWERED.value,
        error=None,
        tool_calls=[],
        lease_until=None,
        paused_run=None,
    )
)
_PAUSED = (
    sa.update(_messages)
    .where(_HELD)
    .values(
        status=TurnStatus.AWAITING.value,
        tool_calls=sa.bindparam("new_calls"),
        paused_run=sa.bindparam("new_paused"),
        lease_until=None,
    )
)
_FAILED = (
    sa.update(_messages)
    .where(_HELD)
    .values(
        status=TurnStatus.FAILED.value,
        error=sa.bindparam("new_error"),
        tool_calls=sa.bindparam("new_calls"),
        lease_until=None,
        paused_run=None,
    )
)


def _claimed(claim: Claim) -> dict[str, Any]:
    return {"message_id": claim.message_id, "held_attempt": claim.attempt}


class TurnStore:
    """A turn's atomic steps, scoped to one user."""

    def __init__(self, session: AsyncSession, user_id: str, lease: timedelta) -> None:
        self.session = session
        self.user_id = user_id
        self.lease = lease

    async def open(
        self,
        conversation: Conversation,
        text: str,
        client_message_id: str | None,
        new: bool,
        history: HistoryLoader | None = None,
    ) -> tuple[Message, list[Message]]:
        """Store a question, claimed by attempt 1, in `conversation`: created with it when
        `new` (in the same transaction: a refused question leaves no empty conversation),
        else one this transaction already holds (`ConversationStore.touch`). With it, the
        turns before it, read by `history` in the same transaction once the insert has shown
        no other turn runs (so none can be missing).

        `DuplicateMessage` when the client message id was used; `ConversationBusy` when
        another turn is running in the conversation.
        """
        before: list[Message] = []
        now = utcnow()
        values: dict[str, Any] = {
            "conversation_id": conversation.id,
            "user_id": self.user_id,
            "role": Role.USER.value,
            "content": text,
            "client_message_id": client_message_id,
            "status": TurnStatus.RUNNING.value,
            "attempt": 1,
            "lease_until": now + self.lease,
            "created_at": now,
        }
        try:
            if new:
                conversation.updated_at = now
                self.session.add(conversation)
                await self.session.flush()
            inserted = await self.session.execute(_INSERT_MESSAGE, values)
            message_id = int(inserted.scalar_one())
            if history is not None and not new:
                before = await history(message_id)
            await self.session.commit()
        except IntegrityError as exc:
            await self.session.rollback()
            if client_message_id and await self._client_id_taken(client_message_id):
                raise DuplicateMessage from exc
            if new:
                raise  # a new conversation has no other turn: not a conflict we know
            raise ConversationBusy from exc
        return Message(id=message_id, tool_calls=[], **values), before

    async def _client_id_taken(self, client_message_id: str) -> bool:
        statement = sa.select(sa.func.count()).where(
            col(Message.user_id) == self.user_id,
            col(Message.client_message_id) == client_message_id,
        )
        return bool((await self.session.exec(statement)).one()[0])  # type: ignore[call-overload]

    async def claim(self, message: Message) -> Claim | None:
        """Take the turn of a stored question that failed or whose lease ran out.

        None when it is not claimable as seen (another attempt got there first, it was
        answered, or a later question exists); `ConversationBusy` when another question of
        the conversation is running.
        """
        assert message.id is not None
        # Read before the update: it also refreshes `message` in the session.
        seen, message_id = message.attempt, message.id
        await lock_conversation(self.session, message.conversation_id)
        now = utcnow()
        later = aliased(Message)
        newer_question = (
            sa.select(sa.literal(1))
            .where(
                col(later.conversation_id) == col(Message.conversation_id),
                col(later.id) > col(Message.id),
                col(later.role) == Role.USER.value,
            )
            .exists()
        )
        claimable = sa.or_(
            col(Message.status) == TurnStatus.FAILED.value,
            sa.and_(
                col(Message.status) == TurnStatus.RUNNING.value,
                sa.or_(col(Message.lease_until).is_(None), col(Message.lease_until) < now),
            ),
        )
        statement = (
            sa.update(Message)
            .where(
                col(Message.id) == message_id,
                col(Message.user_id) == self.user_id,
                col(Message.attempt) == seen,
                claimable,
                ~newer_question,
            )
            .values(
                status=TurnStatus.RUNNING.value,
                attempt=seen + 1,
                lease_until=now + self.lease,
                error=None,
            )
        )
        try:
            result = await self.session.exec(statement)  # type: ignore[call-overload]
            await self.session.commit()
        except IntegrityError as exc:
            await self.session.rollback()
            raise ConversationBusy from exc
        if result.rowcount != 1:
            return None
        return Claim(message_id, seen + 1)

    async def is_latest(self, message: Message) -> bool:
        """Whether no later question exists in the message's conversation."""
        statement = sa.select(sa.func.count()).where(
            col(Message.conversation_id) == message.conversation_id,
            col(Message.id) > (message.id or 0),
            col(Message.role) == Role.USER.value,
        )
        return not (await self.session.exec(statement)).one()[0]  # type: ignore[call-overload]

    async def fail_lost(self, conversation_id: str) -> int:
        """Fail the conversation's running turn if its lease ran out (its worker is gone), so a
        new question may be asked; how many were failed (0 or 1)."""
        result = await self.session.exec(  # type: ignore[call-overload]
            sa.update(Message)
            .where(
                col(Message.conversation_id) == conversation_id,
                col(Message.user_id) == self.user_id,
                col(Message.status) == TurnStatus.RUNNING.value,
                sa.or_(col(Message.lease_until).is_(None), col(Message.lease_until) < utcnow()),
            )
            .values(status=TurnStatus.FAILED.value, error=LOST, lease_until=None)
        )
        await self.session.commit()
        return int(result.rowcount)

    async def renew(self, claim: Claim) -> Lease:
        """Extend the attempt's lease: HELD; LOST when the attempt no longer holds the turn;
        STOP when Stop was asked of it (`request_stop`)."""
        lease_until = utcnow() + self.lease
        result = await self.session.execute(_RENEW, {**_claimed(claim), "new_lease": lease_until})
        if result.rowcount != 1:  # type: ignore[attr-defined]
            await self.session.commit()
            return Lease.LOST
        asked = await self.session.execute(_STOP_ASKED, {"message_id": claim.message_id})
        await self.session.commit()
        return Lease.STOP if asked.scalar_one_or_none() == claim.attempt else Lease.HELD

    async def request_stop(self, conversation_id: str) -> Claim | None:
        """Ask the conversation's running turn to stop: kept on its question for the attempt
        that holds it now (a later attempt, or the next question, is not stopped by it). The
        attempt asked, or None when no turn is running there."""
        found = await self.session.execute(
            sa.select(_messages.c.id, _messages.c.attempt).where(
                _messages.c.conversation_id == conversation_id,
                _messages.c.user_id == self.user_id,
                _messages.c.status == TurnStatus.RUNNING.value,
                _messages.c.lease_until >= utcnow(),
            )
        )
        row = found.first()
        if row is None:
            await self.session.commit()
            return None
        asked = Claim(int(row[0]), int(row[1]))
        result = await self.session.execute(
            sa.update(_messages).where(_HELD).values(stop_attempt=_messages.c.attempt),
            _claimed(asked),
        )
        await self.session.commit()
        return asked if result.rowcount == 1 else None  # type: ignore[attr-defined]

    async def save_progress(self, claim: Claim, tool_calls: list[ToolCall]) -> bool:
        """Keep the tool calls made so far on the question, so they outlive a worker that dies
        mid-turn (the next attempt is shown them, and repeats none); False when the attempt
        no longer holds the turn."""
        result = await self.session.execute(
            _SAVE_PROGRESS, {**_claimed(claim), "new_calls": ToolCall.to_store(tool_calls)}
        )
        await self.session.commit()
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    async def pause(self, claim: Claim, tool_calls: list[ToolCall], paused: dict[str, Any]) -> bool:
        """Leave the turn awaiting the person's approval: `tool_calls` holds the calls made so
        far and the one (or ones) waiting, `paused` the run to resume; no lease runs. False
        when the attempt no longer holds the turn."""
        result = await self.session.execute(
            _PAUSED,
            {
                **_claimed(claim),
                "new_calls": ToolCall.to_store(tool_calls),
                "new_paused": paused,
            },
        )
        await self.session.commit()
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    async def paused(self, conversation_id: str) -> Message | None:
        """The conversation's question awaiting approval, if one is."""
        statement = select(Message).where(
            col(Message.conversation_id) == conversation_id,
            col(Message.user_id) == self.user_id,
            col(Message.status) == TurnStatus.AWAITING.value,
        )
        return (await self.session.exec(statement)).first()

    async def claim_paused(self, message: Message) -> Claim | None:
        """Take up a turn awaiting approval, to resume it with a decision; None when another
        request took it first (or it is no longer awaiting)."""
        assert message.id is not None
        seen, message_id = message.attempt, message.id
        result = await self.session.exec(  # type: ignore[call-overload]
            sa.update(Message)
            .where(
                col(Message.id) == message_id,
                col(Message.user_id) == self.user_id,
                col(Message.attempt) == seen,
                col(Message.status) == TurnStatus.AWAITING.value,
            )
            .values(
                status=TurnStatus.RUNNING.value,
                attempt=seen + 1,
                lease_until=utcnow() + self.lease,
            )
        )
        await self.session.commit()
        return Claim(message_id, seen + 1) if result.rowcount == 1 else None

    async def decline_paused(self, conversation_id: str) -> int:
        """Close the conversation's turn awaiting approval without running it (the person
        sent a new message instead): its waiting calls declined, a reply saying so stored.
        How many were closed (0 or 1)."""
        message = await self.paused(conversation_id)
        if message is None or message.id is None:
            return 0
        claim = await self.claim_paused(message)
        if claim is None:
            return 0
        calls = [
            call.model_copy(update={"approval": Approval.DECLINED, "result": MOVED_ON})
            if call.approval is Approval.PENDING
            else call
            for call in ToolCall.stored(message.tool_calls)
        ]
        said = (message.paused_run or {}).get("reply") if message.paused_run else None
        reply = f"{said}\n\n{MOVED_ON_REPLY}" if isinstance(said, str) and said else MOVED_ON_REPLY
        closed = await self.finish(claim, conversation_id, reply, calls)
        return 0 if closed is None else 1

    async def finish(
        self, claim: Claim, conversation_id: str, reply: str, tool_calls: list[ToolCall]
    ) -> Message | None:
        """Store the reply and mark the question answered, atomically; None (and nothing
        written) when the attempt no longer holds the turn. `tool_calls` is the turn's whole
        record, earlier attempts' calls included. Two statements: the conversation's
        `updated_at` already moved when the question was stored.

        A conversation reads in id order, so the reply must take its id before a next
        question can. The conversation's row is locked first, as storing a question locks it
        (`touch`) before its id is taken; then the reply goes in before the question stops
        holding the conversation. Without both, on PostgreSQL, a next question stored in that
        moment waited on the question's change (the one-running-turn index) with its id
        already taken: two questions, then two replies."""
        now = utcnow()
        await lock_conversation(self.session, conversation_id)
        values: dict[str, Any] = {
            "conversation_id": conversation_id,
            "user_id": self.user_id,
            "role": Role.ASSISTANT.value,
            "content": reply,
            "tool_calls": ToolCall.to_store(tool_calls),
            "reply_to_id": claim.message_id,
            "status": TurnStatus.ANSWERED.value,
            "created_at": now,
        }
        try:
            inserted = await self.session.execute(_INSERT_MESSAGE, values)
            reply_id = inserted.scalar_one()
        except IntegrityError:  # a reply exists already (the unique index): keep that one
            await self.session.rollback()
            return None
        result = await self.session.execute(_ANSWERED, _claimed(claim))
        if result.rowcount != 1:  # type: ignore[attr-defined]
            await self.session.rollback()
            return None
        await self.session.commit()
        return Message(id=reply_id, **values)

    async def put_back(self, claim: Claim) -> bool:
        """A decision taken up (`claim_paused`) that will not run — its worker shuts down, its
        client left first: the turn waits for the person again, its paused run and waiting
        calls as they were (taking it up changed only these). False when the attempt no
        longer held the turn."""
        result = await self.session.execute(
            sa.update(_messages)
            .where(_HELD)
            .values(status=TurnStatus.AWAITING.value, lease_until=None),
            _claimed(claim),
        )
        await self.session.commit()
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    async def fail(self, claim: Claim, reason: str, tool_calls: list[ToolCall]) -> bool:
        """Mark the question failed (it is kept; no reply is stored), keeping the tool calls
        that did change data; False when the attempt no longer held the turn."""
        result = await self.session.execute(
            _FAILED,
            {
                **_claimed(claim),
                "new_error": reason[:500],
                "new_calls": ToolCall.to_store(tool_calls),
            },
        )
        await self.session.commit()
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]
