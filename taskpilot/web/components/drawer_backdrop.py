"""The dimmed backdrop behind a drawer on a narrow screen; clicking it closes the drawer."""

from __future__ import annotations

import reflex as rx

from taskpilot.web.states.layout import LayoutState


def drawer_backdrop() -> rx.Component:
    """A full-screen scrim, shown by CSS only while a drawer is open on a narrow screen."""
    return rx.el.div(
        class_name="tp-backdrop",
        aria_hidden="true",
        on_click=LayoutState.close_drawers(True),  # type: ignore[operator]
    )
