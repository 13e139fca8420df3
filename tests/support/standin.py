"""The loopback OpenAI stand-in, with two things the browser tests need on top.

- **Pace**: a streamed step can send its chunks `seconds` apart, so a test can watch the reply
  grow on screen and press Stop half-way (the plain stand-in streams as fast as it can).
- **Hooks**: a callable run just before a step is answered, e.g. to make the tool that the
  step calls slow, so the tool card's "running" state is on screen long enough to see.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from tests.support.openai_standin import OpenAIStandIn, Step, _Handler

_served = threading.local()  # the pace of the step this handler thread is answering


class _PacedHandler(_Handler):
    def _chunk(self, text: str) -> None:
        pace = getattr(_served, "pace", 0.0)
        if pace and self.server.standin.wait(pace):
            raise BrokenPipeError("the stand-in is stopping")
        super()._chunk(text)


class BrowserStandIn(OpenAIStandIn):
    """`OpenAIStandIn` with paced streaming, hooks, and a reset between tests."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._paces: dict[int, float] = {}
        self._hooks: dict[int, Callable[[], None]] = {}

    def start(self) -> BrowserStandIn:
        super().start()
        assert self._server is not None
        self._server.RequestHandlerClass = _PacedHandler
        return self

    def script_step(
        self, step: Step, *, pace: float = 0.0, before: Callable[[], None] | None = None
    ) -> None:
        """Queue one step; its streamed chunks go out `pace` seconds apart, and `before`
        runs (in the stand-in's thread) just before it is answered."""
        with self._lock:
            if pace:
                self._paces[id(step)] = pace
            if before is not None:
                self._hooks[id(step)] = before
            self._steps.append(step)

    def _next_step(self, request: Any) -> Step | None:
        step = super()._next_step(request)
        with self._lock:
            pace = self._paces.pop(id(step), 0.0) if step else 0.0
            hook = self._hooks.pop(id(step), None) if step else None
        _served.pace = pace
        if hook is not None:
            hook()
        return step

    def reset(self) -> None:
        """Forget what the last test scripted and received."""
        with self._lock:
            self._steps.clear()
            self._paces.clear()
            self._hooks.clear()
            self._requests.clear()
            self._unexpected.clear()
            self._sessions.clear()
            self._session_failures.clear()
