"""What a message meant when it says it imperfectly: misspelled words TaskPilot knows
("tommorow", "wendesday", "priorty", "compelte task 1") and corrections made mid-sentence
("friday, no wait, saturday", "task 4, I mean task 5", "milk, I mean oat milk").

Both rewrite the text before the grammar reads it, and both are careful: a word is corrected
only when it is close to exactly one word TaskPilot knows and is not itself a word people
use in titles (a name such as "Frida" is left alone unless it follows "on" or "by"); a
command word is corrected only when the message as typed could not be understood.
"""

from __future__ import annotations

import re
from datetime import date

from rapidfuzz.distance import OSA

from taskpilot.services.dates import DUE_PATTERN, MONTHS, WEEKDAYS, DateParseError, parse_due

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


# --- corrections mid-sentence ------------------------------------------------------------

# "no wait", "sorry, I mean", "actually", "or rather", "scratch that": what follows replaces
# what came just before.
_MARKER = re.compile(
    r"(?:[,;]\s?|\s[-–—]\s?|\.{1,3}\s?|\s)(?:no,?\s+wait|no,?\s+sorry|sorry,?\s+i\s+mean(?:t)?|"
    r"i\s+mean(?:t)?|no,?\s+i\s+mean(?:t)?|(?:no,?\s+)?hang\s+on|wait|sorry|actually|"
    r"or\s+rather|or\s+actually|rather|scratch\s+that|correction|er{1,3}m?|uh{1,3}|no)\b"
    r"[\s,:;.-]{0,8}",
    re.IGNORECASE,
)
_LEAD_IN = re.compile(r"^(?:make\s+it|set\s+it\s+to|change\s+it\s+to|it'?s|on|by)\s+", re.I)
# Words after a correction that change nothing: "tuesday actually", "medium is fine".
_AFTERTHOUGHT = re.compile(
    r"\s+(?:actually|instead|then|please|i\s+think|is\s+fine|is\s+better|will\s+do)$", re.I
)
_OOPS = re.compile(r"\s+(?:oops|oh|er+m?|uh+|hmm+)$", re.IGNORECASE)
_TASK_NUMBER = re.compile(r"\b(?:task\s*#?|#)\d{1,9}\b", re.IGNORECASE)
_BARE_NUMBER = re.compile(r"(?<=\s)\d{1,9}\b")
_PRIORITY_WORD = re.compile(r"\b(?:high|medium|normal|low|urgent|top)\b", re.IGNORECASE)


def _is_date(text: str, today: date) -> bool:
    try:
        parse_due(text, today)
    except DateParseError:
        return False
    return bool(DUE_PATTERN.fullmatch(text.strip()))


def apply_self_correction(text: str, today: date) -> str:
    """The message with a correction made in it applied: "add call the bank friday, no wait,
    saturday" → "add call the bank saturday". Unchanged when what follows the marker is not
    a date, a task number, a priority or words that fit what came before."""
    markers = [m for m in _MARKER.finditer(text) if m.start() > 0 and m.end() < len(text)]
    for marker in reversed(markers[-3:]):  # the last few: a correction comes late
        left, right = text[: marker.start()], text[marker.end() :].strip(" .!?")
        said = marker.group(0)
        bare_no = said.strip(" ,;-–—").lower() == "no" and not re.match(r"\s*[,;–—-]", said)
        right = _AFTERTHOUGHT.sub("", _LEAD_IN.sub("", right))
        left = _OOPS.sub("", left)
        rewritten = _replace(left, right, today, dates_only=bare_no)
        if rewritten is not None:
            return rewritten
    return text


def _replace(left: str, right: str, today: date, dates_only: bool) -> str | None:
    if not right:
        return None
    if _is_date(right, today):
        dates = list(DUE_PATTERN.finditer(left))
        if not dates:
            return None
        last = dates[-1]
        if left[last.end() :].strip(" ,;-."):
            return None  # the date is not what came just before the correction
        return left[: last.start()] + right + left[last.end() :].rstrip(" ,;-.")
    if dates_only:
        return None
    if _TASK_NUMBER.fullmatch(right.strip()) or right.strip().isdigit():
        numbers = list(_TASK_NUMBER.finditer(left)) or list(_BARE_NUMBER.finditer(left))
        if not numbers:
            return None
        last = numbers[-1]
        number = re.sub(r"\D", "", right)
        return left[: last.start()] + f"task {number}" + left[last.end() :]
    level = re.sub(r"\s+prio(?:rity)?$", "", right.strip(), flags=re.IGNORECASE)
    if _PRIORITY_WORD.fullmatch(level):
        words = list(_PRIORITY_WORD.finditer(left))
        if not words:
            return None
        last = words[-1]
        return left[: last.start()] + level + left[last.end() :]
    return _replace_words(left, right) or _replace_task(left, right)


def _replace_words(left: str, right: str) -> str | None:
    """New words for the ones just said: "buy batteries, sorry, buy AA batteries" (from the
    word they start with), "lunch with sam, or actually coffee with sam" (as many words,
    ending with the same one), "buy milk, I mean oat milk" (the word they end with, when the
    words before it start the title)."""
    new = right.split()
    if not new or len(new) > 8:
        return None
    old = list(re.finditer(r"\S+", left))
    words = [match.group(0).lower().strip(",.;") for match in old]
    if new[0].lower() in words[1:]:
        start = old[len(words) - 1 - words[::-1].index(new[0].lower())].start()
        return left[:start] + right
    if new[-1].lower() != words[-1]:
        return None
    first = len(words) - len(new)
    if first >= 1 and words[first - 1] not in ("add", "called", "named"):
        return left[: old[first].start()] + right  # as many words, replaced
    return left[: old[-1].start()] + right  # the last word, with the new words before it


# "complete the groceries, no wait, the team meeting prep": a command and the task it names.
_ACTION_AND_TASK = re.compile(
    r"^(?P<verb>(?:please\s+)?(?:delete|remove|complete|finish|reopen|scrap|drop|cancel|"
    r"mark\s+off|tick\s+off|check\s+off))\s+(?:the\s+|my\s+)?(?P<task>[^,;]+)$",
    re.IGNORECASE,
)


def _replace_task(left: str, right: str) -> str | None:
    """The correction names another task for the same command."""
    action = _ACTION_AND_TASK.match(left.strip())
    if action is None or not re.match(r"^(?:the|my|task)\b", right, re.IGNORECASE):
        return None
    return f"{action.group('verb')} {right}"
