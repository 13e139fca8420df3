"""A delete or completion in any doubt is asked first ("Did you mean **delete task 3**?",
answered by `YES`), and one asked as a question about a task's state ("did I pay rent?")
shows the task instead of changing it.
"""

from __future__ import annotations

import re

from taskpilot.agent.offline.commands import DESTRUCTIVE, Command, Intent
from taskpilot.agent.offline.matching import content_words

_FLAGS = re.IGNORECASE

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


def asks_about_state(text: str) -> bool:
    """True for a question about a task's state ("did I pay rent?", "is the report done?"),
    False for a request put as a question ("can you delete task 3?")."""
    return _STATE_QUESTION.search(text) is not None


def as_asked(command: Command, text: str, *, question: bool, guessed: bool) -> Command:
    """A delete or completion as the message asks for it: for a question about its state
    (`question`), a listing of the task asked about; when in doubt (`guessed`, or a word
    beside it that takes it back), a question first; else as it stands. Any other command as
    it is."""
    if command.intent not in DESTRUCTIVE:
        return command
    if question:  # "did I pay rent?", "is the report done?": show it, change nothing
        words = content_words(command.target or "")
        search = {"search": words[-1]} if words else {}  # the thing asked about: "rent"
        return Command(Intent.LIST, arguments={"status": "all", **search})
    if guessed or _TAKE_BACK.search(text):
        return confirm(command)
    return command
