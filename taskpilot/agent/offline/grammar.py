"""The grammar: one user message becomes a `Command` (`parse_command`).

The message loses its polite filler first; then each kind of sentence (a greeting, thanks or
help, a bare task number, a list question, an update, complete / reopen / delete, an add) is
tried in that order by its rules, regexes tried in turn. A task is named by number or by
words (`_reference`); what a message says about a task is read by `attributes`, and a list
question's dates by `dates`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from taskpilot.agent.offline.attributes import PRIORITY_WORDS, extract_attributes, split_tags
from taskpilot.agent.offline.commands import DESTRUCTIVE, TASK_ACTIONS, Command, Intent
from taskpilot.agent.offline.corrections import apply_self_correction
from taskpilot.agent.offline.dates import DUE_CONNECTOR, list_due_range
from taskpilot.agent.offline.matching import content_words
from taskpilot.agent.offline.spelling import correct_command_words, correct_known_words
from taskpilot.agent.offline.words import PAST_VERB, base_form
from taskpilot.services.dates import (
    AMOUNT_OF_TIME,
    DUE_PATTERN,
    NUMBER_WORDS,
    WEEKDAYS,
    DateParseError,
    days_in,
    parse_due,
)

_FLAGS = re.IGNORECASE

_LEADING_FILLER = re.compile(
    r"^(?:(?:please|pls|plz|kindly|ok(?:ay)?|so|hey|hi|hello|yo|taskpilot|now|and|also|then|"
    r"just|actually|oops|oh|um+|hmm+|uh|er+m?|well|right|no wait|wait|sorry|nah|ugh|"
    r"can you|could you|would you(?: mind)?|will you|can u|could u|"
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
    r"nothing(?: else)?|stop|that'?s all|neither(?: of them| one)?|none(?: of them| of those)?|"
    r"leave (?:it|them)|don'?t|(?:let'?s\s+)?drop (?:it|that)|forget (?:about )?(?:it|that|this)|"
    r"forget this)$",
    _FLAGS,
)
_HELP = re.compile(
    r"^(?:help|\?+|commands|usage|what can you do|what do you do|how does (?:this|it) work|"
    r"how do i use (?:this|you)|who are you|what are you|what can i (?:say|do|ask))\b",
    _FLAGS,
)

_NUMBER = r"(?:\d{1,9}|" + "|".join(NUMBER_WORDS) + r")"
_NUMBERED_REF = re.compile(
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

_ADD_VERB = re.compile(
    r"^(?:add|create|new|jot down|note down|write down|put down|schedule|"
    r"(?:put|stick|pop|throw|chuck)(?=.*\b(?:on|onto|in)\s+(?:my|the)\s+(?:to-?do\s+|task\s+)?"
    r"list\b)|"
    r"(?:make|set up|set)(?=\s+(?:a|an|another|new|me)?\s*(?:task|todo|to-do|reminder)))"
    r"\b[\s:,-]*(?P<rest>.*)$",
    _FLAGS,
)
# Always a new task: "remind me to ...", "todo: ...".
_REMIND_PHRASE = re.compile(
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
_NEED_PHRASE = re.compile(
    r"^(?:i (?:really )?(?:need|have|want|must|should|ought) to|i'?d like to|i would like to|"
    r"i'?ve got to|i got to|i gotta|i (?:really )?must|i (?:really )?should|must|should(?!\s+i\b)|"
    r"need to|have to|gotta)(?: really)?\s+(?P<rest>.+)$",
    _FLAGS,
)
_COMMAND_VERB = re.compile(
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

_REF = r"(?P<ref>.+?)"
_QUOTED = r"[\"“‘'](?P<value>.+)[\"”’']"
_FIELD = r"(?P<field>priority|due\s*date|deadline|due|title|name|description|notes?|tags?|labels?)"

_UPDATE_RULES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern, _FLAGS), kind)
    for pattern, kind in (
        # A due date moved by an amount from its own: "push the bill back by a week",
        # "bring task 3 forward 2 days".
        (
            r"^(?P<verb>push|move|bump|shift|delay|postpone|put\s+off|bring|pull)\s+"
            + _REF
            + r"\s+(?P<way>back|forward|ahead|out|up|on)?\s*(?:by\s+)?(?P<value>"
            + AMOUNT_OF_TIME
            + r")$",
            "shift",
        ),
        # Notes: "add a note to the invoice: ...", "note on task 2: ...", "add a note: ..." (on
        # the task just talked about), "groceries note: ...", "for the passport, note that ...".
        (
            r"^(?:(?:add|put|leave|stick)\s+(?:a\s+)?notes?|notes?|jot\s+down|(?:add|put)\s+(?:some\s+)?"
            r"(?:details|info|a\s+description))\s+(?:to|on|for)\s+(?!self\b)(?P<ref>[^:]+?)"
            r"\s*(?::|\s-|,)\s*(?P<value>.+)$",
            "note",
        ),
        (r"^(?:add\s+(?:a\s+)?notes?|notes?)\s*[:,-]\s*(?P<value>.+)$", "note"),
        (
            r"^(?:for|on)\s+(?P<ref>[^,:]+?)\s*[,:]?\s+(?:(?:add|put|leave)\s+a\s+)?note\s*(?:that|:)?\s*"
            r"(?P<value>.+)$",
            "note",
        ),
        (r"^remember\s+for\s+(?P<ref>[^:]+?)\s*:\s*(?P<value>.+)$", "note"),
        (r"^(?P<ref>[^:]+?)\s*:\s*(?:add\s+a\s+)?note\s+(?:that\s+)?(?P<value>.+)$", "note"),
        (
            r"^(?:attach|add|put|leave)\s+a\s+note\s+(?:to|on)\s+(?P<ref>.+?)\s+(?:saying|that\s+says)\s+"
            r"(?P<value>.+)$",
            "note",
        ),
        (r"^on\s+(?P<ref>.+?)\s+(?:write|put|add|note)\s+(?P<value>.+)$", "note"),
        # "the report needs the q3 figures, add that as a note".
        (
            # (The ending is checked first, so a long message without it costs one pass.)
            r"^(?=.*\s(?:add|put|save|stick)\s+(?:that|this|it)\s+(?:as|in|to)\s+(?:a\s+|the\s+)?"
            r"notes?$)(?P<ref>[^,]+?)\s+(?P<value>(?:needs?|has|requires?|is\s+waiting\s+on)\s+"
            r"[^,]+?)\s?[,-]?\s(?:add|put|save|stick)\s+(?:that|this|it)\s+(?:as|in|to)\s+"
            r"(?:a\s+|the\s+)?notes?$",
            "note",
        ),
        (
            r"^for\s+(?P<ref>[^,]+?)\s*,\s*(?P<value>.+?)\s*(?:[-,]|\s)\s*(?:put|add|save|stick)\s+"
            r"(?:that|this|it)\s+(?:in|as|to)\s+(?:the\s+|a\s+)?notes?$",
            "note",
        ),
        (
            r"^(?:jot|note|write)(?:\s+down)?\s+(?:on|for)\s+(?P<ref>.+?)\s+that\s+(?P<value>.+)$",
            "note",
        ),
        (
            r"^(?!(?:add|create|new|put|remind|todo|to-?do|schedule)\b)(?P<ref>[^:]+?)\s+notes?\s*:"
            r"\s*(?P<value>.+)$",
            "note",
        ),
        # Priority said as a state: "task 5 is urgent", "the passport can wait", "the
        # groceries aren't important", "bump the report to high priority".
        (
            r"^" + _REF + r"\s+(?:is|are|'s)\s+"
            r"(?:(?:very|super|really|now|so|quite|pretty|extremely|actually)\s+)*(?:urgent|important|critical|crucial|vital|essential|pressing|a\s+must|"
            r"top\s+priority|high\s+priority|a\s+priority)(?:\s+now)?$",
            "high",
        ),
        (
            r"^" + _REF + r"\s+(?:can\s+wait|(?:is|are)\s+not\s+(?:that\s+|so\s+|very\s+)?"
            r"(?:urgent|important|pressing)|(?:isn'?t|aren'?t)\s+(?:that\s+|so\s+|very\s+)?"
            r"(?:urgent|important|pressing)|(?:is|are)\s+low\s+priority|(?:isn'?t|is\s+not|aren'?t)\s+"
            r"(?:a\s+|that\s+(?:big\s+)?(?:a\s+)?)?(?:big\s+deal|priority))(?:\s+any\s?more)?(?:\s+tbh)?$",
            "low",
        ),
        (
            r"^" + _REF + r"\s+can\s+wait\s+(?:until|till|for|to)\s+(?P<value>.+)$",
            "due",
        ),
        (
            r"^(?:bump|raise|move|push|put|lower|drop|set)\s+"
            + _REF
            + r"\s+(?:back\s+|up\s+|down\s+)?"
            r"(?:to|as)\s+(?:an?\s+)?(?P<value>high|top|medium|normal|low|urgent)"
            r"[\s-]*prio(?:rity)?$",
            "priority",
        ),
        (r"^(?:lower|reduce|drop)\s+(?:the\s+)?priority\s+(?:of|on|for)\s+(?P<ref>.+)$", "low"),
        (r"^(?:raise|increase|bump)\s+(?:the\s+)?priority\s+(?:of|on|for)\s+(?P<ref>.+)$", "high"),
        (r"^(?:deprioriti[sz]e)\s+(?P<ref>.+)$", "low"),
        # "it's for saturday", "it's needed by saturday", "the bill is on the 10th", "the
        # meeting is a week from today", "the prep needs to happen by tuesday".
        (
            r"^" + _REF + r"\s+(?:is|'s)\s+(?:needed\s+|wanted\s+|due\s+|happening\s+)?"
            r"(?:(?:for|on|by)\s+)?(?P<value>.+)$",
            "due_if_date",
        ),
        (
            r"^" + _REF + r"\s+(?:needs?\s+(?:doing|to\s+happen|to\s+be\s+done|to\s+be\s+finished|"
            r"to\s+be\s+ready)|"
            r"has\s+to\s+be\s+(?:done|finished|ready)|should\s+be\s+(?:done|finished|ready))"
            r"(?:\s+(?:by|on|before|for))?\s+(?P<value>.+)$",
            "due_if_date",
        ),
        (
            r"^(?:set|schedule|plan|put|make|change|move)\s+" + _REF + r"(?:'s)?"
            r"(?:\s+(?:due\s*date|deadline|date))?\s+(?:for|on|to)\s+"
            r"(?P<value>[^'\"“‘].*?)(?:\s+instead)?$",
            "due_if_date",
        ),
        (
            r"^(?:make|change|move)\s+(?P<ref>it|that|this)\s+(?P<value>[^'\"“‘].*?)"
            r"(?:\s+instead)?$",
            "due_if_date",
        ),
        # "tag that one home": the task just talked about gets a tag.
        (
            r"^(?:tag|label)\s+(?P<ref>it|that(?:\s+one)?|this(?:\s+one)?)\s+(?:with\s+|as\s+)?"
            r"(?P<value>#?[a-z][\w-]*)$",
            "tags",
        ),
        (r"^(?:lower|deprioriti[sz]e|downgrade)\s+(?P<ref>.+)$", "low"),
        (
            r"^give\s+(?P<ref>.+?)\s+(?:the\s+)?(?:lowest|low|least)\s+(?:importance|priority)$",
            "low",
        ),
        (
            r"^give\s+(?P<ref>.+?)\s+(?:the\s+)?(?:highest|high|top|most)\s+(?:importance|priority)$",
            "high",
        ),
        (r"^(?:raise|upgrade)\s+(?P<ref>.+)$", "high"),
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
        (r"^(?:tag|label)\s+" + _REF + r"\s+(?P<value>#\S+(?:\s+#\S+)*)$", "tags"),
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
            r"^(?:make|mark|set|flag)\s+" + _REF + r"\s+(?:as\s+|to\s+)?(?:an?\s+)?"
            r"(?P<value>high|top|medium|normal|low|urgent|important|critical)"
            r"(?:[\s-]*prio(?:rity)?)?$",
            "priority",
        ),
        (
            r"^(?:move|reschedule|push(?:\s+back)?|postpone|delay|defer|bump|shift)\s+"
            + _REF
            + r"\s+(?:back\s+)?(?:to|until|till|for|by)\s+(?P<value>.+)$",
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
        r"^(?:reopen|re-open|un-?complete|unfinish|undo|restore|unmark|uncheck|untick)\s+"
        r"(?P<ref>.+)$",
        r"^(?:mark|set|make|put)\s+" + _REF + r"\s+(?:as\s+|back\s+(?:to|as)\s+)?(?:not\s+done|"
        r"not\s+complete(?:d)?|not\s+finished|incomplete|undone|pending|open|unfinished|to\s*do)$",
        r"^" + _REF + r"\s+(?:is|isn'?t)\s+(?:not\s+)?(?:done|finished|complete(?:d)?)\s+yet$",
        r"^" + _REF + r"\s+is\s+(?:not\s+done|not\s+finished|not\s+complete(?:d)?|incomplete)$",
        r"^" + _REF + r"\s?[:-]{1,3}\s?not\s+(?:done|finished|complete(?:d)?)(?:\s+yet)?$",
        # "the flights aren't booked after all", "I didn't book the flights after all",
        # "the flights still need booking".
        r"^" + _REF + r"\s+(?:isn'?t|aren'?t|is\s+not|are\s+not|wasn'?t|weren'?t)\s+"
        r"(?:actually\s+|really\s+)?(?P<verb>" + PAST_VERB + r"|done|finished)"
        r"(?:\s+(?:after\s+all|yet|any\s?more))?$",
        r"^i\s+(?:didn'?t|did\s+not|haven'?t|have\s+not|never)\s+(?:actually\s+|really\s+)?"
        r"(?P<verb>[a-z]+)\s+(?P<ref>.+?)(?:\s+(?:after\s+all|yet))?$",
        r"^(?:turns\s+out\s+)?" + _REF + r"\s+still\s+needs?\s+(?:\w+ing|doing|to\s+be\s+done)$",
        r"^" + _REF + r"\s+needs?\s+(?:doing|to\s+be\s+done)\s+again$",
        r"^(?:put|add|move)\s+" + _REF + r"\s+back\s+(?:on|onto|in)(?:to)?\s+(?:my|the)\s+"
        r"(?:to-?do\s+|task\s+)?list$",
        r"^" + _REF + r"\s+(?:is|'s|are)\s+(?:still\s+(?:to\s+do|open|pending|not\s+done)|"
        r"not\s+(?:done|finished)\s+any\s?more)$",
    )
)
# News about a task ("passport renewed") never starts with a request's verb ("add ... ").
_NOT_A_REQUEST = (
    r"^(?!(?:add|create|new|put|remind|todo|to-?do|schedule|note|jot|write|delete|remove|scrap|"
    r"drop|cancel|forget|bin|ditch|complete|finish|mark|move|set|change|update|rename)\b)"
)
# When it was done, said after the fact: "yesterday", "last week actually".
_WHEN_DONE = (
    r"(?:\s+(?:yesterday|earlier|today|this\s+morning|last\s+(?:night|week)|the\s+other\s+day|"
    r"already|at\s+last|finally|actually))*"
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
        r"^(?:checked|ticked|crossed)\s+off\s+(?P<ref>.+)$",
        r"^" + _REF + r"\s?[:-]{1,3}\s?(?:done|finished|complete(?:d)?|sorted|dealt with)$",
        # Done said as a state: "I've sent the invoice", "groceries are bought",
        # "passport renewed", "finally wrote the report".
        r"^(?:i(?:'ve|\s+have)?\s+)?(?:just\s+|already\s+|finally\s+)*(?P<verb>"
        + PAST_VERB
        + r")\s+(?P<ref>(?!off\b|up\b|to\b|with\b|for\b|on\b|in\b|at\b|by\b|any|some|every|no\b)"
        r".+?)" + _WHEN_DONE + r"$",
        _NOT_A_REQUEST + _REF + r"\s+(?:is|are|'s|has\s+been|have\s+been|got|was|were)\s+"
        r"(?:now\s+|finally\s+|all\s+)?(?P<verb>" + PAST_VERB + r")" + _WHEN_DONE + r"$",
        # ("mom called" is news of mom, not of calling her.)
        _NOT_A_REQUEST + _REF + r"\s+(?P<verb>(?!(?:called|rang|phoned|texted|emailed|messaged|"
        r"wrote|replied|answered|visited|came|arrived|left)\b)" + PAST_VERB + r")$",
    )
)
_DELETE_RULE = re.compile(
    r"^(?:delete|remove|erase|drop|trash|discard|cancel|scrap|bin|ditch|nix|axe|get\s+rid\s+of|"
    r"forget(?:\s+about)?|clear)\s+"
    r"(?P<ref>(?!to\b|(?:the\s+|its\s+|that\s+)?(?:due\s*date|date|deadline|tags?|labels?|notes?|"
    r"description|details|priority|reminder)\b).+)$",
    _FLAGS,
)
_REF_SUFFIX = re.compile(
    r"\s+(?:from|off|on|in)\s+(?:my|the)\s+(?:to-?do\s+|task\s+)?list(?:\s+entirely|"
    r"\s+completely|\s+for\s+good)?$|\s+(?:please|now|entirely|completely|for\s+good)$",
    _FLAGS,
)
_TAKE_OFF = re.compile(
    r"^take\s+(?P<ref>.+?)\s+off\s+(?:my|the)\s+(?:to-?do\s+|task\s+)?list\b", _FLAGS
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
# "it", "that one", "the task I just added": the task the conversation just talked about.
_BACK_REFERENCE = re.compile(
    r"^(?:it|that|this|that one|this one|that task|this task|the task|the last one|"
    r"the one (?:i|you) just (?:added|made|created|changed|mentioned|listed)|"
    r"the (?:task|one) (?:i|you) just (?:added|made|created|changed|mentioned|listed))$",
    _FLAGS,
)
# "set up a task to ...", "make a note ..." create something; they do not name a task.
_NOT_A_REF = re.compile(
    r"^(?:up|a|an|another|new|me|us|what|which|who|anything|something|nothing)\b", _FLAGS
)


# "it's due friday" reads as "it is due friday" (only at the start: a title keeps its words).
_OPENING_CONTRACTION = re.compile(r"^((?:\S+\s+){0,2}?(?:it|that|this))'?s\b", _FLAGS)


# A closing smiley after the words: "paid :)", "done 🎉" (an emoji title stays one).
_EMOTICON = re.compile(
    r"(?:\s+[:;=]-?[()DPp]{1,3}|\s+[\U0001F300-\U0001FAFF\u2600-\u27BF]{1,3})\s*$"
)
# "the bill's paid": "the bill is paid".
_STATE_CONTRACTION = re.compile(r"(\w)'s\s+(?=(?:been\s+)?" + PAST_VERB + r"\b)", _FLAGS)


def _normalize(text: str) -> str:
    """One line, straight quotes, no polite filler around the command."""
    text = text.replace("’", "'").replace("‘", "'").replace("`", "'")
    text = " ".join(text.split())
    text = _EMOTICON.sub("", text)
    text = _OPENING_CONTRACTION.sub(r"\1 is", text)
    text = _STATE_CONTRACTION.sub(r"\1 is ", text)
    previous = None
    while previous != text:
        previous = text
        text = _LEADING_FILLER.sub("", text)
        # Trailing punctuation goes in one linear pass; the regex takes the filler words.
        text = _TRAILING_FILLER.sub("", text.rstrip(" .!?")).strip()
    return text


def _number(text: str) -> int | None:
    value = text.lower()
    return int(value) if value.isdigit() else NUMBER_WORDS.get(value)


def _reference(text: str) -> tuple[int | None, str | None]:
    """A task named by number ("task 3", "#3", "3") or by words ("the meeting task")."""
    ref = _REF_SUFFIX.sub("", text.strip(" \t,.;:!?\"'“”"))
    if match := _NUMBERED_REF.match(ref):
        return _number(match.group("n") or match.group("w")), None
    if (match := _NUMBERED_AND_MORE.match(ref)) and not content_words(match.group("rest")):
        return int(match.group("n")), None
    words = _REF_NOUN_SUFFIX.sub("", _REF_NOUN_PREFIX.sub("", ref, count=1))
    words = words.strip(" \t,.;:!?\"'“”")
    if not words or _PRONOUN.match(words) or _POSITION.match(words) or _POSITION.match(ref):
        return None, None
    return None, words


_DONE_WORDS = ("done", "finished", "complete", "completed", "sorted", "handled")
# Past forms that say something happened to a task, but not that it is done.
_NOT_DONE = re.compile(
    r"^(?:un\w+|started|blocked|delayed|postponed|failed|skipped|missed|added|deleted|removed|"
    r"scheduled|rescheduled|needed|planned|assigned|paused|stalled|moved|changed|updated|"
    r"created|reopened|forgotten|forgot|lost|cancelled|canceled|booked\s+in|stuck|dropped|"
    r"postponed|pushed|delegated|overdue|renamed|tagged|noted|listed|asked|wanted|hoped|"
    r"tried|attempted|considered|mentioned|discussed|expected)$",
    _FLAGS,
)
_BARE_LEVELS = ("high", "medium", "normal", "low", "urgent", "top")
# "change X to ..." renames X, unless what follows reads as more than a title: a priority
# level, or a second clause ("to high, hmm, actually medium is fine").
_NOT_A_TITLE = re.compile(
    r"^(?:high|medium|normal|low|urgent|top)\b|,|\b(?:actually|sorry|i\s+mean|no\s+wait)\b", _FLAGS
)


def _refers_back(text: str) -> bool:
    """True when a reference is "it" / "that one": the task just talked about."""
    ref = _REF_SUFFIX.sub("", text.strip(" \t,.;:!?\"'“”"))
    return bool(_BACK_REFERENCE.match(ref))


def _unquote(text: str) -> str:
    text = text.strip()
    if len(text) >= 2 and text[0] in "\"'“‘" and text[-1] in "\"'”’":
        text = text[1:-1]
    return text.strip()


def _capitalize(text: str) -> str:
    return text[:1].upper() + text[1:]


def _parse_add(rest: str, today: date) -> Command:
    rest = _ADD_TO_LIST_PREFIX.sub("", _ADD_NOUN.sub("", rest.strip(), count=1))
    rest = _ADD_TO_LIST_SUFFIX.sub("", rest)
    quoted = re.match(r"^[\"“'‘](?P<title>.+?)[\"”'’](?P<rest>(?:\s.*)?)$", rest)
    try:
        if quoted:
            title = quoted.group("title").strip()
            _, arguments = extract_attributes(quoted.group("rest"), today)
        else:
            title, arguments = extract_attributes(rest, today)
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
        priority = PRIORITY_WORDS.get(" ".join(value.lower().split()).removesuffix(" priority"))
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
        tags = split_tags(value)
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
        named = match.groupdict().get("ref") or ""
        if re.search(r"[:,;]", named) or _NOT_A_REF.match(named):
            continue
        ref = match.groupdict().get("ref") or "it"
        task_id, target = _reference(ref)
        back = task_id is None and target is None and _refers_back(ref)
        if task_id is None and target is None and not back:
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
        elif kind in ("high", "low"):
            changes = {"priority": kind}
        elif kind == "shift":
            earlier = match.group("verb").lower() in ("bring", "pull") or (
                (match.group("way") or "").lower() in ("forward", "ahead", "up")
            )
            days = days_in(value) * (-1 if earlier else 1)
            return Command(
                Intent.UPDATE, task_id=task_id, target=target, refers_back=back, shift_days=days
            )
        elif kind == "note":
            changes = {"description": _unquote(value)} if value.strip() else "The note is empty."
        elif kind == "due_if_date":
            try:
                changes = {"due_date": parse_due(value, today).isoformat()}
            except DateParseError:
                continue
        elif kind in ("field", "priority", "due", "tags", "title"):
            field_name = match.groupdict().get("field") or kind
            changes = _field_value(field_name, value, today)
        else:
            # "change task 2 to friday / high priority" changes those; anything else is a title.
            try:
                remainder, attributes = extract_attributes(value, today)
            except DateParseError as exc:
                changes = str(exc)
            else:
                if attributes and not remainder:
                    changes = attributes
                elif (level := value.strip().lower()) in _BARE_LEVELS:
                    changes = {"priority": PRIORITY_WORDS[level]}  # "change X to low"
                elif kind == "to" and not _NOT_A_TITLE.search(value):
                    changes = _field_value("title", value, today)
                else:
                    continue
        if isinstance(changes, str):
            if kind != "remove_tag":
                changes = f"I couldn't update that: {changes}"
            return Command(Intent.CLARIFY, message=changes)
        return Command(
            Intent.UPDATE, task_id=task_id, target=target, arguments=changes, refers_back=back
        )
    return None


def _parse_task_action(text: str) -> Command | None:
    for intent, patterns in (
        (Intent.REOPEN, _REOPEN_RULES),
        (Intent.COMPLETE, _COMPLETE_RULES),
        (Intent.DELETE, (_DELETE_RULE, _TAKE_OFF)),
    ):
        for pattern in patterns:
            if match := pattern.match(text):
                ref = match.group("ref")
                if re.search(r"[,;]|\s[-–—]\s", ref):
                    continue  # a clause more: `parse_command` reads the clauses one by one
                if _BULK_REF.match(ref):
                    return Command(
                        Intent.CLARIFY,
                        message="I can change one task at a time. Name it by number, for"
                        " example: **delete task 3**.",
                    )
                task_id, target = _reference(ref)
                back = task_id is None and target is None and _refers_back(ref)
                if task_id is None and target is None and not back:
                    continue
                verb = (match.groupdict().get("verb") or "").lower()
                if (
                    verb
                    and verb not in _DONE_WORDS
                    and (task_id is not None or _NOT_DONE.match(verb))
                ):
                    continue  # "task 3 started", "task 3 is blocked": no news of it being done
                if target is not None and verb and verb not in _DONE_WORDS:
                    target = f"{base_form(verb)} {target}"  # "sent the invoice": "send invoice"
                arguments = {"completed": False} if intent is Intent.REOPEN else {}
                return Command(
                    intent, task_id=task_id, target=target, arguments=arguments, refers_back=back
                )
    return None


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


def _parse_list(text: str, today: date) -> Command:
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
        query = _reference(DUE_CONNECTOR.sub("", asked))[1]
        if query and not _NUMBERED_REF.match(query):
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


def _parse_question(text: str, today: date) -> Command | None:
    """A question about tasks that names none of the usual words; None for other questions
    ("what's the weather like?" stays not understood)."""
    if _NEXT_QUESTION.match(text):
        return _parse_list(text + " pending", today)
    if match := _ANY_QUESTION.match(text):
        return Command(Intent.LIST, arguments={"status": "all", "search": match.group("q")})
    if _ABOUT_QUESTION.match(text) or (_QUESTION_START.match(text) and DUE_PATTERN.search(text)):
        command = _parse_list(text, today)
        if command.intent is Intent.LIST and len(command.arguments) > 1:
            return command  # it found a filter: a tag, a search, a date
    return None


_EDIT_VERB = re.compile(r"^(?:update|change|edit|modify|rename|retitle)\b", _FLAGS)
_EDIT_HELP = (
    "I couldn't tell which task to change, or how. Name the task and the change, for example:"
    " **rename task 2 to Call mom**, **set task 2 priority to high** or **move task 2 to"
    " friday**."
)


def parse_command(text: str, today: date) -> Command:
    """Parse one user message into a `Command`; relative dates resolve against `today`.

    Misspelled date and priority words and corrections made mid-sentence are fixed first
    (`spelling`, `corrections`); a misspelled command word only when the message as typed is
    not understood.
    """
    # One line, single spaces, first: every rule below then sees runs of at most one space
    # (a hostile run of 4,000 spaces would otherwise cost the regexes quadratic time).
    text = " ".join(text.split())
    question = _STATE_QUESTION.search(text) is not None
    text = apply_self_correction(correct_known_words(text), today)
    command, understood, guessed = _parse_spelled(text, today)
    if not understood and (by_clauses := _by_clauses(text, today)) is not None:
        command, guessed = by_clauses[0], True  # a reading of one clause of several
    if command.intent not in DESTRUCTIVE:
        return command
    if question:  # "did I pay rent?", "is the report done?": show it, change nothing
        words = content_words(command.target or "")
        search = {"search": words[-1]} if words else {}  # the thing asked about: "rent"
        return Command(Intent.LIST, arguments={"status": "all", **search})
    if guessed or _TAKE_BACK.search(text):
        return confirm(command)
    return command


def confirm(command: Command) -> Command:
    """Ask before a delete or completion in any doubt (a misspelled verb, one clause of
    several, a "no" / "not yet" / "if ..." beside it): "Did you mean **delete task 3**?"
    (`yes` answers it)."""
    verb = "delete" if command.intent is Intent.DELETE else "complete"
    if command.task_id is not None:
        task = f"task {command.task_id}"
    else:  # its meaningful words, so that "yes" reads back as a clear request
        task = " ".join(content_words(command.target or "")) or "it"
    return Command(
        Intent.CLARIFY,
        message=f"{CONFIRM}**{verb} {task}**? Say **yes** and I'll do it; otherwise I'll leave"
        " your tasks as they are.",
    )


def _parse_spelled(text: str, today: date) -> tuple[Command, bool, bool]:
    """`_parse`, then again with misspelled command words fixed if it was not understood;
    the third value says the words were corrected (a guess: "delegate" is no "delete")."""
    command, understood = _parse(text, today)
    if not understood:
        fixed = correct_command_words(text)
        if fixed != text:
            again, understood = _parse(fixed, today)
            if understood:
                return again, True, True
    return command, understood, False


# The assistant's question before a doubtful delete or completion; "yes" answers it.
CONFIRM = "Did you mean "
# "yes" to a question we asked: "yep", "sure", "yes please", "go ahead".
YES = re.compile(
    r"^(?:y|yes|yeah|yep|yup|sure|ok(?:ay)?|do it|go ahead|please do|correct|right|that one|"
    r"that'?s right|that'?s the one)(?:,?\s+(?:please|thanks|thank you|do it))?[.! ]*$",
    re.IGNORECASE,
)
# A question about a task's state ("did I pay rent?", "is the report done?"), not a request
# ("can you delete task 3?").
_STATE_QUESTION = re.compile(
    r"^(?:did|is|was|were|has|have|are|does|do)\b|"
    r"^(?!(?:can|could|would|will)\s+(?:you|u)\b|please\b|pls\b).*\?$",
    _FLAGS,
)
# Words that take a request back, or doubt it: a delete or completion beside them is asked.
_TAKE_BACK = re.compile(
    r"\b(?:no|not|never|nope|don'?t|dont|keep|kidding|undo|nevermind|hold\s+on|hang\s+on|"
    r"maybe|perhaps|unless|sorry|oops|meant|mean|instead|rather|wait|scratch|jk|joking|ignore|"
    r"disregard|hold|nah|almost|nearly|mostly|except|ish|kinda|sorta|if|when|once|after|"
    r"\w+n't|dont|didnt|doesnt|isnt|wasnt|arent|werent|havent|hasnt|cant|wont|couldnt|"
    r"shouldnt)\b",
    _FLAGS,
)
_MENTIONS_IT = re.compile(r"\b(?:it|that|this|them)\b", _FLAGS)
# Where a run-on message breaks into clauses: commas, dashes, "..", "!".
_CLAUSE_BREAK = re.compile(
    r"\s?(?:[,;]|\s[-–—]\s|\.{1,3}(?=\s)|!{1,3}|\?(?=\s)|\s(?:so|and\s+then|because|cos)\s)\s?",
    _FLAGS,
)


def _by_clauses(text: str, today: date) -> tuple[Command, bool] | None:
    """A run-on message read clause by clause ("scrap meeting with sam, it got cancelled",
    "don't need the report anymore, wipe it"): the first clause that acts on a task (else
    adds or lists); its "it" is the task another clause names. Also whether that reading is
    doubtful (another clause asks for a different change). None when no clause is
    understood."""
    clauses = [clause for clause in _CLAUSE_BREAK.split(text) if clause.strip()]
    if len(clauses) < 2 or len(clauses) > 6:
        return None
    readings = [(clause, *_parse_spelled(clause, today)[:2]) for clause in clauses]
    understood = [(clause, command) for clause, command, ok in readings if ok]
    for wanted in (TASK_ACTIONS, (Intent.ADD,), (Intent.LIST,)):
        for clause, command in understood:
            if command.intent not in wanted:
                continue
            doubtful = any(
                other.intent in TASK_ACTIONS and other.intent is not command.intent
                for _, other in understood
            )
            if command.refers_back:
                # "it" may be the task another clause names (the model decides, knowing
                # what the conversation was about): "don't need the report anymore, wipe it"
                # (not "i added it by mistake": that clause is about "it" too).
                for other, _, ok in readings:
                    task_id, target = _reference(other)
                    naming = (task_id or target) and not _MENTIONS_IT.search(other)
                    if other is not clause and not ok and naming:
                        return replace(command, task_id=task_id, target=target), doubtful
            return command, doubtful
    return None


def _parse(text: str, today: date) -> tuple[Command, bool]:
    """The command, and False when it is a guess: not understood at all, or a listing only
    because the message mentions tasks."""
    command = _parse_text(text, today)
    if isinstance(command, _Guess):
        return command.command, False
    return command, command.intent is not Intent.UNKNOWN


@dataclass(frozen=True)
class _Guess:
    """A reading the grammar fell back on (a listing because the message mentions tasks)."""

    command: Command


def _parse_text(text: str, today: date) -> Command | _Guess:
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
        found = match.groupdict()
        item = found["rest"] or found["item"] or found["bullet"] or found["flagged"]
        return _parse_add(item, today)
    if match := _NEED_PHRASE.match(bare):
        rest = match.group("rest")
        return _parse_text(rest, today) if _COMMAND_VERB.match(rest) else _parse_add(rest, today)
    if _EDIT_VERB.match(bare):
        # An edit we could not read: say how to phrase it rather than list every task.
        return Command(Intent.CLARIFY, message=_EDIT_HELP)
    if (question := _parse_question(bare, today)) is not None:
        return question
    if _TASK_TALK.search(bare) and re.search(
        r"\b(?:tasks?|todos?|to-?dos?|list|agenda|backlog|overdue)\b", bare, _FLAGS
    ):
        return _Guess(_parse_list(bare, today))
    return Command(Intent.UNKNOWN)
