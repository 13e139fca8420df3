"""The stored conversation as the chat page shows it, a page of messages at a time.

The page is rebuilt from the database whenever what it shows may be out of date (a page
load, a decision taken elsewhere, a decline stored by a newer message), so reading it lives
apart from the states that decide when to. A long conversation is read `MESSAGE_PAGE`
messages at a time, newest first, so opening it costs the same however long it has grown.
"""

from __future__ import annotations

import dataclasses

from taskpilot.agent.engine.approvals import PausedRun, summarize
from taskpilot.core.db import Database
from taskpilot.data.models import Approval, Message, TurnStatus
from taskpilot.runtime import get_runtime
from taskpilot.services.conversations import ConversationStore
from taskpilot.services.public import MessageOut
from taskpilot.services.versions import MessageVersions
from taskpilot.web.view_models import MessageView, message_view

# How many messages a conversation page shows at first, and loads each time the person
# scrolls back past the earliest shown ("Show earlier messages").
MESSAGE_PAGE = 100


def message_element_id(key: str) -> str:
    """The id of a message's element in the list (`message_list.py`)."""
    return f"message-{key}"


@dataclasses.dataclass(frozen=True)
class StoredPage:
    """A page of the conversation's messages, oldest first, and whether earlier ones exist."""

    messages: list[MessageView]
    earlier: bool


async def stored_messages(
    db: Database, store: ConversationStore, conversation_id: str, before_id: int | None = None
) -> StoredPage:
    """The conversation's newest `MESSAGE_PAGE` messages as the page shows them (those before
    message `before_id`, when given)."""
    rows = await store.messages(conversation_id, limit=MESSAGE_PAGE + 1, before_id=before_id)
    shown = rows[-MESSAGE_PAGE:]
    versions = await MessageVersions(store.session, store.user_id).of(shown)
    views = [await _stored_message(db, store.user_id, row, versions) for row in shown]
    return StoredPage(views, earlier=len(rows) > len(shown))


async def read_conversation(
    user_id: str, conversation_id: str, before_id: int | None = None
) -> StoredPage:
    """The conversation as stored, read again in a session of its own (after a page load)."""
    db = get_runtime().db
    async with db.session() as session:
        store = ConversationStore(session, user_id)
        return await stored_messages(db, store, conversation_id, before_id)


async def _stored_message(
    db: Database, user_id: str, row: Message, versions: dict[int, list[int]]
) -> MessageView:
    """One stored message (with its versions, if it was edited); a question awaiting approval
    with what its paused turn had done: what approving each waiting call does, and the reply
    begun before the pause."""
    message = MessageOut.of(row, versions.get(row.edit_of_id or 0))
    if message.role != "user" or message.status != TurnStatus.AWAITING:
        return message_view(message)
    summaries = {
        call.call_id: await summarize(db, user_id, call)
        for call in message.tool_calls
        if call.approval is Approval.PENDING
    }
    paused = PausedRun.model_validate(row.paused_run) if row.paused_run else None
    return message_view(message, summaries, paused.reply if paused else "")
