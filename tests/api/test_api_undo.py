"""Undo through the HTTP API with the offline model: a card's Undo (`POST …/tool_calls/{i}/undo`)
takes back exactly that call's change once, however many ask at once on a live server; "undo
that" in words takes back the conversation's last change through `undo_change` (a deleted task
comes back with its number), "undo" again goes one change further back, and a change undone
by its card is skipped."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from taskpilot.runtime import Runtime
from tests.support.approvals import Person, stored_tasks, two_tasks, waiting_delete
from tests.support.harness import api_client, live_server, make_settings


def undo_url(person: Person, message_id: int, index: int) -> str:
    return (
        f"/api/{person.id}/conversations/{person.conversation_id}/messages/{message_id}"
        f"/tool_calls/{index}/undo"
    )


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
        undone = await ada.http.post(undo_url(ada, reply["id"], 0), headers=ada.headers)
        assert undone.status_code == 200 and undone.json() == {"undone": True, "already": False}
        assert await stored_tasks(offline_runtime, ada.id) == {1: "Buy milk"}
        answer = await ada.say("undo")
        assert answer["response"] == "Undone: task 1 **Buy milk** is removed again."
        nothing = await ada.say("undo")
        assert nothing["response"].startswith("There's no change to your tasks")


async def test_a_cards_undo_over_the_api_takes_the_change_back_once(
    database_url: str, running: Any
) -> None:
    """Five Undos of one change at once on a live server (two tabs, a double click, an API
    client): the change is taken back once — one `undone`, the others `already` — in three
    rounds (an approved delete, an update, an add); and when the tool refuses, every one of
    them says so (none reports a success the first did not have)."""
    unlimited = make_settings(database_url, max_concurrent_turns=0, chat_turns_per_minute=0)
    runtime = await running(Runtime(unlimited))
    async with (
        live_server(runtime) as base_url,
        httpx.AsyncClient(base_url=base_url, timeout=30) as http,
    ):
        ada = await Person.sign_up(http)
        await two_tasks(ada)
        await ada.say("add water the ferns")
        await ada.say("rename task 2 to call dad")
        pending = await ada.delete_task_1()
        await ada.decided(pending["decide"], approve=True)
        replies = [m for m in await ada.messages() if m["role"] == "assistant"]
        ferns = "Water the ferns"
        rounds = [
            (replies[-1], {1: "Buy milk", 2: "Call dad", 3: ferns}),  # the delete
            (replies[-2], {1: "Buy milk", 2: "Call mom", 3: ferns}),  # the rename
            (replies[-3], {1: "Buy milk", 2: "Call mom"}),  # the add of task 3
        ]
        for reply, after in rounds:
            index = next(i for i, c in enumerate(reply["tool_calls"]) if c["result"])
            url = undo_url(ada, reply["id"], index)
            answers = await asyncio.gather(*(http.post(url, headers=ada.headers) for _ in range(5)))
            assert [a.status_code for a in answers] == [200] * 5, [a.text for a in answers]
            assert sorted(a.json()["already"] for a in answers) == [False, True, True, True, True]
            assert await stored_tasks(runtime, ada.id) == after
        listed = [m for m in await ada.messages() if m["role"] == "assistant"]
        assert all(any(call.get("undone") for call in reply["tool_calls"]) for reply in listed[-3:])

        # The add of task 2, changed since (renamed, then back): all five are refused.
        url = undo_url(ada, replies[-4]["id"], 0)
        answers = await asyncio.gather(*(http.post(url, headers=ada.headers) for _ in range(5)))
        assert [a.status_code for a in answers] == [409] * 5, [a.text for a in answers]
        assert {a.json()["detail"] for a in answers} == {
            "Task 2 changed since, so I left it as it is."
        }


async def test_an_undo_that_cannot_be_done_says_why_and_changes_nothing(
    offline_runtime: Runtime,
) -> None:
    async with api_client(offline_runtime) as http:
        ada = await Person.sign_up(http)
        await two_tasks(ada)
        add_milk = next(m for m in await ada.messages() if m["role"] == "assistant")
        await ada.say("rename task 1 to buy oat milk")  # changed since it was added
        refused = await http.post(undo_url(ada, add_milk["id"], 0), headers=ada.headers)
        assert refused.status_code == 409, refused.text
        assert refused.json()["code"] == "undo_refused"
        assert "changed since" in refused.json()["detail"]
        assert await stored_tasks(offline_runtime, ada.id) == {1: "Buy oat milk", 2: "Call mom"}
        # It can be asked again later (nothing was marked undone).
        again = await http.post(undo_url(ada, add_milk["id"], 0), headers=ada.headers)
        assert again.status_code == 409

        eve = await Person.sign_up(http, "eve@example.com")
        eve.conversation_id = ada.conversation_id
        question = next(m for m in await ada.messages() if m["role"] == "user")
        for url, headers, refusal in (
            (undo_url(ada, add_milk["id"], 0), eve.headers, 403),  # not hers
            (undo_url(eve, add_milk["id"], 0), eve.headers, 404),
            (undo_url(ada, question["id"], 0), ada.headers, 404),  # a question has no cards
            (undo_url(ada, add_milk["id"], 7), ada.headers, 404),  # no such call
        ):
            answer = await http.post(url, headers=headers)
            assert answer.status_code == refusal, (url, answer.text)
        assert await stored_tasks(offline_runtime, ada.id) == {1: "Buy oat milk", 2: "Call mom"}
