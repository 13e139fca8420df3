"""The copy action under an assistant message."""

from __future__ import annotations

import reflex as rx

from taskpilot.web.components.icon_action import icon_action


def copy_button(text: rx.Var[str]) -> rx.Component:
    """Copy `text` to the clipboard and say so."""
    return rx.tooltip(
        icon_action(
            "copy",
            "Copy message",
            [rx.set_clipboard(text), rx.toast("Copied to clipboard", duration=1500)],
            icon_size=14,
            box=28,
        ),
        content="Copy",
    )
