"""Search chats: the sidebar's search box finds conversations by their words, with a snippet,
and opens them."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from playwright.sync_api import expect

from tests.support.browser import seed_conversation
from tests.support.chat_page import Account, ChatPage, conversation_url
from tests.support.hostile_corpus import PWNED_FLAG
from tests.support.standin import BrowserStandIn

pytestmark = pytest.mark.browser


def test_search_chats_finds_a_conversation_by_its_words_and_opens_it(
    open_page: Callable[..., ChatPage],
    account: Account,
    model: BrowserStandIn,
    api: httpx.Client,
) -> None:
    garden = seed_conversation(
        api,
        account,
        model,
        "remind me to water the ferns every monday",
        'Sure: <b>fronds</b> <img src=x onerror="window.__pwned=true"> are on your list.',
    )
    seed_conversation(api, account, model, "buy milk and eggs", "Added milk and eggs.")
    chat = open_page(account).open_chat("/")
    chat.ensure_history()
    expect(chat.conversation_items).to_have_count(2)

    search = chat.page.get_by_role("searchbox", name="Search chats")
    results = chat.history.get_by_test_id("search-result")
    search.press_sequentially("fer")
    # The results replace the list: the one match, its snippet's matched word marked.
    expect(results).to_have_count(1)
    expect(chat.conversation_items).to_have_count(0)
    snippet = results.first.get_by_test_id("search-snippet")
    expect(snippet.locator("mark").first).to_have_text("ferns")
    chat.screenshot("search-results")

    # Markup in a message is shown as its text, never run.
    search.fill("fronds")
    expect(snippet).to_contain_text('<img src=x onerror="window.__pwned=true">')
    expect(snippet.locator("mark")).to_have_text(["fronds"])
    expect(snippet.locator("b, img")).to_have_count(0)
    assert chat.page.evaluate(f"window.{PWNED_FLAG} === undefined")

    # Escape clears the search: the whole list again.
    search.press("Escape")
    expect(search).to_have_value("")
    expect(chat.conversation_items).to_have_count(2)
    expect(results).to_have_count(0)

    # Nothing matches; query syntax is just text.
    search.fill('"NEAR * OR -')
    expect(chat.history.get_by_text("No chats match")).to_be_visible()
    search.fill("")
    expect(chat.conversation_items).to_have_count(2)

    # Open a result.
    search.fill("water monday")
    expect(results).to_have_count(1)
    results.first.click()
    chat.page.wait_for_url(conversation_url(garden))
    chat.expect_user_messages(["remind me to water the ferns every monday"])
    expect(results.first).to_have_attribute("aria-current", "page")
