"""The ChatKit page (`/chatkit`, `/chatkit/<thread>`): OpenAI's ChatKit component in the app's
frame, beside the same task panel as the native chat."""

from __future__ import annotations

import reflex as rx

from taskpilot.web.components.chatkit_embed import chatkit_embed
from taskpilot.web.components.chatkit_header import chatkit_header
from taskpilot.web.components.chatkit_unavailable import chatkit_unavailable
from taskpilot.web.components.drawer_backdrop import drawer_backdrop
from taskpilot.web.components.task_panel import task_panel
from taskpilot.web.prompts import chatkit_prompts
from taskpilot.web.states.chatkit import CHATKIT_API, CHATKIT_SESSIONS, PLACEHOLDER, ChatKitState
from taskpilot.web.states.layout import LayoutState


def _chatkit() -> rx.Component:
    return chatkit_embed(
        mode=ChatKitState.mode,
        api_path=CHATKIT_API,
        session_path=CHATKIT_SESSIONS,
        domain_key=ChatKitState.domain_key,
        token=ChatKitState.token,
        script_url=ChatKitState.script_url,
        color_scheme=rx.color_mode_cond(light="light", dark="dark"),
        greeting=ChatKitState.greeting,
        prompts=chatkit_prompts(),
        placeholder=PLACEHOLDER,
        disclaimer=ChatKitState.disclaimer,
        locale=ChatKitState.locale,
        initial_thread=ChatKitState.initial_thread,
        show_history=True,
        feedback=True,
        retry=True,
        tasks_path=ChatKitState.tasks_path,
        on_ready=ChatKitState.chatkit_ready,
        on_thread_change=ChatKitState.thread_changed,
        on_response_start=ChatKitState.response_started,
        on_response_end=ChatKitState.response_ended,
        on_effect=ChatKitState.chatkit_effect,
        on_error=ChatKitState.chatkit_failed,
        on_unavailable=ChatKitState.script_unavailable,
        on_task_click=ChatKitState.task_clicked,
        class_name="tp-chatkit",
    )


def chatkit_page() -> rx.Component:
    """Header, the ChatKit component (or why it can't show), and the task panel."""
    return rx.el.div(
        rx.el.main(
            chatkit_header(),
            rx.cond(
                ChatKitState.problem != "",
                rx.callout(
                    ChatKitState.problem,
                    icon="triangle-alert",
                    color_scheme="red",
                    role="alert",
                    margin="0 16px 8px",
                    custom_attrs={"data-testid": "chatkit-problem"},
                ),
            ),
            rx.el.div(
                rx.cond(ChatKitState.unavailable, chatkit_unavailable(), _chatkit()),
                class_name="tp-chatkit-frame",
                custom_attrs={
                    "data-mode": ChatKitState.mode,
                    "data-thread-id": ChatKitState.thread_id,
                    "data-ready": rx.cond(ChatKitState.ready, "true", "false"),
                    "data-responding": rx.cond(ChatKitState.responding, "true", "false"),
                },
            ),
            class_name="tp-main",
        ),
        task_panel(),
        drawer_backdrop(),
        class_name="tp-app",
        custom_attrs={
            "data-history-toggled": "false",
            "data-tasks-toggled": rx.cond(LayoutState.tasks_toggled, "true", "false"),
        },
    )
