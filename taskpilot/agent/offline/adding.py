"""A new task: "add buy milk tomorrow", "remind me to call mom", "todo: renew passport",
"I need to book flights"; its title and what else the message says about it (`attributes`).
"""

from __future__ import annotations

import re
from datetime import date

from taskpilot.agent.offline.attributes import extract_attributes
from taskpilot.agent.offline.commands import Command, Intent
from taskpilot.agent.offline.words import capitalize
from taskpilot.services.dates import DateParseError
from taskpilot.services.repeats import RepeatError, read_rrule

_FLAGS = re.IGNORECASE

ADD_VERB = re.compile(
    r"^(?:add|create|new|jot down|note down|write down|put down|schedule|"
    r"(?:put|stick|pop|throw|chuck)(?=.*\b(?:on|onto|in)\s+(?:my|the)\s+(?:to-?do\s+|task\s+)?"
    r"list\b)|"
    r"(?:make|set up|set)(?=\s+(?:a|an|another|new|me)?\s*(?:task|todo|to-do|reminder)))"
    r"\b[\s:,-]*(?P<rest>.*)$",
    _FLAGS,
)
# Always a new task: "remind me to ...", "todo: ...".
REMIND_PHRASE = re.compile(
    r"^(?:remind me|don'?t let me forget|do not let me forget|don'?t forget|do not forget|"
    r"i (?:need|have|must|should|want) to remember|i'?ll need to remember|remember)"
    r"\b(?:\s*[:,-]\s*|\s+(?:to|that|about)\b\s*|\s*)(?P<rest>.+)$"
    r"|^(?:todo|to-?do|to do|note to self|reminder)\s?[:-]{1,3}\s?(?P<item>.+)$"
    # A bullet or an empty checkbox is a to-do item; so is a priority word and a colon.
    r"|^(?:[-*•]|\[\s?\])\s+(?P<bullet>.+)$"
    r"|^(?P<flagged>(?:urgent|important|critical|asap)\s*[:!-]+\s*.+)$",
    _FLAGS,
)
# A new task unless what follows is a command: "I need to call mom" / "I want to see my tasks".
NEED_PHRASE = re.compile(
    r"^(?:i (?:really )?(?:need|have|want|must|should|ought) to|i'?d like to|i would like to|"
    r"i'?ve got to|i got to|i gotta|i (?:really )?must|i (?:really )?should|must|should(?!\s+i\b)|"
    r"need to|have to|gotta)(?: really)?\s+(?P<rest>.+)$",
    _FLAGS,
)
COMMAND_VERB = re.compile(
    r"^(?:add|create|new|delete|remove|complete|mark|reopen|rename|update|change|edit|move|"
    r"reschedule|set|tag|see|show|list|view|find|check)\b",
    _FLAGS,
)
_ADD_NOUN = re.compile(
    r"^(?:(?:a|an|the|new|another|one more|me)\s+)*(?:task|todo|to-do|to do|item|reminder|"
    r"entry|one(?=\s*:))s?\b\s*(?:[:\-–—]+|\bto\b|\bcalled\b|\bnamed\b|\btitled\b|\bthat says\b|"
    r"\bsaying\b)?\s*",
    _FLAGS,
)
_LIST_MENTION = r"(?:my|the|our)\s+(?:to-?do\s+|to\s+do\s+|task\s+)?list"
_ADD_TO_LIST_PREFIX = re.compile(r"^(?:to|on(?:to)?)\s+" + _LIST_MENTION + r"\s*[:,-]?\s*", _FLAGS)
_ADD_TO_LIST_SUFFIX = re.compile(r"\s+(?:to|on(?:to)?)\s+" + _LIST_MENTION + r"\b", _FLAGS)


def parse_add(rest: str, today: date) -> Command:
    rest = _ADD_TO_LIST_PREFIX.sub("", _ADD_NOUN.sub("", rest.strip(), count=1))
    rest = _ADD_TO_LIST_SUFFIX.sub("", rest)
    quoted = re.match(r"^[\"“'‘](?P<title>.+?)[\"”'’](?P<rest>(?:\s.*)?)$", rest)
    try:
        if quoted:
            title = quoted.group("title").strip()
            _, arguments = extract_attributes(quoted.group("rest"), today)
        else:
            title, arguments = extract_attributes(rest, today)
    except (DateParseError, RepeatError) as exc:
        return Command(Intent.CLARIFY, message=f"I couldn't add that: {exc}")
    if "repeat" in arguments and "due_date" not in arguments:
        # Its first date, from our today (the person's), as a date said in words would be.
        rule = read_rrule(arguments["repeat"]).anchored(today)
        arguments["due_date"] = rule.first_on_or_after(today).isoformat()
    title = re.sub(r"^(?:to|that|about)\s+", "", title, flags=_FLAGS).strip()
    if not title:
        return Command(
            Intent.CLARIFY,
            message="What should the task be? For example: **add buy milk tomorrow**.",
        )
    return Command(Intent.ADD, arguments={"title": capitalize(title), **arguments})
