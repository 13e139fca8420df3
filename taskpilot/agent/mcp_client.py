"""The MCP client a turn's agent uses: the official `mcp` client, reaching TaskPilot's MCP
server in-process or at `MCP_URL`.

Each turn opens its own client session, bound to the turn's user:
- in-process, `mcp.Client` is handed the server object itself and dispatches to it directly
  (the SDK's in-process connection: no HTTP, no JSON-RPC framing, no token to mint and verify
  per request); the session acts for the user the entry point verified (`acting_for`);
- at `MCP_URL`, it is the streamable-HTTP client, carrying a short-lived token naming the user.

What is the same for every turn is built once per process: the tool list, the Agents SDK
function tools made from it (their schemas copied and checked once, not per turn) and the
compiled output-schema validators. The function tools call whichever session the running
turn has bound (`TurnSessions`, through a context variable), so a turn can only ever reach
its own session.
"""

from __future__ import annotations

import contextvars
import ssl
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Literal, cast

import httpx2
from agents import Tool
from agents.exceptions import UserError
from agents.mcp import MCPServer as AgentsMcpServer
from agents.mcp import MCPUtil
from mcp import Client, ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.server.mcpserver import MCPServer
from mcp.types import (
    CallToolResult,
    DiscoverResult,
    GetPromptResult,
    ListPromptsResult,
    ListToolsResult,
)
from mcp.types import Tool as MCPTool

from taskpilot.agent.tool_words import tool_error_in_words
from taskpilot.core.config import Settings
from taskpilot.core.security import mint_mcp_token
from taskpilot.mcp.server import SERVER_NAME, acting_for
from taskpilot.mcp.tools import DESTRUCTIVE

SESSION_TIMEOUT_SECONDS = 30
HTTP_TIMEOUT_SECONDS = 15
TOOL_LIST_TTL_SECONDS = 300  # a remote server may be redeployed with new tools

_session: contextvars.ContextVar[ClientSession | None] = contextvars.ContextVar(
    "mcp_turn_session", default=None
)


def _is_error(ctx: Any) -> dict[str, Any]:
    """What the turn's record keeps of a tool result besides its text."""
    return {"is_error": bool(ctx.is_error)}


class TurnSessions(AgentsMcpServer):
    """The Agents SDK's view of "the MCP server": one per process, calling each tool on the
    session the current turn has bound. It never connects by itself."""

    def __init__(self, require_approval: bool = True) -> None:
        # Tools that destroy wait for the person: the run pauses (`engine/approvals.py`).
        approval: dict[str, Literal["always", "never"]] | None = (
            {str(name): "always" for name in DESTRUCTIVE} if require_approval else None
        )
        super().__init__(custom_data_extractor=_is_error, require_approval=approval)
        self.tools: list[MCPTool] = []

    @property
    def name(self) -> str:
        return SERVER_NAME

    async def connect(self) -> None:  # sessions are opened per turn, by `McpConnector`
        return None

    async def cleanup(self) -> None:
        return None

    async def list_tools(self, run_context: Any = None, agent: Any = None) -> list[MCPTool]:
        return list(self.tools)

    async def call_tool(
        self, tool_name: str, arguments: dict[str, Any] | None, meta: dict[str, Any] | None = None
    ) -> CallToolResult:
        session = _session.get()
        if session is None:
            raise UserError("No MCP session is open for this turn.")
        return await session.call_tool(tool_name, arguments, meta=cast(Any, meta))

    async def list_prompts(self) -> ListPromptsResult:
        return ListPromptsResult(prompts=[])

    async def get_prompt(
        self, name: str, arguments: dict[str, Any] | None = None
    ) -> GetPromptResult:
        raise UserError("TaskPilot's MCP server has no prompts.")


class McpConnector:
    """Opens the MCP session a turn's agent uses, and keeps what every turn shares."""

    def __init__(self, settings: Settings, server: MCPServer) -> None:
        self.settings = settings
        self.server = server
        self.dispatch = TurnSessions(settings.require_approval)
        self._listing: ListToolsResult | None = None
        self._listed_at = 0.0
        self._function_tools: list[Tool] = []
        self._validators: dict[str, Any] = {}
        self._discovered: tuple[str, DiscoverResult] | None = None  # (version, result)
        # One TLS context for every turn: building one per client costs ~25 ms (bench/).
        self._tls = ssl.create_default_context()

    @asynccontextmanager
    async def session(self, user_id: str) -> AsyncIterator[list[Tool]]:
        """Open a session whose every tool call acts for `user_id`; yields the agent's tools,
        which call it while this block runs."""
        async with self._client(user_id) as client:
            session = client.session
            tools = await self._tools(session)
            validators = _reuse_validators(session, self._listing, self._validators)
            token = _session.set(session)
            try:
                yield tools
            finally:
                _session.reset(token)
                self._validators.update(validators)

    async def call(self, user_id: str, tool: str, arguments: dict[str, Any]) -> CallToolResult:
        """One tool call for `user_id` outside a turn (the page's task panel buttons, ChatKit's
        widget actions): the MCP result as it is (`change` reads it)."""
        async with self._client(user_id) as client:
            return await client.session.call_tool(tool, arguments)

    async def change(self, user_id: str, tool: str, arguments: dict[str, Any]) -> Any:
        """A person's own change to their tasks, outside a turn, through the MCP tool (the one
        gate for task changes): the tool's result, or `ToolRefused` in the tool's words."""
        result = await self.call(user_id, tool, arguments)
        if result.is_error:
            text = " ".join(getattr(part, "text", "") for part in result.content)
            raise ToolRefused(tool_error_in_words(text))
        return result.structured_content

    @asynccontextmanager
    async def _client(self, user_id: str) -> AsyncIterator[Client]:
        try:
            async with self._connected(user_id) as client:
                yield client
        except BaseExceptionGroup as group:
            # The client's task group wraps what the turn raised inside it; the turn's own
            # failure (a model timeout, a Stop) is what the engine must see.
            raise _sole(group) from None

    @asynccontextmanager
    async def _connected(self, user_id: str) -> AsyncIterator[Client]:
        if not self.settings.mcp_url:
            with acting_for(user_id):
                async with self._in_process() as local:
                    yield local
            return
        token = mint_mcp_token(self.settings, user_id)
        async with httpx2.AsyncClient(
            headers={"Authorization": f"Bearer {token}"},
            timeout=HTTP_TIMEOUT_SECONDS,
            verify=self._tls,
        ) as http:
            transport = streamable_http_client(self.settings.mcp_url, http_client=http)
            async with Client(transport, read_timeout_seconds=SESSION_TIMEOUT_SECONDS) as remote:
                yield remote

    @asynccontextmanager
    async def _in_process(self) -> AsyncIterator[Client]:
        """`mcp.Client` on the server object. The first session probes the server
        (`server/discover`); later ones adopt what it found (`prior_discover`, the SDK's way
        to skip the probe), and no session keeps a response cache (each lives one turn)."""
        version, known = self._discovered or ("auto", None)
        client = Client(
            self.server,
            read_timeout_seconds=SESSION_TIMEOUT_SECONDS,
            mode=version,
            prior_discover=known,
            cache=None,
        )
        async with client:
            found, negotiated = client.session.discover_result, client.session.protocol_version
            if known is None and found is not None and negotiated is not None:
                self._discovered = (negotiated, found)
            yield client

    async def _tools(self, session: ClientSession) -> list[Tool]:
        """The function tools, from the tool list fetched once per TTL (on this session)."""
        fresh = time.monotonic() - self._listed_at < TOOL_LIST_TTL_SECONDS
        if self._listing is not None and fresh:
            return self._function_tools
        listing = await session.list_tools()
        if self._listing is None or listing.tools != self._listing.tools:
            self._validators.clear()  # a changed schema needs its validator compiled anew
            self.dispatch.tools = list(listing.tools)
            self._function_tools = [
                MCPUtil.to_function_tool(tool, self.dispatch, convert_schemas_to_strict=False)
                for tool in listing.tools
            ]
        self._listing, self._listed_at = listing, time.monotonic()
        return self._function_tools


class ToolRefused(Exception):
    """A tool said no (a task that is not there, a bad value); `message` is for the person."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _sole(group: BaseExceptionGroup) -> BaseException:
    """The one exception inside nested single-member groups, or the group itself."""
    while len(group.exceptions) == 1:
        inner = group.exceptions[0]
        if not isinstance(inner, BaseExceptionGroup):
            return inner
        group = inner
    return group


def _reuse_validators(
    session: ClientSession, listing: ListToolsResult | None, validators: dict[str, Any]
) -> dict[str, Any]:
    """Give a new session the tool listing and the output-schema validators an earlier one
    built, so it neither lists the tools again nor compiles a schema before checking a result
    (about a tenth of a turn's CPU otherwise). The session's own state for these is private to
    the SDK (pinned in requirements.txt); without it, the session does the work itself.
    Returns the session's validators, to keep for the next."""
    absorb = getattr(session, "_absorb_tool_listing", None)
    if listing is None or absorb is None:
        return {}
    absorb(listing, complete=True)  # idempotent: the listing is already what it keeps
    own = getattr(session, "_tool_output_validators", None)  # (absorbing replaces it)
    if not isinstance(own, dict):
        return {}
    own.update(validators)
    return own
