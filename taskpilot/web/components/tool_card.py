"""A tool call's progress card: the tool, its arguments in words, then how it went. A call
that waits for the person (a delete) asks here: what approving does, Approve and Cancel."""

from __future__ import annotations

import reflex as rx
from reflex.vars import ObjectVar

from taskpilot.web.states.chat import ChatState
from taskpilot.web.states.undo import UndoState
from taskpilot.web.view_models import ToolCardView


def _approval(card: ObjectVar[ToolCardView]) -> rx.Component:
    """The question and its two answers. Approve is the red one: it deletes. Both are off
    while another reply streams (a decision starts a turn, and one runs at a time)."""
    summary_id = "approval-" + card.call_id.to(str)
    return rx.el.div(
        rx.el.div(card.summary, id=summary_id, class_name="tp-approval-summary"),
        rx.el.div(
            rx.button(
                rx.icon("check", size=14),
                "Approve",
                on_click=ChatState.decide(card.call_id, True),  # type: ignore[operator]
                disabled=ChatState.streaming,
                color_scheme="red",
                size="2",
                aria_describedby=summary_id,
            ),
            rx.button(
                "Cancel",
                on_click=ChatState.decide(card.call_id, False),  # type: ignore[operator]
                disabled=ChatState.streaming,
                variant="soft",
                color_scheme="gray",
                size="2",
                aria_describedby=summary_id,
            ),
            class_name="tp-approval-actions",
        ),
        class_name="tp-approval",
    )


def _result_id(card: ObjectVar[ToolCardView]) -> rx.Var:
    return "tool-result-" + card.message_id.to(str) + "-" + card.index.to(str)


def _undo(card: ObjectVar[ToolCardView]) -> rx.Component:
    """A stored change's Undo (described by what it did), "Undone" once taken back, and the
    reason when the tool refused to take it back."""
    return rx.el.div(
        rx.cond(
            card.undone,
            rx.el.span(
                rx.icon("undo-2", size=14, aria_hidden="true"),
                "Undone",
                class_name="tp-undone",
                custom_attrs={"data-testid": "tool-undone"},
            ),
            rx.button(
                rx.icon("undo-2", size=14),
                "Undo",
                on_click=UndoState.undo(card.message_id, card.index),  # type: ignore[misc]
                variant="ghost",
                color_scheme="gray",
                size="1",
                aria_describedby=_result_id(card),
            ),
        ),
        rx.cond(
            card.undo_refused != "",
            rx.el.div(
                card.undo_refused,
                role="alert",
                class_name="tp-undo-refused",
                custom_attrs={"data-testid": "undo-refused"},
            ),
        ),
        class_name="tp-undo",
    )


def tool_card(card: ObjectVar[ToolCardView]) -> rx.Component:
    """Spinner while running; a check and the result, or an alert and the error; a shield
    and the question while it waits for approval; a crossed circle once declined."""
    return rx.el.div(
        rx.el.span(
            rx.match(
                card.state,
                ("running", rx.spinner(size="1")),
                ("error", rx.icon("circle-alert", size=16)),
                ("awaiting", rx.icon("shield-alert", size=16)),
                ("declined", rx.icon("circle-slash", size=16)),
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
                rx.el.div(card.result, id=_result_id(card), class_name="tp-tool-result"),
            ),
            rx.cond(card.state == "awaiting", _approval(card)),
            rx.cond((card.message_id.to(int) > 0) & (card.state == "done"), _undo(card)),
            class_name="tp-tool-text",
        ),
        class_name="tp-tool-card",
        custom_attrs={
            "data-testid": "tool-card",
            "data-state": card.state,
            "data-undone": card.undone.to(str),
        },
    )
