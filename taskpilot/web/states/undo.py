"""UndoState: a tool card's Undo. It takes back exactly that call's change through the MCP
`undo_change` tool (the one gate for task changes, as the task panel's buttons use it),
given the call's stored result.

The call is claimed first (`services/undo_marks.py`: a conditional update of its reply), so
two Undos at once — two tabs, a double click — reverse the change once; when the tool refuses
(the task changed since, its number is taken) the claim is given back and the card says why.
"""

from __future__ import annotations

import logging
from typing import Any

import reflex as rx

from taskpilot.agent.mcp_client import ToolRefused
from taskpilot.core.db import DatabaseUnavailable
from taskpilot.data.models import ToolCall
from taskpilot.mcp.tools import ToolName
from taskpilot.runtime import get_runtime
from taskpilot.services.tasks import TaskError
from taskpilot.services.undo_marks import AlreadyUndone, claim, release
from taskpilot.web.states.auth import DATABASE_DOWN, AuthState
from taskpilot.web.states.chat import ChatState
from taskpilot.web.states.tasks import TOOL_FAILED, TaskState
from taskpilot.web.view_models import card_undo

logger = logging.getLogger("taskpilot.web")


class UndoState(AuthState):
    """The Undo buttons of the conversation's tool cards."""

    @rx.event
    async def undo(self, message_id: int, index: int) -> Any:
        """Undo the change of call `index` of reply `message_id`; the card then reads
        "Undone" and the task panel reloads. A refused undo leaves the card as it was, with
        the tool's reason."""
        identity = await self._identity()
        if identity is None:
            return await self._sign_out()
        chat = await self.get_state(ChatState)
        user_id = identity.user_id
        try:
            call = await self._claim(user_id, message_id, index)
        except AlreadyUndone:
            chat.messages = card_undo(chat.messages, message_id, index, undone=True)
            return TaskState.load_tasks
        except TaskError as exc:
            chat.messages = card_undo(
                chat.messages, message_id, index, undone=False, refused=str(exc)
            )
            return None
        except DatabaseUnavailable:
            chat.messages = card_undo(
                chat.messages, message_id, index, undone=False, refused=DATABASE_DOWN
            )
            return None
        refused = await self._reverse(user_id, call)
        if refused:
            await self._release(user_id, message_id, index)
        chat.messages = card_undo(
            chat.messages, message_id, index, undone=not refused, refused=refused
        )
        return None if refused else TaskState.load_tasks

    @staticmethod
    async def _claim(user_id: str, message_id: int, index: int) -> ToolCall:
        async with get_runtime().db.session() as session:
            return await claim(session, user_id, message_id, index)

    @staticmethod
    async def _reverse(user_id: str, call: ToolCall) -> str:
        """Ask the tool to undo the call's change: "" when it did, else why not."""
        try:
            await get_runtime().turns.mcp.change(
                user_id, ToolName.UNDO_CHANGE, {"change": call.result}
            )
        except ToolRefused as exc:
            return exc.message
        except Exception:
            logger.warning("undo tool call failed", exc_info=True)
            return TOOL_FAILED
        return ""

    @staticmethod
    async def _release(user_id: str, message_id: int, index: int) -> None:
        try:
            async with get_runtime().db.session() as session:
                await release(session, user_id, message_id, index)
        except (TaskError, DatabaseUnavailable):
            logger.warning("could not give back an undo's claim")
