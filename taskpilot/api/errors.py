"""The one table from error code to HTTP status, and the API's error body.

Domain code raises `TaskPilotError` with a code (`core/errors.py`) and never picks a status;
this module alone does, for the routes, for a turn's `error` event in a JSON answer, and for
the HTTP framework's own refusals.
"""

from __future__ import annotations

from fastapi.responses import JSONResponse

from taskpilot.core.errors import ErrorCode, TaskPilotError

STATUS: dict[ErrorCode, int] = {
    ErrorCode.BAD_REQUEST: 400,
    ErrorCode.UNAUTHORIZED: 401,
    ErrorCode.FORBIDDEN: 403,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.METHOD_NOT_ALLOWED: 405,
    ErrorCode.CONFLICT: 409,
    ErrorCode.PAYLOAD_TOO_LARGE: 413,
    ErrorCode.UPSTREAM_ERROR: 502,
    ErrorCode.UNAVAILABLE: 503,
    ErrorCode.INVALID_REQUEST: 422,
    ErrorCode.INVALID_MESSAGE: 422,
    ErrorCode.EMPTY_MESSAGE: 422,
    ErrorCode.MESSAGE_TOO_LONG: 422,
    ErrorCode.INVALID_CLIENT_MESSAGE_ID: 422,
    ErrorCode.CONVERSATION_NOT_FOUND: 404,
    ErrorCode.MESSAGE_NOT_FOUND: 404,
    ErrorCode.TURN_IN_PROGRESS: 409,
    ErrorCode.CLIENT_MESSAGE_ID_REUSED: 409,
    ErrorCode.NOT_LATEST_MESSAGE: 409,
    ErrorCode.TURN_SUPERSEDED: 409,
    ErrorCode.TURN_TIMEOUT: 504,
    ErrorCode.TURN_STOPPED: 409,
    ErrorCode.APPROVAL_NOT_PENDING: 409,
    ErrorCode.MESSAGE_REPLACED: 409,
    ErrorCode.CONVERSATION_MOVED_ON: 409,
    ErrorCode.NO_TURN_RUNNING: 409,
    ErrorCode.UNDO_REFUSED: 409,
    ErrorCode.RATE_LIMITED: 429,
    ErrorCode.BUSY: 503,
    ErrorCode.SHUTTING_DOWN: 503,
    ErrorCode.DATABASE_UNAVAILABLE: 503,
    ErrorCode.MODEL_TIMEOUT: 502,
    ErrorCode.MODEL_UNREACHABLE: 502,
    ErrorCode.MODEL_AUTH: 502,
    ErrorCode.MODEL_BUSY: 502,
    ErrorCode.MODEL_ERROR: 502,
    ErrorCode.TOO_MANY_STEPS: 502,
    ErrorCode.AGENT_ERROR: 502,
    ErrorCode.INTERNAL_ERROR: 500,
}
# The code for a status when only the status is known (the framework's own errors).
_BY_STATUS: dict[int, ErrorCode] = {
    400: ErrorCode.BAD_REQUEST,
    401: ErrorCode.UNAUTHORIZED,
    403: ErrorCode.FORBIDDEN,
    404: ErrorCode.NOT_FOUND,
    405: ErrorCode.METHOD_NOT_ALLOWED,
    409: ErrorCode.CONFLICT,
    413: ErrorCode.PAYLOAD_TOO_LARGE,
    422: ErrorCode.INVALID_REQUEST,
    429: ErrorCode.RATE_LIMITED,
    500: ErrorCode.INTERNAL_ERROR,
    502: ErrorCode.UPSTREAM_ERROR,
    503: ErrorCode.UNAVAILABLE,
}


def status_of(code: str) -> int:
    """The HTTP status for an error code (502 for a code this table does not know)."""
    try:
        return STATUS[ErrorCode(code)]
    except ValueError:
        return 502


def retry_headers(retry_after: float | None) -> dict[str, str] | None:
    """Retry-After for a refusal that clears by itself."""
    return None if retry_after is None else {"Retry-After": str(max(1, round(retry_after)))}


def problem(error: TaskPilotError, **extra: object) -> JSONResponse:
    """The API's answer for a domain error: `{detail, code}` and its status."""
    return JSONResponse(
        {"detail": error.message, "code": error.code.value, **extra},
        status_code=STATUS[error.code],
        headers=retry_headers(error.retry_after),
    )


def error_response(
    status_code: int, detail: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    """The API's error body for a refusal known only by its status: `{detail, code}`."""
    code = _BY_STATUS.get(
        status_code, ErrorCode.BAD_REQUEST if status_code < 500 else ErrorCode.INTERNAL_ERROR
    )
    return JSONResponse(
        {"detail": detail, "code": code.value}, status_code=status_code, headers=headers
    )
