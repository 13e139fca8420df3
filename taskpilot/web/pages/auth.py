"""The log-in and sign-up pages."""

from __future__ import annotations

import reflex as rx

from taskpilot.web.components.auth_card import auth_card
from taskpilot.web.components.form_field import form_field
from taskpilot.web.routes import LOGIN, SIGNUP
from taskpilot.web.states.auth import AuthState


def login_page() -> rx.Component:
    """Email and password."""
    return auth_card(
        "Log in to TaskPilot",
        "Your task list, one message away.",
        [
            form_field("Email", "email", type_="email", auto_complete="email", auto_focus=True),
            form_field("Password", "password", type_="password", auto_complete="current-password"),
        ],
        "Log in",
        AuthState.log_in,
        rx.text(
            "New to TaskPilot? ",
            rx.link("Create an account", href=SIGNUP, on_click=AuthState.clear_form_error),
            size="2",
        ),
    )


def signup_page() -> rx.Component:
    """Name (optional), email and password."""
    return auth_card(
        "Create your account",
        "Sign up to keep your tasks and conversations.",
        [
            form_field(
                "Name", "name", auto_complete="name", placeholder="Optional", auto_focus=True
            ),
            form_field("Email", "email", type_="email", auto_complete="email"),
            form_field(
                "Password",
                "password",
                type_="password",
                auto_complete="new-password",
                placeholder="At least 8 characters",
            ),
        ],
        "Create account",
        AuthState.sign_up,
        rx.text(
            "Already have an account? ",
            rx.link("Log in", href=LOGIN, on_click=AuthState.clear_form_error),
            size="2",
        ),
    )
