"""Markup from people and models renders as text, and two people never see each other's data."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from playwright.sync_api import expect

from tests.support.browser import seed_conversation
from tests.support.chat_page import Account, ChatPage
from tests.support.openai_standin import reply, tool_call
from tests.support.standin import BrowserStandIn

pytestmark = pytest.mark.browser

PAYLOAD = (
    '<img src="x" id="xss-img" onerror="window.__xss=1;alert(\'img\')">'
    "<script>window.__xss=2;alert('script')</script>"
    '<b id="xss-b">bold</b>'
)
TITLE = '<img src=x id="xss-title" onerror="window.__xss=3;alert(\'title\')">'


def assert_nothing_injected(chat: ChatPage) -> None:
    for selector in ("#xss-img", "#xss-b", "#xss-title", "img[src='x']"):
        assert chat.page.locator(selector).count() == 0, f"{selector} was injected"
    assert chat.page.evaluate("() => window.__xss") is None
    assert chat.dialogs == [], f"a dialog fired: {chat.dialogs}"


def test_html_and_script_render_as_text(
    open_page: Callable[..., ChatPage], account: Account, model: BrowserStandIn
) -> None:
    chat = open_page(account).open_chat()
    chat.ensure_tasks_panel()
    # The model echoes the markup too, as a real one might: Markdown must not run it either.
    model.script_step(tool_call("add_task", {"title": TITLE, "tags": ["<i>tag</i>"]}))
    model.script_step(reply(f"Added {TITLE} for you. You wrote: {PAYLOAD}"))
    chat.send(PAYLOAD)

    expect(chat.user_messages.last).to_have_text(PAYLOAD)
    chat.wait_until_idle()
    expect(chat.tool_cards.first).to_have_attribute("data-state", "done")
    expect(chat.tool_cards.first).to_contain_text(TITLE)
    expect(chat.task_item("xss-title")).to_contain_text(TITLE)
    expect(chat.assistant_messages.last).to_contain_text("Added")
    assert_nothing_injected(chat)
    chat.screenshot("html-as-text")

    # The same after a reload, when everything comes from the database.
    chat.page.reload()
    expect(chat.user_messages.last).to_have_text(PAYLOAD)
    chat.ensure_tasks_panel()
    expect(chat.task_item("xss-title")).to_contain_text(TITLE)
    expect(chat.conversation_items.first).to_be_visible()
    assert_nothing_injected(chat)
    model.assert_done()


def test_two_people_never_see_each_other(
    open_page: Callable[..., ChatPage],
    new_account: Callable[[], Account],
    model: BrowserStandIn,
    api: httpx.Client,
) -> None:
    ada, bob = new_account(), new_account()
    ada_tab = open_page(ada).open_chat()
    bob_tab = open_page(bob).open_chat()
    ada_tab.ensure_tasks_panel()
    bob_tab.ensure_tasks_panel()
    ada_tab.ensure_history()
    bob_tab.ensure_history()

    model.script_step(tool_call("add_task", {"title": "Ada's secret plan"}))
    model.script_step(reply("Added Ada's secret plan."))
    ada_tab.send("add ada's secret plan")
    ada_tab.wait_until_idle()
    expect(ada_tab.task_item("Ada's secret plan")).to_have_count(1)
    ada_conversation = ada_tab.wait_for_conversation_url()

    bob_conversation = seed_conversation(api, bob, model, "bob's grocery list", "Noted, Bob.")
    bob_tab.open_chat(f"/c/{bob_conversation}")
    bob_tab.ensure_tasks_panel()
    bob_tab.ensure_history()
    bob_tab.expect_user_messages(["bob's grocery list"])
    expect(bob_tab.conversation_items).to_have_count(1)
    expect(bob_tab.task_items).to_have_count(0)
    assert "secret plan" not in bob_tab.page.locator("body").inner_text()

    # Bob opening Ada's conversation by its URL sees nothing of it.
    bob_tab.goto(f"/c/{ada_conversation}")
    expect(bob_tab.composer).to_be_editable()
    expect(bob_tab.user_messages.filter(has_text="secret plan")).to_have_count(0)
    expect(bob_tab.assistant_messages.filter(has_text="secret plan")).to_have_count(0)
    bob_tab.page.wait_for_load_state("networkidle")
    assert "secret plan" not in bob_tab.page.locator("body").inner_text()
    bob_tab.screenshot("other-users-conversation")

    # Writing there starts Bob's own conversation, shown as it streams; Ada's gains nothing.
    model.script_step(reply("Noted in your own chat, Bob."), pace=0.15)
    bob_tab.send("bob writes here")
    expect(bob_tab.assistant_messages.last).to_contain_text("Noted in your own chat")
    bob_tab.wait_until_idle()
    assert bob_tab.wait_for_conversation_url() != ada_conversation
    ada_messages = api.get(
        f"/api/{ada.id}/conversations/{ada_conversation}/messages", headers=ada.headers
    ).json()["messages"]
    assert [m["content"] for m in ada_messages] == [
        "add ada's secret plan",
        "Added Ada's secret plan.",
    ]
    assert "secret plan" not in bob_tab.page.locator("body").inner_text()

    # And Ada's tab never picked up Bob's.
    ada_tab.page.reload()
    ada_tab.ensure_history()
    expect(ada_tab.conversation_items).to_have_count(1)
    ada_tab.expect_user_messages(["add ada's secret plan"])
    assert "grocery" not in ada_tab.page.locator("body").inner_text()
    model.assert_done()


def test_pages_and_api_carry_security_headers(api: httpx.Client) -> None:
    """The compiled pages (served by the same worker as the API) may not be framed; the
    browser suite passing under these headers shows they break nothing."""
    for path in ("/", "/login", "/chatkit"):
        page = api.get(path, follow_redirects=True)  # /login → /login/
        assert page.status_code == 200, path
        assert page.headers["x-content-type-options"] == "nosniff"
        assert page.headers["x-frame-options"] == "DENY"
        assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
        assert page.headers["x-request-id"]
    health = api.get("/api/health")
    assert health.headers["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'"
    assert health.headers["cache-control"] == "no-store"
