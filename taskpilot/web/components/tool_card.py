"""A tool call's progress card: the tool, its arguments in words, then how it went."""

from __future__ import annotations

import reflex as rx
from reflex.vars import ObjectVar

from taskpilot.web.view_models import ToolCardView


def tool_card(card: ObjectVar[ToolCardView]) -> rx.Component:
    """Spinner while running; a check and the result, or an alert and the error."""
    return rx.el.div(
        rx.el.span(
            rx.match(
                card.state,
                ("running", rx.spinner(size="1")),
                ("error", rx.icon("circle-alert", size=16)),
                rx.icon("circle-check", size=16),
            ),
            class_name="tp-tool-icon",
            aria_hidden="true",
        ),
        rx.el.div(
            rx.el.div(
                rx.el.span(card.name, class_name="tp-tool-name"),
                rx.cond(
                    card.arguments != "",
                    rx.el.span(" · ", card.arguments, class_name="tp-tool-args"),
                ),
            ),
            rx.match(
                card.state,
                ("running", rx.el.div("Working…", class_name="tp-tool-result")),
                rx.el.div(card.result, class_name="tp-tool-result"),
            ),
            class_name="tp-tool-text",
        ),
        class_name="tp-tool-card",
        custom_attrs={"data-testid": "tool-card", "data-state": card.state},
    )
