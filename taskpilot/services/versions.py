"""Edited questions: storing a question's new version, and reading its versions back.

Editing question Q stores its new version Q' as a new question, claimed like any other
(`TurnStore.open`'s rules: the unique index on holding turns refuses it while a turn of the
conversation runs or awaits approval), and in the same transaction marks Q and every message
after it `replaced_by` Q', only while Q is still current: of two edits at once, the index or
that conditional UPDATE lets exactly one through. Nothing is deleted; what Q' replaced is Q's
branch, read back by `branch`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from taskpilot.data.models import Conversation, Message, Role, TurnStatus, utcnow
from taskpilot.services.turns import ConversationBusy, HistoryLoader

_messages: sa.Table = Message.__table__  # type: ignore[attr-defined]
_INSERT_MESSAGE = sa.insert(_messages).returning(_messages.c.id)


class MessageReplaced(Exception):
    """The question was already replaced by another version: only current ones are edited."""


class ConversationMovedOn(Exception):
    """The conversation has messages newer than the editor had seen: an edit replaces what
    follows the question, and must not replace what its sender never saw."""


@dataclass(frozen=True)
class Version:
    """One version of a question: its number (from 1), whether it is the current one, and
    the branch it began (itself, then what followed it while it was current)."""

    number: int
    current: bool
    messages: list[Message]


def first_version(message: Message) -> int:
    """The id every version of this question names (its first version's)."""
    return message.edit_of_id or message.id or 0


class MessageVersions:
    """A user's questions' versions, scoped to that user."""

    def __init__(self, session: AsyncSession, user_id: str) -> None:
        self.session = session
        self.user_id = user_id

    async def edit(
        self,
        conversation: Conversation,
        question: Message,
        text: str,
        lease: timedelta,
        history: HistoryLoader,
        seen: int | None = None,
    ) -> tuple[Message, list[Message]]:
        """Store `text` as the next version of `question` in `conversation` (a row this
        transaction holds: `ConversationStore.touch`), claimed by attempt 1, and mark the
        question and everything after it as replaced; with it, the turns before it.

        `ConversationBusy` when a turn of the conversation runs or awaits approval;
        `MessageReplaced` when the question is no longer current; `ConversationMovedOn` when
        `seen` (the newest message its sender had seen) is not the conversation's newest.
        Either way nothing is kept. The check comes after the new version holds the
        conversation (its unique index), so no message can slip in between.
        """
        assert question.id is not None
        question_id, root = question.id, first_version(question)
        now = utcnow()
        values: dict[str, Any] = {
            "conversation_id": conversation.id,
            "user_id": self.user_id,
            "role": Role.USER.value,
            "content": text,
            "client_message_id": None,
            "status": TurnStatus.RUNNING.value,
            "attempt": 1,
            "lease_until": now + lease,
            "created_at": now,
            "edit_of_id": root,
        }
        try:
            inserted = await self.session.execute(_INSERT_MESSAGE, values)
        except IntegrityError as exc:
            await self.session.rollback()
            raise ConversationBusy from exc
        new_id = int(inserted.scalar_one())
        still_current = await self.session.execute(
            sa.update(_messages)
            .where(
                _messages.c.id == question_id,
                _messages.c.user_id == self.user_id,
                _messages.c.replaced_by.is_(None),
            )
            .values(replaced_by=new_id)
        )
        if still_current.rowcount != 1:  # type: ignore[attr-defined]
            await self.session.rollback()
            raise MessageReplaced()
        if seen is not None and await self._newer(conversation.id, max(seen, question_id), new_id):
            await self.session.rollback()
            raise ConversationMovedOn()
        await self.session.execute(
            sa.update(_messages)
            .where(
                _messages.c.conversation_id == conversation.id,
                _messages.c.user_id == self.user_id,
                _messages.c.id > question_id,
                _messages.c.id < new_id,
                _messages.c.replaced_by.is_(None),
            )
            .values(replaced_by=new_id)
        )
        before = await history(new_id)
        await self.session.commit()
        return Message(id=new_id, tool_calls=[], **values), before

    async def _newer(self, conversation_id: str, seen: int, new_id: int) -> bool:
        """Whether the conversation's current branch has a message after `seen` (besides the
        new version `new_id`)."""
        statement = (
            sa.select(_messages.c.id)
            .where(
                _messages.c.conversation_id == conversation_id,
                _messages.c.user_id == self.user_id,
                _messages.c.id > seen,
                _messages.c.id != new_id,
                _messages.c.replaced_by.is_(None),
            )
            .limit(1)
        )
        return (await self.session.execute(statement)).first() is not None

    async def of(self, messages: Iterable[Message]) -> dict[int, list[int]]:
        """For each edited question among `messages`, by its first version's id: the ids of
        all its versions, oldest first (one query; none when nothing listed was edited)."""
        roots = {m.edit_of_id for m in messages if m.edit_of_id is not None}
        if not roots:
            return {}
        statement = (
            select(Message.id, Message.edit_of_id)
            .where(
                col(Message.user_id) == self.user_id,
                sa.or_(col(Message.id).in_(sorted(roots)), col(Message.edit_of_id).in_(roots)),
            )
            .order_by(col(Message.id))
        )
        found: dict[int, list[int]] = {root: [] for root in roots}
        for message_id, edit_of in (await self.session.exec(statement)).all():
            found.setdefault(int(edit_of or message_id or 0), []).append(int(message_id or 0))
        return found

    async def versions(self, question: Message) -> list[Version]:
        """Every version of `question`, oldest first, each with the branch it began."""
        root = first_version(question)
        statement = (
            select(Message)
            .where(
                col(Message.user_id) == self.user_id,
                sa.or_(col(Message.id) == root, col(Message.edit_of_id) == root),
            )
            .order_by(col(Message.id))
        )
        found = list((await self.session.exec(statement)).all())
        return [
            Version(number, version.replaced_by is None, await self.branch(version))
            for number, version in enumerate(found, start=1)
        ]

    async def branch(self, version: Message) -> list[Message]:
        """The question `version` and what followed it while it was current: the messages
        replaced with it, or, for a current version, the current branch from it on."""
        statement = select(Message).where(
            col(Message.conversation_id) == version.conversation_id,
            col(Message.user_id) == self.user_id,
            col(Message.id) >= (version.id or 0),
        )
        if version.replaced_by is None:
            statement = statement.where(col(Message.replaced_by).is_(None))
        else:
            statement = statement.where(col(Message.replaced_by) == version.replaced_by)
        return list((await self.session.exec(statement.order_by(col(Message.id)))).all())
