"""A labelled input for the sign-up and log-in forms."""

from __future__ import annotations

import reflex as rx

from taskpilot.web.states.auth import AuthState


def form_field(
    label: str,
    name: str,
    *,
    type_: str = "text",
    auto_complete: str = "off",
    placeholder: str = "",
    auto_focus: bool = False,
) -> rx.Component:
    """A `<label>` tied to its input, so the input is found (and read out) by its label."""
    field_id = f"field-{name}"
    return rx.el.div(
        rx.el.label(label, html_for=field_id),
        rx.input(
            id=field_id,
            name=name,
            type=type_,
            auto_complete=auto_complete,
            placeholder=placeholder,
            auto_focus=auto_focus,
            size="3",
            on_change=AuthState.clear_form_error,
        ),
        class_name="tp-field",
    )
