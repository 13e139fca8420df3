"""The person's message: a bubble on the right, its time on hover, and Edit message; while
it is edited, the inline editor instead; an edited question's versions (‹ 1 / 2 ›)."""

from __future__ import annotations

import reflex as rx
from reflex.vars import ObjectVar

from taskpilot.web.components.icon_action import icon_action
from taskpilot.web.components.message_editor import message_editor
from taskpilot.web.components.timestamp import timestamp
from taskpilot.web.components.version_switch import version_switch
from taskpilot.web.states.chat import ChatState
from taskpilot.web.states.edits import EditState
from taskpilot.web.view_models import MessageView


def _edit_button(message: ObjectVar[MessageView]) -> rx.Component:
    """On the person's stored messages of the current branch, while no reply streams."""
    return rx.cond(
        (message.id.to(int) > 0) & ~message.replaced & ~ChatState.streaming,
        icon_action(
            "pencil",
            "Edit message",
            EditState.start(message.key),  # type: ignore[operator]
            icon_size=14,
            box=28,
        ),
    )


def user_message(message: ObjectVar[MessageView]) -> rx.Component:
    """The bubble holds only the text (rendered as text, never as HTML)."""
    return rx.el.div(
        rx.cond(
            EditState.editing == message.key,
            message_editor(),
            rx.el.div(
                rx.el.div(
                    message.content,
                    class_name="tp-bubble",
                    custom_attrs={"data-testid": "message-user"},
                ),
                rx.el.div(
                    timestamp(message.created_at),
                    _edit_button(message),
                    class_name="tp-meta",
                ),
                class_name="tp-user-line",
            ),
        ),
        rx.cond(message.versions.to(int) > 1, version_switch(message)),
        class_name="tp-user-row",
        id=f"message-{message.key}",  # `message_element_id`: "Show earlier messages" returns here
    )
