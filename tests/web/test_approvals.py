"""A delete asked for in the chat waits on the page: the turn's tool card asks Approve or
Cancel, nothing is deleted before, and the decision streams in as a turn does. On SQLite and
PostgreSQL, through the page's own handlers, the real turn engine and the real MCP tools."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from agents.testing import ModelStep, assistant_message, function_call
from reflex_base.event import EventSpec

from taskpilot.core.config import Settings
from taskpilot.mcp.tools import DECLINED
from taskpilot.services.conversations import ConversationStore
from taskpilot.services.tasks import TaskQuery, TaskService
from taskpilot.services.turns import MOVED_ON_REPLY
from taskpilot.web.states.tasks import TaskState
from taskpilot.web.states.turn_stream import ALREADY_DECIDED
from taskpilot.web.view_models import NOT_DONE, WAITING_FOR_APPROVAL
from tests.support.harness import make_settings
from tests.support.web_states import Page, call, redirect_to


@pytest.fixture
def settings(database_url: str) -> Settings:
    """Both databases: a paused turn is a row in a state (`awaiting`) that holds its
    conversation, and its decision is claimed with one conditional UPDATE."""
    return make_settings(database_url)


def args(spec: Any) -> list[Any]:
    return [value._var_value for _, value in spec.args]


async def send(tab: Page, text: str) -> list[Any]:
    """Submit the composer, then run the background turn to its end; its follow-up events."""
    spec = await call(tab.chat, "send", {"message": text})
    assert isinstance(spec, EventSpec) and spec.handler.fn.__name__ == "run_turn"
    return await call(tab.chat, "run_turn", *args(spec))  # type: ignore[no-any-return]


async def decide(tab: Page, call_id: str, approve: bool) -> list[Any]:
    """Press Approve (or Cancel) on the card of `call_id`; run the resumed turn to its end."""
    spec = await call(tab.chat, "decide", call_id, approve)
    assert isinstance(spec, EventSpec) and spec.handler.fn.__name__ == "run_decision"
    return await call(tab.chat, "run_decision", *args(spec))  # type: ignore[no-any-return]


async def task_titles(tab: Page, user_id: str) -> list[str]:
    async with tab.runtime.db.session() as session:
        return [task.title for task in await TaskService(session, user_id).find(TaskQuery())]


async def stored(tab: Page, user_id: str) -> list[tuple[str, str, str]]:
    async with tab.runtime.db.session() as session:
        rows = await ConversationStore(session, user_id).messages(tab.chat.current_id)
    return [(row.role, row.status, row.content) for row in rows]


def asks_to_delete(call_id: str = "d1", task_id: int = 1) -> list[Any]:
    return [function_call("delete_task", {"task_id": task_id}, call_id=call_id)]


@pytest.fixture
async def paused(tab: Page) -> tuple[Page, str]:
    """Ada has "Buy milk" (task 1) and asked to delete it: the turn waits for her."""
    user_id = await tab.sign_up()
    async with tab.runtime.db.session() as session:
        await TaskService(session, user_id).add("Buy milk")
    await call(tab.chat, "load_page")
    tab.model.extend([asks_to_delete()])
    follow_ups = await send(tab, "delete task 1")
    assert any(
        isinstance(e, EventSpec) and e.handler.fn.__qualname__ == "_set_focus" for e in follow_ups
    )
    return tab, user_id


def waiting_card(tab: Page) -> Any:
    question = tab.chat.messages[-1]
    assert question.role == "user" and question.awaiting
    [card] = question.tool_calls
    return card


async def test_a_delete_waits_for_approval_without_an_error(paused: tuple[Page, str]) -> None:
    tab, user_id = paused
    chat = tab.chat
    card = waiting_card(tab)
    assert (card.call_id, card.name, card.arguments, card.state) == (
        "d1",
        "delete_task",
        "task 1",
        "awaiting",
    )
    assert (card.result, card.summary) == (WAITING_FOR_APPROVAL, "Delete task 1 · Buy milk")
    # The turn ended cleanly: no error, nothing streaming, the composer free.
    assert (chat.live_status, chat.live_error, chat.live_tools) == ("", "", [])
    assert not chat.streaming and chat.retry_key == ""
    assert [m.role for m in chat.messages] == ["user"]
    # Nothing is deleted before Approve.
    assert await task_titles(tab, user_id) == ["Buy milk"]
    assert await stored(tab, user_id) == [("user", "awaiting", "delete task 1")]


async def test_approve_deletes_and_the_reply_streams_in(paused: tuple[Page, str]) -> None:
    tab, user_id = paused
    tab.model.extend([[assistant_message("Deleted **Buy milk**.")]])
    spec = await call(tab.chat, "decide", "d1", True)
    # The card moves to the live turn, running again, while the decision is taken.
    [card] = tab.chat.live_tools
    assert (card.state, card.approval) == ("running", "approved") and tab.chat.streaming
    assert not tab.chat.messages[-1].awaiting
    follow_ups = await call(tab.chat, "run_decision", *args(spec))

    chat = tab.chat
    assert [(m.role, m.content) for m in chat.messages] == [
        ("user", "delete task 1"),
        ("assistant", "Deleted **Buy milk**."),
    ]
    [card] = chat.messages[1].tool_calls
    assert (card.state, card.result) == ("done", "Deleted task 1 · Buy milk")
    assert chat.live_status == "" and chat.live_error == "" and chat.notice == ""
    assert TaskState.load_tasks in follow_ups  # the panel refreshes after the delete
    assert await task_titles(tab, user_id) == []
    assert await stored(tab, user_id) == [
        ("user", "answered", "delete task 1"),
        ("assistant", "answered", "Deleted **Buy milk**."),
    ]
    # Reloaded, the decided card reads the same, without buttons.
    tab.visit(f"/c/{chat.current_id}")
    await call(chat, "load_page")
    [card] = chat.messages[1].tool_calls
    assert (card.state, card.result, card.approval) == (
        "done",
        "Deleted task 1 · Buy milk",
        "approved",
    )
    assert not chat.messages[0].awaiting


async def test_cancel_keeps_the_task_and_tells_the_model(paused: tuple[Page, str]) -> None:
    tab, user_id = paused
    tab.model.extend([[assistant_message("Okay, I kept Buy milk.")]])
    await decide(tab, "d1", False)
    chat = tab.chat
    assert [(m.role, m.content) for m in chat.messages] == [
        ("user", "delete task 1"),
        ("assistant", "Okay, I kept Buy milk."),
    ]
    [card] = chat.messages[1].tool_calls
    assert (card.state, card.result) == ("declined", NOT_DONE)
    assert chat.live_error == "" and not chat.streaming
    assert await task_titles(tab, user_id) == ["Buy milk"]
    # The model heard that the person declined (the call's output it was given).
    last = tab.model.last_call
    assert last is not None and DECLINED in str(last.input)
    tab.visit(f"/c/{chat.current_id}")
    await call(chat, "load_page")
    [card] = chat.messages[1].tool_calls
    assert (card.state, card.result) == ("declined", NOT_DONE)


async def test_a_reload_shows_the_waiting_card_and_its_buttons_work(
    paused: tuple[Page, str], another_tab: Callable[[], Page]
) -> None:
    tab, user_id = paused
    conversation_id = tab.chat.current_id
    # The same person opens the conversation later, in another browser.
    other = another_tab()
    other.auth.token = tab.auth.token
    other.visit(f"/c/{conversation_id}")
    await call(other.chat, "load_page")
    card = waiting_card(other)
    assert (card.call_id, card.state, card.summary) == (
        "d1",
        "awaiting",
        "Delete task 1 · Buy milk",
    )
    assert other.chat.live_status == ""
    tab.model.extend([[assistant_message("Gone.")]])
    await decide(other, "d1", True)
    assert [m.content for m in other.chat.messages] == ["delete task 1", "Gone."]
    assert await task_titles(tab, user_id) == []


async def test_a_decision_made_elsewhere_is_noted_and_the_page_catches_up(
    paused: tuple[Page, str], another_tab: Callable[[], Page]
) -> None:
    tab, user_id = paused
    other = another_tab()
    other.auth.token = tab.auth.token
    other.visit(f"/c/{tab.chat.current_id}")
    await call(other.chat, "load_page")
    tab.model.extend([[assistant_message("Deleted it.")]])
    await decide(other, "d1", True)

    # The first tab still shows the buttons; Cancel there comes too late.
    assert waiting_card(tab).state == "awaiting"
    await decide(tab, "d1", False)
    chat = tab.chat
    assert chat.notice == ALREADY_DECIDED
    assert chat.live_status == "" and chat.live_error == "" and not chat.streaming
    assert [(m.role, m.content) for m in chat.messages] == [
        ("user", "delete task 1"),
        ("assistant", "Deleted it."),
    ]
    [card] = chat.messages[1].tool_calls
    assert (card.state, card.result) == ("done", "Deleted task 1 · Buy milk")
    assert not any(m.awaiting for m in chat.messages)
    assert await task_titles(tab, user_id) == []
    # A stale press on a card that is no longer shown as waiting does nothing.
    assert await call(chat, "decide", "d1", True) is None
    # The next message clears the note.
    tab.model.extend([[assistant_message("Hi.")]])
    await send(tab, "hello")
    assert chat.notice == ""


async def test_a_new_message_declines_the_waiting_change_and_shows_why(
    paused: tuple[Page, str],
) -> None:
    tab, user_id = paused
    tab.model.extend([[assistant_message("Nothing else to do.")]])
    await send(tab, "never mind, what's open?")
    chat = tab.chat
    assert [(m.role, m.content) for m in chat.messages] == [
        ("user", "delete task 1"),
        ("assistant", MOVED_ON_REPLY),
        ("user", "never mind, what's open?"),
        ("assistant", "Nothing else to do."),
    ]
    [card] = chat.messages[1].tool_calls
    assert (card.state, card.result) == ("declined", NOT_DONE)
    assert not any(m.awaiting for m in chat.messages)
    assert await task_titles(tab, user_id) == ["Buy milk"]
    assert [status for _, status, _ in await stored(tab, user_id)] == ["answered"] * 4


async def test_stop_works_while_the_decision_streams(paused: tuple[Page, str]) -> None:
    tab, user_id = paused
    started = asyncio.Event()

    async def silent(call_: Any) -> Any:
        started.set()
        await asyncio.sleep(3600)

    tab.model.extend([ModelStep.respond(silent)])
    spec = await call(tab.chat, "decide", "d1", True)
    async with asyncio.timeout(10), asyncio.TaskGroup() as group:
        group.create_task(call(tab.chat, "run_decision", *args(spec)))
        await started.wait()
        await call(tab.chat, "stop")
    chat = tab.chat
    assert chat.live_status == "stopped" and not chat.streaming
    # The approved delete ran before the model was asked to answer; the card says so.
    [card] = chat.live_tools
    assert (card.state, card.result) == ("done", "Deleted task 1 · Buy milk")
    assert await task_titles(tab, user_id) == []
    assert [(role, status) for role, status, _ in await stored(tab, user_id)] == [
        ("user", "failed")
    ]


async def test_a_failing_model_after_the_decision_shows_a_readable_error(
    paused: tuple[Page, str],
) -> None:
    tab, _ = paused
    tab.model.extend([RuntimeError("KeyError('choices') at line 42")])
    await decide(tab, "d1", False)
    chat = tab.chat
    assert chat.live_status == "error" and "line 42" not in chat.live_error
    assert chat.live_error.endswith("try again.")
    [card] = chat.live_tools
    assert card.state == "declined"


async def test_deciding_needs_a_valid_token(paused: tuple[Page, str]) -> None:
    tab, user_id = paused
    tab.auth.token = "expired"
    assert redirect_to(await call(tab.chat, "decide", "d1", True)) == "/login"
    assert await task_titles(tab, user_id) == ["Buy milk"]


async def test_what_the_reply_said_before_the_pause_stays_and_is_continued(
    tab: Page, another_tab: Callable[[], Page]
) -> None:
    user_id = await tab.sign_up()
    async with tab.runtime.db.session() as session:
        await TaskService(session, user_id).add("Buy milk")
    tab.model.extend([[assistant_message("Let me do that. "), *asks_to_delete()]])
    await send(tab, "delete task 1")
    assert tab.chat.messages[-1].reply_so_far == "Let me do that. "
    # Opened elsewhere, the question brings the same words (kept with the paused run).
    other = another_tab()
    other.auth.token = tab.auth.token
    other.visit(f"/c/{tab.chat.current_id}")
    await call(other.chat, "load_page")
    assert other.chat.messages[-1].reply_so_far == "Let me do that. "
    tab.model.extend([[assistant_message("Done.")]])
    spec = await call(other.chat, "decide", "d1", True)
    assert other.chat.live_text == "Let me do that. "  # the resumed turn continues it
    await call(other.chat, "run_decision", *args(spec))
    # The continuation is a new paragraph, as a reply's second message always is.
    said = ["delete task 1", "Let me do that. \n\nDone."]
    assert [m.content for m in other.chat.messages] == said
    assert other.chat.messages[0].reply_so_far == ""


async def test_two_deletes_in_one_step_are_asked_one_after_the_other(tab: Page) -> None:
    user_id = await tab.sign_up()
    async with tab.runtime.db.session() as session:
        await TaskService(session, user_id).add("Buy milk")
        await TaskService(session, user_id).add("Walk the dog")
    tab.model.extend([[*asks_to_delete("d1", 1), *asks_to_delete("d2", 2)]])
    await send(tab, "delete tasks 1 and 2")
    question = tab.chat.messages[-1]
    assert [(c.call_id, c.state) for c in question.tool_calls] == [
        ("d1", "awaiting"),
        ("d2", "awaiting"),
    ]
    tab.model.extend([[assistant_message("Both gone.")]])
    await decide(tab, "d1", True)
    # The turn pauses again: the second delete still waits, its buttons still there.
    assert tab.chat.live_error == ""
    question = tab.chat.messages[-1]
    assert question.awaiting
    assert [(c.call_id, c.state) for c in question.tool_calls] == [
        ("d1", "done"),
        ("d2", "awaiting"),
    ]
    await decide(tab, "d2", True)
    assert [m.content for m in tab.chat.messages] == ["delete tasks 1 and 2", "Both gone."]
    assert await task_titles(tab, user_id) == []


async def test_a_decision_refused_by_a_limit_leaves_the_question_waiting(
    paused: tuple[Page, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    tab, user_id = paused
    monkeypatch.setattr(tab.runtime.settings, "chat_turns_per_minute", 1)  # one used already
    spec = await call(tab.chat, "decide", "d1", True)
    await call(tab.chat, "run_decision", *args(spec))
    chat = tab.chat
    assert chat.live_status == "error" and chat.live_error.startswith("You've reached the limit")
    assert waiting_card(tab).state == "awaiting" and chat.live_tools == []
    # A message refused the same way is shown, never stored: the waiting question still
    # holds the conversation. Deciding later drops it from under the question.
    await send(tab, "hello?")
    assert [m.content for m in chat.messages] == ["delete task 1", "hello?"]
    assert await task_titles(tab, user_id) == ["Buy milk"]
    monkeypatch.setattr(tab.runtime.settings, "chat_turns_per_minute", 100)
    tab.model.extend([[assistant_message("Deleted.")]])
    await decide(tab, "d1", True)
    assert [m.content for m in chat.messages] == ["delete task 1", "Deleted."]
    assert chat.live_status == "" and await task_titles(tab, user_id) == []
