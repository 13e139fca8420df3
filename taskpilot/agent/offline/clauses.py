"""A run-on message read clause by clause: "scrap meeting with sam, it got cancelled",
"don't need the report anymore, wipe it".
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date

from taskpilot.agent.offline.commands import TASK_ACTIONS, Command, Intent
from taskpilot.agent.offline.references import reference
from taskpilot.agent.offline.sentences import parse_spelled

_FLAGS = re.IGNORECASE

_MENTIONS_IT = re.compile(r"\b(?:it|that|this|them)\b", _FLAGS)
# Where a run-on message breaks into clauses: commas, dashes, "..", "!".
_CLAUSE_BREAK = re.compile(
    r"\s?(?:[,;]|\s[-–—]\s|\.{1,3}(?=\s)|!{1,3}|\?(?=\s)|\s(?:so|and\s+then|because|cos)\s)\s?",
    _FLAGS,
)


def read_by_clauses(text: str, today: date) -> tuple[Command, bool] | None:
    """A run-on message read clause by clause ("scrap meeting with sam, it got cancelled",
    "don't need the report anymore, wipe it"): the first clause that acts on a task (else
    adds or lists); its "it" is the task another clause names. Also whether that reading is
    doubtful (another clause asks for a different change). None when no clause is
    understood."""
    clauses = [clause for clause in _CLAUSE_BREAK.split(text) if clause.strip()]
    if len(clauses) < 2 or len(clauses) > 6:
        return None
    readings = [(clause, *parse_spelled(clause, today)[:2]) for clause in clauses]
    understood = [(clause, command) for clause, command, ok in readings if ok]
    for wanted in (TASK_ACTIONS, (Intent.ADD,), (Intent.LIST,)):
        for clause, command in understood:
            if command.intent not in wanted:
                continue
            doubtful = any(
                other.intent in TASK_ACTIONS and other.intent is not command.intent
                for _, other in understood
            )
            if command.refers_back:
                # "it" may be the task another clause names (the model decides, knowing
                # what the conversation was about): "don't need the report anymore, wipe it"
                # (not "i added it by mistake": that clause is about "it" too).
                for other, _, ok in readings:
                    task_id, target = reference(other)
                    naming = (task_id or target) and not _MENTIONS_IT.search(other)
                    if other is not clause and not ok and naming:
                        return replace(command, task_id=task_id, target=target), doubtful
            return command, doubtful
    return None
