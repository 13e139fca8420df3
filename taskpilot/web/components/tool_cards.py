"""The tool cards of one turn, shown above the assistant's reply (as ChatKit shows task
progress as its own item before the message)."""

from __future__ import annotations

import reflex as rx

from taskpilot.web.components.tool_card import tool_card


def tool_cards(cards: rx.Var) -> rx.Component:
    """A column of cards, or nothing when the turn called no tool."""
    return rx.cond(
        cards.to(list).length() > 0,
        rx.el.div(rx.foreach(cards, tool_card), class_name="tp-tools"),
    )
