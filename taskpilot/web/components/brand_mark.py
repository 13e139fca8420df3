"""TaskPilot's mark: a check in a rounded square."""

from __future__ import annotations

import reflex as rx


def brand_mark(size: int = 16, class_name: str = "tp-brand-mark") -> rx.Component:
    """The logo mark, decorative (the name beside it says what it is)."""
    return rx.el.span(rx.icon("check-check", size=size), class_name=class_name, aria_hidden="true")
