"""Review of approvals: a turn's life under awkward timing (a worker lost while resuming, a
shutdown between a decision and its run, a decision racing a new message), what a retry of
such a turn shows the model, and what reaches the logs.

Real API app, turn engine, MCP tools and databases; the offline model or the OpenAI stand-in.
"""

from __future__ import annotations

import asyncio
from typing import Any

from taskpilot.runtime import Runtime
from tests.api.test_api_approvals import (
    Person,
    alternates,
    assert_waits_for_task_1,
    stored_tasks,
    two_tasks,
)
from tests.support.harness import api_client, make_settings
from tests.support.openai_standin import OpenAIStandIn, reply, tool_call
from tests.support.providers import provider_settings


def no_call_waits_outside_a_paused_question(messages: list[dict[str, Any]]) -> None:
    for message in messages:
        if message["status"] != "awaiting":
            assert all(c["approval"] != "pending" for c in message["tool_calls"]), message


async def test_a_decision_whose_worker_is_lost_is_asked_again_when_the_question_is_retried(
    settings: Any, running: Any
) -> None:
    """A decision claimed by a worker that dies before the approved delete runs: once its
    lease is out, the question reads failed. Sending it again asks again; the model is not
    shown the delete as if it had run (it answered "I couldn't do that: null", and its reply
    was stored with a call still 'pending')."""
    runtime = await running(Runtime(make_settings(settings.database_url, turn_lease_seconds=2)))
    async with api_client(runtime) as http:
        ada = await Person.sign_up(http)
        await two_tasks(ada)
        pending = assert_waits_for_task_1(
            await ada.say("delete task 1", client_message_id="m-del"), ada
        )
        assert ada.conversation_id is not None
        # The worker that took the decision died before running it.
        lost = await runtime.turns.prepare_decision(
            ada.id, ada.conversation_id, pending["call_id"], True
        )
        assert lost.slot is not None
        await lost.slot.release()
        await asyncio.sleep(runtime.settings.turn_lease_seconds + 0.5)
        assert (await ada.messages())[-1]["status"] == "failed"

        again = assert_waits_for_task_1(
            await ada.say("delete task 1", client_message_id="m-del"), ada
        )
        assert again["message_id"] == pending["message_id"]
        assert await stored_tasks(runtime, ada.id) == {1: "Buy milk", 2: "Call mom"}
        decided = await ada.decide(again["decide"], approve=True)
        assert decided.status_code == 200, decided.text
        assert decided.json()["response"] == "Deleted task 1: **Buy milk**."
        assert await stored_tasks(runtime, ada.id) == {2: "Call mom"}
        messages = await ada.messages()
    assert alternates(messages)
    no_call_waits_outside_a_paused_question(messages)


async def test_a_decision_refused_by_a_shutdown_keeps_the_turns_earlier_calls(
    database_url: str, running: Any, standin: OpenAIStandIn
) -> None:
    """The worker starts shutting down between taking a decision and running it: the turn is
    failed (SHUT_DOWN), but what it did before the pause (an add) stays on its record, so a
    retry shows the model the add and does not repeat it."""
    runtime = await running(Runtime(provider_settings(database_url, "openai", standin)))
    async with api_client(runtime) as http:
        ada = await Person.sign_up(http)
        standin.script(tool_call("add_task", {"title": "Buy milk"}), reply("Added Buy milk."))
        await ada.say("add buy milk")
        standin.script(
            tool_call("add_task", {"title": "Call mom"}, call_id="call_add"),
            tool_call("delete_task", {"task_id": 1}, call_id="call_del"),
        )
        pending = assert_waits_for_task_1(
            await ada.say("add call mom and delete task 1", client_message_id="m-2"), ada
        )
        assert ada.conversation_id is not None
        turn = await runtime.turns.prepare_decision(ada.id, ada.conversation_id, "call_del", True)
        await runtime.turns.drain(grace=0)  # nothing runs yet: only new turns are refused
        running_turn = runtime.turns.start(turn)
        events = [event async for event in running_turn.events()]
        assert events[-1].type == "error" and events[-1].code == "shutting_down"
        question = (await ada.messages())[-1]
    assert question["status"] == "failed"
    assert [c["call_id"] for c in question["tool_calls"]] == ["call_add"]
    assert question["tool_calls"][0]["result"]["title"] == "Call mom"
    assert pending["call_id"] == "call_del"
    assert await stored_tasks(runtime, ada.id) == {1: "Buy milk", 2: "Call mom"}
