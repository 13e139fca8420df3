"""Pins for the workarounds TaskPilot carries for bugs in the libraries it uses, each written
up for its project in `docs/upstream/`. A pin that fails means the library changed: read the
write-up, then drop the workaround (or adapt it) rather than the pin."""

from __future__ import annotations

from typing import Any

import pytest
from agents.exceptions import UserError
from agents.models.chatcmpl_converter import Converter

from taskpilot.agent.engine.approvals import _plain_history

# An earlier reply as `RunState.to_json` (openai-agents 0.24) writes it into `original_input`.
AS_SNAPSHOTTED: dict[str, Any] = {
    "role": "assistant",
    "content": [{"type": "output_text", "text": "Hi.", "annotations": []}],
    "status": "completed",
}


def test_the_chat_completions_converter_still_refuses_what_run_state_writes() -> None:
    """docs/upstream/openai-agents-runstate-assistant-messages.md: resuming a paused run on a
    Chat Completions model fails on the snapshot's own earlier replies."""
    with pytest.raises(UserError, match="Unhandled item type"):
        Converter.items_to_messages([{"role": "user", "content": "hello"}, AS_SNAPSHOTTED])


def test_the_snapshot_is_given_back_its_plain_replies() -> None:
    snapshot = {"original_input": [{"role": "user", "content": "hello"}, AS_SNAPSHOTTED]}
    plain = _plain_history(snapshot)["original_input"]
    assert plain == [{"role": "user", "content": "hello"}, {"role": "assistant", "content": "Hi."}]
    assert Converter.items_to_messages(plain) == plain
