"""ChatKitState: the /chatkit page's handlers, driven as Reflex drives them (the browser tests
drive the same handlers through the real page and the wrapper)."""

from __future__ import annotations

from typing import Any

import pytest
from agents.testing import assistant_message, function_call
from reflex.event import EventSpec

from taskpilot.core.config import ChatKitMode
from taskpilot.web.states.tasks import TaskState
from tests.support.web_states import Page, asks_browser_zone, call, redirect_to


def script_of(event: Any) -> str:
    """The JavaScript an `rx.call_script` event runs."""
    assert isinstance(event, EventSpec)
    return str(dict((str(k), v) for k, v in event.args)["javascript_code"]._var_value)


async def test_the_page_needs_a_valid_token(tab: Page) -> None:
    tab.visit("/chatkit")
    assert redirect_to(await call(tab.chatkit, "load_page")) == "/login"
    tab.auth.token = "forged"
    assert redirect_to(await call(tab.chatkit, "load_page")) == "/login"


async def test_load_page_configures_chatkit_from_settings(tab: Page) -> None:
    await tab.sign_up()
    tab.visit("/chatkit")
    assert asks_browser_zone(await call(tab.chatkit, "load_page"))
    chatkit, settings = tab.chatkit, tab.runtime.settings
    assert chatkit.mode == "self-hosted"
    assert chatkit.domain_key == settings.chatkit_domain_key == "domain_pk_localhost_dev"
    assert chatkit.script_url == settings.chatkit_script_url
    assert chatkit.script_host == "cdn.platform.openai.com"
    assert chatkit.locale == "" and chatkit.initial_thread == ""
    assert chatkit.disclaimer.startswith("Offline model")  # the model in use, as on the chat page
    assert chatkit.greeting == "What's on your list, Ada?"
    assert tab.tasks.loaded and chatkit.user_name == "Ada Lovelace"

    # A thread in the URL is the one ChatKit opens first.
    tab.visit("/chatkit/f00d")
    await call(tab.chatkit, "load_page")
    assert chatkit.initial_thread == chatkit.thread_id == "f00d"


async def test_hosted_mode_names_no_key(tab: Page, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = tab.runtime.settings
    monkeypatch.setattr(settings, "chatkit_workflow_id", "wf_123")
    monkeypatch.setattr(settings, "openai_api_key", "sk-never-in-the-browser")
    monkeypatch.setattr(settings, "chatkit_locale", "de-DE")
    assert settings.resolved_chatkit_mode is ChatKitMode.HOSTED
    await tab.sign_up()
    tab.visit("/chatkit")
    await call(tab.chatkit, "load_page")
    chatkit = tab.chatkit
    assert chatkit.mode == "hosted" and chatkit.locale == "de-DE"
    assert chatkit.disclaimer == "Answered by the hosted ChatKit workflow."
    shown = str(chatkit.dict())
    assert "sk-never-in-the-browser" not in shown and "wf_123" not in shown


async def test_load_page_says_when_the_database_is_down(
    tab: Page, monkeypatch: pytest.MonkeyPatch
) -> None:
    await tab.sign_up()
    tab.database_down(monkeypatch)
    tab.visit("/chatkit")
    assert await call(tab.chatkit, "load_page") is None
    assert "database" in tab.chatkit.problem and tab.chatkit.mode == ""


async def test_chatkit_events_reach_the_page(tab: Page) -> None:
    user_id = await tab.sign_up()
    tab.visit("/chatkit")
    await call(tab.chatkit, "load_page")
    chatkit = tab.chatkit

    await call(chatkit, "chatkit_ready")
    assert chatkit.ready and not chatkit.unavailable
    await call(chatkit, "response_started")
    assert chatkit.responding and chatkit.problem == ""

    # The reply changed a task (through the ChatKit server, i.e. the agent and MCP): the panel
    # reloads when ChatKit says the response ended.
    tab.model.extend(
        [
            [function_call("add_task", {"title": "Buy milk"}, call_id="c1")],
            [assistant_message("Added.")],
        ]
    )
    turn = await tab.runtime.turns.prepare(user_id, None, "add buy milk")
    await tab.runtime.turns.start(turn).wait()
    follow_up = await call(chatkit, "response_ended")
    assert follow_up is TaskState.load_tasks and not chatkit.responding
    # A client effect: `tasks_changed` (mid-turn, or a widget's button) reloads the panel too.
    assert await call(chatkit, "chatkit_effect", "tasks_changed") is TaskState.load_tasks
    assert await call(chatkit, "chatkit_effect", "something_else") is None
    await call(tab.tasks, "load_tasks")
    assert [t.title for t in tab.tasks.tasks] == ["Buy milk"]

    # Another thread: the URL names it, without a reload; anything else is not put in a script.
    event = await call(chatkit, "thread_changed", turn.conversation_id)
    assert chatkit.thread_id == turn.conversation_id
    assert f'"/chatkit/{turn.conversation_id}"' in script_of(event)
    assert "replaceState" in script_of(event)
    event = await call(chatkit, "thread_changed", "'); alert(1); ('")
    assert '"/chatkit")' in script_of(event) and "alert" not in script_of(event)
    event = await call(chatkit, "thread_changed", "")
    assert '"/chatkit")' in script_of(event)

    await call(chatkit, "chatkit_failed", "  That thread\nwas not found. ")
    assert chatkit.problem == "That thread was not found." and not chatkit.responding
    await call(chatkit, "chatkit_failed", "x" * 1000)
    assert len(chatkit.problem) == 240 and chatkit.problem.endswith("…")
    await call(chatkit, "chatkit_failed", "")
    assert chatkit.problem == "ChatKit reported a problem."

    await call(chatkit, "script_unavailable", chatkit.script_url)
    assert chatkit.unavailable
