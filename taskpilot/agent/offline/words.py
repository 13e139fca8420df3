"""Word lists the grammar reads with: the past tense people use to say a task is done ("I've
sent the invoice", "groceries are bought"), and the base form a task's title uses ("Send the
invoice", "Buy groceries"), with its first letter a capital (`capitalize`).
"""

from __future__ import annotations

import snowballstemmer

# Irregular past forms of verbs that start task titles (not those spelled like their base
# form, "put", "set", "read": "put X on my list" is a request, not news).
_IRREGULAR = {
    "bought": "buy",
    "brought": "bring",
    "built": "build",
    "caught": "catch",
    "did": "do",
    "done": "do",
    "drew": "draw",
    "drove": "drive",
    "ate": "eat",
    "fed": "feed",
    "found": "find",
    "got": "get",
    "gotten": "get",
    "gave": "give",
    "given": "give",
    "went": "go",
    "gone": "go",
    "had": "have",
    "hung": "hang",
    "held": "hold",
    "kept": "keep",
    "left": "leave",
    "lent": "lend",
    "made": "make",
    "met": "meet",
    "paid": "pay",
    "rang": "ring",
    "rung": "ring",
    "ran": "run",
    "said": "say",
    "sold": "sell",
    "sent": "send",
    "sorted": "sort",
    "spoke": "speak",
    "spoken": "speak",
    "spent": "spend",
    "swept": "sweep",
    "taken": "take",
    "took": "take",
    "taught": "teach",
    "told": "tell",
    "thought": "think",
    "threw": "throw",
    "thrown": "throw",
    "understood": "understand",
    "woke": "wake",
    "wore": "wear",
    "won": "win",
    "wrote": "write",
    "written": "write",
}
# The past forms the grammar recognises as "this is done": irregular ones, and any "-ed" word.
# ("-eed" words are base forms: "feed the cat", "need milk".)
PAST_VERB = r"(?:" + "|".join(sorted(_IRREGULAR, key=len, reverse=True)) + r"|[a-z]+[a-df-z]ed)"

_STEMMER = snowballstemmer.stemmer("english")


def base_form(verb: str) -> str:
    """An irregular past form's base ("sent" → "send", "bought" → "buy"); any other word as it
    is ("renewed": `stem` makes it match "renew")."""
    word = verb.lower()
    return _IRREGULAR.get(word, word)


def stem(word: str) -> str:
    """The Snowball stem of a word's base form, so "called" and "call", "prepared" and
    "prepare", "sent" and "send", "groceries" and "grocery" compare equal."""
    return str(_STEMMER.stemWord(base_form(word)))


def capitalize(title: str) -> str:
    """A task's title as the list shows it: the first letter a capital, the rest as typed
    ("call Mom" → "Call Mom", where `str.capitalize` would make it "Call mom")."""
    return title[:1].upper() + title[1:]
