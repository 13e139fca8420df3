"""The start screen of a new chat: a greeting and prompt chips."""

from __future__ import annotations

import reflex as rx

from taskpilot.web.components.brand_mark import brand_mark
from taskpilot.web.components.prompt_chip import prompt_chip
from taskpilot.web.prompts import PROMPTS
from taskpilot.web.states.chat import ChatState


def start_screen() -> rx.Component:
    """Shown in place of the messages until the first one is sent."""
    return rx.el.div(
        brand_mark(22, "tp-start-mark"),
        rx.heading(ChatState.greeting, as_="h1", size="7", weight="medium"),
        rx.text(
            "Tell me what to add, finish, change or find — I keep your task list.",
            color_scheme="gray",
            size="3",
        ),
        rx.el.div(*(prompt_chip(icon, prompt) for icon, prompt in PROMPTS), class_name="tp-chips"),
        class_name="tp-start",
    )
