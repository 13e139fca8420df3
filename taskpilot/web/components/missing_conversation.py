"""What a conversation URL shows when it names no conversation of the person's."""

from __future__ import annotations

import reflex as rx

from taskpilot.web.routes import HOME


def missing_conversation() -> rx.Component:
    """A friendly dead end with a way back to a new chat."""
    return rx.el.div(
        rx.icon("message-square-dashed", size=32, color=rx.color("gray", 9)),
        rx.heading("This conversation isn't here", as_="h1", size="5", weight="medium"),
        rx.text(
            "It may have been deleted, or it belongs to another account.",
            color_scheme="gray",
            size="2",
        ),
        rx.button("Start a new chat", variant="soft", on_click=rx.redirect(HOME)),
        class_name="tp-start",
    )
