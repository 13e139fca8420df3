"""The inline editor that opens in place of the person's message: its text, Save and Cancel
(Enter saves, Shift+Enter starts a new line, Esc cancels)."""

from __future__ import annotations

import reflex as rx

from taskpilot.web.states.chat import ChatState
from taskpilot.web.states.edits import EDITOR_ID, EditState

# Esc in the editor cancels the edit, and goes no further (it would stop a streaming reply).
_CANCEL_ON_ESCAPE: rx.Var = rx.Var(
    "((event) => { if (event.key !== 'Escape' || event.nativeEvent.isComposing) return;"
    " event.stopPropagation(); event.preventDefault();"
    " event.currentTarget.querySelector('[data-edit-cancel]').click(); })"
)


def message_editor() -> rx.Component:
    """In place of the message being edited (`EditState.editing`)."""
    return rx.el.form(
        rx.el.textarea(
            id=EDITOR_ID,
            name="message",
            aria_label="Edit message",
            rows=2,
            max_length=ChatState.max_chars,
            enter_key_submit=True,
            auto_height=True,
            # Uncontrolled: what is typed is read on Save, with no round trip per keystroke
            # (a controlled value lags the server, and Save could read the old text).
            default_value=EditState.draft,
            class_name="tp-edit-text",
        ),
        rx.el.div(
            rx.button(
                "Cancel",
                type="button",
                variant="soft",
                color_scheme="gray",
                on_click=EditState.cancel,
                custom_attrs={"data-edit-cancel": ""},
            ),
            rx.button("Save", type="submit", high_contrast=True),
            class_name="tp-edit-actions",
        ),
        on_submit=EditState.save,
        reset_on_submit=False,
        class_name="tp-edit",
        # On the form: the textarea's own key handler is Reflex's (Enter saves).
        custom_attrs={"data-testid": "message-editor", "onKeyDown": _CANCEL_ON_ESCAPE},
    )
