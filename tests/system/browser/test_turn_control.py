"""Stopping a reply half-way, and a failing model: what stays on screen and in the database."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from tests.support.chat_page import Account, ChatPage
from tests.support.openai_standin import error, reply
from tests.support.standin import BrowserStandIn

pytestmark = pytest.mark.browser

LONG_REPLY = " ".join(f"word{n}" for n in range(80))
RAW = re.compile(
    r"Traceback|Exception|InternalServerError|APIStatusError|Error code|stand-in|"
    r"status_code|\{'error'|\{\"error\"",
    re.IGNORECASE,
)


def stored_messages(
    api: httpx.Client, account: Account, conversation_id: str
) -> list[dict[str, Any]]:
    response = api.get(
        f"/api/{account.id}/conversations/{conversation_id}/messages", headers=account.headers
    )
    assert response.status_code == 200, response.text
    return list(response.json()["messages"])


def test_stop_keeps_the_partial_reply_and_the_message(
    open_page: Callable[..., ChatPage],
    account: Account,
    model: BrowserStandIn,
    api: httpx.Client,
) -> None:
    chat = open_page(account).open_chat()
    model.script_step(reply(LONG_REPLY), pace=0.15)  # ~12 s if nobody stops it
    chat.send("tell me a long story")

    assistant = chat.assistant_messages.last
    expect(assistant).to_have_attribute("data-streaming", "true")
    expect(chat.stop_button).to_be_visible()
    expect(chat.composer).to_be_disabled()
    expect(assistant).to_contain_text("word5")
    chat.stop_button.click()

    expect(chat.stop_button).to_have_count(0)
    expect(chat.page.locator('[data-streaming="true"]')).to_have_count(0)
    expect(chat.composer).to_be_editable()
    expect(assistant).to_have_attribute("data-stopped", "true")
    partial = assistant.inner_text()
    assert "word5" in partial and "word79" not in partial
    expect(chat.page.get_by_test_id("turn-stopped")).to_contain_text("Stopped")
    expect(chat.button("Retry")).to_be_visible()
    chat.expect_user_messages(["tell me a long story"])
    chat.screenshot("reply-stopped")

    # The turn really ended: the text stops growing and no full reply is stored.
    chat.page.wait_for_timeout(1_000)  # long enough for several more words, had it gone on
    assert "word79" not in assistant.inner_text()
    conversation_id = chat.wait_for_conversation_url()
    messages = stored_messages(api, account, conversation_id)
    assert [m["content"] for m in messages if m["role"] == "user"] == ["tell me a long story"]
    assert not [m for m in messages if m["role"] == "assistant" and "word79" in m["content"]]

    # After a reload the person's message is still there, and can be retried.
    chat.page.reload()
    chat.expect_user_messages(["tell me a long story"])
    expect(chat.button("Retry")).to_have_count(1)


def test_a_failing_model_shows_a_readable_error_with_retry(
    open_page: Callable[..., ChatPage],
    account: Account,
    model: BrowserStandIn,
    api: httpx.Client,
) -> None:
    chat = open_page(account).open_chat()
    # The client retries once, so the model fails twice.
    model.script_step(error(500, "stand-in exploded: KeyError('choices') at line 42"))
    model.script_step(error(500, "stand-in exploded: KeyError('choices') at line 42"))
    chat.send("what is still open?")

    problem = chat.turn_error
    expect(problem).to_be_visible()
    expect(problem).to_have_attribute("role", "alert")
    text = problem.inner_text()
    assert len(text.strip()) > 10, text
    assert not RAW.search(text), f"raw exception text on screen: {text!r}"
    chat.expect_user_messages(["what is still open?"])
    expect(chat.composer).to_be_editable()
    chat.screenshot("turn-error")
    body = chat.page.locator("body").inner_text()
    assert "KeyError" not in body and "line 42" not in body

    # The error survives a reload (it is stored with the message), with its Retry.
    chat.page.reload()
    chat.expect_user_messages(["what is still open?"])
    expect(chat.turn_error).to_have_count(1)
    assert not RAW.search(chat.turn_error.inner_text())

    # Retry runs the same message again; it is not sent twice.
    model.script_step(reply("Nothing is open: your list is empty."))
    chat.turn_error.get_by_role("button", name="Retry").click()
    expect(chat.assistant_messages.last).to_contain_text("Nothing is open")
    chat.wait_until_idle()
    expect(chat.turn_error).to_have_count(0)
    chat.expect_user_messages(["what is still open?"])
    model.assert_done()

    conversation_id = chat.wait_for_conversation_url()
    messages = stored_messages(api, account, conversation_id)
    assert [(m["role"], m["content"]) for m in messages] == [
        ("user", "what is still open?"),
        ("assistant", "Nothing is open: your list is empty."),
    ]
