"""A stored assistant reply: its tool cards, then the Markdown text with copy and time."""

from __future__ import annotations

import reflex as rx
from reflex.vars import ObjectVar

from taskpilot.web.components.copy_button import copy_button
from taskpilot.web.components.markdown_view import markdown_view
from taskpilot.web.components.timestamp import timestamp
from taskpilot.web.components.tool_cards import tool_cards
from taskpilot.web.view_models import MessageView


def assistant_message(message: ObjectVar[MessageView]) -> rx.Component:
    """One finished reply."""
    return rx.fragment(
        tool_cards(message.tool_calls),
        rx.el.div(
            rx.cond(message.content != "", markdown_view(message.content)),
            rx.el.div(
                copy_button(message.content),
                timestamp(message.created_at),
                class_name="tp-meta",
            ),
            class_name="tp-assistant",
            id=f"message-{message.key}",  # `message_element_id`
            custom_attrs={"data-testid": "message-assistant", "data-streaming": "false"},
        ),
    )
