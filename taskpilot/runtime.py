"""The process's long-lived parts, built once: settings, database, limits, MCP server, the
turn engine, and the ChatKit server and hosted-session client that sit on it.

The HTTP API, the Reflex state handlers and the ChatKit server all run turns through
`get_runtime().turns`; the live feed (`runtime.live`) tells a person's open pages about their
turns and task changes, whichever worker made them. Nothing here holds conversation state; it
is configuration, pools and the set of turns running in this process.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import lru_cache

from agents.models.interface import Model

from taskpilot.agent.engine import TurnEngine
from taskpilot.agent.mcp_client import McpConnector
from taskpilot.agent.providers import build_model, close_model
from taskpilot.chatkit.server import TaskPilotChatKitServer
from taskpilot.chatkit.sessions import HostedSessions
from taskpilot.chatkit.store import ConversationThreadStore
from taskpilot.core.config import Settings, get_settings
from taskpilot.core.db import Database
from taskpilot.core.limits import Limits
from taskpilot.core.live import live_feed
from taskpilot.mcp.server import build_mcp_app, build_mcp_server


class Runtime:
    """Everything a worker needs to serve turns, created once per process."""

    def __init__(self, settings: Settings | None = None, model: Model | None = None) -> None:
        self.settings = settings or get_settings()
        self.db = Database(self.settings)
        self.limits = Limits(self.settings)
        self.live = live_feed(self.settings)
        self.mcp_server = build_mcp_server(self.settings, self.db, self.live)
        self.mcp_app = build_mcp_app(self.mcp_server, self.settings)
        self.turns = TurnEngine(
            self.settings,
            self.db,
            model or build_model(self.settings),
            McpConnector(self.settings, self.mcp_server),
            self.limits,
            self.live,
        )
        store = ConversationThreadStore(self.db)
        self.chatkit = TaskPilotChatKitServer(self.turns, store)
        self.chatkit_sessions = HostedSessions(self.settings)

    @asynccontextmanager
    async def running(self) -> AsyncIterator[Runtime]:
        """Start the MCP session manager for the app's lifetime. At the end, running turns
        finish (or are stopped and marked failed) while the model client, the MCP server and
        the database are still there; then those close."""
        try:
            async with self.mcp_server.session_manager.run():
                try:
                    yield self
                finally:
                    await self.turns.drain()
        finally:
            await self.db.dispose()
            await close_model(self.turns.model)
            await self.chatkit_sessions.close()
            await self.limits.close()
            await self.live.close()


@lru_cache(maxsize=1)
def get_runtime() -> Runtime:
    """The process-wide runtime."""
    return Runtime()
