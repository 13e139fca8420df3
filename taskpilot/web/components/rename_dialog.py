"""The dialog that renames a conversation."""

from __future__ import annotations

import reflex as rx

from taskpilot.services.conversations import MAX_CONVERSATION_TITLE
from taskpilot.web.states.history import HistoryState

# Select the whole title when the field gets focus, so typing replaces it.
_SELECT_ALL: rx.Var = rx.Var("(event) => event.target.select()")


def rename_dialog() -> rx.Component:
    """Open while `HistoryState.rename_id` is set; Enter or Save renames."""
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title("Rename conversation"),
            rx.el.form(
                rx.el.div(
                    rx.el.label("Conversation title", html_for="rename-title"),
                    rx.input(
                        id="rename-title",
                        name="title",
                        default_value=HistoryState.rename_title,
                        max_length=MAX_CONVERSATION_TITLE,
                        auto_focus=True,
                        auto_complete="off",
                        size="3",
                        custom_attrs={"onFocus": _SELECT_ALL},
                    ),
                    class_name="tp-field",
                ),
                rx.cond(
                    HistoryState.rename_error != "",
                    rx.callout(
                        HistoryState.rename_error,
                        icon="triangle-alert",
                        color_scheme="red",
                        role="alert",
                        size="1",
                        margin_top="12px",
                    ),
                ),
                rx.flex(
                    rx.dialog.close(
                        rx.button("Cancel", type="button", variant="soft", color_scheme="gray"),
                    ),
                    rx.button("Save", type="submit"),
                    gap="3",
                    justify="end",
                    margin_top="20px",
                ),
                on_submit=HistoryState.save_rename,
            ),
            max_width="440px",
        ),
        open=HistoryState.rename_id != "",
        on_open_change=HistoryState.set_rename_open,
    )
