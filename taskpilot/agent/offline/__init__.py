"""The offline model: a rule-based command parser behind the Agents SDK `Model` interface.

It is not AI. It reads the latest user message, turns a plain task command ("add buy milk
tomorrow", "what's pending?", "delete the meeting task") into a real tool call that the
Runner sends to the MCP server, and on its next call turns the tool's output into a short
reply. Anything it cannot parse gets an honest help text, never a guess; a delete or
completion it is not sure of is asked about first.

It keeps no state between calls: everything it needs is in the `input` the Runner hands it
(the latest user message and the tool calls and outputs after it), so one instance can serve
every user and worker.

Its parts, in the order a call runs them (`model.next_step`):

- `transcript` finds the latest user message in the Runner's input, and this turn's tool
  calls and what they returned;
- `spelling` fixes misspelled words it knows and `corrections` applies a correction made
  mid-sentence ("friday, no wait, saturday");
- `grammar` parses the message into a `Command` (`commands`): `filler` strips the polite
  words around it, `sentences` tries each kind of sentence in turn (`listing`, `updates`,
  `task_actions`, `adding`), with a task named as `references` reads it, a task's priority,
  due date, tags and notes read with `attributes`, date words with `dates` and past tenses
  with `words`; `clauses` reads a run-on message clause by clause; `confirmation` makes a
  delete or completion in any doubt a question ("Did you mean **delete task 3**?");
- `model` reads the command in the light of the conversation: "yes" to that question,
  "it" as the task the last turn was about (`context`), "same for ..." as the last request;
  `lookup` reads the answer to a "which one?" question;
- with no tool result yet, the step is the command's tool call (a `list_tasks` lookup first
  for a task named in words) or a reply; after a lookup, `lookup` acts on the one clear
  match (`matching`: stems, then spelling) or asks which one; after the tool has acted,
  `replies` words what it returned;
- `model.OfflineModel` hands that step to the Runner as a function call or a message.
"""

from taskpilot.agent.offline.commands import Command, Intent, Reply, ToolRequest
from taskpilot.agent.offline.grammar import parse_command
from taskpilot.agent.offline.model import OfflineModel, next_step

__all__ = [
    "Command",
    "Intent",
    "OfflineModel",
    "Reply",
    "ToolRequest",
    "next_step",
    "parse_command",
]
