"""The page's states against a real runtime: who is signed in, loading, sending, streaming,
stopping, retrying, the sidebar and the task panel — including the unhappy paths a browser
test cannot easily provoke (a database outage, a token that expires mid-session)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from agents.testing import ModelStep, assistant_message, function_call
from reflex_base.event import EventSpec

from taskpilot.core.clock import today
from taskpilot.core.errors import SOMETHING_WENT_WRONG
from taskpilot.services.conversations import ConversationStore
from taskpilot.services.tasks import TaskService
from taskpilot.web.states.auth import DATABASE_DOWN
from taskpilot.web.states.export import ExportState
from taskpilot.web.states.tasks import TOOL_FAILED, TaskState
from taskpilot.web.states.turn_stream import SESSION_EXPIRED
from taskpilot.web.states.undo import UndoState
from tests.support.web_states import Page, asks_browser_zone, call, redirect_to, url_replaced_with


async def send(tab: Page, text: str) -> list[Any]:
    """Submit the composer, then run the background turn to its end; its follow-up events."""
    spec = await call(tab.chat, "send", {"message": text})
    if spec is None:
        return []
    assert isinstance(spec, EventSpec) and spec.handler.fn.__name__ == "run_turn"
    args = [value._var_value for _, value in spec.args]  # type: ignore[attr-defined]
    return await call(tab.chat, "run_turn", *args)  # type: ignore[no-any-return]


# --- signing in and out ------------------------------------------------------------------------


async def test_sign_up_explains_what_is_missing_then_signs_in(tab: Page) -> None:
    auth = tab.auth
    await call(auth, "sign_up", {"email": "", "password": "x"})
    assert auth.form_error == "Enter your email address."
    await call(auth, "sign_up", {"email": "ada@example.com", "password": ""})
    assert "8 characters" in auth.form_error
    await call(auth, "sign_up", {"email": "not-an-email", "password": "correct horse"})
    assert "valid email" in auth.form_error
    await call(auth, "clear_form_error")
    events = await call(auth, "sign_up", {"email": "Ada@Example.com", "password": "correct horse"})
    assert redirect_to(events) == "/"
    assert auth.token.count(".") == 2 and auth.user_email == "ada@example.com"
    assert not auth.submitting and auth.form_error == ""
    # The same address again is refused, kindly.
    events = await call(auth, "sign_up", {"email": "ada@example.com", "password": "correct horse"})
    assert redirect_to(events) is None and "already" in auth.form_error


async def test_log_in_log_out_and_the_forms_send_signed_in_visitors_on(tab: Page) -> None:
    await tab.sign_up()
    assert redirect_to(await call(tab.auth, "redirect_if_signed_in")) == "/"
    tab.history.current_title = "Private"
    assert redirect_to(await call(tab.auth, "log_out")) == "/login"
    assert tab.auth.token == "" and tab.history.current_title == ""
    assert await call(tab.auth, "redirect_if_signed_in") is None

    await call(tab.auth, "log_in", {"email": "ada@example.com", "password": ""})
    assert tab.auth.form_error == "Enter your email address and password."
    await call(tab.auth, "log_in", {"email": "ada@example.com", "password": "wrong password"})
    assert tab.auth.form_error == "Wrong email or password." and tab.auth.token == ""
    events = await call(
        tab.auth, "log_in", {"email": "ADA@example.com", "password": "correct horse battery"}
    )
    assert redirect_to(events) == "/" and tab.auth.user_name == "Ada Lovelace"


async def test_forms_say_when_the_database_is_down(
    tab: Page, monkeypatch: pytest.MonkeyPatch
) -> None:
    tab.database_down(monkeypatch)
    await call(tab.auth, "sign_up", {"email": "ada@example.com", "password": "correct horse"})
    assert tab.auth.form_error == DATABASE_DOWN
    await call(tab.auth, "log_in", {"email": "ada@example.com", "password": "correct horse"})
    assert tab.auth.form_error == DATABASE_DOWN and not tab.auth.submitting


# --- loading the page ---------------------------------------------------------------------------


async def test_chat_routes_need_a_valid_token(tab: Page) -> None:
    assert redirect_to(await call(tab.chat, "load_page")) == "/login"
    tab.auth.token = "not-a-token"
    assert redirect_to(await call(tab.chat, "load_page")) == "/login"
    assert tab.auth.token == ""
    # A token for an account that no longer exists logs out too.
    await tab.sign_up()
    async with tab.runtime.db.session() as session:
        from taskpilot.data.models import User

        user = (await session.exec(__import__("sqlmodel").select(User))).one()
        await session.delete(user)
        await session.commit()
    assert redirect_to(await call(tab.chat, "load_page")) == "/login"


async def test_a_turn_streams_into_the_page_and_survives_a_reload(
    tab: Page, another_tab: Any
) -> None:
    user_id = await tab.sign_up()
    assert asks_browser_zone(await call(tab.chat, "load_page"))
    assert tab.chat.user_name == "Ada Lovelace" and tab.chat.greeting.endswith("Ada?")
    assert tab.chat.initials == "AL" and tab.tasks.loaded and tab.tasks.tasks == []
    tab.model.extend(
        [
            [function_call("add_task", {"title": "Buy milk", "priority": "high"}, call_id="c1")],
            [assistant_message("Added **Buy milk**.")],
        ]
    )
    tab.composer.draft = "add buy milk, high priority"
    follow_ups = await send(tab, "  add buy milk, high priority ")
    chat = tab.chat
    assert [(m.role, m.content) for m in chat.messages] == [
        ("user", "add buy milk, high priority"),
        ("assistant", "Added **Buy milk**."),
    ]
    card = chat.messages[1].tool_calls[0]
    assert (card.name, card.arguments, card.state, card.result) == (
        "add_task",
        "Buy milk · high",
        "done",
        "Added task 1 · Buy milk",
    )
    assert chat.live_status == "" and not chat.streaming and tab.composer.draft == ""
    conversation_id = chat.current_id
    # The URL names the conversation, replaced in place: no route change mid-stream.
    assert url_replaced_with(follow_ups) == f"/c/{conversation_id}"
    assert redirect_to(follow_ups) is None
    assert TaskState.load_tasks in follow_ups  # the panel refreshes after add_task
    assert any(
        isinstance(e, EventSpec) and e.handler.fn.__qualname__ == "_set_focus" for e in follow_ups
    )
    # Named after the first exchange (the task it added), in the sidebar and the header.
    assert [c.title for c in tab.history.conversations] == ["Buy milk"]
    assert tab.history.current_title == "Buy milk"
    await call(tab.tasks, "load_tasks")
    assert [t.title for t in tab.tasks.visible_tasks] == ["Buy milk"]

    # Our own move to /c/<id> while the turn runs keeps the live turn on screen.
    chat._active_turn, chat.live_status, chat.live_text = "t", "streaming", "partial"
    tab.visit(f"/c/{conversation_id}")
    await call(chat, "load_page")
    assert chat.live_text == "partial" and len(chat.messages) == 2
    chat._active_turn, chat.live_status, chat.live_text = "", "", ""

    # A second browser of the same person loads the same conversation from the database.
    other = another_tab()
    other.auth.token = tab.auth.token
    other.visit(f"/c/{conversation_id}")
    await call(other.chat, "load_page")
    assert [m.content for m in other.chat.messages] == [m.content for m in chat.messages]
    assert other.chat.messages[1].tool_calls[0].result == "Added task 1 · Buy milk"
    assert other.history.current_title == "Buy milk"
    # Someone else's (or a deleted) conversation shows nothing of it.
    other.visit("/c/doesnotexist")
    await call(other.chat, "load_page")
    assert other.chat.missing and other.chat.messages == [] and other.chat.current_id == ""
    # Writing there starts a conversation of one's own.
    tab.model.extend([[assistant_message("A fresh start.")]])
    follow_ups = await send(other, "hello")
    assert not other.chat.missing and other.chat.current_id not in ("", conversation_id)
    assert url_replaced_with(follow_ups) == f"/c/{other.chat.current_id}"
    assert user_id


async def test_load_page_says_when_the_database_is_down(
    tab: Page, monkeypatch: pytest.MonkeyPatch
) -> None:
    await tab.sign_up()
    tab.database_down(monkeypatch)
    assert await call(tab.chat, "load_page") is None
    assert tab.chat.load_error == DATABASE_DOWN


# --- sending, failing, stopping, retrying ---------------------------------------------------------


async def test_nothing_is_sent_while_streaming_or_when_empty(tab: Page) -> None:
    await tab.sign_up()
    assert await call(tab.chat, "send", {"message": "   "}) is None
    assert await call(tab.chat, "send", {"message": "x" * 5000}) is None
    tab.chat.live_status = "streaming"
    assert await call(tab.chat, "send_prompt", "hello") is None
    assert await call(tab.chat, "retry") is None
    assert tab.chat.messages == []
    call_stop = await call(tab.chat, "stop")
    assert call_stop is None and tab.chat.stopping
    tab.chat.live_status = ""
    assert await call(tab.chat, "retry") is None  # nothing to retry
    tab.auth.token = ""
    assert redirect_to(await call(tab.chat, "send_prompt", "hello")) == "/login"


async def test_a_failing_model_shows_a_readable_error_and_retry_runs_it_again(tab: Page) -> None:
    user_id = await tab.sign_up()
    await call(tab.chat, "load_page")
    tab.model.extend([RuntimeError("KeyError('choices') at line 42")])
    await send(tab, "what is still open?")
    chat = tab.chat
    assert chat.live_status == "error"
    assert "line 42" not in chat.live_error and chat.live_error.endswith("try again.")
    assert [m.content for m in chat.messages] == ["what is still open?"]
    # Retry: the same message runs again (the service resumes it by its client id).
    tab.model.extend([[assistant_message("Nothing is open.")]])
    spec = await call(chat, "retry")
    await call(chat, "run_turn", *[v._var_value for _, v in spec.args])
    assert [(m.role, m.content) for m in chat.messages] == [
        ("user", "what is still open?"),
        ("assistant", "Nothing is open."),
    ]
    async with tab.runtime.db.session() as session:
        stored = await ConversationStore(session, user_id).messages(chat.current_id)
    assert [m.content for m in stored] == ["what is still open?", "Nothing is open."]


async def test_a_failed_turn_found_on_reload_can_be_retried(tab: Page) -> None:
    await tab.sign_up()
    tab.model.extend([RuntimeError("boom")])
    await send(tab, "hello there")
    conversation_id = tab.chat.current_id
    tab.visit(f"/c/{conversation_id}")
    await call(tab.chat, "load_page")
    failed = tab.chat.messages[-1]
    assert failed.failed and tab.chat.retry_key == failed.key and tab.chat.live_status == ""
    tab.model.extend([[assistant_message("Hello!")]])
    spec = await call(tab.chat, "retry")
    assert not tab.chat.messages[-1].failed
    await call(tab.chat, "run_turn", *[v._var_value for _, v in spec.args])
    assert [m.content for m in tab.chat.messages] == ["hello there", "Hello!"]


async def test_stop_cancels_a_silent_model_and_keeps_the_message(tab: Page) -> None:
    user_id = await tab.sign_up()
    started = asyncio.Event()

    async def silent(call_: Any) -> Any:
        started.set()
        await asyncio.sleep(3600)

    tab.model.extend([ModelStep.respond(silent)])
    spec = await call(tab.chat, "send", {"message": "tell me a story"})
    async with asyncio.timeout(10), asyncio.TaskGroup() as group:
        group.create_task(call(tab.chat, "run_turn", *[v._var_value for _, v in spec.args]))
        await started.wait()
        await call(tab.chat, "stop")
    chat = tab.chat
    assert chat.live_status == "stopped" and not chat.stopping and not chat.streaming
    assert [m.content for m in chat.messages] == ["tell me a story"]
    async with tab.runtime.db.session() as session:
        stored = await ConversationStore(session, user_id).messages(chat.current_id)
    assert [(m.status, m.error) for m in stored] == [
        ("failed", "The reply was stopped before it finished.")
    ]


async def test_a_turn_left_behind_finishes_without_touching_the_page(tab: Page) -> None:
    await tab.sign_up()
    started, release = asyncio.Event(), asyncio.Event()

    async def slow(call_: Any) -> Any:
        started.set()
        await release.wait()
        return [assistant_message("Finished later.")]

    tab.model.extend(
        [
            [function_call("add_task", {"title": "Water plants"}, call_id="c1")],
            ModelStep.respond(slow),
        ]
    )
    spec = await call(tab.chat, "send", {"message": "add water plants"})
    async with asyncio.timeout(10), asyncio.TaskGroup() as group:
        turn = group.create_task(call(tab.chat, "run_turn", *[v._var_value for _, v in spec.args]))
        await started.wait()
        # The person starts a new chat meanwhile.
        tab.visit("/")
        await call(tab.chat, "load_page")
        assert tab.chat.live_status == "" and tab.chat.messages == []
        assert tab.chat.current_id == ""
        release.set()
    follow_ups = turn.result()
    assert tab.chat.messages == [] and tab.chat.live_status == ""
    assert TaskState.load_tasks in follow_ups  # the task panel still hears about the change
    focus = [e for e in follow_ups if isinstance(e, EventSpec) and "focus" in e.handler.fn.__name__]
    assert focus == []  # and the page it left is not touched when it ends


async def test_a_turn_left_then_come_back_to_ends_there_as_stored(tab: Page) -> None:
    """The person leaves a conversation while its reply runs and comes back before it ends:
    the reply shows when it is stored, without a reload."""
    await tab.sign_up()
    tab.model.extend([[assistant_message("Hi.")]])
    await send(tab, "hello")
    conversation_id = tab.chat.current_id
    started, release = asyncio.Event(), asyncio.Event()

    async def slow(call_: Any) -> Any:
        started.set()
        await release.wait()
        return [assistant_message("Finished later.")]

    tab.model.extend([ModelStep.respond(slow)])
    spec = await call(tab.chat, "send", {"message": "take your time"})
    async with asyncio.timeout(10), asyncio.TaskGroup() as group:
        turn = group.create_task(call(tab.chat, "run_turn", *[v._var_value for _, v in spec.args]))
        await started.wait()
        tab.visit("/")
        await call(tab.chat, "load_page")
        tab.visit(f"/c/{conversation_id}")
        await call(tab.chat, "load_page")
        assert [m.content for m in tab.chat.messages] == ["hello", "Hi.", "take your time"]
        release.set()
    turn.result()
    assert [m.content for m in tab.chat.messages] == [
        "hello",
        "Hi.",
        "take your time",
        "Finished later.",
    ]
    assert tab.chat.live_status == ""


async def test_turns_that_cannot_start_say_why(tab: Page, monkeypatch: pytest.MonkeyPatch) -> None:
    await tab.sign_up()
    tab.chat.current_id = "gone"  # a conversation deleted in another tab
    await send(tab, "hello")
    assert tab.chat.live_status == "error" and "not found" in tab.chat.live_error
    # A token that expired between Send and the turn.
    tab.chat.current_id = ""
    spec = await call(tab.chat, "send", {"message": "hello"})
    tab.auth.token = "expired"
    await call(tab.chat, "run_turn", *[v._var_value for _, v in spec.args])
    assert tab.chat.live_error == SESSION_EXPIRED


async def test_unexpected_failures_read_as_plain_sentences(
    tab: Page, monkeypatch: pytest.MonkeyPatch
) -> None:
    await tab.sign_up()

    async def broken(*args: Any, **kwargs: Any) -> Any:
        raise ValueError("internal detail")

    with monkeypatch.context() as patch:
        patch.setattr(tab.runtime.turns, "prepare", broken)
        await send(tab, "hello")
    assert tab.chat.live_error == SOMETHING_WENT_WRONG
    tab.database_down(monkeypatch)
    await send(tab, "hello again")
    assert tab.chat.live_error == DATABASE_DOWN


# --- the sidebar ---------------------------------------------------------------------------------


async def test_rename_and_delete_conversations(tab: Page, monkeypatch: pytest.MonkeyPatch) -> None:
    user_id = await tab.sign_up()
    async with tab.runtime.db.session() as session:
        store = ConversationStore(session, user_id)
        first = await store.create("First")
        second = await store.create("Second")
    tab.visit(f"/c/{first.id}")
    await call(tab.chat, "load_page")
    history = tab.history
    assert [c.title for c in history.conversations] == ["Second", "First"]
    assert history.conversations[0].first_in_group and history.conversations[0].group == "Today"

    await call(history, "start_rename", first.id, "First")
    assert history.rename_id == first.id and history.rename_title == "First"
    await call(history, "save_rename", {"title": "   "})
    assert history.rename_error == "A conversation title can't be empty."
    await call(history, "save_rename", {"title": " Garden  plans "})
    assert history.rename_id == "" and history.current_title == "Garden plans"
    assert [c.title for c in history.conversations] == ["Second", "Garden plans"]
    await call(history, "start_rename", second.id, "Second")
    await call(history, "set_rename_open", False)
    assert history.rename_id == ""

    await call(history, "start_delete", second.id, "Second")
    assert await call(history, "confirm_delete", second.id) is None  # not the one on screen
    assert [c.title for c in history.conversations] == ["Garden plans"]
    assert history.conversations[0].first_in_group
    await call(history, "start_delete", first.id, "Garden plans")
    await call(history, "set_delete_open", False)
    assert history.delete_id == ""
    await call(history, "start_delete", first.id, "Garden plans")
    assert redirect_to(await call(history, "confirm_delete", first.id)) == "/"  # it was on screen
    assert history.conversations == []
    # Already gone (another tab deleted it): it just leaves the list.
    await call(history, "start_delete", first.id, "Garden plans")
    assert redirect_to(await call(history, "confirm_delete", first.id)) == "/"
    # Renaming what is gone, or with the database down, says so.
    await call(history, "start_rename", first.id, "x")
    await call(history, "save_rename", {"title": "y"})
    assert history.rename_error == "That conversation no longer exists."
    tab.database_down(monkeypatch)
    await call(history, "save_rename", {"title": "y"})
    assert history.rename_error == DATABASE_DOWN
    await call(history, "start_delete", second.id, "x")
    await call(history, "confirm_delete", second.id)
    assert history.history_error == DATABASE_DOWN


async def test_a_rename_saved_as_its_dialog_is_dismissed_still_shows(
    tab: Page, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The rename is written in the background: if the dialog is dismissed (Escape) while
    the write waits, the new title still reaches the sidebar and the header."""
    user_id = await tab.sign_up()
    async with tab.runtime.db.session() as session:
        first = await ConversationStore(session, user_id).create("First")
    tab.visit(f"/c/{first.id}")
    await call(tab.chat, "load_page")
    history = tab.history
    rename = ConversationStore.rename

    async def dismissed_meanwhile(store: ConversationStore, *args: Any) -> Any:
        await call(history, "set_rename_open", False)
        return await rename(store, *args)

    monkeypatch.setattr(ConversationStore, "rename", dismissed_meanwhile)
    await call(history, "start_rename", first.id, "First")
    await call(history, "save_rename", {"title": "Garden plans"})
    assert [c.title for c in history.conversations] == ["Garden plans"]
    assert history.current_title == "Garden plans"
    assert (history.rename_id, history.rename_error) == ("", "")


async def test_search_chats_replaces_the_list_and_follows_renames_and_deletes(
    tab: Page, monkeypatch: pytest.MonkeyPatch
) -> None:
    user_id = await tab.sign_up()
    async with tab.runtime.db.session() as session:
        store = ConversationStore(session, user_id)
        garden = await store.create("Garden")
        chores = await store.create("Chores")
    history = tab.history

    await call(history, "search", "gard")
    assert history.search_query == "gard"
    [found] = history.search_results
    assert found.id == garden.id
    assert [(p.text, p.marked) for p in found.title] == [("Garden", True)]
    assert found.snippet == []

    # A rename is searched again: the new title is found, the old one no longer.
    await call(history, "start_rename", chores.id, "Chores")
    await call(history, "save_rename", {"title": "Garden tools"})
    assert [r.id for r in history.search_results] == [chores.id, garden.id]
    await call(history, "start_delete", garden.id, "Garden")
    await call(history, "confirm_delete", garden.id)
    assert [r.id for r in history.search_results] == [chores.id]

    await call(history, "search", '"NEAR * OR -')
    assert history.search_results == []
    await call(history, "search", "   ")  # Escape, or the text deleted: the list again
    assert history.search_query == "   " and history.search_results == []

    tab.database_down(monkeypatch)
    await call(history, "search", "garden")
    assert history.history_error == DATABASE_DOWN


async def test_sidebar_and_panel_handlers_need_a_valid_token(tab: Page) -> None:
    """Each signs the tab out: to the login page, with every state of the person's page
    forgotten, whichever state the handler is on (several run in the background)."""
    for state, handler, args in [
        (tab.history, "search", ["garden"]),
        (tab.history, "save_rename", [{"title": "x"}]),
        (tab.history, "confirm_delete", ["c1"]),
        (tab.tasks, "load_tasks", []),
        (tab.tasks, "complete_task", [1]),
        (tab.tasks, "delete_task", [1]),
        (tab.state(UndoState), "undo", [1, 0]),
        (tab.state(ExportState), "create_feed", []),
    ]:
        tab.auth.token = "not a token"
        tab.history.current_title = "Secret plans"
        tab.chat.current_id = "c1"
        assert redirect_to(await call(state, handler, *args)) == "/login", handler
        assert (tab.auth.token, tab.history.current_title, tab.chat.current_id) == ("", "", "")


# --- the task panel ------------------------------------------------------------------------------


async def test_task_panel_changes_go_through_the_mcp_tools(
    tab: Page, monkeypatch: pytest.MonkeyPatch
) -> None:
    user_id = await tab.sign_up()
    async with tab.runtime.db.session() as session:
        service = TaskService(session, user_id)
        await service.add("Water the plants", priority="high")
        await service.add("File taxes", tags=["home"])
    panel = tab.tasks
    await call(panel, "load_tasks")
    assert [t.task_id for t in panel.visible_tasks] == [1, 2]
    await call(panel, "complete_task", 1)
    assert [(t.task_id, t.completed) for t in panel.tasks] == [(2, False), (1, True)]
    assert panel.pending_count == 1
    assert [task.completed for task in panel.tasks] == [False, True]
    await call(panel, "set_status_filter", ["completed"])
    assert [t.task_id for t in panel.visible_tasks] == [1]
    await call(panel, "set_status_filter", "pending")
    assert [t.task_id for t in panel.visible_tasks] == [2]
    await call(panel, "set_status_filter", "bogus")
    assert panel.status_filter == "pending"
    await call(panel, "reopen_task", 1)
    await call(panel, "delete_task", 2)
    await call(panel, "set_status_filter", "all")
    assert [(t.task_id, t.completed) for t in panel.visible_tasks] == [(1, False)]
    # A task that is not there: the tool's own words, without the SDK's prefix.
    await call(panel, "delete_task", 9)
    assert panel.task_error == "Task 9 was not found in your list."
    await call(panel, "load_tasks")
    assert panel.task_error == ""

    class Unreachable:
        def connect(self, user: str) -> Any:
            raise OSError("connection refused")

    monkeypatch.setattr(tab.runtime.turns, "mcp", Unreachable())
    await call(panel, "complete_task", 1)
    assert panel.task_error == TOOL_FAILED
    tab.database_down(monkeypatch)
    await call(panel, "load_tasks")
    assert panel.task_error == DATABASE_DOWN


async def test_a_panel_change_waits_for_its_write_without_holding_up_the_tab(
    tab: Page, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Done writes outside the tab's state lock (a background handler): while its write
    waits, the tab's other events, a streaming reply's deltas among them, go on."""
    user_id = await tab.sign_up()
    async with tab.runtime.db.session() as session:
        await TaskService(session, user_id).add("Water the plants")
    panel = tab.tasks
    await call(panel, "load_tasks")
    mcp, writing, may_write = tab.runtime.turns.mcp, asyncio.Event(), asyncio.Event()
    change = mcp.change

    async def slow_write(*args: Any, **kwargs: Any) -> Any:
        writing.set()
        await may_write.wait()
        return await change(*args, **kwargs)

    monkeypatch.setattr(mcp, "change", slow_write)
    done = asyncio.create_task(call(panel, "complete_task", 1))
    await asyncio.wait_for(writing.wait(), 5)
    await asyncio.wait_for(call(panel, "set_status_filter", "pending"), 5)  # not held up
    may_write.set()
    await asyncio.wait_for(done, 5)
    assert [(t.task_id, t.completed) for t in panel.tasks] == [(1, True)]


async def test_a_panel_change_is_not_shown_once_the_tab_is_signed_in_as_someone_else(
    tab: Page, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The panel's changes wait outside the state lock (background handlers). If the tab's
    token changes meanwhile (Bob signs in, in another tab: the token is the browser's), the
    change Ada clicked is still made, but her tasks are not shown in Bob's page."""
    user_id = await tab.sign_up()
    async with tab.runtime.db.session() as session:
        await TaskService(session, user_id).add("Water the plants")
    panel = tab.tasks
    await call(panel, "load_tasks")
    mcp = tab.runtime.turns.mcp
    change = mcp.change

    async def change_while_bob_signs_in(*args: Any, **kwargs: Any) -> Any:
        await tab.sign_up("bob@example.com", "Bob")
        return await change(*args, **kwargs)

    monkeypatch.setattr(mcp, "change", change_while_bob_signs_in)
    await call(panel, "complete_task", 1)
    assert [(t.title, t.completed) for t in panel.tasks] == [("Water the plants", False)]
    async with tab.runtime.db.session() as session:
        assert (await TaskService(session, user_id).get(1)).completed


async def test_two_quick_panel_changes_show_the_newer_list_last(
    tab: Page, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Done on two tasks, the second clicked while the first one's list is still being read
    (outside the state lock): that older list, finishing last, is not shown over the newer."""
    user_id = await tab.sign_up()
    async with tab.runtime.db.session() as session:
        service = TaskService(session, user_id)
        await service.add("Water the plants")
        await service.add("File taxes")
    panel = tab.tasks
    await call(panel, "load_tasks")
    read, first_read, first_may_end = TaskState._read, asyncio.Event(), asyncio.Event()

    async def first_read_slow(user_id: str) -> Any:
        rows = await read(user_id)
        if not first_read.is_set():
            first_read.set()
            await first_may_end.wait()
        return rows

    monkeypatch.setattr(TaskState, "_read", staticmethod(first_read_slow))
    first = asyncio.create_task(call(panel, "complete_task", 1))
    await asyncio.wait_for(first_read.wait(), 5)  # read: task 1 done, task 2 not yet
    await call(panel, "complete_task", 2)
    first_may_end.set()
    await first
    assert sorted((t.task_id, t.completed) for t in panel.tasks) == [(1, True), (2, True)]


async def test_a_repeating_task_completed_in_a_stale_tab_is_not_moved_twice(tab: Page) -> None:
    """The panel completes a repeating task for the date it shows: once another tab (here,
    the service) has moved it on, this tab's press does not move it again."""
    user_id = await tab.sign_up()
    async with tab.runtime.db.session() as session:
        service = TaskService(session, user_id, today(tab.runtime.settings))
        first = (await service.add("Stretch", repeat="daily")).due_date
    assert first is not None
    panel = tab.tasks
    await call(panel, "load_tasks")
    assert [(t.repeat_label, t.due_date) for t in panel.tasks] == [("every day", first.isoformat())]
    async with tab.runtime.db.session() as session:
        await TaskService(session, user_id, first).complete(1)  # the other tab, today
    await call(panel, "complete_task", 1)
    following = (first + timedelta(days=1)).isoformat()
    assert [(t.completed, t.due_date) for t in panel.tasks] == [(False, following)]
    await call(panel, "complete_task", 1)  # now shown at its next date: done again, it moves
    assert [t.due_date for t in panel.tasks] == [(first + timedelta(days=2)).isoformat()]


async def test_layout_toggles(tab: Page) -> None:
    layout = tab.layout
    await call(layout, "toggle_history")
    await call(layout, "toggle_tasks")
    assert layout.history_toggled and layout.tasks_toggled
    await call(layout, "close_drawers", False)
    assert layout.history_toggled  # a wide screen keeps what the person chose
    await call(layout, "close_drawers", True)
    assert not layout.history_toggled and not layout.tasks_toggled


async def test_a_cancelled_page_handler_leaves_the_turn_to_the_engine(tab: Page) -> None:
    user_id = await tab.sign_up()
    started, gate = asyncio.Event(), asyncio.Event()

    async def slow(call_: Any) -> Any:
        started.set()
        await gate.wait()
        return [assistant_message("stored all the same")]

    tab.model.extend([ModelStep.respond(slow)])
    spec = await call(tab.chat, "send", {"message": "hello"})
    runner = asyncio.get_running_loop().create_task(
        call(tab.chat, "run_turn", *[v._var_value for _, v in spec.args])
    )
    await asyncio.wait_for(started.wait(), 10)
    runner.cancel()  # the page's event went away; the turn runs in the engine's task
    with pytest.raises(asyncio.CancelledError):
        await runner
    gate.set()
    await tab.runtime.turns.settle()
    async with tab.runtime.db.session() as session:
        stored = await ConversationStore(session, user_id).messages(tab.chat.current_id)
    assert [(m.content, m.status) for m in stored] == [
        ("hello", "answered"),
        ("stored all the same", "answered"),
    ]


async def test_the_composer_keeps_the_draft(tab: Page) -> None:
    await call(tab.composer, "set_draft", "half a thought")
    assert tab.composer.draft == "half a thought"


async def test_too_many_sign_in_attempts_are_refused_in_words(
    tab: Page, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tab.runtime.settings, "sign_in_attempts", 2)
    await tab.sign_up()
    tab.auth.token = ""
    wrong = {"email": "ada@example.com", "password": "wrong password"}
    await call(tab.auth, "log_in", wrong)
    await call(tab.auth, "log_in", wrong)
    assert tab.auth.form_error == "Wrong email or password."
    right = {"email": "ada@example.com", "password": "correct horse battery"}
    events = await call(tab.auth, "log_in", right)
    assert redirect_to(events) is None and tab.auth.token == ""
    assert tab.auth.form_error == "Too many sign-in attempts; try again in 5 minutes."
    assert not tab.auth.submitting


async def test_a_turn_over_the_rate_limit_says_when_to_try_again(
    tab: Page, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tab.runtime.settings, "chat_turns_per_minute", 1)
    await tab.sign_up()
    tab.model.extend([[assistant_message("first answer")]])
    await send(tab, "first")
    assert tab.chat.live_status != "error"
    await send(tab, "second")
    assert tab.chat.live_status == "error"
    assert tab.chat.live_error.startswith(
        "You've reached the limit of 1 message a minute; try again in"
    )
    # The refused message stays on the page, ready for Retry once the minute has passed.
    assert [m.content for m in tab.chat.messages if m.role == "user"] == ["first", "second"]


async def test_logging_out_ends_the_token_on_the_server(tab: Page) -> None:
    await tab.sign_up()
    token = tab.auth.token
    await call(tab.auth, "log_out")
    assert tab.auth.token == ""
    from taskpilot.core.security import verify_bearer_token
    from taskpilot.services.sign_out import ended

    async with tab.runtime.db.session() as session:
        assert await ended(session, await verify_bearer_token(tab.runtime.settings, token))
    # A tab that still holds the old token is treated as signed out.
    tab.auth.token = token
    assert await tab.auth._identity() is None


async def test_the_browser_time_zone_is_stored_for_the_person_once(
    tab: Page, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A page load asks the browser for its zone; a real, new one is stored (and the turn
    engine reads it at once); an unknown one, or the same again, writes nothing."""
    from taskpilot.data.models import User
    from taskpilot.services.users import UserService

    user_id = await tab.sign_up()
    assert asks_browser_zone(await call(tab.chat, "load_page"))
    await call(tab.auth, "remember_timezone", "Pacific/Kiritimati")

    async def stored() -> str | None:
        async with tab.runtime.db.session() as session:
            user = await session.get(User, user_id)
            assert user is not None
            await session.refresh(user)
            return user.timezone

    assert await stored() == "Pacific/Kiritimati"
    assert await tab.runtime.turns.zones.of(tab.runtime.db, user_id) == "Pacific/Kiritimati"
    writes: list[str] = []
    original = UserService.set_timezone

    async def counted(self: UserService, user: User, zone: str) -> User:
        writes.append(zone)
        return await original(self, user, zone)

    monkeypatch.setattr(UserService, "set_timezone", counted)
    await call(tab.auth, "remember_timezone", "Pacific/Kiritimati")  # the same: not stored
    await call(tab.auth, "remember_timezone", "Mars/Olympus_Mons")  # not a zone: refused
    await call(tab.auth, "remember_timezone", None)
    assert writes == ["Mars/Olympus_Mons"]
    assert await stored() == "Pacific/Kiritimati"
    # The next page load knows the stored zone, so the browser's same answer writes nothing.
    tab.auth._zone = ""
    assert asks_browser_zone(await call(tab.chat, "load_page"))
    await call(tab.auth, "remember_timezone", "Pacific/Kiritimati")
    assert writes == ["Mars/Olympus_Mons"]


async def test_the_task_panel_reads_due_dates_in_the_persons_day(
    tab: Page, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A task due on the person's today (UTC+14) shows "Due today" for them, though the
    server's zone (UTC-11, always a calendar day behind) calls it tomorrow."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from taskpilot.data.models import User

    monkeypatch.setattr(tab.runtime.settings, "timezone", "Pacific/Pago_Pago")
    user_id = await tab.sign_up()
    kiritimati = datetime.now(ZoneInfo("Pacific/Kiritimati")).date()
    async with tab.runtime.db.session() as session:
        user = await session.get(User, user_id)
        assert user is not None
        user.timezone = "Pacific/Kiritimati"
        session.add(user)
        await session.commit()
        await TaskService(session, user_id).add("Water the ferns", due_date=kiritimati)
    assert asks_browser_zone(await call(tab.chat, "load_page"))
    [task] = tab.tasks.tasks
    assert task.due_label == "Due today"


async def test_a_clicked_task_in_chatkit_is_marked_in_the_panel(tab: Page) -> None:
    user_id = await tab.sign_up()
    async with tab.runtime.db.session() as session:
        service = TaskService(session, user_id)
        await service.add("Water the plants")
        await service.complete(1)
        await service.add("File taxes")
    panel = tab.tasks
    await call(panel, "load_tasks")
    await call(panel, "set_status_filter", "pending")
    # ChatKit hands the page a task number; the panel shows it (the filter would hide it).
    follow_ups = await call(panel, "highlight", 1)
    assert panel.highlighted == 1 and panel.status_filter == "all"
    assert len(follow_ups) == 2  # scroll to it; unmark it later, unless clicked again
    first_click = panel.highlight_click
    await call(panel, "highlight", 2)
    assert panel.highlighted == 2 and panel.highlight_click == first_click + 1
    # A number that is not one of the person's tasks marks nothing.
    assert await call(panel, "highlight", 42) is None
    assert panel.highlighted == 0
