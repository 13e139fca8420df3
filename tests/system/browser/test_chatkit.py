"""The /chatkit page in Chromium, self-hosted mode: OpenAI's ChatKit component through
TaskPilot's Reflex wrapper, talking to TaskPilot's ChatKit server.

ChatKit's own script comes from OpenAI's CDN, which this machine cannot reach: that is the
offline case, tested as it is. For the rest, a stand-in `openai-chatkit` element is served at
the script's URL (`chatkit_page.py`), so what is checked is TaskPilot's code: the wrapper, the
Reflex state, and the real ChatKit server behind `/api/chatkit`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable

import httpx
import pytest
from playwright.sync_api import Request, expect

from taskpilot.web.prompts import PROMPTS
from tests.support.app_server import CHATKIT_DOMAIN_KEY, JWT_SECRET, AppServer
from tests.support.chat_page import Account, ChatPage
from tests.support.chatkit_client import parse_events, user_input
from tests.support.chatkit_page import (
    ELEMENT,
    SCRIPT_URL,
    chatkit_options,
    open_chatkit,
    serve_standin,
)
from tests.support.openai_standin import reply, tool_call
from tests.support.standin import BrowserStandIn

pytestmark = pytest.mark.browser


def watch(chat: ChatPage, seen: list[Request]) -> None:
    """Collect the requests the page sends to /api/chatkit into `seen`."""
    chat.page.on("request", lambda r: seen.append(r) if "/api/chatkit" in r.url else None)


def test_the_wrapper_hands_chatkit_its_options(
    open_page: Callable[..., ChatPage], account: Account, app: AppServer
) -> None:
    chat = open_chatkit(open_page(account))
    options = chatkit_options(chat)
    api = options["api"]
    assert api == {
        "url": f"{app.base_url}/api/chatkit",
        "domainKey": CHATKIT_DOMAIN_KEY,
        "fetch": "[function fetch]",
    }
    assert options["theme"]["colorScheme"] == "light"
    assert options["startScreen"]["prompts"] == [
        {"label": text, "prompt": text, "icon": f"lucide:{icon}"} for icon, text in PROMPTS
    ]
    assert options["startScreen"]["greeting"].startswith("What's on your list")
    assert options["composer"]["placeholder"]
    assert options["history"] == {"enabled": True, "showDelete": True, "showRename": True}
    assert options["threadItemActions"] == {"feedback": True, "retry": True}
    assert options["initialThread"] is None
    assert "standin" in options["disclaimer"]["text"]  # the model in use (the test server's)
    # The token stays in the wrapper's fetch; nothing secret is in the options.
    dumped = json.dumps(options)
    assert account.token not in dumped and JWT_SECRET not in dumped

    # Light/dark follows the app's toggle.
    chat.button("Toggle theme").click()
    expect(chat.page.locator(ELEMENT)).to_have_attribute("data-color-scheme", "dark")
    assert chatkit_options(chat)["theme"]["colorScheme"] == "dark"
    chat.screenshot("chatkit-standin")
    assert chat.page_errors == []


def test_fetch_carries_the_token_and_chatkit_events_reach_the_page(
    open_page: Callable[..., ChatPage],
    account: Account,
    model: BrowserStandIn,
    api: httpx.Client,
) -> None:
    chat = open_chatkit(open_page(account))
    seen: list[Request] = []
    watch(chat, seen)
    expect(chat.tasks_panel).to_be_visible()  # beside ChatKit on a desktop screen
    expect(chat.task_items).to_have_count(0)

    # A turn through the wrapper's fetch, as ChatKit sends it: the real ChatKit server answers
    # only because the signed-in user's token rides along.
    model.script_step(tool_call("add_task", {"title": "Buy milk", "priority": "high"}))
    model.script_step(reply("Added **Buy milk**."))
    create = {
        "type": "threads.create",
        "params": {"input": user_input("add buy milk").model_dump()},
    }
    answer = chat.page.evaluate("body => window.__chatkit.request(body)", create)
    assert answer["status"] == 200, answer
    events = parse_events(answer["body"])
    thread_id = next(e.thread.id for e in events if e.type == "thread.created")  # type: ignore[union-attr]
    assert any(getattr(e, "item", None) and e.item.type == "workflow" for e in events)  # type: ignore[union-attr]
    assert [r.headers.get("authorization") for r in seen] == [f"Bearer {account.token}"]

    # ChatKit's events reach Reflex state: the reply ends → the task panel reloads; the
    # thread changes → the URL names it.
    chat.page.evaluate("() => window.__chatkit.emit('chatkit.response.start')")
    expect(chat.page.locator(".tp-chatkit-frame")).to_have_attribute("data-responding", "true")
    chat.page.evaluate(
        "id => window.__chatkit.emit('chatkit.thread.change', {threadId: id})", thread_id
    )
    chat.page.wait_for_url(re.compile(f"/chatkit/{thread_id}$"))
    chat.page.evaluate("() => window.__chatkit.emit('chatkit.response.end')")
    expect(chat.page.locator(".tp-chatkit-frame")).to_have_attribute("data-responding", "false")
    expect(chat.task_item("Buy milk")).to_be_visible()

    # An error ChatKit reports is shown as text.
    chat.page.evaluate(
        "() => window.__chatkit.element().dispatchEvent(new CustomEvent('chatkit.error',"
        " {detail: {error: new Error('That thread was not found.')}}))"
    )
    expect(chat.page.get_by_test_id("chatkit-problem")).to_have_text("That thread was not found.")

    # The thread is a conversation: the native chat lists it; a reload opens it again.
    conversations = api.get(f"/api/{account.id}/conversations", headers=account.headers).json()
    assert [c["id"] for c in conversations["conversations"]] == [thread_id]
    open_chatkit(chat, f"/chatkit/{thread_id}")
    assert chatkit_options(chat)["initialThread"] == thread_id
    assert chat.page_errors == []


def test_a_tasks_changed_effect_and_a_widget_button_refresh_the_task_panel_mid_turn(
    open_page: Callable[..., ChatPage], account: Account, model: BrowserStandIn
) -> None:
    """The task panel reloads without waiting for the reply to end (the live feed, and the
    server's `tasks_changed` effect sent as a tool changes tasks); so does it after a task
    widget's button, whose answer (`threads.sync_custom_action`) carries no effect."""
    chat = open_chatkit(open_page(account))
    expect(chat.task_items).to_have_count(0)
    model.script_step(tool_call("add_task", {"title": "Buy milk"}))
    model.script_step(reply("Added."))
    create = {"type": "threads.create", "params": {"input": user_input("add milk").model_dump()}}
    answer = chat.page.evaluate("body => window.__chatkit.request(body)", create)
    events = parse_events(answer["body"])
    assert [e.name for e in events if e.type == "client_effect"] == ["tasks_changed"]  # type: ignore[union-attr]
    thread_id = next(e.thread.id for e in events if e.type == "thread.created")  # type: ignore[union-attr]
    card = next(e.item for e in events if e.type == "thread.item.done" and e.item.type == "widget")  # type: ignore[union-attr]
    # No reply has ended (the stand-in sends no response.end), yet the panel has the task:
    # the live feed told it (`web/states/live.py`); the effect reloads it too.
    expect(chat.task_item("Buy milk")).to_be_visible()
    chat.page.evaluate("() => window.__chatkit.effect('tasks_changed', {tool: 'add_task'})")
    expect(chat.task_item("Buy milk")).to_be_visible()

    press = {
        "type": "threads.sync_custom_action",
        "params": {
            "thread_id": thread_id,
            "item_id": card.id,
            "action": {"type": "task.complete", "payload": {"task_id": 1}},
        },
    }
    answer = chat.page.evaluate("body => window.__chatkit.request(body)", press)
    assert answer["status"] == 200, answer
    chat.filter_tasks("Completed")
    expect(chat.task_item("Buy milk")).to_be_visible()
    assert chat.page_errors == []


def test_an_approval_cards_confirm_through_the_wrapper_deletes_and_refreshes_the_panel(
    open_page: Callable[..., ChatPage], account: Account, model: BrowserStandIn
) -> None:
    """A delete waits with an approval card; its Confirm is a streamed
    `threads.custom_action`, sent through the wrapper's fetch with the person's token. It
    resumes the turn on the server, and the stream's `tasks_changed` effect refreshes the
    task panel."""
    chat = open_chatkit(open_page(account))
    model.script_step(tool_call("add_task", {"title": "Buy milk"}))
    model.script_step(reply("Added."))
    model.script_step(tool_call("delete_task", {"task_id": 1}, call_id="call_del_1"))
    model.script_step(reply("Deleted it."))
    create = {"type": "threads.create", "params": {"input": user_input("add milk").model_dump()}}
    created = parse_events(
        chat.page.evaluate("body => window.__chatkit.request(body)", create)["body"]
    )
    thread_id = next(e.thread.id for e in created if e.type == "thread.created")  # type: ignore[union-attr]
    chat.page.evaluate("() => window.__chatkit.effect('tasks_changed', {tool: 'add_task'})")
    expect(chat.task_item("Buy milk")).to_be_visible()

    ask = {
        "type": "threads.add_user_message",
        "params": {"thread_id": thread_id, "input": user_input("delete task 1").model_dump()},
    }
    asked = parse_events(chat.page.evaluate("body => window.__chatkit.request(body)", ask)["body"])
    [card] = [e.item for e in asked if e.type == "thread.item.done" and e.item.type == "widget"]  # type: ignore[union-attr]
    confirm = card.widget.confirm["action"]  # type: ignore[union-attr]
    assert (confirm.type, confirm.payload, confirm.streaming) == (
        "approval.approve",
        {"call_id": "call_del_1"},
        True,
    )
    expect(chat.task_item("Buy milk")).to_be_visible()  # nothing deleted yet

    press = {
        "type": "threads.custom_action",
        "params": {
            "thread_id": thread_id,
            "item_id": card.id,
            "action": {"type": confirm.type, "payload": confirm.payload},
        },
    }
    answer = chat.page.evaluate("body => window.__chatkit.request(body)", press)
    assert answer["status"] == 200, answer
    events = parse_events(answer["body"])
    assert [e.name for e in events if e.type == "client_effect"] == ["tasks_changed"]  # type: ignore[union-attr]
    redrawn = next(
        e.item for e in events if e.type == "thread.item.replaced" and e.item.id == card.id
    )  # type: ignore[union-attr]
    assert redrawn.widget.confirm is None  # type: ignore[union-attr]
    chat.page.evaluate("() => window.__chatkit.effect('tasks_changed', {tool: 'delete_task'})")
    expect(chat.task_item("Buy milk")).to_have_count(0)
    assert chat.page_errors == []


def test_another_users_thread_is_not_found_through_the_wrapper(
    open_page: Callable[..., ChatPage],
    new_account: Callable[[], Account],
    model: BrowserStandIn,
    api: httpx.Client,
) -> None:
    owner, other = new_account(), new_account()
    model.script_step(reply("Hello."))
    created = api.post(
        f"/api/{owner.id}/chat", json={"message": "hello"}, headers=owner.headers
    ).json()
    chat = open_chatkit(open_page(other))
    body = {"type": "items.list", "params": {"thread_id": created["conversation_id"]}}
    answer = chat.page.evaluate("body => window.__chatkit.request(body)", body)
    assert answer["status"] == 404
    assert "hello" not in answer["body"].lower()
    mine = chat.page.evaluate(
        "body => window.__chatkit.request(body)", {"type": "threads.list", "params": {}}
    )
    assert json.loads(mine["body"])["data"] == []


def test_without_chatkit_the_page_says_so_and_offers_the_native_chat(
    open_page: Callable[..., ChatPage], account: Account
) -> None:
    chat = open_page(account)
    # The real script URL, unreachable from here; aborted outright so the test does not
    # depend on how fast this machine's DNS fails.
    chat.page.route(SCRIPT_URL, lambda route: route.abort("internetdisconnected"))
    chat.goto("/chatkit")
    notice = chat.page.get_by_test_id("chatkit-unavailable")
    expect(notice).to_be_visible()
    expect(notice).to_have_attribute("role", "alert")
    expect(notice).to_contain_text("ChatKit couldn't load")
    expect(notice).to_contain_text("cdn.platform.openai.com")
    assert chat.page.locator("openai-chatkit").count() == 0  # no empty box
    chat.screenshot("chatkit-unavailable")
    notice.get_by_role("link", name="Use TaskPilot chat").click()
    expect(chat.composer).to_be_editable()
    assert chat.page.url.rstrip("/") == chat.base_url


def test_the_chatkit_page_needs_a_sign_in(open_page: Callable[..., ChatPage]) -> None:
    chat = open_page()
    serve_standin(chat.page)
    chat.goto("/chatkit")
    chat.page.wait_for_url(re.compile(r"/login/?$"))
    assert chat.page.locator("openai-chatkit").count() == 0


def test_mentions_offer_your_tasks_and_a_clicked_one_is_marked_in_the_panel(
    open_page: Callable[..., ChatPage],
    new_account: Callable[[], Account],
    model: BrowserStandIn,
    api: httpx.Client,
) -> None:
    me, other = new_account(), new_account()
    for account, title in ((me, "Buy milk"), (me, "Call mom"), (other, "Buy milk powder")):
        model.script_step(tool_call("add_task", {"title": title}))
        model.script_step(reply(f"Added {title}."))
        added = api.post(
            f"/api/{account.id}/chat", json={"message": title}, headers=account.headers
        )
        assert added.status_code == 200, added.text
    chat = open_chatkit(open_page(me))
    options = chatkit_options(chat)
    assert options["entities"] == {
        "onTagSearch": "[function onTagSearch]",
        "onClick": "[function onClick]",
    }

    # After "@", ChatKit asks the wrapper for tasks: the person's own, from the tasks API
    # with their token; never someone else's.
    seen: list[Request] = []
    chat.page.on("request", lambda r: seen.append(r) if "/tasks" in r.url else None)
    found = chat.page.evaluate("q => window.__chatkit.tagSearch(q)", "milk")
    assert found == [
        {
            "id": "task_1",
            "title": "Buy milk",
            "group": "Tasks",
            "icon": "empty-circle",
            "interactive": True,
            "data": {"task_id": "1"},
        }
    ]
    assert [r.headers.get("authorization") for r in seen] == [f"Bearer {me.token}"]
    assert f"/api/{me.id}/tasks?" in seen[0].url
    everything = chat.page.evaluate("q => window.__chatkit.tagSearch(q)", "")
    assert [entity["title"] for entity in everything] == ["Buy milk", "Call mom"]

    # Clicking a task ChatKit shows marks it in the panel, until the next click moves it.
    row = chat.page.locator("[data-testid=task-item][data-task-id='2']")
    expect(row).to_have_attribute("data-highlighted", "false")
    chat.page.evaluate("e => window.__chatkit.clickEntity(e)", everything[1])
    expect(row).to_have_attribute("data-highlighted", "true")
    chat.screenshot("chatkit-task-highlighted")
    first = chat.page.locator("[data-testid=task-item][data-task-id='1']")
    chat.page.evaluate("e => window.__chatkit.clickEntity(e)", everything[0])
    expect(first).to_have_attribute("data-highlighted", "true")
    expect(row).to_have_attribute("data-highlighted", "false")
    # ... and it fades on its own after a few seconds.
    expect(first).to_have_attribute("data-highlighted", "false", timeout=10_000)
    assert chat.page_errors == []
