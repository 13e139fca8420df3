"""The grammar: one user message becomes a `Command` (`parse_command`).

Misspelled date and priority words and a correction made mid-sentence are fixed first
(`spelling`, `corrections`). The message then loses its polite filler (`filler`) and is read
as one kind of sentence (`sentences`): a greeting, thanks or help, a bare task number, a list
request (`listing`), an update (`updates`), complete / reopen / delete (`task_actions`), an
add (`adding`), tried in that order by their rules, regexes tried in turn. A task is named by
number, position or words (`references`). A message none of them reads may be a run-on one,
read clause by clause (`clauses`). A delete or completion in any doubt becomes a question
(`confirmation`).
"""

from __future__ import annotations

from datetime import date

from taskpilot.agent.offline.clauses import read_by_clauses
from taskpilot.agent.offline.commands import Command
from taskpilot.agent.offline.confirmation import as_asked, asks_about_state
from taskpilot.agent.offline.corrections import apply_self_correction
from taskpilot.agent.offline.sentences import parse_spelled
from taskpilot.agent.offline.spelling import correct_known_words


def parse_command(text: str, today: date) -> Command:
    """Parse one user message into a `Command`; relative dates resolve against `today`.

    Misspelled date and priority words and corrections made mid-sentence are fixed first
    (`spelling`, `corrections`); a misspelled command word only when the message as typed is
    not understood.
    """
    # One line, single spaces, first: every rule below then sees runs of at most one space
    # (a hostile run of 4,000 spaces would otherwise cost the regexes quadratic time).
    text = " ".join(text.split())
    question = asks_about_state(text)
    text = apply_self_correction(correct_known_words(text), today)
    command, understood, guessed = parse_spelled(text, today)
    if not understood and (by_clauses := read_by_clauses(text, today)) is not None:
        command, guessed = by_clauses[0], True  # a reading of one clause of several
    return as_asked(command, text, question=question, guessed=guessed)
