"""The offline model end to end: the issue's command list through the real API, agent
service, Agents SDK Runner, MCP server and database — what a fresh clone runs."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import httpx

from taskpilot.core.clock import today
from taskpilot.core.config import Settings
from tests.support.harness import api_client, sign_up


class Chat:
    """One conversation with the agent over the HTTP API."""

    def __init__(self, http: httpx.AsyncClient, me: dict[str, Any]) -> None:
        self.http, self.me, self.conversation_id = http, me, None

    async def say(self, message: str) -> dict[str, Any]:
        body: dict[str, Any] = {"message": message}
        if self.conversation_id:
            body["conversation_id"] = self.conversation_id
        response = await self.http.post(
            f"/api/{self.me['id']}/chat", json=body, headers=self.me["headers"]
        )
        assert response.status_code == 200, response.text
        reply: dict[str, Any] = response.json()
        self.conversation_id = reply["conversation_id"]
        return reply

    async def approve(self, reply: dict[str, Any]) -> dict[str, Any]:
        """Approve the call a reply waits for (a delete), as the person would; the answer."""
        response = await self.http.post(
            reply["pending_approval"]["decide"], json={"approve": True}, headers=self.me["headers"]
        )
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]

    async def tasks(self) -> list[dict[str, Any]]:
        response = await self.http.get(f"/api/{self.me['id']}/tasks", headers=self.me["headers"])
        return response.json()["tasks"]  # type: ignore[no-any-return]


def tools(reply: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(call["name"], call["arguments"]) for call in reply["tool_calls"]]


def coming(weekday: int, start: date) -> date:
    return start + timedelta(days=(weekday - start.weekday()) % 7 or 7)


async def test_the_command_list(offline_runtime: Any, settings: Settings) -> None:
    now = today(settings)
    async with api_client(offline_runtime) as http:
        chat = Chat(http, await sign_up(http))

        reply = await chat.say("Add a task to buy groceries")
        assert tools(reply) == [("add_task", {"title": "Buy groceries"})]
        assert "Buy groceries" in reply["response"] and "1" in reply["response"]

        reply = await chat.say("I need to remember to pay bills")
        assert tools(reply)[0][0] == "add_task"
        assert tools(reply)[0][1]["title"].lower() == "pay bills"

        reply = await chat.say("add call the dentist friday, high priority")
        name, args = tools(reply)[0]
        assert name == "add_task" and args["priority"] == "high"
        assert args["due_date"] == coming(4, now).isoformat()

        reply = await chat.say("Add team meeting tomorrow #work")
        args = tools(reply)[0][1]
        assert args["due_date"] == (now + timedelta(days=1)).isoformat()
        assert args["tags"] == ["work"]

        reply = await chat.say("Show me all my tasks")
        [(name, args)] = tools(reply)
        assert name == "list_tasks" and args.get("status", "all") == "all"
        for title in ("Buy groceries", "Call the dentist", "Team meeting"):
            assert title.lower() in reply["response"].lower()

        reply = await chat.say("Mark task 3 as complete")
        assert tools(reply) == [("complete_task", {"task_id": 3})]
        assert reply["tool_calls"][0]["result"]["status"] == "completed"

        reply = await chat.say("What's pending?")
        assert tools(reply)[0][1]["status"] == "pending"
        assert "dentist" not in reply["response"].lower()
        assert "groceries" in reply["response"].lower()

        reply = await chat.say("What have I completed?")
        assert tools(reply)[0][1]["status"] == "completed"
        assert "dentist" in reply["response"].lower()

        reply = await chat.say("Change task 1 to 'Call mom tonight'")
        assert tools(reply) == [("update_task", {"task_id": 1, "title": "Call mom tonight"})]

        reply = await chat.say("Delete the meeting task")
        assert [name for name, _ in tools(reply)] == ["list_tasks", "delete_task"]
        assert tools(reply)[0][1]["search"] == "meeting"
        assert reply["pending_approval"]["summary"] == "Delete task 4 · Team meeting"
        reply = await chat.approve(reply)
        assert [name for name, _ in tools(reply)] == ["list_tasks", "delete_task"]
        assert reply["tool_calls"][1]["result"]["title"].lower() == "team meeting"

        reply = await chat.say("Delete the meeting task")
        assert [name for name, _ in tools(reply)] == ["list_tasks", "list_tasks"]
        assert "no task matching" in reply["response"].lower()

        reply = await chat.say("Mark task 42 as complete")
        assert reply["tool_calls"][0]["is_error"]
        assert "Task 42 was not found" in reply["response"]

        reply = await chat.say("What's the weather like?")
        assert reply["tool_calls"] == []
        assert "rule-based" in reply["response"].lower()

        titles = sorted(task["title"] for task in await chat.tasks())
        assert titles == ["Call mom tonight", "Call the dentist", "Pay bills"]


async def test_ambiguous_names_ask_which_one(offline_runtime: Any) -> None:
    async with api_client(offline_runtime) as http:
        chat = Chat(http, await sign_up(http))
        await chat.say("add weekly meeting prep")
        await chat.say("add meeting with Sam")
        reply = await chat.say("complete the meeting task")
        assert [name for name, _ in tools(reply)] == ["list_tasks"]
        assert "which one" in reply["response"].lower()
        # History comes from the database, so the answer to the question is understood.
        reply = await chat.say("2")
        assert tools(reply) == [("complete_task", {"task_id": 2})]
        done = [task["title"] for task in await chat.tasks() if task["completed"]]
        assert done == ["Meeting with Sam"]


async def test_hostile_text_is_parsed_off_the_event_loop(
    offline_runtime: Any, monkeypatch: Any
) -> None:
    """The parser runs in a worker thread, so a long hostile message never holds up the
    other requests on the worker's event loop."""
    import threading

    from taskpilot.agent.offline import model

    loop_thread = threading.get_ident()
    threads: list[int] = []
    parse = model.next_step

    def recorded(*args: Any, **kwargs: Any) -> Any:
        threads.append(threading.get_ident())
        return parse(*args, **kwargs)

    monkeypatch.setattr(model, "next_step", recorded)
    async with api_client(offline_runtime) as http:
        chat = Chat(http, await sign_up(http))
        await chat.say("#a" * 2000)
    assert threads and loop_thread not in threads


def test_the_parser_is_linear_in_its_input() -> None:
    """Four times the text costs about four times the work, not sixteen (a ratio measured in
    one run, the best of several, so a busy machine does not decide it)."""
    import time

    from taskpilot.agent.offline import next_step

    def cost(text: str) -> float:
        best = float("inf")
        for _ in range(5):
            started = time.perf_counter()
            next_step(text, date(2026, 12, 4))
            best = min(best, time.perf_counter() - started)
        return best

    for make in (
        lambda n: "#a" * n,
        lambda n: "add " + "x, " * n,
        lambda n: "add x due " + "a " * n,
        # Found in review of the corrections and clause readers: runs of one character.
        lambda n: "x" + " " * n + "x",
        lambda n: "x" + "\t" * n + "x",
        lambda n: "." * n,
        lambda n: "-" * n,
        lambda n: ":" * n,
        lambda n: "no is " * (n // 3),
        lambda n: "no wait " * (n // 4),
        lambda n: "x needs " * (n // 4),
        lambda n: "delete task 1, " * (n // 8),
    ):
        ratio = cost(make(2000)) / cost(make(500))
        assert ratio < 8, f"{make(2)!r}: 4x the text cost {ratio:.1f}x"


async def test_today_is_each_persons_own(offline_runtime: Any) -> None:
    """Two people a day apart (UTC+14 and UTC-11, always on different dates) each say "add
    ... today": each task is due on that person's date, through the API, the offline model
    and the MCP tools alike (the MCP tool reads the same zone for a date in words)."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    zones = {"kiri@example.com": "Pacific/Kiritimati", "pago@example.com": "Pacific/Pago_Pago"}
    due: dict[str, str] = {}
    async with api_client(offline_runtime) as http:
        for email, zone in zones.items():
            person = await sign_up(http, email)
            set_zone = {"timezone": zone}
            response = await http.patch("/api/auth/me", json=set_zone, headers=person["headers"])
            assert response.status_code == 200, response.text
            chat = Chat(http, person)
            reply = await chat.say("add water the ferns today")
            due[zone] = tools(reply)[0][1]["due_date"]
            [task] = await chat.tasks()
            assert task["due_date"] == due[zone]
    for zone, day in due.items():
        assert day == datetime.now(ZoneInfo(zone)).date().isoformat(), zone
    assert len(set(due.values())) == 2
