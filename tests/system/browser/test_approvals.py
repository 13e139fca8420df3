"""A delete asked for in the chat waits for the person on the real page: the tool card asks
Approve / Cancel, nothing is deleted before, the decision streams the rest of the turn in, and
the question keeps its card (and buttons) across a reload. Screenshots of the waiting card in
light and dark mode and at 375 px: test-artifacts/screenshots/approval-*.png."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from playwright.sync_api import Locator, expect

from taskpilot.mcp.tools import DECLINED
from taskpilot.services.turns import MOVED_ON_REPLY
from tests.support.browser import PHONE, seed_conversation
from tests.support.chat_page import Account, ChatPage
from tests.support.openai_standin import reply, tool_call
from tests.support.standin import BrowserStandIn

pytestmark = pytest.mark.browser

SUMMARY = "Delete task 1 · Buy milk"


@dataclass
class Seeded:
    """A fresh account whose task 1, "Buy milk", was added through an earlier conversation;
    the model stand-in and an API client, to script the turns and check what was stored."""

    open_page: Callable[..., ChatPage]
    account: Account
    model: BrowserStandIn
    api: httpx.Client

    def add_buy_milk(self) -> None:
        """Add "Buy milk" through a conversation of its own (task 1 on a fresh account)."""
        add = tool_call("add_task", {"title": "Buy milk"})
        seed_conversation(self.api, self.account, self.model, "add buy milk", "Added.", add)
        assert self.tasks() == ["Buy milk"]

    def open_chat(self, **tab: Any) -> ChatPage:
        """The chat page in a new tab (`open_page`'s options), signed in, on a new chat."""
        return self.open_page(self.account, **tab).open_chat()

    def ask_to_delete(self, chat: ChatPage, then: str) -> Locator:
        """Ask for task 1 to be deleted (the model will answer `then` once decided); the card
        that waits."""
        self.model.script_step(tool_call("delete_task", {"task_id": 1}, call_id="call_del_1"))
        self.model.script_step(reply(then))
        chat.send("delete task 1")
        card = chat.tool_cards.last
        expect(card).to_have_attribute("data-state", "awaiting")
        return card

    def tasks(self) -> list[str]:
        """The titles of the account's tasks, as stored (read through the API)."""
        response = self.api.get(f"/api/{self.account.id}/tasks", headers=self.account.headers)
        assert response.status_code == 200, response.text
        return [task["title"] for task in response.json()["tasks"]]


@pytest.fixture
def seeded(
    open_page: Callable[..., ChatPage],
    account: Account,
    model: BrowserStandIn,
    api: httpx.Client,
) -> Seeded:
    seeded = Seeded(open_page, account, model, api)
    seeded.add_buy_milk()
    return seeded


def expect_waiting(chat: ChatPage, card: Locator) -> None:
    """The card asks, both buttons are there and can take focus, and the turn ended without
    an error with the composer free."""
    expect(card).to_contain_text("Waiting for your approval")
    expect(card).to_contain_text(SUMMARY)
    for name in ("Approve", "Cancel"):
        button = card.get_by_role("button", name=name, exact=True)
        expect(button).to_be_visible()
        expect(button).to_be_enabled()
        button.focus()
        expect(button).to_be_focused()
    chat.wait_until_idle()
    expect(chat.turn_error).to_have_count(0)


def outputs_sent(model: BrowserStandIn) -> dict[str, str]:
    """The tool results the last model request carried."""
    return model.model_requests[-1].function_outputs()


def test_approve_deletes_after_the_question_survives_a_reload(seeded: Seeded) -> None:
    chat = seeded.open_chat()
    chat.ensure_tasks_panel()
    expect(chat.task_items).to_have_count(1)

    card = seeded.ask_to_delete(chat, "Deleted **Buy milk**.")
    expect_waiting(chat, card)
    chat.screenshot("approval-pending-light")
    # Nothing is deleted before Approve.
    assert seeded.tasks() == ["Buy milk"]
    expect(chat.task_item("Buy milk")).to_have_count(1)

    # Dark mode: the same card, readable.
    chat.button("Toggle theme").click()
    expect(chat.page.locator("html")).to_have_class(re.compile(r"\bdark\b"))
    chat.composer.focus()
    chat.screenshot("approval-pending-dark")

    # A reload (or opening the conversation later) asks again.
    conversation_id = chat.wait_for_conversation_url()
    chat.page.reload()
    chat.expect_user_messages(["delete task 1"])
    card = chat.tool_cards.last
    expect(card).to_have_attribute("data-state", "awaiting")
    expect_waiting(chat, card)
    assert seeded.tasks() == ["Buy milk"]

    card.get_by_role("button", name="Approve", exact=True).click()
    expect(card).to_have_attribute("data-state", "done")
    expect(card).to_contain_text("Deleted task 1 · Buy milk")
    # Decided: no Approve or Cancel any more; what remains is Undo, as on any change.
    expect(card.get_by_role("button")).to_have_count(1)
    expect(card.get_by_role("button", name="Undo", exact=True)).to_be_visible()
    expect(chat.assistant_messages.last).to_contain_text("Deleted Buy milk.")
    chat.wait_until_idle()
    chat.ensure_tasks_panel()
    expect(chat.task_items).to_have_count(0)  # the panel followed the delete
    chat.screenshot("approval-deleted-dark")
    assert seeded.tasks() == []
    assert json.loads(outputs_sent(seeded.model)["call_del_1"])["status"] == "deleted"
    messages = seeded.api.get(
        f"/api/{seeded.account.id}/conversations/{conversation_id}/messages",
        headers=seeded.account.headers,
    ).json()["messages"]
    assert [(m["role"], m["status"]) for m in messages] == [
        ("user", "answered"),
        ("assistant", "answered"),
    ]
    seeded.model.assert_done()


def test_cancel_keeps_the_task_on_a_phone(seeded: Seeded) -> None:
    chat = seeded.open_chat(viewport=PHONE)
    card = seeded.ask_to_delete(chat, "Okay, I kept Buy milk on your list.")
    expect_waiting(chat, card)
    cancel = card.get_by_role("button", name="Cancel", exact=True)
    expect(cancel).to_be_in_viewport()
    assert chat.horizontal_overflow() <= 0, "the waiting card scrolls sideways at 375 px"
    chat.composer.focus()
    chat.screenshot("approval-pending-phone")

    cancel.click()
    expect(card).to_have_attribute("data-state", "declined")
    expect(card).to_contain_text("Declined")
    expect(card.get_by_role("button")).to_have_count(0)
    expect(chat.assistant_messages.last).to_contain_text("I kept Buy milk")
    chat.wait_until_idle()
    assert seeded.tasks() == ["Buy milk"]
    assert outputs_sent(seeded.model)["call_del_1"] == DECLINED  # the model was told
    assert chat.horizontal_overflow() <= 0
    chat.screenshot("approval-declined-phone")
    chat.button("Toggle tasks").click()
    expect(chat.task_item("Buy milk")).to_have_count(1)
    seeded.model.assert_done()


def test_a_decision_made_elsewhere_or_a_new_message_settles_the_card(seeded: Seeded) -> None:
    chat = seeded.open_chat()
    card = seeded.ask_to_delete(chat, "Deleted it.")
    conversation_id = chat.wait_for_conversation_url()

    # Approved through the API meanwhile: the page follows it (live tabs) and the buttons go.
    # (A press that crosses the decision says "already decided": tests/web/test_approvals.py.)
    decided = seeded.api.post(
        f"/api/{seeded.account.id}/conversations/{conversation_id}/approvals/call_del_1",
        json={"approve": True},
        headers=seeded.account.headers,
    )
    assert decided.status_code == 200, decided.text
    notice = chat.page.get_by_test_id("turn-notice")
    card = chat.tool_cards.last
    expect(card.get_by_role("button", name="Cancel", exact=True)).to_have_count(0)
    expect(card).to_have_attribute("data-state", "done")
    expect(chat.assistant_messages.last).to_contain_text("Deleted it.")
    expect(chat.turn_error).to_have_count(0)
    assert seeded.tasks() == []

    # Another delete waits; a new message instead declines it, and the stored reply says so.
    seeded.add_buy_milk()
    seeded.model.script_step(tool_call("delete_task", {"task_id": 2}, call_id="call_del_2"))
    chat.send("delete task 2")
    expect(chat.tool_cards.last).to_have_attribute("data-state", "awaiting")
    seeded.model.script_step(reply("You have one task left."))
    chat.send("never mind, what is left?")
    chat.wait_until_idle()
    expect(chat.assistant_messages.last).to_contain_text("one task left")
    chat.expect_user_messages(["delete task 1", "delete task 2", "never mind, what is left?"])
    expect(chat.assistant_messages.filter(has_text=MOVED_ON_REPLY)).to_have_count(1)
    text = chat.log.inner_text()  # the decline's reply comes before the new question
    assert text.index(MOVED_ON_REPLY) < text.index("never mind, what is left?")
    waiting = chat.page.locator('[data-testid=tool-card][data-state="awaiting"]')
    expect(waiting).to_have_count(0)
    expect(chat.page.locator('[data-testid=tool-card][data-state="declined"]')).to_have_count(1)
    expect(notice).to_have_count(0)
    assert seeded.tasks() == ["Buy milk"]
    seeded.model.assert_done()


def test_the_waiting_card_is_announced_to_assistive_technology(seeded: Seeded) -> None:
    chat = seeded.open_chat()
    card = seeded.ask_to_delete(chat, "Deleted.")
    approve = card.get_by_role("button", name="Approve", exact=True)
    expect(approve).to_have_accessible_description(SUMMARY)
    # Keyboard: Shift+Tab from the composer reaches the buttons; Enter on Approve decides.
    chat.composer.focus()
    for _ in range(4):
        if approve.evaluate("e => e === document.activeElement"):
            break
        chat.page.keyboard.press("Shift+Tab")
    expect(approve).to_be_focused()
    chat.page.keyboard.press("Enter")
    expect(card).to_have_attribute("data-state", "done")
    chat.wait_until_idle()
    assert seeded.tasks() == []
    seeded.model.assert_done()
