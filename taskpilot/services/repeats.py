"""Repeating tasks: the rule a task repeats by, read from words or from an RFC 5545 RRULE,
said in words, and its next date (by `python-dateutil`'s `rrule`).

A task stores its rule as an RRULE string (`FREQ=WEEKLY;BYDAY=MO`) and its due date is the
next occurrence. The rules a task can have are the ones people set in task apps: every day,
every weekday, every N weeks (on some weekdays), every N months on a day or on the first /
last weekday, every year on a date. No end (COUNT, UNTIL) and no times of day: a repeating
task is stopped by removing its rule. Anything else is refused with a reason, which also keeps
`rrule` from searching to year 9999 for a date that never comes.

Month ends follow what people mean rather than RFC 5545's letter (which skips months that
lack the day): "monthly on the 31st" is the last day of each month (`BYMONTHDAY=-1`), "on the
30th" is the 30th or the month's last day when shorter (`BYMONTHDAY=28,29,30;BYSETPOS=-1`),
and "every year on 29 February" falls on the 28th in other years. A monthly or yearly rule
given without its day takes the due date's (`anchored`), so it never drifts after a short
month.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime

from dateutil import rrule

from taskpilot.services.dates import MONTHS, NUMBER_WORDS, WEEKDAYS

MAX_RULE = 200
MAX_INTERVAL = 99
_CODES = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
_FREQS = {"DAILY": rrule.DAILY, "WEEKLY": rrule.WEEKLY, "MONTHLY": rrule.MONTHLY}
_FREQS["YEARLY"] = rrule.YEARLY
_UNITS = {"DAILY": "day", "WEEKLY": "week", "MONTHLY": "month", "YEARLY": "year"}
_ORDINALS = {1: "first", 2: "second", 3: "third", 4: "fourth", -1: "last"}
NO_REPEAT = ("none", "no", "never", "stop", "off", "")


class RepeatError(ValueError):
    """Not a repeat TaskPilot can keep; the message says why, for the person."""


@dataclass(frozen=True)
class Repeat:
    """One repeat rule. `weekdays` (0 = Monday) on a weekly rule, or with `nth` the nth (-1:
    last) such weekday of the month; `month_day` (-1: the last) on a monthly or yearly rule;
    `month` (1-12) on a yearly one."""

    freq: str
    interval: int = 1
    weekdays: tuple[int, ...] = ()
    nth: int | None = None
    month_day: int | None = None
    month: int | None = None

    def rrule(self) -> str:
        """The rule as stored and as the tools answer: an RFC 5545 RRULE value."""
        parts = [f"FREQ={self.freq}"]
        if self.interval != 1:
            parts.append(f"INTERVAL={self.interval}")
        if self.month is not None:
            parts.append(f"BYMONTH={self.month}")
        if self.weekdays:
            prefix = str(self.nth) if self.nth is not None else ""
            parts.append("BYDAY=" + ",".join(prefix + _CODES[day] for day in self.weekdays))
        if self.month_day is not None:
            parts.extend(_month_day_parts(self.month_day))
        return ";".join(parts)

    def in_words(self) -> str:
        """The rule as the task panel and the replies say it: "every Monday"."""
        every = _every(self.interval, _UNITS[self.freq])
        if self.freq == "DAILY":
            return every
        if self.freq == "WEEKLY":
            if not self.weekdays:
                return every
            if self.weekdays == (0, 1, 2, 3, 4) and self.interval == 1:
                return "every weekday"
            days = _and(WEEKDAYS[day].capitalize() for day in self.weekdays)
            if self.interval == 1:
                return f"every {days}"
            if self.interval == 2:
                return f"every other {days}"
            return f"{every} on {days}"
        lead = "monthly" if self.freq == "MONTHLY" and self.interval == 1 else every
        if self.freq == "YEARLY" and self.interval == 1:
            lead = "every year"
        if self.nth is not None and self.weekdays:
            return f"{lead} on the {_ORDINALS[self.nth]} {WEEKDAYS[self.weekdays[0]].capitalize()}"
        if self.month_day is None:
            return lead
        day = "the last day" if self.month_day == -1 else f"the {_ordinal(self.month_day)}"
        if self.month is not None:
            month = MONTHS[self.month - 1].capitalize()
            last = 31 if _LONGEST[self.month - 1] == 31 else f"the last day of {month}"
            day = f"{month} {self.month_day}" if self.month_day > 0 else f"{month} {last}"
            day = day.replace(f"{month} the", "the")
        return f"{lead} on {day}"

    def anchored(self, due: date) -> Repeat:
        """The rule with the day a monthly or yearly rule falls on taken from `due` when it
        does not say (so "every month" from 31 January is the last day of each month)."""
        day = -1 if due.day == 31 else due.day
        if self.freq == "MONTHLY" and self.month_day is None and not self.weekdays:
            return replace(self, month_day=day)
        if self.freq == "YEARLY" and self.month is None:
            return replace(self, month=due.month, month_day=self.month_day or day)
        return self

    def first_on_or_after(self, start: date) -> date:
        """The first date the rule falls on from `start` (the coming Monday for "every other
        Monday", not the Monday after: the interval counts from the first one)."""
        return _occurrence(replace(self, interval=1), start, start, inclusive=True)

    def next_after(self, due: date, today: date) -> date:
        """The next due date once the task due on `due` is done `today`: the first date after
        both, counted in intervals from `due` (missed dates are skipped, not piled up)."""
        return _occurrence(self, due, max(due, today), inclusive=False)


def _occurrence(rule: Repeat, anchor: date, after: date, *, inclusive: bool) -> date:
    found = rrule.rrule(
        _FREQS[rule.freq],
        dtstart=datetime(anchor.year, anchor.month, anchor.day),
        interval=rule.interval,
        byweekday=[rrule.weekday(day, rule.nth) for day in rule.weekdays] or None,
        bymonthday=_month_days(rule.month_day),
        bymonth=rule.month,
        bysetpos=-1 if rule.month_day is not None and rule.month_day >= 29 else None,
        cache=False,
    ).after(datetime(after.year, after.month, after.day), inc=inclusive)
    if found is None:
        raise RepeatError("This repeat has no date left to fall on.")
    return found.date()


def _month_days(month_day: int | None) -> tuple[int, ...] | None:
    if month_day is None:
        return None
    if month_day >= 29:  # that day, or the month's last when it is shorter
        return tuple(range(28, month_day + 1))
    return (month_day,)


def _month_day_parts(month_day: int) -> list[str]:
    days = _month_days(month_day) or ()
    parts = ["BYMONTHDAY=" + ",".join(str(day) for day in days)]
    return [*parts, "BYSETPOS=-1"] if len(days) > 1 else parts


def _every(interval: int, unit: str) -> str:
    if interval == 1:
        return f"every {unit}"
    if interval == 2:
        return f"every other {unit}"
    return f"every {interval} {unit}s"


def _and(words: Iterable[str]) -> str:
    items = list(words)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _ordinal(day: int) -> str:
    suffix = "th" if 10 <= day % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    return f"{day}{suffix}"


# --- reading an RRULE ---------------------------------------------------------------------

_LONGEST = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
_ALLOWED = {"FREQ", "INTERVAL", "BYDAY", "BYMONTHDAY", "BYMONTH", "BYSETPOS", "WKST"}
_NTH_DAY = re.compile(r"([+-]?\d)?(MO|TU|WE|TH|FR|SA|SU)")


def _int(value: str, name: str, low: int, high: int) -> int:
    if not re.fullmatch(r"[+-]?\d{1,3}", value) or not low <= int(value) <= high:
        raise RepeatError(f"{name} must be a number from {low} to {high}.")
    return int(value)


def read_rrule(text: str) -> Repeat:
    """An RRULE value ("FREQ=WEEKLY;BYDAY=MO", with or without "RRULE:") as a `Repeat`."""
    body = text.strip().upper().removeprefix("RRULE:")
    parts: dict[str, str] = {}
    for part in body.split(";"):
        name, _, value = part.partition("=")
        if name in ("COUNT", "UNTIL"):
            raise RepeatError("A repeat can't end on a date or after a count; stop it instead.")
        if name not in _ALLOWED or not value or name in parts:
            raise RepeatError(f"{part[:40]!r} is not part of a repeat TaskPilot can keep.")
        parts[name] = value
    freq = parts.get("FREQ", "")
    if freq not in _FREQS:
        raise RepeatError("A repeat is daily, weekly, monthly or yearly (FREQ=...).")
    interval = _int(parts.get("INTERVAL", "1"), "INTERVAL", 1, MAX_INTERVAL)
    weekdays: list[int] = []
    nths: set[int | None] = set()
    for item in filter(None, parts.get("BYDAY", "").split(",")):
        if (match := _NTH_DAY.fullmatch(item)) is None:
            raise RepeatError(f"{item[:10]!r} is not a day of the week (MO ... SU).")
        nths.add(int(match.group(1)) if match.group(1) else None)
        weekdays.append(_CODES.index(match.group(2)))
    nth = nths.pop() if len(nths) == 1 else None
    month_day = _read_month_day(parts)
    month = _int(parts["BYMONTH"], "BYMONTH", 1, 12) if "BYMONTH" in parts else None
    shapes = {
        "DAILY": not weekdays and month_day is None and month is None,
        "WEEKLY": nth is None and month_day is None and month is None,
        "MONTHLY": month is None
        and (not weekdays or (len(weekdays) == 1 and nth in _ORDINALS and month_day is None)),
        "YEARLY": not weekdays and (month is None) == (month_day is None),
    }
    if month is not None and month_day is not None and month_day > _LONGEST[month - 1]:
        raise RepeatError(f"{MONTHS[month - 1].capitalize()} has no day {month_day}.")
    if nths or not shapes[freq]:
        raise RepeatError(
            "TaskPilot keeps repeats like every day, every Monday and Thursday, every other week,"
            " monthly on the 15th or on the last Friday, and every year on a date."
        )
    return Repeat(freq, interval, tuple(sorted(set(weekdays))), nth, month_day, month)


def _read_month_day(parts: dict[str, str]) -> int | None:
    if "BYMONTHDAY" not in parts:
        if "BYSETPOS" in parts:
            raise RepeatError("BYSETPOS is kept only with BYMONTHDAY=28,29,30;BYSETPOS=-1.")
        return None
    days = [_int(day, "BYMONTHDAY", -1, 31) for day in parts["BYMONTHDAY"].split(",")]
    if "BYSETPOS" in parts:
        # "the 30th, or the last day of a shorter month": 28,29,30 with BYSETPOS=-1.
        if parts["BYSETPOS"] != "-1" or days != list(range(28, days[-1] + 1)) or len(days) < 2:
            raise RepeatError("BYSETPOS is kept only with BYMONTHDAY=28,29,30;BYSETPOS=-1.")
        return -1 if days[-1] == 31 else days[-1]
    if len(days) != 1 or days[0] == 0:
        raise RepeatError("A repeat falls on one day of the month (BYMONTHDAY=15, or -1).")
    return -1 if days[0] == 31 else days[0]


# --- reading words ------------------------------------------------------------------------

_EVERY = r"(?:every|each)"
_DAY_NAME = r"(?:mon|tue|tues|wed|weds|thu|thur|thurs|fri|sat|sun)(?:[a-z]*day)?"
_DAYS = _DAY_NAME + r"(?:\s*(?:,|&|/|\band\b)\s*(?:" + _DAY_NAME + r"))*"
_HOW_MANY = r"(?:other|\d{1,2}|" + "|".join(NUMBER_WORDS) + r")"
_MONTH_DAY = r"(?:the\s+)?(?:\d{1,2}(?:st|nd|rd|th)?|last(?:\s+day)?)"
_MONTH_NAME = r"(?:" + "|".join(name for name in MONTHS) + r")"

# The phrases `read_repeat` understands, for a parser that finds one inside a sentence.
REPEAT_PATTERN = re.compile(
    r"\b(?:"
    r"(?:" + _EVERY + r"\s+(?:" + _HOW_MANY + r"\s+)?(?:month|months)|monthly)"
    r"(?:\s+on\s+" + _MONTH_DAY + r"(?:\s+day)?)?"
    r"|on\s+" + _MONTH_DAY + r"\s+of\s+(?:every|each)\s+month"
    r"|" + _EVERY + r"\s+(?:" + _HOW_MANY + r"\s+)?(?:day|days|weekday|week\s?day|weekend|"
    r"week|weeks|year|years|fortnight)"
    r"|" + _EVERY + r"\s+(?:other\s+)?" + _DAYS + r"(?!\w)"
    r"|" + _EVERY + r"\s+" + _HOW_MANY + r"\s+weeks\s+on\s+" + _DAYS + r"(?!\w)"
    r"|" + _EVERY + r"\s+year\s+on\s+" + _MONTH_NAME + r"\s+\d{1,2}(?:st|nd|rd|th)?"
    r"|daily|weekly|fortnightly|yearly|annually|on\s+weekdays"
    r")(?!\w)",
    re.IGNORECASE,
)


def _count(word: str) -> int:
    word = word.lower()
    return 2 if word == "other" else int(word) if word.isdigit() else NUMBER_WORDS[word]


def _weekday_list(text: str) -> tuple[int, ...]:
    days = []
    for name in re.findall(_DAY_NAME, text, re.IGNORECASE):
        short = name.lower()[:3]
        days.append(next(i for i, day in enumerate(WEEKDAYS) if day.startswith(short)))
    return tuple(sorted(set(days)))


def _words_month_day(text: str) -> int | None:
    if re.search(r"\blast\b", text):
        return -1
    found = re.search(r"(\d{1,2})(?:st|nd|rd|th)?", text)
    if found is None:
        return None
    day = int(found.group(1))
    if not 1 <= day <= 31:
        raise RepeatError(f"A month has no day {day}.")
    return -1 if day == 31 else day


def read_repeat(text: str) -> Repeat | None:
    """A repeat said in words ("every monday", "every other week", "monthly on the 15th",
    "every weekday", "every mon and thu", "every 2 weeks"); None when it is not one."""
    value = " ".join(text.lower().split())
    if REPEAT_PATTERN.fullmatch(value) is None:
        return None
    repeat = _read_words(value)
    return repeat if 1 <= repeat.interval <= MAX_INTERVAL else None


def _read_words(value: str) -> Repeat:
    simple = {
        "daily": Repeat("DAILY"),
        "weekly": Repeat("WEEKLY"),
        "fortnightly": Repeat("WEEKLY", 2),
        "yearly": Repeat("YEARLY"),
        "annually": Repeat("YEARLY"),
        "on weekdays": Repeat("WEEKLY", weekdays=(0, 1, 2, 3, 4)),
    }
    if value in simple:
        return simple[value]
    if "month" in value:
        how = re.search(r"(?:every|each) (" + _HOW_MANY + r") months?", value)
        interval = _count(how.group(1)) if how else 1
        said = value if value.startswith("on ") else value.partition(" on ")[2]
        return Repeat("MONTHLY", interval, month_day=_words_month_day(said))
    if match := re.fullmatch(r"(?:every|each) year on (\w+) (\d{1,2})(?:st|nd|rd|th)?", value):
        month, day = MONTHS.index(match.group(1)) + 1, int(match.group(2))
        if day > _LONGEST[month - 1]:
            raise RepeatError(f"{match.group(1).capitalize()} has no day {day}.")
        return Repeat("YEARLY", month=month, month_day=-1 if day == 31 else day)
    how = re.match(r"(?:every|each) (" + _HOW_MANY + r") ", value + " ")
    interval = _count(how.group(1)) if how else 1
    if re.search(r"week ?day", value):
        return Repeat("WEEKLY", interval, weekdays=(0, 1, 2, 3, 4))
    if "weekend" in value:
        return Repeat("WEEKLY", interval, weekdays=(5, 6))
    if "fortnight" in value:
        return Repeat("WEEKLY", 2 * interval)
    for unit, freq in (("day", "DAILY"), ("week", "WEEKLY"), ("year", "YEARLY")):
        if re.search(rf"\b{unit}s?$", value):
            return Repeat(freq, interval)
    return Repeat("WEEKLY", interval, weekdays=_weekday_list(value.split(" on ")[-1]))


def clean_repeat(value: str | None) -> Repeat | None:
    """A repeat from the tools: an RRULE or words; None for "none" (stop repeating)."""
    text = " ".join(str(value or "").split())
    if text.lower() in NO_REPEAT:
        return None
    if len(text) > MAX_RULE:
        raise RepeatError(f"A repeat rule can be at most {MAX_RULE} characters.")
    if re.match(r"(?:rrule:)?freq=", text, re.IGNORECASE):
        return read_rrule(text)
    repeat = read_repeat(text)
    if repeat is None:
        raise RepeatError(
            f"I can't read {text[:60]!r} as a repeat; say e.g. 'every monday', 'every weekday',"
            " 'every other week', 'monthly on the 15th', or an RRULE like FREQ=WEEKLY;BYDAY=MO."
        )
    return repeat


def repeat_in_words(rule: str | None) -> str:
    """A stored rule in words ("every Monday"); "" for none (or one no longer readable)."""
    if not rule:
        return ""
    try:
        return read_rrule(rule).in_words()
    except RepeatError:
        return ""
