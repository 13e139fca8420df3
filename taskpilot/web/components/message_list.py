"""The conversation: stored messages, then the live turn, in a `log` region."""

from __future__ import annotations

import reflex as rx
from reflex.vars import ObjectVar

from taskpilot.web.components.assistant_message import assistant_message
from taskpilot.web.components.live_turn import live_turn
from taskpilot.web.components.turn_error import turn_error
from taskpilot.web.components.user_message import user_message
from taskpilot.web.states.chat import ChatState
from taskpilot.web.view_models import MessageView


def _row(message: ObjectVar[MessageView]) -> rx.Component:
    return rx.cond(
        message.role == "user",
        rx.fragment(
            user_message(message),
            rx.cond(
                message.failed,
                turn_error(message.error, message.key == ChatState.retry_key),
            ),
        ),
        assistant_message(message),
    )


def message_list() -> rx.Component:
    """Screen readers hear new messages politely; not every token while one streams."""
    return rx.el.div(
        rx.foreach(ChatState.messages, _row),
        live_turn(),
        role="log",
        aria_label="Messages",
        aria_busy=rx.cond(ChatState.streaming, "true", "false"),
        class_name="tp-messages",
    )
