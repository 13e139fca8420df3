"""Your tasks taken out of TaskPilot: as a CSV file, and as a private calendar feed.

**CSV** (`tasks_csv`): RFC 4180 as Python's `csv` module writes it (commas, fields with a
comma, quote or line break quoted, CRLF rows), in UTF-8 with a byte-order mark so that Excel
reads it as UTF-8 rather than the machine's code page. A cell a spreadsheet would run as a
formula — one starting with `=`, `+`, `-`, `@`, a tab or a carriage return — gets a leading
`'` (OWASP's advice against CSV injection); numbers and dates are TaskPilot's own. Times are
in the person's time zone, as "2026-12-05 14:03".

**Calendar feed** (`CalendarFeeds`, `feed_owner`, `feed_calendar`): one secret URL per
person, `…/api/calendar/tpcal_<selector><verifier>.ics`, that calendar apps fetch without
signing in (they cannot send a token), so the secret is the credential. Both parts come from
`secrets`: the selector (72 bits) finds the row and is stored as it is; the verifier (256 bits)
is stored only as its SHA-256 (fine for a random token: nothing to brute-force) and compared
in constant time — against a dummy hash when no row has the selector, so an unknown feed, a
revoked one (its row is deleted) and a wrong verifier take the same path. (Measured: an
existing selector with a wrong verifier answers ≈ 20–40 µs slower than an unknown one, the row
being read; that tells a guesser only that a 72-bit selector exists, nothing about the
verifier, and an unknown and a revoked feed cannot differ at all.) The `tpcal_`
prefix lets the logs mask the secret wherever a URL is logged (`core/logs.py`). Creating a
feed again replaces it: the old URL stops working at once.

The feed has one all-day event per task with a due date, done ones too, so the calendar keeps
the history: a done task's title starts with "✓ ". Its UID, `task-<number>-<person>@taskpilot`,
stays the same when the task changes (the number is the person's own; the person part is a
hash of their id, so the UID is unique across people without naming them).
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import re
import secrets
from collections.abc import Iterable
from dataclasses import replace
from datetime import date, datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from taskpilot.data.models import CalendarFeed, Priority, Task, as_utc, utcnow
from taskpilot.services.calendar_text import AllDayEvent, calendar
from taskpilot.services.tasks import SortOrder, TaskQuery, TaskService

CSV_FILENAME = "taskpilot-tasks.csv"
CSV_COLUMNS = (
    "number",
    "title",
    "status",
    "priority",
    "due date",
    "tags",
    "description",
    "created",
    "completed",
)
# What a spreadsheet reads as the start of a formula (OWASP, "CSV Injection").
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

CALENDAR_NAME = "TaskPilot tasks"
DONE_MARK = "✓ "
FEED_PREFIX = "tpcal_"
_SELECTOR_BYTES = 9  # 12 characters of URL-safe base64
_VERIFIER_BYTES = 32  # 43 characters: the credential
_SECRET = re.compile(rf"{FEED_PREFIX}([A-Za-z0-9_-]{{12}})([A-Za-z0-9_-]{{43}})")
# What a verifier is compared with when no feed has the selector: nothing hashes to it.
_NO_FEED = "0" * 64
_CREATE_ATTEMPTS = 3
_feeds: sa.Table = CalendarFeed.__table__  # type: ignore[attr-defined]
_PRIORITY = {Priority.HIGH.value: 1, Priority.MEDIUM.value: 5, Priority.LOW.value: 9}


def safe_cell(text: str) -> str:
    """A text cell a spreadsheet will show as text, never run as a formula."""
    return "'" + text if text.startswith(_FORMULA_START) else text


def _local(moment: datetime | None, zone: ZoneInfo) -> str:
    value = as_utc(moment)
    return value.astimezone(zone).strftime("%Y-%m-%d %H:%M") if value else ""


def render_csv(tasks: Iterable[Task], zone: ZoneInfo) -> bytes:
    """These tasks as a CSV file (UTF-8 with a byte-order mark), a header row first."""
    out = io.StringIO()
    writer = csv.writer(out)  # Excel's dialect: RFC 4180's commas, quotes and CRLF
    writer.writerow(CSV_COLUMNS)
    for task in tasks:
        writer.writerow(
            [
                task.number,
                safe_cell(task.title),
                "completed" if task.completed else "pending",
                task.priority,
                task.due_date.isoformat() if task.due_date else "",
                safe_cell(", ".join(task.tags)),
                safe_cell(task.description),
                _local(task.created_at, zone),
                _local(task.completed_at, zone),
            ]
        )
    return ("\ufeff" + out.getvalue()).encode()


async def tasks_csv(session: AsyncSession, user_id: str, query: TaskQuery, zone: str) -> bytes:
    """The person's tasks matching `query` (all of them: no page limit) as a CSV file, times
    in `zone` (an IANA name)."""
    rows = await TaskService(session, user_id).find(replace(query, limit=None))
    return render_csv(rows, ZoneInfo(zone))


def _hash(verifier: str) -> str:
    return hashlib.sha256(verifier.encode()).hexdigest()


def feed_path(secret: str) -> str:
    """The path a feed's secret is served at."""
    return f"/api/calendar/{secret}.ics"


class CalendarFeeds:
    """One person's calendar feed: create (or replace) it, revoke it, ask whether it exists."""

    def __init__(self, session: AsyncSession, user_id: str) -> None:
        self.session = session
        self.user_id = user_id

    async def create(self) -> str:
        """A new secret for the person's feed, replacing any earlier one (whose URL stops
        working). The secret is returned once; only its hash is kept.

        The person's row is replaced in place (an UPDATE, which waits for another one at the
        same moment and then wins over it), inserted only when there is none: of several
        creates at once, each answers and the last one's URL is the one that works."""
        attempt = 0
        while True:
            attempt += 1
            selector = secrets.token_urlsafe(_SELECTOR_BYTES)
            verifier = secrets.token_urlsafe(_VERIFIER_BYTES)
            values = {
                "selector": selector,
                "verifier_hash": _hash(verifier),
                "created_at": utcnow(),
            }
            try:
                replaced = await self.session.execute(
                    sa.update(_feeds).where(_feeds.c.user_id == self.user_id).values(**values)
                )
                if not replaced.rowcount:  # type: ignore[attr-defined]
                    insert = sa.insert(_feeds).values(user_id=self.user_id, **values)
                    await self.session.execute(insert)  # PostgreSQL refuses a twin here
                await self.session.commit()  # SQLite, here
            except IntegrityError:
                # A first feed inserted at the same moment (the next try replaces it), or,
                # once in 2**72, the selector is taken.
                await self.session.rollback()
                if attempt == _CREATE_ATTEMPTS:
                    raise
                continue
            return f"{FEED_PREFIX}{selector}{verifier}"

    async def revoke(self) -> bool:
        """Turn the feed off: its URL stops working at once. False when there was none."""
        result = await self.session.exec(  # type: ignore[call-overload]
            sa.delete(CalendarFeed).where(col(CalendarFeed.user_id) == self.user_id)
        )
        await self.session.commit()
        return bool(result.rowcount)

    async def created_at(self) -> datetime | None:
        """When the person's current feed was made; None when they have none."""
        feed = await self.session.get(CalendarFeed, self.user_id)
        return as_utc(feed.created_at) if feed else None


async def feed_owner(session: AsyncSession, secret: str) -> str | None:
    """Whose feed this secret opens; None when it opens none (unknown, revoked, malformed).
    Every well-formed or malformed secret takes the same path: one lookup by selector, one
    constant-time comparison of hashes."""
    match = _SECRET.fullmatch(secret)
    selector, verifier = match.groups() if match else ("", "")
    statement = select(CalendarFeed).where(CalendarFeed.selector == selector)
    feed = (await session.exec(statement)).first()
    expected = feed.verifier_hash if feed is not None else _NO_FEED
    matches = hmac.compare_digest(_hash(verifier), expected)
    return feed.user_id if feed is not None and matches and match else None


def _uid(user_id: str, number: int) -> str:
    person = hashlib.sha256(f"taskpilot-calendar:{user_id}".encode()).hexdigest()[:12]
    return f"task-{number}-{person}@taskpilot"


def task_event(user_id: str, task: Task) -> AllDayEvent:
    """A task with a due date as an all-day event on that date."""
    assert task.due_date is not None
    return AllDayEvent(
        uid=_uid(user_id, task.number),
        day=task.due_date,
        summary=(DONE_MARK if task.completed else "") + task.title,
        stamp=as_utc(task.updated_at) or utcnow(),
        description=task.description,
        categories=tuple(task.tags),
        priority=_PRIORITY.get(task.priority, 0),
        created=as_utc(task.created_at),
    )


async def feed_calendar(session: AsyncSession, user_id: str) -> str:
    """The person's tasks with a due date, as an iCalendar feed."""
    query = TaskQuery(due_after=date.min, sort=SortOrder.DUE, limit=None)
    rows = await TaskService(session, user_id).find(query)
    return calendar(CALENDAR_NAME, (task_event(user_id, task) for task in rows))
