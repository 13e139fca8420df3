"""A turn's failure written down: at once, or, while the database is away, in the background
for a while. (Putting a failure into words is `agent/failures.py`; this stores it.)

Preparing (a claim it could not start on), running (a turn stopped or failed) and the engine
(a prepared turn abandoned) all fail turns here; shutdown gives up on the failures still
waiting for the database."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine
from datetime import timedelta
from typing import Any

from taskpilot.core.db import Database, DatabaseUnavailable
from taskpilot.data.models import ToolCall
from taskpilot.services.turns import Claim, TurnStore

logger = logging.getLogger("taskpilot.agent")

# How long a failure the database could not take is retried in the background.
MARK_FAILED_SECONDS = 120.0

# Mark a claimed turn failed (`TurnFailer.fail`): user, claim, reason, the calls it keeps.
Fail = Callable[[str, Claim, str, list[ToolCall]], Coroutine[Any, Any, None]]


class TurnFailer:
    """Marks turns failed, holding on to the ones the database could not take yet."""

    def __init__(self, db: Database, lease: timedelta) -> None:
        self.db = db
        self.lease = lease
        # Failures still to be written down (the database was away); referenced until they are.
        self._failing: set[asyncio.Task[None]] = set()

    async def fail(
        self, user_id: str, claim: Claim, reason: str, tool_calls: list[ToolCall]
    ) -> None:
        """Mark the turn failed, keeping the tool calls that did change data. With the
        database away, keep trying in the background for a while: once it is back the
        question reads failed in the database too (it already reads failed to everyone once
        its lease has run out)."""
        if await self._mark_failed(user_id, claim, reason, tool_calls):
            return
        later = asyncio.create_task(
            self._mark_failed_later(user_id, claim, reason, tool_calls),
            name="turn-mark-failed",
        )
        self._failing.add(later)
        later.add_done_callback(self._failing.discard)

    async def put_back(self, user_id: str, claim: Claim) -> bool:
        """A decision that will not run: its turn waits for the person again (True), or,
        with the database away or the turn taken by another attempt, does not (False)."""
        try:
            async with self.db.session() as session:
                return await TurnStore(session, user_id, self.lease).put_back(claim)
        except DatabaseUnavailable:
            return False

    def give_up(self) -> None:
        """Stop trying to write down the failures still waiting for the database."""
        for pending in list(self._failing):
            pending.cancel()

    async def _mark_failed(
        self, user_id: str, claim: Claim, reason: str, tool_calls: list[ToolCall]
    ) -> bool:
        """False when the database is unavailable."""
        try:
            async with self.db.session() as session:
                await TurnStore(session, user_id, self.lease).fail(claim, reason, tool_calls)
        except DatabaseUnavailable:
            return False
        except Exception:
            logger.warning("could not mark a turn failed", exc_info=True)
        return True

    async def _mark_failed_later(
        self, user_id: str, claim: Claim, reason: str, tool_calls: list[ToolCall]
    ) -> None:
        give_up = time.monotonic() + MARK_FAILED_SECONDS
        while time.monotonic() < give_up:
            await asyncio.sleep(1)
            if await self._mark_failed(user_id, claim, reason, tool_calls):
                return
        logger.warning("could not mark a turn failed: the database stayed unavailable")
