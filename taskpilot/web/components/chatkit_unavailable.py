"""What the /chatkit page says when ChatKit's script cannot load (offline, or blocked)."""

from __future__ import annotations

import reflex as rx

from taskpilot.web.routes import HOME
from taskpilot.web.states.chatkit import ChatKitState


def chatkit_unavailable() -> rx.Component:
    """A plain explanation and a way to the native chat, instead of an empty box."""
    return rx.el.div(
        rx.icon("cloud-off", size=32, color=rx.color("gray", 9)),
        rx.heading("ChatKit couldn't load", as_="h1", size="5", weight="medium"),
        rx.text(
            "Its script comes from ",
            rx.code(ChatKitState.script_host),
            ", which this browser can't reach right now: it may be offline, or the script "
            "is blocked. Your tasks and conversations are fine.",
            color_scheme="gray",
            size="2",
            max_width="440px",
        ),
        rx.hstack(
            rx.button(rx.link("Use TaskPilot chat", href=HOME), as_child=True),
            rx.button(
                "Try again",
                variant="soft",
                color_scheme="gray",
                on_click=rx.call_script("window.location.reload()"),
            ),
            spacing="2",
        ),
        class_name="tp-start",
        role="alert",
        custom_attrs={"data-testid": "chatkit-unavailable"},
    )
