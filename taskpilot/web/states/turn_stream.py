"""TurnStream: a turn streaming into the conversation on screen (a mixin of `ChatState`).

A turn is the turn engine's (`agent/engine.py`): it runs in a task of its own, and a
background event (`run_turn`) applies each of its events inside `async with self`, so text
appears as it is produced and other events (Stop, typing, the task panel) are handled
meanwhile. Stop cancels the turn through the engine; leaving the page does not. Nothing here
outlives a turn that the database does not also know: a reload rebuilds the page from the
stored conversation.

Approvals (`agent/engine/approvals.py`): a turn that reaches a delete pauses, and its stream
ends with `ApprovalAsked` instead of `done`. The page then keeps the turn's tool cards (the
waiting one with Approve and Cancel) under the question, which is how a reload shows a
question whose turn is `awaiting` too. A decision resumes the turn (`run_decision`) and an edit
answers the question's new version (`run_edit`), both through `run_turn`'s loop. A new message
instead declines the waiting call (the engine does that); the page then reads the conversation
again to show the stored decline.

It is a Reflex state mixin, not a state of its own: its fields and event handlers are
`ChatState`'s (the page binds `ChatState.run_turn`), and `LiveState` applies another tab's
turn with the same `_apply`. `ChatState` holds what the person does — load, send, retry,
decide, edit, stop — and this module what a turn does to the page once it runs.
"""

from __future__ import annotations

import dataclasses
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import reflex as rx

from taskpilot.agent.engine import PreparedTurn
from taskpilot.agent.events import (
    ApprovalAsked,
    TextDelta,
    ToolFinished,
    ToolStarted,
    TurnDone,
    TurnError,
    TurnEvent,
    TurnStarted,
    TurnTitled,
)
from taskpilot.core.db import DatabaseUnavailable
from taskpilot.core.errors import SOMETHING_WENT_WRONG, ErrorCode, TaskPilotError
from taskpilot.core.logs import new_request_id, request_id
from taskpilot.data.models import utcnow
from taskpilot.mcp.tools import TASK_CHANGING
from taskpilot.runtime import get_runtime
from taskpilot.services.conversations import ConversationNotFound
from taskpilot.web.routes import conversation_path, replace_url
from taskpilot.web.states.auth import DATABASE_DOWN, AuthState
from taskpilot.web.states.composer import COMPOSER_ID
from taskpilot.web.states.history import HistoryState
from taskpilot.web.states.stored import StoredPage, read_conversation
from taskpilot.web.states.tasks import TaskState
from taskpilot.web.view_models import (
    MessageView,
    ToolCardView,
    assistant_message,
    bump_conversation,
    cards_with_undo,
    finish_card,
    numbered,
    paused_question,
    stored_tool_cards,
    tool_card_awaiting,
    tool_card_finished,
    tool_card_started,
)

logger = logging.getLogger("taskpilot.web")

# How often a turn waiting on a slow model looks at the Stop flag.
STOP_POLL_SECONDS = 0.25

STREAMING, STOPPED, FAILED = "streaming", "stopped", "error"
SESSION_EXPIRED = "Your session has expired. Please log in again."
ENDED_EARLY = "The reply ended unexpectedly. Please try again."
# Approve or Cancel on a change that was decided meanwhile (another tab, the API, a new message).
ALREADY_DECIDED = "That was already decided elsewhere; the conversation is up to date now."
# Refusals that mean the page was behind: it reads the conversation again and says why.
CAUGHT_UP = {
    ErrorCode.APPROVAL_NOT_PENDING,
    ErrorCode.CONVERSATION_MOVED_ON,
    ErrorCode.MESSAGE_REPLACED,
}

# Prepares the turn a background event streams, for the signed-in person's id.
Preparing = Callable[[str], Awaitable[PreparedTurn]]


class TurnStream(AuthState, mixin=True):
    """The conversation's messages and the live turn shown below them until it is stored."""

    current_id: rx.Field[str] = rx.field("")
    messages: rx.Field[list[MessageView]] = rx.field(default_factory=list)
    # Whether messages before the earliest shown exist ("Show earlier messages").
    has_earlier: rx.Field[bool] = rx.field(False)
    # The turn being answered, shown below the messages until it is stored.
    live_status: rx.Field[str] = rx.field("")  # "" | streaming | stopped | error
    live_text: rx.Field[str] = rx.field("")
    live_tools: rx.Field[list[ToolCardView]] = rx.field(default_factory=list)
    live_error: rx.Field[str] = rx.field("")
    # A short note about the last thing the person did (not an error): "already decided".
    notice: rx.Field[str] = rx.field("")
    stopping: rx.Field[bool] = rx.field(False)
    # The live turn is one another tab (or the API, ChatKit) started: shown, not stoppable here.
    watching: rx.Field[bool] = rx.field(False)
    # Which turn may write to the page; a turn left behind (new chat, another conversation)
    # keeps running to completion without touching it.
    _active_turn: str = ""
    # Whether the live turn asked for an approval (`ApprovalAsked`): its events then end
    # without `done`, and the turn waits under its question.
    _asked: bool = False
    # The question as it waited, while a decision on it is being prepared: shown again,
    # buttons and all, if the decision cannot be taken (a limit, the database down).
    _deciding: MessageView | None = None
    # The messages as they were before an edit, while it is being prepared: shown again if
    # the edit is refused (a turn runs, it was edited elsewhere).
    _before_edit: list[MessageView] | None = None
    # This tab's name on the live feed: its own turns' news comes back marked with it.
    _tab: str = ""
    # The newest message of the conversation this tab has seen (read, sent, or streamed in):
    # an edit sends it, and is refused if the conversation went on past it elsewhere.
    _newest_seen: int = 0

    @rx.var
    def streaming(self) -> bool:
        """Whether a reply is streaming in."""
        return self.live_status == STREAMING

    def _show(self, page: StoredPage) -> None:
        """Show the conversation's newest page as stored (its current branch)."""
        self.messages, self.has_earlier = page.messages, page.earlier
        self._newest_seen = max((message.id for message in page.messages), default=0)

    def _detach(self) -> None:
        """Let a running turn finish unseen; clear the live block."""
        self._active_turn = ""
        self.live_status = ""
        self.live_text = ""
        self.live_tools = []
        self.live_error = ""
        self.notice = ""
        self.stopping = False
        self.watching = False
        self._asked = False
        self._deciding = None
        self._before_edit = None

    @rx.event(background=True)
    async def run_turn(
        self, turn_key: str, text: str, client_message_id: str, conversation_id: str
    ) -> AsyncIterator[Any]:
        """Run one turn through the turn engine, applying its events as they arrive."""

        def prepare(user_id: str) -> Awaitable[PreparedTurn]:
            return get_runtime().turns.prepare(
                user_id, conversation_id or None, text, client_message_id
            )

        async for follow_up in self._stream(turn_key, conversation_id, prepare):
            yield follow_up

    @rx.event(background=True)
    async def run_retry(
        self, turn_key: str, conversation_id: str, message_id: int
    ) -> AsyncIterator[Any]:
        """Run the stored question `message_id` (an edit's version, which has no client id to
        be resumed by) again, as `run_turn` runs a question."""

        def prepare(user_id: str) -> Awaitable[PreparedTurn]:
            return get_runtime().turns.prepare_retry(user_id, conversation_id, message_id)

        async for follow_up in self._stream(turn_key, conversation_id, prepare):
            yield follow_up

    @rx.event(background=True)
    async def run_edit(
        self, turn_key: str, conversation_id: str, message_id: int, text: str, seen: int = 0
    ) -> AsyncIterator[Any]:
        """Answer the new version of question `message_id`, as `run_turn` answers a question;
        refused if the conversation went on past message `seen` elsewhere."""

        def prepare(user_id: str) -> Awaitable[PreparedTurn]:
            return get_runtime().turns.prepare_edit(
                user_id, conversation_id, message_id, text, seen=seen or None
            )

        async for follow_up in self._stream(turn_key, conversation_id, prepare):
            yield follow_up

    @rx.event(background=True)
    async def run_decision(
        self, turn_key: str, conversation_id: str, call_id: str, approve: bool
    ) -> AsyncIterator[Any]:
        """Resume the conversation's paused turn with the person's decision on `call_id`,
        applying its events as `run_turn` does."""

        def prepare(user_id: str) -> Awaitable[PreparedTurn]:
            return get_runtime().turns.prepare_decision(user_id, conversation_id, call_id, approve)

        async for follow_up in self._stream(turn_key, conversation_id, prepare):
            yield follow_up

    async def _stream(
        self, turn_key: str, conversation_id: str, prepare: Preparing
    ) -> AsyncIterator[Any]:
        """Prepare a turn, start it in the engine and apply its events until it ends (or the
        person stops it); yields the events to fire once the state is saved."""
        request_id.set(new_request_id())  # this task's log lines, like an API request's
        runtime = get_runtime()
        async with self:
            self._tab = self._tab or uuid.uuid4().hex
            origin = self._tab
        _, identity = await self._token_and_identity()
        if identity is None:
            async with self:
                self._refused(turn_key, SESSION_EXPIRED)
            return
        try:
            turn = await prepare(identity.user_id)
        except TaskPilotError as exc:  # the database being down included
            if exc.code in CAUGHT_UP:
                notice = (
                    ALREADY_DECIDED if exc.code is ErrorCode.APPROVAL_NOT_PENDING else exc.message
                )
                await self._catch_up(turn_key, identity.user_id, conversation_id, notice)
                return
            async with self:
                self._refused(turn_key, exc.message)
            return
        except Exception:
            logger.exception("could not start a turn")
            async with self:
                self._refused(turn_key, SOMETHING_WENT_WRONG)
            return

        # The turn runs in the engine's task: if this handler ends early (the page closed,
        # the worker stopping), the turn still ends, stored.
        running = runtime.turns.start(turn, origin)
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
                    follow_ups = await self._apply(
                        event, attached, conversation_id, identity.user_id
                    )
                elif not idle:
                    follow_ups = self._ended_without_done(turn_key)
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

    def _ended_without_done(self, turn_key: str) -> list[Any]:
        """The turn's events ended without `done`: it paused for the person's approval (its
        cards move under the question, which waits there), or it ended unexpectedly."""
        if self._active_turn != turn_key:
            return []
        if not self._asked:
            self._fail_live(turn_key, ENDED_EARLY)  # no done/error/approval event came
            return []
        last = len(self.messages) - 1
        if last >= 0 and self.messages[last].role == "user":
            paused = paused_question(self.messages[last], self.live_tools, self.live_text)
            self.messages = [*self.messages[:last], paused]
        self._detach()
        return [rx.set_focus(COMPOSER_ID)]

    async def _catch_up(
        self, turn_key: str, user_id: str, conversation_id: str, notice: str
    ) -> None:
        """The page was behind: a decision on a change no longer waiting (decided in another
        tab or through the API, or declined by a newer message), an edit of a conversation
        that went on elsewhere or of a question edited there. Say so (`notice`), and show the
        stored conversation."""
        try:
            page = await read_conversation(user_id, conversation_id)
        except (DatabaseUnavailable, ConversationNotFound) as exc:
            async with self:
                reason = DATABASE_DOWN if isinstance(exc, DatabaseUnavailable) else str(exc)
                self._fail_live(turn_key, reason)
            return
        async with self:
            if self._active_turn == turn_key:
                self._detach()
                self._show(page)
                self.notice = notice

    def _refused(self, turn_key: str, message: str) -> None:
        """The turn could not start: say why. A decision that could not be taken leaves its
        question waiting as it was, to be decided again."""
        if self._active_turn == turn_key and self._deciding is not None:
            self.messages = [*self.messages[:-1], self._deciding]
            self.live_tools, self.live_text = [], ""
        if self._active_turn == turn_key and self._before_edit:
            self.messages = self._before_edit
        self._fail_live(turn_key, message)

    def _fail_live(self, turn_key: str, message: str) -> None:
        """Show `message` as the turn's error, if that turn still owns the page."""
        if self._active_turn == turn_key:
            self.live_status = FAILED
            self.live_error = message
            self.stopping = False
            self._active_turn = ""

    async def _apply(
        self, event: TurnEvent, attached: bool, conversation_id: str, user_id: str
    ) -> list[Any]:
        """Show one event of the turn; returns events to fire once the state is saved.

        A turn left behind (`attached` false) only keeps the sidebar and the task panel
        current; the page now shows something else.
        """
        follow_ups: list[Any] = []
        if isinstance(event, ToolFinished) and event.name in TASK_CHANGING and not event.is_error:
            follow_ups.append(TaskState.load_tasks)
        if isinstance(event, TurnStarted):
            if attached:
                self._before_edit = None  # stored: a refusal no longer puts it back
                self.messages = numbered(self.messages, event.user_message_id)
                self._newest_seen = max(self._newest_seen, event.user_message_id)
            follow_ups += await self._started(event, attached, new_chat=not conversation_id)
            if attached and any(message.awaiting for message in self.messages):
                await self._reread(user_id, event.conversation_id)
        elif isinstance(event, TurnTitled):
            await self._titled(event)
        elif not attached:
            if isinstance(event, TurnDone | TurnError) and self._back_on(conversation_id):
                await self._reread(user_id, conversation_id)  # left, then came back to it
        elif isinstance(event, TextDelta):
            self.live_text += event.delta
        elif isinstance(event, ToolStarted):
            card = tool_card_started(event.call_id, event.name, event.arguments)
            self.live_tools = [*self.live_tools, card]
        elif isinstance(event, ToolFinished):
            card = tool_card_finished(
                event.call_id,
                event.name,
                event.arguments,
                event.result,
                event.is_error,
                event.approval.value if event.approval else "",
            )
            self.live_tools = finish_card(self.live_tools, card)
        elif isinstance(event, ApprovalAsked):
            card = tool_card_awaiting(event.call, event.summary)
            self.live_tools = finish_card(self.live_tools, card)
            self._asked = True
        elif isinstance(event, TurnDone):
            calls, stored_id = event.tool_calls, event.message_id
            cards = (
                cards_with_undo(self.live_tools, stored_id, calls)
                if self.live_tools
                else stored_tool_cards(calls, message_id=stored_id)  # a replayed turn
            )
            reply = assistant_message(event.message_id, event.response, cards, utcnow())
            self.messages = [*self.messages, reply]
            self._newest_seen = max(self._newest_seen, event.message_id)
            self._detach()
            follow_ups.append(rx.set_focus(COMPOSER_ID))
        elif isinstance(event, TurnError) and event.code == ErrorCode.TURN_STOPPED:
            self.live_status, self.stopping, self._active_turn = STOPPED, False, ""  # elsewhere
        elif isinstance(event, TurnError):
            # The agent service words its errors for the person; never an exception's text.
            self._fail_live(self._active_turn, event.message)
        return follow_ups

    def _back_on(self, conversation_id: str) -> bool:
        """Whether the page shows this conversation again, idle: a turn of it this tab left
        behind (its watcher leaves the tab's own turns alone) ends here as stored."""
        return self.current_id == conversation_id and not self._active_turn and not self.watching

    async def _reread(self, user_id: str, conversation_id: str) -> None:
        """Show the conversation as stored: a new message has declined the change that was
        waiting on the page, and the engine stored a reply saying so before the question."""
        try:
            self._show(await read_conversation(user_id, conversation_id))
        except (DatabaseUnavailable, ConversationNotFound):
            logger.warning("could not read the conversation again after a declined approval")

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
