"""A failed turn: a readable reason and, when it can be run again, Retry."""

from __future__ import annotations

from typing import Any

import reflex as rx

from taskpilot.web.components.retry_button import retry_button


def turn_error(message: Any, can_retry: Any = True) -> rx.Component:
    """An inline alert under the user's message."""
    return rx.el.div(
        rx.callout.root(
            rx.callout.icon(rx.icon("triangle-alert", size=16)),
            rx.callout.text(message),
            color_scheme="red",
            variant="surface",
            size="1",
            flex="1",
        ),
        rx.cond(can_retry, retry_button()),
        role="alert",
        display="flex",
        align_items="center",
        gap="10px",
        custom_attrs={"data-testid": "turn-error"},
    )
