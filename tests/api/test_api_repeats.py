"""Repeating tasks through the HTTP API with the offline model: said in a message, listed by
`GET /api/{user}/tasks` with their rule, and counted from the person's own today."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx

from taskpilot.runtime import Runtime
from tests.support.harness import api_client, sign_up


async def tasks_of(http: httpx.AsyncClient, person: dict) -> list[dict]:  # type: ignore[type-arg]
    response = await http.get(f"/api/{person['id']}/tasks", headers=person["headers"])
    assert response.status_code == 200, response.text
    return response.json()["tasks"]  # type: ignore[no-any-return]


async def say(http: httpx.AsyncClient, person: dict, text: str) -> str:  # type: ignore[type-arg]
    response = await http.post(
        f"/api/{person['id']}/chat", json={"message": text}, headers=person["headers"]
    )
    assert response.status_code == 200, response.text
    return response.json()["response"]  # type: ignore[no-any-return]


async def test_a_repeating_task_said_in_words_is_listed_with_its_rule_and_moves_when_done(
    offline_runtime: Runtime,
) -> None:
    async with api_client(offline_runtime) as http:
        ada = await sign_up(http)
        zone = "Pacific/Kiritimati"  # far from the server's day for most of it
        await http.patch("/api/auth/me", json={"timezone": zone}, headers=ada["headers"])
        reply = await say(http, ada, "water the ferns every monday")
        (task,) = await tasks_of(http, ada)
        here = datetime.now(ZoneInfo(zone)).date()
        monday = here + timedelta(days=-here.weekday() % 7)
        assert (task["title"], task["repeat"], task["due_date"]) == (
            "Water the ferns",
            "FREQ=WEEKLY;BYDAY=MO",
            monday.isoformat(),
        )
        assert "every Monday" in reply
        reply = await say(http, ada, "done with the ferns")
        (task,) = await tasks_of(http, ada)
        assert (task["completed"], task["due_date"]) == (False, (monday + timedelta(7)).isoformat())
        assert "every Monday" in reply and "next due" in reply
        await say(http, ada, "stop repeating task 1")
        (task,) = await tasks_of(http, ada)
        assert task["repeat"] is None


async def test_every_day_starts_on_each_persons_own_today(offline_runtime: Runtime) -> None:
    """Two people a day apart (UTC+14 and UTC-11) say "every day": each task starts on its
    person's today, not the server's."""
    async with api_client(offline_runtime) as http:
        dues: dict[str, date] = {}
        for email, zone in (
            ("ada@example.com", "Pacific/Kiritimati"),
            ("bob@example.com", "Pacific/Pago_Pago"),
        ):
            person = await sign_up(http, email)
            await http.patch("/api/auth/me", json={"timezone": zone}, headers=person["headers"])
            before = datetime.now(ZoneInfo(zone)).date()
            await say(http, person, "add stretch every day")
            (task,) = await tasks_of(http, person)
            assert task["repeat"] == "FREQ=DAILY"
            dues[zone] = date.fromisoformat(task["due_date"])
            assert before <= dues[zone] <= datetime.now(ZoneInfo(zone)).date()
        assert dues["Pacific/Kiritimati"] > dues["Pacific/Pago_Pago"]
