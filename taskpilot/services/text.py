"""Which characters of what people send TaskPilot will not store.

Text is kept exactly as typed (any script, emoji, combining marks, right-to-left marks), except
for control characters and unpaired surrogates. PostgreSQL cannot store NUL at all, an unpaired
surrogate cannot be written as UTF-8 by either database, and the other control codes (ESC, BEL,
...) only disturb whoever displays the text; tab and line breaks are fine where a field keeps
lines. The services refuse such text with a readable error instead of letting the database fail.
"""

from __future__ import annotations

import unicodedata

# What a multi-line field (a chat message, a task description) may keep.
LINE_BREAKS = "\t\n\r"


def unstorable(text: str, allowed: str = "") -> str | None:
    """The first character of `text` that is not stored, in words ("the control character
    U+0000"); None when there is none."""
    for char in text:
        kind = unicodedata.category(char)
        if kind == "Cc" and char not in allowed:
            return f"the control character U+{ord(char):04X}"
        if kind == "Cs":
            return f"the unpaired surrogate U+{ord(char):04X}"
    return None


def without_unstorable(text: str) -> str:
    """`text` with the characters `unstorable` names removed (for titles derived from text)."""
    return "".join(char for char in text if unicodedata.category(char) not in ("Cc", "Cs"))
