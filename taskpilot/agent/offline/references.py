"""How a message names a task: by number ("task 3", "#3", "number five"), by position ("the
second one"), by words ("the meeting task"), or as "it": the task the conversation just talked
about. `REF` is the place a rule's pattern holds such a name.
"""

from __future__ import annotations

import re

from taskpilot.agent.offline.matching import content_words
from taskpilot.services.dates import NUMBER_WORDS

_FLAGS = re.IGNORECASE

# Where a rule's pattern holds the name of a task; `named_task` reads what it names.
REF = r"(?P<ref>.+?)"
_NUMBER = r"(?:\d{1,9}|" + "|".join(NUMBER_WORDS) + r")"
NUMBERED_REF = re.compile(
    r"^(?:(?:the\s+)?(?:task|todo|to-do|item|number|no\.?)\s*)?(?:number\s*|no\.?\s*)?#?\s*"
    r"(?P<n>\d{1,9})$"
    r"|^(?:the\s+)?(?:task|todo|to-do|item|number|no\.?)\s*#?\s*(?P<w>" + _NUMBER + r")$",
    _FLAGS,
)
# "task 4 today", "#4 for now": a number with only filler after it is still that task.
_NUMBERED_AND_MORE = re.compile(
    r"^(?:the\s+)?(?:tasks?|todo|item|number|#)\s*#?\s*(?P<n>\d{1,9})\b(?P<rest>.*)$", _FLAGS
)
# Where a task is in a list, not what it is called: never a title's words.
_POSITION = re.compile(
    r"^(?:the\s+)?(?:first|second|third|fourth|fifth|last|top|bottom|next|previous|other|"
    r"same|one|latest|newest|oldest)(?:\s+(?:one|task|item|on\s+the\s+list))?$|"
    r"^(?:the\s+)?one\s+at\s+the\s+(?:top|bottom)$",
    _FLAGS,
)

ORDINALS = {
    "first": 1,
    "1st": 1,
    "second": 2,
    "2nd": 2,
    "third": 3,
    "3rd": 3,
    "fourth": 4,
    "4th": 4,
    "fifth": 5,
    "5th": 5,
    "last": -1,
}
ORDINAL = re.compile(
    r"^(?:the\s+)?(?P<o>" + "|".join(ORDINALS) + r")(?:\s+(?:one|task|item|match))?$", _FLAGS
)

_REF_SUFFIX = re.compile(
    r"\s+(?:from|off|on|in)\s+(?:my|the)\s+(?:to-?do\s+|task\s+)?list(?:\s+entirely|"
    r"\s+completely|\s+for\s+good)?$|\s+(?:please|now|entirely|completely|for\s+good)$",
    _FLAGS,
)

_REF_NOUN_PREFIX = re.compile(
    r"^(?:(?:the|my|that|this|a|an|our)\s+)?(?:(?:task|todo|to-do|item|reminder)\s+)?"
    r"(?:(?:called|named|titled|about|for|saying|that says)\s+)?",
    _FLAGS,
)
_REF_NOUN_SUFFIX = re.compile(r"\s+(?:task|todo|to-do|item|reminder|one)s?$", _FLAGS)

_PRONOUN = re.compile(r"^(?:it|that|this|them|those|these|one)$", _FLAGS)
# "it", "that one", "the task I just added": the task the conversation just talked about.
_BACK_REFERENCE = re.compile(
    r"^(?:it|that|this|that one|this one|that task|this task|the task|the last one|"
    r"the one (?:i|you) just (?:added|made|created|changed|mentioned|listed)|"
    r"the (?:task|one) (?:i|you) just (?:added|made|created|changed|mentioned|listed))$",
    _FLAGS,
)

# What is around a name but no part of it: "the meeting task, please."
_AROUND_A_NAME = " \t,.;:!?\"'“”"


def task_number(text: str) -> int | None:
    value = text.lower()
    return int(value) if value.isdigit() else NUMBER_WORDS.get(value)


def _bare(text: str) -> str:
    """The name without what is around it: "task 3 from my list." is "task 3"."""
    return _REF_SUFFIX.sub("", text.strip(_AROUND_A_NAME))


def reference(text: str) -> tuple[int | None, str | None]:
    """A task named by number ("task 3", "#3", "3") or by words ("the meeting task")."""
    ref = _bare(text)
    if match := NUMBERED_REF.match(ref):
        return task_number(match.group("n") or match.group("w")), None
    if (match := _NUMBERED_AND_MORE.match(ref)) and not content_words(match.group("rest")):
        return int(match.group("n")), None
    words = _REF_NOUN_SUFFIX.sub("", _REF_NOUN_PREFIX.sub("", ref, count=1))
    words = words.strip(_AROUND_A_NAME)
    if not words or _PRONOUN.match(words) or _POSITION.match(words) or _POSITION.match(ref):
        return None, None
    return None, words


def named_task(text: str) -> tuple[int | None, str | None, bool] | None:
    """The task a rule's `REF` names: its number or its words, or True third when it is "it" /
    "that one" (the task just talked about); None when it names no task."""
    task_id, target = reference(text)
    if task_id is not None or target is not None:
        return task_id, target, False
    if _BACK_REFERENCE.match(_bare(text)):
        return None, None, True
    return None
