"""Undo in words through the HTTP API with the offline model: "undo that" takes back the
conversation's last change through `undo_change` (a deleted task comes back with its number),
"undo" again goes one change further back, and a change undone on the page is skipped."""

from __future__ import annotations

import sqlalchemy as sa

from taskpilot.data.models import Message
from taskpilot.runtime import Runtime
from tests.support.approvals import Person, stored_tasks, two_tasks, waiting_delete
from tests.support.harness import api_client


async def test_undo_that_brings_a_deleted_task_back_with_its_number(
    offline_runtime: Runtime,
) -> None:
    async with api_client(offline_runtime) as http:
        ada, pending = await waiting_delete(http)
        await ada.decided(pending["decide"], approve=True)
        assert await stored_tasks(offline_runtime, ada.id) == {2: "Call mom"}

        answer = await ada.say("undo that")
        assert answer["response"] == "Undone: task 1 **Buy milk** is back."
        [call] = answer["tool_calls"]
        assert call["name"] == "undo_change" and call["result"]["undid"] == "deleted"
        assert call["arguments"]["change"]["status"] == "deleted"
        assert await stored_tasks(offline_runtime, ada.id) == {1: "Buy milk", 2: "Call mom"}

        # Again: the change before the delete, the add of task 2.
        again = await ada.say("undo the last change")
        assert again["response"] == "Undone: task 2 **Call mom** is removed again."
        assert await stored_tasks(offline_runtime, ada.id) == {1: "Buy milk"}
        # Further: the add of task 1, changed since (deleted and brought back): refused.
        refused = await ada.say("put it back")
        assert refused["response"].startswith("I couldn't do that: Task 1 changed since")
        assert await stored_tasks(offline_runtime, ada.id) == {1: "Buy milk"}


async def test_a_change_undone_on_the_page_is_not_undone_again_in_words(
    offline_runtime: Runtime,
) -> None:
    async with api_client(offline_runtime) as http:
        ada = await Person.sign_up(http)
        await two_tasks(ada)
        reply = (await ada.messages())[-1]
        # What the page's Undo leaves: the call marked undone (its change taken back).
        async with offline_runtime.db.session() as session:
            calls = [{**reply["tool_calls"][0], "undone": True}]
            await session.execute(
                sa.update(Message).where(Message.id == reply["id"]).values(tool_calls=calls)  # type: ignore[arg-type]
            )
            await session.commit()
        answer = await ada.say("undo")
        assert answer["response"] == "Undone: task 1 **Buy milk** is removed again."
        nothing = await ada.say("undo")
        assert nothing["response"].startswith("There's no change to your tasks")
