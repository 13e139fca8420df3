"""Which kind of sentence one message (or one clause of it) is, tried in order: a greeting,
thanks, a dismissal or a request for help; a bare task number or position (the answer to
"which one?"); a list request; an update; a completion, reopening or deletion; an add; a
question about tasks in other words; a task said with a repeat ("water the ferns every
monday"), which is a new one. A misspelled command word is fixed only when the
message as typed is not understood (`parse_spelled`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from taskpilot.agent.offline.adding import (
    ADD_VERB,
    COMMAND_VERB,
    NEED_PHRASE,
    REMIND_PHRASE,
    parse_add,
)
from taskpilot.agent.offline.attributes import extract_repeat
from taskpilot.agent.offline.commands import Command, Intent
from taskpilot.agent.offline.filler import normalize
from taskpilot.agent.offline.listing import (
    asks_for_list,
    mentions_tasks,
    parse_list,
    parse_question,
)
from taskpilot.agent.offline.references import NUMBERED_REF, ORDINAL, ORDINALS, task_number
from taskpilot.agent.offline.spelling import correct_command_words
from taskpilot.agent.offline.task_actions import parse_task_action
from taskpilot.agent.offline.updates import EDIT_HELP, EDIT_VERB, parse_update

_FLAGS = re.IGNORECASE

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


def parse_spelled(text: str, today: date) -> tuple[Command, bool, bool]:
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
    bare = normalize(text).strip(" .!?,")
    # "ok" on its own is an acknowledgement, though "ok, add ..." is just a lead-in.
    if _THANKS.match(plain) or _THANKS.match(bare):
        return Command(Intent.THANKS)
    if not bare:
        return Command(Intent.HELP)
    if _DISMISS.match(bare):
        return Command(Intent.DISMISS)
    if _HELP.match(bare):
        return Command(Intent.HELP)
    if match := NUMBERED_REF.match(bare):
        return Command(Intent.CHOOSE, task_id=task_number(match.group("n") or match.group("w")))
    if match := ORDINAL.match(bare):
        position = ORDINALS[match.group("o").lower()]
        return Command(Intent.CHOOSE, arguments={"position": position})
    if asks_for_list(bare):
        return parse_list(bare, today)
    for parse in (parse_update, lambda value, _: parse_task_action(value)):
        if (command := parse(bare, today)) is not None:
            return command
    if match := ADD_VERB.match(bare):
        return parse_add(match.group("rest"), today)
    if match := REMIND_PHRASE.match(bare):
        found = match.groupdict()
        item = found["rest"] or found["item"] or found["bullet"] or found["flagged"]
        return parse_add(item, today)
    if match := NEED_PHRASE.match(bare):
        rest = match.group("rest")
        return _parse_text(rest, today) if COMMAND_VERB.match(rest) else parse_add(rest, today)
    if EDIT_VERB.match(bare):
        # An edit we could not read: say how to phrase it rather than list every task.
        return Command(Intent.CLARIFY, message=EDIT_HELP)
    if (question := parse_question(bare, today)) is not None:
        return question
    if extract_repeat(bare)[1] is not None:
        return parse_add(bare, today)  # "water the ferns every monday": a task that repeats
    if mentions_tasks(bare):
        return _Guess(parse_list(bare, today))
    return Command(Intent.UNKNOWN)
