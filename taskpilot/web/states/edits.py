"""EditState: edit and re-answer. A pencil on each of the person's sent messages opens an
inline editor; Save stores the text as the question's next version and the conversation goes
on from it (`TurnEngine.prepare_edit`, streamed by `ChatState.run_edit`); what it replaced is
kept as an earlier version. An edited question shows ‹ 1 / 2 ›: an earlier version shows
its branch in place of the current one, read-only, until the person goes back to the newest
(or sends a message, which is always sent into the current branch).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import reflex as rx

from taskpilot.core.db import DatabaseUnavailable
from taskpilot.runtime import get_runtime
from taskpilot.services.conversations import ConversationStore, MessageNotFound
from taskpilot.services.public import MessageOut
from taskpilot.services.versions import MessageVersions
from taskpilot.web.states.auth import DATABASE_DOWN, AuthState
from taskpilot.web.states.chat import ChatState
from taskpilot.web.view_models import MessageView, message_view

EDITOR_ID = "message-editor"


class EditState(AuthState):
    """Which message is being edited, and its draft."""

    editing: rx.Field[str] = rx.field("")  # the key of the message being edited
    draft: rx.Field[str] = rx.field("")  # its text as the editor opens

    @rx.event
    async def start(self, key: str) -> Any:
        """Open the editor on the person's message `key`, its text ready to change."""
        chat = await self.get_state(ChatState)
        message = _find(chat.messages, key)
        if chat.streaming or message is None or message.replaced or message.id <= 0:
            return None
        self.editing, self.draft = key, message.content
        return rx.set_focus(EDITOR_ID)

    @rx.event
    def cancel(self) -> None:
        """Close the editor; the message stays as it was."""
        self.editing, self.draft = "", ""

    @rx.event
    async def save(self, form_data: dict[str, Any]) -> Any:
        """Send the edited text as the question's next version (unchanged text: just close;
        blank text: the editor stays open)."""
        if await self._identity() is None:
            return await self._sign_out()
        chat = await self.get_state(ChatState)
        key, text = self.editing, str(form_data.get("message") or "").strip()
        if not text or len(text) > chat.max_chars:
            return None
        index = next((i for i, m in enumerate(chat.messages) if m.key == key), None)
        self.editing, self.draft = "", ""
        if index is None or chat.streaming:
            return None
        if text == chat.messages[index].content:
            return None
        return chat.begin_edit(index, text)

    @rx.event
    async def show_version(self, key: str, version: int) -> Any:
        """Show version `version` of the question `key` with its branch in place of what the
        page shows from that question on; the newest version shows the conversation now."""
        identity = await self._identity()
        if identity is None:
            return await self._sign_out()
        chat = await self.get_state(ChatState)
        index = next((i for i, m in enumerate(chat.messages) if m.key == key), None)
        if index is None or chat.streaming:
            return None
        question = chat.messages[index]
        ids = question.version_ids
        if not 1 <= version <= len(ids):
            return None
        self.editing, self.draft = "", ""
        if version == len(ids):
            await chat.show_current(identity.user_id)
            return None
        try:
            branch = await _branch(identity.user_id, ids[version - 1])
        except (DatabaseUnavailable, MessageNotFound):
            chat.load_error = DATABASE_DOWN
            return None
        first = dataclasses.replace(branch[0], version=version, versions=len(ids), version_ids=ids)
        chat.messages = [*chat.messages[:index], first, *branch[1:]]
        return None


def _find(messages: list[MessageView], key: str) -> MessageView | None:
    return next((message for message in messages if message.key == key), None)


async def _branch(user_id: str, version_id: int) -> list[MessageView]:
    """The branch version `version_id` of a question began, as the page shows it: read-only."""
    async with get_runtime().db.session() as session:
        version = await ConversationStore(session, user_id).message(version_id)
        rows = await MessageVersions(session, user_id).branch(version)
    return [
        dataclasses.replace(message_view(MessageOut.of(row)), replaced=row.replaced_by is not None)
        for row in rows
    ]
