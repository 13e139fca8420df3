"""ConversationStore: conversations and their messages, always scoped to one user.

The agent service reads the history window and writes each turn through here; the
HTTP API lists, renames and deletes through here too.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Literal

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from taskpilot.data.models import (
    NEW_CHAT_TITLE,
    Conversation,
    Feedback,
    Message,
    Role,
    TurnStatus,
    utcnow,
)
from taskpilot.services.text import unstorable, without_unstorable

MAX_CONVERSATION_TITLE = 200
REPLY_DISCARDED = "The reply was removed, to answer this again."
TITLE_FROM_MESSAGE = 60


class ConversationNotFound(LookupError):
    """No conversation with that id belongs to the caller."""

    def __init__(self) -> None:
        super().__init__("That conversation was not found.")


class MessageNotFound(LookupError):
    """No message with that id belongs to the caller."""

    def __init__(self) -> None:
        super().__init__("That message was not found.")


class InvalidTitle(ValueError):
    """A conversation title that is empty or too long; the message says which."""


Order = Literal["asc", "desc"]


def title_from_message(text: str) -> str:
    """A conversation title from its first message: the first words, ellipsised."""
    words = " ".join(without_unstorable(text).split())
    if len(words) <= TITLE_FROM_MESSAGE:
        return words or NEW_CHAT_TITLE
    cut = words[:TITLE_FROM_MESSAGE].rsplit(" ", 1)[0] or words[:TITLE_FROM_MESSAGE]
    return cut.rstrip(",.;:!?") + "…"


def clean_conversation_title(title: str) -> str:
    """A title for rename: trimmed, non-empty, bounded."""
    value = " ".join(str(title).split())
    if not value:
        raise InvalidTitle("A conversation title can't be empty.")
    if len(value) > MAX_CONVERSATION_TITLE:
        raise InvalidTitle(
            f"A conversation title can be at most {MAX_CONVERSATION_TITLE} characters."
        )
    if (char := unstorable(value)) is not None:
        raise InvalidTitle(f"A conversation title can't contain {char}.")
    return value


# Above every message id (ids are BIGINT): "before no message in particular".
NO_MESSAGE_ID = 2**63 - 1
# The history window every turn reads, built once (see `ConversationStore.history`).
_HISTORY = (
    select(Message)
    .where(
        col(Message.conversation_id) == sa.bindparam("conversation_id"),
        col(Message.user_id) == sa.bindparam("user_id"),
        col(Message.status) == TurnStatus.ANSWERED.value,
        col(Message.id) < sa.bindparam("before_id"),
        col(Message.replaced_by).is_(None),
    )
    .order_by(col(Message.id).desc())
    .limit(sa.bindparam("rows"))
)


# A new question's conversation: found, its time moved, its row locked, in one statement
# built once (see `ConversationStore.touch`).
_conversations: sa.Table = Conversation.__table__  # type: ignore[attr-defined]
_LOCK = (
    sa.select(_conversations.c.id)
    .where(_conversations.c.id == sa.bindparam("conversation_id"))
    .with_for_update(key_share=True)
)


async def lock_conversation(session: AsyncSession, conversation_id: str) -> None:
    """Lock the conversation's row until the transaction ends. Each transaction that writes a
    conversation's messages, where it could meet another, takes it before any of them:
    storing a question (`touch`) or a reply, a retry's claim or discard, deleting. So none
    waits on another in a circle, and a reply takes its id before a next question can (a
    conversation reads in id order). PostgreSQL only: SQLite has one writer at a time, and a
    read before the first write would only widen the transaction."""
    if session.get_bind().dialect.name != "sqlite":
        await session.execute(_LOCK, {"conversation_id": conversation_id})


_TOUCH = (
    sa.update(_conversations)
    .where(
        _conversations.c.id == sa.bindparam("conversation_id"),
        _conversations.c.user_id == sa.bindparam("owner_id"),
    )
    .values(updated_at=sa.bindparam("now"))
    .returning(*_conversations.c)
)


class ConversationStore:
    """Conversation and message persistence for one user."""

    def __init__(self, session: AsyncSession, user_id: str) -> None:
        self.session = session
        self.user_id = user_id

    async def get(self, conversation_id: str, *, lock: bool = False) -> Conversation:
        """The caller's conversation, or `ConversationNotFound`; with `lock`, its row locked
        until the transaction ends (PostgreSQL)."""
        if unstorable(conversation_id) is not None:
            raise ConversationNotFound()  # no stored id has such characters
        conversation = await self.session.get(
            Conversation, conversation_id, with_for_update=True if lock else None
        )
        if conversation is None or conversation.user_id != self.user_id:
            raise ConversationNotFound()
        return conversation

    async def touch(self, conversation_id: str) -> Conversation:
        """The caller's conversation, its `updated_at` moved to now, in one statement (a new
        question is on its way into it); `ConversationNotFound` when it is not the caller's.
        The row stays locked until the transaction ends."""
        if unstorable(conversation_id) is not None:
            raise ConversationNotFound()
        params = {"conversation_id": conversation_id, "owner_id": self.user_id, "now": utcnow()}
        row = (await self.session.execute(_TOUCH, params)).mappings().first()
        if row is None:
            raise ConversationNotFound()
        return Conversation(**row)

    async def create(
        self, title: str = NEW_CHAT_TITLE, conversation_id: str | None = None
    ) -> Conversation:
        """Start a conversation (with a chosen id, as ChatKit's thread ids are chosen first).

        An id that is already taken, by anyone, or that could not be stored raises
        `ConversationNotFound`.
        """
        title = " ".join(without_unstorable(title).split()) or NEW_CHAT_TITLE
        conversation = Conversation(user_id=self.user_id, title=title[:MAX_CONVERSATION_TITLE])
        if conversation_id is not None:
            if unstorable(conversation_id) is not None:
                raise ConversationNotFound()
            if await self.session.get(Conversation, conversation_id) is not None:
                raise ConversationNotFound()
            conversation.id = conversation_id
        self.session.add(conversation)
        try:
            await self.session.commit()
        except IntegrityError as exc:
            await self.session.rollback()
            raise ConversationNotFound() from exc
        return conversation

    async def recent(self, limit: int = 50, before: str | None = None) -> list[Conversation]:
        """The caller's conversations, most recently active first."""
        return await self.page(limit, before, "desc")

    async def page(
        self, limit: int = 50, after: str | None = None, order: Order = "desc"
    ) -> list[Conversation]:
        """The caller's conversations by last activity ("desc": most recent first), the page
        that follows the conversation `after` in that order."""
        updated, key = col(Conversation.updated_at), col(Conversation.id)
        newest_first = order == "desc"
        statement = select(Conversation).where(Conversation.user_id == self.user_id)
        if after:
            anchor = await self.get(after)
            beyond = updated < anchor.updated_at if newest_first else updated > anchor.updated_at
            tie = key < anchor.id if newest_first else key > anchor.id
            statement = statement.where(sa.or_(beyond, sa.and_(updated == anchor.updated_at, tie)))
        ordering = (updated.desc(), key.desc()) if newest_first else (updated.asc(), key.asc())
        statement = statement.order_by(*ordering).limit(max(1, min(limit, 200)))
        return list((await self.session.exec(statement)).all())

    async def rename(self, conversation_id: str, title: str) -> Conversation:
        """Give a conversation a new title."""
        conversation = await self.get(conversation_id)
        conversation.title = clean_conversation_title(title)
        conversation.updated_at = utcnow()
        self.session.add(conversation)
        await self.session.commit()
        return conversation

    async def retitle(self, conversation_id: str, title: str, automatic: Collection[str]) -> bool:
        """Give a conversation the title chosen after its first reply, in one UPDATE, only
        while its title is still one of the `automatic` ones (a title the person gave it
        stays); whether it was changed."""
        value = " ".join(without_unstorable(title).split())[:MAX_CONVERSATION_TITLE]
        if not value:
            return False
        result = await self.session.exec(  # type: ignore[call-overload]
            sa.update(Conversation)
            .where(
                col(Conversation.id) == conversation_id,
                col(Conversation.user_id) == self.user_id,
                col(Conversation.title).in_(list(automatic)),
            )
            .values(title=value)
        )
        await self.session.commit()
        return bool(result.rowcount)

    async def delete(self, conversation_id: str) -> None:
        """Delete a conversation and its messages. Its row is locked first, as every writer
        of its messages that could meet another takes it before them (storing a question or
        a reply): taken after the messages, a reply being stored and this waited on each
        other."""
        conversation = await self.get(conversation_id, lock=True)
        await self.session.exec(  # type: ignore[call-overload]
            sa.delete(Message).where(col(Message.conversation_id) == conversation.id)
        )
        await self.session.delete(conversation)
        await self.session.commit()

    async def messages(
        self, conversation_id: str, limit: int = 100, before_id: int | None = None
    ) -> list[Message]:
        """A page of messages, oldest first, ending before `before_id` when given."""
        rows = await self.message_page(conversation_id, before_id, limit, "desc")
        rows.reverse()
        return rows

    async def message_page(
        self, conversation_id: str, after_id: int | None, limit: int, order: Order
    ) -> list[Message]:
        """Up to `limit` messages of the current branch (no earlier versions) in `order`
        ("asc": oldest first), those that follow message `after_id` in that order when it is
        given."""
        await self.get(conversation_id)
        key = col(Message.id)
        statement = select(Message).where(
            Message.conversation_id == conversation_id, col(Message.replaced_by).is_(None)
        )
        if after_id is not None:
            statement = statement.where(key > after_id if order == "asc" else key < after_id)
        statement = statement.order_by(key.asc() if order == "asc" else key.desc())
        return list((await self.session.exec(statement.limit(max(1, min(limit, 500))))).all())

    async def message(self, message_id: int) -> Message:
        """The caller's message with this id, or `MessageNotFound`."""
        message = await self.session.get(Message, message_id)
        if message is None or message.user_id != self.user_id:
            raise MessageNotFound()
        return message

    async def history(
        self, conversation_id: str, turns: int, before_id: int | None = None
    ) -> list[Message]:
        """The last `turns` turns the agent should see, oldest first; with `before_id`, the
        turns before that message (a retried turn sees what came before it, not after).

        One bounded, index-backed query, whatever the conversation's length. Only answered
        turns of the current branch: a failed or running question is left out, so the model
        sees question, answer, question, answer, and an edited question's earlier versions
        are not seen at all.
        """
        params = {
            "conversation_id": conversation_id,
            "user_id": self.user_id,
            "before_id": NO_MESSAGE_ID if before_id is None else before_id,
            "rows": turns * 2,
        }
        rows = list((await self.session.exec(_HISTORY, params=params)).all())  # type: ignore[call-overload]
        rows.reverse()
        return rows

    async def find_by_client_id(self, client_message_id: str) -> Message | None:
        """The caller's message sent with this client id, if any."""
        if unstorable(client_message_id) is not None:
            return None
        statement = select(Message).where(
            Message.user_id == self.user_id,
            Message.client_message_id == client_message_id,
            Message.role == Role.USER.value,
        )
        return (await self.session.exec(statement)).first()

    async def named_messages(
        self,
        conversation_id: str,
        message_ids: Collection[int],
        replies_to: Collection[int],
        client_message_ids: Collection[str],
    ) -> list[Message]:
        """The caller's messages in this conversation that have these ids, that are the
        assistant's replies to these messages, or that are user messages sent with these
        client ids; oldest first. One query however many ids (ChatKit resolves the item ids
        of a request with it); an id that is not the caller's, not in this conversation, or
        of an edited question's earlier branch (ChatKit shows only the current one), matches
        nothing."""
        client_ids = sorted(value for value in client_message_ids if unstorable(value) is None)
        named: list[sa.ColumnElement[bool]] = []
        if message_ids:
            named.append(col(Message.id).in_(sorted(message_ids)))
        if replies_to:
            named.append(
                sa.and_(
                    col(Message.reply_to_id).in_(sorted(replies_to)),
                    col(Message.role) == Role.ASSISTANT.value,
                )
            )
        if client_ids:
            named.append(
                sa.and_(
                    col(Message.client_message_id).in_(client_ids),
                    col(Message.role) == Role.USER.value,
                )
            )
        if not named:
            return []
        statement = (
            select(Message)
            .where(
                Message.user_id == self.user_id,
                Message.conversation_id == conversation_id,
                col(Message.replaced_by).is_(None),
                sa.or_(*named),
            )
            .order_by(col(Message.id))
        )
        return list((await self.session.exec(statement)).all())

    async def reply_to(self, message_id: int) -> Message | None:
        """The assistant's stored reply to a user message, if any."""
        statement = select(Message).where(
            Message.reply_to_id == message_id,
            Message.role == Role.ASSISTANT.value,
            Message.user_id == self.user_id,
        )
        return (await self.session.exec(statement)).first()

    async def discard_reply(self, reply: Message) -> None:
        """Delete an assistant reply so its turn can run again (ChatKit's retry).

        Its tool calls did change data, so they move to the user's message, as a failed turn
        keeps them: the model sees them on the retry and does not repeat them.

        One transaction of conditional statements: of two retries discarding the same reply at
        once, one deletes it and the other changes nothing.
        """
        await lock_conversation(self.session, reply.conversation_id)
        removed = await self.session.exec(  # type: ignore[call-overload]
            sa.delete(Message).where(
                col(Message.id) == reply.id, col(Message.user_id) == self.user_id
            )
        )
        if removed.rowcount != 1:
            await self.session.rollback()
            return
        if reply.reply_to_id is not None:
            asked = await self.session.get(Message, reply.reply_to_id, populate_existing=True)
            if asked is not None and asked.user_id == self.user_id:
                # Unanswered now, so a retry may claim it (`TurnStore.claim`).
                await self.session.exec(  # type: ignore[call-overload]
                    sa.update(Message)
                    .where(
                        col(Message.id) == asked.id,
                        col(Message.status) == TurnStatus.ANSWERED.value,
                    )
                    .values(
                        status=TurnStatus.FAILED.value,
                        error=REPLY_DISCARDED,
                        tool_calls=[*(asked.tool_calls or []), *(reply.tool_calls or [])],
                    )
                )
        await self.session.commit()

    async def delete_message(self, message: Message) -> None:
        """Delete a user's message and the reply to it, if any (ChatKit's retry removes what
        follows the message it runs again). An edited question's earlier versions, and the
        branches they began, go with it: they follow that message too, and nothing would
        show them once the version that replaced them is gone."""
        gone = [message.id] if message.id is not None else []
        await lock_conversation(self.session, message.conversation_id)
        while gone:  # the versions it replaced, the ones those replaced, ...
            replaced = select(Message.id).where(
                col(Message.user_id) == self.user_id,
                col(Message.replaced_by).in_(gone),
                col(Message.role) == Role.USER.value,
            )
            older = [int(i) for i in (await self.session.exec(replaced)).all() if i is not None]
            await self.session.exec(  # type: ignore[call-overload]
                sa.delete(Message).where(
                    col(Message.user_id) == self.user_id,
                    sa.or_(col(Message.reply_to_id).in_(gone), col(Message.replaced_by).in_(gone)),
                )
            )
            gone = older
        await self.session.delete(message)
        await self.session.commit()

    async def rate(self, conversation_id: str, message_ids: list[int], feedback: Feedback) -> None:
        """Record the person's rating on these assistant replies of theirs."""
        if not message_ids:
            return
        await self.session.exec(  # type: ignore[call-overload]
            sa.update(Message)
            .where(
                col(Message.id).in_(message_ids),
                col(Message.conversation_id) == conversation_id,
                col(Message.user_id) == self.user_id,
                col(Message.role) == Role.ASSISTANT.value,
            )
            .values(feedback=feedback.value)
        )
        await self.session.commit()
