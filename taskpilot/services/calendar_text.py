"""iCalendar text (RFC 5545), the little of it a feed of all-day events needs: TEXT values
escaped (§3.3.11), content lines folded at 75 octets (§3.1), CRLF line ends, and one
all-day VEVENT per event (`DTSTART;VALUE=DATE`, with the exclusive `DTEND` of the next day).

Written here rather than taken from a library: the well-kept `icalendar` package (PyPI) is
not installed in TaskPilot's environment and could not be added when this was written. What
the feed needs is these few functions, checked against the RFC's rules by
`tests/services/test_calendar_text.py` (an independent unfolding parser, line lengths in
octets, escapes). Replace them with `icalendar` once it is a dependency.

Why VEVENT and not VTODO: the calendars people subscribe from (Google Calendar, Outlook,
Apple Calendar) show a subscription's events and ignore its to-dos; an all-day event on the
due date is what they draw.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

# The longest content line, in octets, before it is folded (RFC 5545 §3.1).
MAX_LINE_OCTETS = 75
CRLF = "\r\n"


def escape_text(value: str) -> str:
    """A TEXT value: backslash, semicolon and comma escaped, every line break as `\\n`, and
    control characters other than tab (which TEXT may not hold) dropped."""
    value = value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
    value = value.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\\n")
    return "".join(char for char in value if char == "\t" or unicodedata.category(char) != "Cc")


def fold(line: str) -> str:
    """A content line folded so that no physical line is longer than 75 octets of UTF-8;
    each continuation starts with one space (which counts), and no character is split."""
    if len(line.encode()) <= MAX_LINE_OCTETS:
        return line
    parts: list[str] = []
    current: list[str] = []
    size, room = 0, MAX_LINE_OCTETS
    for char in line:
        octets = len(char.encode())
        if size + octets > room:
            parts.append("".join(current))
            current, size, room = [], 0, MAX_LINE_OCTETS - 1  # the leading space takes one
        current.append(char)
        size += octets
    parts.append("".join(current))
    return (CRLF + " ").join(parts)


def _day(value: date) -> str:
    return value.strftime("%Y%m%d")


def _moment(value: datetime) -> str:
    moment = value if value.tzinfo else value.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


@dataclass(frozen=True)
class AllDayEvent:
    """One all-day event: what a calendar shows on `day`."""

    uid: str
    day: date
    summary: str
    stamp: datetime
    description: str = ""
    categories: tuple[str, ...] = ()
    # RFC 5545's PRIORITY: 1 highest, 9 lowest, 0 undefined.
    priority: int = 0
    created: datetime | None = None

    def lines(self) -> list[str]:
        """The event's content lines, unfolded."""
        lines = [
            "BEGIN:VEVENT",
            f"UID:{self.uid}",
            f"DTSTAMP:{_moment(self.stamp)}",
            f"DTSTART;VALUE=DATE:{_day(self.day)}",
            f"DTEND;VALUE=DATE:{_day(self.day + timedelta(days=1))}",
            f"SUMMARY:{escape_text(self.summary)}",
        ]
        if self.description:
            lines.append(f"DESCRIPTION:{escape_text(self.description)}")
        if self.categories:
            lines.append("CATEGORIES:" + ",".join(escape_text(c) for c in self.categories))
        if self.priority:
            lines.append(f"PRIORITY:{self.priority}")
        if self.created is not None:
            lines.append(f"CREATED:{_moment(self.created)}")
        lines += [
            f"LAST-MODIFIED:{_moment(self.stamp)}",
            "TRANSP:TRANSPARENT",  # a task's day is not busy time
            "END:VEVENT",
        ]
        return lines


def calendar(name: str, events: Iterable[AllDayEvent], refresh_hours: int = 1) -> str:
    """A whole VCALENDAR with these events, folded, with CRLF line ends. `refresh_hours` is
    how often subscribers are asked to fetch it again (RFC 7986, and Outlook's own)."""
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//TaskPilot//Tasks//EN",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        f"NAME:{escape_text(name)}",
        f"X-WR-CALNAME:{escape_text(name)}",
        f"REFRESH-INTERVAL;VALUE=DURATION:PT{refresh_hours}H",
        f"X-PUBLISHED-TTL:PT{refresh_hours}H",
    ]
    for event in events:
        lines += event.lines()
    lines.append("END:VCALENDAR")
    return "".join(fold(line) + CRLF for line in lines)
