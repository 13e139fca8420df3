"""A change to a task: its priority ("task 5 is urgent"), due date ("move the report to
friday", "push the bill back by a week"), tags, notes, title ("rename task 2 to Call mom") or
repeat ("make task 3 repeat every monday", "stop repeating task 3").
Each rule says which kind of change it reads; `parse_update` turns the kind and the words into
`update_task` arguments, or a message saying why they are not usable.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from taskpilot.agent.offline.attributes import PRIORITY_WORDS, extract_attributes, split_tags
from taskpilot.agent.offline.commands import Command, Intent
from taskpilot.agent.offline.references import REF, named_task
from taskpilot.agent.offline.words import capitalize
from taskpilot.services.dates import AMOUNT_OF_TIME, DateParseError, days_in, parse_due
from taskpilot.services.repeats import RepeatError, read_repeat

_FLAGS = re.IGNORECASE

_QUOTED = r"[\"“‘'](?P<value>.+)[\"”’']"
_FIELD = r"(?P<field>priority|due\s*date|deadline|due|title|name|description|notes?|tags?|labels?)"

_UPDATE_RULES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern, _FLAGS), kind)
    for pattern, kind in (
        # A repeat stopped or set: "stop repeating task 3", "the ferns shouldn't repeat any
        # more", "remove the repeat from task 3"; "make task 3 repeat every monday".
        (r"^(?:stop|quit)\s+repeating\s+(?P<ref>.+)$", "stop_repeat"),
        (r"^(?:don'?t|do\s+not|no\s+longer)\s+repeat\s+(?P<ref>.+)$", "stop_repeat"),
        (r"^stop\s+(?P<ref>.+?)\s+(?:from\s+)?repeating$", "stop_repeat"),
        (
            r"^(?:remove|clear|delete|drop|cancel|turn\s+off|end)\s+(?:the\s+)?"
            r"(?:repeat|recurrence|repetition)\s+(?:from|of|on|for)\s+(?P<ref>.+)$",
            "stop_repeat",
        ),
        (
            r"^" + REF + r"\s+(?:should\s*n'?t|should\s+not|does\s*n'?t|does\s+not|won'?t|"
            r"will\s+not|need\s*n'?t|no\s+longer\s+needs\s+to)\s+repeat(?:\s+any\s?more)?$",
            "stop_repeat",
        ),
        (
            r"^(?:make|set|have|let)\s+" + REF + r"\s+(?:to\s+)?(?:repeat|recur)\s+"
            r"(?P<value>.+)$",
            "repeat",
        ),
        (
            r"^(?:repeat)\s+" + REF + r"\s+(?P<value>(?:every|each|daily|weekly|monthly).*)$",
            "repeat",
        ),
        (
            r"^" + REF + r"\s+(?:repeats|recurs|should\s+repeat|needs\s+doing|happens)\s+"
            r"(?P<value>(?:every|each|daily|weekly|fortnightly|monthly|yearly|annually|on\s+).*)$",
            "repeat",
        ),
        # A due date moved by an amount from its own: "push the bill back by a week",
        # "bring task 3 forward 2 days".
        (
            r"^(?P<verb>push|move|bump|shift|delay|postpone|put\s+off|bring|pull)\s+"
            + REF
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
            r"^" + REF + r"\s+(?:is|are|'s)\s+"
            r"(?:(?:very|super|really|now|so|quite|pretty|extremely|actually)\s+)*(?:urgent|important|critical|crucial|vital|essential|pressing|a\s+must|"
            r"top\s+priority|high\s+priority|a\s+priority)(?:\s+now)?$",
            "high",
        ),
        (
            r"^" + REF + r"\s+(?:can\s+wait|(?:is|are)\s+not\s+(?:that\s+|so\s+|very\s+)?"
            r"(?:urgent|important|pressing)|(?:isn'?t|aren'?t)\s+(?:that\s+|so\s+|very\s+)?"
            r"(?:urgent|important|pressing)|(?:is|are)\s+low\s+priority|(?:isn'?t|is\s+not|aren'?t)\s+"
            r"(?:a\s+|that\s+(?:big\s+)?(?:a\s+)?)?(?:big\s+deal|priority))(?:\s+any\s?more)?(?:\s+tbh)?$",
            "low",
        ),
        (
            r"^" + REF + r"\s+can\s+wait\s+(?:until|till|for|to)\s+(?P<value>.+)$",
            "due",
        ),
        (
            r"^(?:bump|raise|move|push|put|lower|drop|set)\s+"
            + REF
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
            r"^" + REF + r"\s+(?:is|'s)\s+(?:needed\s+|wanted\s+|due\s+|happening\s+)?"
            r"(?:(?:for|on|by)\s+)?(?P<value>.+)$",
            "due_if_date",
        ),
        (
            r"^" + REF + r"\s+(?:needs?\s+(?:doing|to\s+happen|to\s+be\s+done|to\s+be\s+finished|"
            r"to\s+be\s+ready)|"
            r"has\s+to\s+be\s+(?:done|finished|ready)|should\s+be\s+(?:done|finished|ready))"
            r"(?:\s+(?:by|on|before|for))?\s+(?P<value>.+)$",
            "due_if_date",
        ),
        (
            r"^(?:set|schedule|plan|put|make|change|move)\s+" + REF + r"(?:'s)?"
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
            r"^(?:tag|label)\s+" + REF + r"\s+(?:with|as)\s+(?P<value>.+)$",
            "tags",
        ),
        (r"^(?:tag|label)\s+" + REF + r"\s+(?P<value>#\S+(?:\s+#\S+)*)$", "tags"),
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
            r"^(?:set|change|update|make|edit)\s+" + REF + r"(?:'s)?\s+" + _FIELD + r"\s*"
            r"(?:to|as|=|:)?\s+(?P<value>.+)$",
            "field",
        ),
        (r"^(?:prioriti[sz]e)\s+(?P<ref>.+)$", "prioritize"),
        (
            r"^(?:make|mark|set|flag)\s+" + REF + r"\s+(?:as\s+|to\s+)?(?:an?\s+)?"
            r"(?P<value>high|top|medium|normal|low|urgent|important|critical)"
            r"(?:[\s-]*prio(?:rity)?)?$",
            "priority",
        ),
        (
            r"^(?:move|reschedule|push(?:\s+back)?|postpone|delay|defer|bump|shift)\s+"
            + REF
            + r"\s+(?:back\s+)?(?:to|until|till|for|by)\s+(?P<value>.+)$",
            "due",
        ),
        (
            r"^" + REF + r"\s+(?:is|should be|will be)\s+(?:now\s+)?due\s+(?P<value>.+)$",
            "due",
        ),
        (
            r"^(?:make|set)\s+" + REF + r"\s+due\s+(?P<value>.+)$",
            "due",
        ),
        (r"^(?:rename|retitle)\s+(?P<ref>.+)\s+(?:to|as)\s+" + _QUOTED + r"$", "title"),
        (r"^(?:rename|retitle)\s+" + REF + r"\s+(?:to|as)\s+(?P<value>.+)$", "title"),
        (
            r"^(?:change|update|edit|modify|set|make)\s+(?P<ref>.+)\s+to\s+" + _QUOTED + r"$",
            "title",
        ),
        (r"^(?:change|update|edit|modify|set|make)\s+" + REF + r"\s+to\s+(?P<value>.+)$", "to"),
        (
            r"^(?:update|change|edit|modify|set)\s+(?P<ref>(?:task|todo|item)\s*#?\s*\d+)"
            r"\s*[:,-]?\s*(?P<value>.+)$",
            "attributes",
        ),
    )
)

# "set up a task to ...", "make a note ..." create something; they do not name a task.
_NOT_A_REF = re.compile(
    r"^(?:up|a|an|another|new|me|us|what|which|who|anything|something|nothing)\b", _FLAGS
)


_BARE_LEVELS = ("high", "medium", "normal", "low", "urgent", "top")
# "change X to ..." renames X, unless what follows reads as more than a title: a priority
# level, or a second clause ("to high, hmm, actually medium is fine").
_NOT_A_TITLE = re.compile(
    r"^(?:" + "|".join(_BARE_LEVELS) + r")\b|,|\b(?:actually|sorry|i\s+mean|no\s+wait)\b", _FLAGS
)


def _unquote(text: str) -> str:
    text = text.strip()
    if len(text) >= 2 and text[0] in "\"'“‘" and text[-1] in "\"'”’":
        text = text[1:-1]
    return text.strip()


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
    return {"title": capitalize(value)}


def _repeat_value(value: str) -> dict[str, Any] | str:
    """The `repeat` argument for a rule said in words, or why it is not one."""
    try:
        repeat = read_repeat(value.strip(" .!"))
    except RepeatError as exc:
        return str(exc)
    if repeat is None:
        return (
            f"I can't read {value!r} as a repeat. Try **every monday**, **every weekday**,"
            " **every other week** or **monthly on the 15th**."
        )
    return {"repeat": repeat.rrule()}


def parse_update(text: str, today: date) -> Command | None:
    for pattern, kind in _UPDATE_RULES:
        match = pattern.match(text)
        if match is None:
            continue
        # "update task 2: high priority, due friday" is not a task named "2: high priority".
        named = match.groupdict().get("ref") or ""
        if re.search(r"[:,;]", named) or _NOT_A_REF.match(named):
            continue
        if (task := named_task(match.groupdict().get("ref") or "it")) is None:
            continue
        task_id, target, back = task
        value = match.groupdict().get("value") or ""
        changes: dict[str, Any] | str
        if kind == "clear_due":
            changes = {"due_date": "none"}
        elif kind == "stop_repeat":
            changes = {"repeat": "none"}
        elif kind == "repeat":
            changes = _repeat_value(value)
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
            except (DateParseError, RepeatError) as exc:
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


EDIT_VERB = re.compile(r"^(?:update|change|edit|modify|rename|retitle)\b", _FLAGS)
EDIT_HELP = (
    "I couldn't tell which task to change, or how. Name the task and the change, for example:"
    " **rename task 2 to Call mom**, **set task 2 priority to high** or **move task 2 to"
    " friday**."
)
