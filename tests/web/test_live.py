"""Live tabs (`web/states/live.py`): tabs of one person follow each other's turns and every
change to their tasks — the page's, the API's, an MCP client's (the official client on the
MCP server) — and another person's tab hears nothing of it. Each tab's watcher runs as the
background event Reflex would run, on the runtime's live feed."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from agents.testing import assistant_message, function_call

from taskpilot.core.config import Settings
from taskpilot.core.live import LOST
from taskpilot.services.tasks import TaskService
from taskpilot.web.states import live
from tests.support.harness import REDIS_URL, api_client, make_settings, needs_redis
from tests.support.live_tabs import Watchers, listening, until
from tests.support.mcp_client import in_process, payload
from tests.support.web_states import Page, call
from tests.web.test_states import send


@pytest.fixture(params=["memory", pytest.param("redis", marks=needs_redis)])
def settings(request: pytest.FixtureRequest, sqlite_url: str) -> Settings:
    """The tabs' runtime with the live feed in the process, or in the real Redis."""
    if request.param == "redis":
        return make_settings(sqlite_url, reflex_redis_url=REDIS_URL)
    return make_settings(sqlite_url)


@pytest.fixture(autouse=True)
def look_often(monkeypatch: pytest.MonkeyPatch) -> None:
    """Watchers look at whether they are still wanted often, so tests end them quickly."""
    monkeypatch.setattr(live, "LOOK_SECONDS", 0.1)
    monkeypatch.setattr(live, "STATE_CHECK_SECONDS", 0.1)


async def second_tab(tab: Page, another_tab: Callable[[], Page], path: str) -> Page:
    """The same person's other tab, open on `path`."""
    other = another_tab()
    other.auth.token = tab.auth.token
    other.visit(path)
    await call(other.chat, "load_page")
    return other


def gate_second_model_call(tab: Page, monkeypatch: pytest.MonkeyPatch) -> asyncio.Event:
    """The model's second reply waits for the returned gate: the turn stays running after its
    first tool call until the test lets it finish."""
    gate, calls = asyncio.Event(), 0
    stream = tab.model.stream_response

    async def gated(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 2:
            await gate.wait()
        async for event in stream(*args, **kwargs):
            yield event

    monkeypatch.setattr(tab.model, "stream_response", gated)
    return gate


async def followed_mid_turn(
    tab: Page, other: Page, monkeypatch: pytest.MonkeyPatch, reply: str
) -> tuple[asyncio.Event, asyncio.Task[Any]]:
    """`tab` sends "add buy milk": the turn adds the task, then waits at the returned gate
    before it answers `reply`; returns once `other` (watching) shows the finished tool card."""
    gate = gate_second_model_call(tab, monkeypatch)
    tab.model.extend(
        [
            [function_call("add_task", {"title": "Buy milk"}, call_id="c1")],
            [assistant_message(reply)],
        ]
    )
    turn = asyncio.create_task(send(tab, "add buy milk"))
    chat = other.chat
    await until(lambda: bool(chat.live_tools) and chat.live_tools[0].state == "done", "card")
    return gate, turn


async def test_a_turn_started_in_one_tab_streams_into_the_other_then_shows_the_stored_reply(
    tab: Page,
    another_tab: Callable[[], Page],
    watchers: Watchers,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await tab.sign_up()
    tab.model.extend([[assistant_message("Hi.")]])
    await send(tab, "hello")
    other = await second_tab(tab, another_tab, f"/c/{tab.chat.current_id}")
    elsewhere = await second_tab(tab, another_tab, "/")  # the same person, on a new chat
    for page in (tab, other, elsewhere):
        await watchers.start(page)

    gate, turn = await followed_mid_turn(tab, other, monkeypatch, "Added Buy milk.")

    # Mid-turn, the other tab shows the question, the tool card and the changed task panel,
    # and waits: its composer is disabled (its Stop is tested below).
    chat = other.chat
    assert chat.watching and chat.streaming and chat.live_status == "streaming"
    assert [m.content for m in chat.messages] == ["hello", "Hi.", "add buy milk"]
    assert chat.live_tools[0].name == "add_task"
    await until(lambda: [t.title for t in other.tasks.tasks] == ["Buy milk"], "panel")
    assert await call(chat, "send", {"message": "meanwhile"}) is None

    gate.set()
    await turn
    await until(lambda: not chat.watching, "the turn ended there")
    assert [(m.role, m.content) for m in chat.messages] == [
        (m.role, m.content) for m in tab.chat.messages
    ]
    assert chat.messages[-1].content == "Added Buy milk."
    assert chat.messages[-1].tool_calls[0].name == "add_task"
    assert chat.live_status == "" and chat.live_tools == [] and chat.live_text == ""
    # The tab that started it showed it once, as its own; the tab on a new chat only saw the
    # conversation move up its sidebar.
    assert not tab.chat.watching
    assert [m.content for m in tab.chat.messages][-2:] == ["add buy milk", "Added Buy milk."]
    assert elsewhere.chat.messages == [] and not elsewhere.chat.watching
    assert elsewhere.history.conversations[0].id == tab.chat.current_id


async def test_a_change_through_an_mcp_client_reloads_every_panel_of_the_person_only(
    tab: Page, another_tab: Callable[[], Page], watchers: Watchers
) -> None:
    ada = await tab.sign_up()
    other = await second_tab(tab, another_tab, "/")
    stranger = another_tab()
    await stranger.sign_up("bob@example.com", "Bob")
    await call(stranger.chat, "load_page")
    async with stranger.runtime.db.session() as session:
        await TaskService(session, (await stranger.auth._identity()).user_id).add("Bob's own")  # type: ignore[union-attr]
    for page in (tab, other, stranger):
        await watchers.start(page)

    async with in_process(tab.runtime, ada) as mcp:
        added = payload(await mcp.call_tool("add_task", {"title": "Water the ferns"}))
        assert added["status"] == "created"
        for page in (tab, other):
            await until(
                lambda page=page: [t.title for t in page.tasks.tasks] == ["Water the ferns"],
                "the panel",
            )
        await mcp.call_tool("complete_task", {"task_id": added["task_id"]})
        await until(lambda: other.tasks.tasks[0].completed, "completed there")
        # Reading changes nothing: no news.
        await mcp.call_tool("list_tasks", {})

    # Bob's panel was not read again (it would show his task, added after it loaded).
    await asyncio.sleep(0.3)
    assert stranger.tasks.tasks == []


async def test_a_tab_that_signed_out_stops_watching(tab: Page) -> None:
    await tab.sign_up()
    await call(tab.chat, "load_page")
    watchers = Watchers()
    await watchers.start(tab)
    token = tab.auth.token
    await call(tab.auth, "log_out")
    await asyncio.wait_for(watchers.running[0][1], 5)
    tab.auth.token = token  # only to ask who listens for that person: nobody now
    assert await listening(tab) == 0
    # A tab nobody is signed in on does not watch at all.
    tab.auth.token = ""
    await call(tab.live, "watch")
    assert tab.live._watch_key == ""


async def test_a_watcher_ends_when_someone_else_signs_in_on_its_tab(
    tab: Page, another_tab: Callable[[], Page], watchers: Watchers
) -> None:
    """The token is shared by the browser's tabs: Bob signing in in one of them, without a
    reload here, must not leave this tab following Ada's news."""
    await tab.sign_up()
    await call(tab.chat, "load_page")
    await watchers.start(tab)
    bob = another_tab()
    await bob.sign_up("bob@example.com", "Bob")
    tab.auth.token = bob.auth.token
    await asyncio.wait_for(watchers.running[0][1], 5)


async def test_news_after_someone_else_signed_in_on_the_tab_is_never_shown_there(
    tab: Page, another_tab: Callable[[], Page], watchers: Watchers, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Between two sign-in checks (half a minute), news for the person who was signed in
    must not reach the page of the one signed in now."""
    monkeypatch.setattr(live, "STATE_CHECK_SECONDS", 3600)
    ada = await tab.sign_up()
    await call(tab.chat, "load_page")
    await watchers.start(tab)
    bob = another_tab()
    await bob.sign_up("bob@example.com", "Bob")
    tab.auth.token = bob.auth.token  # Bob signs in in another tab of the browser
    async with in_process(tab.runtime, ada) as mcp:
        await mcp.call_tool("add_task", {"title": "Ada's own"})
    await asyncio.wait_for(watchers.running[0][1], 5)
    assert tab.tasks.tasks == []


async def test_a_watcher_ends_once_its_tab_has_been_closed_a_while(
    tab: Page, monkeypatch: pytest.MonkeyPatch
) -> None:
    await tab.sign_up()
    watchers = Watchers()
    await watchers.start(tab)
    open_tabs: set[str] = set()

    async def connected(client_token: str) -> bool:
        return client_token in open_tabs

    monkeypatch.setattr(live, "tab_connected", connected)
    monkeypatch.setattr(live, "TAB_GONE_SECONDS", 0.3)
    await asyncio.wait_for(watchers.running[0][1], 5)
    assert await listening(tab) == 0


async def test_news_missed_reads_the_panel_and_the_conversation_again(
    tab: Page, another_tab: Callable[[], Page], watchers: Watchers
) -> None:
    ada = await tab.sign_up()
    tab.model.extend([[assistant_message("Hi.")]])
    await send(tab, "hello")
    other = await second_tab(tab, another_tab, f"/c/{tab.chat.current_id}")
    # Changes whose news the other tab missed (a full queue, Redis away) …
    async with tab.runtime.db.session() as session:
        await TaskService(session, ada).add("Buy milk")
    tab.model.extend([[assistant_message("Still here.")]])
    await send(tab, "are you there?")
    await watchers.start(other)
    assert len(other.chat.messages) == 2 and other.tasks.tasks == []
    tab.runtime.live.publish(ada, {"kind": "turn", "event": "not a turn"})  # ignored
    tab.runtime.live.publish(ada, LOST)
    # … are read from the database once the feed says some news was lost.
    await until(lambda: [t.title for t in other.tasks.tasks] == ["Buy milk"], "panel")
    await until(lambda: len(other.chat.messages) == 4, "conversation")
    assert other.chat.messages[-1].content == "Still here." and not other.chat.watching


async def test_on_the_chatkit_page_only_the_task_panel_and_the_sidebar_follow(
    tab: Page, another_tab: Callable[[], Page], watchers: Watchers
) -> None:
    await tab.sign_up()
    tab.model.extend([[assistant_message("Hi.")]])
    await send(tab, "hello")
    # The same tab showed this conversation before it went to /chatkit.
    kit = await second_tab(tab, another_tab, f"/c/{tab.chat.current_id}")
    kit.visit("/chatkit")
    await call(kit.chatkit, "load_page")
    await watchers.start(kit, conversations=False)
    tab.model.extend(
        [
            [function_call("add_task", {"title": "Buy milk"}, call_id="c1")],
            [assistant_message("Added.")],
        ]
    )
    await send(tab, "add buy milk")
    await until(lambda: [t.title for t in kit.tasks.tasks] == ["Buy milk"], "panel")
    await asyncio.sleep(0.2)
    assert len(kit.chat.messages) == 2 and not kit.chat.watching


async def test_a_turn_through_the_api_shows_in_the_open_tab(tab: Page, watchers: Watchers) -> None:
    ada = await tab.sign_up()
    tab.model.extend([[assistant_message("Hi.")]])
    await send(tab, "hello")
    await watchers.start(tab)
    tab.model.extend([[assistant_message("Two open tasks.")]])
    async with api_client(tab.runtime) as http:
        answered = await http.post(
            f"/api/{ada}/chat",
            json={"conversation_id": tab.chat.current_id, "message": "what is open?"},
            headers={"Authorization": f"Bearer {tab.auth.token}"},
        )
    assert answered.status_code == 200, answered.text
    await until(lambda: tab.chat.messages[-1].content == "Two open tasks.", "the reply")
    assert [m.content for m in tab.chat.messages] == [
        "hello",
        "Hi.",
        "what is open?",
        "Two open tasks.",
    ]
    assert not tab.chat.watching


async def test_a_followed_turn_whose_end_never_arrives_is_read_again_once_quiet(
    tab: Page,
    another_tab: Callable[[], Page],
    watchers: Watchers,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """News is best-effort: when a followed turn's end is lost (its worker died, Redis dropped
    the batch), the watching tab reads the conversation again once the turn has been quiet,
    keeps following while the question still runs, and shows the stored reply after."""
    monkeypatch.setattr(live, "QUIET_SECONDS", 0.3)
    await tab.sign_up()
    tab.model.extend([[assistant_message("Hi.")]])
    await send(tab, "hello")
    other = await second_tab(tab, another_tab, f"/c/{tab.chat.current_id}")
    await watchers.start(other)
    feed, told = tab.runtime.live, tab.runtime.live.publish

    def losing_the_end(user_id: str, message: dict[str, Any]) -> None:
        event = message.get("event")
        if message.get("kind") == "turn" and (event is None or event.get("type") == "done"):
            return  # the turn's end (`done`, then `event: null`) never arrives
        told(user_id, message)

    monkeypatch.setattr(feed, "publish", losing_the_end)
    gate, turn = await followed_mid_turn(tab, other, monkeypatch, "Added Buy milk.")
    chat = other.chat
    await asyncio.sleep(1)  # quiet for longer than QUIET_SECONDS, but still running: followed
    assert chat.watching and chat.messages[-1].content == "add buy milk"

    gate.set()
    await turn
    await until(lambda: not chat.watching, "no longer followed")
    assert chat.messages[-1].content == "Added Buy milk." and chat.live_status == ""
    assert not chat.streaming  # Stop, Edit and the composer work again in that tab


async def test_a_watcher_leaves_its_own_turns_news_without_taking_the_page_state(
    tab: Page, watchers: Watchers, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A tab streams its own turn; its watcher drops that turn's news before the state lock
    (over Redis, each taking loads and saves the whole state), and an idle one takes it only
    every STATE_CHECK_SECONDS."""
    await tab.sign_up()
    await watchers.start(tab)
    monkeypatch.setattr(live, "STATE_CHECK_SECONDS", 3600)
    taken = 0
    enter = live.LiveState.__aenter__

    async def counted(self: live.LiveState) -> live.LiveState:
        nonlocal taken
        taken += 1
        return await enter(self)

    monkeypatch.setattr(live.LiveState, "__aenter__", counted)
    await asyncio.sleep(0.3)  # the watcher looked at its tab, and took nothing
    tab.model.extend([[assistant_message("One. Two. Three. Four. Five.")]])
    await send(tab, "count to five")
    assert tab.chat.messages[-1].content == "One. Two. Three. Four. Five."
    await asyncio.sleep(0.3)
    assert taken == 0
    monkeypatch.setattr(live, "STATE_CHECK_SECONDS", 0.1)  # so that the test can end it


async def test_stop_in_a_tab_following_a_turn_stops_it_where_it_runs(
    tab: Page,
    another_tab: Callable[[], Page],
    watchers: Watchers,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Stop pressed in a tab that follows another tab's reply reaches the worker running it
    (on the live feed): the turn stops there, as it would with that tab's own Stop, and
    both tabs show it stopped. (A Stop never reaching a later reply: test_api_stop.py.)"""
    await tab.sign_up()
    tab.model.extend([[assistant_message("Hi.")]])
    await send(tab, "hello")
    other = await second_tab(tab, another_tab, f"/c/{tab.chat.current_id}")
    await watchers.start(other)
    gate, turn = await followed_mid_turn(tab, other, monkeypatch, "never said")
    chat = other.chat
    assert chat.watching

    await call(chat, "stop")
    assert chat.stopping
    await asyncio.wait_for(turn, 10)  # stopped where it ran: the gate never opened
    assert tab.chat.live_status == "stopped"
    await until(lambda: not chat.watching, "the stop arrived here too")
    question = chat.messages[-1]
    assert question.content == "add buy milk" and question.failed
    assert [t.title for t in other.tasks.tasks] == ["Buy milk"]  # what ran stays done
    gate.set()
