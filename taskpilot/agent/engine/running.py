"""Running a claimed turn: the agent over the MCP tools, under a renewed lease and a
deadline, its events emitted as they happen; then its reply stored, or the turn failed; and
after a conversation's first reply, its title chosen (`titling.py`).

Everything it writes holds only while its attempt is still the message's: a lease it can no
longer renew, or progress it can no longer save, means another attempt holds the turn, and
this one stops at once (`_supersede`) and writes nothing more.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date, timedelta
from typing import Any

from agents import Agent, ModelSettings, RunConfig, Runner, Tool
from agents.models.interface import Model

from taskpilot.agent.engine.approvals import (
    CANNOT_RESUME,
    PausedRun,
    resumed_state,
    summarize,
)
from taskpilot.agent.engine.failing import Fail
from taskpilot.agent.engine.titling import Titler
from taskpilot.agent.engine.turn import PreparedTurn, RunningTurn
from taskpilot.agent.events import (
    ApprovalAsked,
    ToolFinished,
    TurnDone,
    TurnError,
    TurnStarted,
    TurnTitled,
)
from taskpilot.agent.failures import expected, explain
from taskpilot.agent.instructions import build_instructions
from taskpilot.agent.mcp_client import McpConnector
from taskpilot.agent.model_input import turn_input
from taskpilot.agent.translate import RunTranslator
from taskpilot.core import metrics
from taskpilot.core.clock import in_zone, today
from taskpilot.core.config import ModelProvider, Settings
from taskpilot.core.db import Database
from taskpilot.core.errors import ErrorCode, TaskPilotError
from taskpilot.core.metrics import TurnOutcome
from taskpilot.data.models import Approval, Message, ToolCall
from taskpilot.services.turns import Claim, Lease, TurnStore
from taskpilot.services.users import TimeZones

logger = logging.getLogger("taskpilot.agent")

MAX_AGENT_STEPS = 8
SUPERSEDED = "This message is being answered by another request."


class TurnRunner:
    """Runs one attempt at a claimed turn; keeps only the agents it built (one per day)."""

    def __init__(
        self,
        settings: Settings,
        db: Database,
        model: Model,
        mcp: McpConnector,
        lease: timedelta,
        zones: TimeZones,
        fail: Fail,
    ) -> None:
        self.settings = settings
        self.db = db
        self.model = model
        self.mcp = mcp
        self.lease = lease
        self.zones = zones
        self._fail = fail
        # TaskPilot keeps history itself, so OpenAI need not store responses (privacy).
        store = False if settings.resolved_model_provider is ModelProvider.OPENAI else None
        self.model_settings = ModelSettings(parallel_tool_calls=False, store=store)
        self._agents: dict[tuple[date, int], Agent[Any]] = {}
        self._titler = Titler(settings, db, model)

    async def run(self, running: RunningTurn) -> None:
        """Run the turn (or replay its stored answer), emitting its events. Stored, or marked
        failed with an error event; a cancellation is raised again once that is written."""
        turn = running.turn
        running.emit(
            TurnStarted(
                conversation_id=turn.conversation_id,
                title=turn.title,
                user_message_id=turn.message_id,
            )
        )
        if turn.replay is not None:
            running.emit(
                TurnDone(
                    conversation_id=turn.conversation_id,
                    message_id=turn.replay.id or 0,
                    response=turn.replay.content,
                    tool_calls=ToolCall.stored(turn.replay.tool_calls),
                    replayed=True,
                )
            )
            metrics.TURNS_REPLAYED.inc()
            return
        if turn.waiting:  # a paused turn sent again: ask again; nothing runs
            await self._ask_approval(running, turn.waiting)
            return
        claim = turn.claim
        assert claim is not None
        asked = self._titler.ask(turn)  # a real model's title, asked alongside the turn
        try:
            await self._run_claimed(running, claim, asked)
        finally:
            if asked is not None:
                asked.cancel()  # done already, or no longer wanted

    async def _run_claimed(
        self, running: RunningTurn, claim: Claim, asked: asyncio.Task[str] | None
    ) -> None:
        turn = running.turn
        translator = RunTranslator()
        started = time.perf_counter()
        deadline = asyncio.timeout(self.settings.turn_deadline_seconds)
        try:
            async with self._lease(running, claim), deadline:
                zone = await self.zones.of(self.db, turn.user_id)
                with in_zone(zone):  # "today" and "friday" as the person means them
                    reply, paused = await self._run_agent(running, claim, translator)
            # Shielded: a Stop that lands while the reply is being stored can't half-store it.
            if paused is not None:
                await asyncio.shield(self._pause(running, claim, paused, translator, started))
                return
            stored = await asyncio.shield(self._finish(turn, claim, reply, translator))
        except asyncio.CancelledError:
            if running.superseded:
                metrics.turn_ended(TurnOutcome.SUPERSEDED, ErrorCode.TURN_SUPERSEDED, started)
            else:
                metrics.turn_ended(TurnOutcome.STOPPED, running.stop_code, started)
                done = [*turn.earlier_calls, *translator.finished_calls()]
                failing = self._fail(turn.user_id, claim, running.stop_reason, done)
                await asyncio.shield(failing)
                running.emit(
                    TurnError(
                        code=running.stop_code,
                        message=running.stop_reason,
                        conversation_id=turn.conversation_id,
                    )
                )
            raise
        except Exception as exc:
            error = (
                TaskPilotError(
                    ErrorCode.TURN_TIMEOUT,
                    f"That took longer than {self.settings.turn_deadline_seconds:g} seconds,"
                    " so it was stopped. Please try again.",
                )
                if deadline.expired()
                else explain(exc)
            )
            logger.error(
                "turn failed",
                extra={"code": error.code.value, "conversation_id": turn.conversation_id},
                exc_info=not expected(exc),
            )
            metrics.turn_ended(TurnOutcome.FAILED, error.code, started)
            done = [*turn.earlier_calls, *translator.finished_calls()]
            await self._fail(turn.user_id, claim, error.message, done)
            running.emit(
                TurnError(
                    code=error.code, message=error.message, conversation_id=turn.conversation_id
                )
            )
            return
        if stored is None:  # a newer attempt holds the turn: it answers, this one wrote nothing
            metrics.turn_ended(TurnOutcome.SUPERSEDED, ErrorCode.TURN_SUPERSEDED, started)
            running.emit(
                TurnError(
                    code=ErrorCode.TURN_SUPERSEDED,
                    message=SUPERSEDED,
                    conversation_id=turn.conversation_id,
                )
            )
            return
        logger.info(
            "turn done",
            extra={
                "conversation_id": turn.conversation_id,
                "tool_calls": len(translator.calls),
                "duration_ms": round((time.perf_counter() - started) * 1000, 1),
            },
        )
        metrics.turn_ended(TurnOutcome.ANSWERED, started=started)
        calls = [*turn.earlier_calls, *translator.all_calls()]
        running.emit(
            TurnDone(
                conversation_id=turn.conversation_id,
                message_id=stored.id or 0,
                response=reply,
                tool_calls=calls,
            )
        )
        # The reply is stored and sent: the person's turn slot and the worker's place are free
        # for their next message (releasing is idempotent; the engine releases again at the
        # end). Then the title, which waits for the model at most TITLE_WAIT_SECONDS.
        if turn.slot is not None:
            await asyncio.shield(turn.slot.release())
        title = await self._titler.title(turn, calls, asked)
        if title is not None:
            running.emit(TurnTitled(conversation_id=turn.conversation_id, title=title))

    async def _run_agent(
        self, running: RunningTurn, claim: Claim, translator: RunTranslator
    ) -> tuple[str, PausedRun | None]:
        """Run the agent over the turn's input through the MCP tools (or resume its paused
        run with the person's decision): the reply's text, and the run to keep when it
        paused again for an approval."""
        turn = running.turn
        async with self.mcp.session(turn.user_id) as tools:
            agent = self._agent(tools)
            start = await self._start(agent, turn, translator)
            result = Runner.run_streamed(
                agent,
                input=start,
                max_turns=MAX_AGENT_STEPS,
                run_config=RunConfig(
                    tracing_disabled=not self.settings.openai_tracing,
                    trace_include_sensitive_data=False,
                    workflow_name="TaskPilot turn",
                ),
            )
            async for event in result.stream_events():
                out = translator.translate(event)
                if isinstance(out, ToolFinished):
                    # Kept now, not only when the turn ends: a worker that dies mid-turn must
                    # not take the record of what its tools did with it.
                    done = [*turn.earlier_calls, *translator.finished_calls()]
                    if not await self._save_progress(turn, claim, done):
                        self._supersede(running)  # another attempt holds it: no more tools
                if out is not None:
                    running.emit(out)
            if result.interruptions:
                waiting = [
                    str(getattr(item.raw_item, "call_id", "")) for item in result.interruptions
                ]
                translator.waiting(waiting)
                return translator.reply, PausedRun(
                    state=result.to_state().to_json(), reply=translator.reply
                )
        return translator.reply or str(result.final_output or ""), None

    @staticmethod
    async def _start(agent: Agent[Any], turn: PreparedTurn, translator: RunTranslator) -> Any:
        """What the run starts from: the history and the question, or the turn's paused run
        with the person's decision applied."""
        if turn.decision is None:
            return turn_input(turn.history, turn.question, turn.earlier_calls, turn.message_id)
        decision = turn.decision
        translator.resume(decision.calls(), decision.paused.reply)
        try:
            return await resumed_state(agent, decision)
        except Exception as exc:  # another SDK's snapshot, say: ask again
            # No traceback: the snapshot's words (the person's messages) could be in it.
            logger.warning("could not resume a paused turn", extra={"error": type(exc).__name__})
            raise TaskPilotError(ErrorCode.AGENT_ERROR, CANNOT_RESUME) from exc

    async def _pause(
        self,
        running: RunningTurn,
        claim: Claim,
        paused: PausedRun,
        translator: RunTranslator,
        started: float,
    ) -> None:
        """Keep the paused run on the question, then ask the person; the turn's slot is free
        while they decide."""
        turn = running.turn
        calls = [*turn.earlier_calls, *translator.all_calls()]
        async with self.db.session() as session:
            store = TurnStore(session, turn.user_id, self.lease)
            held = await store.pause(claim, calls, paused.model_dump(mode="json"))
        if not held:
            metrics.turn_ended(TurnOutcome.SUPERSEDED, ErrorCode.TURN_SUPERSEDED, started)
            running.emit(
                TurnError(
                    code=ErrorCode.TURN_SUPERSEDED,
                    message=SUPERSEDED,
                    conversation_id=turn.conversation_id,
                )
            )
            return
        metrics.turn_ended(TurnOutcome.PAUSED, started=started)
        await self._ask_approval(
            running, [call for call in calls if call.approval is Approval.PENDING]
        )

    async def _ask_approval(self, running: RunningTurn, waiting: list[ToolCall]) -> None:
        turn = running.turn
        for call in waiting:
            running.emit(
                ApprovalAsked(
                    conversation_id=turn.conversation_id,
                    message_id=turn.message_id,
                    call=call,
                    summary=await summarize(self.db, turn.user_id, call),
                )
            )

    def _agent(self, tools: list[Tool]) -> Agent[Any]:
        """The agent: the same for every turn of a day (its instructions name the date) and
        tool list, so it is built once for them, not per turn (one per day in use: people in
        other zones may be a day ahead or behind)."""
        key = (today(self.settings), id(tools))  # the person's day: zones differ by a day
        agent = self._agents.get(key)
        if agent is None:
            if len(self._agents) >= 4:  # yesterday, today and tomorrow around the world
                self._agents.clear()
            agent = self._agents[key] = Agent(
                name="TaskPilot",
                instructions=build_instructions(key[0]),
                tools=tools,
                model=self.model,
                model_settings=self.model_settings,
            )
        return agent

    @asynccontextmanager
    async def _lease(self, running: RunningTurn, claim: Claim) -> AsyncIterator[None]:
        """Renew the turn's lease while it runs; a superseded attempt is stopped at once."""
        renewing = asyncio.create_task(self._renew(running, claim), name="turn-lease")
        try:
            yield
        finally:
            renewing.cancel()
            await asyncio.gather(renewing, return_exceptions=True)

    async def _renew(self, running: RunningTurn, claim: Claim) -> None:
        every = self.settings.turn_lease_seconds / 3
        while True:
            await asyncio.sleep(every)
            try:
                async with self.db.session() as session:
                    lease = await TurnStore(session, running.turn.user_id, self.lease).renew(claim)
            except Exception:  # the database is away: the turn goes on, its end will tell
                logger.warning("could not renew a turn's lease", exc_info=True)
                continue
            if lease is Lease.LOST:
                self._supersede(running)
                return
            if lease is Lease.STOP:  # asked elsewhere; its notice on the feed was missed
                running.stop()
                return

    @staticmethod
    def _supersede(running: RunningTurn) -> None:
        """Another attempt holds the turn: stop this one at once; it writes nothing more."""
        logger.warning("turn superseded", extra={"conversation_id": running.turn.conversation_id})
        running.superseded = True
        if running.task is not None:
            running.task.cancel()

    async def _finish(
        self, turn: PreparedTurn, claim: Claim, reply: str, translator: RunTranslator
    ) -> Message | None:
        async with self.db.session() as session:
            return await TurnStore(session, turn.user_id, self.lease).finish(
                claim,
                turn.conversation_id,
                reply,
                [*turn.earlier_calls, *translator.all_calls()],
            )

    async def _save_progress(
        self, turn: PreparedTurn, claim: Claim, tool_calls: list[ToolCall]
    ) -> bool:
        """False when another attempt holds the turn now."""
        try:
            async with self.db.session() as session:
                store = TurnStore(session, turn.user_id, self.lease)
                return await store.save_progress(claim, tool_calls)
        except Exception:  # best effort: the turn goes on, and is stored whole at its end
            logger.warning("could not save the turn's progress", exc_info=True)
            return True
