"""What the browser tests share besides fixtures: a phone's viewport, a conversation seeded
through the JSON API, and a database that is slow to write."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable

import httpx
from playwright.sync_api import ViewportSize

from tests.support.app_server import AppServer
from tests.support.chat_page import Account
from tests.support.openai_standin import Step, reply
from tests.support.standin import BrowserStandIn

# A phone's viewport (the narrowest layout the page supports).
PHONE: ViewportSize = {"width": 375, "height": 812}


def hold_database_writes(app: AppServer, seconds: float) -> Callable[[], None]:
    """A stand-in hook that takes SQLite's write lock for `seconds` (a slow database): a tool
    called by the step it is attached to waits that long before it can write."""

    def hook() -> None:
        connection = sqlite3.connect(app.database_path, timeout=10, check_same_thread=False)
        connection.execute("BEGIN IMMEDIATE")

        def release() -> None:
            connection.rollback()
            connection.close()

        threading.Timer(seconds, release).start()

    return hook


def seed_conversation(
    api: httpx.Client,
    account: Account,
    model: BrowserStandIn,
    message: str,
    answer: str,
    *tool_steps: Step,
) -> str:
    """A finished turn through the JSON API (the same agent service and MCP tools), the model
    taking `tool_steps` before it answers; the conversation's id."""
    for step in tool_steps:
        model.script_step(step)
    model.script_step(reply(answer))
    response = api.post(
        f"/api/{account.id}/chat", json={"message": message}, headers=account.headers
    )
    assert response.status_code == 200, response.text
    return str(response.json()["conversation_id"])
