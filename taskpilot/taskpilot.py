"""The Reflex app: TaskPilot's pages, with the HTTP API and MCP endpoint mounted beneath.

`rx.App(api_transformer=create_api())` puts our FastAPI app in front of Reflex's backend,
so /api/* and /mcp are served by the same process (and port, in prod) as the pages.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import reflex as rx

from taskpilot.api.app import create_api
from taskpilot.data.models import ALL_TABLES
from taskpilot.runtime import get_runtime

# Reflex's `reflex db makemigrations` autogenerates from its model registry.
for _table in ALL_TABLES:
    rx.ModelRegistry.register(_table)


def index() -> rx.Component:
    """A minimal landing page until the chat page lands."""
    return rx.center(
        rx.vstack(
            rx.heading("TaskPilot", size="8"),
            rx.text(
                "Your task assistant. The chat API is at /api; its documentation at /api/docs."
            ),
            spacing="3",
            align="center",
        ),
        height="100vh",
    )


@asynccontextmanager
async def _runtime_lifespan() -> AsyncIterator[None]:
    async with get_runtime().running():
        yield


app = rx.App(api_transformer=create_api(get_runtime()))
app.register_lifespan_task(_runtime_lifespan)
app.add_page(index, route="/", title="TaskPilot")
