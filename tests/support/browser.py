"""What the browser tests share besides fixtures: a phone's viewport, a conversation seeded
through the JSON API, and a database that is slow to write."""

from __future__ import annotations

import sqlite3
import threading

import httpx
from playwright.sync_api import ViewportSize

from tests.support.app_server import AppServer
from tests.support.chat_page import Account
from tests.support.openai_standin import Step, reply
from tests.support.standin import BrowserStandIn

# A phone's viewport (the narrowest layout the page supports).
PHONE: ViewportSize = {"width": 375, "height": 812}


class HeldWrites:
    """A slow database under the test's hand: `take` (a stand-in hook) holds SQLite's write lock,
    so a tool called by the step it is attached to waits; `release` lets it write. The lock goes
    by itself after `at_most` seconds, below the app's 5 s busy timeout, so a test that fails
    before releasing never makes the tool fail too.

    Released by the test once it has seen what the wait is for, not after a fixed time: a page
    slow to draw on a loaded machine would otherwise see the wait already over."""

    def __init__(self, app: AppServer, at_most: float = 4.0) -> None:
        self._app = app
        self._at_most = at_most
        self._connection: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    def take(self) -> None:
        connection = sqlite3.connect(self._app.database_path, timeout=10, check_same_thread=False)
        connection.execute("BEGIN IMMEDIATE")
        with self._lock:
            self._connection = connection
        threading.Timer(self._at_most, self.release).start()

    def release(self) -> None:
        with self._lock:
            connection, self._connection = self._connection, None
        if connection is not None:
            connection.rollback()
            connection.close()


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
