"""The footer line naming the model in use (and that the offline model is rule-based)."""

from __future__ import annotations

import reflex as rx

from taskpilot.web.states.chat import ChatState


def model_note() -> rx.Component:
    """One quiet line under the composer."""
    return rx.el.p(
        ChatState.model_note,
        class_name="tp-model-note",
        custom_attrs={"data-testid": "model-note"},
    )
