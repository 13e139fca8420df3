"""The pages' routes (docs/ui-contract.md), and the conversation or thread id in a path."""

from __future__ import annotations

import json
import re
from typing import Any

import reflex as rx

HOME = "/"
LOGIN = "/login"
SIGNUP = "/signup"
CONVERSATION = "/c/[conversation_id]"
CHATKIT = "/chatkit"
CHATKIT_THREAD = "/chatkit/[thread_id]"

_ID = r"[A-Za-z0-9_-]{1,64}"
_CONVERSATION_PATH = re.compile(rf"^/c/({_ID})/?$")
_CHATKIT_PATH = re.compile(rf"^/chatkit/({_ID})/?$")


def replace_url(path: str) -> Any:
    """An event that puts `path` in the address bar in place: no route change, no reload."""
    return rx.call_script(
        f"window.history.replaceState(window.history.state, '', {json.dumps(path)})"
    )


def conversation_path(conversation_id: str) -> str:
    """The URL path of a conversation."""
    return f"/c/{conversation_id}"


def conversation_id_from_path(path: str) -> str:
    """The conversation id in a `/c/<id>` path; "" for any other path."""
    match = _CONVERSATION_PATH.match(path or "")
    return match.group(1) if match else ""


def chatkit_path(thread_id: str) -> str:
    """The URL path of the ChatKit page showing a thread (`/chatkit` for a new one, or for
    anything that is not a thread id)."""
    return f"{CHATKIT}/{thread_id}" if re.fullmatch(_ID, thread_id or "") else CHATKIT


def thread_id_from_path(path: str) -> str:
    """The thread id in a `/chatkit/<id>` path; "" for any other path."""
    match = _CHATKIT_PATH.match(path or "")
    return match.group(1) if match else ""
