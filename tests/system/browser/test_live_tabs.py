"""Live tabs in Chromium against the production build (Granian workers on Redis): a reply
started in one tab streams into the person's other tab, where Stop stops it; a change made
through an MCP client (the official one, over /mcp) reaches both task panels — and nothing
reaches another person."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from playwright.sync_api import expect

from tests.support.app_server import AppServer
from tests.support.browser import seed_conversation
from tests.support.chat_page import Account, ChatPage
from tests.support.mcp_client import mcp_session, payload
from tests.support.openai_standin import reply, tool_call
from tests.support.standin import BrowserStandIn

pytestmark = pytest.mark.browser

# Long enough for the other tab to be seen waiting mid-reply.
SLOW_REPLY_SECONDS = 3.0


def add_through_mcp(app: AppServer, account: Account, title: str) -> None:
    """Add a task with the official MCP client over /mcp (in a thread of its own: Playwright's
    loop runs in this one)."""

    async def add() -> None:
        async with mcp_session(f"{app.base_url}/mcp", account.token) as session:
            added = payload(await session.call_tool("add_task", {"title": title}))
            assert added["status"] == "created", added

    with ThreadPoolExecutor(1) as thread:
        thread.submit(asyncio.run, add()).result()


def test_a_reply_streams_into_the_other_tab_and_every_change_reaches_both_panels(
    app: AppServer,
    open_page: Callable[..., ChatPage],
    account: Account,
    new_account: Callable[[], Account],
    model: BrowserStandIn,
    api: httpx.Client,
) -> None:
    conversation = seed_conversation(api, account, model, "hello", "Hi.")
    first = open_page(account).open_chat(f"/c/{conversation}")
    second = open_page(account).open_chat(f"/c/{conversation}")
    stranger = open_page(new_account()).open_chat("/")
    for tab in (first, second, stranger):
        tab.ensure_tasks_panel()
    second.page.wait_for_timeout(1000)  # the tabs' watchers subscribe after the page loads

    model.script_step(tool_call("add_task", {"title": "Buy milk"}))
    model.script_step(reply("Added Buy milk to your list.", delay=SLOW_REPLY_SECONDS))
    first.send("add buy milk")

    # Mid-reply, the other tab shows the question and the tool card, its panel has the task,
    # and it waits: its composer disabled, Stop in Send's place (as in the tab it started in).
    second.expect_user_messages(["hello", "add buy milk"])
    expect(second.tool_cards.last).to_have_attribute("data-state", "done")
    expect(second.page.locator('[data-streaming="true"]')).to_have_count(1)
    expect(second.composer).to_be_disabled()
    expect(second.stop_button).to_be_visible()
    expect(second.task_item("Buy milk")).to_have_count(1)
    expect(first.stop_button).to_be_visible()
    second.screenshot("live-tab-watching")

    # Then the stored reply, in both.
    for tab in (first, second):
        expect(tab.assistant_messages.last).to_contain_text("Added Buy milk to your list.")
        tab.wait_until_idle()
    expect(second.assistant_messages).to_have_count(2)

    # A change from an MCP client (an IDE, say) reaches both panels.
    add_through_mcp(app, account, "Water the ferns")
    for tab in (first, second):
        expect(tab.task_item("Water the ferns")).to_have_count(1)

    # Another person's tab heard none of it.
    expect(stranger.task_items).to_have_count(0)
    expect(stranger.user_messages).to_have_count(0)
    expect(stranger.conversation_items).to_have_count(0)
    model.assert_done()


def test_stop_in_the_other_tab_stops_the_reply_where_it_runs(
    open_page: Callable[..., ChatPage],
    account: Account,
    model: BrowserStandIn,
    api: httpx.Client,
) -> None:
    conversation = seed_conversation(api, account, model, "hello", "Hi.")
    first = open_page(account).open_chat(f"/c/{conversation}")
    second = open_page(account).open_chat(f"/c/{conversation}")
    second.page.wait_for_timeout(1000)  # the tabs' watchers subscribe after the page loads

    model.script_step(reply("A story that is never finished.", delay=2 * SLOW_REPLY_SECONDS))
    first.send("tell me a long story")
    expect(second.stop_button).to_be_visible()
    second.stop_button.click()

    # Stopped where it ran (its worker may be the other one): both tabs say so at once.
    expect(first.page.get_by_test_id("turn-stopped")).to_contain_text("Stopped")
    expect(second.stop_button).to_have_count(0)
    expect(second.composer).to_be_enabled()
    expect(second.user_messages.last).to_contain_text("tell me a long story")
    expect(second.page.get_by_text("A story that is never finished.")).to_have_count(0)
    model.assert_done()
