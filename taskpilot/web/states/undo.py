"""UndoState: a tool card's Undo (`agent/undo_calls.py` takes back exactly that call's change,
once, through the MCP `undo_change` tool); the card then reads "Undone", or why not."""

from __future__ import annotations

from typing import Any

import reflex as rx

from taskpilot.agent.undo_calls import Undone, undo_call
from taskpilot.core.db import DatabaseUnavailable
from taskpilot.runtime import get_runtime
from taskpilot.web.states.auth import DATABASE_DOWN, AuthState
from taskpilot.web.states.chat import ChatState
from taskpilot.web.states.tasks import TaskState
from taskpilot.web.view_models import card_undo


class UndoState(AuthState):
    """The Undo buttons of the conversation's tool cards."""

    @rx.event(background=True)
    async def undo(self, message_id: int, index: int) -> Any:
        """Undo the change of call `index` of reply `message_id`; the card then reads
        "Undone" and the task panel reloads. A refused undo leaves the card as it was, with
        the tool's reason. In the background: the change is written outside the page's
        state lock (`TaskState._change`)."""
        token, identity = await self._token_and_identity()
        if identity is None:
            return await self._sign_out_if_still(token)
        runtime = get_runtime()
        try:
            done = await undo_call(
                runtime.db, runtime.turns.mcp, identity.user_id, message_id, index
            )
        except DatabaseUnavailable:
            done = Undone(False, DATABASE_DOWN)
        async with self:
            if self.token != token:
                return None
            chat = await self.get_state(ChatState)
            chat.messages = card_undo(
                chat.messages, message_id, index, undone=done.undone, refused=done.refused
            )
        return TaskState.load_tasks if done.undone else None
