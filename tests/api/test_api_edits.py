"""Edit and re-answer over the HTTP API (issue 16, part 1): an edited question is answered
again, the conversation goes on from it, and what it replaced stays an earlier version that
the listings show with it and the model no longer sees."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import col, select

from taskpilot.data.models import Message
from taskpilot.runtime import Runtime
from tests.support.approvals import SSE, Person, alternates, assert_waits_for_task_1, two_tasks
from tests.support.harness import api_client, parse_sse
from tests.support.openai_standin import OpenAIStandIn, RecordedRequest, reply
from tests.support.providers import provider_settings

EDIT_PATH = "/api/{user_id}/conversations/{conversation_id}/messages/{message_id}/edit"


async def edit(
    person: Person, message_id: int, text: str, seen: int | None = None, **headers: str
) -> Any:
    url = EDIT_PATH.format(
        user_id=person.id, conversation_id=person.conversation_id, message_id=message_id
    )
    body: dict[str, Any] = {"message": text}
    if seen is not None:
        body["last_seen_id"] = seen
    return await person.http.post(url, json=body, headers={**person.headers, **headers})


async def versions(person: Person, message_id: int) -> Any:
    url = f"/api/{person.id}/conversations/{person.conversation_id}/messages/{message_id}/versions"
    return await person.http.get(url, headers=person.headers)


def user_texts(request: RecordedRequest) -> list[str]:
    return [str(item["content"]) for item in request.conversation() if item.get("role") == "user"]


def said(messages: list[dict[str, Any]]) -> list[str]:
    return [message["content"] for message in messages]


async def test_an_edited_question_is_answered_again_and_what_it_replaced_is_kept(
    database_url: str, running: Any, standin: OpenAIStandIn
) -> None:
    runtime = await running(Runtime(provider_settings(database_url, "openai", standin)))
    async with api_client(runtime) as http:
        ada = await Person.sign_up(http)
        standin.script(reply("Noted: milk."), reply("You mentioned milk."), reply("Noted: bread."))
        await ada.say("remember milk")
        await ada.say("what did I mention?")
        [first, _, _, _] = await ada.messages()

        edited = await edit(ada, first["id"], "remember bread")
        assert edited.status_code == 200, edited.text
        answer = edited.json()
        assert (answer["conversation_id"], answer["response"]) == (
            ada.conversation_id,
            "Noted: bread.",
        )
        current = await ada.messages()
        assert said(current) == ["remember bread", "Noted: bread."]
        question = current[0]
        assert (question["version"], question["versions"]) == (2, 2)
        assert question["version_ids"] == [first["id"], question["id"]]
        assert current[1]["version_ids"] == []

        listed = await versions(ada, question["id"])
        assert listed.status_code == 200, listed.text
        earlier, now = listed.json()["versions"]
        assert (earlier["version"], earlier["current"]) == (1, False)
        assert said(earlier["messages"]) == [
            "remember milk",
            "Noted: milk.",
            "what did I mention?",
            "You mentioned milk.",
        ]
        assert (now["version"], now["current"]) == (2, True)
        assert said(now["messages"]) == ["remember bread", "Noted: bread."]
        # Each version's question says which of the two it is, the first one too.
        for number, version in enumerate((earlier, now), 1):
            asked = version["messages"][0]
            assert (asked["version"], asked["versions"]) == (number, 2)
            assert asked["version_ids"] == [first["id"], question["id"]]
        assert (await versions(ada, first["id"])).json() == listed.json()

        standin.script(reply("You mentioned bread."))
        await ada.say("what did I mention?")
        standin.assert_done()
    edit_request, next_request = standin.model_requests[-2:]
    assert user_texts(edit_request) == ["remember bread"]
    assert user_texts(next_request) == ["remember bread", "what did I mention?"]
    assert "milk" not in str(next_request.conversation())


async def test_an_edit_streams_as_chat_does_and_a_later_question_can_be_edited_too(
    offline_runtime: Runtime,
) -> None:
    async with api_client(offline_runtime) as http:
        ada = await Person.sign_up(http)
        await two_tasks(ada)
        second = (await ada.messages())[2]
        streamed = await edit(ada, second["id"], "add call dad", **SSE)
        assert streamed.status_code == 200, streamed.text
        kinds = [kind for kind, _ in parse_sse(streamed.text)]
        assert kinds[-1] == "done" and "tool_finished" in kinds
        current = await ada.messages()
        assert said(current)[0::2] == ["add buy milk", "add call dad"]
        assert alternates(current)
        # The change the earlier version made stays made: an edit re-answers, it does not undo.
        tasks = (await http.get(f"/api/{ada.id}/tasks", headers=ada.headers)).json()["tasks"]
        assert [task["title"] for task in tasks] == ["Buy milk", "Call mom", "Call dad"]
        # Editing the newest version again makes a third.
        again = await edit(ada, current[2]["id"], "add call grandma")
        assert again.status_code == 200, again.text
        newest = (await ada.messages())[2]
        assert (newest["version"], newest["versions"]) == (3, 3)
        assert newest["version_ids"][0] == second["id"]


async def test_edits_are_refused_while_a_turn_runs_or_waits_for_approval(
    database_url: str, running: Any, standin: OpenAIStandIn
) -> None:
    runtime = await running(Runtime(provider_settings(database_url, "openai", standin)))
    async with api_client(runtime) as http:
        ada = await Person.sign_up(http)
        standin.script(reply("Noted."), reply("Still thinking.", delay=1.5))
        await ada.say("remember milk")
        [first, _] = await ada.messages()
        slow = asyncio.create_task(ada.say("and then?"))
        await wait_for_status(runtime, first["conversation_id"], "running")
        busy = await edit(ada, first["id"], "remember bread")
        assert busy.status_code == 409, busy.text
        assert busy.json()["code"] == "turn_in_progress"
        await slow
        standin.assert_done()
        assert said(await ada.messages()) == [
            "remember milk",
            "Noted.",
            "and then?",
            "Still thinking.",
        ]


async def test_edits_wait_for_no_approval_either(offline_runtime: Runtime) -> None:
    async with api_client(offline_runtime) as http:
        ada = await Person.sign_up(http)
        await two_tasks(ada)
        assert_waits_for_task_1(await ada.say("delete task 1"), ada)
        first = (await ada.messages())[0]
        busy = await edit(ada, first["id"], "add buy bread")
        assert busy.status_code == 409 and busy.json()["code"] == "turn_in_progress"
        assert (await ada.messages())[-1]["status"] == "awaiting"


async def wait_for_status(runtime: Runtime, conversation_id: str, status: str) -> None:
    for _ in range(200):
        async with runtime.db.session() as session:
            statuses = (
                await session.exec(
                    select(Message.status).where(col(Message.conversation_id) == conversation_id)
                )
            ).all()
        if status in statuses:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"no message became {status}")


async def test_two_edits_at_once_one_wins(offline_runtime: Runtime) -> None:
    """Two edits of the same question sent together, each on its own database connection:
    exactly one becomes version 2; the other is refused, and nothing is half-stored."""
    async with api_client(offline_runtime) as http:
        ada = await Person.sign_up(http)
        await ada.say("add buy milk")
        for round_ in range(3):
            question = (await ada.messages())[0]
            answers = await asyncio.gather(
                edit(ada, question["id"], f"add buy bread {round_}"),
                edit(ada, question["id"], f"add buy jam {round_}"),
            )
            statuses = sorted(answer.status_code for answer in answers)
            assert statuses == [200, 409], [answer.text for answer in answers]
            [refused] = [answer for answer in answers if answer.status_code == 409]
            assert refused.json()["code"] in {"turn_in_progress", "message_replaced"}
            current = await ada.messages()
            assert len(current) == 2 and alternates(current)
            assert current[0]["versions"] == round_ + 2
    async with offline_runtime.db.session() as session:
        count = sa.select(sa.func.count()).where(col(Message.user_id) == ada.id)
        assert (await session.exec(count)).one()[0] == 8  # type: ignore[call-overload]


async def test_edits_of_what_is_not_yours_or_not_current_are_refused(
    offline_runtime: Runtime,
) -> None:
    async with api_client(offline_runtime) as http:
        ada = await Person.sign_up(http)
        eve = await Person.sign_up(http, "eve@example.com")
        await ada.say("add buy milk")
        [question, answer] = await ada.messages()

        eve.conversation_id = ada.conversation_id
        for refused in (await edit(eve, question["id"], "hi"), await versions(eve, question["id"])):
            assert refused.status_code == 404, refused.text
        eve.conversation_id = None
        await eve.say("add buy jam")
        eve_question = (await eve.messages())[0]
        for message_id in (eve_question["id"], answer["id"], 2**62):
            for response in (await edit(ada, message_id, "hi"), await versions(ada, message_id)):
                assert response.status_code == 404, response.text
                assert response.json()["code"] == "message_not_found"

        assert (await edit(ada, question["id"], "add buy bread")).status_code == 200
        stale = await edit(ada, question["id"], "add buy oats")
        assert stale.status_code == 409 and stale.json()["code"] == "message_replaced"
        blank = await edit(ada, question["id"], "   ")
        assert blank.status_code == 422
        elsewhere = EDIT_PATH.format(
            user_id=ada.id, conversation_id=eve.conversation_id, message_id=question["id"]
        )
        moved = await http.post(elsewhere, json={"message": "x"}, headers=ada.headers)
        assert moved.status_code == 404


async def test_an_edit_never_replaces_messages_its_sender_has_not_seen(
    offline_runtime: Runtime,
) -> None:
    """An edit replaces everything after the question: with `last_seen_id`, a conversation
    that went on meanwhile (another tab, the API) refuses it, 409, and nothing changes."""
    async with api_client(offline_runtime) as http:
        ada = await Person.sign_up(http)
        await two_tasks(ada)
        seen = await ada.messages()  # what Ada's editing tab shows
        await ada.say("add call the plumber")  # meanwhile, from her phone
        now = await ada.messages()

        moved = await edit(ada, seen[0]["id"], "add buy bread", seen=seen[-1]["id"])
        assert moved.status_code == 409, moved.text
        assert moved.json()["code"] == "conversation_moved_on"
        assert await ada.messages() == now
        for wrong in (0, -1, "last"):
            url = EDIT_PATH.format(
                user_id=ada.id, conversation_id=ada.conversation_id, message_id=seen[0]["id"]
            )
            bad = await http.post(
                url, json={"message": "x", "last_seen_id": wrong}, headers=ada.headers
            )
            assert bad.status_code == 422, bad.text

        # Having seen the newest message, the edit goes through; so does one whose tab has
        # seen past the question only (the newest is the question's own answer).
        edited = await edit(ada, seen[2]["id"], "add call dad", seen=now[-1]["id"])
        assert edited.status_code == 200, edited.text
        current = await ada.messages()
        assert said(current)[0::2] == ["add buy milk", "add call dad"]
        last = await edit(ada, current[2]["id"], "add call mum", seen=current[-1]["id"])
        assert last.status_code == 200, last.text


@pytest.mark.parametrize("order", ["asc", "desc"])
async def test_chatkit_reads_only_the_current_branch(offline_runtime: Runtime, order: str) -> None:
    async with api_client(offline_runtime) as http:
        ada = await Person.sign_up(http)
        await two_tasks(ada)
        first = (await ada.messages())[0]
        assert (await edit(ada, first["id"], "add buy bread")).status_code == 200
    async with offline_runtime.db.session() as session:
        from taskpilot.services.conversations import ConversationStore

        rows = await ConversationStore(session, ada.id).message_page(
            ada.conversation_id or "",
            None,
            50,
            order,  # type: ignore[arg-type]
        )
    assert sorted(row.content for row in rows if row.role == "user") == ["add buy bread"]


async def test_search_finds_the_current_version_not_the_earlier_one(
    offline_runtime: Runtime,
) -> None:
    async with api_client(offline_runtime) as http:
        ada = await Person.sign_up(http)
        await ada.say("hello")
        await ada.say("add feed the goldfish")
        second = (await ada.messages())[2]
        assert (await edit(ada, second["id"], "add water the cactus")).status_code == 200

        async def hits(query: str) -> list[int]:
            url = f"/api/{ada.id}/search"
            found = await http.get(url, params={"q": query}, headers=ada.headers)
            return [hit["message_id"] for hit in found.json()["results"]]

        assert await hits("goldfish") == []
        current = [m["id"] for m in await ada.messages()]
        assert set(await hits("cactus")) <= set(current) and await hits("cactus")


async def test_an_edit_closes_a_turn_whose_worker_is_gone_and_goes_on(
    offline_runtime: Runtime,
) -> None:
    """A turn left running by a worker that died (its lease ran out) holds the conversation
    no longer: the edit fails it, as a new message would, and is answered."""
    async with api_client(offline_runtime) as http:
        ada = await Person.sign_up(http)
        await two_tasks(ada)
        [first, _, second, _] = await ada.messages()
        async with offline_runtime.db.session() as session:
            await session.exec(  # type: ignore[call-overload]
                sa.update(Message)
                .where(col(Message.id) == second["id"])
                .values(status="running", lease_until=None)
            )
            await session.commit()
        edited = await edit(ada, first["id"], "add buy bread")
        assert edited.status_code == 200, edited.text
        assert said(await ada.messages())[0::2] == ["add buy bread"]
