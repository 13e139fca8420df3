"""LiveState: the page following what the person does elsewhere (the live feed, `core/live.py`).

While a chat page is open, one background event per tab (`watch`, started by the page's
loader) reads the person's news and applies it inside `async with self`:

- a turn another tab (or the API, ChatKit) runs in the conversation shown streams here as it
  does where it started — the question read from the database, live text and tool cards, then
  the stored reply read again — with the composer waiting meanwhile (one turn at a time);
- any turn keeps the sidebar current (a conversation moves up, is named);
- `tasks_changed` reads the task panel again, whoever changed the tasks;
- `lost` (news missed: a slow tab, Redis away) reads the panel and the conversation again.

A tab has one watcher: a newer one (the next page load) supersedes it, and it ends when the
tab signs out or has been closed for TAB_GONE_SECONDS (Reflex does not cancel a background
event when its tab goes). Its own turns' news (marked with its `_tab`) it drops before taking
the page's state: the state lock is the tab's own stream's too, and over Redis each taking
loads and saves the state, so an idle watcher takes it only every STATE_CHECK_SECONDS.

News is best-effort (a worker can die mid-turn, Redis can drop a batch): a turn followed here
that has been quiet for QUIET_SECONDS is read again from the database, and stops being
followed once it is no longer running there.
"""

from __future__ import annotations

import logging
import time
import uuid

import reflex as rx
from pydantic import ValidationError

from taskpilot.agent.events import (
    LiveTurn,
    TurnDone,
    TurnError,
    TurnStarted,
    TurnTitled,
)
from taskpilot.core.live import LOST, TASKS_CHANGED, Message
from taskpilot.core.security import Identity
from taskpilot.runtime import get_runtime
from taskpilot.web.session import tab_connected
from taskpilot.web.states.auth import verified
from taskpilot.web.states.chat import STREAMING, ChatState
from taskpilot.web.states.history import HistoryState
from taskpilot.web.states.tasks import TaskState
from taskpilot.web.view_models import bump_conversation

logger = logging.getLogger("taskpilot.web")

# How often a watcher looks at whether its tab is still open (no state is taken for it).
LOOK_SECONDS = 5.0
# A watcher whose tab has been disconnected this long ends (a reload reconnects sooner).
TAB_GONE_SECONDS = 30.0
# How often an idle watcher takes the page's state to see that it is still the tab's watcher
# and that its sign-in has not been ended on another device.
STATE_CHECK_SECONDS = 30.0
# A followed turn with no news this long is read again from the database.
QUIET_SECONDS = 20.0


class LiveState(ChatState):
    """The tab's watcher of the live feed."""

    # The running watcher's key: a newer watcher (or signing out) ends the older one.
    _watch_key: str = ""

    @rx.event(background=True)
    async def watch(self, conversations: bool = True) -> None:
        """Follow the person's news while this tab is open (see the module's docs); on the
        ChatKit page (`conversations` false), its task panel and sidebar only."""
        key = uuid.uuid4().hex
        async with self:
            token = self.token
        identity = await verified(token)  # outside the lock: the JWKS or the database may wait
        if identity is None:
            return
        async with self:
            if self.token != token:
                return  # signed out or in again meanwhile: that page load starts its own
            self._watch_key = key
            self._tab = tab = self._tab or uuid.uuid4().hex
            client = self.router.session.client_token
        looked = checked = heard = time.monotonic()
        gone_since: float | None = None
        # As of the state last taken: following another tab's turn, in the conversation shown.
        watching, shown = False, ""
        async with get_runtime().live.subscribed(identity.user_id) as news:
            while True:
                message = await news.next(LOOK_SECONDS)
                now = time.monotonic()
                if message is not None and message.get("kind") == "turn":
                    if message.get("origin") == tab:
                        continue  # this tab's own turn: it streams it itself
                    if message.get("conversation_id") == shown:
                        heard = now
                if now - looked >= LOOK_SECONDS:  # the tab still open? (not at every message)
                    looked = now
                    if await tab_connected(client):
                        gone_since = None
                    elif gone_since is None:
                        gone_since = now
                    elif now - gone_since > TAB_GONE_SECONDS:
                        return
                quiet = watching and now - heard >= QUIET_SECONDS
                if message is None and not quiet and now - checked < STATE_CHECK_SECONDS:
                    continue
                due = now - checked >= STATE_CHECK_SECONDS
                checked = now if due else checked
                seen = await self._show_news(
                    key, token, identity, due, message, quiet, conversations
                )
                if seen is None:
                    return
                token, identity, watching, shown = seen
                if quiet:
                    heard = now

    async def _still_signed_in(
        self, key: str, token: str, identity: Identity
    ) -> tuple[str, Identity] | None:
        """The tab's token and identity now, if still the same person's (a token renewed
        for them is followed); None to end the watcher. Checked outside the page's lock (the
        JWKS or the database may be slow); vouched for while the JWKS is away only if it is
        the token verified before."""
        async with self:
            if self._watch_key != key:
                return None
            now_token = self.token
        current = await verified(now_token, identity if now_token == token else None)
        if current is None or current.user_id != identity.user_id:
            return None
        return now_token, current

    async def _show_news(
        self,
        key: str,
        token: str,
        identity: Identity,
        check: bool,
        message: Message | None,
        quiet: bool,
        conversations: bool,
    ) -> tuple[str, Identity, bool, str] | None:
        """Show a message's news, or (none came, and the turn followed has been quiet) the
        conversation read again, while the tab is signed in as the person watched: checked
        first when due (`check`) and whenever the tab's token changed since (signed in again
        in another tab: the token is the browser's). The token and identity then, and whether
        the tab follows a turn in the conversation it shows; None to end the watcher."""
        while True:
            if check:
                signed_in = await self._still_signed_in(key, token, identity)
                if signed_in is None:
                    return None
                token, identity = signed_in
            async with self:
                if self._watch_key != key:
                    return None
                check = self.token != token
                if check:
                    continue
                if message is not None:
                    await self._take(message, identity.user_id, conversations)
                elif quiet and self.watching:
                    await self._recheck(identity.user_id)
                return token, identity, self.watching, self.current_id

    async def _take(self, message: Message, user_id: str, conversations: bool) -> None:
        kind = message.get("kind")
        if kind == TASKS_CHANGED["kind"]:
            await (await self.get_state(TaskState))._reload(user_id)
        elif kind == LOST["kind"]:
            await (await self.get_state(TaskState))._reload(user_id)
            if conversations and self.current_id and not self._active_turn:
                await self._reread(user_id, self.current_id)
                self._detach()
        elif kind == "turn":
            try:
                turn = LiveTurn.model_validate(message)
            except ValidationError:
                logger.warning("live feed: a turn's news could not be read")
                return
            await self._follow(turn, user_id, conversations)

    async def _follow(self, turn: LiveTurn, user_id: str, conversations: bool) -> None:
        """Another tab's turn: the sidebar always; the conversation if it is the one shown
        and this tab is not running a turn of its own."""
        event = turn.event
        if isinstance(event, TurnStarted):
            history = await self.get_state(HistoryState)
            history.conversations = bump_conversation(
                history.conversations, event.conversation_id, event.title
            )
        elif isinstance(event, TurnTitled):
            await self._titled(event)
            return
        if not conversations or turn.conversation_id != self.current_id or self._active_turn:
            return
        if event is None or isinstance(event, TurnDone | TurnError):
            # Stored (or failed, or paused for an approval): show it as stored.
            if self.watching:
                await self._reread(user_id, turn.conversation_id)
                self._detach()
            return
        if isinstance(event, TurnStarted) or not self.watching:
            if isinstance(event, TurnStarted):
                await self._reread(user_id, turn.conversation_id)  # the question, stored
            self._detach()
            self.watching = True
            self.live_status = STREAMING
            if isinstance(event, TurnStarted):
                return
        await self._apply(event, True, turn.conversation_id, user_id)

    async def _recheck(self, user_id: str) -> None:
        """The turn followed here has been quiet: show the conversation as stored, and stop
        following unless its question is still running there (its end may have been lost)."""
        await self._reread(user_id, self.current_id)
        last = self.messages[-1] if self.messages else None
        if last is None or last.role != "user" or last.failed or last.awaiting:
            self._detach()
