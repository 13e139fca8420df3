"""The confirmation before a conversation is deleted."""

from __future__ import annotations

import reflex as rx

from taskpilot.web.states.history import HistoryState


def delete_dialog() -> rx.Component:
    """Open while `HistoryState.delete_id` is set."""
    return rx.alert_dialog.root(
        rx.alert_dialog.content(
            rx.alert_dialog.title("Delete conversation?"),
            rx.alert_dialog.description(
                "“",
                HistoryState.delete_title,
                "” and its messages will be deleted. Your tasks stay as they are.",
                size="2",
            ),
            rx.flex(
                rx.alert_dialog.cancel(
                    rx.button("Cancel", variant="soft", color_scheme="gray"),
                ),
                rx.alert_dialog.action(
                    rx.button(
                        "Delete",
                        color_scheme="red",
                        # The id goes with the click: closing the dialog clears `delete_id`,
                        # and the delete runs in the background, perhaps after that.
                        on_click=HistoryState.confirm_delete(HistoryState.delete_id),  # type: ignore[misc]
                    ),
                ),
                gap="3",
                justify="end",
                margin_top="20px",
            ),
            max_width="440px",
        ),
        open=HistoryState.delete_id != "",
        on_open_change=HistoryState.set_delete_open,
    )
