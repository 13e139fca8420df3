"""The account menu: who is signed in, export (CSV and the calendar feed), keyboard shortcuts,
and log out."""

from __future__ import annotations

import reflex as rx

from taskpilot.web.components.calendar_feed_dialog import calendar_feed_dialog
from taskpilot.web.components.shortcuts_dialog import OPEN_FROM_MENU, shortcuts_dialog
from taskpilot.web.states.auth import AuthState
from taskpilot.web.states.export import ExportState


def user_menu() -> rx.Component:
    """A round button with the person's initials that opens a menu: export, shortcuts, log out."""
    menu = rx.dropdown_menu.root(
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
                rx.icon("download", size=14),
                "Export tasks (CSV)",
                on_select=ExportState.download_csv,
            ),
            rx.dropdown_menu.item(
                rx.icon("calendar", size=14), "Calendar feed…", on_select=ExportState.open_feed
            ),
            rx.dropdown_menu.item(
                rx.icon("keyboard", size=14),
                "Keyboard shortcuts",
                on_select=rx.call_script(OPEN_FROM_MENU),
            ),
            rx.dropdown_menu.separator(),
            rx.dropdown_menu.item(
                rx.icon("log-out", size=14), "Log out", on_select=AuthState.log_out
            ),
            align="end",
        ),
    )
    # The dialogs sit beside the menu: the menu's content is gone once it closes.
    return rx.fragment(menu, calendar_feed_dialog(), shortcuts_dialog())
