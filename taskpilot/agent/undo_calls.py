"""Undo of one stored tool call, outside a turn: what a tool card's Undo does, on the page
(`web/states/undo.py`), in ChatKit (`chatkit/actions.py`) and over the API.

The call is claimed first (`services/undo_marks.py`: a conditional update of its reply), so
two Undos at once — two tabs, a double click, the page and the API — reverse the change once;
then the MCP `undo_change` tool (the one gate for task changes) takes it back, given the call's
stored, sealed result, and the call is marked undone. When the tool refuses (the task changed
since, its number is taken) the claim is given back and the refusal says why. An Undo that
finds another under way waits for its outcome and reports that, not a success it cannot know.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from taskpilot.agent.mcp_client import McpConnector, ToolRefused
from taskpilot.core.db import Database, DatabaseUnavailable
from taskpilot.mcp.tools import ToolName
from taskpilot.services.tasks import TaskError
from taskpilot.services.undo_marks import (
    AlreadyUndone,
    UndoInProgress,
    claim,
    confirm,
    release,
)

logger = logging.getLogger("taskpilot.agent")

# The tool call failed for a reason of ours (not a refusal in the tool's words).
UNDO_FAILED = "That change couldn't be undone just now. Please try again."
# How often, and how long, an Undo that found another under way looks for its outcome.
WAIT_SECONDS = 0.1
WAIT_AT_MOST_SECONDS = 5.0


@dataclass(frozen=True)
class Undone:
    """How an Undo ended: `undone` (by this request or, `already`, by another before it), or
    refused, with the reason in words for the person."""

    undone: bool
    refused: str = ""
    already: bool = False


async def undo_call(
    db: Database, mcp: McpConnector, user_id: str, message_id: int, index: int
) -> Undone:
    """Undo the change of call `index` of the person's reply `message_id`, once.
    `DatabaseUnavailable` when the claim cannot be read or written."""
    give_up = time.monotonic() + WAIT_AT_MOST_SECONDS
    while True:
        try:
            async with db.session() as session:
                call, claimed = await claim(session, user_id, message_id, index)
            break
        except UndoInProgress as exc:  # another Undo holds it: its outcome is this one's
            if time.monotonic() > give_up:  # still under way (or its worker died)
                return Undone(False, str(exc))
            await asyncio.sleep(WAIT_SECONDS)
        except AlreadyUndone:
            return Undone(True, already=True)
        except TaskError as exc:  # no such undoable call of theirs
            return Undone(False, str(exc))
    try:
        await mcp.change(user_id, ToolName.UNDO_CHANGE, {"change": call.result})
    except ToolRefused as exc:
        refused = exc.message
    except Exception:
        logger.warning("undo tool call failed", exc_info=True)
        refused = UNDO_FAILED
    else:
        await _settle(db, user_id, message_id, index, claimed, confirm)
        return Undone(True)
    await _settle(db, user_id, message_id, index, claimed, release)
    return Undone(False, refused)


async def _settle(
    db: Database, user_id: str, message_id: int, index: int, claimed: datetime, mark: Any
) -> None:
    """Record the claim's outcome (its claim expires if the database cannot take it)."""
    try:
        async with db.session() as session:
            await mark(session, user_id, message_id, index, claimed)
    except (TaskError, DatabaseUnavailable):
        logger.warning("could not record an undo's outcome")
