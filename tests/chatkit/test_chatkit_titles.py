"""Conversation titles made from the first exchange, on SQLite and PostgreSQL: by a rule with
the offline model, by one short model call with a real one (the OpenAI stand-in), the rule
again when that call fails or is slow; told to ChatKit (`thread.updated`) and stored for every
entry point; never over a title the person gave."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from taskpilot.agent.engine import titling
from taskpilot.agent.engine.titling import TITLE_INSTRUCTIONS, model_title_text, rule_title
from taskpilot.agent.events import TurnDone, TurnTitled
from taskpilot.data.models import ToolCall
from taskpilot.runtime import Runtime
from taskpilot.services.conversations import ConversationStore
from tests.support.chatkit_client import ChatKitClient, thread_id_of
from tests.support.harness import api_client, sign_up
from tests.support.openai_standin import OpenAIStandIn, error, reply, stall, tool_call
from tests.support.providers import PROVIDERS, provider_settings


def titles_told(events: list[Any]) -> list[str]:
    return [e.thread.title for e in events if e.type == "thread.updated"]


# --- offline: a rule ---------------------------------------------------------------------------


async def test_offline_a_thread_is_named_by_what_its_first_turn_did(
    offline_client: httpx.AsyncClient,
) -> None:
    me = await sign_up(offline_client)
    ck = ChatKitClient(offline_client, me["headers"])
    for question, title in (
        ("add buy milk tomorrow, high priority", "Buy milk"),
        ("what's still open?", "Your tasks"),
        ("   hello    there  ", "hello there"),
    ):
        events = await ck.create(question)
        assert titles_told(events) == [title], question
        assert (await ck.thread(thread_id_of(events)))["title"] == title
    # A later exchange leaves the title alone.
    thread_id = thread_id_of(events)
    assert titles_told(await ck.add(thread_id, "add call mom")) == []
    assert (await ck.thread(thread_id))["title"] == "hello there"
    # The native chat and the API list the same titles.
    listed = await offline_client.get(f"/api/{me['id']}/conversations", headers=me["headers"])
    assert [c["title"] for c in listed.json()["conversations"]] == [
        "hello there",
        "Your tasks",
        "Buy milk",
    ]


async def test_a_title_the_person_gave_is_kept(offline_runtime: Runtime) -> None:
    async with api_client(offline_runtime) as http:
        me = await sign_up(http)
    turns = offline_runtime.turns
    turn = await turns.prepare(me["id"], None, "add buy milk")
    async with offline_runtime.db.session() as session:  # renamed while the turn runs
        await ConversationStore(session, me["id"]).rename(turn.conversation_id, "Groceries")
    events = [event async for event in turns.start(turn).events()]
    assert any(isinstance(event, TurnDone) for event in events)
    assert not any(isinstance(event, TurnTitled) for event in events)
    async with offline_runtime.db.session() as session:
        kept = await ConversationStore(session, me["id"]).get(turn.conversation_id)
    assert kept.title == "Groceries"


def test_the_rule_and_the_cleaning_of_a_models_title() -> None:
    added = ToolCall(name="add_task", result={"task_id": 1, "title": "Buy milk"})
    failed = ToolCall(name="add_task", result="Error: no title", is_error=True)
    listed = ToolCall(name="list_tasks", result={"tasks": [], "count": 0})
    assert rule_title("add buy milk", [failed, added]) == "Buy milk"
    assert rule_title("what's open", [listed, added]) == "Your tasks"
    assert rule_title("  hi  ", [failed]) == "hi"
    assert model_title_text('"Milk run."\nBecause you asked') == "Milk run"
    assert model_title_text("Title: **Weekly chores**") == "Weekly chores"
    assert model_title_text("  \n ") == "" and model_title_text(None) == ""
    assert len(model_title_text("word " * 40)) <= 61


# --- a real model: one short call, the rule when it fails ------------------------------------


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_with_a_model_one_short_call_names_the_thread(
    provider: str, database_url: str, running: Any, standin: OpenAIStandIn
) -> None:
    settings = provider_settings(database_url, provider, standin)
    standin.script(tool_call("add_task", {"title": "Buy milk"}), reply("Added Buy milk."))
    standin.script_titles(reply('"Milk run."'))
    runtime = await running(Runtime(settings))
    async with api_client(runtime) as http:
        me = await sign_up(http)
        ck = ChatKitClient(http, me["headers"])
        events = await ck.create("add buy milk")
        assert titles_told(events) == ["Milk run"]
        assert (await ck.thread(thread_id_of(events)))["title"] == "Milk run"
        # The next exchange asks for no title.
        standin.script(reply("Nothing else."))
        await ck.add(thread_id_of(events), "anything else?")
    standin.assert_done()
    [asked] = standin.title_requests
    assert asked.instructions() == TITLE_INSTRUCTIONS
    assert not asked.streamed and not asked.body.get("tools")
    limit = "max_output_tokens" if provider == "openai" else "max_tokens"
    assert asked.body[limit] == titling.TITLE_MAX_TOKENS
    # Asked from the first message alone, alongside the turn (not after its reply).
    assert asked.conversation() == [{"role": "user", "content": "Message: add buy milk"}]


@pytest.mark.parametrize("failure", ["error", "slow"])
async def test_a_failing_title_call_falls_back_to_the_rule(
    failure: str,
    database_url: str,
    running: Any,
    standin: OpenAIStandIn,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(titling, "TITLE_SECONDS", 0.5)
    settings = provider_settings(database_url, "openai", standin)
    standin.script(tool_call("add_task", {"title": "Buy milk"}), reply("Added Buy milk."))
    standin.script_titles(error(400) if failure == "error" else stall(5))
    runtime = await running(Runtime(settings))
    async with api_client(runtime) as http:
        me = await sign_up(http)
        ck = ChatKitClient(http, me["headers"])
        events = await ck.create("add buy milk")
    assert not [e for e in events if e.type == "error"]
    assert titles_told(events) == ["Buy milk"]
    assert len(standin.title_requests) == 1


async def test_a_slow_title_holds_neither_the_persons_turn_slot_nor_the_reply(
    database_url: str, running: Any, standin: OpenAIStandIn
) -> None:
    """One turn at a time per person: the next message, sent the moment the first reply is
    in, is answered although the first conversation's title is still being asked for."""
    settings = provider_settings(database_url, "openai", standin, max_concurrent_turns=1)
    standin.script(reply("Hello."), reply("Second."))
    standin.script_titles(reply("Greeting", delay=3.0))
    runtime = await running(Runtime(settings))
    async with api_client(runtime) as http:
        me = await sign_up(http)
        url, headers = f"/api/{me['id']}/chat", me["headers"]
        first = await http.post(url, json={"message": "hi"}, headers=headers)
        second = await http.post(url, json={"message": "another new chat"}, headers=headers)
        assert (first.status_code, second.status_code) == (200, 200), second.text
        await runtime.turns.settle()
        listed = await http.get(f"/api/{me['id']}/conversations", headers=headers)
    # The slow title missed the reply: the rule named the first conversation.
    titles = {c["title"] for c in listed.json()["conversations"]}
    assert titles == {"hi", "another new chat"}
