"""A turn's failure as something a person can read: a code and a message, never the raw
exception text (it can quote a key, a prompt or SQL)."""

from __future__ import annotations

from agents.exceptions import AgentsException, MaxTurnsExceeded, ModelBehaviorError
from openai import APIConnectionError, APIError, APIStatusError, APITimeoutError

from taskpilot.core.errors import SOMETHING_WENT_WRONG, ErrorCode, TaskPilotError

# How the Agents SDK words a Responses stream that ended in a provider failure; it has no
# dedicated exception class for it.
_PROVIDER_STREAM_FAILURE = "Responses stream ended with terminal event"
MODEL_FAILED = "The model service returned an error. Please try again."


def explain(exc: BaseException) -> TaskPilotError:
    """The failure of a turn, as the error its person is shown."""
    if isinstance(exc, TaskPilotError):
        return exc
    if isinstance(exc, APITimeoutError | TimeoutError):
        return TaskPilotError(
            ErrorCode.MODEL_TIMEOUT, "The model took too long to answer. Please try again."
        )
    if isinstance(exc, APIConnectionError):
        return TaskPilotError(
            ErrorCode.MODEL_UNREACHABLE,
            "The model service can't be reached right now. Please try again.",
        )
    if isinstance(exc, APIStatusError) and exc.status_code in (401, 403):
        return TaskPilotError(
            ErrorCode.MODEL_AUTH, "The model service rejected TaskPilot's credentials."
        )
    if isinstance(exc, APIStatusError) and exc.status_code == 429:
        return TaskPilotError(
            ErrorCode.MODEL_BUSY,
            "The model service is busy (rate limited). Please try again shortly.",
        )
    if isinstance(exc, APIError):
        return TaskPilotError(ErrorCode.MODEL_ERROR, MODEL_FAILED)
    if isinstance(exc, ModelBehaviorError) and str(exc).startswith(_PROVIDER_STREAM_FAILURE):
        return TaskPilotError(ErrorCode.MODEL_ERROR, MODEL_FAILED)
    if isinstance(exc, MaxTurnsExceeded):
        return TaskPilotError(
            ErrorCode.TOO_MANY_STEPS, "That took too many steps; try asking in a simpler way."
        )
    if isinstance(exc, AgentsException):
        return TaskPilotError(
            ErrorCode.AGENT_ERROR,
            "Something went wrong while working on your tasks. Please try again.",
        )
    return TaskPilotError(ErrorCode.INTERNAL_ERROR, SOMETHING_WENT_WRONG)


def expected(exc: BaseException) -> bool:
    """Failures that are the world's, not a bug: logged without a traceback."""
    return isinstance(exc, TaskPilotError | APIError | TimeoutError)
