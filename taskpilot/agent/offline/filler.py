"""What a message loses before the grammar reads it: polite filler around the command
("please", "can you", "thanks"), a closing smiley, curly quotes, and the contractions that hide
an "is" ("it's due friday", "the bill's paid").
"""

from __future__ import annotations

import re

from taskpilot.agent.offline.words import PAST_VERB

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

# "it's due friday" reads as "it is due friday" (only at the start: a title keeps its words).
_OPENING_CONTRACTION = re.compile(r"^((?:\S+\s+){0,2}?(?:it|that|this))'?s\b", _FLAGS)


# A closing smiley after the words: "paid :)", "done 🎉" (an emoji title stays one).
_EMOTICON = re.compile(
    r"(?:\s+[:;=]-?[()DPp]{1,3}|\s+[\U0001F300-\U0001FAFF\u2600-\u27BF]{1,3})\s*$"
)
# "the bill's paid": "the bill is paid".
_STATE_CONTRACTION = re.compile(r"(\w)'s\s+(?=(?:been\s+)?" + PAST_VERB + r"\b)", _FLAGS)


def normalize(text: str) -> str:
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
