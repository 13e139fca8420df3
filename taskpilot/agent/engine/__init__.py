"""The turn engine: a turn's whole life, the same for the JSON/SSE API, the page and ChatKit.

    prepare ─► (claim) ─► start: run in its own task ─► finish │ fail
                                   └ heartbeat renews the lease; the deadline bounds it

The engine keeps nothing about a conversation between turns: every rule below is decided by
one conditional statement in the database (`services/turns.py`), so it holds across workers
and machines, whatever the timing of requests.

- **Prepare** validates the message and stores it already claimed by attempt 1, in the same
  transaction as a new conversation: a refused message leaves nothing behind, and a double
  submit of a new chat's first message (one `client_message_id`) makes one conversation.
- **One running turn per conversation.** A message into a conversation whose turn is running
  waits up to TURN_WAIT_SECONDS for it, then is refused (`turn_in_progress`). A repeated
  `client_message_id` waits the same way, then replays the stored answer.
- **Claims.** A failed turn, or one whose lease ran out (its worker died), is run again by
  whichever request claims it first (its attempt number moves on by one); the others wait for
  that attempt and replay its answer. Finishing, failing, renewing the lease and saving
  progress all hold only while the attempt is still the message's, so a superseded attempt
  writes nothing, and a database rule keeps one reply per message.
- **Detached.** A started turn runs in its own task, not its request's: a client that goes
  away does not cut it short (the API); Stop cancels it on purpose (the page, ChatKit).
- **Told.** Its events go to the one reader that started it and, on the live feed
  (`core/live.py`), to the person's other open pages, on any worker.
- **Leases and deadlines.** A running turn renews its lease every third of
  TURN_LEASE_SECONDS; if it finds its attempt superseded it stops at once. A turn fails with a
  readable reason after TURN_DEADLINE_SECONDS, which is shorter than its MCP token's life.
- **Shutdown** (`drain`) refuses new turns, lets running ones finish for SHUTDOWN_GRACE_SECONDS,
  then stops the rest, marking them failed, before the model client and MCP server close.

Its parts, in the order a turn meets them:

- `turn_engine.TurnEngine` is the one entry the adapters call: it checks the input, admits
  the turn (a slot among the user's running turns), starts it in a task of its own or
  abandons it, and drains running turns at shutdown;
- `turn` holds what the adapters hold: `clean_message`, `PreparedTurn`, `RunningTurn`;
- `preparing.TurnPreparer` stores the question and claims its turn, or finds the one sent
  before, waiting for a conversation another turn holds;
- `running.TurnRunner` runs a claimed turn: the agent over the MCP tools under a lease it
  renews and a deadline, then the reply stored;
- `titling.Titler` names a conversation after its first answered turn (a rule offline, one
  short model call otherwise), in one conditional UPDATE, and the turn says so (`titled`);
- `failing.TurnFailer` marks a turn failed, retrying in the background while the database
  is away; preparing, running and the engine all fail turns through it.

The engine holds its parts (composition) rather than inheriting them as mixins: each part is
given what it uses in its constructor (the running part never sees the set of running turns,
preparing never sees the model), so a module reads on its own, and the one piece of state
they share, failures still waiting for the database, has one owner.
"""

from taskpilot.agent.engine.preparing import NOT_STARTED
from taskpilot.agent.engine.running import SUPERSEDED
from taskpilot.agent.engine.turn import STOPPED, PreparedTurn, RunningTurn, clean_message
from taskpilot.agent.engine.turn_engine import SHUT_DOWN, TurnEngine

__all__ = [
    "NOT_STARTED",
    "SHUT_DOWN",
    "STOPPED",
    "SUPERSEDED",
    "PreparedTurn",
    "RunningTurn",
    "TurnEngine",
    "clean_message",
]
