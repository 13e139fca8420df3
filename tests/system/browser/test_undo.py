"""Undo on the real page: a task added through the chat goes again when its tool card's Undo
is pressed; the card reads "Undone" (also after a reload) and the task leaves the panel.
Screenshot: test-artifacts/screenshots/undo-done.png."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from playwright.sync_api import expect

from tests.support.chat_page import Account, ChatPage
from tests.support.openai_standin import reply, tool_call
from tests.support.standin import BrowserStandIn

pytestmark = pytest.mark.browser


def test_undo_on_an_added_tasks_card_takes_it_out_of_the_panel(
    open_page: Callable[..., ChatPage],
    account: Account,
    model: BrowserStandIn,
    api: httpx.Client,
) -> None:
    chat = open_page(account).open_chat()
    chat.ensure_tasks_panel()
    model.script_step(tool_call("add_task", {"title": "Buy milk"}, call_id="call_add_1"))
    model.script_step(reply("Added **Buy milk**."))
    chat.send("add buy milk")
    card = chat.tool_cards.last
    expect(card).to_have_attribute("data-state", "done")
    chat.wait_until_idle()
    expect(chat.task_item("Buy milk")).to_have_count(1)

    undo = card.get_by_role("button", name="Undo", exact=True)
    expect(undo).to_have_accessible_description("Added task 1 · Buy milk")
    undo.click()
    expect(card).to_have_attribute("data-undone", "true")
    expect(card.get_by_test_id("tool-undone")).to_have_text("Undone")
    expect(card.get_by_role("button", name="Undo")).to_have_count(0)
    expect(chat.task_items).to_have_count(0)
    chat.screenshot("undo-done")
    tasks = api.get(f"/api/{account.id}/tasks", headers=account.headers).json()["tasks"]
    assert tasks == []

    chat.page.reload()
    chat.expect_user_messages(["add buy milk"])
    expect(chat.tool_cards.last).to_have_attribute("data-undone", "true")
    model.assert_done()
