"""ConversationStore: conversations and their messages, always scoped to one user.

The agent service reads the history window and writes each turn through here; the
HTTP API lists, renames and deletes through here too.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from taskpilot.data.models import Conversation, Message, Role, TurnStatus, as_utc, utcnow

MAX_CONVERSATION_TITLE = 200
TITLE_FROM_MESSAGE = 60
# A turn still "pending" after this long was lost with its worker; a retry may run it again.
STALE_TURN = timedelta(minutes=5)


class ConversationNotFound(LookupError):
    """No conversation with that id belongs to the caller."""

    def __init__(self) -> None:
        super().__init__("That conversation was not found.")


def title_from_message(text: str) -> str:
    """A conversation title from its first message: the first words, ellipsised."""
    words = " ".join(text.split())
    if len(words) <= TITLE_FROM_MESSAGE:
        return words or "New chat"
    cut = words[:TITLE_FROM_MESSAGE].rsplit(" ", 1)[0] or words[:TITLE_FROM_MESSAGE]
    return cut.rstrip(",.;:!?") + "…"


def clean_conversation_title(title: str) -> str:
    """A title for rename: trimmed, non-empty, bounded."""
    value = " ".join(str(title).split())
    if not value:
        raise ValueError("A conversation title can't be empty.")
    if len(value) > MAX_CONVERSATION_TITLE:
        raise ValueError(
            f"A conversation title can be at most {MAX_CONVERSATION_TITLE} characters."
        )
    return value


def conversation_to_dict(conversation: Conversation) -> dict[str, Any]:
    """The JSON form of a conversation."""
    return {
        "id": conversation.id,
        "title": conversation.title,
        "created_at": as_utc(conversation.created_at).isoformat(),  # type: ignore[union-attr]
        "updated_at": as_utc(conversation.updated_at).isoformat(),  # type: ignore[union-attr]
    }


def message_to_dict(message: Message) -> dict[str, Any]:
    """The JSON form of a message, with its turn's tool calls."""
    return {
        "id": message.id,
        "conversation_id": message.conversation_id,
        "role": message.role,
        "content": message.content,
        "tool_calls": [
            {k: call.get(k) for k in ("name", "arguments", "result", "is_error")}
            for call in message.tool_calls or []
        ],
        "status": message.status,
        "error": message.error,
        "client_message_id": message.client_message_id,
        "created_at": as_utc(message.created_at).isoformat(),  # type: ignore[union-attr]
    }


class ConversationStore:
    """Conversation and message persistence for one user."""

    def __init__(self, session: AsyncSession, user_id: str) -> None:
        self.session = session
        self.user_id = user_id

    async def get(self, conversation_id: str) -> Conversation:
        """The caller's conversation, or `ConversationNotFound`."""
        conversation = await self.session.get(Conversation, conversation_id)
        if conversation is None or conversation.user_id != self.user_id:
            raise ConversationNotFound()
        return conversation

    async def create(self, title: str = "New chat") -> Conversation:
        """Start a conversation."""
        conversation = Conversation(user_id=self.user_id, title=title[:MAX_CONVERSATION_TITLE])
        self.session.add(conversation)
        await self.session.commit()
        return conversation

    async def recent(self, limit: int = 50, before: str | None = None) -> list[Conversation]:
        """The caller's conversations, most recently active first."""
        statement = select(Conversation).where(Conversation.user_id == self.user_id)
        if before:
            anchor = await self.get(before)
            statement = statement.where(
                sa.or_(
                    col(Conversation.updated_at) < anchor.updated_at,
                    sa.and_(
                        col(Conversation.updated_at) == anchor.updated_at,
                        col(Conversation.id) < anchor.id,
                    ),
                )
            )
        statement = statement.order_by(
            col(Conversation.updated_at).desc(), col(Conversation.id).desc()
        ).limit(max(1, min(limit, 200)))
        return list((await self.session.exec(statement)).all())

    async def rename(self, conversation_id: str, title: str) -> Conversation:
        """Give a conversation a new title."""
        conversation = await self.get(conversation_id)
        conversation.title = clean_conversation_title(title)
        conversation.updated_at = utcnow()
        self.session.add(conversation)
        await self.session.commit()
        return conversation

    async def delete(self, conversation_id: str) -> None:
        """Delete a conversation and its messages."""
        conversation = await self.get(conversation_id)
        await self.session.exec(  # type: ignore[call-overload]
            sa.delete(Message).where(col(Message.conversation_id) == conversation.id)
        )
        await self.session.delete(conversation)
        await self.session.commit()

    async def messages(
        self, conversation_id: str, limit: int = 100, before_id: int | None = None
    ) -> list[Message]:
        """A page of messages, oldest first, ending before `before_id` when given."""
        await self.get(conversation_id)
        statement = select(Message).where(Message.conversation_id == conversation_id)
        if before_id is not None:
            statement = statement.where(col(Message.id) < before_id)
        statement = statement.order_by(col(Message.id).desc()).limit(max(1, min(limit, 500)))
        rows = list((await self.session.exec(statement)).all())
        rows.reverse()
        return rows

    async def history(
        self, conversation_id: str, turns: int, before_id: int | None = None
    ) -> list[Message]:
        """The last `turns` turns the agent should see, oldest first; with `before_id`, the
        turns before that message (a retried turn sees what came before it, not after).

        One bounded, index-backed query, whatever the conversation's length. Failed turns are
        left out so the model never sees a question without its answer twice.
        """
        statement = select(Message).where(
            Message.conversation_id == conversation_id,
            col(Message.status) != TurnStatus.FAILED.value,
        )
        if before_id is not None:
            statement = statement.where(col(Message.id) < before_id)
        statement = statement.order_by(col(Message.id).desc()).limit(turns * 2)
        rows = list((await self.session.exec(statement)).all())
        rows.reverse()
        return rows

    async def find_by_client_id(self, client_message_id: str) -> Message | None:
        """The caller's message sent with this client id, if any."""
        statement = select(Message).where(
            Message.user_id == self.user_id, Message.client_message_id == client_message_id
        )
        return (await self.session.exec(statement)).first()

    async def reply_to(self, message_id: int) -> Message | None:
        """The assistant's stored reply to a user message, if any."""
        statement = select(Message).where(
            Message.reply_to_id == message_id, Message.role == Role.ASSISTANT.value
        )
        return (await self.session.exec(statement)).first()

    async def add_user_message(
        self, conversation: Conversation, text: str, client_message_id: str | None
    ) -> Message:
        """Store the user's message before the turn runs (status pending)."""
        message = Message(
            conversation_id=conversation.id,
            user_id=self.user_id,
            role=Role.USER.value,
            content=text,
            client_message_id=client_message_id,
            status=TurnStatus.PENDING.value,
        )
        conversation.updated_at = utcnow()
        self.session.add(message)
        self.session.add(conversation)
        try:
            await self.session.commit()
        except IntegrityError:
            await self.session.rollback()
            raise
        return message

    async def finish_turn(
        self,
        conversation: Conversation,
        user_message: Message,
        reply: str,
        tool_calls: list[dict[str, Any]],
    ) -> Message:
        """Store the assistant's reply and mark the user's message answered, atomically.

        Tool calls an earlier failed attempt made (kept on the user's message) move to the
        reply, so the turn's record holds every call once.
        """
        assistant = Message(
            conversation_id=conversation.id,
            user_id=self.user_id,
            role=Role.ASSISTANT.value,
            content=reply,
            tool_calls=[*(user_message.tool_calls or []), *tool_calls],
            reply_to_id=user_message.id,
        )
        user_message.status = TurnStatus.ANSWERED.value
        user_message.error = None
        user_message.tool_calls = []
        conversation.updated_at = utcnow()
        self.session.add_all([assistant, user_message, conversation])
        await self.session.commit()
        return assistant

    async def fail_turn(
        self, user_message: Message, reason: str, done_calls: list[dict[str, Any]] | None = None
    ) -> None:
        """Mark the user's message failed (it is kept); no reply is stored.

        `done_calls` are tool calls that completed before the failure: their effects are real,
        so they are kept with the message and shown to the model if the turn is retried.
        """
        user_message.status = TurnStatus.FAILED.value
        user_message.error = reason[:500]
        if done_calls:
            user_message.tool_calls = [*(user_message.tool_calls or []), *done_calls]
        self.session.add(user_message)
        await self.session.commit()

    async def retry_turn(self, user_message: Message) -> None:
        """Put a failed (or stale) message back to pending before running it again."""
        user_message.status = TurnStatus.PENDING.value
        user_message.error = None
        user_message.created_at = utcnow()
        self.session.add(user_message)
        await self.session.commit()

    @staticmethod
    def is_stale(message: Message) -> bool:
        """A pending turn older than `STALE_TURN`: its worker is gone."""
        created = as_utc(message.created_at)
        return created is not None and utcnow() - created > STALE_TURN
