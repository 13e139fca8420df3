"""The /chatkit page's header: which chat this is, the way back, and the page's actions."""

from __future__ import annotations

import reflex as rx

from taskpilot.web.components.brand_mark import brand_mark
from taskpilot.web.components.header_actions import header_actions
from taskpilot.web.routes import HOME


def chatkit_header() -> rx.Component:
    """The bar across the top; ChatKit draws its own thread header and history below it."""
    return rx.el.header(
        rx.el.div(
            brand_mark(16),
            rx.el.span("TaskPilot", class_name="tp-brand-name"),
            rx.badge("ChatKit", variant="soft", color_scheme="gray", radius="full"),
            class_name="tp-header-title tp-chatkit-title",
        ),
        header_actions(
            rx.link(
                rx.icon("messages-square", size=16),
                "TaskPilot chat",
                href=HOME,
                class_name="tp-chatkit-back",
                size="2",
            ),
        ),
        class_name="tp-header",
    )
