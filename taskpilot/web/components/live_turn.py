"""The reply being written: tool cards and text as they stream, then Stopped or an error."""

from __future__ import annotations

import reflex as rx

from taskpilot.web.components.markdown_view import markdown_view
from taskpilot.web.components.retry_button import retry_button
from taskpilot.web.components.tool_cards import tool_cards
from taskpilot.web.components.turn_error import turn_error
from taskpilot.web.states.chat import ChatState


def _thinking() -> rx.Component:
    return rx.el.div(
        rx.el.span(),
        rx.el.span(),
        rx.el.span(),
        rx.el.span("TaskPilot is working on it", class_name="tp-sr-only"),
        class_name="tp-thinking",
    )


def _stopped() -> rx.Component:
    return rx.el.div(
        rx.icon("circle-stop", size=14),
        rx.el.span("Stopped"),
        retry_button(size="1"),
        class_name="tp-stopped",
        custom_attrs={"data-testid": "turn-stopped"},
    )


def live_turn() -> rx.Component:
    """Shown from Send until the reply is stored (or stays, marked, if stopped or failed)."""
    return rx.fragment(
        tool_cards(ChatState.live_tools),
        rx.cond(
            ChatState.streaming
            | (ChatState.live_status == "stopped")
            | (ChatState.live_text != ""),
            rx.el.div(
                rx.cond(ChatState.live_text != "", markdown_view(ChatState.live_text)),
                rx.cond(ChatState.streaming & (ChatState.live_text == ""), _thinking()),
                rx.cond(ChatState.live_status == "stopped", _stopped()),
                class_name="tp-assistant",
                custom_attrs={
                    "data-testid": "message-assistant",
                    "data-streaming": rx.cond(ChatState.streaming, "true", "false"),
                    "data-stopped": rx.cond(ChatState.live_status == "stopped", "true", "false"),
                },
            ),
        ),
        rx.cond(ChatState.live_status == "error", turn_error(ChatState.live_error)),
    )
