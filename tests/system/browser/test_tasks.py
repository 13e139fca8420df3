"""The task panel's own actions (complete, delete), its status filter, and a repeating task."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from tests.support.app_server import AppServer
from tests.support.browser import HeldWrites, seed_conversation
from tests.support.chat_page import Account, ChatPage
from tests.support.openai_standin import ScriptedCall, reply, tool_calls
from tests.support.standin import BrowserStandIn

pytestmark = pytest.mark.browser


def stored_tasks(api: httpx.Client, account: Account) -> dict[int, dict[str, Any]]:
    response = api.get(f"/api/{account.id}/tasks", headers=account.headers)
    assert response.status_code == 200, response.text
    return {task["task_id"]: task for task in response.json()["tasks"]}


def test_complete_filter_and_delete_from_the_panel(
    open_page: Callable[..., ChatPage],
    account: Account,
    model: BrowserStandIn,
    api: httpx.Client,
) -> None:
    seed_conversation(
        api,
        account,
        model,
        "add water the plants, high priority, and file taxes #home due 2020-01-31",
        "Added both.",
        # One call a step: two calls in one step run at once, so which task gets number 1
        # would be a race (the test names them by number below).
        tool_calls(ScriptedCall("add_task", {"title": "Water the plants", "priority": "high"})),
        tool_calls(
            ScriptedCall(
                "add_task", {"title": "File taxes", "due_date": "2020-01-31", "tags": ["home"]}
            )
        ),
    )
    chat = open_page(account).open_chat()
    chat.ensure_tasks_panel()
    expect(chat.task_items).to_have_count(2)
    expect(chat.task_item("File taxes")).to_contain_text("home")  # its tag
    expect(chat.task_item("File taxes")).to_contain_text(re.compile(r"overdue|jan", re.I))
    expect(chat.task_item("Water the plants")).to_contain_text(re.compile("high", re.I))
    chat.screenshot("task-panel")

    first = chat.tasks_panel.locator('[data-testid=task-item][data-task-id="1"]')
    expect(first).to_have_attribute("data-completed", "false")
    first.get_by_role("button", name="Complete task 1", exact=True).click()
    expect(first).to_have_attribute("data-completed", "true")
    expect(first.get_by_role("button", name="Reopen task 1", exact=True)).to_be_visible()
    assert stored_tasks(api, account)[1]["completed"] is True

    chat.filter_tasks("Pending")
    expect(chat.task_items).to_have_count(1)
    expect(chat.task_items.first).to_have_attribute("data-task-id", "2")
    chat.filter_tasks("Completed")
    expect(chat.task_items).to_have_count(1)
    expect(chat.task_items.first).to_have_attribute("data-task-id", "1")
    chat.filter_tasks("All")
    expect(chat.task_items).to_have_count(2)

    chat.tasks_panel.get_by_role("button", name="Delete task 2", exact=True).click()
    expect(chat.task_items).to_have_count(1)
    expect(chat.task_item("File taxes")).to_have_count(0)
    assert set(stored_tasks(api, account)) == {1}
    model.assert_done()


def test_a_repeating_task_shows_its_rule_and_moves_on_when_completed(
    open_page: Callable[..., ChatPage],
    account: Account,
    model: BrowserStandIn,
    api: httpx.Client,
) -> None:
    seed_conversation(
        api,
        account,
        model,
        "water the ferns every monday",
        "Added it.",
        tool_calls(
            ScriptedCall("add_task", {"title": "Water the ferns", "repeat": "every monday"})
        ),
    )
    due = date.fromisoformat(stored_tasks(api, account)[1]["due_date"])
    assert due.weekday() == 0
    chat = open_page(account).open_chat()
    chat.ensure_tasks_panel()
    ferns = chat.tasks_panel.locator('[data-testid=task-item][data-task-id="1"]')
    expect(ferns.get_by_test_id("task-repeat")).to_have_text("every Monday")
    badge = ferns.get_by_test_id("task-due")
    before = badge.inner_text()
    chat.screenshot("task-panel-repeating")

    ferns.get_by_role("button", name="Complete task 1", exact=True).click()
    expect(badge).not_to_have_text(before)  # due a week later
    expect(ferns).to_have_attribute("data-completed", "false")  # it stays open
    expect(ferns.get_by_role("button", name="Complete task 1", exact=True)).to_be_visible()
    expect(ferns.get_by_test_id("task-repeat")).to_have_text("every Monday")
    task = stored_tasks(api, account)[1]
    assert (task["completed"], task["due_date"]) == (False, (due + timedelta(days=7)).isoformat())
    model.assert_done()


def test_a_done_waiting_on_a_busy_database_does_not_hold_up_a_streaming_reply(
    open_page: Callable[..., ChatPage],
    account: Account,
    model: BrowserStandIn,
    app: AppServer,
    api: httpx.Client,
) -> None:
    """The panel's buttons write outside the tab's state lock (background handlers), which
    the tab's streaming reply takes for every delta. Done is clicked while a reply streams
    and its write waits on a busy database: the reply goes on meanwhile, and the task shows
    done once the write is let through. As a regular handler, the write held that lock and
    the reply froze until the database was free (then the task was done at once)."""
    seed_conversation(
        api,
        account,
        model,
        "add buy milk",
        "Added it.",
        tool_calls(ScriptedCall("add_task", {"title": "Buy milk"})),
    )
    chat = open_page(account).open_chat()
    chat.ensure_tasks_panel()
    milk = chat.tasks_panel.locator('[data-testid=task-item][data-task-id="1"]')
    expect(milk).to_have_attribute("data-completed", "false")
    story = " ".join(f"word{n}" for n in range(120))
    model.script_step(reply(story), pace=0.06)
    chat.send("tell me a long story")
    assistant = chat.assistant_messages.last
    expect(assistant).to_contain_text("word3")
    writes = HeldWrites(app)
    writes.take()
    try:
        milk.get_by_role("button", name="Complete task 1", exact=True).click()
        before = len(assistant.inner_text())
        grown = before
        give_up = time.monotonic() + 3.0  # the hold lets go by itself after 4 s
        while grown < before + 60 and time.monotonic() < give_up:
            chat.page.wait_for_timeout(40)  # a sampling interval, not a wait for a state
            grown = len(assistant.inner_text())
        still_open = milk.get_attribute("data-completed")
    finally:
        writes.release()
    assert grown >= before + 60, f"the reply stood still while Done waited: {before} → {grown}"
    assert still_open == "false", "the write was not waiting: the test's hold did not hold"
    expect(milk).to_have_attribute("data-completed", "true")
    assert stored_tasks(api, account)[1]["completed"] is True
    chat.wait_until_idle()
    expect(assistant).to_contain_text("word119")
    model.assert_done()
