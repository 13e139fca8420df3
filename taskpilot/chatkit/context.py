"""One ChatKit request's context: who is asking, and the turn the server holds for them.

`openai-chatkit` hands this object to every `Store` call and every server hook of a request.
The store reads only `user_id` (every read and write is scoped to it); the rest belongs to
the server (`server.py`): the turn slot `_admit` took before the response started (so a
refusal is a real 429, not a broken stream), and the turn prepared for a new message until
`respond()` runs it — or, should the client leave first, until the stream's end abandons it.
"""

from __future__ import annotations

from dataclasses import dataclass

from taskpilot.agent.engine import PreparedTurn
from taskpilot.core.limits.turns import TurnSlot


@dataclass
class RequestContext:
    """One ChatKit request, for the verified user `user_id`."""

    user_id: str
    # The user's turn slot, taken before the response starts; given back when the stream ends
    # (the turn gives it back itself once it runs).
    slot: TurnSlot | None = None
    # The new message's turn: stored and claimed, not yet run.
    prepared: PreparedTurn | None = None
