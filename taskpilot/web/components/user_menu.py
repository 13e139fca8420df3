"""The account menu: who is signed in, and log out."""

from __future__ import annotations

import reflex as rx

from taskpilot.web.states.auth import AuthState


def user_menu() -> rx.Component:
    """A round button with the person's initials that opens a menu with Log out."""
    return rx.dropdown_menu.root(
        rx.dropdown_menu.trigger(
            rx.icon_button(
                rx.el.span(AuthState.initials, style={"fontSize": "12px", "fontWeight": 600}),
                aria_label="Account menu",
                radius="full",
                variant="soft",
                color_scheme="gray",
                size="2",
            ),
        ),
        rx.dropdown_menu.content(
            rx.box(
                rx.text(AuthState.user_name, size="2", weight="medium", truncate=True),
                rx.text(AuthState.user_email, size="1", color_scheme="gray", truncate=True),
                padding="6px 8px",
                max_width="240px",
            ),
            rx.dropdown_menu.separator(),
            rx.dropdown_menu.item(
                rx.icon("log-out", size=14), "Log out", on_select=AuthState.log_out
            ),
            align="end",
        ),
    )
