"""The stateless agent service: one turn in, a stream of `TurnEvent`s out.

Nothing about a conversation lives in this object between turns. Each turn:
1. loads the last N turns of the conversation (one bounded query),
2. stores the user's message (status pending),
3. runs the Agents SDK agent, whose only tools are the TaskPilot MCP server's, reached with a
   short-lived token that names the user,
4. streams text deltas and tool progress,
5. stores the reply with its tool calls (or marks the user's message failed; no half reply).
Any worker can serve any turn, because everything it needs is in the database.
"""

from __future__ import annotations

import asyncio
import json
import logging
import ssl
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from contextlib import aclosing, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx2
from agents import Agent, ModelSettings, RunConfig, Runner
from agents.exceptions import AgentsException, MaxTurnsExceeded, ModelBehaviorError
from agents.items import (
    MessageOutputItem,
    ToolCallItem,
    ToolCallOutputItem,
    TResponseInputItem,
)
from agents.mcp import MCPServerStreamableHttp
from agents.models.interface import Model
from mcp.types import Tool as MCPTool
from openai import APIConnectionError, APIError, APIStatusError, APITimeoutError
from sqlalchemy.exc import IntegrityError
from starlette.types import ASGIApp

from taskpilot.agent.events import (
    TextDelta,
    ToolCall,
    ToolFinished,
    ToolStarted,
    TurnDone,
    TurnError,
    TurnEvent,
    TurnStarted,
)
from taskpilot.agent.instructions import build_instructions
from taskpilot.core.clock import today
from taskpilot.core.config import ModelProvider, Settings
from taskpilot.core.db import Database, DatabaseUnavailable
from taskpilot.core.limits import Limits, RateLimited, TurnSlot, WorkerBusy
from taskpilot.core.security import mint_mcp_token
from taskpilot.data.models import Conversation, Message, Role, TurnStatus
from taskpilot.services.conversations import STALE_TURN, ConversationStore, title_from_message
from taskpilot.services.text import LINE_BREAKS, unstorable

logger = logging.getLogger("taskpilot.agent")

INTERNAL_MCP_BASE = "http://taskpilot.internal"
MAX_AGENT_STEPS = 8
STOPPED = "The reply was stopped before it finished."
# Failures still to be written down (the database was away); referenced until they are.
_failing: set[asyncio.Task[None]] = set()


class TurnRejected(Exception):
    """The turn cannot start; `status` is the HTTP status an adapter should answer with."""

    def __init__(
        self, status: int, code: str, message: str, retry_after: int | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.retry_after = retry_after  # seconds, for a 429

    @property
    def headers(self) -> dict[str, str] | None:
        """HTTP headers that go with the refusal (Retry-After on a 429)."""
        return None if self.retry_after is None else {"Retry-After": str(self.retry_after)}


def clean_message(text: object, max_chars: int) -> str:
    """The user's message, trimmed; `TurnRejected` (422) when empty, too long, or holding a
    character the database cannot store (every entry point calls this first)."""
    if not isinstance(text, str):
        raise TurnRejected(422, "invalid_message", "The message must be text.")
    value = text.strip()
    if not value:
        raise TurnRejected(422, "empty_message", "The message is empty; type something to send.")
    if len(value) > max_chars:
        raise TurnRejected(
            422,
            "message_too_long",
            f"The message is {len(value)} characters; the limit is {max_chars}.",
        )
    if (char := unstorable(value, LINE_BREAKS)) is not None:
        raise TurnRejected(422, "invalid_message", f"The message can't contain {char}.")
    return value


@dataclass
class PreparedTurn:
    """A turn whose user message is stored, ready to stream (or to replay from storage)."""

    user_id: str
    conversation: Conversation
    user_message: Message
    history: list[Message] = field(default_factory=list)
    replay: Message | None = None
    # The user's place among their running turns; given back when the turn ends.
    slot: TurnSlot | None = None


class _TaskPilotMcpClient(MCPServerStreamableHttp):
    """The Agents SDK's streamable-HTTP MCP client, listing tools from a shared cache.

    Every turn opens its own client (its token names the turn's user), but the tool list is
    the same for everyone: fetching it once per process saves a round trip per turn.
    """

    def __init__(self, cache: _ToolCache, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._shared = cache

    async def list_tools(self, run_context: Any = None, agent: Any = None) -> list[MCPTool]:
        tools = self._shared.get()
        if tools is None:
            tools = await super().list_tools(run_context, agent)
            self._shared.put(tools)
        return tools


class _ToolCache:
    """The MCP server's tool list, refreshed after `ttl` seconds (a remote server may be
    redeployed with new tools)."""

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._tools: list[MCPTool] | None = None
        self._fetched = 0.0

    def get(self) -> list[MCPTool] | None:
        if self._tools is not None and time.monotonic() - self._fetched < self.ttl:
            return self._tools
        return None

    def put(self, tools: list[MCPTool]) -> None:
        self._tools, self._fetched = list(tools), time.monotonic()


class McpConnector:
    """Opens the MCP client a turn's agent uses: in-process ASGI, or a real URL."""

    def __init__(self, settings: Settings, asgi_app: ASGIApp | None) -> None:
        self.settings = settings
        self.asgi_app = asgi_app
        self.tools = _ToolCache(ttl=300)
        # One TLS context for every turn: building one per client costs ~25 ms (bench/).
        self._tls = ssl.create_default_context()

    def _factory(self) -> Callable[..., httpx2.AsyncClient]:
        app = None if self.settings.mcp_url else self.asgi_app

        def factory(
            headers: dict[str, str] | None = None, timeout: Any = None, auth: Any = None
        ) -> httpx2.AsyncClient:
            if app is None:
                return httpx2.AsyncClient(headers=headers, timeout=timeout, verify=self._tls)
            return httpx2.AsyncClient(
                transport=httpx2.ASGITransport(app=app),  # type: ignore[arg-type]
                base_url=INTERNAL_MCP_BASE,
                headers=headers,
                timeout=timeout,
            )

        return factory

    @asynccontextmanager
    async def connect(self, user_id: str) -> AsyncIterator[MCPServerStreamableHttp]:
        """An MCP client session whose every request carries a token naming `user_id`."""
        token = mint_mcp_token(self.settings, user_id)
        params: dict[str, Any] = {
            "url": self.settings.mcp_url or f"{INTERNAL_MCP_BASE}/mcp",
            "headers": {"Authorization": f"Bearer {token}"},
            "timeout": 15,
            "httpx_client_factory": self._factory(),
        }
        server = _TaskPilotMcpClient(
            self.tools,
            params,
            name="taskpilot",
            client_session_timeout_seconds=30,
            custom_data_extractor=lambda ctx: {"is_error": bool(ctx.is_error)},
        )
        async with server:
            yield server


def _tool_items(calls: list[dict[str, Any]], prefix: str) -> list[TResponseInputItem]:
    """Stored tool calls as function_call / function_call_output input item pairs."""
    items: list[TResponseInputItem] = []
    for index, call in enumerate(calls):
        call_id = str(call.get("call_id") or f"call_{prefix}_{index}")
        result = call.get("result")
        items.append(
            {
                "type": "function_call",
                "call_id": call_id,
                "name": str(call.get("name", "")),
                "arguments": json.dumps(call.get("arguments") or {}),
            }
        )
        items.append(
            {
                "type": "function_call_output",
                "call_id": call_id,
                "output": result if isinstance(result, str) else json.dumps(result),
            }
        )
    return items


def history_to_input(messages: list[Message]) -> list[TResponseInputItem]:
    """Stored messages as model input, tool calls included, so history replays faithfully."""
    items: list[TResponseInputItem] = []
    for message in messages:
        if message.role == Role.USER.value:
            items.append({"role": "user", "content": message.content})
            continue
        items.extend(_tool_items(message.tool_calls or [], str(message.id)))
        if message.content:
            items.append({"role": "assistant", "content": message.content})
    return items


def _done(calls: dict[str, ToolCall]) -> list[dict[str, Any]]:
    """The tool calls that returned: their effects are real."""
    return [call.model_dump() for call in calls.values() if call.result is not None]


def _parse_json(text: Any) -> Any:
    if isinstance(text, dict) and "text" in text:
        text = text["text"]
    if isinstance(text, list) and len(text) == 1 and isinstance(text[0], dict):
        text = text[0].get("text", text)
    if isinstance(text, str):
        try:
            return json.loads(text)
        except ValueError:
            return text
    return text


# How the Agents SDK words a Responses stream that ended in a provider failure; it has no
# dedicated exception class for it.
_PROVIDER_STREAM_FAILURE = "Responses stream ended with terminal event"


def _explain(exc: BaseException) -> tuple[str, str]:
    """A failure as (code, message for the person). Never the raw exception text."""
    if isinstance(exc, DatabaseUnavailable):
        return "database_unavailable", "The database is unavailable right now; try again shortly."
    if isinstance(exc, APITimeoutError | TimeoutError):
        return "model_timeout", "The model took too long to answer. Please try again."
    if isinstance(exc, APIConnectionError):
        return (
            "model_unreachable",
            "The model service can't be reached right now. Please try again.",
        )
    if isinstance(exc, APIStatusError) and exc.status_code in (401, 403):
        return "model_auth", "The model service rejected TaskPilot's credentials."
    if isinstance(exc, APIStatusError) and exc.status_code == 429:
        return "model_busy", "The model service is busy (rate limited). Please try again shortly."
    if isinstance(exc, APIError):
        return "model_error", "The model service returned an error. Please try again."
    if isinstance(exc, ModelBehaviorError) and str(exc).startswith(_PROVIDER_STREAM_FAILURE):
        return "model_error", "The model service returned an error. Please try again."
    if isinstance(exc, MaxTurnsExceeded):
        return "too_many_steps", "That took too many steps; try asking in a simpler way."
    if isinstance(exc, AgentsException):
        return "agent_error", "Something went wrong while working on your tasks. Please try again."
    return "internal_error", "Something went wrong on our side. Please try again."


class AgentService:
    """Runs chat turns. Holds configuration only; safe to share across requests."""

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
        # TaskPilot keeps history itself, so OpenAI need not store responses (privacy).
        store = False if settings.resolved_model_provider is ModelProvider.OPENAI else None
        self.model_settings = ModelSettings(parallel_tool_calls=False, store=store)

    async def prepare(
        self,
        user_id: str,
        conversation_id: str | None,
        text: object,
        client_message_id: str | None = None,
        slot: TurnSlot | None = None,
    ) -> PreparedTurn:
        """Validate, create the conversation if new, store the user's message. `slot`: one
        the caller already took from `limits` (ChatKit does, to answer 429 before streaming).

        Raises `TurnRejected` (4xx) for bad input, an unknown conversation, a retry of a turn
        still running or a user over their limits (429), and `DatabaseUnavailable` when the
        database is down.
        """
        message_text = clean_message(text, self.settings.max_message_chars)
        if client_message_id is not None and not (0 < len(client_message_id) <= 100):
            raise TurnRejected(
                422, "invalid_client_message_id", "client_message_id must be 1–100 characters."
            )
        async with self._admitted(user_id, slot) as admitted:
            turn = await self._prepare(user_id, conversation_id, message_text, client_message_id)
            turn.slot = admitted
            return turn

    async def admit(self, user_id: str) -> TurnSlot:
        """A slot among the user's running turns; `TurnRejected` (429) when over a limit."""
        try:
            return await self.limits.admit_turn(user_id)
        except RateLimited as exc:
            raise TurnRejected(429, "rate_limited", exc.message, exc.retry_after) from exc
        except WorkerBusy as exc:
            raise TurnRejected(
                503, "busy", "TaskPilot is very busy right now; try again in a few seconds.", 5
            ) from exc

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

    async def _prepare(
        self,
        user_id: str,
        conversation_id: str | None,
        message_text: str,
        client_message_id: str | None,
    ) -> PreparedTurn:
        async with self.db.session() as session:
            store = ConversationStore(session, user_id)
            if client_message_id:
                existing = await store.find_by_client_id(client_message_id)
                if existing is not None:
                    return await self._resume(store, existing, conversation_id)
            if conversation_id:
                try:
                    conversation = await store.get(conversation_id)
                except LookupError as exc:
                    raise TurnRejected(404, "conversation_not_found", str(exc)) from exc
            else:
                conversation = await store.create(title_from_message(message_text))
            history = await store.history(conversation.id, self.settings.history_turns)
            try:
                user_message = await store.add_user_message(
                    conversation, message_text, client_message_id
                )
            except IntegrityError as exc:
                # Two identical retries raced; the other one owns the turn.
                raise TurnRejected(
                    409, "turn_in_progress", "This message is already being answered."
                ) from exc
            return PreparedTurn(user_id, conversation, user_message, history)

    async def prepare_retry(
        self, user_id: str, conversation_id: str, message_id: int, slot: TurnSlot | None = None
    ) -> PreparedTurn:
        """Run the turn of a stored user message again (ChatKit's retry), as a retried
        `client_message_id` does; `TurnRejected` (404) when it is not the caller's."""
        async with self._admitted(user_id, slot) as admitted, self.db.session() as session:
            store = ConversationStore(session, user_id)
            try:
                message = await store.message(message_id)
            except LookupError as exc:
                raise TurnRejected(404, "message_not_found", str(exc)) from exc
            if message.role != Role.USER.value or message.conversation_id != conversation_id:
                raise TurnRejected(404, "message_not_found", "That message was not found.")
            turn = await self._resume(store, message, conversation_id)
            turn.slot = admitted
            return turn

    async def _resume(
        self, store: ConversationStore, message: Message, conversation_id: str | None
    ) -> PreparedTurn:
        """A retried `client_message_id`: replay the stored answer, or re-run a failed turn."""
        if conversation_id and message.conversation_id != conversation_id:
            raise TurnRejected(
                409,
                "client_message_id_reused",
                "That client_message_id was already used in another conversation.",
            )
        conversation = await store.get(message.conversation_id)
        reply = await store.reply_to(message.id) if message.id is not None else None
        if reply is not None:
            return PreparedTurn(store.user_id, conversation, message, replay=reply)
        if message.status == TurnStatus.PENDING.value and not store.is_stale(message):
            raise TurnRejected(409, "turn_in_progress", "This message is already being answered.")
        history = await store.history(
            conversation.id, self.settings.history_turns, before_id=message.id
        )
        await store.retry_turn(message)
        return PreparedTurn(store.user_id, conversation, message, history)

    async def stream(self, turn: PreparedTurn) -> AsyncGenerator[TurnEvent, None]:
        """Run a prepared turn, yielding its events; always ends with done or error."""
        try:
            async with aclosing(self._run(turn)) as events:
                async for event in events:
                    yield event
        finally:
            if turn.slot is not None:
                await asyncio.shield(turn.slot.release())

    async def _run(self, turn: PreparedTurn) -> AsyncGenerator[TurnEvent, None]:
        assert turn.user_message.id is not None
        # Read now: a session that fails below (the database going away mid-turn) rolls back
        # and expires these detached rows, and reading them afterwards would raise.
        conversation_id, message_id = turn.conversation.id, turn.user_message.id
        # Tool calls an earlier, failed attempt at this turn already made: the model sees
        # them, so a retry does not add the same task twice.
        earlier = list(turn.user_message.tool_calls or [])
        yield TurnStarted(
            conversation_id=conversation_id,
            title=turn.conversation.title,
            user_message_id=turn.user_message.id,
        )
        if turn.replay is not None:
            yield TurnDone(
                conversation_id=turn.conversation.id,
                message_id=turn.replay.id or 0,
                response=turn.replay.content,
                tool_calls=[ToolCall(**call) for call in turn.replay.tool_calls or []],
                replayed=True,
            )
            return

        calls: dict[str, ToolCall] = {}
        finished = False
        started = time.perf_counter()
        try:
            async with self.mcp.connect(turn.user_id) as mcp_server:
                agent = Agent(
                    name="TaskPilot",
                    instructions=build_instructions(today(self.settings)),
                    mcp_servers=[mcp_server],
                    model=self.model,
                    model_settings=self.model_settings,
                )
                items = history_to_input(turn.history)
                items.append({"role": "user", "content": turn.user_message.content})
                items.extend(_tool_items(earlier, f"retry_{message_id}"))
                result = Runner.run_streamed(
                    agent,
                    input=items,
                    max_turns=MAX_AGENT_STEPS,
                    run_config=RunConfig(
                        tracing_disabled=not self.settings.openai_tracing,
                        trace_include_sensitive_data=False,
                        workflow_name="TaskPilot turn",
                    ),
                )
                # The stored reply is the text the person watched stream: every message of the
                # turn (a model may speak before calling a tool), a blank line between them.
                pieces: list[str] = []
                new_message = False
                async for event in result.stream_events():
                    out = self._translate(event, calls)
                    if event.type == "run_item_stream_event" and isinstance(
                        event.item, MessageOutputItem
                    ):
                        new_message = bool(pieces)
                    if isinstance(out, TextDelta):
                        if new_message:
                            out = TextDelta(delta="\n\n" + out.delta)
                            new_message = False
                        pieces.append(out.delta)
                    if isinstance(out, ToolFinished):
                        # Kept now, not only when the turn ends: a worker that dies mid-turn
                        # must not take the record of what its tools did with it.
                        await self._save_progress(
                            turn.user_id, message_id, [*earlier, *_done(calls)]
                        )
                    if out is not None:
                        yield out
                reply = "".join(pieces) if pieces else str(result.final_output or "")
            async with self.db.session() as session:
                store = ConversationStore(session, turn.user_id)
                stored = await store.finish_turn(
                    turn.conversation,
                    turn.user_message,
                    reply,
                    [call.model_dump() for call in calls.values()],
                )
            finished = True
            logger.info(
                "turn done",
                extra={
                    "conversation_id": conversation_id,
                    "tool_calls": len(calls),
                    "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                },
            )
            yield TurnDone(
                conversation_id=turn.conversation.id,
                message_id=stored.id or 0,
                response=reply,
                tool_calls=[ToolCall(**call) for call in stored.tool_calls],
            )
        except (asyncio.CancelledError, GeneratorExit):
            # Stop button or a dropped connection: keep the user's message, store no reply.
            if not finished:
                await asyncio.shield(
                    self._fail(turn.user_id, message_id, STOPPED, [*earlier, *_done(calls)])
                )
            raise
        except Exception as exc:
            code, message = _explain(exc)
            logger.error(
                "turn failed",
                extra={"code": code, "conversation_id": conversation_id},
                exc_info=not isinstance(exc, DatabaseUnavailable | APIError),
            )
            if not finished:
                await self._fail(turn.user_id, message_id, message, [*earlier, *_done(calls)])
            yield TurnError(code=code, message=message, conversation_id=conversation_id)

    async def run_turn(
        self,
        user_id: str,
        conversation_id: str | None,
        text: str,
        client_message_id: str | None = None,
    ) -> AsyncGenerator[TurnEvent, None]:
        """Prepare and stream a turn; a rejected turn yields one error event."""
        try:
            turn = await self.prepare(user_id, conversation_id, text, client_message_id)
        except TurnRejected as exc:
            yield TurnError(code=exc.code, message=exc.message, conversation_id=conversation_id)
            return
        except DatabaseUnavailable as exc:
            yield TurnError(code="database_unavailable", message=str(exc))
            return
        async with aclosing(self.stream(turn)) as events:
            async for event in events:
                yield event

    async def abandon(self, turn: PreparedTurn, reason: str = STOPPED) -> None:
        """A prepared turn that will not run (its client left first): mark it failed, so its
        message is kept and can be retried."""
        try:
            assert turn.user_message.id is not None
            earlier = list(turn.user_message.tool_calls or [])
            await self._fail(turn.user_id, turn.user_message.id, reason, earlier)
        finally:
            if turn.slot is not None:
                await turn.slot.release()

    async def _fail(
        self, user_id: str, message_id: int, reason: str, tool_calls: list[dict[str, Any]]
    ) -> None:
        """Mark the turn's user message failed, keeping the tool calls that did change data.
        With the database down, keep trying in the background: once it is back the message
        reads "failed" (retryable at once), not "pending" until it goes stale."""
        if await self._mark_failed(user_id, message_id, reason, tool_calls):
            return
        retry = asyncio.create_task(
            self._mark_failed_later(user_id, message_id, reason, tool_calls)
        )
        _failing.add(retry)
        retry.add_done_callback(_failing.discard)

    async def _mark_failed(
        self, user_id: str, message_id: int, reason: str, tool_calls: list[dict[str, Any]]
    ) -> bool:
        """False when the database is unavailable."""
        try:
            async with self.db.session() as session:
                await ConversationStore(session, user_id).fail_pending(
                    message_id, reason, tool_calls
                )
        except DatabaseUnavailable:
            return False
        except Exception:
            logger.warning("could not mark turn failed", exc_info=True)
        return True

    async def _mark_failed_later(
        self, user_id: str, message_id: int, reason: str, tool_calls: list[dict[str, Any]]
    ) -> None:
        deadline = time.monotonic() + STALE_TURN.total_seconds()
        while time.monotonic() < deadline:
            await asyncio.sleep(1)
            if await self._mark_failed(user_id, message_id, reason, tool_calls):
                return

    async def _save_progress(
        self, user_id: str, message_id: int, tool_calls: list[dict[str, Any]]
    ) -> None:
        try:
            async with self.db.session() as session:
                await ConversationStore(session, user_id).save_progress(message_id, tool_calls)
        except Exception:  # best effort: the turn goes on, and is stored whole at its end
            logger.warning("could not save the turn's progress", exc_info=True)

    @staticmethod
    def _translate(event: Any, calls: dict[str, ToolCall]) -> TurnEvent | None:
        if event.type == "raw_response_event":
            data = event.data
            if getattr(data, "type", None) == "response.output_text.delta" and data.delta:
                return TextDelta(delta=data.delta)
            return None
        if event.type != "run_item_stream_event":
            return None
        item = event.item
        if isinstance(item, ToolCallItem):
            raw = item.raw_item
            call_id = str(getattr(raw, "call_id", None) or getattr(raw, "id", "") or "")
            name = str(getattr(raw, "name", "") or "")
            arguments = _parse_json(getattr(raw, "arguments", "") or "{}")
            if not isinstance(arguments, dict):
                arguments = {"value": arguments}
            calls[call_id] = ToolCall(call_id=call_id, name=name, arguments=arguments)
            return ToolStarted(call_id=call_id, name=name, arguments=arguments)
        if isinstance(item, ToolCallOutputItem):
            call_id = str(item.call_id or "")
            call = calls.get(call_id) or ToolCall(call_id=call_id, name="unknown")
            call.result = _parse_json(item.output)
            call.is_error = bool((item.custom_data or {}).get("is_error"))
            calls[call_id] = call
            return ToolFinished(**call.model_dump())
        return None
