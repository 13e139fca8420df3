"""The MCP client a turn's agent uses: the Agents SDK's streamable-HTTP client, reaching
TaskPilot's MCP server in-process (through the ASGI app, no socket) or at `MCP_URL`.

Each turn gets its own client, whose token names the turn's user; the tool list, the same for
everyone, is fetched once per process.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx2
from agents.mcp import MCPServerStreamableHttp
from mcp.types import Tool as MCPTool
from starlette.types import ASGIApp

from taskpilot.core.config import Settings
from taskpilot.core.security import mint_mcp_token

INTERNAL_MCP_BASE = "http://taskpilot.internal"


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
