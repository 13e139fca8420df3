"""The app's pages; `register` adds them to the Reflex app with their routes and loaders."""

from __future__ import annotations

import reflex as rx

from taskpilot.web.pages.auth import login_page, signup_page
from taskpilot.web.pages.chat import chat_page
from taskpilot.web.pages.chatkit import chatkit_page
from taskpilot.web.routes import CHATKIT, CHATKIT_THREAD, CONVERSATION, HOME, LOGIN, SIGNUP
from taskpilot.web.states.auth import AuthState
from taskpilot.web.states.chat import ChatState
from taskpilot.web.states.chatkit import ChatKitState
from taskpilot.web.states.live import LiveState

TITLE = "TaskPilot"


def register(app: rx.App) -> None:
    """Add the chat, ChatKit, log-in and sign-up pages (routes per docs/ui-contract.md)."""
    for route in (HOME, CONVERSATION):
        app.add_page(
            chat_page, route=route, title=TITLE, on_load=[ChatState.load_page, LiveState.watch]
        )
    for route in (CHATKIT, CHATKIT_THREAD):
        app.add_page(
            chatkit_page,
            route=route,
            title=f"ChatKit · {TITLE}",
            on_load=[ChatKitState.load_page, LiveState.watch(False)],  # type: ignore[misc]
        )
    app.add_page(
        login_page, route=LOGIN, title=f"Log in · {TITLE}", on_load=AuthState.redirect_if_signed_in
    )
    app.add_page(
        signup_page,
        route=SIGNUP,
        title=f"Create an account · {TITLE}",
        on_load=AuthState.redirect_if_signed_in,
    )
