"""The thread history: new chat, prompt chips, switching, renaming and deleting conversations."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from playwright.sync_api import expect

from tests.support.browser import seed_conversation
from tests.support.chat_page import HOME_URL, Account, ChatPage, conversation_url
from tests.support.openai_standin import reply
from tests.support.standin import BrowserStandIn

pytestmark = pytest.mark.browser


def test_new_chat_switch_rename_and_delete(
    open_page: Callable[..., ChatPage],
    account: Account,
    model: BrowserStandIn,
    api: httpx.Client,
) -> None:
    older = seed_conversation(api, account, model, "plan the garden", "Let us plan the garden.")
    chat = open_page(account).open_chat(f"/c/{older}")
    chat.ensure_history()
    chat.expect_user_messages(["plan the garden"])
    expect(chat.conversation_item("plan the garden")).to_have_attribute("aria-current", "page")

    # New chat: back to the start screen; a prompt chip sends its prompt.
    chat.button("New chat").click()
    chat.page.wait_for_url(HOME_URL)
    expect(chat.user_messages).to_have_count(0)
    chip = chat.prompt_chips.first
    prompt = chip.inner_text().strip()
    assert prompt
    model.script_step(reply("Here is what is still open: nothing yet."))
    chip.click()
    expect(chat.user_messages).to_have_count(1)
    chat.wait_until_idle()
    newer = chat.wait_for_conversation_url()
    assert newer != older
    expect(chat.assistant_messages.last).to_contain_text("nothing yet")

    # Both are listed, newest first, the current one marked.
    expect(chat.conversation_items).to_have_count(2)
    expect(chat.conversation_items.first).to_have_attribute("aria-current", "page")
    expect(chat.conversation_item("plan the garden")).not_to_have_attribute("aria-current", "page")
    chat.screenshot("history-two-conversations")

    # Switch to the older one: its messages only.
    chat.conversation_item("plan the garden").click()
    chat.page.wait_for_url(conversation_url(older))
    chat.expect_user_messages(["plan the garden"])
    expect(chat.assistant_messages).to_have_count(1)
    expect(chat.assistant_messages.first).to_contain_text("Let us plan the garden.")

    # Rename it.
    chat.conversation_options(chat.conversation_item("plan the garden"), "Rename")
    title = chat.page.get_by_role("textbox", name="Conversation title")
    expect(title).to_be_visible()
    chat.screenshot("history-rename")
    title.fill("Garden")
    title.press("Enter")
    expect(chat.conversation_item("Garden")).to_have_count(1)
    renamed = api.get(f"/api/{account.id}/conversations/{older}", headers=account.headers)
    assert renamed.json()["title"] == "Garden"

    # Delete the newer one (not the one on screen): confirm in a dialog.
    newer_item = chat.conversation_items.filter(has_not_text="Garden")
    chat.conversation_options(newer_item, "Delete")
    dialog = chat.page.get_by_role("alertdialog").or_(chat.page.get_by_role("dialog"))
    expect(dialog).to_be_visible()
    chat.screenshot("history-delete-dialog")
    dialog.get_by_role("button", name="Delete", exact=True).click()
    expect(chat.conversation_items).to_have_count(1)
    expect(chat.conversation_items.first).to_contain_text("Garden")
    gone = api.get(f"/api/{account.id}/conversations/{newer}", headers=account.headers)
    assert gone.status_code == 404

    # Deleting the conversation on screen leaves its URL for the start screen.
    chat.conversation_options(chat.conversation_item("Garden"), "Delete")
    dialog.get_by_role("button", name="Delete", exact=True).click()
    expect(chat.conversation_items).to_have_count(0)
    chat.page.wait_for_url(HOME_URL)
    expect(chat.user_messages).to_have_count(0)
    model.assert_done()
