"""The frame of the log-in and sign-up pages: a centred card with a form."""

from __future__ import annotations

from typing import Any

import reflex as rx

from taskpilot.web.components.brand_mark import brand_mark
from taskpilot.web.states.auth import AuthState


def form_error() -> rx.Component:
    """The form's error, read out as soon as it appears."""
    return rx.cond(
        AuthState.form_error != "",
        rx.callout(
            AuthState.form_error,
            icon="triangle-alert",
            color_scheme="red",
            size="1",
            role="alert",
        ),
    )


def auth_card(
    title: str,
    subtitle: str,
    fields: list[rx.Component],
    submit_label: str,
    on_submit: Any,
    footer: rx.Component,
) -> rx.Component:
    """A page-filling card: brand, heading, the form's fields, its error, submit, footer."""
    return rx.el.main(
        rx.el.div(
            rx.flex(
                brand_mark(22, "tp-start-mark"),
                rx.heading(title, as_="h1", size="6", weight="medium"),
                rx.text(subtitle, size="2", color_scheme="gray"),
                direction="column",
                align="center",
                gap="2",
                text_align="center",
                margin_bottom="24px",
            ),
            rx.el.form(
                rx.flex(
                    *fields,
                    form_error(),
                    rx.button(
                        submit_label,
                        type="submit",
                        size="3",
                        width="100%",
                        loading=AuthState.submitting,
                        high_contrast=True,
                    ),
                    direction="column",
                    gap="4",
                ),
                on_submit=on_submit,
                no_validate=True,
            ),
            rx.box(footer, margin_top="20px", text_align="center"),
            class_name="tp-auth-card",
        ),
        class_name="tp-auth",
    )
