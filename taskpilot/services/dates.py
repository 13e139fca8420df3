"""Turning "tomorrow", "friday", "end of next week", "the 15th" or "2026-12-01" into a date.

Shared by the MCP tools (which accept these words as well as ISO dates) and the offline
model's parser, so both read a due date the same way.

The phrases people use most are read here by rule, with TaskPilot's conventions: a weekday is
the coming one (never today), "next week" is its Monday, "end of the week" its Friday, a day
of the month ("the 3rd") the next one to come. Anything else goes to `dateparser` (other
languages too: "mañana", "vendredi", "übermorgen"), which is kept from what it reads wrongly
here: it takes "the 3rd" for March, reads "a week from today" as a week ago, and knows no
"end of the week", "this weekend" or "first of january"
(`tests/services/test_dates_and_security.py`).
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_SHORT = {name[:3]: index for index, name in enumerate(WEEKDAYS)}
_SHORT.update({"tues": 1, "weds": 2, "thur": 3, "thurs": 3})
MONTHS = (
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
_MONTH = r"(?:" + "|".join(MONTHS) + r"|" + "|".join(m[:3] for m in MONTHS) + r"|sept)\.?"
NUMBER_WORDS = {
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
}
# How many, said in words: "a week", "a couple of days", "a few weeks".
_AMOUNT_WORDS = {"a couple of": 2, "couple of": 2, "a few": 3, "few": 3, "a": 1, "an": 1}
_AMOUNT_WORDS.update(NUMBER_WORDS)
_AMOUNT = r"(?:\d{1,3}|" + "|".join(w.replace(" ", r"\s+") for w in _AMOUNT_WORDS) + r")"
# "a week", "3 days", "a couple of weeks": an amount of time (see `days_in`).
AMOUNT_OF_TIME = _AMOUNT + r"\s+(?:days?|weeks?)"
_ORDINAL_WORDS = {
    "first": 1,
    "second": 2,
    "third": 3,
    "fourth": 4,
    "fifth": 5,
    "sixth": 6,
    "seventh": 7,
    "eighth": 8,
    "ninth": 9,
    "tenth": 10,
}
_DAY = r"(?:\d{1,2}(?:st|nd|rd|th)?|" + "|".join(_ORDINAL_WORDS) + r")"
_SHORT_NAMES = sorted(_SHORT, key=len, reverse=True)
_WEEKDAY = r"(?:" + "|".join(WEEKDAYS) + r"|" + "|".join(_SHORT_NAMES) + r")"

# Days people name by their holiday (month, day).
_HOLIDAYS = {
    "christmas eve": (12, 24),
    "christmas": (12, 25),
    "christmas day": (12, 25),
    "xmas": (12, 25),
    "boxing day": (12, 26),
    "new year's eve": (12, 31),
    "new years eve": (12, 31),
    "nye": (12, 31),
    "new year's day": (1, 1),
    "new years day": (1, 1),
    "valentine's day": (2, 14),
    "valentines day": (2, 14),
    "halloween": (10, 31),
}
_HOLIDAY_NAMES = sorted(_HOLIDAYS, key=len, reverse=True)
_HOLIDAY = r"(?:" + "|".join(re.escape(h).replace(r"\ ", r"\s+") for h in _HOLIDAY_NAMES) + r")"


# Day words of other languages (Spanish, French, German, Italian, Portuguese) that
# `dateparser` reads, so "add comprar leche mañana" finds its date inside the sentence too.
_FOREIGN_DAYS = (
    "pasado mañana|mañana|hoy|lunes|martes|miércoles|jueves|viernes|sábado|domingo"
    "|après-demain|demain|aujourd'hui|lundi|mardi|mercredi|jeudi|vendredi|samedi|dimanche"
    "|übermorgen|morgen|heute|montag|dienstag|mittwoch|donnerstag|freitag|samstag|sonntag"
    "|dopodomani|domani|oggi|lunedì|martedì|mercoledì|giovedì|venerdì|sabato"
    "|amanhã|hoje|segunda-feira|terça-feira|quarta-feira|quinta-feira|sexta-feira"
)

# The phrases `parse_due` understands, for a parser that needs to find one inside a sentence.
DUE_PATTERN = re.compile(
    r"\b(?:"
    r"\d{4}-\d{2}-\d{2}"
    r"|(?:the\s+)?day\s+after\s+tomorrow|today|tonight|tomorrow|tmrw|tmr|tmw"
    r"|(?:at\s+)?(?:the\s+)?end\s+of\s+(?:the\s+|this\s+|next\s+)?(?:week|month)"
    r"|(?:a\s+week|two\s+weeks)\s+from\s+(?:today|now)"
    r"|" + _HOLIDAY + r"|(?:next|this)\s+(?:week|month|weekend|" + _WEEKDAY + r")"
    r"|in\s+(?:a\s+)?fortnight"
    r"|in\s+" + _AMOUNT + r"\s+(?:days?|weeks?|months?)"
    r"|(?:the\s+)?" + _DAY + r"\s+of\s+" + _MONTH + r"(?!\w)"
    r"|\d{1,2}(?:st|nd|rd|th)?\s+" + _MONTH + r"(?!\w)"
    r"|" + _MONTH + r"\s+\d{1,2}(?:st|nd|rd|th)?"
    r"|the\s+\d{1,2}(?:st|nd|rd|th)"
    r"|" + _WEEKDAY + r"(?!\w)"
    r"|(?-i:" + _FOREIGN_DAYS + r")(?!\w)"  # lower case only: "Domingo" may be a name
    r")(?!\w)",
    re.IGNORECASE,
)


class DateParseError(ValueError):
    """The text is not a date TaskPilot understands."""


def _not_a_date(text: str) -> str:
    return f"{text!r} is not a real calendar date."


def _count(words: str) -> int:
    text = " ".join(words.lower().split())
    return int(text) if text.isdigit() else _AMOUNT_WORDS[text]


def days_in(amount: str) -> int:
    """The days in an `AMOUNT_OF_TIME`: "a week" → 7, "3 days" → 3."""
    number, unit = amount.lower().rsplit(None, 1)
    return _count(number) * (7 if unit.startswith("week") else 1)


def _coming(today: date, weekday: int) -> date:
    """The next `weekday` after today (a week ahead when today is that day)."""
    return today + timedelta(days=(weekday - today.weekday()) % 7 or 7)


def month_end(day: date) -> date:
    """The last day of `day`'s month."""
    following = day.replace(day=28) + timedelta(days=4)
    return following - timedelta(days=following.day)


def _next_month(day: date) -> date:
    return month_end(day) + timedelta(days=1)


def _weekday(word: str) -> int | None:
    return WEEKDAYS.index(word) if word in WEEKDAYS else _SHORT.get(word)


def _month(word: str) -> int | None:
    word = word.rstrip(".")
    word = "sep" if word == "sept" else word
    found = [index for index, name in enumerate(MONTHS) if word in (name, name[:3])]
    return found[0] + 1 if found else None


def _day_number(word: str) -> int:
    return _ORDINAL_WORDS.get(word) or int(re.sub(r"\D", "", word))


def _on_or_after(today: date, month: int, day: int, text: str) -> date:
    """The day `month`/`day` this year, or next year once it has passed."""
    try:
        candidate = date(today.year, month, day)
        return candidate if candidate >= today else date(today.year + 1, month, day)
    except ValueError as exc:
        raise DateParseError(_not_a_date(text)) from exc


# "the first of january", "20 december", "dec 20th": (pattern, day group, month group).
_DAY_AND_MONTH = (
    (re.compile(r"(?:the )?(" + _DAY + r") of (" + _MONTH + r")"), 1, 2),
    (re.compile(r"(\d{1,2})(?:st|nd|rd|th)? (" + _MONTH + r")"), 1, 2),
    (re.compile(r"(" + _MONTH + r") (\d{1,2})(?:st|nd|rd|th)?"), 2, 1),
)


def _by_rule(value: str, today: date, text: str) -> date | None:
    """The phrases with TaskPilot's own conventions; None for anything else."""
    if value in ("today", "tonight"):
        return today
    if value in _HOLIDAYS:
        month, day = _HOLIDAYS[value]
        return _on_or_after(today, month, day, text)
    if value in ("tomorrow", "tmrw", "tmr", "tmw"):
        return today + timedelta(days=1)
    if re.fullmatch(r"(?:the )?day after tomorrow", value):
        return today + timedelta(days=2)
    monday = today + timedelta(days=7 - today.weekday())  # the coming Monday
    if value == "next week":
        return monday
    if value in ("this weekend", "next weekend"):
        saturday = today if today.weekday() == 5 else _coming(today, 5)
        return saturday + timedelta(days=7) if value == "next weekend" else saturday
    if value == "this week":
        return today + timedelta(days=4 - today.weekday()) if today.weekday() <= 4 else today
    if match := re.fullmatch(r"(?:at )?(?:the )?end of (?:the |this |(next) )?(week|month)", value):
        following, unit = match.groups()
        if unit == "month":
            return month_end(_next_month(today) if following else today)
        friday = today + timedelta(days=4 - today.weekday())
        if following:
            return monday + timedelta(days=4)
        return friday if friday >= today else today
    if value == "next month":
        return _next_month(today)
    if match := re.fullmatch(r"(a week|two weeks) from (?:today|now)", value):
        return today + timedelta(days=7 if match.group(1) == "a week" else 14)
    if re.fullmatch(r"in (?:a )?fortnight", value):
        return today + timedelta(days=14)
    if match := re.fullmatch(r"in (" + _AMOUNT + r") (day|week|month)s?", value):
        amount = _count(match.group(1))
        unit = match.group(2)
        if unit == "month":
            month_index = today.month - 1 + amount
            year, month = today.year + month_index // 12, month_index % 12 + 1
            return date(year, month, min(today.day, month_end(date(year, month, 1)).day))
        return today + timedelta(days=amount * (7 if unit == "week" else 1))
    if match := re.fullmatch(r"(next|this)? ?([a-z]+)", value):
        qualifier, word = match.groups()
        weekday = _weekday(word)
        if weekday is not None:
            if qualifier == "this" and weekday == today.weekday():
                return today
            return _coming(today, weekday)
    for pattern, day_group, month_group in _DAY_AND_MONTH:
        if (match := pattern.fullmatch(value)) and (named := _month(match.group(month_group))):
            return _on_or_after(today, named, _day_number(match.group(day_group)), text)
    if match := re.fullmatch(r"(?:on )?(?:the )?(\d{1,2})(?:st|nd|rd|th)", value):
        day = int(match.group(1))
        month_start = today.replace(day=1)
        for start in (month_start, _next_month(month_start), _next_month(_next_month(month_start))):
            if 1 <= day <= month_end(start).day and start.replace(day=day) >= today:
                return start.replace(day=day)
        raise DateParseError(_not_a_date(text))
    return None


# Languages dateparser tries for what the rules above do not read (it detects which).
_LANGUAGES = ["en", "es", "fr", "de", "it", "pt", "nl"]


@lru_cache(maxsize=1)
def _dateparser() -> Any:
    # Imported on first use: it loads its language data (~0.1 s), which most processes
    # never need (the rules above read the usual phrases).
    import dateparser

    return dateparser


def _by_dateparser(value: str, today: date) -> date | None:
    settings = {
        "RELATIVE_BASE": datetime(today.year, today.month, today.day, 12),
        "PREFER_DATES_FROM": "future",
        "PREFER_DAY_OF_MONTH": "first",
        "RETURN_AS_TIMEZONE_AWARE": False,
        "STRICT_PARSING": False,
    }
    try:
        parsed = _dateparser().parse(value, languages=_LANGUAGES, settings=settings)
    except (ValueError, OverflowError, RecursionError):
        return None
    return parsed.date() if parsed is not None else None


def parse_due(text: str, today: date) -> date:
    """Parse a due date relative to `today`; raise `DateParseError` when it is not one."""
    value = " ".join(text.strip().lower().split())
    if not value:
        raise DateParseError("The due date is empty.")
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        try:
            return date.fromisoformat(value)
        except ValueError as exc:
            raise DateParseError(_not_a_date(text)) from exc
    found = _by_rule(value, today, text)
    if found is None and len(value) <= 40 and not re.fullmatch(r"[\d\s.,:-]+", value):
        found = _by_dateparser(value, today)
    if found is None:
        raise DateParseError(
            f"I can't read {text!r} as a date; use YYYY-MM-DD, today, tomorrow, a weekday,"
            " 'next week' or a day such as 'the 15th' or '3 january'."
        )
    return found
