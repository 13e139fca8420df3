"""ChatKit beside edit and re-answer (issue 16, part 1): an edited question's earlier branch
is not ChatKit's to name — stale item ids from before an edit match nothing — and a retry
from before an edit removes what follows, the earlier versions with it, leaving nothing that
points at a deleted message. Both databases."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlmodel import col, select

from taskpilot.data.models import Message
from taskpilot.runtime import Runtime
from tests.support.chatkit_client import ChatKitClient, item_ids, thread_id_of
from tests.support.harness import api_client, sign_up


@pytest.fixture
async def offline_client(offline_runtime: Runtime) -> Any:
    async with api_client(offline_runtime) as client:
        yield client


async def rows(runtime: Runtime, conversation_id: str) -> list[Message]:
    async with runtime.db.session() as session:
        statement = select(Message).where(col(Message.conversation_id) == conversation_id)
        return list((await session.exec(statement.order_by(col(Message.id)))).all())


async def edited_thread(
    http: httpx.AsyncClient, me: dict[str, Any], ck: ChatKitClient
) -> tuple[str, list[str]]:
    """A thread "add buy milk", "add call mom" whose second question was edited through the
    API to "add call dad"; with the item ids ChatKit listed before the edit."""
    thread_id = thread_id_of(await ck.create("add buy milk"))
    await ck.add(thread_id, "add call mom")
    before = item_ids(await ck.items(thread_id, order="asc"))
    second = [m for m in await rows_of(http, me, thread_id) if m["role"] == "user"][1]
    url = f"/api/{me['id']}/conversations/{thread_id}/messages/{second['id']}/edit"
    edited = await http.post(url, json={"message": "add call dad"}, headers=me["headers"])
    assert edited.status_code == 200, edited.text
    return thread_id, before


async def rows_of(
    http: httpx.AsyncClient, me: dict[str, Any], thread_id: str
) -> list[dict[str, Any]]:
    listed = await http.get(
        f"/api/{me['id']}/conversations/{thread_id}/messages", headers=me["headers"]
    )
    assert listed.status_code == 200, listed.text
    return list(listed.json()["messages"])


async def test_item_ids_from_before_an_edit_name_nothing(
    offline_client: httpx.AsyncClient, offline_runtime: Runtime
) -> None:
    me = await sign_up(offline_client)
    ck = ChatKitClient(offline_client, me["headers"])
    thread_id, before = await edited_thread(offline_client, me, ck)
    replaced = [item for item in before if item.endswith(before[-1].split("_")[-1])]
    stored = await rows(offline_runtime, thread_id)

    # Rating the replaced reply, or running the replaced question again, touches nothing.
    rated = await ck.send(
        {
            "type": "items.feedback",
            "params": {"thread_id": thread_id, "item_ids": replaced, "kind": "negative"},
        }
    )
    assert rated.status_code == 200, rated.text
    stale_question = next(item for item in before[::-1] if item.startswith("msg_"))
    await ck.send(
        {
            "type": "threads.retry_after_item",
            "params": {"thread_id": thread_id, "item_id": stale_question},
        }
    )
    after = await rows(offline_runtime, thread_id)
    assert [(m.id, m.content, m.feedback, m.replaced_by) for m in after] == [
        (m.id, m.content, m.feedback, m.replaced_by) for m in stored
    ]


async def test_a_retry_from_before_an_edit_takes_the_earlier_versions_with_it(
    offline_client: httpx.AsyncClient, offline_runtime: Runtime
) -> None:
    me = await sign_up(offline_client)
    ck = ChatKitClient(offline_client, me["headers"])
    thread_id, _ = await edited_thread(offline_client, me, ck)
    first = item_ids(await ck.items(thread_id, order="asc"))[0]
    assert len(await rows(offline_runtime, thread_id)) == 6  # two versions of the second

    await ck.retry(thread_id, first)
    left = await rows(offline_runtime, thread_id)
    assert [(m.role, m.content) for m in left][:1] == [("user", "add buy milk")]
    assert len(left) == 2 and left[1].role == "assistant"
    assert all(m.replaced_by is None and m.edit_of_id is None for m in left)
    listed = await rows_of(offline_client, me, thread_id)
    assert [m["content"] for m in listed][:1] == ["add buy milk"] and len(listed) == 2
