"""A header icon button with a tooltip."""

from __future__ import annotations

from typing import Any

import reflex as rx

from taskpilot.web.components.icon_action import icon_action


def header_button(icon: str, label: str, on_click: Any, tip: str) -> rx.Component:
    """An icon button named `label` for assistive technology, with `tip` on hover."""
    return rx.tooltip(icon_action(icon, label, on_click, icon_size=20, box=36), content=tip)
