"""Retry: run the last turn again (same client message id, so nothing is sent twice)."""

from __future__ import annotations

from typing import Literal

import reflex as rx

from taskpilot.web.states.chat import ChatState


def retry_button(size: Literal["1", "2"] = "2") -> rx.Component:
    """The Retry button under a failed or stopped turn."""
    return rx.button(
        rx.icon("rotate-ccw", size=14),
        "Retry",
        on_click=ChatState.retry,
        variant="soft",
        color_scheme="gray",
        size=size,
    )
