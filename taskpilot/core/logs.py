"""TaskPilot's logs: one JSON object a line (or plain text), each with the request id.

The request id is set once per HTTP request (`RequestContext` middleware) and per page
event, and travels with the work it starts (asyncio tasks copy the context), so a turn's
lines, even from the task that outlives its request, share the id of the request that began
it. What is logged is metadata: ids, codes, timings. Message text, task titles and tokens
are not put in log records at info level, and known secret shapes are masked in any record
(a defence against a library quoting a key in an exception).

Database errors quote the statement they failed on. TaskPilot's engines are made with
`hide_parameters=True`, so they never quote its values; in case an error from elsewhere does
(an engine made without it, PostgreSQL's "Failing row contains (…)"), the formatters cut the
values out of every line: the statement stays, for the operator, and its values go.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import uuid
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, TextIO

from taskpilot.core.config import Settings

request_id: ContextVar[str] = ContextVar("taskpilot_request_id", default="-")

_VALID_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
# Bearer tokens, JWTs, OpenAI-style keys, calendar feed secrets (in their URLs' paths),
# passwords in URLs.
_SECRETS = re.compile(
    r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+"
    r"|\btpcal_[A-Za-z0-9_-]+"
    r"|eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]+"
    r"|\b(sk|rk|ek)-[A-Za-z0-9_-]{12,}"
    r"|(://[^:/@\s]+:)[^@\s]+@"
)
# The values a database error can quote: SQLAlchemy's `[parameters: …]` block, one line of
# reprs (a repr never spans lines), and PostgreSQL's DETAIL line ("Failing row contains (…)",
# "Key (email)=(…) already exists"). Each is cut to the end of its line: in a message that
# quotes an error with `%r`, that is more than the values, which is the safe way to be wrong.
_SQL_PARAMETERS = re.compile(r"\[parameters: .*")
_SQL_DETAIL = re.compile(r"DETAIL: .*")
# Attributes every LogRecord has; anything else on a record came from `extra=`.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


def new_request_id(proposed: str | None = None) -> str:
    """The id a proxy sent (X-Request-ID), when it is a sane one; otherwise a fresh one."""
    if proposed and _VALID_ID.match(proposed):
        return proposed
    return uuid.uuid4().hex


def mask_secrets(text: str) -> str:
    """`text` with anything shaped like a token, key or URL password replaced by `***`."""

    def masked(match: re.Match[str]) -> str:
        if match.group(1):
            return f"{match.group(1)}***"
        if match.group(3):
            return f"{match.group(3)}***@"
        return "***"

    return _SECRETS.sub(masked, text)


def without_sql_values(text: str) -> str:
    """`text` with the values a database error quotes (its bound parameters, PostgreSQL's
    DETAIL line) cut out, and the statement kept."""
    text = _SQL_PARAMETERS.sub("[parameters hidden]", text)
    return _SQL_DETAIL.sub("DETAIL: (hidden)", text)


class _RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = request_id.get()
        return True


class JsonFormatter(logging.Formatter):
    """A record as one JSON object: time, level, logger, message, request id, extras."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": without_sql_values(record.getMessage()),
            "request_id": getattr(record, "request_id", request_id.get()),
            "pid": record.process,  # which worker
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and key not in entry:
                entry[key] = (
                    value
                    if isinstance(value, int | float | bool | None)
                    else without_sql_values(str(value))
                )
        if record.exc_info:
            entry["error"] = without_sql_values(self.formatException(record.exc_info))
        # Cut per value, before JSON escapes the newlines that end each quoted block.
        return mask_secrets(json.dumps(entry, ensure_ascii=False))


class TextFormatter(logging.Formatter):
    """`time level logger [request id] message key=value…`, for reading in a terminal."""

    def format(self, record: logging.LogRecord) -> str:
        extras = " ".join(
            f"{key}={value}"
            for key, value in vars(record).items()
            if key not in _STANDARD and key != "request_id"
        )
        line = (
            f"{datetime.fromtimestamp(record.created, UTC):%H:%M:%S} {record.levelname:<7} "
            f"{record.name} [{getattr(record, 'request_id', '-')}] {record.getMessage()}"
        )
        if extras:
            line = f"{line} {extras}"
        if record.exc_info:
            line = f"{line}\n{self.formatException(record.exc_info)}"
        return mask_secrets(without_sql_values(line))


def configure(settings: Settings, stream: TextIO | None = None) -> logging.Logger:
    """Send the `taskpilot` loggers to `stream` (stderr) in the configured format and level.

    Idempotent: a second call replaces the handler rather than adding another.
    """
    root = logging.getLogger("taskpilot")
    for handler in list(root.handlers):
        if getattr(handler, "_taskpilot", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler._taskpilot = True  # type: ignore[attr-defined]
    handler.addFilter(_RequestIdFilter())
    handler.setFormatter(JsonFormatter() if settings.log_format == "json" else TextFormatter())
    root.addHandler(handler)
    root.setLevel(settings.log_level.upper())
    root.propagate = False  # Granian/Reflex configure the root logger; don't print twice
    return root
