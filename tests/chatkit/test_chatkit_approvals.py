"""Approvals in ChatKit: a delete waits with a card (Confirm / Cancel), the card's decision
resumes the paused turn — on another worker too, after the first has gone — and a reload
shows what the stream showed. In ChatKit's own request shapes, against the real API app,
turn engine, MCP server and database (SQLite and PostgreSQL), with the offline model, a
scripted model and the OpenAI stand-in."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
from agents.testing import ModelStep, ScriptedModel, assistant_message, function_call
from chatkit.types import (
    ClientEffectEvent,
    ErrorEvent,
    ThreadStreamEvent,
)
from sqlmodel import select

from taskpilot.core.config import Settings
from taskpilot.data.models import Message, TurnStatus
from taskpilot.mcp.tools import DECLINED
from taskpilot.runtime import Runtime
from taskpilot.services.turns import MOVED_ON, MOVED_ON_REPLY
from taskpilot.services.users import UserService
from tests.support.chatkit_client import (
    ChatKitClient,
    Person,
    decide,
    event_summary,
    thread_id_of,
)
from tests.support.harness import (
    PASSWORD,
    REDIS_URL,
    api_client,
    bearer,
    needs_redis,
    scripted_runtime,
    sign_up,
)
from tests.support.openai_standin import OpenAIStandIn, reply, tool_call
from tests.support.providers import PROVIDERS, provider_settings


def cards(events: list[ThreadStreamEvent]) -> dict[str, dict[str, Any]]:
    """The widget items a stream finished or replaced, by id (the last of each), as JSON."""
    return {
        event.item.id: event.item.model_dump(mode="json")["widget"]
        for event in events
        if event.type in ("thread.item.done", "thread.item.replaced")
        and event.item.type == "widget"
    }


def waiting_card(events: list[ThreadStreamEvent]) -> tuple[str, str, dict[str, Any]]:
    """The one approval card a stream asked with: its item id, its call's id, the widget."""
    [(item, widget)] = [
        (item, widget)
        for item, widget in cards(events).items()
        if widget["key"].startswith("approval-")
    ]
    return item, widget["key"].removeprefix("approval-"), widget


def buttons(widget: dict[str, Any]) -> list[tuple[str, str, Any]]:
    """A card's footer: (label, action, payload) for Confirm and Cancel, if it has them."""
    return [
        (widget[part]["label"], widget[part]["action"]["type"], widget[part]["action"]["payload"])
        for part in ("confirm", "cancel")
        if widget.get(part)
    ]


def shown_task(widget: dict[str, Any]) -> tuple[str, bool, str]:
    """The task row of an approval card: title, struck through, caption."""
    row = next(child for child in widget["children"] if child["type"] == "Row")
    title, caption = row["children"][1]["children"][:2]
    return title["value"], title.get("lineThrough", False), caption["value"]


def effects(events: list[ThreadStreamEvent]) -> list[str]:
    return [event.name for event in events if isinstance(event, ClientEffectEvent)]


def reply_text(events: list[ThreadStreamEvent]) -> str:
    """The text of the last assistant message the stream finished."""
    done = [
        event.item
        for event in events
        if event.type == "thread.item.done" and event.item.type == "assistant_message"
    ]
    return done[-1].content[0].text if done else ""  # type: ignore[union-attr]


async def tasks_of(http: httpx.AsyncClient, me: dict[str, Any]) -> list[tuple[int, str]]:
    listed = await http.get(f"/api/{me['id']}/tasks", headers=me["headers"])
    return [(t["task_id"], t["title"]) for t in listed.json()["tasks"]]


async def listed(ck: ChatKitClient, thread_id: str) -> dict[str, dict[str, Any]]:
    page = await ck.items(thread_id, order="asc", limit=50)
    return {item["id"]: item for item in page["data"]}


async def paused_with_a_card(ck: ChatKitClient) -> tuple[str, int, str, str, dict[str, Any]]:
    """Buy milk added, then "delete task 1": the thread, the turn, the card and its call."""
    thread_id = thread_id_of(await ck.create("add buy milk"))
    events = await ck.add(thread_id, "delete task 1")
    card_id, call_id, card = waiting_card(events)
    turn = int(card_id.split("_")[1])
    return thread_id, turn, card_id, call_id, card


ASKING = {"text": "Waiting for your approval", "icon": "circle-question"}


# --- the card --------------------------------------------------------------------------------


async def test_a_delete_waits_with_a_card_that_a_reload_shows_the_same(
    ada: Person, offline_client: httpx.AsyncClient
) -> None:
    ck, me = ada
    thread_id = thread_id_of(await ck.create("add buy milk tomorrow, high priority"))
    events = await ck.add(thread_id, "delete task 1")
    card_id, call_id, card = waiting_card(events)
    n = int(card_id.split("_")[1])

    assert card["type"] == "Card" and card["status"] == ASKING
    assert card["children"][0]["value"] == "Delete this task?"
    title, struck, caption = shown_task(card)
    assert (title, struck) == ("Buy milk", False)
    assert caption.startswith("Task 1 · due ") and caption.endswith("high priority")
    assert buttons(card) == [
        ("Confirm", "approval.approve", {"call_id": call_id}),
        ("Cancel", "approval.decline", {"call_id": call_id}),
    ]
    # Nothing changed and nothing was said: the turn waits, its workflow says so.
    assert effects(events) == [] and reply_text(events) == ""
    assert not [event for event in events if isinstance(event, ErrorEvent)]
    workflow = [
        e.item for e in events if e.type == "thread.item.done" and e.item.type == "workflow"
    ]
    assert [task.title for task in workflow[-1].workflow.tasks] == ["Waiting for your approval"]  # type: ignore[union-attr]
    assert await tasks_of(offline_client, me) == [(1, "Buy milk")]

    # Reloaded, even much later: the same card, still asking, under the same id.
    shown = await listed(ck, thread_id)
    assert list(shown)[-3:] == [f"msg_{n}", f"tools_{n}", card_id]
    assert shown[card_id]["widget"] == card
    assert shown[f"tools_{n}"]["workflow"]["tasks"][0]["title"] == "Waiting for your approval"


async def test_confirm_resumes_the_turn_deletes_and_redraws_the_card_in_place(
    ada: Person, offline_client: httpx.AsyncClient
) -> None:
    ck, me = ada
    thread_id, n, card_id, call_id, _ = await paused_with_a_card(ck)

    events = await ck.stream(decide(thread_id, card_id, "approval.approve", {"call_id": call_id}))
    assert not [event for event in events if isinstance(event, ErrorEvent)]
    assert [e.text for e in events if e.type == "progress_update"] == ["Deleting a task…"]  # type: ignore[union-attr]
    card = cards(events)[card_id]
    assert card["status"] == {"text": "Deleted task 1", "icon": "check-circle"}
    assert shown_task(card)[:2] == ("Buy milk", True) and "deleted" in shown_task(card)[2]
    assert buttons(card) == []
    assert effects(events) == ["tasks_changed"]  # the panel reloads as the task goes
    assert reply_text(events) == "Deleted task 1: **Buy milk**."
    assert event_summary(events).count(f"thread.item.done:assistant_message:reply_{n}") == 1
    assert await tasks_of(offline_client, me) == []

    # What streamed is what a reload lists: one turn, its card decided, its one reply.
    shown = await listed(ck, thread_id)
    assert list(shown)[-4:] == [f"msg_{n}", f"tools_{n}", card_id, f"reply_{n}"]
    assert shown[card_id]["widget"] == card
    assert shown[f"tools_{n}"]["workflow"]["tasks"][0]["title"] == "Deleted task 1 · Buy milk"
    assert shown[f"reply_{n}"]["content"][0]["text"] == "Deleted task 1: **Buy milk**."


async def test_cancel_tells_the_model_and_changes_nothing(
    ada: Person, offline_client: httpx.AsyncClient
) -> None:
    ck, me = ada
    thread_id, n, card_id, call_id, _ = await paused_with_a_card(ck)

    events = await ck.stream(decide(thread_id, card_id, "approval.decline", {"call_id": call_id}))
    card = cards(events)[card_id]
    assert card["status"] == {"text": "Cancelled: nothing changed", "icon": "info"}
    assert shown_task(card)[:2] == ("Buy milk", False) and buttons(card) == []
    assert effects(events) == []  # nothing changed
    assert [e.type for e in events if e.type == "progress_update"] == []
    # The offline model read the decline from the tool's answer.
    assert reply_text(events) == "Okay, I didn't touch task 1: nothing was deleted."
    assert await tasks_of(offline_client, me) == [(1, "Buy milk")]
    shown = await listed(ck, thread_id)
    assert shown[card_id]["widget"] == card
    assert shown[f"tools_{n}"]["workflow"]["tasks"][0]["title"] == "Cancelled: nothing changed"


# --- too late, twice, elsewhere ----------------------------------------------------------------


async def test_a_card_already_decided_runs_nothing_and_answers_as_it_is(
    ada: Person, offline_client: httpx.AsyncClient, offline_runtime: Runtime
) -> None:
    ck, me = ada
    thread_id, _, card_id, call_id, _ = await paused_with_a_card(ck)
    await ck.stream(decide(thread_id, card_id, "approval.decline", {"call_id": call_id}))
    before = await listed(ck, thread_id)
    for kind in ("approval.approve", "approval.decline"):  # a second tab drawn before
        events = await ck.stream(decide(thread_id, card_id, kind, {"call_id": call_id}))
        assert [event.type for event in events] == ["stream_options", "thread.item.replaced"]
        assert cards(events)[card_id] == before[card_id]["widget"]
    assert await listed(ck, thread_id) == before
    assert await tasks_of(offline_client, me) == [(1, "Buy milk")]


@pytest.mark.parametrize(("first", "second"), [("approve", "decline"), ("approve", "approve")])
async def test_two_presses_at_once_resume_the_turn_once(
    ada: Person, offline_client: httpx.AsyncClient, first: str, second: str
) -> None:
    """Two tabs press the same card's buttons at the same moment: one decision resumes the
    turn, the other runs nothing and answers with the card; one reply is stored."""
    ck, me = ada
    thread_id, n, card_id, call_id, _ = await paused_with_a_card(ck)
    streams = await asyncio.gather(
        ck.stream(decide(thread_id, card_id, f"approval.{first}", {"call_id": call_id})),
        ck.stream(decide(thread_id, card_id, f"approval.{second}", {"call_id": call_id})),
    )
    replies = [reply_text(events) for events in streams]
    assert sorted(bool(text) for text in replies) == [False, True], replies
    assert not [e for events in streams for e in events if isinstance(e, ErrorEvent)]
    deleted = "Deleted task 1: **Buy milk**." in replies
    assert await tasks_of(offline_client, me) == ([] if deleted else [(1, "Buy milk")])
    shown = await listed(ck, thread_id)
    assert list(shown)[-4:] == [f"msg_{n}", f"tools_{n}", card_id, f"reply_{n}"]
    assert buttons(shown[card_id]["widget"]) == []


async def test_a_new_message_declines_the_waiting_card_and_redraws_it(
    ada: Person, offline_client: httpx.AsyncClient
) -> None:
    ck, me = ada
    thread_id, n, card_id, call_id, _ = await paused_with_a_card(ck)
    events = await ck.add(thread_id, "add call the dentist")

    # Before the new message: the card and the reply that closed its turn, as now stored.
    order = event_summary(events)
    sent = next(i for i, e in enumerate(order) if e.startswith("thread.item.done:user_message"))
    assert (
        order.index(f"thread.item.done:widget:{card_id}")
        < order.index(f"thread.item.done:assistant_message:reply_{n}")
        < sent
    )
    card = cards(events)[card_id]
    assert card["status"]["text"] == MOVED_ON and buttons(card) == []
    replies = [
        e.item.content[0].text  # type: ignore[union-attr]
        for e in events
        if e.type == "thread.item.done" and e.item.type == "assistant_message"
    ]
    assert replies[0] == MOVED_ON_REPLY
    assert await tasks_of(offline_client, me) == [(1, "Buy milk"), (2, "Call the dentist")]

    # Pressed on a screen drawn before: nothing runs.
    late = await ck.stream(decide(thread_id, card_id, "approval.approve", {"call_id": call_id}))
    assert cards(late)[card_id] == card
    assert len(await tasks_of(offline_client, me)) == 2
    assert (await listed(ck, thread_id))[card_id]["widget"] == card


async def test_retrying_a_waiting_turn_asks_again_without_running_anything(
    settings: Settings, running: Any
) -> None:
    # The model is asked once: a second run would find the script empty and fail.
    model = ScriptedModel(
        [
            ModelStep.respond(
                lambda call: [function_call("delete_task", {"task_id": 1}, call_id="c1")]
            )
        ]
    )
    runtime = await running(scripted_runtime(settings, model))
    async with api_client(runtime) as http:
        me = await sign_up(http)
        ck = ChatKitClient(http, me["headers"])
        await runtime.turns.mcp.change(me["id"], "add_task", {"title": "Buy milk"})
        thread_id = thread_id_of(await ck.create("delete task 1"))
        shown = await listed(ck, thread_id)
        [n] = [int(i.split("_")[1]) for i in shown if i.startswith("msg_")]
        again = await ck.retry(thread_id, f"msg_{n}")
        assert not [event for event in again if isinstance(event, ErrorEvent)]
        card_id, call_id, card = waiting_card(again)
        assert call_id == "c1" and card["status"] == ASKING
        assert card == shown[card_id]["widget"]
        assert f"tools_{n}" in [e.item.id for e in again if e.type == "thread.item.done"]  # type: ignore[union-attr]
        assert await listed(ck, thread_id) == shown
        assert await tasks_of(http, me) == [(1, "Buy milk")]


# --- who may decide, and what --------------------------------------------------------------------


async def test_another_persons_card_is_a_404_and_bad_decisions_are_400s(
    ada: Person, offline_client: httpx.AsyncClient
) -> None:
    ck, me = ada
    thread_id, n, card_id, call_id, card = await paused_with_a_card(ck)
    bob = await sign_up(offline_client, "bob@example.com")
    bob_ck = ChatKitClient(offline_client, bob["headers"])
    bobs_thread = thread_id_of(await bob_ck.create("hello"))
    for thread in (thread_id, bobs_thread):  # Ada's thread, or Bob's naming Ada's card
        answer = await bob_ck.send(
            decide(thread, card_id, "approval.approve", {"call_id": call_id})
        )
        assert answer.status_code == 404, answer.text
        assert "not found" in answer.json()["detail"]

    task_card = f"widget_{n - 2}"  # the added task's card, from the first turn
    cases: list[tuple[Any, str]] = [
        (decide(thread_id, card_id, "approval.maybe", {"call_id": call_id}), "Unknown"),
        (decide(thread_id, card_id, "approval.approve", None), "payload must be"),
        (decide(thread_id, card_id, "approval.approve", {"call_id": 7}), "payload must be"),
        (decide(thread_id, card_id, "approval.approve", {"call_id": ""}), "payload must be"),
        (
            decide(thread_id, card_id, "approval.approve", {"call_id": call_id, "x": 1}),
            "payload must be",
        ),
        (decide(thread_id, card_id, "approval.approve", {"call_id": "c9"}), "does not ask"),
        (decide(thread_id, task_card, "approval.approve", {"call_id": call_id}), "does not ask"),
        (decide(thread_id, f"msg_{n}", "approval.approve", {"call_id": call_id}), "must name"),
        (decide(thread_id, None, "approval.approve", {"call_id": call_id}), "must name"),
        (decide(thread_id, card_id, "task.delete", {"task_id": 1}), "sync_custom_action"),
    ]
    for request, reason in cases:
        answer = await ck.send(request)
        assert answer.status_code == 400, (request, answer.text)
        assert answer.headers["content-type"].startswith("application/json")
        assert reason in answer.json()["detail"], answer.text
    # A decision is not a task button: sent unstreamed, it is refused too.
    sync = {
        "type": "threads.sync_custom_action",
        "params": {
            "thread_id": thread_id,
            "item_id": card_id,
            "action": {"type": "approval.approve", "payload": {"call_id": call_id}},
        },
    }
    assert (await ck.send(sync)).status_code == 400
    # Nothing was decided: the task is there and the card still asks.
    assert await tasks_of(offline_client, me) == [(1, "Buy milk")]
    assert (await listed(ck, thread_id))[card_id]["widget"] == card


# --- with a model that talks, and on another worker ----------------------------------------------


async def test_a_reply_begun_before_the_pause_continues_under_its_id(
    settings: Settings, running: Any
) -> None:
    model = ScriptedModel(
        [
            ModelStep.respond(
                lambda call: [
                    assistant_message("Sure, let me remove it."),
                    function_call("delete_task", {"task_id": 1}, call_id="c1"),
                ]
            ),
            ModelStep.respond(lambda call: [assistant_message("It's gone.")]),
        ]
    )
    runtime = await running(scripted_runtime(settings, model))
    async with api_client(runtime) as http:
        me = await sign_up(http)
        ck = ChatKitClient(http, me["headers"])
        await runtime.turns.mcp.change(me["id"], "add_task", {"title": "Buy milk"})
        thread_id = thread_id_of(await ck.create("remove the milk"))
        shown = await listed(ck, thread_id)
        [n] = [int(i.split("_")[1]) for i in shown if i.startswith("msg_")]
        assert shown[f"reply_{n}"]["content"][0]["text"] == "Sure, let me remove it."
        events = await ck.stream(
            decide(thread_id, f"widget_{n}", "approval.approve", {"call_id": "c1"})
        )
        # The reply item the client has is continued, not added a second time.
        added = [e.item.id for e in events if e.type == "thread.item.added"]  # type: ignore[union-attr]
        assert f"reply_{n}" not in added
        said = reply_text(events)
        assert said.startswith("Sure, let me remove it.") and said.endswith("It's gone.")
        after = await listed(ck, thread_id)
        assert after[f"reply_{n}"]["content"][0]["text"] == said
        assert await tasks_of(http, me) == []


async def test_two_deletes_in_one_step_each_get_a_card_and_are_decided_one_by_one(
    settings: Settings, running: Any
) -> None:
    """A model that asks for two deletes at once: two cards ask; deciding one resumes the run,
    which pauses again at the other, whose card still asks — as a reload shows it."""
    model = ScriptedModel(
        [
            ModelStep.respond(
                lambda call: [
                    function_call("delete_task", {"task_id": 1}, call_id="c1"),
                    function_call("delete_task", {"task_id": 2}, call_id="c2"),
                ]
            ),
            ModelStep.respond(lambda call: [assistant_message("Done with both.")]),
        ]
    )
    runtime = await running(scripted_runtime(settings, model))
    async with api_client(runtime) as http:
        me = await sign_up(http)
        ck = ChatKitClient(http, me["headers"])
        for title in ("Buy milk", "Call the dentist"):
            await runtime.turns.mcp.change(me["id"], "add_task", {"title": title})
        events = await ck.create("delete both")
        thread_id = thread_id_of(events)
        asking = cards(events)
        assert sorted(widget["key"] for widget in asking.values()) == ["approval-c1", "approval-c2"]
        assert all(widget["status"] == ASKING for widget in asking.values())
        [second] = [item for item, widget in asking.items() if widget["key"] == "approval-c2"]

        # The second card first: the run resumes, then pauses again at the first call.
        kept = await ck.stream(decide(thread_id, second, "approval.decline", {"call_id": "c2"}))
        assert reply_text(kept) == ""
        now = {cards(kept)[item]["key"]: cards(kept)[item] for item in cards(kept)}
        assert now["approval-c2"]["status"]["text"] == "Cancelled: nothing changed"
        assert now["approval-c1"]["status"] == ASKING
        shown = await listed(ck, thread_id)
        # What streamed is what a reload lists, card for card and in the workflow.
        assert {item: shown[item]["widget"] for item in cards(kept)} == cards(kept)
        [workflow] = [item for item in shown.values() if item["type"] == "workflow"]
        assert sorted(t["title"] for t in workflow["workflow"]["tasks"]) == [
            "Cancelled: nothing changed",
            "Waiting for your approval",
        ]
        streamed = [e.item for e in kept if e.type == "thread.item.done"][-1]
        assert streamed.id == workflow["id"]
        assert (
            streamed.model_dump(mode="json")["workflow"]["tasks"] == workflow["workflow"]["tasks"]
        )
        [first] = [
            i for i, item in shown.items() if item.get("widget", {}).get("key") == "approval-c1"
        ]

        gone = await ck.stream(decide(thread_id, first, "approval.approve", {"call_id": "c1"}))
        assert cards(gone)[first]["status"]["text"] == "Deleted task 1"
        assert reply_text(gone) == "Done with both."
        assert await tasks_of(http, me) == [(2, "Call the dentist")]
        shown = await listed(ck, thread_id)
        assert shown[first]["widget"] == cards(gone)[first]
        assert [buttons(item["widget"]) for item in shown.values() if item["type"] == "widget"] == [
            [],
            [],
        ]


@needs_redis
@pytest.mark.parametrize("provider", PROVIDERS)
async def test_approvals_given_on_another_worker_after_the_first_has_gone(
    provider: str, database_url: str, running: Any, standin: OpenAIStandIn
) -> None:
    """Worker one pauses two threads' deletes and shuts down; worker two, sharing only the
    database and Redis, takes Cancel on one card and Confirm on the other and resumes each
    stored run: the model is told the truth each time (the decline, the deleted task)."""
    settings = provider_settings(database_url, provider, standin, reflex_redis_url=REDIS_URL)
    standin.script(
        tool_call("delete_task", {"task_id": 1}, call_id="call_del_1"),
        tool_call("delete_task", {"task_id": 2}, call_id="call_del_2"),
        reply("Kept it."),
        reply("Deleted task 2."),
    )
    one = Runtime(settings)
    async with one.running(), api_client(one) as http:
        # Made in the database: signing up through the API counts against this address in
        # Redis, whose windows outlive a test.
        async with one.db.session() as session:
            user = await UserService(session).sign_up("ada@example.com", PASSWORD)
        me = {"id": user.id, "headers": bearer(settings, user.id, user.email)}
        for title in ("Buy milk", "Call the dentist"):
            await one.turns.mcp.change(me["id"], "add_task", {"title": title})
        ck = ChatKitClient(http, me["headers"])
        paused = []
        for text in ("delete the milk", "delete the dentist"):
            events = await ck.create(text)
            paused.append((thread_id_of(events), *waiting_card(events)[:2]))
    [(milk_thread, milk_card, milk_call), (dentist_thread, dentist_card, dentist_call)] = paused
    assert (milk_call, dentist_call) == ("call_del_1", "call_del_2")

    two = await running(Runtime(settings))
    async with api_client(two) as http:
        ck = ChatKitClient(http, me["headers"])
        kept = await ck.stream(
            decide(milk_thread, milk_card, "approval.decline", {"call_id": milk_call})
        )
        assert reply_text(kept) == "Kept it."
        assert cards(kept)[milk_card]["status"]["text"] == "Cancelled: nothing changed"
        told = standin.model_requests[-1].function_outputs()
        assert told["call_del_1"] == DECLINED

        gone = await ck.stream(
            decide(dentist_thread, dentist_card, "approval.approve", {"call_id": dentist_call})
        )
        assert reply_text(gone) == "Deleted task 2."
        assert effects(gone) == ["tasks_changed"]
        result = json.loads(standin.model_requests[-1].function_outputs()["call_del_2"])
        assert (result["task_id"], result["status"]) == (2, "deleted")
        assert await tasks_of(http, me) == [(1, "Buy milk")]
        for thread, card in ((milk_thread, milk_card), (dentist_thread, dentist_card)):
            shown = await listed(ck, thread)
            assert buttons(shown[card]["widget"]) == []
            assert list(shown)[-1].startswith("reply_")
    async with two.db.session() as session:
        statuses = {m.status for m in (await session.exec(select(Message))).all()}  # type: ignore[arg-type]
    assert TurnStatus.AWAITING.value not in statuses


async def test_a_failed_question_whose_decision_was_lost_shows_no_waiting_call(
    settings: Settings, running: Any
) -> None:
    """The worker that took a Confirm died before the delete ran: once its lease is out the
    question reads failed, and a reload shows neither a card nor a workflow task still
    "Waiting for your approval" (nothing waits: a retry asks again)."""
    lease = Settings(**{**settings.model_dump(), "turn_lease_seconds": 2})
    runtime = await running(Runtime(lease))
    async with api_client(runtime) as http:
        me = await sign_up(http)
        ck = ChatKitClient(http, me["headers"])
        thread_id, _, card_id, call_id, _ = await paused_with_a_card(ck)
        lost = await runtime.turns.prepare_decision(me["id"], thread_id, call_id, True)
        assert lost.slot is not None
        await lost.slot.release()
        await asyncio.sleep(lease.turn_lease_seconds + 0.5)
        shown = await listed(ck, thread_id)
    said = json.dumps(shown)
    assert card_id not in shown
    assert ASKING["text"] not in said
    assert any(item["type"] == "assistant_message" for item in shown.values())  # the note
