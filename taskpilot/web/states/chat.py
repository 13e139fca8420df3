"""ChatState: the conversation on screen and the turn streaming into it.

A turn is the turn engine's (`agent/engine.py`): it runs in a task of its own, and a
background event (`run_turn`) applies each of its events inside `async with self`, so text
appears as it is produced and other events (Stop, typing, the task panel) are handled
meanwhile. Stop cancels the turn through the engine; leaving the page does not. Nothing here
outlives a turn that the database does not also know: a reload rebuilds the page from the
stored conversation.
"""

from __future__ import annotations

import dataclasses
import logging
import uuid
from typing import Any

import reflex as rx

from taskpilot.agent.events import (
    TextDelta,
    ToolFinished,
    ToolStarted,
    TurnDone,
    TurnError,
    TurnEvent,
    TurnStarted,
    TurnTitled,
)
from taskpilot.agent.providers import describe_model
from taskpilot.core.config import get_settings
from taskpilot.core.db import DatabaseUnavailable
from taskpilot.core.errors import SOMETHING_WENT_WRONG, TaskPilotError
from taskpilot.core.logs import new_request_id, request_id
from taskpilot.data.models import utcnow
from taskpilot.mcp.tools import TASK_CHANGING
from taskpilot.runtime import get_runtime
from taskpilot.services.conversations import (
    ConversationNotFound,
    ConversationStore,
)
from taskpilot.services.public import MessageOut
from taskpilot.services.tasks import TaskService
from taskpilot.services.users import AccountError, UserService
from taskpilot.web.routes import conversation_id_from_path, conversation_path, replace_url
from taskpilot.web.states.auth import DATABASE_DOWN, AuthState
from taskpilot.web.states.composer import ComposerState
from taskpilot.web.states.history import HISTORY_LIMIT, HistoryState
from taskpilot.web.states.tasks import TaskState
from taskpilot.web.view_models import (
    MessageView,
    ToolCardView,
    assistant_message,
    bump_conversation,
    failed_last_turn,
    finish_card,
    message_view,
    pending_user_message,
    stored_tool_cards,
    tool_card_finished,
    tool_card_started,
)

logger = logging.getLogger("taskpilot.web")

# The newest messages a conversation page shows.
MESSAGE_LIMIT = 200
# How often a turn waiting on a slow model looks at the Stop flag.
STOP_POLL_SECONDS = 0.25
COMPOSER_ID = "composer"

STREAMING, STOPPED, FAILED = "streaming", "stopped", "error"
SESSION_EXPIRED = "Your session has expired. Please log in again."
ENDED_EARLY = "The reply ended unexpectedly. Please try again."


class ChatState(AuthState):
    """The conversation on screen (from the URL), its messages, and the live turn."""

    current_id: rx.Field[str] = rx.field("")
    missing: rx.Field[bool] = rx.field(False)
    load_error: rx.Field[str] = rx.field("")
    messages: rx.Field[list[MessageView]] = rx.field(default_factory=list)
    # The turn being answered, shown below the messages until it is stored.
    live_status: rx.Field[str] = rx.field("")  # "" | streaming | stopped | error
    live_text: rx.Field[str] = rx.field("")
    live_tools: rx.Field[list[ToolCardView]] = rx.field(default_factory=list)
    live_error: rx.Field[str] = rx.field("")
    stopping: rx.Field[bool] = rx.field(False)
    model_note: rx.Field[str] = rx.field(describe_model(get_settings()))
    max_chars: rx.Field[int] = rx.field(get_settings().max_message_chars)
    # Which turn may write to the page; a turn left behind (new chat, another conversation)
    # keeps running to completion without touching it.
    _active_turn: str = ""
    _retry_text: str = ""
    _retry_client_id: str = ""

    @rx.var
    def streaming(self) -> bool:
        """Whether a reply is streaming in."""
        return self.live_status == STREAMING

    @rx.var
    def retry_key(self) -> str:
        """The key of the stored last message when its turn failed (it can be retried)."""
        if self.live_status:
            return ""
        failed = failed_last_turn(self.messages)
        return failed.key if failed is not None else ""

    # --- loading ------------------------------------------------------------------------

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
                title, messages, missing = "", [], False
                if route_id:
                    try:
                        title = (await store.get(route_id)).title
                        rows = await store.messages(route_id, limit=MESSAGE_LIMIT)
                        messages = [message_view(MessageOut.of(row)) for row in rows]
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
        self.messages = messages
        history.current_title = title
        return ask_zone

    def _detach(self) -> None:
        """Let a running turn finish unseen; clear the live block."""
        self._active_turn = ""
        self.live_status = ""
        self.live_text = ""
        self.live_tools = []
        self.live_error = ""
        self.stopping = False

    # --- sending --------------------------------------------------------------------------

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
            return await self._begin(self._retry_text, self._retry_client_id)
        failed = failed_last_turn(self.messages)
        if failed is None:
            return None
        self.messages = [*self.messages[:-1], dataclasses.replace(failed, failed=False, error="")]
        # A message stored without a client id cannot be resumed; it is sent again instead.
        return await self._begin(failed.content, failed.client_message_id or None)

    async def _begin(self, raw: str, retry_client_id: str | None = None) -> Any:
        if self.streaming:
            return None
        if await self._identity() is None:
            return await self._sign_out()
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
        self.live_status = STREAMING
        return ChatState.run_turn(self._active_turn, text, client_message_id, self.current_id)  # type: ignore[misc]

    @rx.event
    def stop(self) -> None:
        """Ask the streaming turn to stop; `run_turn` notices within one event or poll."""
        if self.streaming:
            self.stopping = True

    # --- the turn ---------------------------------------------------------------------------

    @rx.event(background=True)
    async def run_turn(
        self, turn_key: str, text: str, client_message_id: str, conversation_id: str
    ) -> Any:
        """Run one turn through the agent service, applying its events as they arrive."""
        request_id.set(new_request_id())  # this task's log lines, like an API request's
        runtime = get_runtime()
        async with self:
            identity = await self._identity()
        if identity is None:
            async with self:
                self._fail_live(turn_key, SESSION_EXPIRED)
            return
        try:
            turn = await runtime.turns.prepare(
                identity.user_id, conversation_id or None, text, client_message_id
            )
        except TaskPilotError as exc:  # the database being down included
            async with self:
                self._fail_live(turn_key, exc.message)
            return
        except Exception:
            logger.exception("could not start a turn")
            async with self:
                self._fail_live(turn_key, SOMETHING_WENT_WRONG)
            return

        # The turn runs in the engine's task: if this handler ends early (the page closed,
        # the worker stopping), the turn still ends, stored.
        running = runtime.turns.start(turn)
        while True:
            try:
                event = await running.next_event(STOP_POLL_SECONDS)
                idle = False
            except TimeoutError:
                event, idle = None, True
            follow_ups: list[Any] = []
            async with self:
                attached = self._active_turn == turn_key
                if attached and self.stopping and not running.ended:
                    break
                if event is not None:
                    follow_ups = await self._apply(event, attached, conversation_id)
                elif not idle:
                    self._fail_live(turn_key, ENDED_EARLY)  # no done/error event came
            for follow_up in follow_ups:
                yield follow_up
            if event is None and not idle:
                return
        # Stop: the engine cancels the turn and marks it stopped.
        running.stop()
        await running.wait()
        async with self:
            if self._active_turn == turn_key:
                self.live_status = STOPPED
                self.stopping = False
                self._active_turn = ""

    def _fail_live(self, turn_key: str, message: str) -> None:
        """Show `message` as the turn's error, if that turn still owns the page."""
        if self._active_turn == turn_key:
            self.live_status = FAILED
            self.live_error = message
            self.stopping = False
            self._active_turn = ""

    async def _apply(self, event: TurnEvent, attached: bool, conversation_id: str) -> list[Any]:
        """Show one event of the turn; returns events to fire once the state is saved.

        A turn left behind (`attached` false) only keeps the sidebar and the task panel
        current; the page now shows something else.
        """
        follow_ups: list[Any] = []
        if isinstance(event, ToolFinished) and event.name in TASK_CHANGING and not event.is_error:
            follow_ups.append(TaskState.load_tasks)
        if isinstance(event, TurnStarted):
            follow_ups += await self._started(event, attached, new_chat=not conversation_id)
        elif isinstance(event, TurnTitled):
            await self._titled(event)
        elif not attached:
            pass
        elif isinstance(event, TextDelta):
            self.live_text += event.delta
        elif isinstance(event, ToolStarted):
            card = tool_card_started(event.call_id, event.name, event.arguments)
            self.live_tools = [*self.live_tools, card]
        elif isinstance(event, ToolFinished):
            card = tool_card_finished(
                event.call_id, event.name, event.arguments, event.result, event.is_error
            )
            self.live_tools = finish_card(self.live_tools, card)
        elif isinstance(event, TurnDone):
            cards = self.live_tools or stored_tool_cards(event.tool_calls)  # a replayed turn
            reply = assistant_message(event.message_id, event.response, cards, utcnow())
            self.messages = [*self.messages, reply]
            self._detach()
            follow_ups.append(rx.set_focus(COMPOSER_ID))
        elif isinstance(event, TurnError):
            # The agent service words its errors for the person; never an exception's text.
            self._fail_live(self._active_turn, event.message)
        return follow_ups

    async def _titled(self, event: TurnTitled) -> None:
        """The title the engine chose after the conversation's first reply: in the sidebar,
        and above the chat if that conversation is the one shown (it comes after `done`)."""
        history = await self.get_state(HistoryState)
        history.conversations = [
            dataclasses.replace(view, title=event.title)
            if view.id == event.conversation_id
            else view
            for view in history.conversations
        ]
        if self.current_id == event.conversation_id:
            history.current_title = event.title

    async def _started(self, event: TurnStarted, attached: bool, new_chat: bool) -> list[Any]:
        """The conversation exists and the message is stored: list it, and name it in the URL."""
        history = await self.get_state(HistoryState)
        history.conversations = bump_conversation(
            history.conversations, event.conversation_id, event.title
        )
        if not attached:
            return []
        self.current_id = event.conversation_id
        history.current_title = event.title
        if not new_chat:
            return []
        # The first message of a new chat: from now on the URL names the conversation. The URL
        # is replaced in place: a route change would re-render the page and run `load_page`
        # mid-stream, delaying the first token. (React Router's own location stays at `/`
        # until the next navigation, so handlers read `current_id`, not the router's path.)
        return [replace_url(conversation_path(event.conversation_id))]
