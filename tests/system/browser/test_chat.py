"""A turn on the real page: the reply streams in, the tool card goes running → done, the task
panel updates without a reload, and the conversation survives a reload and a second device."""

from __future__ import annotations

import re
import time
from collections.abc import Callable

import httpx
import pytest
from playwright.sync_api import expect

from tests.support.app_server import AppServer
from tests.support.browser import HeldWrites
from tests.support.chat_page import Account, ChatPage
from tests.support.openai_standin import reply, tool_call
from tests.support.standin import BrowserStandIn

pytestmark = pytest.mark.browser

REPLY = (
    "Added **Buy milk** for tomorrow with high priority. It is task 1 on your list, and "
    "I will keep it there until you tell me it is done."
)


def test_reply_streams_with_a_tool_card_and_the_task_appears(
    open_page: Callable[..., ChatPage],
    account: Account,
    model: BrowserStandIn,
    app: AppServer,
    api: httpx.Client,
) -> None:
    chat = open_page(account).open_chat()
    chat.ensure_tasks_panel()
    expect(chat.task_items).to_have_count(0)

    # The model calls add_task; the tool then waits on a slow database until the card has been
    # seen running; then the reply streams a word every 120 ms.
    arguments = {"title": "Buy milk", "priority": "high", "due_date": "tomorrow"}
    writes = HeldWrites(app)
    model.script_step(tool_call("add_task", arguments), before=writes.take)
    model.script_step(reply(REPLY), pace=0.12)
    chat.send("add buy milk tomorrow, high priority")

    expect(chat.user_messages.last).to_have_text("add buy milk tomorrow, high priority")
    card = chat.tool_cards.first
    expect(card).to_have_attribute("data-state", "running")
    chat.screenshot("tool-card-running")
    expect(card).to_contain_text(re.compile("add", re.IGNORECASE))
    expect(card).to_contain_text("Buy milk")
    expect(card).to_contain_text(re.compile("high", re.IGNORECASE))
    writes.release()
    expect(card).to_have_attribute("data-state", "done", timeout=10_000)

    # Streaming: the assistant's text grows in several steps, not one jump.
    assistant = chat.assistant_messages.last
    expect(assistant).to_have_attribute("data-streaming", "true")
    chat.screenshot("reply-streaming")
    seen = chat.sample_text(assistant, until_gone='[data-streaming="true"]', seconds=15)
    lengths = sorted({len(text) for text in seen if text})
    assert len(lengths) >= 4, f"the reply arrived in {len(lengths)} step(s): {seen}"
    texts = [text for text in seen if text]
    assert len(texts[0]) < len(texts[-1]) / 2, f"the first text seen was most of it: {texts}"
    chat.wait_until_idle()
    expect(assistant).to_contain_text("Added Buy milk for tomorrow with high priority.")
    expect(assistant.locator("strong", has_text="Buy milk")).to_have_count(1)  # Markdown
    expect(card).not_to_contain_text('{"')  # arguments in words, not JSON

    # The task panel shows the new task without a reload.
    task = chat.task_item("Buy milk")
    expect(task).to_have_count(1)
    expect(task).to_have_attribute("data-task-id", "1")
    expect(task).to_contain_text(re.compile("high", re.IGNORECASE))
    chat.screenshot("reply-done-with-task")

    # The conversation is in the URL and in the database.
    conversation_id = chat.wait_for_conversation_url()
    stored = api.get(
        f"/api/{account.id}/conversations/{conversation_id}/messages", headers=account.headers
    )
    assert stored.status_code == 200, stored.text
    assert [m["role"] for m in stored.json()["messages"]] == ["user", "assistant"]
    model.assert_done()

    # A reload restores it from the database …
    chat.page.reload()
    expect(chat.composer).to_be_editable()
    assert chat.conversation_id == conversation_id
    chat.expect_user_messages(["add buy milk tomorrow, high priority"])
    expect(chat.assistant_messages.last).to_contain_text("Added Buy milk for tomorrow")
    expect(chat.tool_cards).to_have_count(1)
    expect(chat.tool_cards.first).to_have_attribute("data-state", "done")
    expect(chat.tool_cards.first).to_contain_text("Buy milk")
    chat.screenshot("conversation-after-reload")

    # … and a second browser of the same person sees the same history.
    other_device = open_page(account).open_chat(f"/c/{conversation_id}")
    other_device.expect_user_messages(["add buy milk tomorrow, high priority"])
    expect(other_device.assistant_messages.last).to_contain_text("Added Buy milk")
    expect(other_device.conversation_items).to_have_count(1)


def test_the_browsers_time_zone_is_stored_while_a_first_reply_streams(
    open_page: Callable[..., ChatPage],
    account: Account,
    model: BrowserStandIn,
    api: httpx.Client,
) -> None:
    """The page asks the browser for its zone as it opens and stores it through a background
    handler (the callback of `call_script`), while the first reply, sent at once, streams.
    That it no longer holds up the reply is what the tool-card test above catches: its tool
    waits on a busy database, and so did this handler's write, under the tab's state lock."""
    chat = open_page(account, timezone_id="Pacific/Kiritimati").open_chat()
    model.script_step(reply("Hello there, how can I help?"), pace=0.05)
    chat.send("hello")
    chat.wait_until_idle()
    expect(chat.assistant_messages.last).to_contain_text("how can I help?")

    def stored_zone() -> str | None:
        me = api.get("/api/auth/me", headers=account.headers)
        assert me.status_code == 200, me.text
        return me.json()["timezone"]  # type: ignore[no-any-return]

    deadline = time.monotonic() + 10
    while stored_zone() != "Pacific/Kiritimati" and time.monotonic() < deadline:
        time.sleep(0.1)
    assert stored_zone() == "Pacific/Kiritimati"


def test_composer_keys_counter_and_copy(
    open_page: Callable[..., ChatPage], account: Account, model: BrowserStandIn
) -> None:
    chat = open_page(account, permissions=["clipboard-read", "clipboard-write"]).open_chat()
    expect(chat.send_button).to_be_disabled()  # nothing to send yet
    expect(chat.char_count).to_have_text(re.compile(r"^\s*0\s*/\s*4000\s*$"))
    chat.composer.click()
    chat.composer.press_sequentially("first line")
    chat.composer.press("Shift+Enter")
    chat.composer.press_sequentially("second line")
    expect(chat.composer).to_have_value("first line\nsecond line")
    expect(chat.user_messages).to_have_count(0)  # Shift+Enter did not send
    expect(chat.char_count).to_have_text(re.compile(r"^\s*22\s*/\s*4000\s*$"))
    expect(chat.send_button).to_be_enabled()

    model.script_step(reply("Here is some code:\n\n```python\nprint('hi')\n```\n"), pace=0.1)
    chat.composer.press("Enter")
    expect(chat.user_messages.last).to_contain_text("first line")
    expect(chat.user_messages.last).to_contain_text("second line")
    expect(chat.composer).to_be_disabled()  # while the reply streams
    chat.wait_until_idle()
    expect(chat.composer).to_have_value("")
    assistant = chat.assistant_messages.last
    expect(assistant.locator("code", has_text="print('hi')").first).to_be_visible()
    clipboard = "() => navigator.clipboard.readText()"
    assistant.hover()
    assistant.get_by_role("button", name="Copy code").click()
    assert chat.page.evaluate(clipboard).strip() == "print('hi')"
    assistant.get_by_role("button", name="Copy message").click()
    copied = chat.page.evaluate(clipboard)
    assert "Here is some code:" in copied and "print('hi')" in copied
    model.assert_done()

    # Over the limit: the box stops at MAX_MESSAGE_CHARS (or at least Send does).
    chat.composer.fill("x" * 4001)
    value = chat.composer.input_value()
    assert len(value) <= 4000 or chat.send_button.is_disabled(), "4001 characters can be sent"
