"""A decision whose worker was lost (issue 15's approvals, read back): once the lease runs
out, the question reads failed, and no reader — the API's listing, the page's view of it —
shows the call that never ran as still waiting for approval. A retry asks again."""

from __future__ import annotations

import asyncio
from typing import Any

from taskpilot.core.config import Settings
from taskpilot.runtime import Runtime
from taskpilot.services.public import MessageOut
from taskpilot.web.view_models import message_view
from tests.support.approvals import Person, assert_waits_for_task_1, stored_tasks, two_tasks
from tests.support.harness import api_client, make_settings


async def test_a_call_whose_decision_was_lost_is_not_shown_waiting(
    database_url: str, running: Any
) -> None:
    settings: Settings = make_settings(database_url, turn_lease_seconds=2)
    runtime = await running(Runtime(settings))
    async with api_client(runtime) as http:
        ada = await Person.sign_up(http)
        await two_tasks(ada)
        asked = assert_waits_for_task_1(await ada.say("delete task 1"), ada)
        question_id = asked["message_id"]
        # Approved, claimed by a worker that died before running the delete.
        lost = await runtime.turns.prepare_decision(
            ada.id, ada.conversation_id or "", asked["call_id"], True
        )
        assert lost.slot is not None
        await lost.slot.release()
        await asyncio.sleep(settings.turn_lease_seconds + 0.5)

        question = next(m for m in await ada.messages() if m["id"] == question_id)
        assert question["status"] == "failed"
        assert all(call.get("approval") != "pending" for call in question["tool_calls"])
        view = message_view(MessageOut.model_validate(question))
        assert view.failed and not view.awaiting
        assert all(card.approval != "pending" for card in view.tool_calls)
        assert await stored_tasks(runtime, ada.id) == {1: "Buy milk", 2: "Call mom"}
