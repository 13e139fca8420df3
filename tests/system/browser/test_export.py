"""Export from the account menu: the CSV download, and the calendar feed dialog (make the
URL, fetch the calendar from it as a calendar app would, revoke it)."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import expect

from tests.support.browser import PHONE, seed_conversation
from tests.support.calendar_reader import parse
from tests.support.chat_page import Account, ChatPage
from tests.support.openai_standin import ScriptedCall, tool_calls
from tests.support.standin import BrowserStandIn

pytestmark = pytest.mark.browser
TITLE = "=Dentist, bring the café card"


def test_export_csv_and_the_calendar_feed_from_the_account_menu(
    open_page: Callable[..., ChatPage],
    account: Account,
    model: BrowserStandIn,
    api: httpx.Client,
) -> None:
    seed_conversation(
        api,
        account,
        model,
        "add the dentist on 2026-12-09",
        "Added.",
        tool_calls(ScriptedCall("add_task", {"title": TITLE, "due_date": "2026-12-09"})),
    )
    chat = open_page(account, permissions=["clipboard-read", "clipboard-write"]).open_chat()
    page = chat.page

    chat.button("Account menu").click()
    chat.screenshot("account-menu")
    with page.expect_download() as waiting:
        page.get_by_role("menuitem", name="Export tasks (CSV)", exact=True).click()
    download = waiting.value
    assert download.suggested_filename == "taskpilot-tasks.csv"
    body = Path(download.path()).read_bytes()
    assert body.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"), newline="")))
    assert rows[0][:3] == ["number", "title", "status"]
    assert rows[1][:3] == ["1", "'" + TITLE, "pending"]

    chat.button("Account menu").click()
    page.get_by_role("menuitem", name="Calendar feed…", exact=True).click()
    dialog = page.get_by_role("dialog", name="Calendar feed")
    status = dialog.get_by_test_id("calendar-feed-status")
    expect(status).to_have_text("You have no calendar feed.")
    dialog.get_by_role("button", name="Create feed URL", exact=True).click()
    field = dialog.get_by_role("textbox", name="Calendar feed URL", exact=True)
    expect(field).not_to_have_value("")
    url = field.input_value()
    assert url.startswith(f"{chat.base_url}/api/calendar/tpcal_") and url.endswith(".ics")
    dialog.get_by_role("button", name="Copy URL", exact=True).click()
    assert page.evaluate("() => navigator.clipboard.readText()") == url
    chat.screenshot("calendar-feed-dialog")

    feed = httpx.get(url)  # as a calendar app fetches it: no token
    assert feed.status_code == 200
    [event] = parse(feed.content).children
    assert (event.text("SUMMARY"), event.raw("DTSTART")) == (TITLE, "20261209")

    dialog.get_by_role("button", name="Close", exact=True).click()
    expect(dialog).to_have_count(0)
    # Opened again, the dialog says a feed is on, without its URL (kept only as a hash).
    chat.button("Account menu").click()
    page.get_by_role("menuitem", name="Calendar feed…", exact=True).click()
    expect(status).to_contain_text("Your feed has been on since")
    expect(field).to_have_count(0)
    dialog.get_by_role("button", name="Revoke feed", exact=True).click()
    expect(status).to_have_text("You have no calendar feed.")
    expect(field).to_have_count(0)
    assert httpx.get(url).status_code == 404
    dialog.get_by_role("button", name="Close", exact=True).click()
    expect(dialog).to_have_count(0)
    # The page is still usable after the dialog (no stuck overlay from the menu).
    chat.composer.click()
    expect(chat.composer).to_be_focused()
    assert urlsplit(url).path not in page.content()
    model.assert_done()


def test_the_feed_dialog_fits_a_phone_in_the_dark(
    open_page: Callable[..., ChatPage], account: Account
) -> None:
    chat = open_page(account, viewport=PHONE).open_chat()
    chat.button("Toggle theme").click()
    chat.button("Account menu").click()
    chat.page.get_by_role("menuitem", name="Calendar feed…", exact=True).click()
    dialog = chat.page.get_by_role("dialog", name="Calendar feed")
    dialog.get_by_role("button", name="Create feed URL", exact=True).click()
    field = dialog.get_by_role("textbox", name="Calendar feed URL", exact=True)
    expect(field).not_to_have_value("")
    box, frame = field.bounding_box(), dialog.bounding_box()
    assert box is not None and frame is not None
    assert box["x"] + box["width"] <= frame["x"] + frame["width"], "the URL field overflows"
    assert chat.horizontal_overflow() <= 0
    chat.screenshot("calendar-feed-dialog-375-dark")
