"""The light/dark toggle."""

from __future__ import annotations

import reflex as rx

from taskpilot.web.components.icon_action import icon_action


def theme_toggle() -> rx.Component:
    """A button that switches between light and dark mode."""
    return rx.tooltip(
        icon_action(
            rx.color_mode_cond(light=rx.icon("moon", size=19), dark=rx.icon("sun", size=19)),
            "Toggle theme",
            rx.toggle_color_mode,
            box=36,
        ),
        content="Light or dark",
    )
