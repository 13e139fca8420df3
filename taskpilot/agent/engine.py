"""The turn engine: a turn's whole life, the same for the JSON/SSE API, the page and ChatKit.

    prepare ─► (claim) ─► start: run in its own task ─► finish │ fail
                                   └ heartbeat renews the lease; the deadline bounds it

The engine keeps nothing about a conversation between turns: every rule below is decided by
one conditional statement in the database (`services/turns.py`), so it holds across workers
and machines, whatever the timing of requests.

- **Prepare** validates the message and stores it already claimed by attempt 1, in the same
  transaction as a new conversation: a refused message leaves nothing behind, and a double
  submit of a new chat's first message (one `client_message_id`) makes one conversation.
- **One running turn per conversation.** A message into a conversation whose turn is running
  waits up to TURN_WAIT_SECONDS for it, then is refused (`turn_in_progress`). A repeated
  `client_message_id` waits the same way, then replays the stored answer.
- **Claims.** A failed turn, or one whose lease ran out (its worker died), is run again by
  whichever request claims it first (its attempt number moves on by one); the others wait for
  that attempt and replay its answer. Finishing, failing, renewing the lease and saving
  progress all hold only while the attempt is still the message's, so a superseded attempt
  writes nothing, and a database rule keeps one reply per message.
- **Detached.** A started turn runs in its own task, not its request's: a client that goes
  away does not cut it short (the API); Stop cancels it on purpose (the page, ChatKit).
- **Leases and deadlines.** A running turn renews its lease every third of
  TURN_LEASE_SECONDS; if it finds its attempt superseded it stops at once. A turn fails with a
  readable reason after TURN_DEADLINE_SECONDS, which is shorter than its MCP token's life.
- **Shutdown** (`drain`) refuses new turns, lets running ones finish for SHUTDOWN_GRACE_SECONDS,
  then stops the rest, marking them failed, before the model client and MCP server close.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from agents import Agent, ModelSettings, RunConfig, Runner, Tool
from agents.models.interface import Model

from taskpilot.agent.events import (
    ToolFinished,
    TurnDone,
    TurnError,
    TurnEvent,
    TurnStarted,
)
from taskpilot.agent.failures import expected, explain
from taskpilot.agent.instructions import build_instructions
from taskpilot.agent.mcp_client import McpConnector
from taskpilot.agent.model_input import turn_input
from taskpilot.agent.translate import RunTranslator
from taskpilot.core import metrics
from taskpilot.core.clock import in_zone, today
from taskpilot.core.config import ModelProvider, Settings
from taskpilot.core.db import Database, DatabaseUnavailable
from taskpilot.core.errors import ErrorCode, TaskPilotError
from taskpilot.core.limits import Limits
from taskpilot.core.limits.turns import TurnSlot
from taskpilot.core.metrics import TurnOutcome
from taskpilot.data.models import Conversation, Message, Role, ToolCall, TurnStatus
from taskpilot.services.conversations import (
    ConversationNotFound,
    ConversationStore,
    MessageNotFound,
    title_from_message,
)
from taskpilot.services.text import LINE_BREAKS, unstorable
from taskpilot.services.turns import (
    Claim,
    ConversationBusy,
    DuplicateMessage,
    TurnStore,
    seen_status,
)
from taskpilot.services.users import TimeZones

logger = logging.getLogger("taskpilot.agent")

MAX_AGENT_STEPS = 8
STOPPED = "The reply was stopped before it finished."
SHUT_DOWN = "The server restarted before the reply finished. Retry it."
NOT_STARTED = "This message wasn't answered: TaskPilot couldn't start on it. Retry it."
SUPERSEDED = "This message is being answered by another request."
BUSY_CONVERSATION = (
    "Another message in this conversation is still being answered. Wait for its reply, then"
    " send this again."
)
ALREADY_ANSWERING = "This message is already being answered."
# How long a waiting request sleeps between looks at the turn it waits for (doubling).
FIRST_PAUSE, LONGEST_PAUSE = 0.05, 0.5
# After the grace period, how long stopped turns get to write down that they failed.
STOP_WRITE_SECONDS = 5.0
# How long a failure the database could not take is retried in the background.
MARK_FAILED_SECONDS = 120.0


def clean_message(text: object, max_chars: int) -> str:
    """The user's message, trimmed; `TaskPilotError` when empty, too long, or holding a
    character the database cannot store (every entry point calls this first)."""
    if not isinstance(text, str):
        raise TaskPilotError(ErrorCode.INVALID_MESSAGE, "The message must be text.")
    value = text.strip()
    if not value:
        raise TaskPilotError(
            ErrorCode.EMPTY_MESSAGE, "The message is empty; type something to send."
        )
    if len(value) > max_chars:
        raise TaskPilotError(
            ErrorCode.MESSAGE_TOO_LONG,
            f"The message is {len(value)} characters; the limit is {max_chars}.",
        )
    if (char := unstorable(value, LINE_BREAKS)) is not None:
        raise TaskPilotError(ErrorCode.INVALID_MESSAGE, f"The message can't contain {char}.")
    return value


def _check_client_message_id(value: str | None) -> None:
    if value is not None and not (0 < len(value) <= 100):
        raise TaskPilotError(
            ErrorCode.INVALID_CLIENT_MESSAGE_ID, "client_message_id must be 1–100 characters."
        )


@dataclass
class PreparedTurn:
    """A question stored and claimed, ready to run (or answered already: `replay`)."""

    user_id: str
    conversation_id: str
    title: str
    message_id: int
    question: str
    claim: Claim | None = None
    history: list[Message] = field(default_factory=list)
    # Tool calls an earlier attempt at this turn made: shown to the model, not repeated.
    earlier_calls: list[ToolCall] = field(default_factory=list)
    replay: Message | None = None
    # The user's place among their running turns; given back when the turn ends.
    slot: TurnSlot | None = None

    @classmethod
    def of(cls, conversation: Conversation, message: Message, **rest: Any) -> PreparedTurn:
        """The turn of a stored question in its conversation."""
        assert message.id is not None
        return cls(
            message.user_id,
            conversation.id,
            conversation.title,
            message.id,
            message.content,
            **rest,
        )


class RunningTurn:
    """A started turn: its events (for one reader), and Stop. It runs in its own task, so the
    reader may leave and the turn still ends, stored."""

    def __init__(self, turn: PreparedTurn) -> None:
        self.turn = turn
        self._events: asyncio.Queue[TurnEvent | None] = asyncio.Queue()
        self.task: asyncio.Task[None] | None = None
        # Why the turn's task was cancelled, if it was: Stop, shutdown, or a newer attempt.
        self.stop_reason = STOPPED
        self.stop_code = ErrorCode.TURN_STOPPED
        self.superseded = False
        self.ended = False

    def emit(self, event: TurnEvent) -> None:
        self._events.put_nowait(event)

    def end(self) -> None:
        """No more events: the turn is stored or failed (its slot may still be going back)."""
        self.ended = True
        self._events.put_nowait(None)

    async def events(self) -> AsyncIterator[TurnEvent]:
        """The turn's events as they happen; ends after `done` or `error`."""
        while (event := await self._events.get()) is not None:
            yield event

    async def next_event(self, within: float) -> TurnEvent | None:
        """The next event, None once the turn has ended; `TimeoutError` if none came within
        `within` seconds (the page looks at its Stop flag in between)."""
        async with asyncio.timeout(within):
            return await self._events.get()

    def stop(self, reason: str = STOPPED, code: ErrorCode = ErrorCode.TURN_STOPPED) -> None:
        """Cancel the turn: it stores no reply, and its question is kept, failed with `reason`
        (its reader, if one is left, gets an error event with `code`)."""
        if self.task is not None and not self.ended:
            self.stop_reason, self.stop_code = reason, code
            self.task.cancel()

    async def wait(self) -> None:
        """Until the turn has ended (stored or failed)."""
        if self.task is not None:
            await asyncio.gather(self.task, return_exceptions=True)


class TurnEngine:
    """Runs chat turns. Holds configuration, pools and the set of running turns only."""

    def __init__(
        self,
        settings: Settings,
        db: Database,
        model: Model,
        mcp: McpConnector,
        limits: Limits | None = None,
    ) -> None:
        self.settings = settings
        self.db = db
        self.model = model
        self.mcp = mcp
        self.limits = limits or Limits(settings)
        self.lease = timedelta(seconds=settings.turn_lease_seconds)
        self.zones = TimeZones()
        # TaskPilot keeps history itself, so OpenAI need not store responses (privacy).
        store = False if settings.resolved_model_provider is ModelProvider.OPENAI else None
        self.model_settings = ModelSettings(parallel_tool_calls=False, store=store)
        self._running: set[RunningTurn] = set()
        self._agents: dict[tuple[date, int], Agent[Any]] = {}
        # Failures still to be written down (the database was away); referenced until they are.
        self._failing: set[asyncio.Task[None]] = set()
        self._closing = False

    # --- admission --------------------------------------------------------------------------

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

    # --- prepare and claim ------------------------------------------------------------------

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
        _check_client_message_id(client_message_id)
        async with self._admitted(user_id, slot) as admitted:
            turn = await self._settle(
                user_id,
                lambda store, turns: self._ask(
                    store, turns, conversation_id, question, client_message_id
                ),
            )
            turn.slot = admitted
            return turn

    async def prepare_retry(
        self, user_id: str, conversation_id: str, message_id: int, slot: TurnSlot | None = None
    ) -> PreparedTurn:
        """Run a stored question's turn again (ChatKit's retry), as a repeated
        `client_message_id` does; `message_not_found` when it is not the caller's."""

        async def step(store: ConversationStore, turns: TurnStore) -> PreparedTurn | None:
            message = await store.message(message_id)
            if message.role != Role.USER.value or message.conversation_id != conversation_id:
                raise MessageNotFound()
            return await self._resume(store, turns, message)

        async with self._admitted(user_id, slot) as admitted:
            turn = await self._settle(user_id, step)
            turn.slot = admitted
            return turn

    async def _settle(
        self,
        user_id: str,
        step: Callable[[ConversationStore, TurnStore], Any],
    ) -> PreparedTurn:
        """Take `step` until it yields a turn. `_Waiting` (another turn holds the
        conversation or the message) or None (the state changed under the step: look again)
        means the step is taken again after a pause, until TURN_WAIT_SECONDS have passed."""
        give_up = time.monotonic() + self.settings.turn_wait_seconds
        pause = FIRST_PAUSE
        while True:
            try:
                async with self.db.session() as session:
                    store = ConversationStore(session, user_id)
                    turn: PreparedTurn | None = await step(
                        store, TurnStore(session, user_id, self.lease)
                    )
            except ConversationNotFound as exc:
                raise TaskPilotError(ErrorCode.CONVERSATION_NOT_FOUND, str(exc)) from exc
            except MessageNotFound as exc:
                raise TaskPilotError(ErrorCode.MESSAGE_NOT_FOUND, str(exc)) from exc
            except _Waiting as waiting:
                reason = waiting.reason
            else:
                if turn is not None:
                    return turn
                reason = ALREADY_ANSWERING
            if time.monotonic() >= give_up:
                metrics.REFUSED_TURN_IN_PROGRESS.inc()
                raise TaskPilotError(ErrorCode.TURN_IN_PROGRESS, reason, retry_after=2)
            metrics.WAITING_FOR_CONVERSATION.inc()
            try:
                await asyncio.sleep(pause)
            finally:
                metrics.WAITING_FOR_CONVERSATION.dec()
            pause = min(pause * 2, LONGEST_PAUSE)

    async def _ask(
        self,
        store: ConversationStore,
        turns: TurnStore,
        conversation_id: str | None,
        question: str,
        client_message_id: str | None,
    ) -> PreparedTurn | None:
        """One try at storing a new question (or finding the one sent before with its id)."""
        if client_message_id:
            sent = await store.find_by_client_id(client_message_id)
            if sent is not None:
                if conversation_id and sent.conversation_id != conversation_id:
                    raise TaskPilotError(
                        ErrorCode.CLIENT_MESSAGE_ID_REUSED,
                        "That client_message_id was already used in another conversation.",
                    )
                return await self._resume(store, turns, sent)
        new = conversation_id is None
        if conversation_id is None:
            conversation = Conversation(user_id=store.user_id, title=title_from_message(question))
        else:
            conversation = await store.touch(conversation_id)  # found, locked, its time moved
        # Read now: a refused insert rolls back, and expired rows can't be read after that.
        conversation_key = conversation.id
        try:
            message, history = await turns.open(
                conversation,
                question,
                client_message_id,
                new,
                lambda before: store.history(
                    conversation_key, self.settings.history_turns, before_id=before
                ),
            )
        except DuplicateMessage:
            return None  # sent at the same moment by another request: find it next time
        except ConversationBusy:
            if await turns.fail_lost(conversation_key):
                return None  # its worker was gone; ask again at once
            raise _Waiting(BUSY_CONVERSATION) from None
        return PreparedTurn.of(
            conversation, message, claim=Claim(message.id or 0, 1), history=history
        )

    async def _resume(
        self, store: ConversationStore, turns: TurnStore, message: Message
    ) -> PreparedTurn | None:
        """A stored question asked again: its answer, or its turn claimed to run again."""
        assert message.id is not None
        conversation = await store.get(message.conversation_id)
        reply = await store.reply_to(message.id)
        if reply is not None:
            return PreparedTurn.of(conversation, message, replay=reply)
        status, _ = seen_status(message)
        if status == TurnStatus.RUNNING.value:
            raise _Waiting(ALREADY_ANSWERING)
        conversation_key = conversation.id
        try:
            claim = await turns.claim(message)
        except ConversationBusy:
            if await turns.fail_lost(conversation_key):
                return None
            raise _Waiting(BUSY_CONVERSATION) from None
        if claim is None:
            if not await turns.is_latest(message):
                raise TaskPilotError(
                    ErrorCode.NOT_LATEST_MESSAGE,
                    "Newer messages were sent after this one, so it can't be answered in"
                    " its place now; send it again instead.",
                )
            return None  # another request claimed it first: wait for its answer
        return await self._prepared(store, conversation, message, claim)

    async def _prepared(
        self, store: ConversationStore, conversation: Conversation, message: Message, claim: Claim
    ) -> PreparedTurn:
        assert message.id is not None
        try:
            if claim.attempt > 1:
                # The calls an earlier attempt saved, as they are now that this one holds it.
                await store.session.refresh(message, ["tool_calls"])
            history = await store.history(
                conversation.id, self.settings.history_turns, before_id=message.id
            )
        except BaseException:
            # Claimed but not started (the database went away): give the claim back as a
            # failure, so the question does not wait for its lease to read failed.
            failing = self._fail(
                store.user_id, claim, NOT_STARTED, ToolCall.stored(message.tool_calls)
            )
            await asyncio.shield(failing)
            raise
        return PreparedTurn.of(
            conversation,
            message,
            claim=claim,
            history=history,
            earlier_calls=ToolCall.stored(message.tool_calls),
        )

    # --- running ----------------------------------------------------------------------------

    def start(self, turn: PreparedTurn) -> RunningTurn:
        """Run a prepared turn in a task of its own; read its events from the handle (a turn
        started while the worker shuts down is failed at once, saying so)."""
        running = RunningTurn(turn)
        running.task = asyncio.create_task(self._life(running), name=f"turn-{turn.message_id}")
        self._running.add(running)
        running.task.add_done_callback(lambda _: self._running.discard(running))
        return running

    async def abandon(self, turn: PreparedTurn, reason: str = STOPPED) -> None:
        """A prepared turn that will not run (its client left first): mark it failed, so its
        question is kept and can be retried."""
        try:
            if turn.claim is not None:
                metrics.turn_ended(TurnOutcome.STOPPED, ErrorCode.TURN_STOPPED)
                await self._fail(turn.user_id, turn.claim, reason, turn.earlier_calls)
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
            await self._run(running)
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
        """A prepared turn that will not run: its question failed with the stop reason."""
        turn = running.turn
        metrics.turn_ended(TurnOutcome.STOPPED, running.stop_code)
        if turn.claim is not None:
            await self._fail(turn.user_id, turn.claim, running.stop_reason, turn.earlier_calls)
        running.emit(
            TurnError(
                code=running.stop_code,
                message=running.stop_reason,
                conversation_id=turn.conversation_id,
            )
        )

    async def _run(self, running: RunningTurn) -> None:
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
        claim = turn.claim
        assert claim is not None
        translator = RunTranslator()
        started = time.perf_counter()
        deadline = asyncio.timeout(self.settings.turn_deadline_seconds)
        try:
            async with self._lease(running, claim), deadline:
                zone = await self.zones.of(self.db, turn.user_id)
                with in_zone(zone):  # "today" and "friday" as the person means them
                    reply = await self._run_agent(running, claim, translator)
            # Shielded: a Stop that lands while the reply is being stored can't half-store it.
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
        running.emit(
            TurnDone(
                conversation_id=turn.conversation_id,
                message_id=stored.id or 0,
                response=reply,
                tool_calls=[*turn.earlier_calls, *translator.all_calls()],
            )
        )

    async def _run_agent(
        self, running: RunningTurn, claim: Claim, translator: RunTranslator
    ) -> str:
        """Run the agent over the turn's input through the MCP tools; the reply's text."""
        turn = running.turn
        async with self.mcp.session(turn.user_id) as tools:
            result = Runner.run_streamed(
                self._agent(tools),
                input=turn_input(turn.history, turn.question, turn.earlier_calls, turn.message_id),
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
        return translator.reply or str(result.final_output or "")

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
                    held = await TurnStore(session, running.turn.user_id, self.lease).renew(claim)
            except Exception:  # the database is away: the turn goes on, its end will tell
                logger.warning("could not renew a turn's lease", exc_info=True)
                continue
            if not held:
                self._supersede(running)
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

    async def _fail(
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

    # --- shutdown ---------------------------------------------------------------------------

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
        for pending in list(self._failing):
            pending.cancel()


class _Waiting(Exception):
    """Another turn holds the conversation or the message: look again after a pause."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
