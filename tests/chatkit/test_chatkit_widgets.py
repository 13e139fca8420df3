"""Tasks as ChatKit widgets, their buttons, effects and progress: in ChatKit's own request
shapes, against the real API app, turn engine, MCP server and database (SQLite and
PostgreSQL), with the offline model and with the OpenAI stand-in."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from typing import Any

import httpx
import pytest
from agents.testing import ModelStep, ScriptedModel, assistant_message, function_call
from chatkit.types import (
    ClientEffectEvent,
    ErrorEvent,
    ProgressUpdateEvent,
    ThreadStreamEvent,
)

from taskpilot.core.config import Settings
from taskpilot.runtime import Runtime
from taskpilot.services.tasks import TaskService
from tests.support.chatkit_client import (
    ChatKitClient,
    Person,
    action,
    decide,
    first_turn,
    item_ids,
    thread_id_of,
)
from tests.support.harness import api_client, scripted_runtime, sign_up
from tests.support.openai_standin import OpenAIStandIn, reply, tool_call
from tests.support.providers import PROVIDERS, provider_settings


def calls(name: str, arguments: dict[str, Any], call_id: str) -> ModelStep:
    """A model step that calls one tool."""
    return ModelStep.respond(lambda call: [function_call(name, arguments, call_id=call_id)])


def says(text: str) -> ModelStep:
    """A model step that answers."""
    return ModelStep.respond(lambda call: [assistant_message(text)])


class Gate:
    """A model step that answers only once the test opens the gate (a reply still coming)."""

    def __init__(self) -> None:
        self.reached, self.opened = asyncio.Event(), asyncio.Event()

    def says(self, text: str) -> ModelStep:
        async def held(call: Any) -> Any:
            self.reached.set()
            await self.opened.wait()
            return [assistant_message(text)]

        return ModelStep.respond(held)


def untyped(thread_id: str, item_id: str) -> dict[str, Any]:
    """A sync action whose `action` has no `type` (ChatKit's model lets that through)."""
    params = {"thread_id": thread_id, "item_id": item_id, "action": {"payload": {"task_id": 1}}}
    return {"type": "threads.sync_custom_action", "params": params}


async def press(ck: ChatKitClient, thread_id: str, item_id: str, kind: str, task: int) -> Any:
    """Press a widget's button; the widget it answers with."""
    answer = await ck.ok(action(thread_id, item_id, kind, {"task_id": task}))
    assert answer["updated_item"]["id"] == item_id
    return answer["updated_item"]["widget"]


def widgets(events: list[ThreadStreamEvent]) -> dict[str, Any]:
    """The widget items a stream finished, by id, as JSON."""
    return {
        event.item.id: event.item.model_dump(mode="json")
        for event in events
        if event.type == "thread.item.done" and event.item.type == "widget"
    }


def rows(widget: dict[str, Any]) -> list[dict[str, Any]]:
    """Each task row of a widget: title, whether struck through, caption, tags, buttons."""
    found = []
    for child in widget["children"]:
        row = child["children"][0] if widget["type"] == "ListView" else child
        if row["children"][0]["type"] != "Icon":  # a card's Undo, below its task's row
            continue
        _, text, *buttons = row["children"]
        title, caption, *tags = text["children"]
        found.append(
            {
                "title": title["value"],
                "struck": title.get("lineThrough", False),
                "caption": caption["value"],
                "tags": [badge["label"] for badge in tags[0]["children"]] if tags else [],
                "buttons": [
                    (button["label"], button["onClickAction"]["type"]) for button in buttons
                ],
            }
        )
    return found


async def tasks_of(http: httpx.AsyncClient, me: dict[str, Any]) -> list[tuple[int, str, bool]]:
    listed = await http.get(f"/api/{me['id']}/tasks", headers=me["headers"])
    return [(t["task_id"], t["title"], t["completed"]) for t in listed.json()["tasks"]]


OPEN = [("Done", "task.complete"), ("Delete", "task.delete")]
DONE = [("Reopen", "task.reopen"), ("Delete", "task.delete")]


# --- widgets in the stream and after a reload -------------------------------------------------


async def test_an_added_task_streams_a_card_progress_and_an_effect_and_keeps_the_card(
    ada: Person,
) -> None:
    ck, _ = ada
    events = await ck.create("add buy milk tomorrow, high priority")
    thread_id = thread_id_of(events)
    n = await first_turn(ck, thread_id)

    progress = [event for event in events if isinstance(event, ProgressUpdateEvent)]
    assert [event.text for event in progress] == ["Adding a task…"]
    effects = [event for event in events if isinstance(event, ClientEffectEvent)]
    assert [(e.name, e.data) for e in effects] == [
        ("tasks_changed", {"tool": "add_task", "task_id": 1})
    ]
    # The effect follows the tool's result, before the reply: the panel can refresh mid-turn.
    kinds = [event.type for event in events]
    assert kinds.index("client_effect") < kinds.index(
        "thread.item.added", kinds.index("client_effect")
    )

    card = widgets(events)[f"widget_{n}"]
    assert card["widget"]["type"] == "Card"
    assert card["widget"]["status"] == {"text": "Added task 1", "icon": "check-circle"}
    [row] = rows(card["widget"])
    assert row["title"] == "Buy milk" and not row["struck"]
    assert row["caption"].startswith("Task 1 · due ") and row["caption"].endswith("high priority")
    assert row["buttons"] == OPEN

    # Reloaded: the same card, under the same id, where the stream put it.
    page = await ck.items(thread_id, order="asc")
    assert item_ids(page) == [f"msg_{n}", f"tools_{n}", f"widget_{n}", f"reply_{n}"]
    assert page["data"][2]["widget"] == card["widget"]


async def test_a_listing_is_a_list_widget_with_each_tasks_state_and_buttons(
    ada: Person, offline_runtime: Runtime
) -> None:
    ck, me = ada
    thread_id = thread_id_of(await ck.create("add buy milk #home"))
    await ck.add(thread_id, "add call the dentist")
    await offline_runtime.turns.mcp.change(me["id"], "complete_task", {"task_id": 2})
    events = await ck.add(thread_id, "show all my tasks")

    assert [e.text for e in events if isinstance(e, ProgressUpdateEvent)] == [
        "Looking up your tasks…"
    ]
    assert not [e for e in events if isinstance(e, ClientEffectEvent)]  # a listing changes nothing
    [(listing_id, listing)] = widgets(events).items()
    assert listing_id.startswith("widget_")
    assert listing["widget"]["type"] == "ListView"
    assert listing["widget"]["status"]["text"] == "2 tasks"
    assert [
        (r["title"], r["struck"], r["tags"], r["buttons"]) for r in rows(listing["widget"])
    ] == [
        ("Buy milk", False, ["#home"], OPEN),
        ("Call the dentist", True, [], DONE),
    ]
    page = await ck.items(thread_id, order="desc", limit=2)
    assert page["data"][1]["id"] == listing_id
    assert page["data"][1]["widget"] == listing["widget"]


# --- actions ----------------------------------------------------------------------------------


async def test_buttons_change_the_task_through_the_tools_and_the_widget_in_place(
    ada: Person, offline_client: httpx.AsyncClient
) -> None:
    ck, me = ada
    thread_id = thread_id_of(await ck.create("add buy milk"))
    card_id = f"widget_{await first_turn(ck, thread_id)}"
    await ck.add(thread_id, "add call the dentist")
    events = await ck.add(thread_id, "show all my tasks")
    [listing_id] = widgets(events)

    done = await press(ck, thread_id, listing_id, "task.complete", 1)
    assert [(r["title"], r["struck"], r["buttons"]) for r in rows(done)] == [
        ("Buy milk", True, DONE),
        ("Call the dentist", False, OPEN),
    ]
    assert await tasks_of(offline_client, me) == [
        (1, "Buy milk", True),
        (2, "Call the dentist", False),
    ]
    # Another widget showing the same task reads the truth too, after a reload.
    page = await ck.items(thread_id, order="asc", limit=50)
    by_id = {item["id"]: item for item in page["data"]}
    assert rows(by_id[card_id]["widget"])[0]["buttons"] == DONE
    assert by_id[listing_id]["widget"] == done

    reopened = await press(ck, thread_id, card_id, "task.reopen", 1)
    assert rows(reopened)[0]["buttons"] == OPEN
    assert (await tasks_of(offline_client, me))[0] == (1, "Buy milk", False)

    gone = await press(ck, thread_id, listing_id, "task.delete", 2)
    assert [(r["title"], r["struck"], r["buttons"]) for r in rows(gone)] == [
        ("Buy milk", False, OPEN),
        ("Call the dentist", True, []),
    ]
    assert "deleted" in rows(gone)[1]["caption"]
    assert await tasks_of(offline_client, me) == [(1, "Buy milk", False)]
    page = await ck.items(thread_id, order="asc", limit=50)
    assert {item["id"]: item for item in page["data"]}[listing_id]["widget"] == gone


async def test_a_task_changed_elsewhere_shows_as_it_is_instead_of_an_error(
    ada: Person, offline_runtime: Runtime
) -> None:
    ck, me = ada
    thread_id = thread_id_of(await ck.create("add buy milk"))
    card_id = f"widget_{await first_turn(ck, thread_id)}"
    # Deleted from the task panel (the same MCP path) while the card still offers "Done".
    await offline_runtime.turns.mcp.change(me["id"], "delete_task", {"task_id": 1})
    widget = await press(ck, thread_id, card_id, "task.complete", 1)
    assert rows(widget)[0]["buttons"] == [] and rows(widget)[0]["struck"]


async def test_a_task_deleted_while_its_button_is_pressed_reads_deleted(
    ada: Person, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The race the check before the tool call cannot see: the task goes between the widget
    being read and the tool running. The tool's refusal is answered with the widget as it is;
    deleting from the chat then shows no task widget, only the card asking to approve it."""
    ck, _ = ada
    thread_id = thread_id_of(await ck.create("add buy milk"))
    card_id = f"widget_{await first_turn(ck, thread_id)}"
    complete = TaskService.complete

    async def deleted_first(self: TaskService, number: int, *args: Any) -> Any:
        await TaskService.delete(self, number)
        return await complete(self, number, *args)

    monkeypatch.setattr(TaskService, "complete", deleted_first)
    widget = await press(ck, thread_id, card_id, "task.complete", 1)
    assert rows(widget)[0]["buttons"] == [] and "deleted" in rows(widget)[0]["caption"]
    events = await ck.add(thread_id, "add call the dentist")
    events += await ck.add(thread_id, "delete task 2")
    # The added task's card; the deletion waits for approval (`test_chatkit_approvals.py`).
    keys = [shown["widget"]["key"] for shown in widgets(events).values()]
    assert len(keys) == 2 and keys[0] == "task-2" and keys[1].startswith("approval-")


async def test_an_action_on_another_persons_widget_is_a_404_and_changes_nothing(
    ada: Person, bob: Person, offline_client: httpx.AsyncClient
) -> None:
    ada_ck, ada_me = ada
    bob_ck, _ = bob
    thread_id = thread_id_of(await ada_ck.create("add buy milk"))
    card_id = f"widget_{await first_turn(ada_ck, thread_id)}"
    bobs_thread = thread_id_of(await bob_ck.create("hello"))

    for thread in (thread_id, bobs_thread):  # Ada's thread, or Bob's naming Ada's widget
        answer = await bob_ck.send(action(thread, card_id, "task.complete", {"task_id": 1}))
        assert answer.status_code == 404, answer.text
        assert "not found" in answer.json()["detail"]
    assert await tasks_of(offline_client, ada_me) == [(1, "Buy milk", False)]


async def test_bad_actions_are_clear_400s_before_anything_changes(
    ada: Person, offline_client: httpx.AsyncClient
) -> None:
    ck, me = ada
    thread_id = thread_id_of(await ck.create("add buy milk"))
    n = await first_turn(ck, thread_id)
    card = f"widget_{n}"
    cases: list[tuple[Any, str]] = [
        (action(thread_id, card, "task.archive", {"task_id": 1}), "Unknown widget action"),
        (untyped(thread_id, card), "needs a type"),
        (action(thread_id, card, "task.complete", None), "payload must be"),
        (action(thread_id, card, "task.complete", {"task_id": "1"}), "payload must be"),
        (action(thread_id, card, "task.complete", {"task_id": 0}), "payload must be"),
        (action(thread_id, card, "task.complete", {"task_id": 1, "x": 2}), "payload must be"),
        (action(thread_id, None, "task.complete", {"task_id": 1}), "must name the task widget"),
        (action(thread_id, f"msg_{n}", "task.complete", {"task_id": 1}), "must name the task"),
        (action(thread_id, card, "task.delete", {"task_id": 7}), "does not show task 7"),
        # A button's action sent the way a card's decision is (threads.custom_action): refused.
        (decide(thread_id, card, "task.complete", {"task_id": 1}), "threads.sync_custom_action"),
    ]
    for request, reason in cases:
        answer = await ck.send(request)
        assert answer.status_code == 400, (request, answer.text)
        assert reason in answer.json()["detail"], answer.text
    # A button the widget does not offer now (a screen drawn before the task changed): the
    # widget as it is, and no change.
    stale = await press(ck, thread_id, card, "task.reopen", 1)
    assert rows(stale)[0]["buttons"] == OPEN
    missing = await ck.send(action(thread_id, f"widget_{n}_4", "task.complete", {"task_id": 1}))
    assert missing.status_code == 404
    assert await tasks_of(offline_client, me) == [(1, "Buy milk", False)]


async def test_a_button_works_while_a_reply_is_streaming(settings: Settings, running: Any) -> None:
    """`threads.sync_custom_action` is not a turn: it is answered while the thread's reply
    is still coming, and that reply then finishes normally."""
    gate = Gate()
    model = ScriptedModel(
        [
            calls("add_task", {"title": "Milk"}, "call_milk"),
            says("Added."),
            gate.says("Done at last."),
        ]
    )
    runtime = await running(scripted_runtime(settings, model))
    async with api_client(runtime) as http:
        me = await sign_up(http)
        ck = ChatKitClient(http, me["headers"])
        thread_id = thread_id_of(await ck.create("add milk"))
        card_id = f"widget_{await first_turn(ck, thread_id)}"
        answering = asyncio.create_task(ck.add(thread_id, "take your time"))
        await asyncio.wait_for(gate.reached.wait(), 10)
        widget = await press(ck, thread_id, card_id, "task.complete", 1)
        assert rows(widget)[0]["buttons"] == DONE
        gate.opened.set()
        events = await answering
        assert not [event for event in events if isinstance(event, ErrorEvent)]
        assert await tasks_of(http, me) == [(1, "Milk", True)]


@pytest.mark.parametrize(
    ("first", "second", "after"),
    [
        ("task.complete", "task.delete", []),
        ("task.delete", "task.delete", []),
        ("task.complete", "task.complete", [(1, "Buy milk", True)]),
    ],
)
async def test_two_presses_at_once_on_one_task_leave_it_consistent(
    ada: Person, offline_client: httpx.AsyncClient, first: str, second: str, after: list[Any]
) -> None:
    """Two tabs press buttons of the same task at the same moment: both are answered (one of
    them, finding the task changed, with the widget as it is now) and the database holds one
    outcome, whatever their order."""
    ck, me = ada
    thread_id = thread_id_of(await ck.create("add buy milk"))
    card = f"widget_{await first_turn(ck, thread_id)}"
    answers = await asyncio.gather(
        ck.send(action(thread_id, card, first, {"task_id": 1})),
        ck.send(action(thread_id, card, second, {"task_id": 1})),
    )
    assert [answer.status_code for answer in answers] == [200, 200], [a.text for a in answers]
    assert await tasks_of(offline_client, me) == after
    page = await ck.items(thread_id, order="asc")
    [shown] = [item["widget"] for item in page["data"] if item["id"] == card]
    expected = DONE if after else []  # a deleted task keeps its place, without buttons
    assert rows(shown)[0]["buttons"] == expected


async def test_two_presses_of_done_on_a_repeating_task_complete_one_occurrence(
    ada: Person, offline_client: httpx.AsyncClient
) -> None:
    """A repeating task's Done names the date it completes, as the task panel's does: two
    presses at once (two tabs, a double click) move the task one step, not two."""
    ck, me = ada
    thread_id = thread_id_of(await ck.create("add water the ferns every monday"))
    card = f"widget_{await first_turn(ck, thread_id)}"
    before = (await offline_client.get(f"/api/{me['id']}/tasks", headers=me["headers"])).json()
    [task] = before["tasks"]
    assert task["repeat"] and task["due_date"]
    payload = {"task_id": 1, "due_date": task["due_date"]}
    [shown] = [item["widget"] for item in (await ck.items(thread_id))["data"] if item["id"] == card]
    assert payload in [
        button["onClickAction"]["payload"]
        for row in shown["children"]
        for button in (row["children"][0] if shown["type"] == "ListView" else row)["children"]
        if isinstance(button, dict) and button.get("type") == "Button"
    ]
    for _ in range(3):  # three rounds: each moves the task one week on
        due = payload["due_date"]
        answers = await asyncio.gather(
            *(ck.send(action(thread_id, card, "task.complete", payload)) for _ in range(2))
        )
        assert [a.status_code for a in answers] == [200, 200], [a.text for a in answers]
        [after] = (
            await offline_client.get(f"/api/{me['id']}/tasks", headers=me["headers"])
        ).json()["tasks"]
        assert not after["completed"]
        moved = date.fromisoformat(after["due_date"]) - date.fromisoformat(str(due))
        assert moved == timedelta(days=7)
        payload = {"task_id": 1, "due_date": after["due_date"]}
    bad = await ck.send(action(thread_id, card, "task.complete", {"task_id": 1, "due_date": "x"}))
    assert bad.status_code == 400


# --- with a real model kind ---------------------------------------------------------------------


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_widgets_come_from_tool_results_whichever_model_called_the_tools(
    provider: str, database_url: str, running: Any, standin: OpenAIStandIn
) -> None:
    settings = provider_settings(database_url, provider, standin)
    standin.script(
        tool_call("add_task", {"title": "Buy milk", "priority": "high"}, call_id="call_add_1"),
        reply("Added task 1."),
        tool_call("list_tasks", {"status": "all"}, call_id="call_list_1"),
        reply("You have 1 task."),
    )
    runtime = await running(Runtime(settings))
    async with api_client(runtime) as http:
        me = await sign_up(http)
        ck = ChatKitClient(http, me["headers"])
        first = await ck.create("add buy milk, high priority")
        thread_id = thread_id_of(first)
        second = await ck.add(thread_id, "what do I have?")
        [card_id] = widgets(first)
        [listing_id] = widgets(second)
        assert [e.name for e in first if isinstance(e, ClientEffectEvent)] == ["tasks_changed"]
        widget = await press(ck, thread_id, listing_id, "task.complete", 1)
        assert rows(widget)[0]["buttons"] == DONE
        page = await ck.items(thread_id, order="asc")
        assert await tasks_of(http, me) == [(1, "Buy milk", True)]
    listed = {item["id"]: item for item in page["data"]}
    assert listed[card_id]["widget"]["type"] == "Card"
    assert rows(listed[card_id]["widget"])[0]["buttons"] == DONE
    assert listed[listing_id]["widget"] == widget


# --- found in review -----------------------------------------------------------------------


async def test_a_widget_streamed_by_the_running_turn_acts_before_the_reply_ends(
    settings: Settings, running: Any
) -> None:
    gate = Gate()
    model = ScriptedModel(
        [
            calls("add_task", {"title": "Milk"}, "c1"),
            says("Added."),
            calls("list_tasks", {"status": "all"}, "c2"),
            gate.says("Here they are."),
        ]
    )
    runtime = await running(scripted_runtime(settings, model))
    async with api_client(runtime) as http:
        me = await sign_up(http)
        ck = ChatKitClient(http, me["headers"])
        thread_id = thread_id_of(await ck.create("add milk"))
        answering = asyncio.create_task(ck.add(thread_id, "list"))
        await asyncio.wait_for(gate.reached.wait(), 10)
        page = await ck.items(thread_id, order="asc", limit=50)
        n = max(int(i.split("_")[1]) for i in item_ids(page) if i.startswith("msg_"))
        assert f"widget_{n}" in item_ids(page)  # listed while the reply is still coming
        pressed = await ck.send(action(thread_id, f"widget_{n}", "task.complete", {"task_id": 1}))
        assert pressed.status_code == 200, pressed.text
        gate.opened.set()
        events = await answering
    assert list(widgets(events)) == [f"widget_{n}"]  # the id the stream gave it
    async with runtime.db.session() as session:
        [task] = await TaskService(session, me["id"]).find()
    assert task.completed


async def test_a_retried_turn_streams_its_widgets_under_their_stored_ids(
    settings: Settings, running: Any
) -> None:
    model = ScriptedModel(
        [
            calls("add_task", {"title": "Milk"}, "c1"),
            says("Added Milk."),
            calls("add_task", {"title": "Eggs"}, "c2"),
            says("Added Eggs."),
        ]
    )
    runtime = await running(scripted_runtime(settings, model))
    async with api_client(runtime) as http:
        me = await sign_up(http)
        ck = ChatKitClient(http, me["headers"])
        thread_id = thread_id_of(await ck.create("add milk"))
        n = await first_turn(ck, thread_id)
        streamed = widgets(await ck.retry(thread_id, f"msg_{n}"))
        page = await ck.items(thread_id, order="asc", limit=50)
        stored = {
            item["id"]: rows(item["widget"])[0]["title"]
            for item in page["data"]
            if item["type"] == "widget"
        }
        [(widget_id, widget)] = streamed.items()
        assert stored[widget_id] == rows(widget["widget"])[0]["title"] == "Eggs"
        pressed = await ck.send(action(thread_id, widget_id, "task.complete", {"task_id": 2}))
        assert pressed.status_code == 200, pressed.text


async def test_a_thread_whose_first_turn_fails_is_named_from_its_message(
    settings: Settings, running: Any
) -> None:
    def broken(call: Any) -> Any:
        raise RuntimeError("model down")

    runtime = await running(scripted_runtime(settings, ScriptedModel([ModelStep.respond(broken)])))
    async with api_client(runtime) as http:
        me = await sign_up(http)
        ck = ChatKitClient(http, me["headers"])
        events = await ck.create("plan the garden party")
        assert (await ck.thread(thread_id_of(events)))["title"] == "plan the garden party"
