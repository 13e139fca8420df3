"""Keyboard shortcuts (assets/shortcuts.js): new chat, the message box, search, stop, and the
help sheet listing them; screenshots of the sheet in light and dark mode."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from playwright.sync_api import Locator, expect

from tests.support.browser import PHONE
from tests.support.chat_page import HOME_URL, Account, ChatPage
from tests.support.openai_standin import reply
from tests.support.standin import BrowserStandIn

pytestmark = pytest.mark.browser

LONG_REPLY = " ".join(f"word{n}" for n in range(80))
# Chromium reports Linux here; this makes the page believe it runs on a Mac.
ON_A_MAC = """
Object.defineProperty(Navigator.prototype, 'platform', { get: () => 'MacIntel' });
Object.defineProperty(Navigator.prototype, 'userAgentData', { get: () => undefined });
"""


def with_shortcuts(chat: ChatPage) -> ChatPage:
    """Wait for shortcuts.js: Reflex adds the page's scripts once the page is drawn, a moment
    after the composer can be used. The script marks the platform on `<html>` first."""
    expect(chat.page.locator("html")).to_have_attribute("data-keys", re.compile("."))
    return chat


def blur(chat: ChatPage) -> None:
    """Nothing focused: the keys go to the page itself."""
    chat.page.evaluate("document.activeElement && document.activeElement.blur()")


def search_box(chat: ChatPage) -> Locator:
    return chat.page.get_by_role("searchbox", name="Search chats", exact=True)


def keys_of(sheet: Locator, action: str) -> Locator:
    """The keys the help sheet shows for `action`, as on screen."""
    row = sheet.locator("tr").filter(
        has=sheet.page.get_by_role("rowheader", name=action, exact=True)
    )
    return row.locator("kbd")


def test_typing_triggers_nothing_and_the_shortcuts_do_their_things(
    open_page: Callable[..., ChatPage], account: Account, model: BrowserStandIn
) -> None:
    chat = with_shortcuts(open_page(account).open_chat())
    model.script_step(reply("Noted."))
    chat.send("first question")
    expect(chat.assistant_messages.last).to_contain_text("Noted.")
    chat.wait_until_idle()
    chat.wait_for_conversation_url()
    url = chat.page.url

    # The shortcuts' letters, typed into the message box, are only text.
    chat.composer.focus()
    chat.composer.press_sequentially("ok/ O K")
    for key in ("Shift+O", "Shift+K", "Shift+Slash"):
        chat.composer.press(key)
    expect(chat.composer).to_have_value("ok/ O KOK?")
    expect(chat.composer).to_be_focused()
    expect(chat.page.get_by_role("dialog")).to_have_count(0)
    assert chat.page.url == url
    chat.expect_user_messages(["first question"])
    chat.composer.fill("")

    # Shift+Esc focuses the message box, from anywhere.
    blur(chat)
    expect(chat.composer).not_to_be_focused()
    chat.page.keyboard.press("Shift+Escape")
    expect(chat.composer).to_be_focused()

    # Ctrl+K focuses "Search chats", even while typing a message.
    chat.page.keyboard.press("Control+k")
    expect(search_box(chat)).to_be_focused()
    chat.page.keyboard.press("Shift+Escape")
    expect(chat.composer).to_be_focused()

    # Ctrl+Shift+O starts a new chat: the start screen, no messages.
    chat.page.keyboard.press("Control+Shift+O")
    chat.page.wait_for_url(HOME_URL)
    chat.expect_user_messages([])
    expect(chat.prompt_chips.first).to_be_visible()
    expect(chat.composer).to_be_editable()
    expect(chat.conversation_items).to_have_count(1)  # the first chat is still in the list


def test_escape_stops_a_streaming_reply_unless_something_else_has_it(
    open_page: Callable[..., ChatPage], account: Account, model: BrowserStandIn
) -> None:
    chat = with_shortcuts(open_page(account).open_chat())
    model.script_step(reply(LONG_REPLY), pace=0.15)  # ~12 s if nobody stops it
    chat.send("tell me a long story")
    assistant = chat.assistant_messages.last
    expect(assistant).to_contain_text("word3")

    # An open menu takes Esc: it closes, the reply goes on.
    chat.button("Account menu").click()
    expect(chat.page.get_by_role("menu")).to_be_visible()
    chat.page.keyboard.press("Escape")
    expect(chat.page.get_by_role("menu")).to_have_count(0)
    # The search box takes Esc too: it empties itself.
    chat.page.keyboard.press("Control+k")
    expect(search_box(chat)).to_be_focused()
    chat.page.keyboard.type("story")
    chat.page.keyboard.press("Escape")
    expect(search_box(chat)).to_have_value("")
    chat.page.keyboard.press("Escape")  # an empty search box is still a text field
    expect(assistant).to_have_attribute("data-streaming", "true")
    expect(chat.stop_button).to_be_visible()

    # An Esc that ends an IME composition (a candidate list) is the input method's.
    blur(chat)
    chat.page.evaluate(
        "document.body.dispatchEvent(new KeyboardEvent('keydown',"
        " { key: 'Escape', isComposing: true, bubbles: true }))"
    )
    chat.page.wait_for_timeout(300)
    expect(chat.stop_button).to_be_visible()

    # Anywhere else, Esc stops the reply: the partial text stays, as with the Stop button.
    chat.page.keyboard.press("Escape")
    expect(chat.stop_button).to_have_count(0)
    expect(assistant).to_have_attribute("data-stopped", "true")
    expect(chat.page.get_by_test_id("turn-stopped")).to_contain_text("Stopped")
    expect(chat.composer).to_be_editable()
    assert "word79" not in assistant.inner_text()


def test_the_help_sheet_opens_from_the_keyboard_and_the_menu(
    open_page: Callable[..., ChatPage], account: Account
) -> None:
    chat = with_shortcuts(open_page(account).open_chat())
    sheet = chat.page.get_by_role("dialog", name="Keyboard shortcuts")

    chat.composer.focus()
    chat.page.keyboard.press("Control+Slash")
    expect(sheet).to_be_visible()
    for action, keys in (
        ("New chat", ["Ctrl", "Shift", "O"]),
        ("Focus the message box", ["Shift", "Esc"]),
        ("Search chats", ["Ctrl", "K"]),
        ("Stop the reply", ["Esc"]),
        ("Keyboard shortcuts", ["Ctrl", "/"]),
    ):
        expect(keys_of(sheet, action)).to_have_text(keys, use_inner_text=True)
    # While the sheet is open, the other shortcuts keep still (the page behind is hidden from
    # the accessibility tree, hence CSS to find the search box).
    chat.page.keyboard.press("Control+k")
    expect(chat.page.locator('input[aria-label="Search chats"]')).not_to_be_focused()
    expect(sheet).to_be_visible()
    chat.screenshot("keyboard-shortcuts-light")
    chat.page.keyboard.press("Escape")
    expect(sheet).to_have_count(0)
    expect(chat.composer).to_be_focused()  # back where it was opened

    chat.button("Toggle theme").click()
    expect(chat.page.locator("html")).to_have_class(re.compile(r"\bdark\b"))
    chat.button("Account menu").click()
    chat.page.get_by_role("menuitem", name="Keyboard shortcuts", exact=True).click()
    expect(sheet).to_be_visible()
    chat.screenshot("keyboard-shortcuts-dark")
    sheet.get_by_role("button", name="Close", exact=True).click()
    expect(sheet).to_have_count(0)
    expect(chat.button("Account menu")).to_be_focused()


def test_on_a_mac_the_shortcuts_use_command(
    open_page: Callable[..., ChatPage], account: Account
) -> None:
    chat = open_page(account)
    chat.page.add_init_script(ON_A_MAC)
    with_shortcuts(chat.open_chat())
    expect(chat.page.locator("html")).to_have_attribute("data-keys", "mac")
    sheet = chat.page.get_by_role("dialog", name="Keyboard shortcuts")

    chat.page.keyboard.press("Control+Slash")  # Ctrl is not the Mac's modifier
    chat.page.wait_for_timeout(300)
    expect(sheet).to_have_count(0)
    chat.page.keyboard.press("Meta+Slash")
    expect(sheet).to_be_visible()
    expect(keys_of(sheet, "New chat")).to_have_text(["⌘", "⇧", "O"], use_inner_text=True)
    chat.page.keyboard.press("Escape")
    chat.page.keyboard.press("Meta+k")
    expect(search_box(chat)).to_be_focused()


def test_on_a_phone_ctrl_k_opens_the_history_and_focuses_search(
    open_page: Callable[..., ChatPage], account: Account
) -> None:
    chat = with_shortcuts(open_page(account, viewport=PHONE).open_chat())
    expect(chat.history).to_be_hidden()
    chat.page.keyboard.press("Control+k")
    expect(chat.history).to_be_visible()
    expect(search_box(chat)).to_be_focused()
    chat.page.wait_for_timeout(500)  # the drawer's own focus step has run by now
    expect(search_box(chat)).to_be_focused()
    chat.screenshot("keyboard-search-375")

    # Shift+Esc puts the drawer away and goes to the message box.
    chat.page.keyboard.press("Shift+Escape")
    expect(chat.history).to_be_hidden()
    expect(chat.composer).to_be_focused()
