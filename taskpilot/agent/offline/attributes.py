"""What a message says about a task besides its title: its priority, repeat, due date, tags
and description ("buy milk tomorrow, high priority #home" is the title "buy milk" and those;
"water the ferns every monday" repeats).
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from taskpilot.agent.offline.dates import extract_due
from taskpilot.services.repeats import REPEAT_PATTERN, read_repeat

_FLAGS = re.IGNORECASE

# The separators a phrase may swallow before its keyword, bounded: "[\s,;(-]*" would make every
# search over a long run of separators (", , , , …" from a hostile 4000-character message)
# restart at each of its characters, quadratic in the run's length.
_SEP = r"[\s,;(-]{0,8}"

PRIORITY_WORDS = {
    "high": "high",
    "top": "high",
    "urgent": "high",
    "important": "high",
    "asap": "high",
    "medium": "medium",
    "normal": "medium",
    "low": "low",
    "not urgent": "low",
    "critical": "high",
    "a must": "high",
    "top priority": "high",
    "not important": "low",
    "not that important": "low",
    "not very important": "low",
    "not important at all": "low",
    "not at all important": "low",
    "not that urgent": "low",
    "not very urgent": "low",
    "not urgent at all": "low",
    "not at all urgent": "low",
    "no rush": "low",
    "no hurry": "low",
    "someday": "low",
    "some day": "low",
    "whenever": "low",
    "eventually": "low",
    "not a priority": "low",
    "when i get a chance": "low",
    "at some point": "low",
    "when i have time": "low",
    "if i have time": "low",
}
# The priorities said in words at the end of a task ("..., no rush", "... asap"): every key
# of PRIORITY_WORDS but the bare levels, which need the word "priority" beside them.
_SAID = "|".join(
    re.escape(phrase).replace(r"\ ", r"\s+")
    for phrase in sorted(PRIORITY_WORDS, key=len, reverse=True)
    if phrase not in ("high", "top", "medium", "normal", "low")
)
_PRIORITY_PHRASES = (
    re.compile(
        _SEP + r"\b(?:with\s+|at\s+|as\s+|is\s+)?(?:a\s+)?(?P<p>high|top|urgent|medium|normal|low)"
        r"[\s-]*prio(?:rity)?\b\)?",
        _FLAGS,
    ),
    re.compile(
        _SEP + r"\bprio(?:rity)?\s*(?:[:=]|is|of)?\s*(?P<p>high|top|urgent|medium|normal|low)\b\)?",
        _FLAGS,
    ),
    re.compile(
        _SEP + r"\b(?:it'?s\s+|its\s+|it\s+is\s+|very\s+|super\s+|really\s+)?"
        r"(?P<p>" + _SAID + r")\)?[\s!.]*$",
        _FLAGS,
    ),
    re.compile(r"^(?P<p>urgent|important|critical|asap)\s*[:!,-]+\s*", _FLAGS),
)

_TAG = r"#?[a-z0-9][\w-]*"
_TAG_PHRASE = re.compile(
    _SEP + r"\b(?:tagged(?:\s+(?:as|with))?|tags?\s*[:=]|with\s+(?:the\s+)?tags?|"
    r"tag\s+it(?:\s+(?:as|with))?|"
    r"labell?ed(?:\s+as)?|labels?\s*[:=])\s*"
    r"(?P<t>" + _TAG + r"(?:\s*(?:,|&|/|\band\b)\s*" + _TAG + r")*)\)?",
    _FLAGS,
)
_HASHTAG = re.compile(r"(?<![\w&#])#(?P<t>[a-z][\w-]*)", _FLAGS)
_HASHTAG_WORD = re.compile(r"(?:#[a-z][\w-]*)+", _FLAGS)

# A closing aside in brackets is a note on the task.
_ASIDE = re.compile(r"\s*\((?P<d>[^()]{1,500})\)\s*$")
_DESCRIPTION = re.compile(
    _SEP + r"\b(?:description|details|notes?)\s*[:=]\s*(?P<d>.+?)\)?\s*$", _FLAGS
)


def split_tags(text: str) -> list[str]:
    """The tags in "work, home" or "#work and #home": lower case, without "#", each once."""
    tags: list[str] = []
    for raw in re.split(r"\s*(?:,|&|/|\band\b|\s)\s*", text, flags=_FLAGS):
        tag = raw.strip().lstrip("#").lower()
        if tag and tag not in tags:
            tags.append(tag)
    return tags


def _tidy(text: str) -> str:
    """Collapse the gaps left by removed phrases."""
    text = re.sub(r"\s+([,;:.!?])", r"\1", " ".join(text.split()))
    text = re.sub(r"([,;:])(?:\s*[,;:])+", r"\1", text)
    previous = None
    while previous != text:
        previous = text
        text = re.sub(r"^[\s,;:.\-–—]+|[\s,;:\-–—]+$", "", text)
        text = re.sub(r"\s+(?:and|with)$", "", text, flags=_FLAGS)
    return text


def _extract_priority(text: str) -> tuple[str, str | None]:
    priority = None
    for pattern in _PRIORITY_PHRASES:
        for match in list(pattern.finditer(text)):
            priority = PRIORITY_WORDS[" ".join(match.group("p").lower().split())]
        text = pattern.sub(" ", text)
    return text, priority


def _extract_tags(text: str) -> tuple[str, list[str]]:
    tags: list[str] = []
    for match in _TAG_PHRASE.finditer(text):
        tags += split_tags(match.group("t"))
    text = _TAG_PHRASE.sub(" ", text)
    tags += [match.group("t").lower() for match in _HASHTAG.finditer(text)]
    text = _without_trailing_hashtags(text)
    text = _HASHTAG.sub(lambda match: match.group("t"), text)
    return text, list(dict.fromkeys(tags))


def _without_trailing_hashtags(text: str) -> str:
    """ "Team meeting #work #q3" → "Team meeting": word by word from the end, so a long run
    of tags costs one pass (a regex anchored at the end retried from every "#")."""
    words = text.rstrip().split(" ")
    while words and _HASHTAG_WORD.fullmatch(words[-1]):
        words.pop()
    return " ".join(words)


# After a repeat: the end of the clause (tags may follow), or the next clause.
_REPEAT_FOLLOWER = re.compile(r"^(?:(?:\s+#[a-z][\w-]*)*[\s.!]*$|\s*[,;])", _FLAGS)


def extract_repeat(text: str) -> tuple[str, str | None]:
    """Remove the repeat the text ends with ("... every monday"), as an RRULE; one in the
    middle of a title stays in it. Raises `RepeatError` for a day no month has."""
    for match in reversed(list(REPEAT_PATTERN.finditer(text))):
        if not _REPEAT_FOLLOWER.match(text[match.end() :]):
            continue
        repeat = read_repeat(match.group(0))
        if repeat is not None:
            return text[: match.start()] + " " + text[match.end() :], repeat.rrule()
    return text, None


def extract_attributes(text: str, today: date) -> tuple[str, dict[str, Any]]:
    """Pull priority, due date, tags and description out of `text`; return what is left."""
    found: dict[str, Any] = {}
    if match := _DESCRIPTION.search(text):
        found["description"] = match.group("d").strip()
        text = text[: match.start()]
    text, priority = _extract_priority(text)
    text, repeat = extract_repeat(text)
    text, due = extract_due(text, today)
    if repeat is None:  # "stretch every day tomorrow": the repeat before the date
        text, repeat = extract_repeat(text)
    text, tags = _extract_tags(text)
    if "description" not in found and (match := _ASIDE.search(text)):
        found["description"] = match.group("d").strip()  # "call the insurer (policy 4471)"
        text = text[: match.start()]
    if priority:
        found["priority"] = priority
    if due:
        found["due_date"] = due.isoformat()
    if repeat:
        found["repeat"] = repeat
    if tags:
        found["tags"] = tags
    return _tidy(text), found
