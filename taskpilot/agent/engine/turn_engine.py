"""`TurnEngine`, the one entry adapters call: it checks input, admits turns, starts them in
tasks of their own and shuts down; preparing, running and failing a turn are its parts'."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from agents.models.interface import Model

from taskpilot.agent.engine.failing import TurnFailer
from taskpilot.agent.engine.preparing import TurnPreparer
from taskpilot.agent.engine.running import SUPERSEDED, TurnRunner
from taskpilot.agent.engine.turn import (
    STOPPED,
    PreparedTurn,
    RunningTurn,
    check_client_message_id,
    clean_message,
)
from taskpilot.agent.events import LiveTurn, TurnError, TurnEvent
from taskpilot.agent.mcp_client import McpConnector
from taskpilot.core import metrics
from taskpilot.core.config import Settings
from taskpilot.core.db import Database
from taskpilot.core.errors import ErrorCode, TaskPilotError
from taskpilot.core.limits import Limits
from taskpilot.core.limits.turns import TurnSlot
from taskpilot.core.live import LiveFeed, MemoryFeed, stop_request
from taskpilot.core.metrics import TurnOutcome
from taskpilot.services.turns import TurnStore
from taskpilot.services.users import TimeZones

logger = logging.getLogger("taskpilot.agent")

SHUT_DOWN = "The server restarted before the reply finished. Retry it."
# A decision taken up but not run (the worker shut down, its client left): the change waits.
NOT_DECIDED = "The server restarted before your decision was taken; the change still waits for it."
# How often a turn's Stop listener looks at whether its turn has ended.
STOP_LISTEN_SECONDS = 1.0
# After the grace period, how long stopped turns get to write down that they failed.
STOP_WRITE_SECONDS = 5.0


class TurnEngine:
    """Runs chat turns. Holds configuration, pools, its parts and the set of running turns only."""

    def __init__(
        self,
        settings: Settings,
        db: Database,
        model: Model,
        mcp: McpConnector,
        limits: Limits | None = None,
        live: LiveFeed | None = None,
    ) -> None:
        self.settings = settings
        self.db = db
        self.model = model
        self.mcp = mcp
        self.limits = limits or Limits(settings)
        self.live = live if live is not None else MemoryFeed()
        self.lease = timedelta(seconds=settings.turn_lease_seconds)
        self.zones = TimeZones()
        self._failer = TurnFailer(db, self.lease)
        self._preparer = TurnPreparer(settings, db, self.lease, self._failer.fail)
        self._runner = TurnRunner(
            settings, db, model, mcp, self.lease, self.zones, self._failer.fail
        )
        self._running: set[RunningTurn] = set()
        # Each running turn's listener for Stop pressed in another tab (`_stoppable`).
        self._listening: set[asyncio.Task[None]] = set()
        self._closing = False

    async def admit(self, user_id: str) -> TurnSlot:
        """A slot among the user's running turns; `TaskPilotError` when over a limit, when
        the worker is full, or when it is shutting down."""
        if self._closing:
            metrics.REFUSED_SHUTTING_DOWN.inc()
            raise TaskPilotError(
                ErrorCode.SHUTTING_DOWN,
                "This server is restarting; send your message again in a moment.",
                retry_after=2,
            )
        return await self.limits.admit_turn(user_id)

    @asynccontextmanager
    async def _admitted(self, user_id: str, slot: TurnSlot | None) -> AsyncIterator[TurnSlot]:
        """The caller's slot or a new one, given back if preparing the turn fails."""
        if slot is None:
            slot = await self.admit(user_id)
        try:
            yield slot
        except BaseException:
            await asyncio.shield(slot.release())
            raise

    async def prepare(
        self,
        user_id: str,
        conversation_id: str | None,
        text: object,
        client_message_id: str | None = None,
        slot: TurnSlot | None = None,
    ) -> PreparedTurn:
        """Store the question, claimed, in its conversation (new when `conversation_id` is
        None); with a `client_message_id` already used, resume that message instead: replay
        its answer, or run it again if it failed. `slot`: one the caller took from `admit`
        (ChatKit does, to answer 429 before streaming).

        Raises `TaskPilotError`: bad input, an unknown conversation, a limit, a conversation
        (or this message) still being answered past TURN_WAIT_SECONDS, the database down.
        """
        question = clean_message(text, self.settings.max_message_chars)
        check_client_message_id(client_message_id)
        async with self._admitted(user_id, slot) as admitted:
            turn = await self._preparer.prepare(
                user_id, conversation_id, question, client_message_id
            )
            turn.slot = admitted
            return turn

    async def prepare_retry(
        self, user_id: str, conversation_id: str, message_id: int, slot: TurnSlot | None = None
    ) -> PreparedTurn:
        """Run a stored question's turn again (ChatKit's retry), as a repeated
        `client_message_id` does; `message_not_found` when it is not the caller's."""
        async with self._admitted(user_id, slot) as admitted:
            turn = await self._preparer.prepare_retry(user_id, conversation_id, message_id)
            turn.slot = admitted
            return turn

    async def prepare_edit(
        self,
        user_id: str,
        conversation_id: str,
        message_id: int,
        text: object,
        slot: TurnSlot | None = None,
        seen: int | None = None,
    ) -> PreparedTurn:
        """Edit a sent question: `text` becomes its next version and is answered as any
        question, the conversation going on from it; what it replaced stays an earlier
        version. `message_not_found` when the question is not the caller's (or not in that
        conversation), `message_replaced` when it is not its newest version,
        `turn_in_progress` at once while a turn of the conversation runs or awaits approval,
        `conversation_moved_on` when it has messages after `seen` (the newest its sender saw).
        """
        question = clean_message(text, self.settings.max_message_chars)
        async with self._admitted(user_id, slot) as admitted:
            turn = await self._preparer.prepare_edit(
                user_id, conversation_id, message_id, question, seen
            )
            turn.slot = admitted
            return turn

    async def prepare_decision(
        self,
        user_id: str,
        conversation_id: str,
        call_id: object,
        approve: bool,
        slot: TurnSlot | None = None,
    ) -> PreparedTurn:
        """The conversation's paused turn, claimed to resume with the person's decision on
        its waiting call (`engine/approvals.py`); `approval_not_pending` when no such call
        waits, `conversation_not_found` when the conversation is not the caller's."""
        if not isinstance(call_id, str) or not 0 < len(call_id) <= 100:
            raise TaskPilotError(
                ErrorCode.INVALID_REQUEST,
                "call_id must be the waiting call's id (1–100 characters).",
            )
        async with self._admitted(user_id, slot) as admitted:
            turn = await self._preparer.prepare_decision(user_id, conversation_id, call_id, approve)
            turn.slot = admitted
            return turn

    def start(self, turn: PreparedTurn, origin: str = "") -> RunningTurn:
        """Run a prepared turn in a task of its own; read its events from the handle (a turn
        started while the worker shuts down is failed at once, saying so). Its events also go
        to the person's other tabs on the live feed, marked with `origin` (the page tab that
        started it)."""
        live = self.live

        def tell(event: TurnEvent | None) -> None:
            news = LiveTurn(conversation_id=turn.conversation_id, origin=origin, event=event)
            live.publish(turn.user_id, news.model_dump(mode="json"))

        running = RunningTurn(turn, tell)
        running.task = asyncio.create_task(self._life(running), name=f"turn-{turn.message_id}")
        self._running.add(running)
        stoppable = asyncio.create_task(self._stoppable(running), name="turn-stop-listener")
        self._listening.add(stoppable)
        stoppable.add_done_callback(self._listening.discard)
        running.task.add_done_callback(lambda _: self._running.discard(running))
        running.task.add_done_callback(lambda _: stoppable.cancel())
        return running

    async def request_stop(self, user_id: str, conversation_id: str) -> bool:
        """Stop the turn running in the person's conversation, wherever it runs: asked in the
        database (the running attempt reads it at its next lease renewal) and told on the
        live feed (its worker stops it at once). False when no turn is running there."""
        async with self.db.session() as session:
            asked = await TurnStore(session, user_id, self.lease).request_stop(conversation_id)
        if asked is None:
            return False
        notice = stop_request(conversation_id, asked.message_id, asked.attempt)
        self.live.publish(user_id, notice)
        return True

    async def _stoppable(self, running: RunningTurn) -> None:
        """Stop the turn when Stop is asked of it elsewhere (`request_stop`: another tab
        following it, the API), told on the person's Stop channel of the live feed by
        whichever worker took it."""
        turn = running.turn
        if turn.claim is None:
            return
        wanted = stop_request(turn.conversation_id, turn.message_id, turn.claim.attempt)
        try:
            async with self.live.subscribed(turn.user_id, stops=True) as news:
                while not running.ended:
                    message = await news.next(STOP_LISTEN_SECONDS)
                    if message == wanted:
                        logger.info("turn stopped from another tab")
                        running.stop()
                        return
        except Exception:  # the feed is best-effort: Stop in the turn's own tab still works
            logger.warning("could not listen for Stop from other tabs", exc_info=True)

    async def abandon(self, turn: PreparedTurn, reason: str = STOPPED) -> None:
        """A prepared turn that will not run (its client left first): mark it failed, so its
        question is kept and can be retried (a decision's turn waits for one again)."""
        try:
            if turn.claim is not None:
                metrics.turn_ended(TurnOutcome.STOPPED, ErrorCode.TURN_STOPPED)
                await self._not_run(turn, reason)
        finally:
            if turn.slot is not None:
                await turn.slot.release()

    async def _life(self, running: RunningTurn) -> None:
        turn = running.turn
        metrics.TURNS_RUNNING.inc()
        try:
            if self._closing:
                running.stop_reason, running.stop_code = SHUT_DOWN, ErrorCode.SHUTTING_DOWN
                await self._refuse(running)
                return
            await self._runner.run(running)
        except asyncio.CancelledError:
            if not running.superseded:
                raise
            current = asyncio.current_task()
            if current is not None:
                current.uncancel()
            running.emit(
                TurnError(
                    code=ErrorCode.TURN_SUPERSEDED,
                    message=SUPERSEDED,
                    conversation_id=turn.conversation_id,
                )
            )
        finally:
            metrics.TURNS_RUNNING.dec()
            running.end()
            if turn.slot is not None:
                await asyncio.shield(turn.slot.release())

    async def _refuse(self, running: RunningTurn) -> None:
        """A prepared turn that will not run: its question failed with the stop reason, or,
        for a decision, waiting for one again."""
        turn = running.turn
        metrics.turn_ended(TurnOutcome.STOPPED, running.stop_code)
        waits = turn.claim is not None and await self._not_run(turn, running.stop_reason)
        running.emit(
            TurnError(
                code=running.stop_code,
                message=NOT_DECIDED if waits else running.stop_reason,
                conversation_id=turn.conversation_id,
            )
        )

    async def _not_run(self, turn: PreparedTurn, reason: str) -> bool:
        """Close a claimed turn that did not run: a decision's goes back to waiting for the
        person (True), nothing having run since the pause; any other is failed with
        `reason`, keeping the calls it had made."""
        assert turn.claim is not None
        if turn.decision is not None and await self._failer.put_back(turn.user_id, turn.claim):
            return True
        await self._failer.fail(turn.user_id, turn.claim, reason, turn.calls_made())
        return False

    @property
    def accepting(self) -> bool:
        """Whether this worker takes new turns (not once it is shutting down)."""
        return not self._closing

    def _tasks(self) -> list[asyncio.Task[None]]:
        return [turn.task for turn in list(self._running) if turn.task is not None]

    async def settle(self) -> None:
        """Until no turn is running here (tests and benchmarks wait for detached turns)."""
        while self._running:
            await asyncio.gather(*self._tasks(), return_exceptions=True)

    async def drain(self, grace: float | None = None) -> None:
        """Refuse new turns, let running ones finish within `grace` seconds (default
        SHUTDOWN_GRACE_SECONDS), then stop the rest; each is stored or marked failed."""
        self._closing = True
        grace = self.settings.shutdown_grace_seconds if grace is None else grace
        if self._running:
            logger.info("waiting for running turns", extra={"turns": len(self._running)})
        give_up = time.monotonic() + grace
        # Turns may still start meanwhile (prepared before the refusal): wait for them too.
        while self._running and (left := give_up - time.monotonic()) > 0:
            await asyncio.wait(self._tasks(), timeout=left)
        if self._running:
            for turn in list(self._running):
                turn.stop(SHUT_DOWN, ErrorCode.SHUTTING_DOWN)
            await asyncio.wait(self._tasks(), timeout=STOP_WRITE_SECONDS)
        # Failures the database could not take yet: their leases run out instead.
        self._failer.give_up()
