"""The /chatkit page in Chromium, hosted mode: ChatKit runs an Agent Builder workflow, and the
browser gets only client secrets, from `/api/chatkit/sessions`, which creates sessions at the
OpenAI stand-in (a real HTTP server). This server is started with hosted settings, after the
other browser tests (`conftest.py` orders them)."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from playwright.sync_api import expect

from tests.support.app_server import HOSTED_API_KEY, HOSTED_WORKFLOW_ID, JWT_SECRET
from tests.support.chat_page import Account, ChatPage
from tests.support.chatkit_page import chatkit_options, open_chatkit
from tests.support.standin import BrowserStandIn

pytestmark = [
    pytest.mark.browser,
    pytest.mark.parametrize("app", ["hosted"], indirect=True),
]


def client_secret(chat: ChatPage, current: str | None) -> dict[str, str]:
    """What the wrapper's `getClientSecret(current)` gives ChatKit: {secret} or {error}."""
    return chat.page.evaluate("c => window.__chatkit.secret(c)", current)  # type: ignore[no-any-return]


def test_the_browser_gets_session_secrets_and_never_the_key(
    open_page: Callable[..., ChatPage], account: Account, model: BrowserStandIn
) -> None:
    chat = open_chatkit(open_page(account))
    expect(chat.page.locator(".tp-chatkit-frame")).to_have_attribute("data-mode", "hosted")
    options = chatkit_options(chat)
    assert options["api"] == {"getClientSecret": "[function getClientSecret]"}
    assert options["disclaimer"]["text"] == "Answered by the hosted ChatKit workflow."

    first = client_secret(chat, None)
    sessions = model.sessions
    assert len(sessions) == 1 and first == {"secret": sessions[0]["client_secret"]}
    (asked,) = model.session_requests
    assert asked.body == {"user": account.id, "workflow": {"id": HOSTED_WORKFLOW_ID}}
    assert asked.authorization == f"Bearer {HOSTED_API_KEY}"

    # A fresh secret is reused (a remount does not start a session); the one ChatKit says has
    # expired is replaced by a new session's.
    assert client_secret(chat, None) == first
    assert len(model.session_requests) == 1
    refreshed = client_secret(chat, first["secret"])
    assert refreshed["secret"] != first["secret"]
    assert refreshed == {"secret": model.sessions[-1]["client_secret"]}

    # OpenAI refusing: ChatKit gets TaskPilot's readable reason, not OpenAI's words.
    model.fail_sessions(500, "upstream exploded", times=2)
    failed = client_secret(chat, refreshed["secret"])
    assert failed == {"error": "OpenAI did not start a ChatKit session (HTTP 500)."}

    # Nothing secret ever reached the page.
    page_text = chat.page.content() + json.dumps(chatkit_options(chat))
    for secret in (HOSTED_API_KEY, HOSTED_API_KEY[-8:], HOSTED_WORKFLOW_ID, JWT_SECRET):
        assert secret not in page_text
    chat.screenshot("chatkit-hosted-standin")
    assert chat.page_errors == []
