"""The date words of a message: the due date an add or update ends with ("... by friday"), and
the range of due dates a list question asks for ("overdue", "this week", "before friday").

One date phrase is read by `taskpilot.services.dates.parse_due` (which raises
`DateParseError` for a date that is not a real one); this module finds such phrases in a
sentence and turns a list question into `due_before` / `due_after` filters.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

from taskpilot.services.dates import DUE_PATTERN, month_end, parse_due

_FLAGS = re.IGNORECASE

DUE_CONNECTOR = re.compile(
    r"[\s,;]{0,8}\b(?:due(?:\s+(?:on|by|date))?|by|on|before|until|till|for)\s*:?\s*$", _FLAGS
)
# After a due-date phrase: the end of the clause, or a time of day we leave in the title.
_DUE_FOLLOWER = re.compile(
    r"^(?:(?:\s+#[a-z][\w-]*)*[\s.!?]*$|\s*[,;]|\s+at\s+\d|\s+(?:morning|afternoon|evening|night|"
    r"noon|midnight)\b)",
    _FLAGS,
)


def extract_due(text: str, today: date) -> tuple[str, date | None]:
    """Remove the due-date phrase the text ends with (or introduces with "by", "on", ...).

    A date phrase in the middle of a title ("plan friday drinks") stays part of the title.
    Raises `DateParseError` for a phrase that looks like a date but is not a real one.
    """
    for match in reversed(list(DUE_PATTERN.finditer(text))):
        before = text[: match.start()]
        connector = DUE_CONNECTOR.search(before)
        is_iso = bool(re.fullmatch(r"\d{4}-\d{2}-\d{2}", match.group(0)))
        if connector is None and not is_iso and not _DUE_FOLLOWER.match(text[match.end() :]):
            continue
        due = parse_due(match.group(0), today)
        start = connector.start() if connector is not None else match.start()
        return text[:start] + " " + text[match.end() :], due
    return text, None


def _week_end(today: date) -> date:
    # A filter for "this week" wants the whole week to Sunday; `parse_due("this week")` is a
    # due date (that Friday), not a range. On a Sunday the week ahead is the useful answer.
    return today + timedelta(days=(6 - today.weekday()) or 7)


def list_due_range(text: str, today: date) -> tuple[date | None, date | None]:
    """The (due_before, due_after) a list question asks for; both inclusive.

    Raises `DateParseError` for a date that is not a real one ("due 2026-02-30").
    """
    lowered = text.lower()
    if re.search(r"\b(?:overdue|past\s+due|late)\b", lowered):
        return today - timedelta(days=1), None
    if re.search(r"\bthis\s+week\b", lowered):
        return _week_end(today), None
    if re.search(r"\bnext\s+week\b", lowered):
        monday = parse_due("next week", today)
        return monday + timedelta(days=6), monday
    if re.search(r"\bthis\s+month\b", lowered):
        return month_end(today), None
    if re.search(r"\bnext\s+month\b", lowered):
        first = month_end(today) + timedelta(days=1)
        return month_end(first), first
    if re.search(r"\b(?:upcoming|soon|coming\s+up)\b", lowered):
        return today + timedelta(days=7), None
    for match in DUE_PATTERN.finditer(lowered):
        when = parse_due(match.group(0), today)
        connector = re.search(r"\b(after|from|since|before|on)\s+$", lowered[: match.start()])
        word = connector.group(1) if connector else None
        if word == "on":
            return when, when  # "due on friday": that day
        if word == "after":
            return None, when + timedelta(days=1)
        if word in ("from", "since"):
            return None, when
        return (when - timedelta(days=1) if word == "before" else when), None
    return None, None
