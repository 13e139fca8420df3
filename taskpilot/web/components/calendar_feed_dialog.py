"""The calendar feed dialog: make the private feed URL, copy it, replace or revoke it."""

from __future__ import annotations

import reflex as rx

from taskpilot.web.states.export import ExportState

_ABOUT = (
    "Subscribe to your tasks with due dates from Google Calendar, Apple Calendar or Outlook. "
    "Anyone who has the address can see those tasks, so keep it to yourself."
)


def _url_field() -> rx.Component:
    """The new URL, selectable, with a copy button: shown once, right after it is made."""
    return rx.el.div(
        rx.el.label("Calendar feed URL", html_for="calendar-feed-url"),
        rx.flex(
            rx.input(
                id="calendar-feed-url",
                value=ExportState.feed_url,
                read_only=True,
                size="2",
                flex="1",
                min_width="0",
                custom_attrs={"onFocus": rx.Var("(event) => event.target.select()")},
            ),
            rx.button(
                rx.icon("copy", size=14),
                "Copy URL",
                type="button",
                variant="soft",
                on_click=[
                    rx.set_clipboard(ExportState.feed_url),
                    rx.toast("Copied to clipboard", duration=1500),
                ],
            ),
            gap="2",
            align="center",
        ),
        rx.text(
            "This is the only time it is shown. Paste it where your calendar app asks for a "
            "calendar “from URL” or “subscription”.",
            size="1",
            color_scheme="gray",
        ),
        class_name="tp-field",
    )


def _status() -> rx.Component:
    return rx.cond(
        ExportState.feed_url != "",
        _url_field(),
        rx.text(
            rx.cond(
                ExportState.feed_since != "",
                "Your feed has been on since " + ExportState.feed_since + ". Its URL was shown "
                "when it was made; replacing it shows a new one and stops the old one.",
                "You have no calendar feed.",
            ),
            size="2",
            custom_attrs={"data-testid": "calendar-feed-status"},
        ),
    )


def calendar_feed_dialog() -> rx.Component:
    """Open while `ExportState.feed_open`."""
    active = ExportState.feed_since != ""
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title("Calendar feed"),
            rx.dialog.description(_ABOUT, size="2", margin_bottom="12px"),
            _status(),
            rx.cond(
                ExportState.feed_error != "",
                rx.callout(
                    ExportState.feed_error,
                    icon="triangle-alert",
                    color_scheme="red",
                    role="alert",
                    size="1",
                    margin_top="12px",
                ),
            ),
            rx.flex(
                rx.cond(
                    active,
                    rx.button(
                        "Revoke feed",
                        type="button",
                        color_scheme="red",
                        variant="soft",
                        on_click=ExportState.revoke_feed,
                        loading=ExportState.feed_busy,
                    ),
                ),
                rx.button(
                    rx.cond(active, "Replace feed URL", "Create feed URL"),
                    type="button",
                    on_click=ExportState.create_feed,
                    loading=ExportState.feed_busy,
                ),
                rx.dialog.close(
                    rx.button("Close", type="button", variant="soft", color_scheme="gray"),
                ),
                gap="3",
                justify="end",
                wrap="wrap",
                margin_top="20px",
            ),
            max_width="520px",
        ),
        open=ExportState.feed_open,
        on_open_change=ExportState.set_feed_open,
    )
