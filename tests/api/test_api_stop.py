"""Stop over the HTTP API (`POST …/conversations/{id}/stop`): a reply started anywhere — here
over SSE on one worker — is stopped through another worker that shares only the database and
Redis; the question is kept, failed as stopped, and what its tools did stays done. Both
databases, two live servers."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import redis.asyncio as redis

from taskpilot.core.live import channel, stop_request
from taskpilot.runtime import Runtime
from tests.support.approvals import Person, stored_tasks
from tests.support.harness import REDIS_URL, live_server, needs_redis, parse_sse
from tests.support.openai_standin import OpenAIStandIn, reply, tool_call
from tests.support.providers import provider_settings

pytestmark = needs_redis


def someone() -> str:
    """A fresh email: the runtimes share Redis, and with it sign-in limits across tests."""
    return f"{uuid.uuid4().hex[:12]}@example.com"


async def test_a_reply_running_on_one_worker_is_stopped_through_another(
    database_url: str, running: Any, standin: OpenAIStandIn
) -> None:
    settings = provider_settings(
        database_url, "openai", standin, reflex_redis_url=REDIS_URL, chat_turns_per_minute=0
    )
    one, two = await running(Runtime(settings)), await running(Runtime(settings))
    async with (
        live_server(one) as first_url,
        live_server(two) as second_url,
        httpx.AsyncClient(base_url=first_url, timeout=30) as first,
        httpx.AsyncClient(base_url=second_url, timeout=30) as second,
    ):
        ada = await Person.sign_up(first, someone())
        standin.script(reply("Hello."))
        await ada.say("hello")
        stop_url = f"/api/{ada.id}/conversations/{ada.conversation_id}/stop"
        idle = await second.post(stop_url, headers=ada.headers)
        assert idle.status_code == 409 and idle.json()["code"] == "no_turn_running"

        standin.script(
            tool_call("add_task", {"title": "Buy milk"}),
            reply("Never finished.", delay=20),
        )
        streaming = asyncio.create_task(ada.send("add buy milk, then tell me a story", stream=True))
        async with asyncio.timeout(20):  # until the tool has run and the reply is on its way
            while await stored_tasks(one, ada.id) != {1: "Buy milk"}:
                await asyncio.sleep(0.05)
        # The running turn listens on Ada's Stop channel only: with no page of hers open, its
        # worker is not sent its own reply's deltas back.
        async with redis.Redis.from_url(REDIS_URL) as admin:
            listening = dict(await admin.pubsub_numsub(channel(ada.id), channel(ada.id, True)))
        assert listening == {channel(ada.id).encode(): 0, channel(ada.id, True).encode(): 1}
        stopped = await second.post(stop_url, headers=ada.headers)
        assert stopped.status_code == 202, stopped.text

        answer = await asyncio.wait_for(streaming, 15)
        events = parse_sse(answer.text)
        assert events[-1][0] == "error" and events[-1][1]["code"] == "turn_stopped"
        question = (await ada.messages())[-1]
        assert question["status"] == "failed" and question["role"] == "user"
        assert [call["name"] for call in question["tool_calls"]] == ["add_task"]
        assert await stored_tasks(one, ada.id) == {1: "Buy milk"}

        # Somebody else's stop, or a conversation that is not there, is refused.
        eve = await Person.sign_up(second, someone())
        for url, headers in (
            (stop_url, eve.headers),
            (f"/api/{eve.id}/conversations/{ada.conversation_id}/stop", eve.headers),
            (f"/api/{ada.id}/conversations/nope/stop", ada.headers),
        ):
            refused = await second.post(url, headers=headers)
            assert refused.status_code in (403, 404), (url, refused.text)


async def test_a_stop_asked_before_its_worker_listens_still_stops_it(
    database_url: str, running: Any, standin: OpenAIStandIn
) -> None:
    """The Stop notice on the live feed can be missed — asked between the claim and the
    start, Redis away — but the Stop is kept with the question: the turn's next lease
    renewal reads it, and the turn stops then."""
    settings = provider_settings(
        database_url, "openai", standin, reflex_redis_url=REDIS_URL, turn_lease_seconds=2
    )
    runtime = await running(Runtime(settings))
    async with live_server(runtime) as url, httpx.AsyncClient(base_url=url, timeout=30) as http:
        ada = await Person.sign_up(http, someone())
        standin.script(reply("Hello."))
        await ada.say("hello")
    standin.script(reply("Never finished.", delay=20))
    turn = await runtime.turns.prepare(ada.id, ada.conversation_id, "tell me a story")
    assert await runtime.turns.request_stop(ada.id, ada.conversation_id or "")  # before start
    await runtime.live.flush()  # its notice is gone by when the turn listens
    started = runtime.turns.start(turn)
    events = await asyncio.wait_for(_all(started), 15)
    assert events[-1].type == "error" and events[-1].code == "turn_stopped"


async def test_a_stop_for_one_reply_never_stops_the_next(
    database_url: str, running: Any, standin: OpenAIStandIn
) -> None:
    """A Stop names the attempt it was asked of: a notice that arrives late (its reply ended
    meanwhile) leaves the conversation's next reply alone."""
    settings = provider_settings(database_url, "openai", standin, reflex_redis_url=REDIS_URL)
    runtime = await running(Runtime(settings))
    async with live_server(runtime) as url, httpx.AsyncClient(base_url=url, timeout=30) as http:
        ada = await Person.sign_up(http, someone())
        standin.script(reply("Hello."))
        await ada.say("hello")
        first = (await ada.messages())[0]
        conversation = ada.conversation_id or ""
        assert not await runtime.turns.request_stop(ada.id, conversation)  # nothing runs
        standin.script(reply("A short story.", delay=1))
        turn = await runtime.turns.prepare(ada.id, conversation, "tell me a story")
        started = runtime.turns.start(turn)
        await asyncio.sleep(0.3)
        runtime.live.publish(ada.id, stop_request(conversation, first["id"], 1))  # too late
        events = await asyncio.wait_for(_all(started), 15)
    assert events[-1].type == "done" and events[-1].response == "A short story."


async def _all(running_turn: Any) -> list[Any]:
    return [event async for event in running_turn.events()]
