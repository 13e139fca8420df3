"""TaskPilot's iCalendar writer against RFC 5545's rules, read back by the tests' own reader
(`tests/support/calendar_reader.py`)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from taskpilot.services.calendar_text import AllDayEvent, calendar, escape_text, fold
from tests.support.calendar_reader import parse, physical_lines, split_text_list, unescape

STAMP = datetime(2026, 12, 5, 9, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "escaped"),
    [
        ("plain", "plain"),
        ("a,b;c", "a\\,b\\;c"),
        ("back\\slash", "back\\\\slash"),
        ("two\nlines\r\nand\rthree", "two\\nlines\\nand\\nthree"),
        ("\\n is not a line break", "\\\\n is not a line break"),
        ("tab\tkept, bell\x07 dropped", "tab\tkept\\, bell dropped"),
    ],
)
def test_text_values_are_escaped_as_rfc_5545_says(text: str, escaped: str) -> None:
    assert escape_text(text) == escaped
    assert unescape(escaped) == text.replace("\r\n", "\n").replace("\r", "\n").replace("\x07", "")


def test_lines_are_folded_at_75_octets_without_splitting_a_character() -> None:
    assert fold("X" * 75) == "X" * 75  # exactly at the limit: left alone
    folded = fold("X" * 76)
    assert folded == "X" * 75 + "\r\n X"
    # Three-octet characters: a fold never falls inside one, and every line is within 75.
    line = "SUMMARY:" + "日本語" * 40
    lines = physical_lines((fold(line) + "\r\n").encode())
    assert len(lines) > 2
    assert all(len(physical) <= 75 for physical in lines)
    assert b"".join([lines[0], *(part[1:] for part in lines[1:])]).decode() == line
    # A four-octet emoji right at the boundary moves to the next line whole.
    edge = "A" * 73 + "🙂" + "B"
    first, second = fold(edge).split("\r\n")
    assert (first, second) == ("A" * 73, " 🙂B")


def test_a_calendar_of_all_day_events_reads_back() -> None:
    title = 'Call Sam, re: "Q4"; bring notes\\slides ' + "é" * 60
    event = AllDayEvent(
        uid="task-3-abc@taskpilot",
        day=date(2026, 12, 31),
        summary=title,
        stamp=STAMP,
        description="Line one\nLine two, with a comma",
        categories=("work", "a,b"),
        priority=1,
        created=STAMP,
    )
    body = calendar("TaskPilot tasks", [event, AllDayEvent("task-4", date(2027, 1, 1), "x", STAMP)])
    root = parse(body.encode())
    assert root.raw("VERSION") == "2.0"
    assert root.text("X-WR-CALNAME") == "TaskPilot tasks"
    first, second = root.children
    assert first.name == "VEVENT"
    assert first.text("SUMMARY") == title
    assert first.text("DESCRIPTION") == "Line one\nLine two, with a comma"
    assert split_text_list(first.raw("CATEGORIES")) == ["work", "a,b"]
    assert first.params("DTSTART") == {"VALUE": "DATE"}
    assert (first.raw("DTSTART"), first.raw("DTEND")) == ("20261231", "20270101")
    assert first.raw("DTSTAMP") == "20261205T093000Z"
    assert first.raw("PRIORITY") == "1"
    assert first.raw("UID") == "task-3-abc@taskpilot"
    # Optional properties are left out, not written empty.
    assert {"DESCRIPTION", "CATEGORIES", "PRIORITY", "CREATED"}.isdisjoint(second.properties)
