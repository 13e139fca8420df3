"""A ChatKit request that names items costs the same few statements however many it names.

A security review sent one 62 KB `items.feedback` request naming 4,500 item ids: each id was
resolved on its own, about 9,000 statements, 10.8 s of the database for one request. Now the
ids one request names are de-duplicated, capped (`MAX_NAMED_ITEMS`, refused with a 400 before
anything runs) and resolved in one query scoped to the caller's thread. Counted in statements
the database runs, not in seconds, on SQLite and PostgreSQL, through ChatKit's own request
types over HTTP.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from chatkit.types import ItemFeedbackParams, ItemsFeedbackReq

from taskpilot.chatkit.server import MAX_NAMED_ITEMS
from taskpilot.runtime import Runtime
from tests.support.chatkit_client import ChatKitClient, thread_id_of
from tests.support.harness import api_client, sign_up


@pytest.fixture
async def http(offline_runtime: Runtime) -> Any:
    async with api_client(offline_runtime) as client:
        yield client


@contextmanager
def statements(runtime: Runtime) -> Iterator[list[str]]:
    """Every statement the runtime's database runs inside the block."""
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    engine = runtime.db.engine.sync_engine
    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)


def on_messages(seen: list[str]) -> list[str]:
    return [statement for statement in seen if "messages" in statement.lower()]


def feedback(thread_id: str, item_ids: list[str], kind: str = "positive") -> ItemsFeedbackReq:
    params = ItemFeedbackParams(thread_id=thread_id, item_ids=item_ids, kind=kind)  # type: ignore[arg-type]
    return ItemsFeedbackReq(params=params)


async def ratings(http: httpx.AsyncClient, me: dict[str, Any], thread_id: str) -> list[Any]:
    response = await http.get(
        f"/api/{me['id']}/conversations/{thread_id}/messages", headers=me["headers"]
    )
    return [(m["role"], m["feedback"]) for m in response.json()["messages"]]


async def test_feedback_naming_a_hundred_items_costs_what_feedback_on_one_does(
    http: httpx.AsyncClient, offline_runtime: Runtime
) -> None:
    ada = await sign_up(http, "ada@example.com")
    bob = await sign_up(http, "bob@example.com")
    ada_ck, bob_ck = ChatKitClient(http, ada["headers"]), ChatKitClient(http, bob["headers"])
    created = await ada_ck.create("add buy milk tomorrow")
    thread_id = thread_id_of(created)
    await ada_ck.add(thread_id, "what's still open?")
    ours = [item["id"] for item in (await ada_ck.items(thread_id, order="asc"))["data"]]
    first_reply = next(value for value in ours if value.startswith("reply_"))
    bob_thread = thread_id_of(await bob_ck.create("add call mum"))
    theirs = [item["id"] for item in (await bob_ck.items(bob_thread, order="asc"))["data"]]

    # Ada's items (one by the id ChatKit gave her message while it streamed), Bob's items
    # (in another person's thread: they name nothing here), ids of turns that do not exist,
    # and ids that are not TaskPilot's at all (one PostgreSQL could not even compare): a
    # hundred distinct ids, each named three times.
    named = [*ours, created[1].item.id, *theirs]  # type: ignore[union-attr]
    named += [f"reply_{900_000 + n}" for n in range(40)]
    named += [f"tools_{900_000 + n}_2" for n in range(5)]
    odd = ["x" * 500, "ck_\x00", "msg_999999999999999999"]
    named += [f"ck_message_{n:032x}" for n in range(MAX_NAMED_ITEMS - len(named) - len(odd))]
    named += odd
    assert len(set(named)) == MAX_NAMED_ITEMS

    await ada_ck.feedback(thread_id, [first_reply], "negative")  # pools and caches warm
    with statements(offline_runtime) as one:
        assert await ada_ck.ok(feedback(thread_id, [first_reply], "negative")) == {}
    with statements(offline_runtime) as hundred:
        assert await ada_ck.ok(feedback(thread_id, named * 3)) == {}

    assert len(hundred) == len(one), hundred
    # The messages a request names are read with one query and rated with one update.
    assert len(on_messages(hundred)) == 2, on_messages(hundred)
    assert await ratings(http, ada, thread_id) == [
        ("user", None),
        ("assistant", "positive"),
        ("user", None),
        ("assistant", "positive"),
    ]
    assert await ratings(http, bob, bob_thread) == [("user", None), ("assistant", None)]


async def test_naming_more_items_than_the_cap_is_refused_before_any_query(
    http: httpx.AsyncClient, offline_runtime: Runtime
) -> None:
    ada = await sign_up(http, "ada@example.com")
    ck = ChatKitClient(http, ada["headers"])
    thread_id = thread_id_of(await ck.create("add buy milk tomorrow"))
    reply = next(i["id"] for i in (await ck.items(thread_id))["data"] if i["id"][:6] == "reply_")

    too_many = [reply, *(f"reply_{900_000 + n}" for n in range(MAX_NAMED_ITEMS))]
    with statements(offline_runtime) as seen:
        response = await ck.send(feedback(thread_id, too_many))
    assert response.status_code == 400, response.text
    assert response.json()["detail"] == (
        f"Feedback can name at most {MAX_NAMED_ITEMS} items at once; "
        f"this request names {MAX_NAMED_ITEMS + 1}."
    )
    # Nothing ran but looking up who is signed in.
    assert len(seen) == 1 and "FROM users" in seen[0], seen
    assert await ratings(http, ada, thread_id) == [("user", None), ("assistant", None)]

    # Naming one item many times is naming it once.
    assert await ck.ok(feedback(thread_id, [reply] * (MAX_NAMED_ITEMS * 2))) == {}
    assert await ratings(http, ada, thread_id) == [("user", None), ("assistant", "positive")]


async def test_an_item_a_page_starts_after_is_found_with_one_query(
    http: httpx.AsyncClient, offline_runtime: Runtime
) -> None:
    ada = await sign_up(http, "ada@example.com")
    ck = ChatKitClient(http, ada["headers"])
    created = await ck.create("add buy milk tomorrow")
    thread_id = thread_id_of(created)
    await ck.add(thread_id, "what's still open?")
    everything = [item["id"] for item in (await ck.items(thread_id, order="asc"))["data"]]

    with statements(offline_runtime) as first_page:
        await ck.items(thread_id, order="asc")
    # After a message (by our id or the one ChatKit gave it while it streamed) or a reply:
    # one query more.
    anchors = {everything[0]: 1, created[1].item.id: 1, everything[2]: 3}  # type: ignore[union-attr]
    for anchor, follows in anchors.items():
        with statements(offline_runtime) as after:
            page = await ck.items(thread_id, order="asc", after=anchor)
        assert [item["id"] for item in page["data"]] == everything[follows:]
        assert len(on_messages(after)) == len(on_messages(first_page)) + 1, on_messages(after)
