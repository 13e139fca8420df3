"""Complete, reopen or delete one task: "mark task 3 done", "I've sent the invoice",
"the flights aren't booked after all", "scrap the meeting task". A past tense is news of a
task being done only when it says so ("task 3 started" is not).
"""

from __future__ import annotations

import re

from taskpilot.agent.offline.commands import Command, Intent
from taskpilot.agent.offline.references import REF, named_task
from taskpilot.agent.offline.words import PAST_VERB, base_form

_FLAGS = re.IGNORECASE

_REOPEN_RULES = tuple(
    re.compile(pattern, _FLAGS)
    for pattern in (
        r"^(?:reopen|re-open|un-?complete|unfinish|undo|restore|unmark|uncheck|untick)\s+"
        r"(?P<ref>.+)$",
        r"^(?:mark|set|make|put)\s+" + REF + r"\s+(?:as\s+|back\s+(?:to|as)\s+)?(?:not\s+done|"
        r"not\s+complete(?:d)?|not\s+finished|incomplete|undone|pending|open|unfinished|to\s*do)$",
        r"^" + REF + r"\s+(?:is|isn'?t)\s+(?:not\s+)?(?:done|finished|complete(?:d)?)\s+yet$",
        r"^" + REF + r"\s+is\s+(?:not\s+done|not\s+finished|not\s+complete(?:d)?|incomplete)$",
        r"^" + REF + r"\s?[:-]{1,3}\s?not\s+(?:done|finished|complete(?:d)?)(?:\s+yet)?$",
        # "the flights aren't booked after all", "I didn't book the flights after all",
        # "the flights still need booking".
        r"^" + REF + r"\s+(?:isn'?t|aren'?t|is\s+not|are\s+not|wasn'?t|weren'?t)\s+"
        r"(?:actually\s+|really\s+)?(?P<verb>" + PAST_VERB + r"|done|finished)"
        r"(?:\s+(?:after\s+all|yet|any\s?more))?$",
        r"^i\s+(?:didn'?t|did\s+not|haven'?t|have\s+not|never)\s+(?:actually\s+|really\s+)?"
        r"(?P<verb>[a-z]+)\s+(?P<ref>.+?)(?:\s+(?:after\s+all|yet))?$",
        r"^(?:turns\s+out\s+)?" + REF + r"\s+still\s+needs?\s+(?:\w+ing|doing|to\s+be\s+done)$",
        r"^" + REF + r"\s+needs?\s+(?:doing|to\s+be\s+done)\s+again$",
        r"^(?:put|add|move)\s+" + REF + r"\s+back\s+(?:on|onto|in)(?:to)?\s+(?:my|the)\s+"
        r"(?:to-?do\s+|task\s+)?list$",
        r"^" + REF + r"\s+(?:is|'s|are)\s+(?:still\s+(?:to\s+do|open|pending|not\s+done)|"
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
        r"^(?:mark|set|check|tick|cross)\s+(?:off\s+)?" + REF + r"\s+(?:as\s+)?(?:complete|"
        r"completed|done|finished|checked(?:\s+off)?|off)$",
        r"^(?:complete|completed|finish|finished|close|check\s+off|tick\s+off|cross\s+off|"
        r"done|did)\s+(?:with\s+)?(?P<ref>.+)$",
        r"^i(?:'ve|\s+have|'m|\s+am)?\s+(?:just\s+|already\s+)?(?:finished|completed|done|did)\s+"
        r"(?:with\s+)?(?P<ref>.+)$",
        r"^" + REF + r"\s+(?:is|are)\s+(?:now\s+|all\s+)?(?:done|complete(?:d)?|finished)$",
        r"^(?:checked|ticked|crossed)\s+off\s+(?P<ref>.+)$",
        r"^" + REF + r"\s?[:-]{1,3}\s?(?:done|finished|complete(?:d)?|sorted|dealt with)$",
        # Done said as a state: "I've sent the invoice", "groceries are bought",
        # "passport renewed", "finally wrote the report".
        r"^(?:i(?:'ve|\s+have)?\s+)?(?:just\s+|already\s+|finally\s+)*(?P<verb>"
        + PAST_VERB
        + r")\s+(?P<ref>(?!off\b|up\b|to\b|with\b|for\b|on\b|in\b|at\b|by\b|any|some|every|no\b)"
        r".+?)" + _WHEN_DONE + r"$",
        _NOT_A_REQUEST + REF + r"\s+(?:is|are|'s|has\s+been|have\s+been|got|was|were)\s+"
        r"(?:now\s+|finally\s+|all\s+)?(?P<verb>" + PAST_VERB + r")" + _WHEN_DONE + r"$",
        # ("mom called" is news of mom, not of calling her.)
        _NOT_A_REQUEST + REF + r"\s+(?P<verb>(?!(?:called|rang|phoned|texted|emailed|messaged|"
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
_TAKE_OFF = re.compile(
    r"^take\s+(?P<ref>.+?)\s+off\s+(?:my|the)\s+(?:to-?do\s+|task\s+)?list\b", _FLAGS
)

_BULK_REF = re.compile(
    r"^(?:all|every|everything|each|my tasks|all my|the whole|"
    r"(?:the\s+|my\s+)?(?:completed|done|finished|old)\s+(?:tasks|ones|items|todos))\b",
    _FLAGS,
)

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


def parse_task_action(text: str) -> Command | None:
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
                if (task := named_task(ref)) is None:
                    continue
                task_id, target, back = task
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
