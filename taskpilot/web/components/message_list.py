"""The conversation: stored messages, then the live turn, in a `log` region. A question whose
turn waits for the person's approval carries that turn's cards (Approve, Cancel) under it."""

from __future__ import annotations

import reflex as rx
from reflex.vars import ObjectVar

from taskpilot.web.components.assistant_message import assistant_message
from taskpilot.web.components.live_turn import live_turn
from taskpilot.web.components.markdown_view import markdown_view
from taskpilot.web.components.tool_cards import tool_cards
from taskpilot.web.components.turn_error import turn_error
from taskpilot.web.components.user_message import user_message
from taskpilot.web.states.chat import ChatState
from taskpilot.web.view_models import MessageView


def _paused_turn(message: ObjectVar[MessageView]) -> rx.Component:
    """What the question's turn did and said before it paused for the person."""
    return rx.fragment(
        tool_cards(message.tool_calls),
        rx.cond(
            message.reply_so_far != "",
            rx.el.div(
                markdown_view(message.reply_so_far),
                class_name="tp-assistant",
                custom_attrs={"data-testid": "message-assistant", "data-streaming": "false"},
            ),
        ),
    )


def _row(message: ObjectVar[MessageView]) -> rx.Component:
    return rx.cond(
        message.role == "user",
        rx.fragment(
            user_message(message),
            rx.cond(
                message.failed,
                turn_error(message.error, message.key == ChatState.retry_key),
            ),
            rx.cond(message.awaiting, _paused_turn(message)),
        ),
        assistant_message(message),
    )


def _notice() -> rx.Component:
    """A short note about what the person just did (not an error), read out politely."""
    return rx.cond(
        ChatState.notice != "",
        rx.el.div(
            rx.icon("info", size=14, aria_hidden="true"),
            rx.el.span(ChatState.notice),
            role="status",
            class_name="tp-notice",
            custom_attrs={"data-testid": "turn-notice"},
        ),
    )


def _earlier() -> rx.Component:
    """A long chat shows its newest messages; this loads the page before the earliest shown
    (pressed, or by itself once scrolled into view: `assets/earlier.js`)."""
    return rx.cond(
        ChatState.has_earlier,
        rx.el.button(
            "Show earlier messages",
            type="button",
            on_click=ChatState.load_earlier,
            class_name="tp-earlier",
            custom_attrs={"data-testid": "load-earlier"},
        ),
    )


def message_list() -> rx.Component:
    """Screen readers hear new messages politely; not every token while one streams."""
    return rx.el.div(
        _earlier(),
        rx.foreach(ChatState.messages, _row),
        live_turn(),
        _notice(),
        role="log",
        aria_label="Messages",
        aria_busy=rx.cond(ChatState.streaming, "true", "false"),
        class_name="tp-messages",
    )
