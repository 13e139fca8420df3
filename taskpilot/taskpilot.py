"""The Reflex app: TaskPilot's pages, with the HTTP API and MCP endpoint mounted beneath.

`rx.App(api_transformer=create_api())` puts our FastAPI app in front of Reflex's backend,
so /api/* and /mcp are served by the same process (and port, in prod) as the pages.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import reflex as rx

from taskpilot.api.app import create_api
from taskpilot.core.config import get_settings
from taskpilot.core.logs import configure as configure_logs
from taskpilot.core.origins import socket_origin_check
from taskpilot.data import models  # noqa: F401 - our tables share SQLModel.metadata with rx.Model
from taskpilot.runtime import get_runtime
from taskpilot.web.pages import register


@asynccontextmanager
async def _runtime_lifespan() -> AsyncIterator[None]:
    # Reflex mounts our FastAPI app, and mounted apps get no lifespan of their own: start the
    # runtime (MCP session manager, pools) here instead.
    # Shutting down, it lets running turns end first (`Runtime.running`).
    _own_origin_always_connects()
    async with get_runtime().running():
        yield


def _own_origin_always_connects() -> None:
    """The page's websocket takes the server's own origin as well as ALLOWED_ORIGINS
    (`core/origins.py`): Reflex hands engine.io a fixed list, and a production start on another
    port or host name would otherwise show "Cannot connect to server"."""
    if app.sio is not None:
        app.sio.eio.cors_allowed_origins = socket_origin_check(get_settings())


configure_logs(get_settings())

app = rx.App(
    api_transformer=create_api(get_runtime()),
    stylesheets=["/taskpilot.css"],
    head_components=[
        rx.el.link(rel="icon", href="/favicon.svg", type="image/svg+xml"),
        rx.script(src="/earlier.js", defer=True),  # a long chat's earlier messages, on scroll
        rx.script(src="/shortcuts.js", defer=True),  # keyboard shortcuts (shortcuts_dialog.py)
    ],
)
app.register_lifespan_task(_runtime_lifespan)
register(app)
