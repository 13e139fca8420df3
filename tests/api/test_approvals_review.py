"""Review of approvals: a turn's life under awkward timing (a worker lost while resuming, a
shutdown between a decision and its run, a decision racing a new message), what a retry of
such a turn shows the model, and what reaches the logs.

Real API app, turn engine, MCP tools and databases; the offline model or the OpenAI stand-in.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlmodel import col

from taskpilot.agent.engine.turn_engine import NOT_DECIDED
from taskpilot.data.models import Message
from taskpilot.runtime import Runtime
from taskpilot.services.turns import MOVED_ON_REPLY
from tests.support.approvals import (
    Person,
    alternates,
    assert_waits_for_task_1,
    model_waits_to_delete,
    stored_tasks,
    waiting_delete,
)
from tests.support.harness import api_client, live_server, make_settings
from tests.support.openai_standin import OpenAIStandIn, error, reply, tool_call
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
        ada, pending = await waiting_delete(http, client_message_id="m-del")
        assert ada.conversation_id is not None
        # The worker that took the decision died before running it.
        lost = await runtime.turns.prepare_decision(
            ada.id, ada.conversation_id, pending["call_id"], True
        )
        assert lost.slot is not None
        await lost.slot.release()
        await asyncio.sleep(runtime.settings.turn_lease_seconds + 0.5)
        assert (await ada.messages())[-1]["status"] == "failed"

        again = await ada.delete_task_1(client_message_id="m-del")
        assert again["message_id"] == pending["message_id"]
        assert await stored_tasks(runtime, ada.id) == {1: "Buy milk", 2: "Call mom"}
        decided = await ada.decided(again["decide"], approve=True)
        assert decided["response"] == "Deleted task 1: **Buy milk**."
        assert await stored_tasks(runtime, ada.id) == {2: "Call mom"}
        messages = await ada.messages()
    assert alternates(messages)
    no_call_waits_outside_a_paused_question(messages)


async def test_a_decision_refused_by_a_shutdown_leaves_the_change_waiting(
    database_url: str, running: Any, standin: OpenAIStandIn
) -> None:
    """The worker starts shutting down between taking a decision and running it: nothing
    has run since the pause, so the turn waits for the person again — its paused run, what
    it did before the pause (an add) and the waiting delete as they were — and another
    worker takes the decision."""
    settings = provider_settings(database_url, "openai", standin)
    runtime = await running(Runtime(settings))
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
        assert events[-1].message == NOT_DECIDED
        question = (await ada.messages())[-1]
    assert question["status"] == "awaiting"
    assert [(c["call_id"], c["approval"]) for c in question["tool_calls"]] == [
        ("call_add", None),
        ("call_del", "pending"),
    ]
    assert question["tool_calls"][0]["result"]["title"] == "Call mom"
    assert await stored_tasks(runtime, ada.id) == {1: "Buy milk", 2: "Call mom"}

    other = await running(Runtime(settings))  # another worker on the same database
    async with api_client(other) as http:
        ada.http = http
        standin.script(reply("Added Call mom and deleted Buy milk."))
        decided = await ada.decided(pending["decide"], approve=True)
        assert decided["response"] == "Added Call mom and deleted Buy milk."
        assert alternates(await ada.messages())
    assert await stored_tasks(other, ada.id) == {2: "Call mom"}


async def later(seconds: float, request: Awaitable[httpx.Response]) -> httpx.Response:
    await asyncio.sleep(seconds)
    return await request


async def test_a_decision_racing_a_new_message_and_a_resend_never_breaks_the_conversation(
    database_url: str, running: Any
) -> None:
    """On a real server, at once: Approve, a new message (which declines the waiting call
    if it gets there first) and the paused question sent again with its client id. Whoever
    wins, the task is deleted at most once and only if the approval won, every request is
    answered, nothing is left running or waiting, and the history alternates."""
    unlimited = make_settings(database_url, max_concurrent_turns=0, chat_turns_per_minute=0)
    runtime = await running(Runtime(unlimited))
    outcomes: set[tuple[int, int]] = set()
    async with (
        live_server(runtime) as base_url,
        httpx.AsyncClient(base_url=base_url, timeout=30) as http,
    ):
        ada = await Person.sign_up(http)
        for n in range(1, 7):
            await ada.say(f"add chore {n}")
        for n in range(1, 7):
            asked = await ada.say(f"delete task {n}", client_message_id=f"del-{n}")
            pending = asked["pending_approval"]
            decided, moved_on, resent = await asyncio.gather(
                later(n % 3 * 0.01, ada.decide(pending["decide"], approve=True)),
                ada.send("show my tasks"),
                ada.send(f"delete task {n}", client_message_id=f"del-{n}"),
            )
            assert moved_on.status_code == 200, moved_on.text
            assert resent.status_code == 200, resent.text
            assert decided.status_code in (200, 409), decided.text
            deleted = n not in await stored_tasks(runtime, ada.id)
            assert deleted is (decided.status_code == 200)
            outcomes.add((decided.status_code, resent.status_code))
            messages = await ada.messages()
            assert alternates(messages), [(m["role"], m["status"]) for m in messages]
            assert all(m["status"] == "answered" for m in messages)
            no_call_waits_outside_a_paused_question(messages)
    print(outcomes)


SECRET_TITLE = "Quarterly-secret-title-7e13"
SECRET_TEXT = "private-words-4b9f"


async def test_no_question_task_title_or_paused_run_reaches_the_logs(
    database_url: str, running: Any, standin: OpenAIStandIn, caplog: pytest.LogCaptureFixture
) -> None:
    """Pauses, an approval, a decline, a model failure after a decision, a stored run that
    cannot be resumed and a decision whose worker was lost, with TaskPilot's loggers at DEBUG
    and every other at INFO: no record carries the person's words or a task's title."""
    caplog.set_level(logging.INFO)
    caplog.set_level(logging.DEBUG, logger="taskpilot")
    settings = provider_settings(database_url, "openai", standin, turn_lease_seconds=2)
    runtime = await running(Runtime(settings))
    async with api_client(runtime) as http:
        ada = await Person.sign_up(http)
        standin.script(tool_call("add_task", {"title": SECRET_TITLE}), reply("Added."))
        await ada.say(f"add {SECRET_TITLE} {SECRET_TEXT}")
        steps = ((True, reply("Done."), 200), (False, error(400), 502), (False, None, 502))
        for approve, then, status in steps:
            standin.script(tool_call("delete_task", {"task_id": 1}, text=SECRET_TEXT))
            asked = await ada.say(f"delete {SECRET_TEXT}")
            url = asked["pending_approval"]["decide"]
            if then is None:  # a stored run that cannot be resumed, holding the secrets
                async with runtime.db.session() as session:
                    await session.execute(
                        sa.update(Message)
                        .where(col(Message.id) == asked["pending_approval"]["message_id"])
                        .values(paused_run={"state": {"x": SECRET_TEXT}, "reply": SECRET_TITLE})
                    )
                    await session.commit()
            else:
                standin.script(then)
            assert (await ada.decide(url, approve=approve)).status_code == status
        standin.script(tool_call("delete_task", {"task_id": 1}, text=SECRET_TEXT))
        asked = await ada.say(f"delete {SECRET_TEXT} again")
        assert ada.conversation_id is not None
        lost = await runtime.turns.prepare_decision(
            ada.id, ada.conversation_id, asked["pending_approval"]["call_id"], True
        )
        assert lost.slot is not None
        await lost.slot.release()
        await asyncio.sleep(settings.turn_lease_seconds + 0.5)
        standin.script(reply("Okay."))
        assert (await ada.say(f"never mind {SECRET_TEXT}"))["response"] == "Okay."
        standin.assert_done()
    records = caplog.get_records("setup") + caplog.get_records("call")
    assert any(r.name.startswith("taskpilot") for r in records), "the capture is not working"
    formatter = logging.Formatter()
    for record in records:
        dumped = f"{formatter.format(record)} {record.__dict__!r}"
        for secret in (SECRET_TITLE, SECRET_TEXT):
            assert secret not in dumped, f"{secret} in log record {record.name}: {record.msg}"


async def test_a_new_message_is_answered_at_once_even_when_messages_never_wait(
    database_url: str, running: Any
) -> None:
    """TURN_WAIT_SECONDS=0 (a message never waits for another turn): a new message into a
    conversation whose delete waits declines it and is answered, rather than being refused
    with 'already being answered' after it declined the call."""
    runtime = await running(Runtime(make_settings(database_url, turn_wait_seconds=0)))
    async with api_client(runtime) as http:
        ada, _ = await waiting_delete(http)
        answer = await ada.send("show my tasks")
        assert answer.status_code == 200, answer.text
        messages = await ada.messages()
    assert alternates(messages) and messages[-2]["content"] == "show my tasks"


async def test_moving_on_keeps_what_the_reply_said_before_the_pause(
    database_url: str, running: Any, standin: OpenAIStandIn
) -> None:
    """A new message declines the waiting delete; the stored reply of the paused turn keeps
    the words the model said before it paused, then says why nothing was done."""
    runtime = await running(Runtime(provider_settings(database_url, "openai", standin)))
    async with api_client(runtime) as http:
        ada, _ = await model_waits_to_delete(http, standin, text="Deleting it.")
        standin.script(reply("Sure."))
        await ada.say("never mind, what's open?")
        messages = await ada.messages()
    assert messages[3]["content"] == f"Deleting it.\n\n{MOVED_ON_REPLY}"
    assert alternates(messages)
