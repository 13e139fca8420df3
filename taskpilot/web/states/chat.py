"""ChatState: the conversation on screen (from the URL) and what the person does with it.

Loading reads the person's data for `/` and `/c/<id>`; "Show earlier messages" reads the page
of messages before the first shown (`stored.py` reads them). Sending, a prompt chip, Retry,
Approve or Cancel (`decide`) and an edit's Save (`states/edits.py` checks it, `begin_edit`
starts it) each put the question on the page at once and start a background event that
streams the turn in below it (`turn_stream.py`, a mixin of this state: its fields and event
handlers are this state's, so the page binds `ChatState.run_turn`). Stop only raises a flag
that the streaming turn reads.
"""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any

import reflex as rx

from taskpilot.agent.providers import describe_model
from taskpilot.core.config import get_settings
from taskpilot.core.db import DatabaseUnavailable
from taskpilot.data.models import utcnow
from taskpilot.runtime import get_runtime
from taskpilot.services.conversations import ConversationNotFound, ConversationStore
from taskpilot.services.tasks import TaskService
from taskpilot.services.users import AccountError, UserService
from taskpilot.web.routes import conversation_id_from_path
from taskpilot.web.states.auth import DATABASE_DOWN, AuthState
from taskpilot.web.states.composer import ComposerState
from taskpilot.web.states.history import HISTORY_LIMIT, HistoryState
from taskpilot.web.states.stored import (
    StoredPage,
    message_element_id,
    read_conversation,
    stored_messages,
)
from taskpilot.web.states.tasks import TaskState
from taskpilot.web.states.turn_stream import STREAMING, TurnStream
from taskpilot.web.view_models import (
    awaiting_question,
    failed_last_turn,
    pending_user_message,
    resumed_question,
    tool_card_decided,
)


class ChatState(TurnStream, AuthState):
    """The conversation on screen (from the URL), its messages, and the live turn.

    `AuthState` is named again for Reflex: a state whose bases are all mixins is a mixin too,
    and the parent state in the tree is the first base that is not one."""

    missing: rx.Field[bool] = rx.field(False)
    load_error: rx.Field[str] = rx.field("")
    model_note: rx.Field[str] = rx.field(describe_model(get_settings()))
    max_chars: rx.Field[int] = rx.field(get_settings().max_message_chars)
    # The last question sent, run again by Retry after an error or a stop (an edit has no
    # client id: its stored version runs again by id, or the edit of `_retry_edit_of` is
    # made again if it was refused).
    _retry_text: str = ""
    _retry_client_id: str = ""
    _retry_edit_of: int = 0

    @rx.var
    def retry_key(self) -> str:
        """The key of the stored last message when its turn failed (it can be retried)."""
        if self.live_status:
            return ""
        failed = failed_last_turn(self.messages)
        return failed.key if failed is not None else ""

    @rx.event
    async def load_page(self) -> Any:
        """On `/` and `/c/<id>`: check the token, then load the person's data from the DB."""
        identity = await self._identity()
        if identity is None:
            return await self._sign_out()
        route_id = conversation_id_from_path(self.router.url.path)
        # Our own move to /c/<id> after a new chat's first message: the page already shows
        # everything, so return at once — this handler holds the state lock, and the live
        # turn's next text delta waits for it.
        if self._active_turn and route_id == self.current_id:
            return None
        history = await self.get_state(HistoryState)
        tasks = await self.get_state(TaskState)
        try:
            async with get_runtime().db.session() as session:
                user = await UserService(session).ensure(identity)
                store = ConversationStore(session, user.id)
                conversations = await store.recent(HISTORY_LIMIT)
                task_rows = await TaskService(session, user.id).find(tasks._query())
                title, page, missing = "", StoredPage([], earlier=False), False
                if route_id:
                    try:
                        title = (await store.get(route_id)).title
                        page = await stored_messages(get_runtime().db, store, route_id)
                    except ConversationNotFound:
                        missing = True
        except AccountError:
            return await self._sign_out()
        except DatabaseUnavailable:
            self.load_error = DATABASE_DOWN
            return None
        self.user_name, self.user_email = user.display_name, user.email
        ask_zone = self._ask_zone(user)  # first: the task panel marks "overdue" in it
        history._show(conversations)
        tasks._show(task_rows)
        self.load_error = ""
        self._detach()
        self.current_id = "" if missing else route_id
        self.missing = missing
        self._show(page)
        history.current_title = title
        return ask_zone

    async def show_current(self, user_id: str) -> None:
        """The conversation as it is now (after an earlier version of a question was shown)."""
        try:
            self._show(await read_conversation(user_id, self.current_id))
        except (DatabaseUnavailable, ConversationNotFound):
            self.load_error = DATABASE_DOWN

    @rx.event
    async def load_earlier(self) -> Any:
        """Scrolled back past the earliest message shown: load the page before it, and keep
        the message that was first in view."""
        identity = await self._identity()
        if identity is None:
            return await self._sign_out()
        stored = [message for message in self.messages if message.id > 0]
        if not self.current_id or not stored or not self.has_earlier:
            return None
        first = stored[0]
        try:
            page = await read_conversation(identity.user_id, self.current_id, first.id)
        except DatabaseUnavailable:
            self.load_error = DATABASE_DOWN
            return None
        except ConversationNotFound:
            self.has_earlier = False
            return None
        self.messages = [*page.messages, *self.messages]
        self.has_earlier = page.earlier
        return rx.scroll_to(message_element_id(first.key))

    @rx.event
    async def send(self, form_data: dict[str, Any]) -> Any:
        """The composer was submitted (Enter or Send)."""
        return await self._begin(str(form_data.get("message") or ""))

    @rx.event
    async def send_prompt(self, prompt: str) -> Any:
        """A prompt chip on the start screen was clicked."""
        return await self._begin(prompt)

    @rx.event
    async def retry(self) -> Any:
        """Run the last turn again (after an error, a stop, or a failure found on reload)."""
        if self.streaming:
            return None
        if self.live_status and self._retry_text:
            if self._retry_client_id:
                return await self._begin(self._retry_text, self._retry_client_id)
            return self._retry_edit()
        failed = failed_last_turn(self.messages)
        if failed is None:
            return None
        self.messages = [*self.messages[:-1], dataclasses.replace(failed, failed=False, error="")]
        if not failed.client_message_id and failed.id > 0:  # an edit's version: by its id
            return self._rerun(failed.id)
        # A message stored without a client id cannot be resumed; it is sent again instead.
        return await self._begin(failed.content, failed.client_message_id or None)

    def _retry_edit(self) -> Any:
        """Retry after an edit ended in an error: its version, if it was stored, runs again
        (it is the conversation's last question); if the edit was refused before, it is
        made again."""
        last = self.messages[-1] if self.messages else None
        stored = last is not None and last.role == "user" and last.id > 0 and not last.replaced
        if last is not None and stored and self._retry_edit_of in last.version_ids:
            return self._rerun(last.id)  # the edit's version, stored before it failed
        index = next((i for i, m in enumerate(self.messages) if m.id == self._retry_edit_of), None)
        if index is None or self._retry_edit_of <= 0:
            return None
        return self.begin_edit(index, self._retry_text)

    def _rerun(self, message_id: int) -> Any:
        """Run the stored question `message_id`, the conversation's last, again."""
        self._detach()
        self._active_turn = uuid.uuid4().hex
        self.live_status = STREAMING
        return ChatState.run_retry(self._active_turn, self.current_id, message_id)  # type: ignore[misc]

    async def _begin(self, raw: str, retry_client_id: str | None = None) -> Any:
        if self.streaming:
            return None
        identity = await self._identity()
        if identity is None:
            return await self._sign_out()
        if any(message.replaced for message in self.messages):
            await self.show_current(identity.user_id)  # an earlier version is read-only
        text = raw.strip()
        if not text or len(text) > self.max_chars:
            return None  # the composer's counter and max length already say why
        client_message_id = retry_client_id or uuid.uuid4().hex
        if retry_client_id is None or not self.messages or self.messages[-1].role != "user":
            self.messages = [
                *self.messages,
                pending_user_message(text, client_message_id, utcnow()),
            ]
        composer = await self.get_state(ComposerState)
        composer.draft = ""
        self.missing = False  # writing on a missing conversation's page starts a new one
        self._detach()
        self._active_turn = uuid.uuid4().hex
        self._retry_text, self._retry_client_id = text, client_message_id
        self._retry_edit_of = 0
        self.live_status = STREAMING
        return ChatState.run_turn(self._active_turn, text, client_message_id, self.current_id)  # type: ignore[misc]

    def begin_edit(self, index: int, text: str) -> Any:
        """Edit and re-answer (`states/edits.py` checked it): the question at `index` and what
        followed it give way to its new version, answered below it as any turn is."""
        question, before = self.messages[index], self.messages
        ids = question.version_ids or [question.id]
        sent = dataclasses.replace(
            pending_user_message(text, "", utcnow()),
            version=len(ids) + 1,
            versions=len(ids) + 1,
            version_ids=list(ids),
        )
        self.messages = [*self.messages[:index], sent]
        self._detach()
        self._before_edit = before
        self._active_turn = uuid.uuid4().hex
        self._retry_text, self._retry_client_id = text, ""
        self._retry_edit_of = question.id
        self.live_status = STREAMING
        return ChatState.run_edit(  # type: ignore[misc]
            self._active_turn, self.current_id, question.id, text, self._newest_seen
        )

    @rx.event(background=True)
    async def stop(self) -> None:
        """Ask the streaming turn to stop; `run_turn` notices within one event or poll. A turn
        another tab (or the API, ChatKit) started is stopped by the worker running it
        (`TurnEngine.request_stop`, a write made outside the page's state lock); its end then
        arrives here as any news of it does."""
        async with self:
            if not self.streaming:
                return
            if not self.watching:
                self.stopping = True
                return
            conversation_id = self.current_id
        token, identity = await self._token_and_identity()
        if identity is None or not conversation_id:
            return
        asked = True
        try:
            await get_runtime().turns.request_stop(identity.user_id, conversation_id)
        except DatabaseUnavailable:
            asked = False
        async with self:
            if self.token != token or self.current_id != conversation_id:
                return  # signed in again, or another conversation shown, meanwhile
            if not asked:
                self.live_error = DATABASE_DOWN
            elif self.watching:
                self.stopping = True

    @rx.event
    async def decide(self, call_id: str, approve: bool) -> Any:
        """Approve or Cancel on a tool card that waits for the person: the question's paused
        turn resumes below it with the decision, streaming as any turn does."""
        if self.streaming:
            return None
        if await self._identity() is None:
            return await self._sign_out()
        index = awaiting_question(self.messages, call_id)
        if index is None:
            return None  # not (or no longer) shown as waiting: nothing to decide
        question = self.messages[index]
        # While a question waits, nothing after it can be stored (a stored message would have
        # declined it): what the page shows below it is a message refused before it was sent.
        self.messages = [*self.messages[:index], resumed_question(question)]
        self._detach()
        self._deciding = question
        self.live_tools = [
            tool_card_decided(card, approve) if card.call_id == call_id else card
            for card in question.tool_calls
        ]
        self.live_text = question.reply_so_far
        self._active_turn = uuid.uuid4().hex
        # Retry after a failed resume runs the question again, as after any failed turn.
        self._retry_text, self._retry_client_id = question.content, question.client_message_id
        self.live_status = STREAMING
        return ChatState.run_decision(self._active_turn, self.current_id, call_id, approve)  # type: ignore[misc]
