"""A suggested prompt on the start screen; clicking it sends the prompt."""

from __future__ import annotations

import reflex as rx

from taskpilot.web.states.chat import ChatState


def prompt_chip(icon: str, prompt: str) -> rx.Component:
    """A button that sends `prompt` as if typed."""
    return rx.el.button(
        rx.icon(icon, size=18),
        rx.el.span(prompt),
        type="button",
        class_name="tp-chip",
        on_click=ChatState.send_prompt(prompt),  # type: ignore[operator]
        disabled=ChatState.streaming,
        custom_attrs={"data-testid": "prompt-chip"},
    )
