"""The ChatKit page with a stand-in for ChatKit's web component, for the browser tests.

`assets/chatkit_standin.js` defines `openai-chatkit` in place of ChatKit's script (OpenAI's
CDN is unreachable here): it records the options TaskPilot's wrapper hands it and lets a test
call the wrapper's `fetch` / `getClientSecret` and dispatch ChatKit's events
(`window.__chatkit`).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, Route, expect

from tests.support.chat_page import ChatPage

STANDIN_JS = (Path(__file__).parent / "assets" / "chatkit_standin.js").read_text()
SCRIPT_URL = re.compile(r"/deployments/chatkit/chatkit\.js$")
ELEMENT = "openai-chatkit[data-standin]"


def serve_standin(page: Page) -> None:
    """Answer the ChatKit script's URL with the stand-in element."""

    def fulfil(route: Route) -> None:
        route.fulfill(status=200, content_type="text/javascript", body=STANDIN_JS)

    page.route(SCRIPT_URL, fulfil)


def chatkit_options(chat: ChatPage) -> dict[str, Any]:
    """The options the wrapper last handed the element (functions as "[function name]")."""
    return chat.page.evaluate("() => window.__chatkit.options()")  # type: ignore[no-any-return]


def open_chatkit(chat: ChatPage, path: str = "/chatkit") -> ChatPage:
    """Open the ChatKit page with the stand-in, once the wrapper has configured it."""
    serve_standin(chat.page)
    chat.goto(path)
    expect(chat.page.locator(ELEMENT)).to_be_attached()
    expect(chat.page.locator(".tp-chatkit-frame")).to_have_attribute("data-ready", "true")
    return chat
