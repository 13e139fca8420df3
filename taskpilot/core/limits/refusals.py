"""The refusal a person reads when over a limit: `RateLimited` (429 with Retry-After), and
how its wait is worded."""

from __future__ import annotations

import math

from taskpilot.core.errors import ErrorCode, TaskPilotError


class RateLimited(TaskPilotError):
    """Over a limit; `retry_after` is whole seconds until a retry can succeed."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(ErrorCode.RATE_LIMITED, message, max(1, math.ceil(retry_after)))


def wait_in_words(seconds: float) -> str:
    """'42 s' below a minute and a half, '5 minutes' beyond."""
    whole = max(1, math.ceil(seconds))
    if whole < 90:
        return f"{whole} s"
    return f"{math.ceil(whole / 60)} minutes"
