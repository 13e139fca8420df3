"""Undo on ChatKit's task cards (issue 16, part 2, as the page's tool cards have it): a stored
change's card offers Undo, which takes back exactly that change through the MCP tools, once,
and the card then reads "Undone"; a change that can no longer be taken back says why. Against
the real API app, turn engine, MCP server and database (both), with the offline model."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from tests.support.chatkit_client import ChatKitClient, Person, action, first_turn, thread_id_of

UNDO = "change.undo"


def actions(widget: dict[str, Any]) -> list[str]:
    """The action types of every button a widget (as JSON) shows."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("onClickAction"), dict):
                found.append(node["onClickAction"]["type"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(widget)
    return found


async def card(ck: ChatKitClient, thread_id: str, item: str) -> dict[str, Any]:
    page = await ck.items(thread_id, order="asc")
    [found] = [i["widget"] for i in page["data"] if i["id"] == item]
    return found  # type: ignore[no-any-return]


async def titles(http: httpx.AsyncClient, me: dict[str, Any]) -> list[str]:
    listed = await http.get(f"/api/{me['id']}/tasks", headers=me["headers"])
    return [task["title"] for task in listed.json()["tasks"]]


async def test_a_stored_changes_card_undoes_it_once_and_then_reads_undone(
    ada: Person, offline_client: httpx.AsyncClient
) -> None:
    ck, me = ada
    events = await ck.create("add buy milk")
    thread_id = thread_id_of(events)
    item = f"widget_{await first_turn(ck, thread_id)}"
    streamed = [
        e.item.model_dump(mode="json")["widget"]
        for e in events
        if e.type == "thread.item.done" and e.item.type == "widget"
    ]
    shown = await card(ck, thread_id, item)
    assert UNDO in actions(shown)
    assert streamed == [shown]  # as the stream drew it: Undo works without a reload

    answers = await asyncio.gather(*(ck.send(action(thread_id, item, UNDO, {})) for _ in range(3)))
    assert [a.status_code for a in answers] == [200, 200, 200], [a.text for a in answers]
    assert await titles(offline_client, me) == []
    after = await card(ck, thread_id, item)
    assert after["status"]["text"].startswith("Undone")
    assert UNDO not in actions(after)
    assert [a.json()["updated_item"]["widget"] for a in answers] == [after] * 3


async def test_a_change_that_cannot_be_taken_back_says_why(
    ada: Person, bob: Person, offline_client: httpx.AsyncClient
) -> None:
    ck, me = ada
    thread_id = thread_id_of(await ck.create("add buy milk"))
    item = f"widget_{await first_turn(ck, thread_id)}"
    await ck.add(thread_id, "rename task 1 to buy oat milk")  # changed since it was added
    refused = await ck.send(action(thread_id, item, UNDO, {}))
    assert refused.status_code == 409, refused.text
    assert "changed since" in refused.text
    assert await titles(offline_client, me) == ["Buy oat milk"]
    assert UNDO in actions(await card(ck, thread_id, item))  # nothing marked: ask again later

    bob_ck, _ = bob
    stranger = await bob_ck.send(action(thread_id, item, UNDO, {}))
    assert stranger.status_code == 404
    assert await titles(offline_client, me) == ["Buy oat milk"]
