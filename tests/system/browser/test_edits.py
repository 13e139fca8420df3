"""Edit and re-answer on the real page: Edit message opens an inline editor, Save answers the
new version in place of what followed, and ‹ 1 / 2 › shows the earlier version read-only and
back (also after a reload); the model's next request holds only the current branch.
Screenshot: test-artifacts/screenshots/edit-versions.png."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import expect

from tests.support.chat_page import Account, ChatPage
from tests.support.openai_standin import reply
from tests.support.standin import BrowserStandIn

pytestmark = pytest.mark.browser


def test_an_edited_message_is_answered_again_and_its_earlier_version_stays_viewable(
    open_page: Callable[..., ChatPage], account: Account, model: BrowserStandIn
) -> None:
    chat = open_page(account).open_chat()
    model.script_step(reply("Noted: milk."))
    chat.send("remember milk")
    chat.wait_for_conversation_url()
    chat.wait_until_idle()
    model.script_step(reply("You mentioned milk."))
    chat.send("what did I mention?")
    chat.wait_until_idle()
    chat.expect_user_messages(["remember milk", "what did I mention?"])

    chat.log.get_by_role("button", name="Edit message").first.click()
    editor = chat.log.get_by_role("textbox", name="Edit message")
    expect(editor).to_be_focused()
    expect(editor).to_have_value("remember milk")
    editor.press("Escape")  # cancels, and stops nothing
    expect(editor).to_have_count(0)
    chat.expect_user_messages(["remember milk", "what did I mention?"])

    chat.log.get_by_role("button", name="Edit message").first.click()
    editor.fill("remember bread")
    model.script_step(reply("Noted: bread."))
    chat.log.get_by_role("button", name="Save").click()
    chat.wait_until_idle()
    chat.expect_user_messages(["remember bread"])
    expect(chat.assistant_messages).to_have_count(1)
    expect(chat.assistant_messages.last).to_contain_text("Noted: bread.")
    versions = chat.log.get_by_role("group", name="Versions")
    expect(versions.get_by_test_id("message-version")).to_have_text("2 / 2")
    expect(versions.get_by_role("button", name="Next version")).to_be_disabled()

    versions.get_by_role("button", name="Previous version").click()
    expect(versions.get_by_test_id("message-version")).to_have_text("1 / 2")
    chat.expect_user_messages(["remember milk", "what did I mention?"])
    expect(chat.log.get_by_role("button", name="Edit message")).to_have_count(0)
    chat.screenshot("edit-versions")
    versions.get_by_role("button", name="Next version").click()
    chat.expect_user_messages(["remember bread"])

    chat.page.reload()
    chat.expect_user_messages(["remember bread"])
    expect(chat.log.get_by_test_id("message-version")).to_have_text("2 / 2")
    model.script_step(reply("You mentioned bread."))
    chat.send("what did I mention?")
    expect(chat.assistant_messages.last).to_contain_text("You mentioned bread.")
    model.assert_done()
    last = model.model_requests[-1]
    users = [str(item["content"]) for item in last.conversation() if item.get("role") == "user"]
    assert users == ["remember bread", "what did I mention?"]
