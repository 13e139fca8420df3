"""TaskPilot's self-hosted ChatKit server over HTTP: every request type ChatKit's UI sends,
built with `openai-chatkit`'s own request models, against the real API app, agent service,
MCP server and database (SQLite and PostgreSQL). The offline model answers unless a test is
about the model."""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

import httpx
import pytest
from agents.testing import ModelStep, ScriptedModel, assistant_message, function_call
from chatkit.types import (
    AttachmentCreateParams,
    AttachmentsCreateReq,
    ErrorEvent,
    InferenceOptions,
    ThreadAddUserMessageParams,
    ThreadCreateParams,
    ThreadsAddUserMessageReq,
    ThreadsCreateReq,
    UserMessageInput,
    UserMessageTextContent,
)

from taskpilot.core.config import Settings
from taskpilot.core.errors import DATABASE_DOWN, SOMETHING_WENT_WRONG
from taskpilot.runtime import Runtime
from tests.support.chatkit_client import (
    ChatKitClient,
    Person,
    event_summary,
    first_turn,
    item_ids,
    texts,
    thread_id_of,
    user_input,
)
from tests.support.harness import api_client, scripted_runtime, sign_up

ADD_MILK = "add buy milk tomorrow, high priority"


# --- a turn ------------------------------------------------------------------------------------


async def test_a_turn_with_a_tool_call_streams_its_workflow_and_keeps_it(
    ada: Person, offline_client: httpx.AsyncClient
) -> None:
    ck, me = ada
    events = await ck.create(ADD_MILK)
    thread_id = thread_id_of(events)
    n = await first_turn(ck, thread_id)
    summary = event_summary(events)
    user_item = summary[1]
    assert user_item.startswith("thread.item.done:user_message:")
    # The workflow appears while the tool runs, gets its result, and folds before the reply.
    tools = [line for line in summary if line.endswith(f":tools_{n}")]
    assert tools == [
        f"thread.item.added:workflow:tools_{n}",
        f"thread.item.updated:workflow.task.updated:tools_{n}",
        f"thread.item.done:workflow:tools_{n}",
    ]
    reply = [line for line in summary if line.endswith(f":reply_{n}")]
    assert reply[0] == f"thread.item.added:assistant_message:reply_{n}"
    assert reply[1] == f"thread.item.updated:assistant_message.content_part.added:reply_{n}"
    assert f"thread.item.updated:assistant_message.content_part.text_delta:reply_{n}" in reply
    assert reply[-1] == f"thread.item.done:assistant_message:reply_{n}"
    assert summary.index(tools[-1]) < summary.index(reply[0])
    done_reply = [e for e in events if e.type == "thread.item.done" and e.item.id == f"reply_{n}"]
    streamed_text = done_reply[0].item.content[0].text  # type: ignore[union-attr]
    assert "Buy milk" in streamed_text
    # The new thread is named after its first exchange (offline: the task it added), once
    # the reply is in (`test_chatkit_titles.py`).
    updated = [e for e in events if e.type == "thread.updated"]
    assert updated[-1].thread.title == "Buy milk"  # type: ignore[union-attr]
    assert summary.index("thread.updated") > summary.index(reply[-1])

    # A later request: the tool call is still there, under the same ids as streamed.
    page = await ck.items(thread_id, order="asc")
    assert item_ids(page) == [f"msg_{n}", f"tools_{n}", f"widget_{n}", f"reply_{n}"]
    assert texts(page) == [
        ("user_message", ADD_MILK),
        ("workflow", "Added task 1 · Buy milk"),
        ("widget", "Added task 1"),
        ("assistant_message", streamed_text),
    ]
    task = page["data"][1]["workflow"]["tasks"][0]
    assert task["status_indicator"] == "complete"
    assert "high" in task["content"]
    # And it really happened, through the MCP tools, for this user.
    listed = await offline_client.get(f"/api/{me['id']}/tasks", headers=me["headers"])
    assert [(t["title"], t["priority"]) for t in listed.json()["tasks"]] == [("Buy milk", "high")]


async def test_a_second_message_continues_the_thread(
    ada: Person,
) -> None:
    ck, _ = ada
    thread_id = thread_id_of(await ck.create(ADD_MILK))
    events = await ck.add(thread_id, "what's still open?")
    assert not [e for e in events if e.type == "thread.created"]
    done = [
        e for e in events if e.type == "thread.item.done" and e.item.type == "assistant_message"
    ]
    assert "Buy milk" in done[0].item.content[0].text  # type: ignore[union-attr]
    page = await ck.items(thread_id, order="asc")
    assert [kind for kind, _ in texts(page)] == [
        "user_message",
        "workflow",
        "widget",
        "assistant_message",
    ] * 2
    # Ids are unique across the thread.
    assert len(set(item_ids(page))) == len(item_ids(page))
    # The title stays the first exchange's.
    assert (await ck.thread(thread_id))["title"] == "Buy milk"


async def test_threads_list_get_and_item_pages(ada: Person) -> None:
    ck, _ = ada
    first = thread_id_of(await ck.create("add first thing"))
    second = thread_id_of(await ck.create("add second thing"))
    await ck.add(first, "add third thing")  # the first thread is now the most recent

    listed = await ck.threads()
    assert [t["id"] for t in listed["data"]] == [first, second]
    assert listed["has_more"] is False
    one = await ck.threads(limit=1)
    assert [t["id"] for t in one["data"]] == [first] and one["has_more"] is True
    rest = await ck.threads(limit=1, after=one["after"])
    assert [t["id"] for t in rest["data"]] == [second] and rest["has_more"] is False
    oldest_first = await ck.threads(order="asc")
    assert [t["id"] for t in oldest_first["data"]] == [second, first]

    thread = await ck.thread(first)
    assert thread["id"] == first and thread["title"] == "First thing"  # the task it added
    assert [item["type"] for item in thread["items"]["data"]] == [
        "user_message",
        "workflow",
        "widget",
        "assistant_message",
    ] * 2

    # Pages of items, both ways, continue exactly where the last one stopped.
    everything = item_ids(await ck.items(first, order="asc", limit=50))
    assert len(everything) == 8
    for order, expected in (("asc", everything), ("desc", everything[::-1])):
        seen, after = [], None
        while True:
            page = await ck.items(first, order=order, limit=4, after=after)
            seen += item_ids(page)
            if not page["has_more"]:
                break
            after = page["after"]
        assert seen == expected
    # After any item: what follows it, in either order.
    assert item_ids(await ck.items(first, order="asc", after=everything[1])) == everything[2:]
    assert item_ids(await ck.items(first, order="desc", after=everything[1])) == everything[:1]


async def test_rename_and_delete(ada: Person, offline_client: httpx.AsyncClient) -> None:
    ck, me = ada
    thread_id = thread_id_of(await ck.create(ADD_MILK))
    renamed = await ck.rename(thread_id, "  Groceries  ")
    assert renamed["title"] == "Groceries"
    native = await offline_client.get(
        f"/api/{me['id']}/conversations/{thread_id}", headers=me["headers"]
    )
    assert native.json()["title"] == "Groceries"

    empty = await ck.send(
        {"type": "threads.update", "params": {"thread_id": thread_id, "title": " "}}
    )
    assert empty.status_code == 400
    assert empty.json()["detail"] == "A conversation title can't be empty."

    assert await ck.delete(thread_id) == {}
    gone = await ck.send({"type": "threads.get_by_id", "params": {"thread_id": thread_id}})
    assert gone.status_code == 404
    assert gone.json()["detail"] == "That thread was not found."
    assert (await ck.threads())["data"] == []


async def test_feedback_is_stored_on_the_reply(
    ada: Person, offline_client: httpx.AsyncClient
) -> None:
    ck, me = ada
    thread_id = thread_id_of(await ck.create(ADD_MILK))
    n = await first_turn(ck, thread_id)
    assert await ck.feedback(thread_id, [f"tools_{n}", f"reply_{n}"], "positive") == {}
    messages = (
        await offline_client.get(
            f"/api/{me['id']}/conversations/{thread_id}/messages", headers=me["headers"]
        )
    ).json()["messages"]
    assert [(m["role"], m["feedback"]) for m in messages] == [
        ("user", None),
        ("assistant", "positive"),
    ]
    await ck.feedback(thread_id, [f"reply_{n}"], "negative")
    messages = (
        await offline_client.get(
            f"/api/{me['id']}/conversations/{thread_id}/messages", headers=me["headers"]
        )
    ).json()["messages"]
    assert messages[1]["feedback"] == "negative"


# --- retry -------------------------------------------------------------------------------------


async def test_retry_runs_the_turn_again_and_shows_the_model_what_it_already_did(
    settings: Settings, running: Any
) -> None:
    seen: list[list[Any]] = []

    def record(call: Any) -> None:
        seen.append(list(call.input) if isinstance(call.input, list) else [call.input])

    model = ScriptedModel(
        [
            ModelStep.respond(
                lambda call: [function_call("add_task", {"title": "Milk"}, call_id="call_milk")]
            ),
            ModelStep.respond(lambda call: [assistant_message("Added Milk.")]),
            ModelStep.respond(lambda call: (record(call), [assistant_message("Milk is on.")])[1]),
        ]
    )
    runtime = await running(scripted_runtime(settings, model))
    async with api_client(runtime) as http:
        me = await sign_up(http)
        ck = ChatKitClient(http, me["headers"])
        events = await ck.create("add milk")
        thread_id = thread_id_of(events)
        # The id ChatKit made for the message while it streamed still names it.
        streamed_user_id = events[1].item.id  # type: ignore[union-attr]
        assert streamed_user_id.startswith("ck_message_")
        n = await first_turn(ck, thread_id)
        retried = await ck.retry(thread_id, streamed_user_id)
        summary = event_summary(retried)
        # The old reply and its workflow are replaced by the new answer.
        assert "thread.item.removed" not in summary
        assert summary[-1] == f"thread.item.done:assistant_message:reply_{n}"
        page = await ck.items(thread_id, order="asc")
        assert texts(page) == [
            ("user_message", "add milk"),
            ("workflow", "Added task 1 · Milk"),
            ("widget", "Added task 1"),
            ("assistant_message", "Milk is on."),
        ]
        tasks = (await http.get(f"/api/{me['id']}/tasks", headers=me["headers"])).json()
    # One task: the retry's model saw the call that already ran, and did not repeat it.
    assert [t["title"] for t in tasks["tasks"]] == ["Milk"]
    outputs = [
        item
        for item in seen[0]
        if isinstance(item, dict) and item.get("type") == "function_call_output"
    ]
    assert len(outputs) == 1 and '"Milk"' in outputs[0]["output"]


async def test_a_failed_turn_ends_in_an_error_event_keeps_the_message_and_can_be_retried(
    settings: Settings, running: Any
) -> None:
    def broken(call: Any) -> Any:
        raise RuntimeError("model exploded")

    model = ScriptedModel(
        [ModelStep.respond(broken), ModelStep.respond(lambda call: [assistant_message("Back.")])]
    )
    runtime = await running(scripted_runtime(settings, model))
    async with api_client(runtime) as http:
        me = await sign_up(http)
        ck = ChatKitClient(http, me["headers"])
        events = await ck.create("hello there")
        thread_id = thread_id_of(events)
        errors = [event for event in events if isinstance(event, ErrorEvent)]
        assert len(errors) == 1
        assert errors[0].message == SOMETHING_WENT_WRONG
        assert errors[0].allow_retry is True
        assert "model exploded" not in str(events)
        # Stored: the message, and a note saying why it has no answer.
        n = await first_turn(ck, thread_id)
        page = await ck.items(thread_id, order="asc")
        assert item_ids(page) == [f"msg_{n}", f"note_{n}"]
        assert "Retry to run it again" in texts(page)[1][1]
        # Retry from the note's place: the same message runs again.
        retried = await ck.retry(thread_id, f"msg_{n}")
        # The thread was named from the message when its turn failed; the reply keeps it.
        assert event_summary(retried)[-1] == f"thread.item.done:assistant_message:reply_{n}"
        assert (await ck.thread(thread_id))["title"] == "hello there"
        page = await ck.items(thread_id, order="asc")
        assert texts(page) == [("user_message", "hello there"), ("assistant_message", "Back.")]


# --- refused requests --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (b"{not json", "The request body is not valid JSON."),
        (b"[]", "Not a ChatKit request: the body must be a JSON object with a 'type'."),
        (
            b'{"type": "threads.teleport", "params": {}}',
            "Unknown ChatKit request type 'threads.teleport'. TaskPilot handles: threads.create,",
        ),
        (b'{"params": {}}', "Not a ChatKit request: the body must be a JSON object with a 'type'."),
        (
            b'{"type": "threads.get_by_id", "params": {}}',
            "Invalid ChatKit request: 'params.thread_id' is required.",
        ),
        (
            b'{"type": "items.feedback", '
            b'"params": {"thread_id": "x", "item_ids": [], "kind": "meh"}}',
            "Invalid ChatKit request: 'params.kind'",
        ),
    ],
)
async def test_malformed_requests_are_a_400_with_a_reason(
    ada: Person, body: bytes, detail: str
) -> None:
    ck, _ = ada
    response = await ck.send(body)
    assert response.status_code == 400, response.text
    assert response.json()["detail"].startswith(detail)


async def test_requests_for_features_taskpilot_lacks_are_refused(
    ada: Person,
) -> None:
    ck, _ = ada
    attach = AttachmentsCreateReq(
        params=AttachmentCreateParams(name="a.png", size=3, mime_type="image/png")
    )
    response = await ck.send(attach)
    assert response.status_code == 400
    assert response.json()["detail"] == (
        "TaskPilot's ChatKit server does not support attachments (attachments.create)."
    )
    with_file = UserMessageInput(
        content=[UserMessageTextContent(text="look")],
        attachments=["atc_1"],
        inference_options=InferenceOptions(),
    )
    response = await ck.send(ThreadsCreateReq(params=ThreadCreateParams(input=with_file)))
    assert response.status_code == 400
    assert response.json()["detail"] == "TaskPilot's ChatKit server does not take attachments."
    assert (await ck.threads())["data"] == []  # nothing was created


@pytest.mark.parametrize(
    ("text", "status", "detail"),
    [
        ("   ", 422, "The message is empty; type something to send."),
        ("x" * 4001, 422, "The message is 4001 characters; the limit is 4000."),
        # PostgreSQL cannot store NUL: refused with a reason, before any thread is made.
        ("add a\x00b", 422, "The message can't contain the control character U+0000."),
    ],
)
async def test_an_empty_or_over_long_message_is_refused_before_a_thread_exists(
    ada: Person, text: str, status: int, detail: str
) -> None:
    ck, _ = ada
    response = await ck.send(ThreadsCreateReq(params=ThreadCreateParams(input=user_input(text))))
    assert response.status_code == status
    assert response.json()["detail"] == detail
    assert (await ck.threads())["data"] == []


async def test_chatkit_needs_a_token_and_an_allowed_origin(
    ada: Person, offline_client: httpx.AsyncClient
) -> None:
    ck, _ = ada
    body = b'{"type": "threads.list", "params": {}}'
    anonymous = await offline_client.post("/api/chatkit", content=body)
    assert anonymous.status_code == 401
    forged = await offline_client.post(
        "/api/chatkit", content=body, headers={"Authorization": "Bearer not-a-token"}
    )
    assert forged.status_code == 401
    elsewhere = await offline_client.post(
        "/api/chatkit",
        content=body,
        headers={**ck.headers, "Origin": "https://evil.example"},
    )
    assert elsewhere.status_code == 403
    assert "https://evil.example" in elsewhere.json()["detail"]
    allowed = await offline_client.post(
        "/api/chatkit", content=body, headers={**ck.headers, "Origin": "http://localhost:3000"}
    )
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "http://localhost:3000"


# --- one user, one set of threads --------------------------------------------------------------


async def test_another_users_thread_does_not_exist_for_you(ada: Person, bob: Person) -> None:
    ada_ck, _ = ada
    bob_ck, _ = bob
    thread_id = thread_id_of(await ada_ck.create(ADD_MILK))
    before = await ada_ck.items(thread_id, order="asc")
    user_item, _, _, reply_item = item_ids(before)

    assert (await bob_ck.threads())["data"] == []
    attempts: list[dict[str, Any]] = [
        {"type": "threads.get_by_id", "params": {"thread_id": thread_id}},
        {"type": "items.list", "params": {"thread_id": thread_id}},
        {"type": "threads.update", "params": {"thread_id": thread_id, "title": "Mine now"}},
        {"type": "threads.delete", "params": {"thread_id": thread_id}},
        {
            "type": "threads.add_user_message",
            "params": {
                "thread_id": thread_id,
                "input": user_input("delete task 1").model_dump(),
            },
        },
        {
            "type": "threads.retry_after_item",
            "params": {"thread_id": thread_id, "item_id": user_item},
        },
        {
            "type": "items.feedback",
            "params": {"thread_id": thread_id, "item_ids": [reply_item], "kind": "negative"},
        },
        {"type": "threads.list", "params": {"after": thread_id}},
    ]
    for attempt in attempts:
        response = await bob_ck.send(attempt)
        assert response.status_code == 404, (attempt["type"], response.text)
        assert "Buy milk" not in response.text

    # Ada's thread is exactly as it was.
    assert await ada_ck.items(thread_id, order="asc") == before
    assert (await ada_ck.thread(thread_id))["title"] == "Buy milk"
    # And Bob's own messages cannot point at Ada's items either.
    bob_thread = thread_id_of(await bob_ck.create("hello"))
    foreign = await bob_ck.send(
        {
            "type": "threads.retry_after_item",
            "params": {"thread_id": bob_thread, "item_id": user_item},
        }
    )
    assert foreign.status_code == 404


async def test_a_thread_id_of_someone_else_cannot_be_claimed(
    ada: Person,
    bob: Person,
    offline_runtime: Runtime,
) -> None:
    ada_ck, _ = ada
    _, bob_me = bob
    thread_id = thread_id_of(await ada_ck.create(ADD_MILK))
    # ChatKit's server saves a new thread under an id the store made; were an id to clash
    # with another person's conversation, the save is refused rather than shared.
    from chatkit.store import NotFoundError
    from chatkit.types import ThreadMetadata

    from taskpilot.chatkit.context import RequestContext

    store = offline_runtime.chatkit.store
    thread = ThreadMetadata(id=thread_id, title="Bob's", created_at="2026-12-02T00:00:00Z")
    with pytest.raises(NotFoundError):
        await store.save_thread(thread, RequestContext(bob_me["id"]))
    assert (await ada_ck.thread(thread_id))["title"] == "Buy milk"


# --- the same history in both chats ------------------------------------------------------------


async def test_threads_and_native_conversations_are_the_same_thing(
    ada: Person, offline_client: httpx.AsyncClient
) -> None:
    ck, me = ada
    # Started in ChatKit → in the native chat's history, with its messages and tool calls.
    thread_id = thread_id_of(await ck.create(ADD_MILK))
    conversations = (
        await offline_client.get(f"/api/{me['id']}/conversations", headers=me["headers"])
    ).json()["conversations"]
    assert [(c["id"], c["title"]) for c in conversations] == [(thread_id, "Buy milk")]
    messages = (
        await offline_client.get(
            f"/api/{me['id']}/conversations/{thread_id}/messages", headers=me["headers"]
        )
    ).json()["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant"]
    assert messages[1]["tool_calls"][0]["name"] == "add_task"

    # Started in the native chat → a ChatKit thread, and ChatKit can carry on with it.
    native = await offline_client.post(
        f"/api/{me['id']}/chat", json={"message": "add call the dentist"}, headers=me["headers"]
    )
    native_id = native.json()["conversation_id"]
    assert [t["id"] for t in (await ck.threads())["data"]] == [native_id, thread_id]
    page = await ck.items(native_id, order="asc")
    assert texts(page)[:2] == [
        ("user_message", "add call the dentist"),
        ("workflow", "Added task 2 · Call the dentist"),
    ]
    await ck.add(native_id, "what's still open?")
    again = await offline_client.get(
        f"/api/{me['id']}/conversations/{native_id}/messages", headers=me["headers"]
    )
    assert [m["content"] for m in again.json()["messages"]][2] == "what's still open?"


async def test_unsupported_stream_requests_never_start_a_stream(
    ada: Person,
) -> None:
    ck, _ = ada
    thread_id = thread_id_of(await ck.create("hello"))
    # Client tools are not offered (a streamed widget action that is not an approval card's is
    # refused before any stream too: `test_chatkit_approvals.py`).
    response = await ck.send(
        {"type": "threads.add_client_tool_output", "params": {"thread_id": thread_id}}
    )
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/json")
    # A message for a thread that does not exist: a 404 before any stream starts.
    missing = await ck.send(
        ThreadsAddUserMessageReq(
            params=ThreadAddUserMessageParams(thread_id="nope", input=user_input("hi"))
        )
    )
    assert missing.status_code == 404


async def test_a_message_that_cannot_be_stored_ends_the_stream_with_a_reason(
    ada: Person,
    offline_runtime: Runtime,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from taskpilot.core.db import DatabaseUnavailable

    ck, _ = ada

    async def database_down(*args: Any, **kwargs: Any) -> Any:
        raise DatabaseUnavailable()

    monkeypatch.setattr(offline_runtime.turns, "prepare", database_down)
    events = await ck.create(ADD_MILK)
    # The stream is answered to its end: no "your message is in", an error that says why.
    assert [event.type for event in events] == ["thread.created", "error"]
    error = events[-1]
    assert isinstance(error, ErrorEvent) and error.allow_retry
    assert error.message == DATABASE_DOWN


async def test_a_message_into_a_thread_still_answering_waits_then_is_refused_unstored(
    settings: Settings, running: Any
) -> None:
    """One conversation, one running turn: a message sent into a thread whose reply is still
    coming waits (TURN_WAIT_SECONDS), then its stream ends saying why, with Retry, before
    ChatKit ever says the message is in. Nothing of it is stored: history still reads
    question, answer, and sending it again once the reply is in is answered."""
    reached, gate = asyncio.Event(), asyncio.Event()

    async def slow(call: Any) -> Any:
        reached.set()
        await gate.wait()
        return [assistant_message("Done at last.")]

    model = ScriptedModel(
        [
            ModelStep.respond(lambda call: [assistant_message("Hi.")]),
            ModelStep.respond(slow),
            ModelStep.respond(lambda call: [assistant_message("Now, yes.")]),
        ]
    )
    impatient = settings.model_copy(update={"turn_wait_seconds": 0.2})
    runtime = await running(scripted_runtime(impatient, model))
    async with api_client(runtime) as http:
        me = await sign_up(http)
        ck = ChatKitClient(http, me["headers"])
        thread_id = thread_id_of(await ck.create("hello"))
        first = asyncio.create_task(ck.add(thread_id, "take your time"))
        await asyncio.wait_for(reached.wait(), 10)  # its turn is running
        refused = await ck.add(thread_id, "and this?")
        gate.set()
        answered = await first

        assert [event.type for event in refused] == ["error"]
        error = refused[0]
        assert isinstance(error, ErrorEvent) and error.allow_retry
        assert "still being answered" in error.message
        assert event_summary(answered)[-1].startswith("thread.item.done:assistant_message:")
        page = await ck.items(thread_id, order="asc")
        assert texts(page) == [
            ("user_message", "hello"),
            ("assistant_message", "Hi."),
            ("user_message", "take your time"),
            ("assistant_message", "Done at last."),
        ]
        again = await ck.add(thread_id, "and this?")
        assert not [event for event in again if isinstance(event, ErrorEvent)]
        page = await ck.items(thread_id, order="asc")
        assert texts(page)[-2:] == [
            ("user_message", "and this?"),
            ("assistant_message", "Now, yes."),
        ]


# --- the library's hook ------------------------------------------------------------------------


def test_the_library_still_hands_new_messages_to_the_hook_the_server_overrides() -> None:
    """`openai-chatkit` (1.6.5) has no public hook between building a new user message and
    telling the client it is in (`ThreadItemDoneEvent`), which is where the server must store
    the message (by preparing its turn): so it overrides the private
    `_process_new_thread_item_respond`. A version that renames that method, changes its
    parameters, stops calling it for both kinds of new message, or tells the client before
    calling the store fails here, rather than leaving the override quietly unused."""
    from chatkit.server import ChatKitServer

    from taskpilot.chatkit.server import TaskPilotChatKitServer

    hook = "_process_new_thread_item_respond"
    theirs, ours = getattr(ChatKitServer, hook), getattr(TaskPilotChatKitServer, hook)
    assert ours is not theirs
    expected = ["self", "thread", "item", "context"]
    assert list(inspect.signature(theirs).parameters) == expected
    assert list(inspect.signature(ours).parameters) == expected
    # Called for threads.create and threads.add_user_message, the two ways a message arrives.
    streaming = inspect.getsource(ChatKitServer._process_streaming_impl)
    assert streaming.count(f"self.{hook}(") == 2
    # Inside it: the store hears of the message, then the client is told, then respond() runs.
    body = inspect.getsource(theirs)
    stored = body.index("self.store.add_thread_item(")
    assert stored < body.index("yield ThreadItemDoneEvent(") < body.index("self.respond(")
