"""The account menu's export handlers (`ExportState`) against a real runtime: the CSV
download's bytes, the feed dialog's whole life, and what it says when the database is down."""

from __future__ import annotations

import base64
from datetime import date
from typing import Any

import pytest
from reflex.istate.data import RouterData
from reflex_base.event import EventSpec

from taskpilot.services.export import CSV_FILENAME, CalendarFeeds, feed_owner
from taskpilot.services.tasks import TaskService
from taskpilot.web.states.auth import DATABASE_DOWN
from taskpilot.web.states.export import ExportState
from tests.support.web_states import Page, call, redirect_to


def downloaded(event: Any) -> tuple[str, bytes]:
    """The file name and bytes of an `rx.download` with data."""
    assert isinstance(event, EventSpec) and event.handler.fn.__qualname__ == "_download"
    args = {str(key): value._var_value for key, value in event.args}  # type: ignore[attr-defined]
    head, _, data = args["url"].partition(",")
    assert head == "data:text/csv;base64"
    return args["filename"], base64.b64decode(data)


async def owner(tab: Page, url: str) -> str | None:
    secret = url.rpartition("/")[2].removesuffix(".ics")
    async with tab.runtime.db.session() as session:
        return await feed_owner(session, secret)


async def test_export_handlers_need_a_valid_token(tab: Page) -> None:
    export = tab.state(ExportState)
    for handler in ("download_csv", "open_feed", "create_feed", "revoke_feed"):
        assert redirect_to(await call(export, handler)) == "/login"


async def test_the_csv_download_holds_the_persons_tasks(tab: Page) -> None:
    user = await tab.sign_up()
    async with tab.runtime.db.session() as session:
        await TaskService(session, user).add("@mention the team", due_date=date(2026, 12, 9))
    name, body = downloaded(await call(tab.state(ExportState), "download_csv"))
    assert name == CSV_FILENAME
    assert body.startswith(b"\xef\xbb\xbf")
    assert b"'@mention the team" in body and b"2026-12-09" in body


async def test_the_feed_dialog_makes_shows_forgets_and_revokes_the_url(tab: Page) -> None:
    user = await tab.sign_up()
    tab.root.router = RouterData.from_router_data(
        {
            "pathname": "/",
            "asPath": "/",
            "headers": {"origin": "https://tasks.example.com", "host": "tasks.example.com"},
        }
    )
    export = tab.state(ExportState)
    await call(export, "open_feed")
    assert (export.feed_open, export.feed_since, export.feed_url) == (True, "", "")
    await call(export, "create_feed")
    url = export.feed_url
    assert url.startswith("https://tasks.example.com/api/calendar/tpcal_")
    assert export.feed_since != "" and await owner(tab, url) == user
    await call(export, "set_feed_open", False)
    assert (export.feed_open, export.feed_url) == (False, "")  # the secret leaves the state
    await call(export, "open_feed")
    assert export.feed_since != "" and export.feed_url == ""
    await call(export, "revoke_feed")
    assert (export.feed_since, export.feed_url) == ("", "")
    assert await owner(tab, url) is None


async def test_a_feed_made_as_its_dialog_closes_leaves_no_url_in_the_page(
    tab: Page, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The feed is made in the background. If the dialog closes meanwhile, its URL (a secret)
    is not put in the page's state, which may live in Redis; and Revoke pressed while it is
    being made does nothing (it would overtake it, and the dialog show a dead URL)."""
    user = await tab.sign_up()
    export = tab.state(ExportState)
    await call(export, "open_feed")
    create = CalendarFeeds.create

    async def closed_meanwhile(feeds: CalendarFeeds) -> str:
        assert export.feed_busy
        assert await call(export, "revoke_feed") is None
        await call(export, "set_feed_open", False)
        return await create(feeds)

    monkeypatch.setattr(CalendarFeeds, "create", closed_meanwhile)
    await call(export, "create_feed")
    assert (export.feed_url, export.feed_busy) == ("", False)
    async with tab.runtime.db.session() as session:
        assert await CalendarFeeds(session, user).created_at() is not None  # made, not revoked
    export.feed_busy = True  # as a worker that died during an action leaves it
    await call(export, "open_feed")
    assert not export.feed_busy


async def test_the_export_handlers_say_when_the_database_is_down(
    tab: Page, monkeypatch: pytest.MonkeyPatch
) -> None:
    await tab.sign_up()
    tab.database_down(monkeypatch)
    export = tab.state(ExportState)
    toast = await call(export, "download_csv")
    assert isinstance(toast, EventSpec) and DATABASE_DOWN in str(toast.args)
    for handler in ("open_feed", "create_feed", "revoke_feed"):
        export.feed_error = ""
        await call(export, handler)
        assert export.feed_error == DATABASE_DOWN, handler
    assert export.feed_url == ""
