"""The hostile-input corpus typed into the real chat page: markup, script and `javascript:`
links, odd Unicode, SQL, a prompt injection naming another person, and a message at the length
limit. Nothing runs (no `window.__pwned`, no dialog, no element with an event handler), the text
is shown as typed — live and after a reload — another person's task never appears, and the page
keeps working. The model is the stand-in, scripted to echo the payloads as a real one might.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from tests.support.browser import seed_conversation
from tests.support.chat_page import Account, ChatPage
from tests.support.hostile_corpus import (
    MARKUP,
    ODD_UNICODE,
    PWNED_FLAG,
    SQL_INJECTION,
    prompt_injections,
)
from tests.support.openai_standin import ScriptedCall, reply, tool_call, tool_calls
from tests.support.standin import BrowserStandIn

pytestmark = pytest.mark.browser

VICTIM_TASK = "Victim's private task"
TITLES = (*MARKUP[:6], *ODD_UNICODE, *SQL_INJECTION[:3])
# Anything the page would have to run: handlers, scripts, frames, javascript: URLs.
RAN_JS = f"""() => ({{
    pwned: window.{PWNED_FLAG} === true,
    handlers: [...document.querySelectorAll("*")].filter(
        (e) => [...e.attributes].some((a) => a.name.startsWith("on"))
    ).map((e) => e.outerHTML.slice(0, 80)),
    scripts: document.querySelectorAll("main script, aside script, nav script").length,
    frames: document.querySelectorAll("iframe, frame, object, embed").length,
    jsUrls: [...document.querySelectorAll("[href], [src]")].filter(
        (e) => /^\\s*javascript:/i.test(e.getAttribute("href") || e.getAttribute("src") || "")
    ).length,
}})"""


def assert_nothing_ran(chat: ChatPage) -> None:
    found = chat.page.evaluate(RAN_JS)
    assert found == {"pwned": False, "handlers": [], "scripts": 0, "frames": 0, "jsUrls": 0}
    assert chat.dialogs == [], f"a dialog opened: {chat.dialogs}"
    assert not [error for error in chat.page_errors if PWNED_FLAG in error]


def all_text(locator: Any) -> str:
    return "\n".join(str(text) for text in locator.all_text_contents())


def test_hostile_input_is_shown_as_typed_and_never_runs(
    open_page: Callable[..., ChatPage],
    new_account: Callable[[], Account],
    model: BrowserStandIn,
    api: httpx.Client,
) -> None:
    victim, account = new_account(), new_account()
    seed_conversation(
        api, victim, model, "add my task", "Added.", tool_call("add_task", {"title": VICTIM_TASK})
    )
    victim_before = api.get(f"/api/{victim.id}/tasks", headers=victim.headers).json()

    chat = open_page(account).open_chat()
    chat.ensure_tasks_panel()
    chat.ensure_history()

    # Markup and odd text, typed as one multi-line message; the model adds a task for each
    # line and echoes them all in its (Markdown) reply.
    message = "\n".join(TITLES)
    model.script_step(tool_calls(*(ScriptedCall("add_task", {"title": t}) for t in TITLES)))
    model.script_step(reply("Added these for you:\n\n" + "\n\n".join(MARKUP + TITLES[6:])))
    chat.send(message)
    expect(chat.user_messages).to_have_count(1)
    chat.wait_until_idle()
    expect(chat.tool_cards).to_have_count(len(TITLES))
    expect(chat.task_items).to_have_count(len(TITLES))
    assert chat.user_messages.last.text_content() == message
    assistant = all_text(chat.assistant_messages.last)
    for literal in (*MARKUP, *ODD_UNICODE, *SQL_INJECTION[:3]):
        if "](" not in literal:  # Markdown links keep only their text: checked as links below
            assert literal in assistant, f"{literal!r} is not shown as text"
    links = chat.assistant_messages.last.locator("a")
    for index in range(links.count()):
        href = links.nth(index).get_attribute("href") or ""
        assert not href.strip().lower().startswith("javascript"), href
    panel = all_text(chat.task_items)
    for title in TITLES:
        assert " ".join(title.split()) in panel, f"{title!r} is not in the task panel"
    assert_nothing_ran(chat)
    chat.screenshot("hostile-input")

    # A prompt injection naming the victim; the model obeys and names them in the tool call.
    injection = prompt_injections(victim.id, victim.email)[2]
    model.script_step(tool_call("list_tasks", {"user_id": victim.id, "status": "all"}))
    model.script_step(reply("Here are the tasks I could find."))
    chat.send(injection)
    chat.wait_until_idle()
    expect(chat.user_messages.last).to_have_text(injection)
    assert VICTIM_TASK not in chat.page.locator("body").inner_text()

    # A message of exactly the limit goes through, and the page answers it.
    limit = 4000
    model.script_step(reply("That was a long one."))
    chat.send("y" * limit)
    expect(chat.assistant_messages.last).to_contain_text("That was a long one.")
    chat.wait_until_idle()
    assert chat.user_messages.last.text_content() == "y" * limit

    # A conversation title with markup is shown as text too.
    conversation = chat.wait_for_conversation_url()
    chat.conversation_options(chat.conversation_items.first, "Rename")
    title_box = chat.page.get_by_role("textbox", name="Conversation title")
    title_box.fill(MARKUP[1])
    title_box.press("Enter")
    expect(chat.conversation_item(MARKUP[1])).to_have_count(1)
    assert_nothing_ran(chat)

    # Everything again after a reload, now drawn from the database.
    chat.page.reload()
    chat.ensure_tasks_panel()
    chat.ensure_history()
    expect(chat.user_messages).to_have_count(3)
    expect(chat.task_items).to_have_count(len(TITLES))
    assert chat.user_messages.first.text_content() == message
    expect(chat.conversation_item(MARKUP[1])).to_have_count(1)
    assert VICTIM_TASK not in chat.page.locator("body").inner_text()
    assert_nothing_ran(chat)

    # And the page still works.
    model.script_step(reply("Still here."))
    chat.send("are you still there?")
    expect(chat.assistant_messages.last).to_contain_text("Still here.")
    chat.wait_until_idle()
    assert_nothing_ran(chat)

    stored = api.get(f"/api/{account.id}/tasks", headers=account.headers).json()["tasks"]
    # (The tool calls ran concurrently, so the numbering order is the tools' own.)
    assert sorted(task["title"] for task in stored) == sorted(" ".join(t.split()) for t in TITLES)
    renamed = api.get(f"/api/{account.id}/conversations/{conversation}", headers=account.headers)
    assert renamed.json()["title"] == MARKUP[1]
    assert api.get(f"/api/{victim.id}/tasks", headers=victim.headers).json() == victim_before
    model.assert_done()
