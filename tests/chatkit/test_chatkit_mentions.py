"""@-mentioned tasks and annotated replies through TaskPilot's ChatKit server, in ChatKit's own
request shapes, on SQLite and PostgreSQL: a mention reaches the model as the task's number
(never trusted to be the person's: the MCP tools decide that), replies carry annotations
naming the tasks they talk about, while streaming and after a reload, and the tasks API that
the composer's tag search uses offers only the person's own tasks."""

from __future__ import annotations

from typing import Any

import httpx
from chatkit.types import (
    InferenceOptions,
    ThreadAddUserMessageParams,
    ThreadCreateParams,
    ThreadsAddUserMessageReq,
    ThreadsCreateReq,
    ThreadStreamEvent,
    UserMessageInput,
    UserMessageTagContent,
    UserMessageTextContent,
)

from taskpilot.chatkit.items import task_annotations, user_text
from taskpilot.data.models import ToolCall
from taskpilot.runtime import Runtime
from tests.support.chatkit_client import ChatKitClient, first_turn, texts, thread_id_of
from tests.support.harness import api_client, sign_up
from tests.support.openai_standin import OpenAIStandIn, reply, tool_call
from tests.support.providers import provider_settings


def mention(number: Any, title: str) -> UserMessageTagContent:
    """The tag ChatKit puts in a message for a task picked after "@" (our wrapper's entity)."""
    return UserMessageTagContent(
        id=f"task_{number}", text=title, data={"task_id": number}, interactive=True
    )


def composed(*parts: str | UserMessageTagContent) -> UserMessageInput:
    """What the composer sends: text and tags, in order."""
    content = [UserMessageTextContent(text=p) if isinstance(p, str) else p for p in parts]
    return UserMessageInput(content=content, attachments=[], inference_options=InferenceOptions())


async def create(ck: ChatKitClient, *parts: str | UserMessageTagContent) -> list[Any]:
    return await ck.stream(ThreadsCreateReq(params=ThreadCreateParams(input=composed(*parts))))


async def add(ck: ChatKitClient, thread_id: str, *parts: str | UserMessageTagContent) -> list[Any]:
    params = ThreadAddUserMessageParams(thread_id=thread_id, input=composed(*parts))
    return await ck.stream(ThreadsAddUserMessageReq(params=params))


def reply_done(events: list[ThreadStreamEvent]) -> Any:
    """The finished assistant message of a stream."""
    [item] = [
        e.item  # type: ignore[union-attr]
        for e in events
        if e.type == "thread.item.done" and e.item.type == "assistant_message"  # type: ignore[union-attr]
    ]
    return item


# --- a mention is a number -----------------------------------------------------------------


def test_a_tag_becomes_task_n_only_when_it_carries_a_plausible_number() -> None:
    def text(data: dict[str, Any]) -> str:
        tag = UserMessageTagContent(id="t", text="Buy milk", data=data)
        return user_text([UserMessageTextContent(text="complete "), tag])

    assert text({"task_id": "3"}) == "complete task 3"  # ChatKit's entities carry strings
    assert text({"task_id": 3}) == "complete task 3"
    for bad in ("0", "-1", "3.5", "x", "", "99999999999", "³", 0, True, 2**40, None, [3]):
        assert text({"task_id": bad}) == "complete Buy milk", bad
    assert text({}) == "complete Buy milk"  # a tag that is not a task: its words


async def test_a_mentioned_task_reaches_the_model_as_its_number(
    database_url: str, running: Any, standin: OpenAIStandIn
) -> None:
    settings = provider_settings(database_url, "openai", standin)
    standin.script(
        tool_call("add_task", {"title": "Buy milk"}, call_id="call_add"),
        reply("Added Buy milk."),
        tool_call("complete_task", {"task_id": 1}, call_id="call_done"),
        reply("Done: Buy milk is complete."),
    )
    runtime = await running(Runtime(settings))
    async with api_client(runtime) as http:
        me = await sign_up(http)
        ck = ChatKitClient(http, me["headers"])
        thread_id = thread_id_of(await create(ck, "add buy milk"))
        events = await add(ck, thread_id, "please tick off ", mention("1", "Buy milk"), " now")
        tasks = (await http.get(f"/api/{me['id']}/tasks", headers=me["headers"])).json()
        page = await ck.items(thread_id, order="asc")
    standin.assert_done()
    # The model was asked about "task 1", not about the words of the tag.
    asked = standin.model_requests[2].conversation()[-1]
    assert asked["role"] == "user"
    assert "please tick off task 1 now" in str(asked["content"])
    assert "Buy milk" not in str(asked["content"])
    assert [(t["task_id"], t["completed"]) for t in tasks["tasks"]] == [(1, True)]
    # The question is stored as the model saw it.
    assert ("user_message", "please tick off task 1 now") in texts(page)
    assert reply_done(events).content[0].text == "Done: Buy milk is complete."


async def test_another_persons_task_number_is_not_acted_on(
    offline_client: httpx.AsyncClient,
) -> None:
    ada = await sign_up(offline_client, "ada@example.com")
    bob = await sign_up(offline_client, "bob@example.com")
    for title in ("bob secret plan", "bob second plan"):
        answer = await offline_client.post(
            f"/api/{bob['id']}/chat", json={"message": f"add {title}"}, headers=bob["headers"]
        )
        assert answer.status_code == 200, answer.text
    ck = ChatKitClient(offline_client, ada["headers"])
    # Ada has no task 2; Bob has. A tag naming it (crafted, or stale) is only a number.
    events = await create(ck, "complete ", mention("2", "Bob second plan"))
    answer = reply_done(events).content[0].text
    assert "2" in answer and "plan" not in answer.lower()
    assert reply_done(events).content[0].annotations == []
    bobs = (await offline_client.get(f"/api/{bob['id']}/tasks", headers=bob["headers"])).json()
    assert [(t["title"], t["completed"]) for t in bobs["tasks"]] == [
        ("Bob secret plan", False),
        ("Bob second plan", False),
    ]
    adas = (await offline_client.get(f"/api/{ada['id']}/tasks", headers=ada["headers"])).json()
    assert adas["tasks"] == []


# --- replies annotate the tasks they talk about ----------------------------------------------


def annotated(item: Any) -> list[tuple[str, str, dict[str, str], int | None]]:
    """(entity id, title, data, index) of each annotation of an assistant message."""
    return [
        (a.source.id, a.source.title, a.source.data, a.index)
        for part in item.content
        for a in part.annotations
    ]


async def test_replies_annotate_the_tasks_they_mention_while_streaming_and_after_a_reload(
    offline_client: httpx.AsyncClient,
) -> None:
    me = await sign_up(offline_client)
    ck = ChatKitClient(offline_client, me["headers"])
    thread_id = thread_id_of(await ck.create("add buy milk"))
    listing = await ck.add(thread_id, "add call mom")
    listing = await ck.add(thread_id, "what's still open?")
    streamed = reply_done(listing)
    text = streamed.content[0].text
    assert "Buy milk" in text and "Call mom" in text
    expected = [
        ("task_1", "Buy milk", {"task_id": "1"}, text.index("Buy milk") + len("Buy milk")),
        ("task_2", "Call mom", {"task_id": "2"}, text.index("Call mom") + len("Call mom")),
    ]
    assert sorted(annotated(streamed), key=lambda a: a[3]) == sorted(expected, key=lambda a: a[3])
    source = streamed.content[0].annotations[0].source
    assert source.type == "entity" and source.interactive and source.label.startswith("Task ")

    # After a reload the stored reply carries the same annotations.
    page = await ck.items(thread_id, order="asc")
    stored = [item for item in page["data"] if item["type"] == "assistant_message"]
    n = await first_turn(ck, thread_id)
    assert stored[0]["id"] == f"reply_{n}"
    first = stored[0]["content"][0]
    assert [(a["source"]["id"], a["source"]["title"]) for a in first["annotations"]] == [
        ("task_1", "Buy milk")
    ]
    last = stored[-1]["content"][0]
    listed = [
        (a["source"]["id"], a["source"]["title"], a["source"]["data"], a["index"])
        for a in last["annotations"]
    ]
    assert listed == sorted(expected, key=lambda a: a[3])


def test_annotations_name_only_tasks_the_tools_returned_and_the_reply_mentions() -> None:
    calls = [
        ToolCall(
            name="list_tasks",
            result={
                "tasks": [
                    {"task_id": 1, "title": "Buy milk", "completed": False},
                    {"task_id": 2, "title": "Walk", "completed": True},
                    {"task_id": 3, "title": "Unmentioned", "completed": False},
                    {"task_id": True, "title": "Not a number"},
                ]
            },
        ),
        ToolCall(name="delete_task", result={"task_id": 4, "title": "Gone", "status": "deleted"}),
        ToolCall(name="complete_task", result="Error: task 9 not found", is_error=True),
    ]
    text = "Task 2 is done; buy milk is open. Gone is gone, and task 9 was not found."
    found = task_annotations(text, calls)
    assert [(a.source.id, a.index, a.source.icon) for a in found] == [
        ("task_2", len("Task 2"), "check-circle"),
        ("task_1", text.index("buy milk") + len("buy milk"), "empty-circle"),
    ]
    assert task_annotations(
        "#12 is not #1", [ToolCall(name="x", result={"task_id": 1, "title": "A"})]
    )[0].index == len("#12 is not #1")


# --- the tag search's source: the tasks API -------------------------------------------------


async def test_the_task_search_behind_mentions_offers_only_your_own_tasks(
    offline_client: httpx.AsyncClient,
) -> None:
    ada = await sign_up(offline_client, "ada@example.com")
    bob = await sign_up(offline_client, "bob@example.com")
    for who, message in ((ada, "add buy milk"), (bob, "add buy milk powder"), (ada, "add call")):
        answer = await offline_client.post(
            f"/api/{who['id']}/chat", json={"message": message}, headers=who["headers"]
        )
        assert answer.status_code == 200, answer.text
    search = f"/api/{ada['id']}/tasks"
    found = await offline_client.get(
        search, params={"search": "milk", "limit": 20}, headers=ada["headers"]
    )
    assert [(t["task_id"], t["title"]) for t in found.json()["tasks"]] == [(1, "Buy milk")]
    # Bob asking on Ada's path is refused, whatever he searches for.
    refused = await offline_client.get(search, params={"search": "milk"}, headers=bob["headers"])
    assert refused.status_code == 403 and "milk" not in refused.text.lower()
    # Bounded: the API caps a page, and says so in its OpenAPI document.
    assert (
        await offline_client.get(search, params={"limit": 500}, headers=ada["headers"])
    ).status_code == 422
    spec = (await offline_client.get("/api/openapi.json")).json()
    params = {p["name"]: p for p in spec["paths"]["/api/{user_id}/tasks"]["get"]["parameters"]}
    assert "search" in params and params["limit"]["schema"]["maximum"] == 200
