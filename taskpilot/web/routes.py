"""The page's routes (docs/ui-contract.md) and reading a conversation id from a path."""

from __future__ import annotations

import re

HOME = "/"
LOGIN = "/login"
SIGNUP = "/signup"
CONVERSATION = "/c/[conversation_id]"

_CONVERSATION_PATH = re.compile(r"^/c/([A-Za-z0-9_-]{1,64})/?$")


def conversation_path(conversation_id: str) -> str:
    """The URL path of a conversation."""
    return f"/c/{conversation_id}"


def conversation_id_from_path(path: str) -> str:
    """The conversation id in a `/c/<id>` path; "" for any other path."""
    match = _CONVERSATION_PATH.match(path or "")
    return match.group(1) if match else ""
