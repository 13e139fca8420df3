"""A tool card's Undo on the page, through the page's own handlers, the real MCP tools and
both databases: it takes back exactly that change, the card reads "Undone" (kept with the
reply, so a reload shows it), a refused undo says why, and two Undos at once reverse once."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from agents.testing import assistant_message, function_call

from taskpilot.core.config import Settings
from taskpilot.data.models import Message, ToolCall
from taskpilot.services.tasks import TaskError, TaskQuery, TaskService
from taskpilot.services.undo_marks import UndoInProgress, claim
from taskpilot.web.states.tasks import TaskState
from taskpilot.web.states.undo import UndoState
from taskpilot.web.view_models import ToolCardView
from tests.support.harness import make_settings
from tests.support.web_states import Page, call


@pytest.fixture
def settings(database_url: str) -> Settings:
    """Both databases: an Undo claims its call with one conditional UPDATE."""
    return make_settings(database_url)


async def said(tab: Page, text: str, *steps: list[Any]) -> ToolCardView:
    """Send `text` answered by the scripted `steps`; the reply's first tool card."""
    tab.model.extend([*steps, [assistant_message("Done.")]])
    spec = await call(tab.chat, "send", {"message": text})
    await call(tab.chat, "run_turn", *[value._var_value for _, value in spec.args])
    return tab.chat.messages[-1].tool_calls[0]


async def undo(tab: Page, card: ToolCardView) -> Any:
    return await call(tab.state(UndoState), "undo", card.message_id, card.index)


async def titles(tab: Page, user_id: str) -> dict[int, str]:
    async with tab.runtime.db.session() as session:
        tasks = await TaskService(session, user_id).find(TaskQuery())
    return {task.number: task.title for task in tasks}


async def stored_calls(tab: Page, message_id: int) -> list[ToolCall]:
    async with tab.runtime.db.session() as session:
        row = await session.get(Message, message_id)
    assert row is not None
    return ToolCall.stored(row.tool_calls)


async def test_undo_takes_an_add_back_and_the_card_stays_undone(tab: Page) -> None:
    user_id = await tab.sign_up()
    await call(tab.chat, "load_page")
    card = await said(
        tab, "add buy milk", [function_call("add_task", {"title": "Buy milk"}, call_id="c1")]
    )
    assert card.message_id == tab.chat.messages[-1].id and card.index == 0
    assert not card.undone and card.state == "done"
    listing = await said(tab, "what's open?", [function_call("list_tasks", {}, call_id="c2")])
    assert listing.message_id == 0  # nothing to undo

    follow_up = await undo(tab, card)
    assert follow_up == TaskState.load_tasks
    assert await titles(tab, user_id) == {}
    [shown] = tab.chat.messages[1].tool_calls
    assert shown.undone and shown.undo_refused == ""
    assert [c.undone for c in await stored_calls(tab, card.message_id)] == [True]

    tab.visit(f"/c/{tab.chat.current_id}")
    await call(tab.chat, "load_page")  # a reload
    assert tab.chat.messages[1].tool_calls[0].undone
    assert await undo(tab, card) == TaskState.load_tasks  # again: nothing more happens
    assert tab.chat.messages[1].tool_calls[0].undone


async def test_a_refused_undo_says_why_and_can_be_tried_again(tab: Page) -> None:
    user_id = await tab.sign_up()
    await call(tab.chat, "load_page")
    card = await said(
        tab,
        "rename",
        [function_call("update_task", {"task_id": 1, "title": "Oat milk"}, call_id="c3")],
    )
    assert card.state == "error" and card.message_id == 0  # no task 1: nothing to undo
    async with tab.runtime.db.session() as session:
        await TaskService(session, user_id).add("Buy milk")
    card = await said(
        tab,
        "rename",
        [function_call("update_task", {"task_id": 1, "title": "Oat milk"}, call_id="c4")],
    )
    async with tab.runtime.db.session() as session:
        await TaskService(session, user_id).update(1, priority="high")
        await TaskService(session, user_id).update(1, title="Soy milk")

    assert await undo(tab, card) is None
    shown = tab.chat.messages[-1].tool_calls[0]
    assert not shown.undone and shown.undo_refused == "Task 1 changed since, so I left it as it is."
    assert [c.undone for c in await stored_calls(tab, card.message_id)] == [False]

    async with tab.runtime.db.session() as session:
        await TaskService(session, user_id).update(1, title="Oat milk")  # as the change left it
    assert await undo(tab, card) == TaskState.load_tasks
    shown = tab.chat.messages[-1].tool_calls[0]
    assert shown.undone and shown.undo_refused == ""
    assert await titles(tab, user_id) == {1: "Buy milk"}


async def test_two_undos_at_once_reverse_the_change_once(
    tab: Page, another_tab: Callable[[], Page]
) -> None:
    user_id = await tab.sign_up()
    await call(tab.chat, "load_page")
    await said(tab, "add", [function_call("add_task", {"title": "Buy milk"}, call_id="c5")])
    card = await said(tab, "done", [function_call("complete_task", {"task_id": 1}, call_id="c6")])
    other = another_tab()
    other.auth.token = tab.auth.token
    other.visit(f"/c/{tab.chat.current_id}")
    await call(other.chat, "load_page")

    results = await asyncio.gather(undo(tab, card), undo(other, card))
    assert results == [TaskState.load_tasks, TaskState.load_tasks]
    for page in (tab, other):
        assert page.chat.messages[-1].tool_calls[0].undone
    async with tab.runtime.db.session() as session:
        [task] = await TaskService(session, user_id).find(TaskQuery())
    assert not task.completed


async def test_a_call_is_claimed_once_however_many_ask_at_once(tab: Page) -> None:
    user_id = await tab.sign_up()
    await call(tab.chat, "load_page")
    card = await said(tab, "add", [function_call("add_task", {"title": "Buy milk"}, call_id="c7")])

    both_read = asyncio.Barrier(2)

    class ReadTogether:
        """A session whose first statement (the claim's read) waits for the other claim's:
        both read the call as not undone before either writes."""

        def __init__(self, session: Any) -> None:
            self.session, self.reads = session, 0

        async def execute(self, statement: Any) -> Any:
            result = await self.session.execute(statement)
            self.reads += 1
            if self.reads == 1:
                await both_read.wait()
            return result

        async def commit(self) -> None:
            await self.session.commit()

    async def one() -> str:
        try:
            async with tab.runtime.db.session() as session:
                await claim(ReadTogether(session), user_id, card.message_id, card.index)  # type: ignore[arg-type]
        except UndoInProgress:
            return "under way"
        return "claimed"

    outcomes = await asyncio.gather(one(), one())
    assert sorted(outcomes) == ["claimed", "under way"]
    other = await tab.sign_up("eve@example.com")
    async with tab.runtime.db.session() as session:
        with pytest.raises(TaskError, match="can't be undone"):
            await claim(session, other, card.message_id, card.index)  # not Eve's reply
        with pytest.raises(TaskError, match="can't be undone"):
            await claim(session, user_id, card.message_id, 5)


async def test_a_claim_whose_worker_died_expires_and_its_late_outcome_changes_nothing(
    tab: Page, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An Undo claimed and never finished (its worker died) holds the call for CLAIM_SECONDS:
    an Undo meanwhile says it is under way; after it, one takes the claim and undoes the
    change; and the dead claim's outcome, arriving late, leaves the newer claim's alone."""
    from taskpilot.agent import undo_calls
    from taskpilot.services import undo_marks

    user_id = await tab.sign_up()
    await call(tab.chat, "load_page")
    card = await said(tab, "add", [function_call("add_task", {"title": "Buy milk"}, call_id="c9")])
    async with tab.runtime.db.session() as session:
        _, dead = await claim(session, user_id, card.message_id, card.index)
    monkeypatch.setattr(undo_calls, "WAIT_AT_MOST_SECONDS", 0.3)
    await undo(tab, card)
    shown = tab.chat.messages[-1].tool_calls[0]
    assert not shown.undone
    assert shown.undo_refused.startswith("That change is being undone elsewhere")
    assert await titles(tab, user_id) == {1: "Buy milk"}

    monkeypatch.setattr(undo_marks, "CLAIM_SECONDS", 0.0)  # the dead claim has run out
    async with tab.runtime.db.session() as session:
        _, newer = await claim(session, user_id, card.message_id, card.index)
        await undo_marks.release(session, user_id, card.message_id, card.index, dead)  # late
    [held] = await stored_calls(tab, card.message_id)
    assert held.undoing is not None and held.undoing.timestamp() == newer.timestamp()
    async with tab.runtime.db.session() as session:
        await undo_marks.release(session, user_id, card.message_id, card.index, newer)
    await undo(tab, card)
    assert tab.chat.messages[-1].tool_calls[0].undone
    assert await titles(tab, user_id) == {}
