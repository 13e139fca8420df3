"""ChatKit's `Store` on TaskPilot's database: threads are conversations, items are messages.

Every call is scoped to the signed-in user in the request context: another person's thread
or item does not exist here (`NotFoundError`, a 404 to the client). The item ids a call names
are resolved together, in one query (`_locate`), however many there are.

This store is only persistence: it starts no turn and holds no turn slot. The writes of a turn
belong to the turn engine, which stores the user's message when the turn is prepared and the
reply with its tool calls when the turn ends (`ConversationStore`). The server prepares a new
message's turn before ChatKit tells the client the message is in (`server.py`), and a turn's
items are stored before ChatKit hands them over, so `add_thread_item` only acknowledges. The
writes left here are ChatKit's own: creating, renaming and deleting threads, feedback, and
removing a turn on retry. The id ChatKit made for a new message is kept as the message's
`client_message_id`, so a later request naming that id finds the message (`_locate`).

Widget items (tasks shown by a turn's tool calls) are derived too, and show the tasks as they
are now: the store reads the rows of the tasks a page's widgets show, in one query per page,
so a task completed from a widget, the task panel or a later turn reads so after a reload.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass

from chatkit.store import NotFoundError, Store, StoreItemType
from chatkit.types import Attachment, Page, ThreadItem, ThreadMetadata

from taskpilot.chatkit.context import RequestContext
from taskpilot.chatkit.items import USER, message_items, parse_item_id
from taskpilot.chatkit.items import thread_metadata as to_thread
from taskpilot.chatkit.widgets import shown_numbers
from taskpilot.core.db import Database
from taskpilot.data.models import NEW_CHAT_TITLE, Feedback, Message, Role, ToolCall, new_id
from taskpilot.services.conversations import ConversationNotFound, ConversationStore, Order
from taskpilot.services.public import TaskOut
from taskpilot.services.tasks import TaskService

logger = logging.getLogger("taskpilot.chatkit")

MAX_PAGE = 100
THREAD_NOT_FOUND = "That thread was not found."
NO_ATTACHMENTS = "TaskPilot's ChatKit server does not take attachments."


def item_not_found(item_id: str) -> str:
    return f"Item {item_id} was not found in this thread."


@dataclass(frozen=True)
class Located:
    """A thread item found in the database: the message it comes from and its place there."""

    message: Message
    index: int
    item: ThreadItem


async def _tasks_now(store: ConversationStore, messages: list[Message]) -> dict[int, TaskOut]:
    """The person's tasks, by number, that these messages' widgets show (one query)."""
    numbers = shown_numbers(call for m in messages for call in ToolCall.stored(m.tool_calls))
    if not numbers:
        return {}
    rows = await TaskService(store.session, store.user_id).numbered(numbers)
    return {row.number: TaskOut.of(row) for row in rows}


def _bounded(limit: int) -> int:
    return max(1, min(int(limit or 20), MAX_PAGE))


def _order(order: str) -> Order:
    return "asc" if order == "asc" else "desc"


class ConversationThreadStore(Store[RequestContext]):
    """ChatKit threads and items read from (and removed from) conversations and messages."""

    def __init__(self, db: Database) -> None:
        self.db = db

    @asynccontextmanager
    async def _conversations(self, context: RequestContext) -> AsyncIterator[ConversationStore]:
        """The caller's conversations; one that is not theirs is ChatKit's `NotFoundError`."""
        async with self.db.session() as session:
            try:
                yield ConversationStore(session, context.user_id)
            except ConversationNotFound as exc:
                raise NotFoundError(THREAD_NOT_FOUND) from exc

    # --- ids ----------------------------------------------------------------------------------

    def generate_thread_id(self, context: RequestContext) -> str:
        """Thread ids are conversation ids."""
        return new_id()

    def generate_item_id(
        self, item_type: StoreItemType, thread: ThreadMetadata, context: RequestContext
    ) -> str:
        """Ids for items ChatKit creates itself (the user's message), unlike ours (`msg_12`)."""
        return f"ck_{item_type}_{uuid.uuid4().hex}"

    # --- threads ------------------------------------------------------------------------------

    async def load_thread(self, thread_id: str, context: RequestContext) -> ThreadMetadata:
        """The caller's conversation as a thread."""
        async with self._conversations(context) as store:
            return to_thread(await store.get(thread_id))

    async def save_thread(self, thread: ThreadMetadata, context: RequestContext) -> None:
        """Create the conversation for a new thread, or rename an existing one."""
        async with self._conversations(context) as store:
            try:
                conversation = await store.get(thread.id)
            except ConversationNotFound:
                # Raises ConversationNotFound (so NotFoundError) if the id is someone else's.
                await store.create(thread.title or NEW_CHAT_TITLE, conversation_id=thread.id)
                return
            if thread.title and thread.title != conversation.title:
                renamed = await store.rename(thread.id, thread.title)
                thread.title = renamed.title  # as stored: trimmed (ChatKit answers with it)

    async def load_threads(
        self, limit: int, after: str | None, order: str, context: RequestContext
    ) -> Page[ThreadMetadata]:
        """The caller's conversations, most recently active first (or last, with "asc")."""
        size = _bounded(limit)
        async with self._conversations(context) as store:
            rows = await store.page(size + 1, after, _order(order))
        more = len(rows) > size
        rows = rows[:size]
        return Page(
            data=[to_thread(row) for row in rows],
            has_more=more,
            after=rows[-1].id if more and rows else None,
        )

    async def delete_thread(self, thread_id: str, context: RequestContext) -> None:
        """Delete the conversation and its messages."""
        async with self._conversations(context) as store:
            await store.delete(thread_id)

    # --- items --------------------------------------------------------------------------------

    async def load_thread_items(
        self,
        thread_id: str,
        after: str | None,
        limit: int,
        order: str,
        context: RequestContext,
    ) -> Page[ThreadItem]:
        """A page of the thread's items, oldest first with "asc", after the item `after`."""
        size, direction = _bounded(limit), _order(order)
        async with self._conversations(context) as store:
            await store.get(thread_id)
            items: list[ThreadItem] = []
            cursor: int | None = None
            if after:
                anchor = (await self._locate(store, thread_id, [after])).get(after)
                if anchor is None:
                    raise NotFoundError(item_not_found(after))
                tasks = await _tasks_now(store, [anchor.message])
                expanded = message_items(anchor.message, thread_id, tasks)
                if direction == "desc":
                    items = list(reversed(expanded[: anchor.index]))
                else:
                    items = expanded[anchor.index + 1 :]
                cursor = anchor.message.id
            exhausted = False
            while len(items) <= size and not exhausted:
                batch = await store.message_page(thread_id, cursor, size + 1, direction)
                exhausted = len(batch) <= size
                tasks = await _tasks_now(store, batch)
                for message in batch:
                    expanded = message_items(message, thread_id, tasks)
                    items.extend(expanded if direction == "asc" else reversed(expanded))
                if batch:
                    cursor = batch[-1].id
        page, more = items[:size], len(items) > size
        return Page(data=page, has_more=more, after=page[-1].id if more and page else None)

    async def load_item(self, thread_id: str, item_id: str, context: RequestContext) -> ThreadItem:
        """One item of the caller's thread."""
        async with self._conversations(context) as store:
            found = await self._find(store, thread_id, item_id)
        return found.item

    async def add_thread_item(
        self, thread_id: str, item: ThreadItem, context: RequestContext
    ) -> None:
        """Acknowledge: the items ChatKit adds are stored already (module docstring)."""
        logger.debug("chatkit item %s is stored by the turn engine", item.type)

    async def save_item(self, thread_id: str, item: ThreadItem, context: RequestContext) -> None:
        """Items are derived from messages; nothing ChatKit replaces is kept separately."""
        logger.debug("chatkit item %s is derived from messages, not saved", item.type)

    async def delete_thread_item(
        self, thread_id: str, item_id: str, context: RequestContext
    ) -> None:
        """Remove a turn's part on retry: a user message goes with its reply; a reply (or its
        tool calls) goes, keeping the calls' record for the retry. Gone already: nothing."""
        async with self._conversations(context) as store:
            await store.get(thread_id)
            found = (await self._locate(store, thread_id, [item_id])).get(item_id)
            if found is None:
                return
            if found.message.role == Role.ASSISTANT.value:
                await store.discard_reply(found.message)
            elif found.item.type == "user_message":
                await store.delete_message(found.message)
            # A failed turn's note and tool calls are part of its user message; they go when
            # the message is run again or deleted.

    async def rate_items(
        self, thread_id: str, item_ids: list[str], feedback: Feedback, context: RequestContext
    ) -> None:
        """Store feedback on the replies these items belong to (other ids are ignored): one
        query finds them, one update rates them, however many ids (the server caps them)."""
        async with self._conversations(context) as store:
            await store.get(thread_id)
            found = await self._locate(store, thread_id, item_ids)
            replies = {
                located.message.id
                for located in found.values()
                if located.message.role == Role.ASSISTANT.value and located.message.id
            }
            await store.rate(thread_id, sorted(replies), feedback)

    async def turn_items(
        self, thread_id: str, turn: int, context: RequestContext
    ) -> list[ThreadItem]:
        """The items of the turn started by user message `turn`, after the message itself,
        as a reload lists them (a paused turn asked again shows them so)."""
        async with self._conversations(context) as store:
            await store.get(thread_id)
            messages = await store.named_messages(thread_id, {turn}, {turn}, ())
            tasks = await _tasks_now(store, messages)
        items = [item for m in messages for item in message_items(m, thread_id, tasks)]
        return [item for item in items if item.type != "user_message"]

    async def tasks_now(self, numbers: set[int], context: RequestContext) -> dict[int, TaskOut]:
        """The caller's tasks with these numbers, as they are now (one query)."""
        async with self.db.session() as session:
            rows = await TaskService(session, context.user_id).numbered(numbers)
        return {row.number: TaskOut.of(row) for row in rows}

    async def reply_id(self, thread_id: str, turn: int, context: RequestContext) -> int | None:
        """The id of the stored reply to user message `turn` in this thread, if there is one."""
        async with self._conversations(context) as store:
            await store.get(thread_id)
            replies = await store.named_messages(thread_id, (), {turn}, ())
        return next((m.id for m in replies if m.role == Role.ASSISTANT.value), None)

    async def find_user_message(
        self, thread_id: str, item_id: str, context: RequestContext
    ) -> Message:
        """The stored user message behind a `user_message` item id (for retry)."""
        async with self._conversations(context) as store:
            found = await self._find(store, thread_id, item_id)
        if found.item.type != "user_message":
            raise NotFoundError("That item is not one of your messages.")
        return found.message

    async def _find(self, store: ConversationStore, thread_id: str, item_id: str) -> Located:
        await store.get(thread_id)
        found = (await self._locate(store, thread_id, [item_id])).get(item_id)
        if found is None:
            raise NotFoundError(item_not_found(item_id))
        return found

    @staticmethod
    async def _locate(
        store: ConversationStore, thread_id: str, values: Iterable[str]
    ) -> dict[str, Located]:
        """The messages these item ids come from, in this (already checked) thread, by id; an
        id found nowhere is left out. One query for all of them."""
        wanted = set(values)
        turns: set[int] = set()  # user messages named by our ids (`msg_12`, `reply_12`, ...)
        replied: set[int] = set()  # user messages whose reply may hold the item
        client_ids: set[str] = set()
        for value in wanted:
            ref = parse_item_id(value)
            if ref is None:
                # An id ChatKit made for a user message: kept as its client_message_id.
                client_ids.add(value)
                continue
            turns.add(ref.turn)
            if ref.kind != USER:
                # tools_/reply_/note_: the turn's user message (a failed turn keeps its calls
                # and note there) or its reply.
                replied.add(ref.turn)
        found: dict[str, Located] = {}
        # Oldest first: a turn's user message before its reply, as the ids were always read.
        messages = await store.named_messages(thread_id, turns, replied, client_ids)
        tasks = await _tasks_now(store, messages)
        for message in messages:
            expanded = message_items(message, thread_id, tasks)
            for index, item in enumerate(expanded):
                if item.id in wanted:
                    found.setdefault(item.id, Located(message, index, item))
            sent_as = message.client_message_id
            if sent_as in client_ids and message.role == Role.USER.value:
                found.setdefault(sent_as, Located(message, 0, expanded[0]))
        return found

    # --- attachments: not supported (requests that carry them are refused up front) ---------

    async def save_attachment(self, attachment: Attachment, context: RequestContext) -> None:
        """Attachments are not supported."""
        raise NotFoundError(NO_ATTACHMENTS)

    async def load_attachment(self, attachment_id: str, context: RequestContext) -> Attachment:
        """Attachments are not supported."""
        raise NotFoundError(NO_ATTACHMENTS)

    async def delete_attachment(self, attachment_id: str, context: RequestContext) -> None:
        """Attachments are not supported."""
        raise NotFoundError(NO_ATTACHMENTS)
