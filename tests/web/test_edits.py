"""Edit and re-answer on the page, through the page's own handlers and a real runtime: Edit
message opens the editor with the text, Save answers the new version below it, ‹ 1 / 2 ›
shows the earlier version's branch read-only and back, and a refused edit puts the
conversation back as it was, saying why."""

from __future__ import annotations

from typing import Any

import pytest
from agents.testing import assistant_message

from taskpilot.agent.engine.preparing import EDIT_MOVED_ON, EDIT_REPLACED, EDIT_WHILE_BUSY
from taskpilot.core.errors import TaskPilotError
from taskpilot.services.conversations import ConversationStore
from taskpilot.web.states.edits import EDITOR_ID, EditState
from taskpilot.web.states.turn_stream import STREAMING
from tests.support.web_states import Page, call


async def said(tab: Page, text: str, reply: str) -> None:
    tab.model.extend([[assistant_message(reply)]])
    spec = await call(tab.chat, "send", {"message": text})
    await call(tab.chat, "run_turn", *[value._var_value for _, value in spec.args])


async def edited(tab: Page, key: str, text: str, reply: str | None) -> Any:
    """Edit message `key` to `text` and save it, the new version answered with `reply`
    (None: the edit is to be refused, and the model is not asked)."""
    edits = tab.state(EditState)
    await call(edits, "start", key)
    if reply is not None:
        tab.model.extend([[assistant_message(reply)]])
    spec = await call(edits, "save", {"message": text})
    if spec is None:
        return None
    assert tab.chat.live_status == STREAMING
    return await call(tab.chat, "run_edit", *[value._var_value for _, value in spec.args])


def contents(tab: Page) -> list[str]:
    return [message.content for message in tab.chat.messages]


async def test_an_edit_is_answered_and_the_earlier_version_can_be_looked_at(tab: Page) -> None:
    await tab.sign_up()
    await call(tab.chat, "load_page")
    await said(tab, "remember milk", "Noted: milk.")
    await said(tab, "what did I mention?", "You mentioned milk.")
    first = tab.chat.messages[0]
    edits = tab.state(EditState)

    focus = await call(edits, "start", first.key)
    assert (edits.editing, edits.draft) == (first.key, "remember milk")
    assert EDITOR_ID.replace("-", "_") in str(focus)  # Reflex's ref of the element
    await call(edits, "cancel")
    assert edits.editing == "" and contents(tab)[0] == "remember milk"
    await call(edits, "start", first.key)
    assert await call(edits, "save", {"message": " remember milk "}) is None  # unchanged
    assert edits.editing == "" and not tab.chat.live_status
    await call(edits, "start", first.key)
    assert await call(edits, "save", {"message": "  "}) is None  # blank: stays open
    assert edits.editing == first.key

    await edited(tab, first.key, "remember bread", "Noted: bread.")
    assert contents(tab) == ["remember bread", "Noted: bread."]
    question = tab.chat.messages[0]
    assert (question.version, question.versions) == (2, 2)
    assert question.version_ids == [first.id, question.id]

    await call(tab.state(EditState), "show_version", question.key, 1)
    assert contents(tab) == [
        "remember milk",
        "Noted: milk.",
        "what did I mention?",
        "You mentioned milk.",
    ]
    assert all(message.replaced for message in tab.chat.messages)
    assert (tab.chat.messages[0].version, tab.chat.messages[0].versions) == (1, 2)
    assert await call(edits, "start", tab.chat.messages[0].key) is None  # read-only
    assert edits.editing == ""

    await call(edits, "show_version", tab.chat.messages[0].key, 2)
    assert contents(tab) == ["remember bread", "Noted: bread."]

    # Sending while an earlier version is shown sends into the current branch.
    await call(edits, "show_version", question.key, 1)
    await said(tab, "what did I mention?", "You mentioned bread.")
    assert contents(tab) == [
        "remember bread",
        "Noted: bread.",
        "what did I mention?",
        "You mentioned bread.",
    ]
    tab.visit(f"/c/{tab.chat.current_id}")
    await call(tab.chat, "load_page")  # a reload shows the same
    assert contents(tab)[0] == "remember bread" and tab.chat.messages[0].versions == 2


async def test_an_edit_of_a_conversation_that_moved_on_shows_it_as_it_is_now(
    tab: Page,
) -> None:
    """The page was behind — the question was edited elsewhere, or the conversation went on
    in another tab or through the API — so the edit is refused (it would replace what the
    person has not seen), and the page shows the conversation as stored, saying why."""
    user_id = await tab.sign_up()
    await call(tab.chat, "load_page")
    await said(tab, "remember milk", "Noted: milk.")
    shown = list(tab.chat.messages)
    engine = tab.runtime.turns
    tab.model.extend([[assistant_message("Noted: jam.")]])
    turn = await engine.prepare_edit(user_id, tab.chat.current_id, shown[0].id, "remember jam")
    await engine.start(turn).wait()

    await edited(tab, shown[0].key, "remember bread", None)
    assert contents(tab) == ["remember jam", "Noted: jam."]
    assert tab.chat.notice == EDIT_REPLACED and tab.chat.live_error == ""

    # Meanwhile another tab sends a message after the one this tab edits.
    tab.model.extend([[assistant_message("Noted: eggs.")]])
    turn = await engine.prepare(user_id, tab.chat.current_id, "remember eggs")
    await engine.start(turn).wait()
    await edited(tab, tab.chat.messages[0].key, "remember oats", None)
    assert contents(tab) == ["remember jam", "Noted: jam.", "remember eggs", "Noted: eggs."]
    assert tab.chat.notice == EDIT_MOVED_ON

    # Having seen it all now, the edit goes through.
    await edited(tab, tab.chat.messages[0].key, "remember oats", "Noted: oats.")
    assert contents(tab) == ["remember oats", "Noted: oats."]


async def test_a_refused_edit_puts_the_conversation_back_and_says_why(tab: Page) -> None:
    user_id = await tab.sign_up()
    await call(tab.chat, "load_page")
    await said(tab, "remember milk", "Noted: milk.")
    shown = list(tab.chat.messages)
    # A turn of the conversation runs elsewhere (it waits for the test).
    engine = tab.runtime.turns
    held = await engine.prepare(user_id, tab.chat.current_id, "remember eggs")

    await edited(tab, shown[0].key, "remember bread", None)
    assert tab.chat.messages == shown
    assert tab.chat.live_error == EDIT_WHILE_BUSY
    await engine.abandon(held)


async def test_retry_after_a_failed_edit_runs_that_version_again(tab: Page) -> None:
    """An edit whose answer failed is retried as that version — not sent as a new message —
    whether Retry is pressed at once or after a reload."""
    user_id = await tab.sign_up()
    await call(tab.chat, "load_page")
    await said(tab, "remember milk", "Noted: milk.")
    question = tab.chat.messages[0]
    tab.model.extend([RuntimeError("boom")])
    await edited(tab, question.key, "remember bread", None)
    assert tab.chat.live_status == "error"

    tab.model.extend([RuntimeError("boom again")])
    spec = await call(tab.chat, "retry")
    await call(tab.chat, "run_retry", *[value._var_value for _, value in spec.args])
    assert tab.chat.live_status == "error"

    tab.visit(f"/c/{tab.chat.current_id}")  # a reload: the failed version, with Retry
    await call(tab.chat, "load_page")
    failed = tab.chat.messages[-1]
    assert failed.failed and tab.chat.retry_key == failed.key
    tab.model.extend([[assistant_message("Noted: bread.")]])
    spec = await call(tab.chat, "retry")
    await call(tab.chat, "run_retry", *[value._var_value for _, value in spec.args])
    assert contents(tab) == ["remember bread", "Noted: bread."]
    assert (tab.chat.messages[0].version, tab.chat.messages[0].versions) == (2, 2)
    async with tab.runtime.db.session() as session:
        stored = await ConversationStore(session, user_id).messages(tab.chat.current_id)
    assert [m.content for m in stored] == ["remember bread", "Noted: bread."]


async def test_retry_after_a_refused_edit_makes_the_edit_again(tab: Page) -> None:
    """An edit refused before anything was stored (here the person's limit of turns at
    once, held by other tabs) is made again by Retry."""
    user_id = await tab.sign_up()
    await call(tab.chat, "load_page")
    await said(tab, "remember milk", "Noted: milk.")
    shown = list(tab.chat.messages)
    held = []
    with pytest.raises(TaskPilotError):
        while True:
            held.append(await tab.runtime.turns.admit(user_id))
    await edited(tab, shown[0].key, "remember bread", None)
    assert tab.chat.live_status == "error" and tab.chat.messages == shown
    for slot in held:
        await slot.release()

    tab.model.extend([[assistant_message("Noted: bread.")]])
    spec = await call(tab.chat, "retry")
    await call(tab.chat, "run_edit", *[value._var_value for _, value in spec.args])
    assert contents(tab) == ["remember bread", "Noted: bread."]


async def test_retry_after_a_refused_edit_never_runs_another_question(tab: Page) -> None:
    """The conversation ends with a question that failed; an edit of an earlier one is
    refused; Retry makes the edit again — it does not run the failed question."""
    user_id = await tab.sign_up()
    await call(tab.chat, "load_page")
    await said(tab, "remember milk", "Noted: milk.")
    tab.model.extend([RuntimeError("boom")])
    spec = await call(tab.chat, "send", {"message": "add call the bank"})
    await call(tab.chat, "run_turn", *[value._var_value for _, value in spec.args])
    assert tab.chat.live_status == "error"
    await tab.runtime.turns.settle()  # its slot given back
    shown = list(tab.chat.messages)
    held = []
    with pytest.raises(TaskPilotError):
        while True:
            held.append(await tab.runtime.turns.admit(user_id))
    await edited(tab, shown[0].key, "remember bread", None)
    assert tab.chat.live_status == "error"
    for slot in held:
        await slot.release()

    tab.model.extend([[assistant_message("Noted: bread.")]])
    spec = await call(tab.chat, "retry")
    assert spec.handler.fn.__name__ == "run_edit"
    await call(tab.chat, "run_edit", *[value._var_value for _, value in spec.args])
    assert contents(tab) == ["remember bread", "Noted: bread."]
