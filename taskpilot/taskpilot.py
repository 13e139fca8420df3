"""The Reflex app: TaskPilot's pages, with the HTTP API and MCP endpoint mounted beneath.

`rx.App(api_transformer=create_api())` puts our FastAPI app in front of Reflex's backend,
so /api/* and /mcp are served by the same process (and port, in prod) as the pages.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import reflex as rx

from taskpilot.agent.providers import describe_model
from taskpilot.api.app import create_api
from taskpilot.api.routes.chat import wait_for_running_turns
from taskpilot.data import models  # noqa: F401 - our tables share SQLModel.metadata with rx.Model
from taskpilot.runtime import get_runtime


def index() -> rx.Component:
    """A minimal landing page until the chat page lands."""
    return rx.center(
        rx.vstack(
            rx.heading("TaskPilot", size="8"),
            rx.text(
                "Your task assistant. The chat API is at /api; its documentation at /api/docs."
            ),
            rx.text(f"Model: {describe_model(get_runtime().settings)}", size="2", color="gray"),
            spacing="3",
            align="center",
        ),
        height="100vh",
    )


@asynccontextmanager
async def _runtime_lifespan() -> AsyncIterator[None]:
    # Reflex mounts our FastAPI app, and mounted apps get no lifespan of their own: start the
    # runtime (MCP session manager, pools) here instead.
    async with get_runtime().running():
        yield
        await wait_for_running_turns()


app = rx.App(api_transformer=create_api(get_runtime()))
app.register_lifespan_task(_runtime_lifespan)
app.add_page(index, route="/", title="TaskPilot")
