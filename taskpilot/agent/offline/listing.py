"""A request to see tasks ("what's pending?", "show my work tasks due this week") and a
question about tasks in other words ("what should I do next?", "any meetings?"): a
`list_tasks` call with the filters the message names.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from taskpilot.agent.offline.attributes import PRIORITY_WORDS
from taskpilot.agent.offline.commands import Command, Intent
from taskpilot.agent.offline.dates import DUE_CONNECTOR, list_due_range
from taskpilot.agent.offline.references import NUMBERED_REF, reference
from taskpilot.services.dates import DUE_PATTERN, WEEKDAYS, DateParseError

_FLAGS = re.IGNORECASE

_QUESTION_START = re.compile(
    r"^(?:what|what'?s|whats|which|how many|how much|do i|did i|have i|am i|any|anything|"
    r"got any(?:thing)?|"
    r"is there|are there|show|list|display|view|see|get me|give me|tell me|find|search|"
    r"look(?:ing)? (?:up|for))\b",
    _FLAGS,
)
_LIST_VERB_START = re.compile(
    r"^(?:show|list|display|view|get me|give me|find|search|look(?:ing)? (?:up|for))\b",
    _FLAGS,
)
_TASK_TALK = re.compile(
    r"\b(?:tasks?|todos?|to-?dos?|list|agenda|backlog|plate|pending|open|left|remaining|"
    r"outstanding|incomplete|unfinished|completed?|done|finished|due|overdue|upcoming|priority|"
    r"urgent|important|tag(?:ged)?|everything|all|today|tonight|tomorrow|this week|next week|"
    r"to do|ticked off|checked off|crossed off)\b|#\w",
    _FLAGS,
)
_LIST_ONLY_WORD = re.compile(
    r"^(?:pending|open|completed|done|finished|remaining|outstanding|overdue|upcoming|"
    r"everything|all)$",
    _FLAGS,
)

_PENDING_WORDS = re.compile(
    r"\b(?:not\s+(?:yet\s+)?(?:done|complete(?:d)?|finished)|pending|open|left|remaining|"
    r"(?:haven'?t|have\s+not|didn'?t|not)\s+(?:i\s+|yet\s+)?(?:done|finished|completed|got\s+to)|"
    r"(?:need|have|got)\s+to\s+(?:get\s+)?(?:do|done)|yet|"
    r"outstanding|incomplete|unfinished|undone|still|(?:have|need|got|left)\s+to\s+do|"
    r"overdue|upcoming|due)\b",
    _FLAGS,
)
_COMPLETED_WORDS = re.compile(
    r"\b(?:completed?|done|finished|checked\s+off|ticked\s+off|crossed\s+off|accomplished)\b",
    _FLAGS,
)
_LIST_PRIORITY = re.compile(
    r"\b(?P<a>high|top|medium|normal|low)[\s-]*prio(?:rity)?\b|"
    r"\b(?P<d>can\s+wait|not\s+urgent|not\s+important)\b|\b(?P<b>urgent|important)\b|"
    r"\bprio(?:rity)?\s*[:=]?\s*(?P<c>high|medium|low)\b",
    _FLAGS,
)
# "work tasks", "stuff for home": a tag (a word that is no status, date or quantity).
_TAG_NOUN = re.compile(
    r"\b(?P<a>[a-z][\w-]*)\s+(?:tasks|stuff|things|todos|to-?dos|items)\b|"
    r"\b(?:tasks|stuff|things|todos|anything|something|have|got)\s+for\s+(?P<b>[a-z][\w-]*)\??$",
    _FLAGS,
)
_NOT_A_TAG = re.compile(
    r"^(?:my|all|the|any|which|what|some|these|those|other|new|old|open|pending|done|"
    r"completed|finished|remaining|outstanding|overdue|upcoming|urgent|important|high|low|"
    r"medium|priority|today|tonight|tomorrow|me|now|later|this|next|due|of|many|more|few|"
    r"list|show|see|view|" + "|".join(WEEKDAYS) + r")$",
    _FLAGS,
)
# A question about tasks in other words: "what should I do next?", "any meetings?",
# "do I have anything about the invoice?", "what have I got on saturday?".
_NEXT_QUESTION = re.compile(
    r"^(?:what\s+(?:should|do|can)\s+i\s+do(?:\s+(?:next|now|first|today))?|"
    r"what'?s\s+(?:next|on\s+my\s+plate|coming\s+up)|what\s+now|what\s+can\s+wait)$",
    _FLAGS,
)
_ANY_QUESTION = re.compile(r"^any\s+(?P<q>[a-z][\w-]{3,}?)(?<!s)(?:s)?$", _FLAGS)
_ABOUT_QUESTION = re.compile(
    r"^(?:do\s+i\s+have|have\s+i\s+got|is\s+there|are\s+there|what\s+do\s+i\s+have|"
    r"what\s+have\s+i\s+got|what'?s|anything|stuff|things|any)\b.*\b(?:for|about|on|regarding|"
    r"mentioning)\s+\S",
    _FLAGS,
)
_LIST_TAG = re.compile(
    r"#(?P<a>[a-z0-9][\w-]*)|\b(?:tagged|tag|labell?ed|label)\s*(?:as|with)?\s*[:=]?\s*"
    r"#?(?P<b>[a-z0-9][\w-]*)",
    _FLAGS,
)
_LIST_SEARCH = re.compile(
    r"\b(?:matching|containing|mentioning|about|called|named|titled|with\s+the\s+words?|"
    r"search(?:ing)?(?:\s+for)?|find|look(?:ing)?\s+(?:up|for))\s+(?P<q>.+)$",
    _FLAGS,
)
_LIST_SORT = re.compile(
    r"\b(?:sort(?:ed)?|order(?:ed)?)?\s*by\s+(?P<s>priority|due(?:\s+date)?|deadline|title|name|"
    r"date)\b|\b(?P<a>alphabetical(?:ly)?)\b",
    _FLAGS,
)


_ON_MY_LIST = re.compile(
    r"\s+(?:on\s+there|in\s+there|on\s+(?:my|the)\s+list|in\s+(?:my|the)\s+list)$", _FLAGS
)


def parse_list(text: str, today: date) -> Command:
    arguments: dict[str, Any] = {"status": "all"}
    if _PENDING_WORDS.search(text):
        arguments["status"] = "pending"
    elif _COMPLETED_WORDS.search(text):
        arguments["status"] = "completed"
    if match := _LIST_PRIORITY.search(text):
        if match.group("d"):
            arguments["priority"] = "low"
        else:
            word = (match.group("a") or match.group("b") or match.group("c")).lower()
            arguments["priority"] = PRIORITY_WORDS[word]
    if match := _LIST_TAG.search(text):
        arguments["tag"] = (match.group("a") or match.group("b")).lower()
    elif (match := _TAG_NOUN.search(text)) and not _NOT_A_TAG.match(
        word := (match.group("a") or match.group("b")).lower()
    ):
        arguments["tag"] = word
    if match := _LIST_SEARCH.search(text):
        asked = _ON_MY_LIST.sub("", match.group("q"))
        query = reference(DUE_CONNECTOR.sub("", asked))[1]
        if query and not NUMBERED_REF.match(query):
            arguments["search"] = query
    if match := _LIST_SORT.search(text):
        word = (match.group("s") or "title").lower()
        arguments["sort"] = {"name": "title", "deadline": "due", "date": "due"}.get(
            word, word.split()[0]
        )
    if arguments["status"] != "completed":
        try:
            due_before, due_after = list_due_range(text, today)
        except DateParseError as exc:
            return Command(Intent.CLARIFY, message=f"I couldn't filter by that date: {exc}")
        if due_before or due_after:
            arguments["status"] = "pending"
            arguments.setdefault("sort", "due")
            if due_before:
                arguments["due_before"] = due_before.isoformat()
            if due_after:
                arguments["due_after"] = due_after.isoformat()
    return Command(Intent.LIST, arguments=arguments)


def parse_question(text: str, today: date) -> Command | None:
    """A question about tasks that names none of the usual words; None for other questions
    ("what's the weather like?" stays not understood)."""
    if _NEXT_QUESTION.match(text):
        return parse_list(text + " pending", today)
    if match := _ANY_QUESTION.match(text):
        return Command(Intent.LIST, arguments={"status": "all", "search": match.group("q")})
    if _ABOUT_QUESTION.match(text) or (_QUESTION_START.match(text) and DUE_PATTERN.search(text)):
        command = parse_list(text, today)
        if command.intent is Intent.LIST and len(command.arguments) > 1:
            return command  # it found a filter: a tag, a search, a date
    return None


def asks_for_list(text: str) -> bool:
    """A request to see tasks: "pending", "show my tasks", "what's due today?"."""
    return bool(
        _LIST_ONLY_WORD.match(text)
        or _LIST_VERB_START.match(text)
        or (_QUESTION_START.match(text) and _TASK_TALK.search(text))
    )


def mentions_tasks(text: str) -> bool:
    """Talk of tasks by a word for them ("my agenda is a mess"): when nothing else reads the
    message, a listing is the guess."""
    return bool(
        _TASK_TALK.search(text)
        and re.search(r"\b(?:tasks?|todos?|to-?dos?|list|agenda|backlog|overdue)\b", text, _FLAGS)
    )
