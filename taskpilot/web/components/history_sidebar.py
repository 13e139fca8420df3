"""The thread-history sidebar: the person's conversations, newest first."""

from __future__ import annotations

import reflex as rx

from taskpilot.web.components.brand_mark import brand_mark
from taskpilot.web.components.conversation_item import conversation_item
from taskpilot.web.components.drawer_focus import CLOSE_ON_ESCAPE
from taskpilot.web.components.icon_action import icon_action
from taskpilot.web.states.history import HistoryState
from taskpilot.web.states.layout import LayoutState


def history_sidebar() -> rx.Component:
    """The sidebar (a drawer on narrow screens, see assets/taskpilot.css)."""
    return rx.el.div(
        rx.el.div(
            rx.el.div(brand_mark(), "TaskPilot", class_name="tp-brand"),
            icon_action(
                "x",
                "Close history",
                LayoutState.toggle_history,
                icon_size=18,
                class_name="tp-drawer-close",
            ),
            class_name="tp-panel-head",
        ),
        rx.el.nav(
            rx.cond(
                HistoryState.history_error != "",
                rx.el.div(HistoryState.history_error, class_name="tp-history-empty", role="alert"),
            ),
            rx.foreach(HistoryState.conversations, conversation_item),
            rx.cond(
                HistoryState.conversations.length() == 0,
                rx.el.div("No conversations yet.", class_name="tp-history-empty"),
            ),
            aria_label="Conversations",
            class_name="tp-history-nav",
        ),
        class_name="tp-history",
        id="history",
        custom_attrs={"onKeyDown": CLOSE_ON_ESCAPE},
    )
