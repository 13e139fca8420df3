"""The task panel's own actions (complete, delete) and its status filter."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from tests.support.browser import seed_conversation
from tests.support.chat_page import Account, ChatPage
from tests.support.openai_standin import ScriptedCall, tool_calls
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
