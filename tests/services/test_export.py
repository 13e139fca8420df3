"""Export: tasks as CSV and the private calendar feed, on a real SQLite file and a real
PostgreSQL."""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
from datetime import date
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from taskpilot.data.models import CalendarFeed, Task
from taskpilot.runtime import Runtime
from taskpilot.services.export import (
    CSV_COLUMNS,
    DONE_MARK,
    CalendarFeeds,
    feed_calendar,
    feed_owner,
    render_csv,
    safe_cell,
    tasks_csv,
)
from taskpilot.services.tasks import MAX_LIST, StatusFilter, TaskQuery, TaskService
from tests.services.test_task_service import new_user
from tests.support.calendar_reader import parse, split_text_list

BOM = b"\xef\xbb\xbf"


def read_csv(body: bytes) -> list[list[str]]:
    """The rows of a CSV export, checking its BOM and RFC 4180 row ends on the way."""
    assert body.startswith(BOM)
    text = body[len(BOM) :].decode()
    assert text.endswith("\r\n")
    return list(csv.reader(io.StringIO(text, newline="")))


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_a_cell_that_would_be_a_formula_is_kept_as_text(start: str) -> None:
    assert safe_cell(f"{start}SUM(A1:A9)") == f"'{start}SUM(A1:A9)"
    assert safe_cell(f"a{start}b") == f"a{start}b"


def test_tabs_and_carriage_returns_in_rows_are_guarded_and_quoted() -> None:
    # The services trim these from titles, but the CSV writer does not rely on it.
    task = Task(id=1, user_id="u", number=1, title="\tcmd", description="\r=1+1\nmore")
    rows = read_csv(render_csv([task], ZoneInfo("UTC")))
    assert rows[1][1] == "'\tcmd"
    assert rows[1][6] == "'\r=1+1\nmore"


async def test_the_csv_holds_every_task_in_excel_readable_utf8(runtime: Runtime) -> None:
    user = await new_user(runtime.db, "ada@example.com")
    async with runtime.db.session() as session:
        tasks = TaskService(session, user)
        await tasks.add(
            'Café ☕ 日本語, "quoted"',
            description="two\nlines, a comma",
            priority="high",
            due_date=date(2026, 12, 24),
            tags="home, family",
        )
        await tasks.add('=HYPERLINK("http://evil.example","click")')
        await tasks.add("+1 555 0100")
        await tasks.add("-list")
        await tasks.add("@here", description="=cmd|' /C calc'!A0")
        await tasks.complete(2)
        body = await tasks_csv(session, user, TaskQuery(), "Asia/Tokyo")
    rows = read_csv(body)
    assert tuple(rows[0]) == CSV_COLUMNS
    first = dict(zip(CSV_COLUMNS, rows[1], strict=True))
    assert first["number"] == "1"
    assert first["title"] == 'Café ☕ 日本語, "quoted"'
    assert first["description"] == "two\nlines, a comma"
    assert (first["status"], first["priority"], first["due date"]) == (
        "pending",
        "high",
        "2026-12-24",
    )
    assert first["tags"] == "home, family"
    assert first["completed"] == ""
    # Times in the person's zone, in a form spreadsheets read as a date and time.
    task = (await _rows(runtime, user))[0]
    assert first["created"] == task.created_at.astimezone(ZoneInfo("Asia/Tokyo")).strftime(
        "%Y-%m-%d %H:%M"
    )
    assert [row[1] for row in rows[2:]] == [
        '\'=HYPERLINK("http://evil.example","click")',
        "'+1 555 0100",
        "'-list",
        "'@here",
    ]
    assert rows[5][6] == "'=cmd|' /C calc'!A0"
    assert (rows[2][2], rows[2][8] != "") == ("completed", True)


async def _rows(runtime: Runtime, user: str) -> list[Task]:
    async with runtime.db.session() as session:
        return await TaskService(session, user).find()


async def test_the_csv_takes_the_listing_filters_but_not_its_page_limit(runtime: Runtime) -> None:
    ada = await new_user(runtime.db, "ada@example.com")
    bob = await new_user(runtime.db, "bob@example.com")
    async with runtime.db.session() as session:
        await TaskService(session, bob).add("Bob's secret plan")
        values = [
            {"user_id": ada, "number": n, "title": f"Task {n}", "completed": n % 2 == 0}
            for n in range(1, MAX_LIST + 12)
        ]
        await session.execute(sa.insert(Task), values)
        await session.commit()
        everything = read_csv(await tasks_csv(session, ada, TaskQuery(), "UTC"))
        done = read_csv(
            await tasks_csv(session, ada, TaskQuery(status=StatusFilter.COMPLETED), "UTC")
        )
    assert len(everything) == 1 + MAX_LIST + 11
    assert "Bob's secret plan" not in str(everything)
    assert {row[2] for row in done[1:]} == {"completed"}
    assert len(done) == 1 + (MAX_LIST + 11) // 2


async def test_a_feed_secret_opens_only_its_own_feed_until_replaced_or_revoked(
    runtime: Runtime,
) -> None:
    ada = await new_user(runtime.db, "ada@example.com")
    bob = await new_user(runtime.db, "bob@example.com")
    async with runtime.db.session() as session:
        assert await CalendarFeeds(session, ada).created_at() is None
        first = await CalendarFeeds(session, ada).create()
        bobs = await CalendarFeeds(session, bob).create()
        assert await feed_owner(session, first) == ada
        assert await feed_owner(session, bobs) == bob
        # A verifier that is not the feed's, another person's verifier on this selector, a
        # truncated or padded secret, and nonsense open nothing.
        tampered = first[:-1] + ("A" if first[-1] != "A" else "B")
        spliced = first[: len("tpcal_") + 12] + bobs[len("tpcal_") + 12 :]
        for wrong in (tampered, spliced, first[:-1], first + "A", "", "tpcal_", "x\x00" * 40):
            assert await feed_owner(session, wrong) is None, wrong
        second = await CalendarFeeds(session, ada).create()
        assert second != first
        assert await feed_owner(session, first) is None  # the old URL is dead at once
        assert await feed_owner(session, second) == ada
        assert await CalendarFeeds(session, ada).created_at() is not None
        assert await CalendarFeeds(session, ada).revoke() is True
        assert await feed_owner(session, second) is None
        assert await CalendarFeeds(session, ada).revoke() is False
        assert await CalendarFeeds(session, ada).created_at() is None
        assert await feed_owner(session, bobs) == bob  # Ada's revoke touched only hers


async def test_only_a_hash_of_the_secret_is_stored(runtime: Runtime) -> None:
    ada = await new_user(runtime.db, "ada@example.com")
    async with runtime.db.session() as session:
        secret = await CalendarFeeds(session, ada).create()
        row = (await session.exec(sa.select(CalendarFeed))).one()[0]  # type: ignore[call-overload]
    verifier = secret[len("tpcal_") + 12 :]
    assert len(verifier) >= 43  # 256 bits of URL-safe base64 (at least 128 asked)
    assert verifier not in (row.selector, row.verifier_hash)
    assert row.verifier_hash == hashlib.sha256(verifier.encode()).hexdigest()


async def test_feeds_created_at_once_leave_one_working_url(runtime: Runtime) -> None:
    ada = await new_user(runtime.db, "ada@example.com")

    async def create() -> str:
        async with runtime.db.session() as session:
            return await CalendarFeeds(session, ada).create()

    secrets = await asyncio.gather(*(create() for _ in range(4)))
    async with runtime.db.session() as session:
        owners = [await feed_owner(session, secret) for secret in secrets]
        count = (await session.exec(sa.select(sa.func.count()).select_from(CalendarFeed))).one()  # type: ignore[call-overload]
    assert owners.count(ada) == 1 and owners.count(None) == 3
    assert tuple(count) == (1,)


async def test_the_feed_has_an_all_day_event_per_task_with_a_due_date(runtime: Runtime) -> None:
    ada = await new_user(runtime.db, "ada@example.com")
    bob = await new_user(runtime.db, "bob@example.com")
    long_title = "Renew the passport; bring photos, forms \\ receipts " + "ü" * 120
    async with runtime.db.session() as session:
        tasks = TaskService(session, ada)
        await tasks.add(
            long_title,
            description="Line 1\nLine 2",
            due_date=date(2026, 12, 3),
            tags="admin, travel",
            priority="high",
        )
        await tasks.add("No date at all")
        await tasks.add("Pay rent", due_date=date(2026, 12, 1), priority="low")
        await tasks.complete(3)
        await TaskService(session, bob).add("Bob's dentist", due_date=date(2026, 12, 2))
        before = parse((await feed_calendar(session, ada)).encode())
        await tasks.update(1, title="Renew the passport")
        after = parse((await feed_calendar(session, ada)).encode())
    events = {event.text("SUMMARY"): event for event in before.children}
    assert set(events) == {long_title, f"{DONE_MARK}Pay rent"}
    passport = events[long_title]
    assert passport.raw("DTSTART") == "20261203" and passport.params("DTSTART") == {"VALUE": "DATE"}
    assert passport.raw("DTEND") == "20261204"
    assert passport.text("DESCRIPTION") == "Line 1\nLine 2"
    assert split_text_list(passport.raw("CATEGORIES")) == ["admin", "travel"]
    assert passport.raw("PRIORITY") == "1"
    assert passport.raw("UID").startswith("task-1-") and passport.raw("UID").endswith("@taskpilot")
    assert ada not in passport.raw("UID")
    # The UID stays when the task changes; the events come by due date.
    assert [event.raw("UID") for event in after.children][1] == passport.raw("UID")
    assert after.children[1].text("SUMMARY") == "Renew the passport"
    assert [event.raw("DTSTART") for event in after.children] == ["20261201", "20261203"]


async def test_another_persons_tasks_never_reach_a_feed(runtime: Runtime) -> None:
    ada = await new_user(runtime.db, "ada@example.com")
    bob = await new_user(runtime.db, "bob@example.com")
    async with runtime.db.session() as session:
        await TaskService(session, ada).add("Ada's day", due_date=date(2026, 12, 2))
        await TaskService(session, bob).add("Bob's day", due_date=date(2026, 12, 2))
        ada_uid = parse((await feed_calendar(session, ada)).encode()).children[0].raw("UID")
        bob_feed = parse((await feed_calendar(session, bob)).encode())
    assert [event.text("SUMMARY") for event in bob_feed.children] == ["Bob's day"]
    assert bob_feed.children[0].raw("UID") != ada_uid  # both are task 1: the person part differs
