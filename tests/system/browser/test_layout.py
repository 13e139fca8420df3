"""The layout at 375 px (a phone) and the header's toggles at 1440 px."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from playwright.sync_api import ViewportSize, expect

from tests.support.browser import PHONE, seed_conversation
from tests.support.chat_page import Account, ChatPage, conversation_url
from tests.support.openai_standin import reply
from tests.support.standin import BrowserStandIn

pytestmark = pytest.mark.browser

WIDE: ViewportSize = {"width": 1440, "height": 900}


def test_phone_layout(
    open_page: Callable[..., ChatPage],
    account: Account,
    model: BrowserStandIn,
    api: httpx.Client,
) -> None:
    earlier = seed_conversation(api, account, model, "what is due friday?", "Nothing is due.")
    chat = open_page(account, viewport=PHONE).open_chat()
    assert chat.horizontal_overflow() <= 0, "the start screen scrolls sideways at 375 px"
    expect(chat.history).to_be_hidden()  # a drawer, closed until asked for
    box = chat.composer.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    chat.screenshot("phone-start")

    # The history opens as a drawer (Escape or its close button put it away) …
    chat.button("Toggle history").click()
    expect(chat.history).to_be_visible()
    expect(chat.button("Close history")).to_be_focused()  # focus moves into the drawer
    chat.page.keyboard.press("Escape")
    expect(chat.history).to_be_hidden()
    chat.button("Toggle history").click()
    expect(chat.history).to_be_visible()
    chat.button("Close history").click()
    expect(chat.history).to_be_hidden()
    expect(chat.tasks_panel).to_be_hidden()  # a drawer too
    chat.button("Toggle tasks").click()
    expect(chat.tasks_panel).to_be_visible()
    chat.screenshot("phone-tasks-drawer")
    chat.button("Close tasks").click()
    expect(chat.tasks_panel).to_be_hidden()

    # … and takes you to a conversation.
    chat.button("Toggle history").click()
    expect(chat.history).to_be_visible()
    chat.screenshot("phone-history-drawer")
    chat.conversation_item("what is due friday?").click()
    chat.page.wait_for_url(conversation_url(earlier))
    expect(chat.assistant_messages.last).to_contain_text("Nothing is due.")
    expect(chat.history).to_be_hidden()  # the drawer closes on choosing
    expect(chat.composer).to_be_in_viewport()

    # The composer works at this width.
    model.script_step(reply("Sure, here is a longer answer that has to wrap on a narrow screen."))
    chat.send("a question typed on a phone")
    expect(chat.assistant_messages.last).to_contain_text("wrap on a narrow screen")
    chat.wait_until_idle()
    assert chat.horizontal_overflow() <= 0, "the conversation scrolls sideways at 375 px"
    expect(chat.composer).to_be_in_viewport()
    chat.screenshot("phone-conversation")
    model.assert_done()


def test_header_toggles_at_desktop_width(
    open_page: Callable[..., ChatPage], account: Account
) -> None:
    chat = open_page(account, viewport=WIDE).open_chat()
    assert chat.horizontal_overflow() <= 0

    # History and tasks collapse and come back.
    chat.ensure_history()
    chat.button("Toggle history").click()
    expect(chat.history).to_be_hidden()
    chat.button("Toggle history").click()
    expect(chat.history).to_be_visible()
    chat.ensure_tasks_panel()
    chat.button("Toggle tasks").click()
    expect(chat.tasks_panel).to_be_hidden()
    chat.button("Toggle tasks").click()
    expect(chat.tasks_panel).to_be_visible()

    # Light/dark.
    html = chat.page.locator("html")
    before = html.get_attribute("class") or ""
    chat.button("Toggle theme").click()
    expect(html).not_to_have_attribute("class", before)
    chat.screenshot("desktop-theme-toggled")

    # The footer names the model. The skip link is the first stop in tab order (the page
    # starts with the composer focused, so Tab wraps round to it) and leads to the composer.
    expect(chat.model_note).to_contain_text("standin")
    first_tabbable = chat.page.evaluate(
        """() => [...document.querySelectorAll('a[href], button, input, textarea, select,'
              + ' [tabindex]:not([tabindex="-1"])')]
              .find(e => !e.disabled && e.getClientRects().length)?.textContent"""
    )
    assert first_tabbable == "Skip to the message box"
    skip = chat.page.get_by_role("link", name="Skip to the message box")
    skip.focus()
    expect(chat.composer).not_to_be_focused()
    chat.page.keyboard.press("Enter")
    expect(chat.composer).to_be_focused()
