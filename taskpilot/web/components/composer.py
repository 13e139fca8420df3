"""The composer: Enter sends, Shift+Enter starts a new line, a counter, Send or Stop."""

from __future__ import annotations

import reflex as rx

from taskpilot.web.states.chat import ChatState
from taskpilot.web.states.composer import COMPOSER_ID, ComposerState


def _counter() -> rx.Component:
    length = ComposerState.draft.length()
    level = rx.cond(
        length >= ChatState.max_chars,
        "full",
        rx.cond(length * 10 >= ChatState.max_chars * 9, "near", "ok"),
    )
    return rx.el.span(
        length.to_string() + " / " + ChatState.max_chars.to_string(),
        class_name="tp-count",
        title="Characters used of the limit",
        custom_attrs={"data-testid": "char-count", "data-level": level},
    )


def _send_or_stop() -> rx.Component:
    # Stop while any reply streams here, this tab's or one another tab started.
    return rx.cond(
        ChatState.streaming,
        rx.icon_button(
            rx.icon("square", size=14, fill="currentColor"),
            aria_label="Stop",
            type="button",
            on_click=ChatState.stop,
            loading=ChatState.stopping,
            radius="full",
            size="2",
            color_scheme="gray",
            variant="solid",
            high_contrast=True,
            class_name="tp-send",
        ),
        rx.icon_button(
            rx.icon("arrow-up", size=18),
            aria_label="Send",
            type="submit",
            disabled=(ComposerState.draft.strip() == "") | ChatState.streaming,
            radius="full",
            size="2",
            color_scheme="gray",
            variant="solid",
            high_contrast=True,
            class_name="tp-send",
        ),
    )


def composer() -> rx.Component:
    """The message form at the bottom of the chat column."""
    return rx.el.form(
        rx.el.div(
            rx.debounce_input(
                rx.el.textarea(
                    id=COMPOSER_ID,
                    name="message",
                    placeholder="Message TaskPilot",
                    aria_label="Message",
                    rows=1,
                    max_length=ChatState.max_chars,
                    enter_key_submit=True,
                    auto_height=True,
                    disabled=ChatState.streaming,
                    auto_focus=True,
                    value=ComposerState.draft,
                    on_change=ComposerState.set_draft,
                ),
                debounce_timeout=120,
            ),
            rx.el.div(_counter(), _send_or_stop(), class_name="tp-composer-row"),
            class_name="tp-composer",
        ),
        on_submit=ChatState.send,
        aria_label="Send a message",
    )
