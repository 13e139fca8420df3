"""Corrections made mid-sentence, applied before the grammar reads a message: "add call the
bank friday, no wait, saturday" → "add call the bank saturday"; "task 4, I mean task 5";
"high priority, actually make it low"; "milk, I mean oat milk".

What follows the marker replaces what came just before it when it is a date, a task number,
a priority or words that fit; otherwise the message is left as typed.
"""

from __future__ import annotations

import re
from datetime import date

from taskpilot.services.dates import DUE_PATTERN, DateParseError, parse_due

# "no wait", "sorry, I mean", "actually", "or rather", "scratch that": what follows replaces
# what came just before.
_MARKER = re.compile(
    r"(?:[,;]\s?|\s[-–—]\s?|\.{1,3}\s?|\s)(?:no,?\s+wait|no,?\s+sorry|sorry,?\s+i\s+mean(?:t)?|"
    r"i\s+mean(?:t)?|no,?\s+i\s+mean(?:t)?|(?:no,?\s+)?hang\s+on|wait|sorry|actually|"
    r"or\s+rather|or\s+actually|rather|scratch\s+that|correction|er{1,3}m?|uh{1,3}|no)\b"
    r"[\s,:;.-]{0,8}",
    re.IGNORECASE,
)
_LEAD_IN = re.compile(r"^(?:make\s+it|set\s+it\s+to|change\s+it\s+to|it'?s|on|by)\s+", re.I)
# Words after a correction that change nothing: "tuesday actually", "medium is fine".
_AFTERTHOUGHT = re.compile(
    r"\s+(?:actually|instead|then|please|i\s+think|is\s+fine|is\s+better|will\s+do)$", re.I
)
_OOPS = re.compile(r"\s+(?:oops|oh|er+m?|uh+|hmm+)$", re.IGNORECASE)
_TASK_NUMBER = re.compile(r"\b(?:task\s*#?|#)\d{1,9}\b", re.IGNORECASE)
_BARE_NUMBER = re.compile(r"(?<=\s)\d{1,9}\b")
_PRIORITY_WORD = re.compile(r"\b(?:high|medium|normal|low|urgent|top)\b", re.IGNORECASE)


def _is_date(text: str, today: date) -> bool:
    try:
        parse_due(text, today)
    except DateParseError:
        return False
    return bool(DUE_PATTERN.fullmatch(text.strip()))


def apply_self_correction(text: str, today: date) -> str:
    """The message with a correction made in it applied: "add call the bank friday, no wait,
    saturday" → "add call the bank saturday". Unchanged when what follows the marker is not
    a date, a task number, a priority or words that fit what came before."""
    markers = [m for m in _MARKER.finditer(text) if m.start() > 0 and m.end() < len(text)]
    for marker in reversed(markers[-3:]):  # the last few: a correction comes late
        left, right = text[: marker.start()], text[marker.end() :].strip(" .!?")
        said = marker.group(0)
        bare_no = said.strip(" ,;-–—").lower() == "no" and not re.match(r"\s*[,;–—-]", said)
        right = _AFTERTHOUGHT.sub("", _LEAD_IN.sub("", right))
        left = _OOPS.sub("", left)
        rewritten = _replace(left, right, today, dates_only=bare_no)
        if rewritten is not None:
            return rewritten
    return text


def _replace(left: str, right: str, today: date, dates_only: bool) -> str | None:
    if not right:
        return None
    if _is_date(right, today):
        dates = list(DUE_PATTERN.finditer(left))
        if not dates:
            return None
        last = dates[-1]
        if left[last.end() :].strip(" ,;-."):
            return None  # the date is not what came just before the correction
        return left[: last.start()] + right + left[last.end() :].rstrip(" ,;-.")
    if dates_only:
        return None
    if _TASK_NUMBER.fullmatch(right.strip()) or right.strip().isdigit():
        numbers = list(_TASK_NUMBER.finditer(left)) or list(_BARE_NUMBER.finditer(left))
        if not numbers:
            return None
        last = numbers[-1]
        number = re.sub(r"\D", "", right)
        return left[: last.start()] + f"task {number}" + left[last.end() :]
    level = re.sub(r"\s+prio(?:rity)?$", "", right.strip(), flags=re.IGNORECASE)
    if _PRIORITY_WORD.fullmatch(level):
        words = list(_PRIORITY_WORD.finditer(left))
        if not words:
            return None
        last = words[-1]
        return left[: last.start()] + level + left[last.end() :]
    return _replace_words(left, right) or _replace_task(left, right)


def _replace_words(left: str, right: str) -> str | None:
    """New words for the ones just said: "buy batteries, sorry, buy AA batteries" (from the
    word they start with), "lunch with sam, or actually coffee with sam" (as many words,
    ending with the same one), "buy milk, I mean oat milk" (the word they end with, when the
    words before it start the title)."""
    new = right.split()
    if not new or len(new) > 8:
        return None
    old = list(re.finditer(r"\S+", left))
    words = [match.group(0).lower().strip(",.;") for match in old]
    if new[0].lower() in words[1:]:
        start = old[len(words) - 1 - words[::-1].index(new[0].lower())].start()
        return left[:start] + right
    if new[-1].lower() != words[-1]:
        return None
    first = len(words) - len(new)
    if first >= 1 and words[first - 1] not in ("add", "called", "named"):
        return left[: old[first].start()] + right  # as many words, replaced
    return left[: old[-1].start()] + right  # the last word, with the new words before it


# "complete the groceries, no wait, the team meeting prep": a command and the task it names.
_ACTION_AND_TASK = re.compile(
    r"^(?P<verb>(?:please\s+)?(?:delete|remove|complete|finish|reopen|scrap|drop|cancel|"
    r"mark\s+off|tick\s+off|check\s+off))\s+(?:the\s+|my\s+)?(?P<task>[^,;]+)$",
    re.IGNORECASE,
)


def _replace_task(left: str, right: str) -> str | None:
    """The correction names another task for the same command."""
    action = _ACTION_AND_TASK.match(left.strip())
    if action is None or not re.match(r"^(?:the|my|task)\b", right, re.IGNORECASE):
        return None
    return f"{action.group('verb')} {right}"
