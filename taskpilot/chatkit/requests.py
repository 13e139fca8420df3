"""What a ChatKit request may be, read before any response starts: the request types
TaskPilot answers (and those it knowingly refuses, saying why), the parsed request, and
refusals as ChatKit shows them. `server.py` answers the requests."""

from __future__ import annotations

import json

from chatkit.types import ChatKitReq, ErrorEvent
from pydantic import TypeAdapter, ValidationError

from taskpilot.api.errors import retry_headers, status_of
from taskpilot.core.errors import NOT_JSON, ErrorCode, TaskPilotError

_requests: TypeAdapter[ChatKitReq] = TypeAdapter(ChatKitReq)

# Request types TaskPilot answers (the ones ChatKit's UI sends for a chat with history).
SUPPORTED = (
    "threads.create",
    "threads.add_user_message",
    "threads.retry_after_item",
    "threads.get_by_id",
    "threads.list",
    "items.list",
    "threads.update",
    "threads.delete",
    "items.feedback",
    "threads.sync_custom_action",
    "threads.custom_action",
)
# Known ChatKit request types for features TaskPilot does not offer, and why.
UNSUPPORTED = {
    "attachments.create": "attachments",
    "attachments.delete": "attachments",
    "input.transcribe": "dictation",
    "threads.add_client_tool_output": "client tools",
    "threads.add_structured_input": "structured input",
}


# Refusals of a retry that may succeed if the person tries again.
RETRYABLE = {
    ErrorCode.TURN_IN_PROGRESS,
    ErrorCode.DATABASE_UNAVAILABLE,
    ErrorCode.BUSY,
    ErrorCode.RATE_LIMITED,
    ErrorCode.SHUTTING_DOWN,
}


def refusal(error: TaskPilotError) -> ErrorEvent:
    """A turn TaskPilot will not run (now), as ChatKit's error event: Retry offered when trying
    again may work."""
    return ErrorEvent(code="custom", message=error.message, allow_retry=error.code in RETRYABLE)


class ChatKitRequestError(Exception):
    """A request TaskPilot will not serve; `status` is the HTTP status to answer with."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers

    @classmethod
    def of(cls, error: TaskPilotError) -> ChatKitRequestError:
        """A domain error, answered with the status the API's table gives its code."""
        return cls(status_of(error.code), error.message, retry_headers(error.retry_after))


def parse_request(body: bytes) -> ChatKitReq:
    """The ChatKit request in `body`; `ChatKitRequestError` (400) saying what is wrong."""
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise ChatKitRequestError(400, NOT_JSON) from exc
    if not isinstance(data, dict) or not isinstance(data.get("type"), str):
        raise ChatKitRequestError(
            400, "Not a ChatKit request: the body must be a JSON object with a 'type'."
        )
    if data["type"] not in (*SUPPORTED, *UNSUPPORTED):
        raise ChatKitRequestError(
            400,
            f"Unknown ChatKit request type {data['type'][:60]!r}. "
            f"TaskPilot handles: {', '.join(SUPPORTED)}.",
        )
    try:
        return _requests.validate_python(data)
    except ValidationError as exc:
        parts = []
        for error in exc.errors()[:3]:
            location = ".".join(str(part) for part in error.get("loc", ())[1:])
            message = "is required" if error.get("type") == "missing" else error.get("msg", "")
            parts.append(f"'{location}' {message}")
        raise ChatKitRequestError(
            400, "Invalid ChatKit request: " + "; ".join(parts) + "."
        ) from exc
