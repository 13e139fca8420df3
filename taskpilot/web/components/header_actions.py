"""The right-hand end of a page header: the page's own actions, then tasks, theme, account."""

from __future__ import annotations

import reflex as rx

from taskpilot.web.components.drawer_focus import focus_drawer
from taskpilot.web.components.header_button import header_button
from taskpilot.web.components.theme_toggle import theme_toggle
from taskpilot.web.components.user_menu import user_menu
from taskpilot.web.states.layout import LayoutState


def header_actions(*own: rx.Component) -> rx.Component:
    """`own` actions first, then the ones every signed-in page has."""
    return rx.el.div(
        *own,
        header_button(
            "list-todo",
            "Toggle tasks",
            [LayoutState.toggle_tasks, focus_drawer("tasks")],
            "Tasks",
        ),
        theme_toggle(),
        user_menu(),
        class_name="tp-header-actions",
    )
