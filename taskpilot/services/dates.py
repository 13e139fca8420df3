"""Turning "tomorrow", "friday", "next week" or "2026-12-01" into a date.

Shared by the MCP tools (which accept these words as well as ISO dates) and the offline
model's parser, so both read a due date the same way.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_SHORT = {name[:3]: index for index, name in enumerate(WEEKDAYS)}
_MONTHS = (
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
)

# The phrases `parse_due` understands, for a parser that needs to find one inside a sentence.
DUE_PATTERN = re.compile(
    r"\b(?:"
    r"\d{4}-\d{2}-\d{2}"
    r"|today|tonight|tomorrow|tmrw|day after tomorrow"
    r"|(?:next|this)\s+(?:week|month|weekend|" + "|".join(WEEKDAYS) + r")"
    r"|in\s+\d{1,3}\s+(?:days?|weeks?)"
    r"|(?:" + "|".join(WEEKDAYS) + r"|" + "|".join(_SHORT) + r")"
    r"|(?:"
    + "|".join(_MONTHS)
    + r"|"
    + "|".join(m[:3] for m in _MONTHS)
    + r")\.?\s+\d{1,2}(?:st|nd|rd|th)?"
    r")\b",
    re.IGNORECASE,
)


class DateParseError(ValueError):
    """The text is not a date TaskPilot understands."""


def _coming(today: date, weekday: int) -> date:
    """The next `weekday` after today (a week ahead when today is that day)."""
    return today + timedelta(days=(weekday - today.weekday()) % 7 or 7)


def parse_due(text: str, today: date) -> date:
    """Parse a due date relative to `today`; raise `DateParseError` when it is not one."""
    value = " ".join(text.strip().lower().split())
    if not value:
        raise DateParseError("The due date is empty.")
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        try:
            return date.fromisoformat(value)
        except ValueError as exc:
            raise DateParseError(f"{text!r} is not a real calendar date.") from exc
    if value in ("today", "tonight"):
        return today
    if value in ("tomorrow", "tmrw"):
        return today + timedelta(days=1)
    if value == "day after tomorrow":
        return today + timedelta(days=2)
    if value in ("next week",):
        return today + timedelta(days=7 - today.weekday())  # the coming Monday
    if value in ("this weekend", "next weekend"):
        saturday = today if today.weekday() == 5 else _coming(today, 5)
        return saturday + timedelta(days=7) if value == "next weekend" else saturday
    if value in ("this week",):
        return today + timedelta(days=4 - today.weekday()) if today.weekday() <= 4 else today
    if value in ("next month",):
        year, month = (today.year + 1, 1) if today.month == 12 else (today.year, today.month + 1)
        return date(year, month, 1)
    if match := re.fullmatch(r"in (\d{1,3}) (day|days|week|weeks)", value):
        amount = int(match.group(1))
        return today + timedelta(days=amount * (7 if match.group(2).startswith("week") else 1))
    if match := re.fullmatch(r"(next|this)? ?([a-z]+)", value):
        qualifier, word = match.groups()
        weekday = WEEKDAYS.index(word) if word in WEEKDAYS else _SHORT.get(word)
        if weekday is not None:
            if qualifier == "this" and weekday == today.weekday():
                return today
            return _coming(today, weekday)
    if match := re.fullmatch(r"([a-z]+)\.? (\d{1,2})(?:st|nd|rd|th)?", value):
        name, day_text = match.groups()
        months = [m for m in _MONTHS if m == name or m[:3] == name]
        if months:
            month = _MONTHS.index(months[0]) + 1
            try:
                candidate = date(today.year, month, int(day_text))
                if candidate < today:
                    candidate = date(today.year + 1, month, int(day_text))
            except ValueError as exc:
                raise DateParseError(f"{text!r} is not a real calendar date.") from exc
            return candidate
    raise DateParseError(
        f"I can't read {text!r} as a date; use YYYY-MM-DD, today, tomorrow, a weekday or"
        " 'next week'."
    )
