"""The chat header: history toggle, the conversation's title, and the page's actions."""

from __future__ import annotations

import reflex as rx

from taskpilot.web.components.drawer_focus import focus_drawer
from taskpilot.web.components.header_actions import header_actions
from taskpilot.web.components.header_button import header_button
from taskpilot.web.routes import CHATKIT, HOME
from taskpilot.web.states.history import HistoryState
from taskpilot.web.states.layout import LayoutState


def header() -> rx.Component:
    """The bar across the top of the chat column."""
    return rx.el.header(
        header_button(
            "panel-left",
            "Toggle history",
            [LayoutState.toggle_history, focus_drawer("history")],
            "History",
        ),
        rx.el.div(
            rx.cond(HistoryState.current_title != "", HistoryState.current_title, "TaskPilot"),
            class_name="tp-header-title",
        ),
        header_actions(
            header_button("square-pen", "New chat", rx.redirect(HOME), "New chat"),
            header_button(
                "app-window", "Open in ChatKit", rx.redirect(CHATKIT), "OpenAI's ChatKit view"
            ),
        ),
        class_name="tp-header",
    )
