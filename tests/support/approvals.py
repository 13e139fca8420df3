"""Approvals over the HTTP API, as the tests drive them: a signed-in person who chats, reads
their conversation and decides waiting calls; and what the database holds."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
from sqlmodel import col, select

from taskpilot.data.models import Task
from taskpilot.runtime import Runtime
from tests.support.harness import sign_up
from tests.support.openai_standin import OpenAIStandIn, reply, tool_call

DECIDE_PATH = "/api/{user_id}/conversations/{conversation_id}/approvals/{call_id}"
SSE = {"Accept": "text/event-stream"}


@dataclass
class Person:
    """Someone signed in over `http`, chatting in one conversation at a time."""

    http: httpx.AsyncClient
    id: str
    headers: dict[str, str]
    conversation_id: str | None = None

    @classmethod
    async def sign_up(cls, http: httpx.AsyncClient, email: str = "ada@example.com") -> Person:
        me = await sign_up(http, email)
        return cls(http, me["id"], me["headers"])

    async def send(
        self, message: str, *, client_message_id: str | None = None, stream: bool = False
    ) -> httpx.Response:
        body: dict[str, Any] = {"message": message}
        if self.conversation_id:
            body["conversation_id"] = self.conversation_id
        if client_message_id:
            body["client_message_id"] = client_message_id
        headers = {**self.headers, **SSE} if stream else self.headers
        return await self.http.post(f"/api/{self.id}/chat", json=body, headers=headers)

    async def say(self, message: str, **kwargs: Any) -> dict[str, Any]:
        """A message answered as JSON (a reply, or the approval its turn waits for)."""
        response = await self.send(message, **kwargs)
        assert response.status_code == 200, response.text
        answer: dict[str, Any] = response.json()
        self.conversation_id = answer["conversation_id"]
        return answer

    async def decide(
        self, url: str, approve: bool, *, stream: bool = False, **headers: str
    ) -> httpx.Response:
        extra = SSE if stream else {}
        return await self.http.post(
            url, json={"approve": approve}, headers={**self.headers, **extra, **headers}
        )

    async def decided(self, url: str, approve: bool, **kwargs: Any) -> dict[str, Any]:
        """A decision that is taken and answered; the answer as JSON."""
        response = await self.decide(url, approve, **kwargs)
        assert response.status_code == 200, response.text
        answer: dict[str, Any] = response.json()
        return answer

    async def delete_task_1(self, **kwargs: Any) -> dict[str, Any]:
        """Ask to delete task 1 ("Buy milk"): the turn waits; its pending approval."""
        return assert_waits_for_task_1(await self.say("delete task 1", **kwargs), self)

    async def messages(self) -> list[dict[str, Any]]:
        url = f"/api/{self.id}/conversations/{self.conversation_id}/messages"
        response = await self.http.get(url, headers=self.headers)
        assert response.status_code == 200, response.text
        return response.json()["messages"]  # type: ignore[no-any-return]


async def stored_tasks(runtime: Runtime, user_id: str) -> dict[int, str]:
    """The person's tasks as the database holds them: number → title."""
    async with runtime.db.session() as session:
        rows = await session.exec(select(Task).where(col(Task.user_id) == user_id))
        return {task.number: task.title for task in rows}


async def two_tasks(person: Person) -> None:
    """Task 1 "Buy milk" and task 2 "Call mom", added in the person's conversation."""
    await person.say("add buy milk")
    await person.say("add call mom")


async def waiting_delete(http: httpx.AsyncClient, **kwargs: Any) -> tuple[Person, dict[str, Any]]:
    """Ada signs up, adds task 1 "Buy milk" and task 2 "Call mom", and asks to delete task 1
    (`kwargs` go with that message): her turn waits. She, and its pending approval."""
    ada = await Person.sign_up(http)
    await two_tasks(ada)
    return ada, await ada.delete_task_1(**kwargs)


async def model_waits_to_delete(
    http: httpx.AsyncClient, standin: OpenAIStandIn, *, text: str = "", **kwargs: Any
) -> tuple[Person, dict[str, Any]]:
    """As `waiting_delete` with the OpenAI stand-in as the model: Ada adds "Buy milk" and asks
    to delete task 1 (`kwargs` go with that message); the model says `text` and calls
    `delete_task` as `call_del`, and her turn waits. She, and that message's answer."""
    ada = await Person.sign_up(http)
    standin.script(tool_call("add_task", {"title": "Buy milk"}), reply("Added Buy milk."))
    await ada.say("add buy milk")
    standin.script(tool_call("delete_task", {"task_id": 1}, call_id="call_del", text=text))
    answer = await ada.say("delete task 1", **kwargs)
    assert_waits_for_task_1(answer, ada)
    return ada, answer


def alternates(messages: list[dict[str, Any]]) -> bool:
    """Question, answer, question, answer: each reply right after the question it answers."""
    roles = [m["role"] for m in messages]
    return roles == ["user", "assistant"] * (len(roles) // 2)


def assert_waits_for_task_1(answer: dict[str, Any], person: Person) -> dict[str, Any]:
    """The answer of a turn paused at "delete task 1": its pending approval."""
    pending: dict[str, Any] = answer["pending_approval"]
    assert answer["message_id"] is None  # no reply stored yet
    assert pending["name"] == "delete_task" and pending["arguments"] == {"task_id": 1}
    assert pending["summary"] == "Delete task 1 · Buy milk"
    assert pending["decide"] == DECIDE_PATH.format(
        user_id=person.id, conversation_id=person.conversation_id, call_id=pending["call_id"]
    )
    [call] = [c for c in answer["tool_calls"] if c["name"] == "delete_task"]
    assert (call["call_id"], call["approval"], call["result"]) == (
        pending["call_id"],
        "pending",
        None,
    )
    return pending
