"""The chat page (`/` and `/c/<id>`): history, the conversation, the composer, tasks."""

from __future__ import annotations

import reflex as rx

from taskpilot.web.components.composer import composer
from taskpilot.web.components.delete_dialog import delete_dialog
from taskpilot.web.components.drawer_backdrop import drawer_backdrop
from taskpilot.web.components.header import header
from taskpilot.web.components.history_sidebar import history_sidebar
from taskpilot.web.components.message_list import message_list
from taskpilot.web.components.missing_conversation import missing_conversation
from taskpilot.web.components.model_note import model_note
from taskpilot.web.components.rename_dialog import rename_dialog
from taskpilot.web.components.skip_link import skip_link
from taskpilot.web.components.start_screen import start_screen
from taskpilot.web.components.task_panel import task_panel
from taskpilot.web.states.chat import ChatState
from taskpilot.web.states.layout import LayoutState


def _conversation() -> rx.Component:
    return rx.cond(
        ChatState.missing,
        missing_conversation(),
        rx.cond(
            (ChatState.messages.length() == 0) & (ChatState.live_status == ""),
            start_screen(),
            message_list(),
        ),
    )


def chat_page() -> rx.Component:
    """ChatKit's layout: sidebar | header, messages, composer | task panel."""
    return rx.el.div(
        skip_link(),
        history_sidebar(),
        rx.el.main(
            header(),
            rx.cond(
                ChatState.load_error != "",
                rx.callout(
                    ChatState.load_error,
                    icon="triangle-alert",
                    color_scheme="red",
                    role="alert",
                    margin="0 16px",
                ),
            ),
            rx.auto_scroll(
                rx.el.div(_conversation(), class_name="tp-column"),
                class_name="tp-scroll",
            ),
            rx.el.div(
                rx.el.div(composer(), model_note(), class_name="tp-column"),
                class_name="tp-bottom",
            ),
            class_name="tp-main",
        ),
        task_panel(),
        drawer_backdrop(),
        rename_dialog(),
        delete_dialog(),
        class_name="tp-app",
        custom_attrs={
            "data-history-toggled": rx.cond(LayoutState.history_toggled, "true", "false"),
            "data-tasks-toggled": rx.cond(LayoutState.tasks_toggled, "true", "false"),
        },
    )
