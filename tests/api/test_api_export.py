"""Export over HTTP: `GET /api/{user_id}/tasks.csv`, and the calendar feed — created and
revoked with a bearer token, fetched by calendar apps at its secret URL without one — on
SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import ipaddress
import logging
import secrets
from datetime import date
from typing import Any
from urllib.parse import urlsplit

import httpx

from taskpilot.core.config import Settings
from taskpilot.core.logs import configure
from taskpilot.runtime import Runtime
from taskpilot.services.tasks import TaskService
from tests.support.calendar_reader import parse
from tests.support.harness import api_client, make_settings, sign_up


async def add_tasks(runtime: Runtime, user_id: str, *titles: str, due: date | None = None) -> None:
    async with runtime.db.session() as session:
        for title in titles:
            await TaskService(session, user_id).add(title, due_date=due)


def feed_path(url: str) -> str:
    """The path of a feed URL (the test client talks to the app in-process)."""
    return urlsplit(url).path


async def test_the_csv_download_is_a_named_attachment_of_your_tasks(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    ada = await sign_up(client, "ada@example.com")
    bob = await sign_up(client, "bob@example.com")
    await add_tasks(runtime, ada["id"], "=1+2 the café bill ☕", "Pay rent")
    await add_tasks(runtime, bob["id"], "Bob's private plan")
    async with runtime.db.session() as session:
        await TaskService(session, ada["id"]).complete(2)

    answer = await client.get(f"/api/{ada['id']}/tasks.csv", headers=ada["headers"])
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "text/csv; charset=utf-8"
    assert answer.headers["content-disposition"] == 'attachment; filename="taskpilot-tasks.csv"'
    assert answer.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(answer.content.decode("utf-8-sig"), newline="")))
    assert [row[1] for row in rows[1:]] == ["'=1+2 the café bill ☕", "Pay rent"]
    assert "Bob's private plan" not in answer.text

    pending = await client.get(
        f"/api/{ada['id']}/tasks.csv", params={"status": "pending"}, headers=ada["headers"]
    )
    assert [row[1] for row in csv.reader(io.StringIO(pending.content.decode("utf-8-sig")))][1:] == [
        "'=1+2 the café bill ☕"
    ]
    bad = await client.get(
        f"/api/{ada['id']}/tasks.csv", params={"due_before": "0"}, headers=ada["headers"]
    )
    assert bad.status_code == 422 and bad.json()["code"] == "invalid_request"


async def test_the_csv_is_only_for_its_owner(client: httpx.AsyncClient) -> None:
    ada = await sign_up(client, "ada@example.com")
    bob = await sign_up(client, "bob@example.com")
    assert (await client.get(f"/api/{ada['id']}/tasks.csv")).status_code == 401
    other = await client.get(f"/api/{ada['id']}/tasks.csv", headers=bob["headers"])
    assert (other.status_code, other.json()["code"]) == (403, "forbidden")


async def test_a_feed_url_serves_the_calendar_until_replaced_or_revoked(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    ada = await sign_up(client, "ada@example.com")
    await add_tasks(runtime, ada["id"], "Dentist, 9:00; bring card", due=date(2026, 12, 9))
    await add_tasks(runtime, ada["id"], "Someday")
    made = await client.post(f"/api/{ada['id']}/calendar-feed", headers=ada["headers"])
    assert made.status_code == 201, made.text
    first = made.json()["url"]
    assert first.startswith("http://localhost:8000/api/calendar/tpcal_") and first.endswith(".ics")

    feed = await client.get(feed_path(first))  # no bearer token: calendar apps send none
    assert feed.status_code == 200
    assert feed.headers["content-type"] == "text/calendar; charset=utf-8"
    events = parse(feed.content).children
    assert [(e.text("SUMMARY"), e.raw("DTSTART")) for e in events] == [
        ("Dentist, 9:00; bring card", "20261209")
    ]

    second = (await client.post(f"/api/{ada['id']}/calendar-feed", headers=ada["headers"])).json()
    gone = await client.get(feed_path(first))
    assert gone.status_code == 404
    assert (await client.get(feed_path(second["url"]))).status_code == 200

    revoked = await client.delete(f"/api/{ada['id']}/calendar-feed", headers=ada["headers"])
    assert revoked.status_code == 204
    after = await client.get(feed_path(second["url"]))
    unknown = await client.get(f"/api/calendar/tpcal_{secrets.token_urlsafe(41)[:55]}.ics")
    nonsense = await client.get("/api/calendar/feed.ics")
    # Replaced, revoked, unknown, malformed: one answer, word for word.
    assert after.status_code == unknown.status_code == nonsense.status_code == 404
    assert gone.json() == after.json() == unknown.json() == nonsense.json()
    assert gone.json()["code"] == "not_found"
    again = await client.delete(f"/api/{ada['id']}/calendar-feed", headers=ada["headers"])
    assert again.status_code == 204


async def test_a_feed_unchanged_since_the_last_fetch_is_a_304_without_a_body(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    """Calendar apps poll: a fetch sending back the `ETag` it got is answered 304 with no
    body while the tasks are the same, and 200 with the new feed once one changed. The
    answers are `private`: no shared cache keeps what the secret opens."""
    ada = await sign_up(client, "ada@example.com")
    await add_tasks(runtime, ada["id"], "Dentist", due=date(2026, 12, 9))
    url = feed_path(
        (await client.post(f"/api/{ada['id']}/calendar-feed", headers=ada["headers"])).json()["url"]
    )
    first = await client.get(url)
    tag = first.headers["etag"]
    assert first.status_code == 200 and tag.startswith('"') and tag.endswith('"')
    assert first.headers["cache-control"] == "private, no-cache"
    for sent in (tag, f"W/{tag}", f'"other", {tag}', "*"):
        same = await client.get(url, headers={"If-None-Match": sent})
        assert same.status_code == 304, sent
        assert same.content == b"" and same.headers["etag"] == tag
    assert (await client.get(url, headers={"If-None-Match": '"other"'})).status_code == 200

    await add_tasks(runtime, ada["id"], "Plumber", due=date(2026, 12, 10))
    changed = await client.get(url, headers={"If-None-Match": tag})
    assert changed.status_code == 200 and changed.headers["etag"] != tag
    assert [e.text("SUMMARY") for e in parse(changed.content).children] == ["Dentist", "Plumber"]


async def test_no_one_else_can_make_revoke_or_read_through_your_feed(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    ada = await sign_up(client, "ada@example.com")
    bob = await sign_up(client, "bob@example.com")
    await add_tasks(runtime, ada["id"], "Ada's appointment", due=date(2026, 12, 9))
    await add_tasks(runtime, bob["id"], "Bob's appointment", due=date(2026, 12, 9))
    adas = (await client.post(f"/api/{ada['id']}/calendar-feed", headers=ada["headers"])).json()
    bobs = (await client.post(f"/api/{bob['id']}/calendar-feed", headers=bob["headers"])).json()
    for method in ("POST", "DELETE"):
        refused = await client.request(
            method, f"/api/{ada['id']}/calendar-feed", headers=bob["headers"]
        )
        assert (refused.status_code, refused.json()["code"]) == (403, "forbidden")
        anonymous = await client.request(method, f"/api/{ada['id']}/calendar-feed")
        assert anonymous.status_code == 401
    ada_feed = await client.get(feed_path(adas["url"]))
    bob_feed = await client.get(feed_path(bobs["url"]))
    assert "Ada's appointment" in ada_feed.text and "Bob's" not in ada_feed.text
    assert "Bob's appointment" in bob_feed.text and "Ada's" not in bob_feed.text
    # Bob revoking his feed leaves Ada's working.
    await client.delete(f"/api/{bob['id']}/calendar-feed", headers=bob["headers"])
    assert (await client.get(feed_path(adas["url"]))).status_code == 200


async def test_the_feed_url_names_the_address_the_proxy_was_reached_at(
    sqlite_url: str, running: Any
) -> None:
    settings = make_settings(sqlite_url, trusted_proxies=1)
    runtime = await running(Runtime(settings))
    async with api_client(runtime) as http:
        ada = await sign_up(http, "ada@example.com")
        made = await http.post(
            f"/api/{ada['id']}/calendar-feed",
            headers={
                **ada["headers"],
                "X-Forwarded-Proto": "https",
                "X-Forwarded-Host": "tasks.example.com",
            },
        )
    assert made.json()["url"].startswith("https://tasks.example.com/api/calendar/tpcal_")


def _address() -> str:
    return str(ipaddress.IPv4Address(0x0A000000 + secrets.randbits(24)))


async def test_feed_fetches_are_limited_per_client_address_found_or_not(
    sqlite_url: str, running: Any
) -> None:
    settings = make_settings(sqlite_url, trusted_proxies=1, calendar_feed_fetches_per_minute=3)
    runtime = await running(Runtime(settings))
    scanner, calendar_app = _address(), _address()
    async with api_client(runtime) as http:
        ada = await sign_up(http, "ada@example.com")
        url = (await http.post(f"/api/{ada['id']}/calendar-feed", headers=ada["headers"])).json()
        for n in range(3):
            guess = await http.get(
                f"/api/calendar/tpcal_{n}.ics", headers={"X-Forwarded-For": scanner}
            )
            assert guess.status_code == 404
        # Over the limit, even the right secret gets the refusal: it is counted before the
        # secret is looked at, so the answer says nothing about it.
        refused = await http.get(feed_path(url["url"]), headers={"X-Forwarded-For": scanner})
        assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
        assert refused.json()["code"] == "rate_limited"
        served = await http.get(feed_path(url["url"]), headers={"X-Forwarded-For": calendar_app})
        assert served.status_code == 200


async def test_a_feed_secret_never_reaches_the_logs(settings: Settings, running: Any) -> None:
    runtime = await running(Runtime(settings))
    stream = io.StringIO()
    logger = configure(settings, stream)
    try:
        async with api_client(runtime) as http:
            ada = await sign_up(http, "ada@example.com")
            made = await http.post(f"/api/{ada['id']}/calendar-feed", headers=ada["headers"])
            url = made.json()
            assert (await http.get(feed_path(url["url"]))).status_code == 200
            await http.get(feed_path(url["url"]) + "x")  # a 404 is logged too
    finally:
        for handler in [h for h in logger.handlers if getattr(h, "_taskpilot", False)]:
            logger.removeHandler(handler)
        logger.propagate = True
        logger.setLevel(logging.NOTSET)
    secret = feed_path(url["url"]).removeprefix("/api/calendar/").removesuffix(".ics")
    logged = stream.getvalue()
    assert '"path": "/api/calendar/***.ics"' in logged
    assert secret not in logged and secret[6:20] not in logged


async def test_the_listing_and_the_csv_take_the_same_documented_filters(
    client: httpx.AsyncClient,
) -> None:
    """One set of filters (`api/task_filters.py`), documented alike on both routes; only the
    listing takes a page size."""
    paths = (await client.get("/api/openapi.json")).json()["paths"]

    def query_parameters(path: str) -> dict[str, Any]:
        return {p["name"]: p for p in paths[path]["get"]["parameters"] if p["in"] == "query"}

    listing = query_parameters("/api/{user_id}/tasks")
    export = query_parameters("/api/{user_id}/tasks.csv")
    assert set(listing) - set(export) == {"limit"}
    assert {name: listing[name] for name in export} == export
    assert set(export) == {"status", "priority", "tag", "search", "due_before", "due_after", "sort"}
    assert all(parameter.get("description") for parameter in listing.values())
