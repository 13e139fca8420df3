"""The person's message: a bubble on the right, its time on hover."""

from __future__ import annotations

import reflex as rx
from reflex.vars import ObjectVar

from taskpilot.web.components.timestamp import timestamp
from taskpilot.web.view_models import MessageView


def user_message(message: ObjectVar[MessageView]) -> rx.Component:
    """The bubble holds only the text (rendered as text, never as HTML)."""
    return rx.el.div(
        rx.el.div(
            message.content,
            class_name="tp-bubble",
            custom_attrs={"data-testid": "message-user"},
        ),
        rx.el.div(timestamp(message.created_at), class_name="tp-meta"),
        class_name="tp-user-row",
        id=f"message-{message.key}",  # `message_element_id`: "Show earlier messages" returns here
    )
