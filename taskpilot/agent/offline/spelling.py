"""Misspelled words TaskPilot knows, fixed before the grammar reads a message: date words
where a date goes ("tommorow", "on wendesday"), "priority" and its levels ("priorty low",
"hgih priority"), and command words ("compelte task 1", "whats pendng").

A word is corrected only when it is close to exactly one word TaskPilot knows, starts with
the same letter, and is not a common word; a name mid-sentence ("Augusta") is left alone. A
command word is corrected only when the message as typed was not understood, and a delete or
completion read that way is asked about first (`grammar.confirm`).
"""

from __future__ import annotations

import re

from rapidfuzz.distance import OSA

from taskpilot.services.dates import MONTHS, WEEKDAYS

# Date words corrected where a date goes (after "on", "by", ..., or ending the message).
_DATE_WORDS = (*WEEKDAYS, "tomorrow", "tonight", "today", "fortnight", *MONTHS)
# Short words corrected only beside "priority" ("hgih priority", "priorty low").
_PRIORITY_LEVELS = ("high", "medium", "low", "urgent")
# Words corrected only when the message as typed was not understood.
_COMMANDS = (
    "add",
    "remind",
    "create",
    "complete",
    "delete",
    "remove",
    "show",
    "list",
    "mark",
    "update",
    "reopen",
    "finish",
    "rename",
    "change",
    "move",
    "reschedule",
    "what's",
    "pending",
    "completed",
    "tasks",
    "finished",
    "note",
)
# Common words a letter away from a command or date word: never "corrected".
_COMMON_WORDS = (
    "task take make made more most mode love lost last shop slow snow park work mask gone"
    " none bone dome lone note nose dose rose tank thanks chance changed charge mark"
    " marks lists moved movie adds odd added dont don't done"
)
_LEAVE_ALONE = frozenset(_COMMON_WORDS.split())
_CONNECTOR = re.compile(r"^(?:on|by|for|due|until|till|before|from)$", re.IGNORECASE)
_TOKEN = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)?")  # a word; an apostrophe only inside


def _closest(word: str, vocabulary: tuple[str, ...], allowed: int) -> str | None:
    """The vocabulary word nearest `word`, within `allowed` edits (a swap of neighbours is one
    edit) and starting with the same letter; None for a word of the vocabulary, a common word,
    or a tie."""
    lowered = word.lower()
    if lowered in vocabulary or lowered in _LEAVE_ALONE:
        return None
    # A typo seldom changes the first letter ("remember" is no misspelled "december").
    distances = {
        v: OSA.distance(lowered, v, score_cutoff=allowed) for v in vocabulary if v[0] == lowered[0]
    }
    near = sorted((d, v) for v, d in distances.items() if d <= allowed)
    if not near or (len(near) > 1 and near[0][0] == near[1][0]):
        return None
    return near[0][1]


def _allowed_edits(word: str) -> int:
    return 2 if len(word) >= 7 else 1


def correct_known_words(text: str) -> str:
    """Fix misspelled date and priority words wherever they stand ("tommorow",
    "on wendesday", "priorty low", "hgih priority")."""
    tokens = list(_TOKEN.finditer(text))
    replacements: dict[int, tuple[int, str]] = {}
    for index, token in enumerate(tokens):
        word = token.group(0)
        if len(word) >= 6 and (fixed := _closest(word, ("priority",), _allowed_edits(word))):
            replacements[token.start()] = (token.end(), fixed)  # "priorty": anywhere
            continue
        if word[:1].isupper() and index > 0:
            continue  # a name mid-sentence ("Augusta", "Marche") is not a misspelled month
        # A date word where a date goes: after "on"/"by"/..., or ending the message
        # ("tommorow"); a "sundae" mid-sentence stays one.
        after_connector = index > 0 and bool(_CONNECTOR.match(tokens[index - 1].group(0)))
        if not after_connector and index != len(tokens) - 1:
            continue
        if len(word) >= 6 or (len(word) == 5 and after_connector):
            fixed = _closest(word, _DATE_WORDS, _allowed_edits(word))
            if fixed is not None:
                replacements[token.start()] = (token.end(), fixed)
    fixed_text = _apply(text, replacements)
    # A priority level next to "priority": "hgih priority", "priority: hihg".
    tokens = list(_TOKEN.finditer(fixed_text))
    replacements = {}
    for index, token in enumerate(tokens):
        neighbours = [
            tokens[i].group(0).lower()
            for i in (index - 2, index - 1, index + 1, index + 2)
            if 0 <= i < len(tokens)
        ]
        if "priority" in neighbours or "prio" in neighbours:
            level = _closest(token.group(0), _PRIORITY_LEVELS, 1)
            if level is not None and len(token.group(0)) >= 3:
                replacements[token.start()] = (token.end(), level)
    return _apply(fixed_text, replacements)


def correct_command_words(text: str) -> str:
    """Fix a misspelled command word ("compelte task 1", "ad buy stamps", "whats pendng"):
    for a message that was not understood as typed."""
    tokens = list(_TOKEN.finditer(text))
    replacements: dict[int, tuple[int, str]] = {}
    for index, token in enumerate(tokens):
        word = token.group(0)
        if index == 0 and word.lower() in ("ad", "addd"):
            replacements[token.start()] = (token.end(), "add")
            continue
        if len(word) >= 4:
            fixed = _closest(word, _COMMANDS, _allowed_edits(word))
            if fixed is not None:
                replacements[token.start()] = (token.end(), fixed)
    return _apply(text, replacements)


def _apply(text: str, replacements: dict[int, tuple[int, str]]) -> str:
    for start in sorted(replacements, reverse=True):
        end, word = replacements[start]
        text = text[:start] + word + text[end:]
    return text
