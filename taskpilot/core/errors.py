"""TaskPilot's one error vocabulary.

Domain code raises `TaskPilotError` with a code from `ErrorCode` and a message written for the
person who will read it; it never decides an HTTP status. The API layer alone maps codes to
statuses (`taskpilot/api/errors.py`), the page shows the message, ChatKit sends it as an error
event, and a turn that fails mid-stream carries the same code in its `error` event.
"""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    """Every code a client of TaskPilot can see, API, stream and ChatKit alike."""

    # Any request (the HTTP framework's own refusals)
    BAD_REQUEST = "bad_request"
    UNAUTHORIZED = "unauthorized"
    FORBIDDEN = "forbidden"
    NOT_FOUND = "not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    CONFLICT = "conflict"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    UPSTREAM_ERROR = "upstream_error"
    UNAVAILABLE = "unavailable"
    # The request itself
    INVALID_REQUEST = "invalid_request"
    INVALID_MESSAGE = "invalid_message"
    EMPTY_MESSAGE = "empty_message"
    MESSAGE_TOO_LONG = "message_too_long"
    INVALID_CLIENT_MESSAGE_ID = "invalid_client_message_id"
    # What it names
    CONVERSATION_NOT_FOUND = "conversation_not_found"
    MESSAGE_NOT_FOUND = "message_not_found"
    # A turn's life
    TURN_IN_PROGRESS = "turn_in_progress"
    CLIENT_MESSAGE_ID_REUSED = "client_message_id_reused"
    NOT_LATEST_MESSAGE = "not_latest_message"
    TURN_SUPERSEDED = "turn_superseded"
    TURN_TIMEOUT = "turn_timeout"
    TURN_STOPPED = "turn_stopped"
    APPROVAL_NOT_PENDING = "approval_not_pending"
    MESSAGE_REPLACED = "message_replaced"
    CONVERSATION_MOVED_ON = "conversation_moved_on"
    NO_TURN_RUNNING = "no_turn_running"
    UNDO_REFUSED = "undo_refused"
    # Capacity
    RATE_LIMITED = "rate_limited"
    BUSY = "busy"
    SHUTTING_DOWN = "shutting_down"
    DATABASE_UNAVAILABLE = "database_unavailable"
    # The model and the tools
    MODEL_TIMEOUT = "model_timeout"
    MODEL_UNREACHABLE = "model_unreachable"
    MODEL_AUTH = "model_auth"
    MODEL_BUSY = "model_busy"
    MODEL_ERROR = "model_error"
    TOO_MANY_STEPS = "too_many_steps"
    AGENT_ERROR = "agent_error"
    INTERNAL_ERROR = "internal_error"


class TaskPilotError(Exception):
    """A failure a person can be told about: a code, a readable message and, for refusals
    that clear by themselves, how many seconds until a retry may succeed."""

    def __init__(self, code: ErrorCode, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.retry_after = retry_after


# One wording for each thing a person reads in more than one place.
DATABASE_DOWN = "TaskPilot can't reach its database right now. Please try again shortly."
SOMETHING_WENT_WRONG = "Something went wrong on our side. Please try again."
NOT_JSON = "The request body is not valid JSON."
