"""The offline model: a rule-based command parser behind the Agents SDK `Model` interface.

It is not AI. It reads the latest user message, turns a plain task command ("add buy milk
tomorrow", "what's pending?", "delete the meeting task") into a real tool call that the
Runner sends to the MCP server, and on its next call turns the tool's output into a short
reply. Anything it cannot parse gets an honest help text, never a guess.

It keeps no state between calls: everything it needs is in the `input` the Runner hands it
(the latest user message and the tool calls and outputs after it), so one instance can serve
every user and worker.
"""

from __future__ import annotations

import ast
import asyncio
import json
import re
import uuid
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from enum import StrEnum
from typing import Any

from agents.agent_output import AgentOutputSchemaBase
from agents.handoffs import Handoff
from agents.items import ModelResponse, TResponseInputItem, TResponseStreamEvent
from agents.model_settings import ModelSettings
from agents.models.interface import Model, ModelTracing
from agents.tool import Tool
from agents.usage import Usage
from openai.types.responses.response_prompt_param import ResponsePromptParam

from taskpilot.agent.stream_events import (
    OutputItem,
    function_call_item,
    message_item,
    response_events,
)
from taskpilot.core.clock import today as settings_today
from taskpilot.core.config import Settings
from taskpilot.services.dates import DUE_PATTERN, DateParseError, parse_due

MODEL_NAME = "taskpilot-offline"

ADD_TASK = "add_task"
LIST_TASKS = "list_tasks"
COMPLETE_TASK = "complete_task"
DELETE_TASK = "delete_task"
UPDATE_TASK = "update_task"
TOOL_NAMES = (ADD_TASK, LIST_TASKS, COMPLETE_TASK, DELETE_TASK, UPDATE_TASK)

# The assistant's question when a task named in words matches several; a bare number in
# the next message answers it.
WHICH_ONE = "Which one should I"


class Intent(StrEnum):
    """What a message asks for."""

    ADD = "add"
    LIST = "list"
    COMPLETE = "complete"
    REOPEN = "reopen"
    DELETE = "delete"
    UPDATE = "update"
    CHOOSE = "choose"  # a bare task number, answering "which one?"
    CLARIFY = "clarify"  # understood, but something is missing or wrong: `message` says what
    GREETING = "greeting"
    THANKS = "thanks"
    DISMISS = "dismiss"  # "never mind"
    HELP = "help"
    UNKNOWN = "unknown"


_TOOL_FOR_INTENT = {
    Intent.ADD: ADD_TASK,
    Intent.LIST: LIST_TASKS,
    Intent.COMPLETE: COMPLETE_TASK,
    Intent.REOPEN: COMPLETE_TASK,
    Intent.DELETE: DELETE_TASK,
    Intent.UPDATE: UPDATE_TASK,
}
_TASK_ACTIONS = (Intent.COMPLETE, Intent.REOPEN, Intent.DELETE, Intent.UPDATE)


@dataclass(frozen=True)
class Command:
    """A parsed message: the intent, which task it names, and the tool arguments.

    A task is named by number (`task_id`) or by words (`target`, looked up with
    `list_tasks(search=...)` first). `arguments` holds the tool arguments other than
    `task_id`, with only the values the message gave (for `CHOOSE`, `position`: 1-based,
    -1 for the last). `message` is what to say for `CLARIFY`.
    """

    intent: Intent
    task_id: int | None = None
    target: str | None = None
    arguments: Mapping[str, Any] = field(default_factory=dict)
    message: str | None = None

    @property
    def tool(self) -> str | None:
        """The tool that carries out this command, if any."""
        return _TOOL_FOR_INTENT.get(self.intent)

    @property
    def needs_lookup(self) -> bool:
        """True when the task is named in words and must be found before acting on it."""
        return self.intent in _TASK_ACTIONS and self.task_id is None and bool(self.target)

    def tool_arguments(self, task_id: int | None = None) -> dict[str, Any]:
        """The arguments for `tool`, acting on `task_id` (default: the command's own)."""
        number = task_id if task_id is not None else self.task_id
        if self.intent in _TASK_ACTIONS:
            return {"task_id": number, **self.arguments}
        return dict(self.arguments)

    def lookup_arguments(self) -> dict[str, Any]:
        """The `list_tasks` arguments that find the task named by `target`."""
        status = {Intent.COMPLETE: "pending", Intent.REOPEN: "completed"}.get(self.intent, "all")
        return {"status": status, "search": self.target}


@dataclass(frozen=True)
class ToolRequest:
    """The model's next step is to call `name` (a canonical TaskPilot tool) with `arguments`."""

    name: str
    arguments: dict[str, Any]


@dataclass(frozen=True)
class Reply:
    """The model's next step is to answer with `text` (Markdown)."""

    text: str


# --------------------------------------------------------------------------------------------
# Parsing a message
# --------------------------------------------------------------------------------------------

_FLAGS = re.IGNORECASE
# The separators a phrase may swallow before its keyword, bounded: "[\s,;(-]*" would make every
# search over a long run of separators (", , , , …" from a hostile 4000-character message)
# restart at each of its characters, quadratic in the run's length.
_SEP = r"[\s,;(-]{0,8}"

_LEADING_FILLER = re.compile(
    r"^(?:(?:please|pls|plz|kindly|ok(?:ay)?|so|hey|hi|hello|yo|taskpilot|now|and|also|then|"
    r"just|can you|could you|would you(?: mind)?|will you|can u|could u|"
    r"i'?d like you to|i would like you to|i want you to|go ahead and|let'?s)"
    r"\b[\s,!.:;-]*)+",
    _FLAGS,
)
_TRAILING_FILLER = re.compile(
    r"(?:[\s,]{1,8}(?:please|pls|plz|thanks|thank you|thx|for me|now|ok(?:ay)?))*[\s.!?]{0,8}$",
    _FLAGS,
)

_GREETING = re.compile(
    r"^(?:hi|hello|hey|hiya|howdy|yo|greetings|good (?:morning|afternoon|evening|day)|"
    r"what'?s up|sup)(?: there| taskpilot| you)?$",
    _FLAGS,
)
_THANKS = re.compile(
    r"^(?:thanks?(?: you)?(?: so much| a lot)?|thx|ty|cheers|great|cool|nice|awesome|perfect|"
    r"ok(?:ay)?|got it)(?: thanks?(?: you)?)?$",
    _FLAGS,
)
_DISMISS = re.compile(
    r"^(?:never\s*mind|forget (?:it|that)|cancel(?: that| it)?|no(?:pe)?(?: thanks?)?|"
    r"nothing(?: else)?|stop|that'?s all)$",
    _FLAGS,
)
_HELP = re.compile(
    r"^(?:help|\?+|commands|usage|what can you do|what do you do|how does (?:this|it) work|"
    r"how do i use (?:this|you)|who are you|what are you|what can i (?:say|do|ask))\b",
    _FLAGS,
)

_NUMBER_WORDS = {
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
_NUMBER = r"(?:\d{1,9}|" + "|".join(_NUMBER_WORDS) + r")"
_NUMBERED_REF = re.compile(
    r"^(?:(?:the\s+)?(?:task|todo|to-do|item|number|no\.?)\s*)?(?:number\s*|no\.?\s*)?#?\s*"
    r"(?P<n>" + _NUMBER + r")$",
    _FLAGS,
)

_ORDINALS = {
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
_ORDINAL = re.compile(
    r"^(?:the\s+)?(?P<o>" + "|".join(_ORDINALS) + r")(?:\s+(?:one|task|item|match))?$", _FLAGS
)

_QUESTION_START = re.compile(
    r"^(?:what|what'?s|whats|which|how many|how much|do i|did i|have i|am i|any|anything|"
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
    r"to do)\b|#\w",
    _FLAGS,
)
_LIST_ONLY_WORD = re.compile(
    r"^(?:pending|open|completed|done|finished|remaining|outstanding|overdue|upcoming|"
    r"everything|all)$",
    _FLAGS,
)

_PRIORITY_WORDS = {
    "high": "high",
    "top": "high",
    "urgent": "high",
    "important": "high",
    "asap": "high",
    "medium": "medium",
    "normal": "medium",
    "low": "low",
    "not urgent": "low",
}
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
        _SEP + r"\b(?:it'?s\s+|its\s+|very\s+|super\s+)?(?P<p>not\s+urgent|urgent|important|asap)"
        r"\)?[\s!.]*$",
        _FLAGS,
    ),
    re.compile(r"^(?P<p>urgent|important)\s*[:!,-]+\s*", _FLAGS),
)

_TAG = r"#?[a-z0-9][\w-]*"
_TAG_PHRASE = re.compile(
    _SEP + r"\b(?:tagged(?:\s+(?:as|with))?|tags?\s*[:=]|with\s+(?:the\s+)?tags?|"
    r"labell?ed(?:\s+as)?|labels?\s*[:=])\s*"
    r"(?P<t>" + _TAG + r"(?:\s*(?:,|&|/|\band\b)\s*" + _TAG + r")*)\)?",
    _FLAGS,
)
_HASHTAG = re.compile(r"(?<![\w&#])#(?P<t>[a-z][\w-]*)", _FLAGS)
_TRAILING_HASHTAGS = re.compile(r"(?:\s*#[a-z][\w-]*)+\s*$", _FLAGS)

_DESCRIPTION = re.compile(
    _SEP + r"\b(?:description|details|notes?)\s*[:=]\s*(?P<d>.+?)\)?\s*$", _FLAGS
)
_DUE_CONNECTOR = re.compile(
    r"[\s,;]{0,8}\b(?:due(?:\s+(?:on|by|date))?|by|on|before|until|till|for)\s*:?\s*$", _FLAGS
)
# After a due-date phrase: the end of the clause, or a time of day we leave in the title.
_DUE_FOLLOWER = re.compile(
    r"^(?:(?:\s+#[a-z][\w-]*)*[\s.!?]*$|\s*[,;]|\s+at\s+\d|\s+(?:morning|afternoon|evening|night|"
    r"noon|midnight)\b)",
    _FLAGS,
)

_ADD_VERB = re.compile(
    r"^(?:add|create|new|jot down|note down|write down|schedule|"
    r"put(?=.*\b(?:on|onto|in)\s+(?:my|the)\s+(?:to-?do\s+|task\s+)?list\b)|"
    r"(?:make|set up|set)(?=\s+(?:a|an|another|new|me)?\s*(?:task|todo|to-do|reminder)))"
    r"\b[\s:,-]*(?P<rest>.*)$",
    _FLAGS,
)
# Always a new task: "remind me to ...", "todo: ...".
_REMIND_PHRASE = re.compile(
    r"^(?:remind me|don'?t let me forget|do not let me forget|don'?t forget|do not forget|"
    r"i (?:need|have|must|should|want) to remember|i'?ll need to remember|remember)"
    r"\b(?:\s*[:,-]\s*|\s+(?:to|that|about)\b\s*|\s*)(?P<rest>.+)$"
    r"|^(?:todo|to-?do|to do)\s*[:-]+\s*(?P<item>.+)$",
    _FLAGS,
)
# A new task unless what follows is a command: "I need to call mom" / "I want to see my tasks".
_NEED_PHRASE = re.compile(
    r"^(?:i (?:need|have|want|must|should) to|i'?d like to|i would like to|i'?ve got to|"
    r"i got to|i gotta|i must|need to|have to|gotta)\s+(?P<rest>.+)$",
    _FLAGS,
)
_COMMAND_VERB = re.compile(
    r"^(?:add|create|new|delete|remove|complete|mark|reopen|rename|update|change|edit|move|"
    r"reschedule|set|tag|see|show|list|view|find|check)\b",
    _FLAGS,
)
_ADD_NOUN = re.compile(
    r"^(?:(?:a|an|the|new|another|one more|me)\s+)*(?:task|todo|to-do|to do|item|reminder|"
    r"entry)s?\b\s*(?:[:\-–—]+|\bto\b|\bcalled\b|\bnamed\b|\btitled\b|\bthat says\b|"
    r"\bsaying\b)?\s*",
    _FLAGS,
)
_LIST_MENTION = r"(?:my|the|our)\s+(?:to-?do\s+|to\s+do\s+|task\s+)?list"
_ADD_TO_LIST_PREFIX = re.compile(r"^(?:to|on(?:to)?)\s+" + _LIST_MENTION + r"\s*[:,-]?\s*", _FLAGS)
_ADD_TO_LIST_SUFFIX = re.compile(r"\s+(?:to|on(?:to)?)\s+" + _LIST_MENTION + r"\b", _FLAGS)

_REF = r"(?P<ref>.+?)"
_QUOTED = r"[\"“‘'](?P<value>.+)[\"”’']"
_FIELD = r"(?P<field>priority|due\s*date|deadline|due|title|name|description|notes?|tags?|labels?)"

_UPDATE_RULES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern, _FLAGS), kind)
    for pattern, kind in (
        (
            r"^(?:remove|clear|delete|drop|unset)\s+(?:the\s+)?(?:due\s*date|deadline)\s+"
            r"(?:from|of|on|for)\s+(?P<ref>.+)$",
            "clear_due",
        ),
        (
            r"^(?:remove|clear|delete|drop)\s+(?:all\s+)?(?:the\s+)?(?:tags|labels)\s+"
            r"(?:from|of|on)\s+(?P<ref>.+)$",
            "clear_tags",
        ),
        (
            r"^(?:remove|delete|drop)\s+(?:the\s+)?(?:tag|label)\s+\S+\s+(?:from|of|on)\s+"
            r"(?P<ref>.+)$",
            "remove_tag",
        ),
        (
            r"^(?:tag|label)\s+" + _REF + r"\s+(?:with|as)\s+(?P<value>.+)$",
            "tags",
        ),
        (
            r"^add\s+(?:the\s+)?(?:tags?|labels?)\s+(?P<value>.+?)\s+to\s+(?P<ref>.+)$",
            "tags",
        ),
        (r"^add\s+(?P<value>#\S+(?:\s+#\S+)*)\s+to\s+(?P<ref>.+)$", "tags"),
        (
            r"^(?:set|change|update|make|mark|edit)\s+(?:the\s+)?" + _FIELD + r"\s+(?:of|for|on)\s+"
            r"(?P<ref>.+?)\s+(?:to|as|=)\s+(?P<value>.+)$",
            "field",
        ),
        (
            r"^(?:set|change|update|make|edit)\s+" + _REF + r"(?:'s)?\s+" + _FIELD + r"\s*"
            r"(?:to|as|=|:)?\s+(?P<value>.+)$",
            "field",
        ),
        (r"^(?:prioriti[sz]e)\s+(?P<ref>.+)$", "prioritize"),
        (
            r"^(?:make|mark|set|flag)\s+" + _REF + r"\s+(?:as\s+)?(?:an?\s+)?"
            r"(?P<value>high|top|medium|normal|low|urgent|important)(?:[\s-]*prio(?:rity)?)?$",
            "priority",
        ),
        (
            r"^(?:move|reschedule|push(?:\s+back)?|postpone|delay|defer|bump)\s+"
            + _REF
            + r"\s+(?:to|until|till|for)\s+(?P<value>.+)$",
            "due",
        ),
        (
            r"^" + _REF + r"\s+(?:is|should be|will be)\s+(?:now\s+)?due\s+(?P<value>.+)$",
            "due",
        ),
        (
            r"^(?:make|set)\s+" + _REF + r"\s+due\s+(?P<value>.+)$",
            "due",
        ),
        (r"^(?:rename|retitle)\s+(?P<ref>.+)\s+(?:to|as)\s+" + _QUOTED + r"$", "title"),
        (r"^(?:rename|retitle)\s+" + _REF + r"\s+(?:to|as)\s+(?P<value>.+)$", "title"),
        (
            r"^(?:change|update|edit|modify|set|make)\s+(?P<ref>.+)\s+to\s+" + _QUOTED + r"$",
            "title",
        ),
        (r"^(?:change|update|edit|modify|set|make)\s+" + _REF + r"\s+to\s+(?P<value>.+)$", "to"),
        (
            r"^(?:update|change|edit|modify|set)\s+(?P<ref>(?:task|todo|item)\s*#?\s*\d+)"
            r"\s*[:,-]?\s*(?P<value>.+)$",
            "attributes",
        ),
    )
)

_REOPEN_RULES = tuple(
    re.compile(pattern, _FLAGS)
    for pattern in (
        r"^(?:reopen|re-open|uncomplete|unfinish|undo|restore|unmark|uncheck|untick)\s+"
        r"(?P<ref>.+)$",
        r"^(?:mark|set|make|put)\s+" + _REF + r"\s+(?:as\s+|back\s+(?:to|as)\s+)?(?:not\s+done|"
        r"not\s+complete(?:d)?|not\s+finished|incomplete|undone|pending|open|unfinished|to\s*do)$",
        r"^" + _REF + r"\s+(?:is|isn'?t)\s+(?:not\s+)?(?:done|finished|complete(?:d)?)\s+yet$",
        r"^" + _REF + r"\s+is\s+(?:not\s+done|not\s+finished|not\s+complete(?:d)?|incomplete)$",
    )
)
_COMPLETE_RULES = tuple(
    re.compile(pattern, _FLAGS)
    for pattern in (
        r"^(?:mark|set|check|tick|cross)\s+(?:off\s+)?" + _REF + r"\s+(?:as\s+)?(?:complete|"
        r"completed|done|finished|checked(?:\s+off)?|off)$",
        r"^(?:complete|completed|finish|finished|close|check\s+off|tick\s+off|cross\s+off|"
        r"done|did)\s+(?:with\s+)?(?P<ref>.+)$",
        r"^i(?:'ve|\s+have|'m|\s+am)?\s+(?:just\s+|already\s+)?(?:finished|completed|done|did)\s+"
        r"(?:with\s+)?(?P<ref>.+)$",
        r"^" + _REF + r"\s+(?:is|are)\s+(?:now\s+|all\s+)?(?:done|complete(?:d)?|finished)$",
    )
)
_DELETE_RULE = re.compile(
    r"^(?:delete|remove|erase|drop|trash|discard|cancel|scrap|bin|get\s+rid\s+of|"
    r"forget(?:\s+about)?|clear)\s+(?P<ref>.+)$",
    _FLAGS,
)
_REF_SUFFIX = re.compile(
    r"\s+(?:from|off|on|in)\s+(?:my|the)\s+(?:to-?do\s+|task\s+)?list$|\s+(?:please|now)$", _FLAGS
)
_REF_NOUN_PREFIX = re.compile(
    r"^(?:(?:the|my|that|this|a|an|our)\s+)?(?:(?:task|todo|to-do|item|reminder)\s+)?"
    r"(?:(?:called|named|titled|about|for|saying|that says)\s+)?",
    _FLAGS,
)
_REF_NOUN_SUFFIX = re.compile(r"\s+(?:task|todo|to-do|item|reminder|one)s?$", _FLAGS)
_BULK_REF = re.compile(
    r"^(?:all|every|everything|each|my tasks|all my|the whole|"
    r"(?:the\s+|my\s+)?(?:completed|done|finished|old)\s+(?:tasks|ones|items|todos))\b",
    _FLAGS,
)
_PRONOUN = re.compile(r"^(?:it|that|this|them|those|these|one)$", _FLAGS)
# "set up a task to ...", "make a note ..." create something; they do not name a task.
_NOT_A_REF = re.compile(r"^(?:up|a|an|another|new|me|us)\b", _FLAGS)


def _normalize(text: str) -> str:
    """One line, straight quotes, no polite filler around the command."""
    text = text.replace("’", "'").replace("‘", "'").replace("`", "'")
    text = " ".join(text.split())
    previous = None
    while previous != text:
        previous = text
        text = _LEADING_FILLER.sub("", text)
        # Trailing punctuation goes in one linear pass; the regex takes the filler words.
        text = _TRAILING_FILLER.sub("", text.rstrip(" .!?")).strip()
    return text


def _number(text: str) -> int | None:
    value = text.lower()
    return int(value) if value.isdigit() else _NUMBER_WORDS.get(value)


def _reference(text: str) -> tuple[int | None, str | None]:
    """A task named by number ("task 3", "#3", "3") or by words ("the meeting task")."""
    ref = _REF_SUFFIX.sub("", text.strip(" \t,.;:!?\"'“”"))
    if match := _NUMBERED_REF.match(ref):
        return _number(match.group("n")), None
    words = _REF_NOUN_SUFFIX.sub("", _REF_NOUN_PREFIX.sub("", ref, count=1))
    words = words.strip(" \t,.;:!?\"'“”")
    if not words or _PRONOUN.match(words):
        return None, None
    return None, words


def _unquote(text: str) -> str:
    text = text.strip()
    if len(text) >= 2 and text[0] in "\"'“‘" and text[-1] in "\"'”’":
        text = text[1:-1]
    return text.strip()


def _capitalize(text: str) -> str:
    return text[:1].upper() + text[1:]


def _split_tags(text: str) -> list[str]:
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
            priority = _PRIORITY_WORDS[" ".join(match.group("p").lower().split())]
        text = pattern.sub(" ", text)
    return text, priority


def _extract_due(text: str, today: date) -> tuple[str, date | None]:
    """Remove the due-date phrase the text ends with (or introduces with "by", "on", ...).

    A date phrase in the middle of a title ("plan friday drinks") stays part of the title.
    Raises `DateParseError` for a phrase that looks like a date but is not a real one.
    """
    for match in reversed(list(DUE_PATTERN.finditer(text))):
        before = text[: match.start()]
        connector = _DUE_CONNECTOR.search(before)
        is_iso = bool(re.fullmatch(r"\d{4}-\d{2}-\d{2}", match.group(0)))
        if connector is None and not is_iso and not _DUE_FOLLOWER.match(text[match.end() :]):
            continue
        due = parse_due(match.group(0), today)
        start = connector.start() if connector is not None else match.start()
        return text[:start] + " " + text[match.end() :], due
    return text, None


def _extract_tags(text: str) -> tuple[str, list[str]]:
    tags: list[str] = []
    for match in _TAG_PHRASE.finditer(text):
        tags += _split_tags(match.group("t"))
    text = _TAG_PHRASE.sub(" ", text)
    tags += [match.group("t").lower() for match in _HASHTAG.finditer(text)]
    text = _TRAILING_HASHTAGS.sub("", text)
    text = _HASHTAG.sub(lambda match: match.group("t"), text)
    return text, list(dict.fromkeys(tags))


def _attributes(text: str, today: date) -> tuple[str, dict[str, Any]]:
    """Pull priority, due date, tags and description out of `text`; return what is left."""
    found: dict[str, Any] = {}
    if match := _DESCRIPTION.search(text):
        found["description"] = match.group("d").strip()
        text = text[: match.start()]
    text, priority = _extract_priority(text)
    text, due = _extract_due(text, today)
    text, tags = _extract_tags(text)
    if priority:
        found["priority"] = priority
    if due:
        found["due_date"] = due.isoformat()
    if tags:
        found["tags"] = tags
    return _tidy(text), found


def _parse_add(rest: str, today: date) -> Command:
    rest = _ADD_TO_LIST_PREFIX.sub("", _ADD_NOUN.sub("", rest.strip(), count=1))
    rest = _ADD_TO_LIST_SUFFIX.sub("", rest)
    quoted = re.match(r"^[\"“'‘](?P<title>.+?)[\"”'’](?P<rest>(?:\s.*)?)$", rest)
    try:
        if quoted:
            title = quoted.group("title").strip()
            _, arguments = _attributes(quoted.group("rest"), today)
        else:
            title, arguments = _attributes(rest, today)
    except DateParseError as exc:
        return Command(Intent.CLARIFY, message=f"I couldn't add that: {exc}")
    title = re.sub(r"^(?:to|that|about)\s+", "", title, flags=_FLAGS).strip()
    if not title:
        return Command(
            Intent.CLARIFY,
            message="What should the task be? For example: **add buy milk tomorrow**.",
        )
    return Command(Intent.ADD, arguments={"title": _capitalize(title), **arguments})


def _field_value(field_name: str, value: str, today: date) -> dict[str, Any] | str:
    """Tool arguments for one field, or a message saying why the value is not usable."""
    name = field_name.lower().replace(" ", "")
    value = _unquote(value)
    if name == "priority":
        priority = _PRIORITY_WORDS.get(" ".join(value.lower().split()).removesuffix(" priority"))
        if priority is None:
            return "Priorities are low, medium or high."
        return {"priority": priority}
    if name in ("duedate", "deadline", "due"):
        if value.lower() in ("none", "no date", "nothing", "no due date", "never", "clear"):
            return {"due_date": "none"}
        try:
            return {"due_date": parse_due(value, today).isoformat()}
        except DateParseError as exc:
            return str(exc)
    if name in ("tag", "tags", "label", "labels"):
        tags = _split_tags(value)
        return {"tags": tags} if tags else "No tags given. For example: **tag task 2 with work**."
    if name in ("description", "note", "notes"):
        return {"description": value}
    if not value:
        return "The new title is empty. For example: **rename task 2 to Call mom**."
    return {"title": _capitalize(value)}


def _parse_update(text: str, today: date) -> Command | None:
    for pattern, kind in _UPDATE_RULES:
        match = pattern.match(text)
        if match is None:
            continue
        # "update task 2: high priority, due friday" is not a task named "2: high priority".
        if re.search(r"[:,;]", match.group("ref")) or _NOT_A_REF.match(match.group("ref")):
            continue
        task_id, target = _reference(match.group("ref"))
        if task_id is None and target is None:
            continue
        value = match.groupdict().get("value") or ""
        changes: dict[str, Any] | str
        if kind == "clear_due":
            changes = {"due_date": "none"}
        elif kind == "clear_tags":
            changes = {"tags": []}
        elif kind == "remove_tag":
            ref = match.group("ref")
            changes = (
                f"I can't remove one tag on its own. Say **tag {ref} with …** to set the tags"
                f" you want, or **remove the tags from {ref}**."
            )
        elif kind == "prioritize":
            changes = {"priority": "high"}
        elif kind in ("field", "priority", "due", "tags", "title"):
            field_name = match.groupdict().get("field") or kind
            changes = _field_value(field_name, value, today)
        else:
            # "change task 2 to friday / high priority" changes those; anything else is a title.
            try:
                remainder, attributes = _attributes(value, today)
            except DateParseError as exc:
                changes = str(exc)
            else:
                if attributes and not remainder:
                    changes = attributes
                elif kind == "to":
                    changes = _field_value("title", value, today)
                else:
                    continue
        if isinstance(changes, str):
            if kind != "remove_tag":
                changes = f"I couldn't update that: {changes}"
            return Command(Intent.CLARIFY, message=changes)
        return Command(Intent.UPDATE, task_id=task_id, target=target, arguments=changes)
    return None


def _parse_task_action(text: str) -> Command | None:
    for intent, patterns in (
        (Intent.REOPEN, _REOPEN_RULES),
        (Intent.COMPLETE, _COMPLETE_RULES),
        (Intent.DELETE, (_DELETE_RULE,)),
    ):
        for pattern in patterns:
            if match := pattern.match(text):
                ref = match.group("ref")
                if _BULK_REF.match(ref):
                    return Command(
                        Intent.CLARIFY,
                        message="I can change one task at a time. Name it by number, for"
                        " example: **delete task 3**.",
                    )
                task_id, target = _reference(ref)
                if task_id is None and target is None:
                    continue
                arguments = {"completed": False} if intent is Intent.REOPEN else {}
                return Command(intent, task_id=task_id, target=target, arguments=arguments)
    return None


_PENDING_WORDS = re.compile(
    r"\b(?:not\s+(?:yet\s+)?(?:done|complete(?:d)?|finished)|pending|open|left|remaining|"
    r"outstanding|incomplete|unfinished|undone|still|(?:have|need|got|left)\s+to\s+do|"
    r"overdue|upcoming|due)\b",
    _FLAGS,
)
_COMPLETED_WORDS = re.compile(
    r"\b(?:completed?|done|finished|checked\s+off|ticked\s+off|accomplished)\b", _FLAGS
)
_LIST_PRIORITY = re.compile(
    r"\b(?P<a>high|top|medium|normal|low)[\s-]*prio(?:rity)?\b|\b(?P<b>urgent|important)\b|"
    r"\bprio(?:rity)?\s*[:=]?\s*(?P<c>high|medium|low)\b",
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


def _week_end(today: date) -> date:
    # A filter for "this week" wants the whole week to Sunday; `parse_due("this week")` is a
    # due date (that Friday), not a range. On a Sunday the week ahead is the useful answer.
    return today + timedelta(days=(6 - today.weekday()) or 7)


def _parse_list(text: str, today: date) -> Command:
    arguments: dict[str, Any] = {"status": "all"}
    if _PENDING_WORDS.search(text):
        arguments["status"] = "pending"
    elif _COMPLETED_WORDS.search(text):
        arguments["status"] = "completed"
    if match := _LIST_PRIORITY.search(text):
        word = (match.group("a") or match.group("b") or match.group("c")).lower()
        arguments["priority"] = _PRIORITY_WORDS[word]
    if match := _LIST_TAG.search(text):
        arguments["tag"] = (match.group("a") or match.group("b")).lower()
    if match := _LIST_SEARCH.search(text):
        query = _reference(_DUE_CONNECTOR.sub("", match.group("q")))[1]
        if query and not _NUMBERED_REF.match(query):
            arguments["search"] = query
    if match := _LIST_SORT.search(text):
        word = (match.group("s") or "title").lower()
        arguments["sort"] = {"name": "title", "deadline": "due", "date": "due"}.get(
            word, word.split()[0]
        )
    if arguments["status"] != "completed":
        try:
            due_before, due_after = _list_due_range(text, today)
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


def _month_end(day: date) -> date:
    """The last day of `day`'s month."""
    following = day.replace(day=28) + timedelta(days=4)
    return following - timedelta(days=following.day)


def _list_due_range(text: str, today: date) -> tuple[date | None, date | None]:
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
        return _month_end(today), None
    if re.search(r"\bnext\s+month\b", lowered):
        first = _month_end(today) + timedelta(days=1)
        return _month_end(first), first
    if re.search(r"\b(?:upcoming|soon|coming\s+up)\b", lowered):
        return today + timedelta(days=7), None
    for match in DUE_PATTERN.finditer(lowered):
        when = parse_due(match.group(0), today)
        connector = re.search(r"\b(after|from|since|before)\s+$", lowered[: match.start()])
        word = connector.group(1) if connector else None
        if word == "after":
            return None, when + timedelta(days=1)
        if word in ("from", "since"):
            return None, when
        return (when - timedelta(days=1) if word == "before" else when), None
    return None, None


_EDIT_VERB = re.compile(r"^(?:update|change|edit|modify|rename|retitle)\b", _FLAGS)
_EDIT_HELP = (
    "I couldn't tell which task to change, or how. Name the task and the change, for example:"
    " **rename task 2 to Call mom**, **set task 2 priority to high** or **move task 2 to"
    " friday**."
)


def parse_command(text: str, today: date) -> Command:
    """Parse one user message into a `Command`; relative dates resolve against `today`."""
    plain = " ".join(text.replace("’", "'").split()).strip(" .!?,")
    if _GREETING.match(plain):
        return Command(Intent.GREETING)
    bare = _normalize(text).strip(" .!?,")
    # "ok" on its own is an acknowledgement, though "ok, add ..." is just a lead-in.
    if _THANKS.match(plain) or _THANKS.match(bare):
        return Command(Intent.THANKS)
    if not bare:
        return Command(Intent.HELP)
    if _DISMISS.match(bare):
        return Command(Intent.DISMISS)
    if _HELP.match(bare):
        return Command(Intent.HELP)
    if match := _NUMBERED_REF.match(bare):
        return Command(Intent.CHOOSE, task_id=_number(match.group("n")))
    if match := _ORDINAL.match(bare):
        position = _ORDINALS[match.group("o").lower()]
        return Command(Intent.CHOOSE, arguments={"position": position})
    if _LIST_ONLY_WORD.match(bare):
        return _parse_list(bare, today)
    if _LIST_VERB_START.match(bare) or (_QUESTION_START.match(bare) and _TASK_TALK.search(bare)):
        return _parse_list(bare, today)
    for parse in (_parse_update, lambda value, _: _parse_task_action(value)):
        if (command := parse(bare, today)) is not None:
            return command
    if match := _ADD_VERB.match(bare):
        return _parse_add(match.group("rest"), today)
    if match := _REMIND_PHRASE.match(bare):
        return _parse_add(match.group("rest") or match.group("item"), today)
    if match := _NEED_PHRASE.match(bare):
        rest = match.group("rest")
        return parse_command(rest, today) if _COMMAND_VERB.match(rest) else _parse_add(rest, today)
    if _EDIT_VERB.match(bare):
        # An edit we could not read: say how to phrase it rather than list every task.
        return Command(Intent.CLARIFY, message=_EDIT_HELP)
    if _TASK_TALK.search(bare) and re.search(
        r"\b(?:tasks?|todos?|to-?dos?|list|agenda|backlog|overdue)\b", bare, _FLAGS
    ):
        return _parse_list(bare, today)
    return Command(Intent.UNKNOWN)


# --------------------------------------------------------------------------------------------
# Reading the Runner's input
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ToolResult:
    """One tool call of this turn and what it returned."""

    name: str
    arguments: dict[str, Any]
    data: dict[str, Any] | None  # the parsed JSON result; None when the tool failed
    error: str | None


def _get(item: Any, key: str) -> Any:
    if isinstance(item, Mapping):
        return item.get(key)
    return getattr(item, key, None)


def _content_text(content: Any) -> str:
    """The text of message content or a tool output: a string, one part, or a list of parts."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, Sequence):
        return "".join(_content_text(part) for part in content)
    text = _get(content, "text")
    if isinstance(text, str):
        return text
    return ""


def _is_message(item: Any, role: str) -> bool:
    return _get(item, "role") == role and _get(item, "type") in (None, "message")


def canonical_tool_name(name: str) -> str:
    """TaskPilot's name for a tool, ignoring a prefix a client may add ("taskpilot_add_task")."""
    for tool in TOOL_NAMES:
        if name == tool or re.search(r"[._:-]" + tool + r"$", name):
            return tool
    return name


_ERROR_PREFIX = re.compile(r"^(?:error executing tool [\w.-]+:\s*|error:\s*)", _FLAGS)


def _tool_result(name: str, arguments: dict[str, Any], output: Any) -> ToolResult:
    text = _content_text(output).strip()
    data: Any = None
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        # A plain function tool's dict reaches the model as its Python repr.
        if text.startswith("{"):
            try:
                data = ast.literal_eval(text)
            except (ValueError, TypeError, SyntaxError, RecursionError, MemoryError):
                data = None
    if isinstance(data, dict) and "error" not in data:
        return ToolResult(name, arguments, data, None)
    if isinstance(data, dict):
        text = str(data["error"])
    message = _ERROR_PREFIX.sub("", text).strip() or "The tool returned nothing."
    return ToolResult(name, arguments, None, message)


def _json_object(text: Any) -> dict[str, Any]:
    if isinstance(text, Mapping):
        return dict(text)
    try:
        value = json.loads(text or "{}")
    except (TypeError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def _turn_results(items: Sequence[Any]) -> list[ToolResult]:
    calls: dict[str, tuple[str, dict[str, Any]]] = {}
    results: list[ToolResult] = []
    for item in items:
        kind = _get(item, "type")
        if kind == "function_call":
            name = canonical_tool_name(str(_get(item, "name") or ""))
            calls[str(_get(item, "call_id"))] = (name, _json_object(_get(item, "arguments")))
        elif kind == "function_call_output":
            name, arguments = calls.get(str(_get(item, "call_id")), ("", {}))
            results.append(_tool_result(name, arguments, _get(item, "output")))
    return results


# --------------------------------------------------------------------------------------------
# Deciding the next step and writing replies
# --------------------------------------------------------------------------------------------

_HELP_TEXT = (
    "I'm TaskPilot's **offline model**: a rule-based command parser, not an AI. I understand"
    " plain task commands such as:\n"
    "- **add buy milk tomorrow, high priority**\n"
    "- **what's pending?** or **show tasks due this week**\n"
    "- **complete task 3** or **mark buy milk as done**\n"
    "- **delete the meeting task**\n"
    "- **rename task 1 to Call mom tonight** or **move task 2 to friday**\n\n"
    "For free-form conversation, set `MODEL_PROVIDER=openai` and `OPENAI_API_KEY` (or"
    " `MODEL_BASE_URL` for an OpenAI-compatible server)."
)


def _format_day(iso: Any) -> str:
    """'Fri 2026-11-27' for '2026-11-27'."""
    try:
        return f"{date.fromisoformat(str(iso)):%a} {iso}"
    except ValueError:
        return str(iso)


def _tags_text(tags: Any) -> str:
    if not isinstance(tags, list):
        tags = [tags]
    return " ".join(f"#{tag}" for tag in tags)


def _details(task: Mapping[str, Any]) -> list[str]:
    details = []
    if task.get("due_date"):
        details.append(f"due {_format_day(task['due_date'])}")
    if task.get("priority") and task["priority"] != "medium":
        details.append(f"{task['priority']} priority")
    if task.get("tags"):
        details.append(_tags_text(task["tags"]))
    return details


def _task_line(task: Mapping[str, Any], today: date) -> str:
    line = f"- **{task.get('task_id')}** {task.get('title', '')}"
    facts = []
    if task.get("due_date"):
        due = f"due {task['due_date']}"
        done = task.get("status") == "completed" or task.get("completed")
        if not done and str(task["due_date"]) < today.isoformat():
            due += " (overdue)"
        facts.append(due)
    if task.get("priority") and task["priority"] != "medium":
        facts.append(str(task["priority"]))
    if task.get("tags"):
        facts.append(_tags_text(task["tags"]))
    if task.get("status") == "completed" or task.get("completed"):
        facts.append("done ✓")
    return line + (" — " + " · ".join(facts) if facts else "")


def _list_phrase(arguments: Mapping[str, Any], count: int | None) -> str:
    """'pending high priority tasks tagged #work due by Sun 2026-11-29', for any count."""
    words = []
    status = arguments.get("status", "all")
    if status in ("pending", "completed"):
        words.append(str(status))
    if arguments.get("priority"):
        words.append(f"{arguments['priority']} priority")
    noun = "task" if count == 1 else "tasks"
    phrase = " ".join([*words, noun])
    if arguments.get("tag"):
        phrase += f" tagged #{arguments['tag']}"
    if arguments.get("search"):
        phrase += f' matching "{arguments["search"]}"'
    if arguments.get("due_after") and arguments.get("due_before"):
        after, before = arguments["due_after"], arguments["due_before"]
        phrase += f" due {_format_day(after)} to {_format_day(before)}"
    elif arguments.get("due_before"):
        phrase += f" due by {_format_day(arguments['due_before'])}"
    elif arguments.get("due_after"):
        phrase += f" due from {_format_day(arguments['due_after'])}"
    return phrase


def _listed_tasks(data: Mapping[str, Any] | None) -> list[Mapping[str, Any]]:
    """The tasks of a `list_tasks` result, skipping anything that is not a numbered task
    (a task number is a positive integer the tools accept: a hostile result's -1 is not)."""
    tasks = (data or {}).get("tasks")
    if not isinstance(tasks, list):
        return []
    return [
        task
        for task in tasks
        if isinstance(task, Mapping)
        and isinstance(task.get("task_id"), int)
        and not isinstance(task.get("task_id"), bool)
        and 0 < task["task_id"] < 2**31
    ]


def _describe_list(result: ToolResult, today: date) -> str:
    data = result.data or {}
    tasks = _listed_tasks(data)
    arguments = result.arguments
    if not tasks:
        unfiltered = set(arguments) <= {"status", "sort", "limit"}
        if unfiltered and arguments.get("status", "all") == "all":
            return "You have no tasks yet. Try **add buy milk tomorrow**."
        return f"You have no {_list_phrase(arguments, 0)}."
    count = data["count"] if isinstance(data.get("count"), int) else len(tasks)
    count = max(count, len(tasks))
    header = f"You have {count} {_list_phrase(arguments, count)}"
    if arguments.get("status", "all") == "all":
        done = sum(1 for task in tasks if task.get("status") == "completed")
        if done:
            header += f" ({done} done)"
    lines = [header + ":", *(_task_line(task, today) for task in tasks)]
    limit = arguments.get("limit", 50)
    if isinstance(limit, int) and count >= limit:
        lines.append(f"_Showing the first {limit}; add a filter to narrow it down._")
    return "\n".join(lines)


def _describe_update(task: Mapping[str, Any], arguments: Mapping[str, Any]) -> str:
    changes = []
    if "title" in arguments:
        changes.append("renamed")
    if "priority" in arguments:
        changes.append(f"priority is now {task.get('priority', arguments['priority'])}")
    if "due_date" in arguments:
        due = task.get("due_date")
        changes.append(f"due {_format_day(due)}" if due else "no due date")
    if "tags" in arguments:
        tags = task.get("tags")
        changes.append(f"tags: {_tags_text(tags)}" if tags else "no tags")
    if "description" in arguments:
        changes.append("description updated")
    summary = f" ({', '.join(changes)})" if changes else ""
    return f"Updated task {task.get('task_id')}: **{task.get('title', '')}**{summary}."


def describe_result(result: ToolResult, today: date) -> str:
    """A friendly sentence (or list) about one tool result."""
    if result.error is not None or result.data is None:
        return f"I couldn't do that: {result.error}"
    task = result.data
    if result.name == LIST_TASKS:
        return _describe_list(result, today)
    number, title = task.get("task_id"), task.get("title", "")
    if result.name == ADD_TASK:
        details = _details(task)
        extra = f" ({', '.join(details)})" if details else ""
        return f"Added task {number}: **{title}**{extra}."
    if result.name == COMPLETE_TASK:
        if result.arguments.get("completed") is False:
            return f"Reopened task {number}: **{title}** is pending again."
        return f"Nice work! Marked task {number} as done: **{title}** ✓"
    if result.name == DELETE_TASK:
        return f"Deleted task {number}: **{title}**."
    if result.name == UPDATE_TASK:
        return _describe_update(task, result.arguments)
    return f"Done: task {number} **{title}**." if number is not None else "Done."


_ACTION_WORDS = {
    Intent.COMPLETE: ("mark as done", "complete"),
    Intent.REOPEN: ("reopen", "reopen"),
    Intent.DELETE: ("delete", "delete"),
    Intent.UPDATE: ("update", "update"),
}


def _after_lookup(command: Command, lookup: ToolResult) -> ToolRequest | Reply:
    if lookup.error is not None or lookup.data is None:
        return Reply(f"I couldn't look that task up: {lookup.error}")
    matches = _listed_tasks(lookup.data)
    status = command.lookup_arguments()["status"]
    kind = f"{status} task" if status != "all" else "task"
    if not matches:
        return Reply(
            f'No {kind} matching "{command.target}" was found. Say **show my tasks** to see'
            " them all."
        )
    if len(matches) == 1:
        task_id = matches[0]["task_id"]
        return ToolRequest(str(command.tool), command.tool_arguments(task_id))
    verb, example = _ACTION_WORDS[command.intent]
    lines = [f'I found {len(matches)} {kind}s matching "{command.target}":']
    lines += [f"- **{task.get('task_id')}** {task.get('title', '')}" for task in matches]
    first = matches[0].get("task_id")
    lines.append(f"{WHICH_ONE} {verb}? Reply with its number, or say **{example} task {first}**.")
    return Reply("\n".join(lines))


def _first_step(command: Command) -> ToolRequest | Reply:
    if command.intent in (Intent.GREETING, Intent.HELP):
        prefix = "Hi! " if command.intent is Intent.GREETING else ""
        return Reply(prefix + _HELP_TEXT)
    if command.intent is Intent.THANKS:
        return Reply("You're welcome! Anything else for your list?")
    if command.intent is Intent.DISMISS:
        return Reply("OK, I left your tasks as they are.")
    if command.intent is Intent.UNKNOWN:
        return Reply("Sorry, I didn't understand that. " + _HELP_TEXT)
    if command.intent is Intent.CLARIFY or command.tool is None:
        return Reply(command.message or _HELP_TEXT)
    if command.needs_lookup:
        return ToolRequest(LIST_TASKS, command.lookup_arguments())
    return ToolRequest(command.tool, command.tool_arguments())


def _resolve_choice(command: Command, history: Sequence[Any], today: date) -> Command:
    """Apply "2" or "the first one" to the by-name command whose matches we just listed."""
    assistant = next((i for i in reversed(history) if _is_message(i, "assistant")), None)
    previous = next((i for i in reversed(history) if _is_message(i, "user")), None)
    question = _content_text(_get(assistant, "content")) if assistant is not None else ""
    number = command.task_id
    if WHICH_ONE in question and previous is not None:
        earlier = parse_command(_content_text(_get(previous, "content")), today)
        listed = [int(n) for n in re.findall(r"^- \*\*(\d+)\*\*", question, re.MULTILINE)]
        position = command.arguments.get("position")
        if position is not None and listed and -len(listed) <= position - 1 < len(listed):
            number = listed[position - 1 if position > 0 else position]
        if earlier.needs_lookup and number is not None:
            return replace(earlier, task_id=number, target=None)
    if number is None:
        return Command(Intent.CLARIFY, message="Which task? Name it by number, e.g. **task 3**.")
    return Command(
        Intent.CLARIFY,
        message=f"What should I do with task {number}? For example: **complete task {number}**,"
        f" **delete task {number}** or **rename task {number} to …**.",
    )


def next_step(input: str | Sequence[Any], today: date) -> ToolRequest | Reply:
    """Decide the model's next step from the Runner's input: call a tool, or reply.

    Only the latest user message and the tool calls and outputs after it count; earlier turns
    matter only to read a bare number that answers our "which one?" question.
    """
    items: Sequence[Any] = [{"role": "user", "content": input}] if isinstance(input, str) else input
    user_index = next(
        (index for index in range(len(items) - 1, -1, -1) if _is_message(items[index], "user")),
        None,
    )
    if user_index is None:
        return Reply(_HELP_TEXT)
    command = parse_command(_content_text(_get(items[user_index], "content")), today)
    if command.intent is Intent.CHOOSE:
        command = _resolve_choice(command, items[:user_index], today)
    results = _turn_results(items[user_index + 1 :])
    if not results:
        return _first_step(command)
    if command.needs_lookup and len(results) == 1 and results[0].name == LIST_TASKS:
        return _after_lookup(command, results[0])
    if command.needs_lookup and results[0].name == LIST_TASKS:
        results = results[1:]
    return Reply("\n\n".join(describe_result(result, today) for result in results))


# --------------------------------------------------------------------------------------------
# The Model
# --------------------------------------------------------------------------------------------


def _resolve_tool_name(name: str, tools: Sequence[Tool]) -> str | None:
    """The name under which the Runner offers our tool `name`, or None when it is absent."""
    names = [str(getattr(tool, "name", "")) for tool in tools]
    if name in names:
        return name
    return next((offered for offered in names if canonical_tool_name(offered) == name), None)


class OfflineModel(Model):
    """A rule-based stand-in for a language model (no AI): task commands become tool calls.

    `today` overrides the date that "tomorrow" and "friday" count from (tests).
    """

    def __init__(self, settings: Settings, today: Callable[[], date] | None = None) -> None:
        self.settings = settings
        self._today = today or (lambda: settings_today(settings))

    async def _parsed(self, input: str | list[TResponseInputItem], tools: list[Tool]) -> OutputItem:
        """`_output`, in a worker thread: parsing is linear in the message, but a 4,000
        character message is still milliseconds of regex work that must not hold up every
        other request on the event loop."""
        return await asyncio.to_thread(self._output, input, tools)

    def _output(self, input: str | list[TResponseInputItem], tools: list[Tool]) -> OutputItem:
        step = next_step(input, self._today())
        if isinstance(step, ToolRequest):
            name = _resolve_tool_name(step.name, tools)
            if name is not None:
                return function_call_item(name, step.arguments)
            step = Reply(
                f"I can't reach the task tools right now (`{step.name}` is not available),"
                " so I couldn't do that. Please try again in a moment."
            )
        return message_item(step.text)

    async def get_response(
        self,
        system_instructions: str | None,
        input: str | list[TResponseInputItem],
        model_settings: ModelSettings,
        tools: list[Tool],
        output_schema: AgentOutputSchemaBase | None,
        handoffs: list[Handoff],
        tracing: ModelTracing,
        *,
        previous_response_id: str | None,
        conversation_id: str | None,
        prompt: ResponsePromptParam | None,
    ) -> ModelResponse:
        """Parse the turn so far and return one tool call or one reply."""
        output = await self._parsed(input, tools)
        return ModelResponse(
            output=[output], usage=Usage(requests=1), response_id=f"resp_{uuid.uuid4().hex}"
        )

    async def stream_response(
        self,
        system_instructions: str | None,
        input: str | list[TResponseInputItem],
        model_settings: ModelSettings,
        tools: list[Tool],
        output_schema: AgentOutputSchemaBase | None,
        handoffs: list[Handoff],
        tracing: ModelTracing,
        *,
        previous_response_id: str | None,
        conversation_id: str | None,
        prompt: ResponsePromptParam | None,
    ) -> AsyncIterator[TResponseStreamEvent]:
        """The same step as `get_response`, as Responses API stream events (text word by word)."""
        output = await self._parsed(input, tools)
        for event in response_events(output, f"resp_{uuid.uuid4().hex}", MODEL_NAME):
            yield event
            # Let the consumer render each delta before the next one arrives.
            await asyncio.sleep(0)
