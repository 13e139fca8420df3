"""Which task a few words name, when the words are not the title's own: "the invoce", "buy
the groceries" for "Buy groceries", "the lisbon flights" for "Book flights to Lisbon".

Each word of the reference that carries meaning is compared with the title's words: by stem
(so "called" meets "call" and "groceries" "grocery"), else by spelling (`rapidfuzz`, so a typo
still meets its word). A task's score is the share of the reference's words it meets. Only a
clear winner is acted on, and a delete or completion only when every word is the title's
own (by stem); near-misses are asked about, never guessed: a wrong delete or completion
costs far more than a question.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rapidfuzz import fuzz

from taskpilot.agent.offline.words import stem

# Words that name no task: articles, pronouns, and verbs too general to tell tasks apart.
_STOP_TEXT = (
    "a an the my our your his her their this that these those it its to for of on in at by"
    " with and or from about up off out one ones task tasks todo item thing stuff"
    " do did done get got have had has make made go went i me we you all"
    " don dont t need needed anymore longer no not just really actually"
    " earlier yesterday today tonight morning already finally now"
    " is are was were be kinda sorta whatever pretty them they both each either any"
)
_STOP_WORDS = frozenset(_STOP_TEXT.split())
# A reference word meets a title word by spelling at this `fuzz.ratio` or more: a typo or two
# in a longer word ("quartely", "invoce", "pasport"), not a different word ("car"/"call").
WORD_SIMILARITY = 80
# A task is named when it meets this share of the reference's words ...
NAMED = 0.99
# ... and may be a guess (asked about, never acted on) from this share.
POSSIBLE = 0.5


@dataclass(frozen=True)
class Match:
    """How well a task's title meets a reference: the share of its words met, and the share
    met by the same word (stem), not only a similar spelling or a word it begins."""

    task: Mapping[str, Any]
    score: float
    exact: float = 0.0


def content_words(text: str) -> list[str]:
    """The words of `text` that can name a task (no articles, pronouns or filler)."""
    return [w for w in re.findall(r"[a-z0-9]+", text.lower()) if w not in _STOP_WORDS]


def _same(word: str, title_words: Sequence[str]) -> bool:
    root = stem(word)
    return any(root == stem(other) for other in title_words)


def _meets(word: str, title_words: Sequence[str]) -> bool:
    root = stem(word)
    for other in title_words:
        other_root = stem(other)
        if root == other_root:
            return True
        # "prep" for "prepare", "admin" for "administration": one stem begins the other.
        shorter, longer = sorted((root, other_root), key=len)
        if len(shorter) >= 4 and longer.startswith(shorter):
            return True
    return len(word) >= 4 and any(
        fuzz.ratio(word, other) >= WORD_SIMILARITY for other in title_words if len(other) >= 4
    )


def _share(reference: str, title: str, meets: Callable[[str, Sequence[str]], bool]) -> float:
    """The share of `reference`'s meaningful words that `title` meets by `meets` (0 when it
    has none)."""
    wanted = content_words(reference)
    if not wanted:
        return 0.0
    title_words = re.findall(r"[a-z0-9]+", title.lower())
    return sum(meets(word, title_words) for word in wanted) / len(wanted)


def score(reference: str, title: str) -> float:
    """The share of `reference`'s meaningful words that `title` meets (0 when it has none)."""
    return _share(reference, title, _meets)


def rank(reference: str, tasks: Sequence[Mapping[str, Any]]) -> list[Match]:
    """The tasks that may be meant, best first (only those at POSSIBLE or above)."""
    matches = []
    for task in tasks:
        title = str(task.get("title", ""))
        matches.append(Match(task, score(reference, title), _share(reference, title, _same)))
    found = [m for m in matches if m.score >= POSSIBLE]
    return sorted(found, key=lambda m: (-m.score, -m.exact))


def named(
    reference: str, tasks: Sequence[Mapping[str, Any]], exactly: bool = False
) -> list[Mapping[str, Any]]:
    """The tasks `reference` names outright (all its words met); several when it is unclear.
    `exactly`: each word by the same word, not a similar one ("dinner" is not "winner")."""
    ranked = rank(reference, tasks)
    return [m.task for m in ranked if (m.exact if exactly else m.score) >= NAMED]
